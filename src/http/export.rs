//! `/api/export`: a download of any collection (or the trends table) under any filter,
//! GeoJSON or CSV; journeys are streamed.

use super::AppState;
use super::error::ApiError;
use super::journeys::{filter_from, journey_params};
use super::layers::{
    CSV, Format, GEOJSON, HOTSPOT_QUERY_PARAMS, blocking, csv_bytes, direction_param, format_param,
    hotspot_query, opt, select, untimed_excluded, untimed_header, with_selection,
};
use super::params::Params;
use crate::geography::Geography;
use crate::journey::map::MappedJourney;
use crate::layers::collection::{Collection, Export};
use serde_json::Value;
use std::sync::Arc;
use warp::reply::Response;
// ---------------------------------------------------------------- export

/// Parameters of `/api/export`.
pub const EXPORT_PARAMS: &[&str] = journey_params!(
    ["collection", "format"],
    [
        "filter",
        "filter-lang",
        "filter-crs",
        "direction",
        "measure",
        "inference",
        "permutations",
        "seed",
        "significant"
    ]
);

/// Journeys serialised per chunk of the streamed export.
const EXPORT_CHUNK: usize = 256;

fn download(content_type: &'static str, name: &str, body: warp::hyper::Body) -> Response {
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(
        warp::http::header::CONTENT_TYPE,
        warp::http::HeaderValue::from_static(content_type),
    );
    if let Ok(v) = warp::http::HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(warp::http::header::CONTENT_DISPOSITION, v);
    }
    r
}

/// The journey export's columns: every field of a journey a role that may export journeys
/// sees (no person details: those need `persons=true` on the journey endpoints), no geometry.
const JOURNEY_COLUMNS: &[&str] = &[
    "report_id",
    "reported_at",
    "reporting_lag_days",
    "source_force",
    "date",
    "departed_at",
    "mode",
    "origin_station",
    "destination_station",
    "origin_lon",
    "origin_lat",
    "destination_lon",
    "destination_lat",
    "origin_snapped_m",
    "destination_snapped_m",
    "via",
    "origin_force",
    "destination_force",
    "exporting_force",
    "importing_force",
    "return_run",
    "cross_border",
    "urban_to_rural",
    "origin_class",
    "destination_class",
    "route_method",
    "distance_m",
    "stations",
    "forces",
    "encounter_type",
    "encounter_station",
    "encounter_at",
    "encounter_joint_with_force",
    "persons",
    "children",
    "line_id",
    "line_name",
    "line_exporting_force",
    "line_type",
    "cash_gbp",
    "phones",
    "weapons",
    "drugs",
    "source_eval",
    "intel_assessment",
    "handling",
    "handling_conditions",
];

fn journey_csv_row(g: &Geography, j: &MappedJourney) -> Vec<String> {
    let code = |s: Option<u32>| opt(s.map(|i| g.stations.get(i as usize).code.to_string()));
    let force = |f: Option<u16>| opt(f.map(|i| g.forces.get(i as usize).code.to_string()));
    let text = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    let enum_text = |v: serde_json::Result<Value>| v.map(|v| text(&v)).unwrap_or_default();
    let r = &j.report;
    let enc = r.journey.encounter.as_ref();
    let line = r.line.as_ref();
    let parse = |raw: &Option<Box<serde_json::value::RawValue>>| {
        raw.as_ref()
            .and_then(|x| serde_json::from_str::<Value>(x.get()).ok())
            .unwrap_or(Value::Null)
    };
    let (seized, grading) = (parse(&r.seizures), parse(&r.grading));
    let list = |v: &Value| {
        v.as_array()
            .map(|a| a.iter().map(text).collect::<Vec<_>>().join(";"))
            .unwrap_or_default()
    };
    // class:type:wraps:concealment per drug seized
    let drugs = seized["drugs"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|d| {
                    format!(
                        "{}:{}:{}:{}",
                        text(&d["class"]),
                        text(&d["type"]),
                        text(&d["wraps"]),
                        text(&d["concealment"])
                    )
                })
                .collect::<Vec<_>>()
                .join(";")
        })
        .unwrap_or_default();
    let round2 = |v: f64| (v * 100.0).round() / 100.0;
    vec![
        r.report_id.clone(),
        r.reported_at.clone(),
        opt(j.reporting_lag_days()),
        r.source_force.to_string(),
        crate::journey::report::format_date(r.journey.date),
        opt(r.journey.departed_at.clone()),
        r.journey.mode.as_str().to_string(),
        code(j.origin.station),
        code(j.destination.station),
        j.origin.point[0].to_string(),
        j.origin.point[1].to_string(),
        j.destination.point[0].to_string(),
        j.destination.point[1].to_string(),
        opt(j.origin.snapped_m.map(round2)),
        opt(j.destination.snapped_m.map(round2)),
        r.journey
            .via
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(";"),
        force(j.origin.force),
        force(j.destination.force),
        force(j.exporting_force),
        force(j.importing_force),
        j.return_run.to_string(),
        j.cross_border.to_string(),
        j.urban_to_rural.to_string(),
        enum_text(serde_json::to_value(j.origin.class)),
        enum_text(serde_json::to_value(j.destination.class)),
        enum_text(serde_json::to_value(j.route.method)),
        super::round_m(j.route.distance_m).to_string(),
        j.route
            .stations
            .iter()
            .map(|&s| g.stations.get(s as usize).code.to_string())
            .collect::<Vec<_>>()
            .join(";"),
        j.route
            .forces
            .iter()
            .map(|s| g.forces.get(s.force).code.to_string())
            .collect::<Vec<_>>()
            .join(";"),
        opt(enc.map(|e| e.kind.as_str())),
        opt(enc.and_then(|e| e.station.as_ref()).map(|c| c.to_string())),
        opt(enc.and_then(|e| e.at.clone())),
        opt(enc
            .and_then(|e| e.joint_with_force.as_ref())
            .map(|c| c.to_string())),
        j.persons.to_string(),
        j.children.to_string(),
        opt(line.map(|l| l.line_id.clone())),
        opt(line.and_then(|l| l.name.clone())),
        opt(line
            .and_then(|l| l.exporting_force.as_ref())
            .map(|c| c.to_string())),
        opt(line.and_then(|l| l.line_type).map(|t| t.as_str())),
        text(&seized["cash_gbp"]),
        text(&seized["phones"]),
        list(&seized["weapons"]),
        drugs,
        text(&grading["source_eval"]),
        text(&grading["intel_assessment"]),
        text(&grading["handling"]),
        text(&grading["handling_conditions"]),
    ]
}

/// Streams the selected journeys: the matching list is taken at once (pointers), each chunk
/// is serialised as the client reads, so memory stays flat however many journeys go out.
fn stream_journeys(
    state: Arc<AppState>,
    sel: Vec<Arc<MappedJourney>>,
    csv: bool,
    untimed_excluded: Option<u64>,
) -> warp::hyper::Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let g = state.journeys.geography().clone();
        let head = if csv {
            csv_bytes(JOURNEY_COLUMNS, std::iter::empty()).unwrap_or_default()
        } else {
            match untimed_excluded {
                Some(n) => {
                    format!(r#"{{"type":"FeatureCollection","untimed_excluded":{n},"features":["#)
                        .into_bytes()
                }
                None => br#"{"type":"FeatureCollection","features":["#.to_vec(),
            }
        };
        if tx.blocking_send(Ok(head)).is_err() {
            return;
        }
        for (k, chunk) in sel.chunks(EXPORT_CHUNK).enumerate() {
            let mut buf = Vec::with_capacity(chunk.len() * 2048);
            if csv {
                let mut w = csv::Writer::from_writer(&mut buf);
                for j in chunk {
                    if w.write_record(journey_csv_row(&g, j)).is_err() {
                        return;
                    }
                }
                drop(w);
            } else {
                for (i, j) in chunk.iter().enumerate() {
                    if k > 0 || i > 0 {
                        buf.push(b',');
                    }
                    buf.push(b'\n');
                    if serde_json::to_writer(
                        &mut buf,
                        &super::journeys::JourneyFeature {
                            state: &state,
                            journey: j,
                            geometry: true,
                            crs: super::crs::Crs::Crs84,
                            persons: false,
                        },
                    )
                    .is_err()
                    {
                        return;
                    }
                }
            }
            if tx.blocking_send(Ok(buf)).is_err() {
                return; // the client went away
            }
        }
        if !csv {
            let tail = format!(
                "\n],\"numberMatched\":{0},\"numberReturned\":{0}}}\n",
                sel.len()
            );
            let _ = tx.blocking_send(Ok(tail.into_bytes()));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    warp::hyper::Body::wrap_stream(stream)
}

/// `GET /api/export?collection=..`: a download of any collection under any filter, GeoJSON
/// (`format=geojson`, the default) or CSV (`format=csv`).
pub async fn export(
    raw: String,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Result<Response, ApiError> {
    let p = Params::parse(&raw, EXPORT_PARAMS)?;
    let given = p.require("collection")?;
    let Some(collection) = Export::parse(given) else {
        return Err(ApiError::InvalidParameter {
            name: "collection",
            message: format!("\"{given}\" is not one of {}", Export::IDS.join(", ")),
        });
    };
    let csv = format_param(&p, "format", None)? == Format::Csv;
    let f = filter_from(&p, &state)?;
    let hq = hotspot_query(&p)?;
    if collection != Export::Layer(Collection::Hotspots)
        && let Some(name) = HOTSPOT_QUERY_PARAMS.iter().find(|n| p.get(n).is_some())
    {
        return Err(ApiError::InvalidParameter {
            name,
            message: "applies to collection=hotspots only".into(),
        });
    }
    let direction = direction_param(&p)?;
    // the CQL2 filter of the collection's items: the same parser, checks and errors
    let filter = if let Some(c) = collection.collection() {
        super::ogc::filter_param(c, EXPORT_PARAMS, &p, &state)?
    } else {
        if let Some(name) = ["filter", "filter-lang", "filter-crs"]
            .into_iter()
            .find(|n| p.get(n).is_some())
        {
            return Err(ApiError::InvalidParameter {
                name,
                message: "applies to the OGC collections (journeys, stations, forces, rail, hotspots, flows), not to trends".into(),
            });
        }
        None
    };
    let ext = if csv { "csv" } else { "geojson" };
    let name = format!("linesmap-{collection}.{ext}");
    let ctype: &'static str = if csv { CSV } else { GEOJSON };
    if collection.journey_level() {
        who.check_journey_read(false)?;
        let mut f = f;
        who.scope(&mut f, &state);
        let st = state.clone();
        let (sel, untimed) = super::offload(state.limits.clone(), move || {
            let sel = match &filter {
                None => select(&st, &f),
                // the journeys the same items request keeps, in the same order
                Some(e) => {
                    let idx = st.journeys.index();
                    let ids = super::ogc::filtered_journeys(&idx, &st, &f, e)?;
                    ids.iter().filter_map(|&i| idx.at(i).cloned()).collect()
                }
            };
            // journey level: the caller reads every journey counted, so the count is exact
            Ok::<_, ApiError>((sel, untimed_excluded(&st, &f, false)))
        })
        .await??;
        let n = sel.len();
        let untimed_member = untimed.flatten();
        let mut r = super::journeys::record_count(
            download(
                ctype,
                &name,
                stream_journeys(state, sel, csv, untimed_member),
            ),
            n,
        );
        untimed_header(&mut r, untimed);
        return Ok(r);
    }
    blocking(state.limits.clone(), move || {
        // a viewer's rows published on the rows (layer_download says so)
        let (body, rows, selected, untimed, published) =
            super::ogc::layer_download(&state, collection, f, hq, csv, &who, direction, filter)?;
        let mut r = with_selection(
            super::journeys::record_count(download(ctype, &name, body.into()), rows),
            selected,
        );
        untimed_header(&mut r, untimed);
        Ok(if published {
            super::guard::disclosed(r)
        } else {
            r
        })
    })
    .await
}
