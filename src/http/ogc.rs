//! OGC API – Features, Part 1 (Core, GeoJSON, OAS 3.0): the landing page, conformance,
//! collections and their items, for GIS clients (QGIS and GDAL's OAPIF driver, OWSLib).
//!
//! Collections: `stations` (with footfall and how many journeys start, end and pass there),
//! `forces` (with journeys exported, imported and the net), `journeys` (the mapped journeys).
//! `bbox` (CRS84), `datetime` (an instant or an interval with `..` for an open end, matched
//! against the journey date; for stations and forces it selects the journeys counted), `limit`
//! (1..10,000, default 10), `offset`, and each collection's property filters; any other query
//! parameter is a 400, as the standard requires.

use super::error::ApiError;
use super::journeys::{feature as journey_feature, with_offset};
use super::params::Params;
use super::{AppState, json_reply};
use crate::geography::{Bbox, ForceCode, Geography, StationCode};
use crate::journey::index::JourneyFilter;
use crate::journey::map::{MappedJourney, day_number};
use crate::journey::report::parse_date;
use serde_json::{Value, json};
use std::sync::Arc;
use warp::reply::Response;

pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
pub const OPENAPI_TYPE: &str = "application/vnd.oai.openapi+json;version=3.0";
const GEOJSON: &str = "application/geo+json";
const JSON: &str = "application/json";
pub const DEFAULT_LIMIT: i64 = 10;
pub const MAX_LIMIT: i64 = 10_000;

pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
];

/// A collection: id, title, description, its property filters and every query parameter its
/// items take.
pub struct Collection {
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub filters: &'static [&'static str],
    pub params: &'static [&'static str],
}

pub const COLLECTIONS: &[Collection] = &[
    Collection {
        id: "stations",
        title: "Railway stations",
        description: "National Rail stations with their territorial force, ORR entries and exits 2019-20, and the journeys that start, end and pass there (in the datetime range).",
        filters: &["crs", "force"],
        params: &["bbox", "datetime", "limit", "offset", "f", "crs", "force"],
    },
    Collection {
        id: "forces",
        title: "Police force areas",
        description: "Police force areas (ONS, generalised) with the cross-border journeys they export and import (in the datetime range) and the net (exports - imports).",
        filters: &["code"],
        params: &["bbox", "datetime", "limit", "offset", "f", "code"],
    },
    Collection {
        id: "journeys",
        title: "Journeys",
        description: "Mapped county-lines journeys (demo data is SYNTHETIC): rail routes along the track, other modes as geodesic lines.",
        filters: &["force", "cross_border"],
        params: &[
            "bbox",
            "datetime",
            "limit",
            "offset",
            "f",
            "force",
            "cross_border",
        ],
    },
];

fn collection(id: &str) -> Result<&'static Collection, ApiError> {
    COLLECTIONS.iter().find(|c| c.id == id).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no collection \"{id}\"; collections are stations, forces, journeys"
        ))
    })
}

/// `http://host` of the request, for absolute links.
fn base(host: &Option<String>) -> String {
    format!("http://{}", host.as_deref().unwrap_or("localhost"))
}

fn link(href: String, rel: &str, typ: &str, title: &str) -> Value {
    json!({"href": href, "rel": rel, "type": typ, "title": title})
}

fn respond(r: Result<Response, ApiError>) -> Response {
    r.unwrap_or_else(ApiError::into_response)
}

pub fn landing(raw: String, host: Option<String>, state: Arc<AppState>) -> Response {
    respond((|| {
        Params::parse(&raw, &["f"])?;
        let b = base(&host);
        Ok(json_reply(
            &json!({
                "title": "linesmap",
                "description": "County-lines journeys across police force areas and the GB rail network (OGC API - Features). Demo journeys are SYNTHETIC.",
                "journeys": state.journeys.index().len(),
                "links": [
                    link(format!("{b}/"), "self", JSON, "this document"),
                    link(format!("{b}/openapi"), "service-desc", OPENAPI_TYPE, "the API definition (OpenAPI 3.0)"),
                    link(format!("{b}/conformance"), "conformance", JSON, "conformance classes"),
                    link(format!("{b}/collections"), "data", JSON, "the collections"),
                    link(format!("{b}/health"), "related", JSON, "health and data counts"),
                    link(format!("{b}/api/locate?lon=-0.1335&lat=51.5282"), "related", JSON, "force and nearest stations of a point"),
                    link(format!("{b}/api/route?from=LIV&to=BPN"), "related", GEOJSON, "rail route between stations"),
                    link(format!("{b}/api/journeys"), "related", GEOJSON, "journeys (POST to add reports)"),
                ],
            }),
            JSON,
        ))
    })())
}

pub fn conformance(raw: String) -> Response {
    respond(
        Params::parse(&raw, &["f"]).map(|_| json_reply(&json!({"conformsTo": CONFORMANCE}), JSON)),
    )
}

fn extent(state: &AppState, id: &str) -> Value {
    let g = state.journeys.geography();
    let mut b = Bbox::EMPTY;
    match id {
        "stations" => g.stations.stations().iter().for_each(|s| b.extend(s.pos())),
        _ => g.forces.forces().iter().for_each(|f| {
            b.extend([f.bbox.min_lon, f.bbox.min_lat]);
            b.extend([f.bbox.max_lon, f.bbox.max_lat]);
        }),
    }
    let idx = state.journeys.index();
    let days = idx.all().iter().map(|j| j.report.journey.date);
    let (lo, hi) = days.fold(
        (None, None),
        |(lo, hi): (Option<time::Date>, Option<time::Date>), d| {
            (
                Some(lo.map_or(d, |l| l.min(d))),
                Some(hi.map_or(d, |h| h.max(d))),
            )
        },
    );
    let t = |d: Option<time::Date>| {
        d.map(|d| format!("{}T00:00:00Z", crate::journey::report::format_date(d)))
    };
    json!({
        "spatial": {"bbox": [b.to_array()], "crs": CRS84},
        "temporal": {"interval": [[t(lo), t(hi)]], "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"},
    })
}

fn collection_json(state: &AppState, c: &Collection, b: &str) -> Value {
    json!({
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "itemType": "feature",
        "crs": [CRS84],
        "extent": extent(state, c.id),
        "links": [
            link(format!("{b}/collections/{}", c.id), "self", JSON, c.title),
            link(format!("{b}/collections/{}/items", c.id), "items", GEOJSON, "the features"),
        ],
    })
}

pub fn collections(raw: String, host: Option<String>, state: Arc<AppState>) -> Response {
    respond((|| {
        Params::parse(&raw, &["f"])?;
        let b = base(&host);
        let list: Vec<Value> = COLLECTIONS
            .iter()
            .map(|c| collection_json(&state, c, &b))
            .collect();
        Ok(json_reply(
            &json!({"links": [link(format!("{b}/collections"), "self", JSON, "the collections")], "collections": list}),
            JSON,
        ))
    })())
}

pub fn one_collection(
    id: String,
    raw: String,
    host: Option<String>,
    state: Arc<AppState>,
) -> Response {
    respond((|| {
        Params::parse(&raw, &["f"])?;
        let c = collection(&id)?;
        Ok(json_reply(&collection_json(&state, c, &base(&host)), JSON))
    })())
}

/// Parses an OGC `datetime`: an instant (date or RFC 3339 date-time) or `start/end` with `..`
/// or an empty side for an open end; returns the inclusive day range.
pub fn parse_datetime(s: &str) -> Result<(Option<i32>, Option<i32>), String> {
    let one = |t: &str| -> Result<Option<i32>, String> {
        let t = t.trim();
        if t.is_empty() || t == ".." {
            return Ok(None);
        }
        if let Some(d) = parse_date(t) {
            return Ok(Some(day_number(d)));
        }
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .map(|dt| Some(day_number(dt.to_offset(time::UtcOffset::UTC).date())))
            .map_err(|_| format!("\"{t}\" is not a date or an RFC 3339 date-time"))
    };
    match s.split_once('/') {
        None if s.trim() == ".." => Err("an instant cannot be \"..\"".into()),
        None => {
            let d = one(s)?;
            Ok((d, d))
        }
        Some((a, b)) => {
            let (a, b) = (one(a)?, one(b)?);
            if let (Some(x), Some(y)) = (a, b)
                && x > y
            {
                return Err("the interval ends before it starts".into());
            }
            Ok((a, b))
        }
    }
}

/// The parameters every items request takes.
struct Paging {
    bbox: Option<Bbox>,
    days: (Option<i32>, Option<i32>),
    limit: usize,
    offset: usize,
}

fn paging(p: &Params) -> Result<Paging, ApiError> {
    let bbox = p
        .get("bbox")
        .map(|s| {
            let v: Vec<&str> = s.split(',').collect();
            match v.len() {
                4 => Bbox::parse(s),
                6 => Bbox::parse(&[v[0], v[1], v[3], v[4]].join(",")),
                _ => Err(format!(
                    "bbox \"{s}\" is not 4 (or 6) comma-separated numbers"
                )),
            }
            .map_err(|message| ApiError::InvalidParameter {
                name: "bbox",
                message,
            })
        })
        .transpose()?;
    let days = match p.get("datetime") {
        Some(s) => parse_datetime(s).map_err(|message| ApiError::InvalidParameter {
            name: "datetime",
            message,
        })?,
        None => (None, None),
    };
    Ok(Paging {
        bbox,
        days,
        limit: p.int("limit", 1, MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT) as usize,
        offset: p.int("offset", 0, i64::MAX)?.unwrap_or(0) as usize,
    })
}

fn page_links(
    b: &str,
    id: &str,
    raw: &str,
    pg: &Paging,
    matched: usize,
    returned: usize,
) -> Vec<Value> {
    let href = |q: &str| {
        format!(
            "{b}/collections/{id}/items{}{q}",
            if q.is_empty() { "" } else { "?" }
        )
    };
    let mut links = vec![link(href(raw), "self", GEOJSON, "this page")];
    if pg.offset + returned < matched {
        links.push(link(
            href(&with_offset(raw, pg.offset + pg.limit)),
            "next",
            GEOJSON,
            "next page",
        ));
    }
    if pg.offset > 0 {
        links.push(link(
            href(&with_offset(raw, pg.offset.saturating_sub(pg.limit))),
            "prev",
            GEOJSON,
            "previous page",
        ));
    }
    links
}

fn day_filter(j: &MappedJourney, days: (Option<i32>, Option<i32>)) -> bool {
    days.0.is_none_or(|d| j.day >= d) && days.1.is_none_or(|d| j.day <= d)
}

/// Journeys starting, ending and passing at each station; and journeys (each once).
fn station_counts(state: &AppState, days: (Option<i32>, Option<i32>)) -> Vec<[u32; 4]> {
    let g = state.journeys.geography();
    let mut counts = vec![[0u32; 4]; g.stations.len()];
    for j in state
        .journeys
        .index()
        .all()
        .iter()
        .filter(|j| day_filter(j, days))
    {
        let stations = &j.route.stations;
        for (k, &s) in stations.iter().enumerate() {
            let c = &mut counts[s as usize];
            let first = Some(s) == j.origin.station && k == 0;
            let last = Some(s) == j.destination.station && k + 1 == stations.len();
            if first {
                c[0] += 1;
            }
            if last {
                c[1] += 1;
            }
            if !first && !last {
                c[2] += 1;
            }
            // a journey may pass a station twice: count it once
            if !stations[..k].contains(&s) {
                c[3] += 1;
            }
        }
    }
    counts
}

fn station_feature(g: &Geography, i: usize, c: [u32; 4], b: &str) -> Value {
    let s = g.stations.get(i);
    let force = g
        .station_force(i)
        .map(|h| g.forces.get(h.force).code.to_string());
    json!({
        "type": "Feature",
        "id": s.code,
        "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]},
        "properties": {
            "crs": s.code, "name": s.name, "force": force,
            "entries_exits_2019_20": s.entries_exits_2019_20,
            "starts": c[0], "ends": c[1], "passes": c[2], "journeys": c[3],
        },
        "links": [link(format!("{b}/collections/stations/items/{}", s.code), "self", GEOJSON, &s.name)],
    })
}

/// Cross-border journeys exported and imported per force.
fn force_counts(state: &AppState, days: (Option<i32>, Option<i32>)) -> Vec<[u32; 2]> {
    let mut counts = vec![[0u32; 2]; state.journeys.geography().forces.forces().len()];
    for j in state
        .journeys
        .index()
        .all()
        .iter()
        .filter(|j| day_filter(j, days))
    {
        if let (Some(e), Some(i)) = (j.exporting_force, j.importing_force)
            && e != i
        {
            counts[e as usize][0] += 1;
            counts[i as usize][1] += 1;
        }
    }
    counts
}

fn force_feature(g: &Geography, i: usize, c: [u32; 2], b: &str) -> Value {
    let f = g.forces.get(i);
    json!({
        "type": "Feature",
        "id": f.code,
        "geometry": {"type": "MultiPolygon", "coordinates": f.polygons.iter().map(|p| p.iter().map(|r| {
            let mut ring = r.clone();
            ring.push(r[0]); // GeoJSON rings are closed
            ring
        }).collect::<Vec<_>>()).collect::<Vec<_>>()},
        "properties": {
            "code": f.code, "name": f.name, "force_name": f.force_name,
            "exports": c[0], "imports": c[1], "net": c[0] as i64 - c[1] as i64,
        },
        "links": [link(format!("{b}/collections/forces/items/{}", f.code), "self", GEOJSON, &f.name)],
    })
}

fn feature_collection(features: Vec<Value>, matched: usize, links: Vec<Value>) -> Value {
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    json!({
        "type": "FeatureCollection",
        "timeStamp": now,
        "numberMatched": matched,
        "numberReturned": features.len(),
        "features": features,
        "links": links,
    })
}

pub async fn items(
    id: String,
    raw: String,
    host: Option<String>,
    state: Arc<AppState>,
) -> Response {
    let prepared = (|| {
        let c = collection(&id)?;
        let p = Params::parse(&raw, c.params)?;
        let pg = paging(&p)?;
        Ok::<_, ApiError>((c, p, pg))
    })();
    let (c, p, pg) = match prepared {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let b = base(&host);
    let st = state.clone();
    let res = tokio::task::spawn_blocking(move || -> Result<Value, ApiError> {
        let g = st.journeys.geography().clone();
        match c.id {
            "stations" => {
                let force = p
                    .get("force")
                    .map(|s| {
                        ForceCode::parse(s).map_err(|message| ApiError::InvalidParameter {
                            name: "force",
                            message,
                        })
                    })
                    .transpose()?;
                let crs = p.get("crs").map(|s| p.station("crs", s)).transpose()?;
                let mut ids: Vec<usize> = match pg.bbox {
                    Some(bb) => g.stations.in_bbox(&bb),
                    None => (0..g.stations.len()).collect(),
                };
                ids.retain(|&i| {
                    crs.as_ref().is_none_or(|c| &g.stations.get(i).code == c)
                        && force.as_ref().is_none_or(|f| {
                            g.station_force(i)
                                .is_some_and(|h| &g.forces.get(h.force).code == f)
                        })
                });
                let counts = station_counts(&st, pg.days);
                let features: Vec<Value> = ids
                    .iter()
                    .skip(pg.offset)
                    .take(pg.limit)
                    .map(|&i| station_feature(&g, i, counts[i], &b))
                    .collect();
                let links = page_links(&b, c.id, &raw, &pg, ids.len(), features.len());
                Ok(feature_collection(features, ids.len(), links))
            }
            "forces" => {
                let code = p
                    .get("code")
                    .map(|s| {
                        ForceCode::parse(s).map_err(|message| ApiError::InvalidParameter {
                            name: "code",
                            message,
                        })
                    })
                    .transpose()?;
                let mut ids: Vec<usize> = match pg.bbox {
                    Some(bb) => g.forces.in_bbox(&bb),
                    None => (0..g.forces.forces().len()).collect(),
                };
                ids.retain(|&i| code.as_ref().is_none_or(|c| &g.forces.get(i).code == c));
                let counts = force_counts(&st, pg.days);
                let features: Vec<Value> = ids
                    .iter()
                    .skip(pg.offset)
                    .take(pg.limit)
                    .map(|&i| force_feature(&g, i, counts[i], &b))
                    .collect();
                let links = page_links(&b, c.id, &raw, &pg, ids.len(), features.len());
                Ok(feature_collection(features, ids.len(), links))
            }
            _ => {
                let mut f: JourneyFilter = super::journeys::filter_from(&p, &st)?;
                f.bbox = pg.bbox;
                (f.from_day, f.to_day) = pg.days;
                let (matched, page) = st.journeys.index().query(&g, &f, pg.offset, pg.limit);
                let features: Vec<Value> =
                    page.iter().map(|j| journey_feature(&st, j, true)).collect();
                let links = page_links(&b, c.id, &raw, &pg, matched, features.len());
                Ok(feature_collection(features, matched, links))
            }
        }
    })
    .await;
    match res {
        Ok(Ok(body)) => json_reply(&body, GEOJSON),
        Ok(Err(e)) => e.into_response(),
        Err(e) => ApiError::Internal(e.to_string()).into_response(),
    }
}

pub fn item(
    id: String,
    fid: String,
    raw: String,
    host: Option<String>,
    state: Arc<AppState>,
) -> Response {
    respond((|| {
        Params::parse(&raw, &["f"])?;
        let c = collection(&id)?;
        let fid = super::handlers::percent_decode(&fid);
        let b = base(&host);
        let g = state.journeys.geography();
        let not_found = || ApiError::NotFound(format!("no feature \"{fid}\" in {}", c.id));
        let mut feature = match c.id {
            "stations" => {
                let code = StationCode::parse(&fid).map_err(|_| not_found())?;
                let i = g.stations.index_of(&code).ok_or_else(not_found)?;
                station_feature(g, i, station_counts(&state, (None, None))[i], &b)
            }
            "forces" => {
                let code = ForceCode::parse(&fid).map_err(|_| not_found())?;
                let i = g.forces.index_of(&code).ok_or_else(not_found)?;
                force_feature(g, i, force_counts(&state, (None, None))[i], &b)
            }
            _ => {
                let j = state
                    .journeys
                    .index()
                    .get(&fid)
                    .cloned()
                    .ok_or_else(not_found)?;
                journey_feature(&state, &j, true)
            }
        };
        feature["links"] = json!([
            link(
                format!("{b}/collections/{}/items/{fid}", c.id),
                "self",
                GEOJSON,
                "this feature"
            ),
            link(
                format!("{b}/collections/{}", c.id),
                "collection",
                JSON,
                c.title
            ),
        ]);
        Ok(json_reply(&feature, GEOJSON))
    })())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_takes_instants_and_open_intervals() {
        let d = |s| day_number(parse_date(s).unwrap());
        assert_eq!(
            parse_datetime("2024-03-06"),
            Ok((Some(d("2024-03-06")), Some(d("2024-03-06"))))
        );
        assert_eq!(
            parse_datetime("2024-03-06T23:30:00-02:00"),
            Ok((Some(d("2024-03-07")), Some(d("2024-03-07"))))
        );
        assert_eq!(
            parse_datetime("2024-01-01/.."),
            Ok((Some(d("2024-01-01")), None))
        );
        assert_eq!(
            parse_datetime("../2024-01-01"),
            Ok((None, Some(d("2024-01-01"))))
        );
        assert_eq!(
            parse_datetime("/2024-01-01"),
            Ok((None, Some(d("2024-01-01"))))
        );
        assert!(parse_datetime("2024-02-01/2024-01-01").is_err());
        assert!(parse_datetime("..").is_err());
        assert!(parse_datetime("yesterday").is_err());
    }
}
