//! The analysts' layers over HTTP: `/api/hotspots` (and emerging hot spots), `/api/flows`,
//! `/api/corridors`, `/api/trends`, `/api/clock` (and the tables `/api/export` writes, see
//! [`super::export`]). The layer service ([`crate::layers::service`], through
//! `AppState::layers()`) selects the journeys and computes, caches and (for a caller whose
//! answer is published) publishes the layers' rows; this module reads the parameters and
//! renders the rows.
//!
//! Filters (the same everywhere, see [`super::journeys::JOURNEY_FILTERS`]) select journeys; for
//! the place layers (stations, hotspots, forces) `bbox` and `force` select the places listed
//! instead, while the statistics stay those of the whole network.

use super::crs::Crs;
use super::error::ApiError;
use super::journeys::{filter_from, force_param, journey_params};
use super::ogc::places::PlaceFeature;
use super::params::Params;
use super::{AppState, json_reply, round7};
use crate::access::disclosure::Disclosure;
use crate::geography::Geography;
use crate::journey::carried::Totals;
use crate::journey::index::JourneyFilter;
use crate::journey::map::MappedJourney;
use crate::layers::hotspots::Inference;
use crate::layers::rows::{
    Cell, CorridorForm, CorridorRow, Field, FlowRow, Form, HotspotRow, PlaceRow, TrendForm,
    TrendRow, round6,
};
use crate::layers::service::ClockCell;
use crate::layers::service::CorridorRoute;
pub use crate::layers::service::{
    Hotspot, HotspotQuery, HotspotSort, Memos, PlaceFilter, RATE_FOOTFALL_FLOOR, Significant,
    btp_parts, split_places,
};
use crate::layers::{
    self, Corridors, Direction, Flows, Interval, Measure, SectionStats, StationStats, hotspots,
};
use serde_json::{Value, json};
use std::sync::Arc;
use warp::reply::Response;

pub(crate) const GEOJSON: &str = "application/geo+json";
const JSON: &str = "application/json";
pub(crate) const CSV: &str = "text/csv; charset=utf-8";
/// Default and largest `top` of `/api/hotspots`.
pub const DEFAULT_TOP: i64 = 100;
pub const MAX_TOP: i64 = 10_000;

/// The journeys a filter selects, in the order they were added.
pub fn select(state: &AppState, f: &JourneyFilter) -> Vec<Arc<MappedJourney>> {
    state.layers().select(f)
}

fn corridor_route(state: &AppState, from: u32, to: u32) -> Arc<CorridorRoute> {
    state.layers().corridor_route(from, to)
}

/// [`Layers::combine_parts`]: BTP's part of an aggregate exact, the rest published.
pub fn combine_parts<T: serde::Serialize + serde::de::DeserializeOwned>(
    state: &AppState,
    scope: &str,
    total: &T,
    readable: &T,
    drop_empty: bool,
) -> Result<T, ApiError> {
    state
        .layers()
        .combine_parts(scope, total, readable, drop_empty)
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// How many journeys `f` selects (cached): aggregate answers over fewer than k journeys are
/// audited as journey-level reads.
pub fn selection_size(state: &AppState, f: &JourneyFilter) -> usize {
    state.layers().selection_size(f)
}

/// Marks an aggregate answer with the size of its selection (for the audit, see
/// `guard::after`); never sent to the client.
#[derive(Clone, Copy, Debug)]
pub struct Selection(pub usize);

pub(crate) fn with_selection(mut r: Response, n: usize) -> Response {
    r.extensions_mut().insert(Selection(n));
    r
}

/// Counts per station over the journeys `f` selects (cached).
pub fn station_counts(state: &AppState, f: &JourneyFilter) -> Arc<Vec<StationStats>> {
    state.layers().station_counts(f)
}

/// Journeys exported and imported per force, and the distinct persons and children (cached).
pub fn force_counts(state: &AppState, f: &JourneyFilter) -> Arc<Vec<[u32; 4]>> {
    state.layers().force_counts(f)
}

/// Seizure and grading totals per force over the journeys whose line supplies it (cached).
pub fn force_totals(state: &AppState, f: &JourneyFilter) -> Arc<Vec<Totals>> {
    state.layers().force_totals(f)
}

// ---------------------------------------------------------------- hotspots

/// The parameters [`hotspot_query`] reads.
pub const HOTSPOT_QUERY_PARAMS: &[&str] = &[
    "measure",
    "inference",
    "permutations",
    "seed",
    "significant",
];

/// `interval=week|month` (default month).
fn interval_param(p: &Params) -> Result<Interval, ApiError> {
    p.get("interval")
        .map(|s| {
            Interval::parse(s).ok_or_else(|| ApiError::InvalidParameter {
                name: "interval",
                message: format!("\"{s}\" is not week or month"),
            })
        })
        .transpose()
        .map(|i| i.unwrap_or(Interval::Month))
}

/// `measure=stops|…`, when given.
fn measure_param(p: &Params) -> Result<Option<Measure>, ApiError> {
    p.get("measure")
        .map(|s| {
            Measure::parse(s).ok_or_else(|| ApiError::InvalidParameter {
                name: "measure",
                message: format!("\"{s}\" is not one of {}", Measure::ALL.join(", ")),
            })
        })
        .transpose()
}

/// Parses `measure`, `inference`, `permutations`, `seed` and `significant`.
pub fn hotspot_query(p: &Params) -> Result<HotspotQuery, ApiError> {
    let measure = measure_param(p)?.unwrap_or_default();
    let permutations = p
        .int(
            "permutations",
            i64::from(hotspots::MIN_PERMUTATIONS),
            i64::from(hotspots::MAX_PERMUTATIONS),
        )?
        .map_or(hotspots::DEFAULT_PERMUTATIONS, |v| v as u32);
    let seed = p
        .int("seed", 0, i64::MAX)?
        .map_or(hotspots::DEFAULT_SEED, |v| v as u64);
    let inference = match p.get("inference") {
        None | Some("permutation") => Inference::Permutation { permutations, seed },
        Some("analytic") => {
            if let Some(name) = ["permutations", "seed"]
                .into_iter()
                .find(|n| p.get(n).is_some())
            {
                return Err(ApiError::InvalidParameter {
                    name: if name == "seed" {
                        "seed"
                    } else {
                        "permutations"
                    },
                    message: "applies to inference=permutation only".into(),
                });
            }
            Inference::Analytic
        }
        Some(s) => {
            return Err(ApiError::InvalidParameter {
                name: "inference",
                message: format!("\"{s}\" is not analytic or permutation"),
            });
        }
    };
    let significant = p
        .get("significant")
        .map(|s| {
            Significant::parse(s).ok_or_else(|| ApiError::InvalidParameter {
                name: "significant",
                message: format!("\"{s}\" is not one of {}", Significant::ALL.join(", ")),
            })
        })
        .transpose()?;
    Ok(HotspotQuery {
        measure,
        inference,
        significant,
    })
}

/// Every station with its counts and statistic, over the journeys `f` selects; then the places
/// `places` selects, sorted ([`crate::layers::service::Layers::hotspot_rows`]).
pub fn hotspot_rows(
    state: &AppState,
    f: &JourneyFilter,
    places: PlaceFilter,
    sort: HotspotSort,
    hq: HotspotQuery,
    viewer: bool,
) -> Vec<Hotspot> {
    state.layers().hotspot_rows(f, places, sort, hq, viewer)
}

/// Parameters of `/api/hotspots`.
pub const HOTSPOT_PARAMS: &[&str] = journey_params!(
    [],
    [
        "top",
        "sort",
        "f",
        "measure",
        "inference",
        "permutations",
        "seed",
        "significant"
    ]
);

fn sort_param(p: &Params) -> Result<HotspotSort, ApiError> {
    p.get("sort")
        .map(|s| {
            HotspotSort::parse(s).ok_or_else(|| ApiError::InvalidParameter {
                name: "sort",
                message: format!("\"{s}\" is not one of {}", HotspotSort::ALL.join(", ")),
            })
        })
        .transpose()
        .map(|s| s.unwrap_or(HotspotSort::GiZ))
}

/// Output format of a table endpoint: JSON (or GeoJSON) or CSV (`f=csv`, or an `Accept`
/// header preferring `text/csv`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

pub(crate) fn format_param(
    p: &Params,
    name: &'static str,
    accept: Option<&str>,
) -> Result<Format, ApiError> {
    match p.get(name) {
        Some("json" | "geojson") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some(other) => Err(ApiError::InvalidParameter {
            name,
            message: format!("\"{other}\" is not json, geojson or csv"),
        }),
        None if accept.is_some_and(|a| a.contains("text/csv")) => Ok(Format::Csv),
        None => Ok(Format::Json),
    }
}

pub(crate) async fn blocking(
    limits: Arc<super::Limits>,
    f: impl FnOnce() -> Result<Response, ApiError> + Send + 'static,
) -> Result<Response, ApiError> {
    super::offload(limits, f).await?
}

pub(crate) fn csv_reply(body: Vec<u8>, filename: Option<&str>) -> Response {
    let mut r = Response::new(body.into());
    let h = r.headers_mut();
    h.insert(
        warp::http::header::CONTENT_TYPE,
        warp::http::HeaderValue::from_static(CSV),
    );
    if let Some(name) = filename
        && let Ok(v) =
            warp::http::HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
    {
        h.insert(warp::http::header::CONTENT_DISPOSITION, v);
    }
    r
}

pub(crate) fn csv_bytes(
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<Vec<u8>, ApiError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| ApiError::Internal(e.to_string());
    w.write_record(header).map_err(err)?;
    for r in rows {
        w.write_record(&r).map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| ApiError::Internal(e.to_string()))
}

pub(crate) fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

pub const HOTSPOT_COLUMNS: &[&str] = &[
    "crs",
    "name",
    "force",
    "lon",
    "lat",
    "measure",
    "stops",
    "boardings",
    "alightings",
    "interchanges",
    "encounters",
    "on_route",
    "starts",
    "ends",
    "passes",
    "journeys",
    "persons",
    "children",
    "distinct_persons",
    "distinct_children",
    "entries_exits_2019_20",
    "rate_per_million",
    "low_footfall",
    "gi_z",
    "p_value",
    "p_sim",
    "significant",
    "spot",
];

/// The hotspot rows as `/api/hotspots`' CSV table (and the hotspots' CSV export): the columns
/// of [`HOTSPOT_COLUMNS`] in that order, numbers as Rust writes them (`Display`), a row's
/// counts as published to the caller.
pub fn hotspot_csv(rows: &[HotspotRow]) -> Result<Vec<u8>, ApiError> {
    let at: Vec<Option<usize>> = HOTSPOT_COLUMNS
        .iter()
        .map(|c| HotspotRow::field_index(c))
        .collect();
    csv_bytes(
        HOTSPOT_COLUMNS,
        rows.iter().map(|r| {
            HOTSPOT_COLUMNS
                .iter()
                .zip(&at)
                .map(|(&c, &i)| match (c, i) {
                    (_, Some(i)) => field_text(r.field(i)),
                    ("lon", None) => r.station.lon.to_string(),
                    (_, None) => r.station.lat.to_string(),
                })
                .collect()
        }),
    )
}

/// A field as a CSV cell: empty for `None`, numbers as Rust writes them (`Display`).
fn field_text(f: Field) -> String {
    match f {
        Field::Text(t) => t.unwrap_or_default().to_string(),
        Field::Int(n) => opt(n),
        Field::Number(x) => opt(x),
        Field::Bool(b) => b.to_string(),
        Field::Cell(Cell::Count(n)) => opt(n),
        Field::Cell(Cell::Money(x)) => opt(x),
    }
}

/// `/api/hotspots` as GeoJSON (fields by name, as the answer has always had them).
#[derive(serde::Serialize)]
struct HotspotCollection<'r, 'g> {
    #[serde(skip_serializing_if = "Option::is_none")]
    disclosure: Option<Value>,
    features: Vec<PlaceFeature<'r, HotspotRow<'g>>>,
    #[serde(rename = "numberMatched")]
    matched: usize,
    #[serde(rename = "numberReturned")]
    returned: usize,
    statistic: Value,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    untimed_excluded: Option<Option<u64>>,
}

/// Hotspots as rows, each published for a viewer when `d` is given (its counts in the
/// station's cell, the rate from the published measure).
pub fn hotspot_typed_rows<'g>(
    g: &'g Geography,
    hotspots: &'g [Hotspot],
    d: Option<&Disclosure>,
) -> Vec<HotspotRow<'g>> {
    hotspots
        .iter()
        .map(|h| {
            let mut r = HotspotRow::new(g, h);
            if let Some(d) = d {
                r.publish(d);
            }
            r
        })
        .collect()
}

/// `GET /api/hotspots`: stations ranked as hotspots, a FeatureCollection (or CSV).
pub async fn hotspots_api(
    raw: String,
    accept: Option<String>,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Result<Response, ApiError> {
    let p = Params::parse_table(&raw, HOTSPOT_PARAMS)?;
    let (mut f, places) = split_places(filter_from(&p, &state)?);
    f.disclose_non_btp = who.disclose_non_btp();
    let top = p.int("top", 1, MAX_TOP)?.unwrap_or(DEFAULT_TOP) as usize;
    let (f, places, top, sort, hq, format) = (
        f,
        places,
        top,
        sort_param(&p)?,
        hotspot_query(&p)?,
        format_param(&p, "f", accept.as_deref())?,
    );
    blocking(state.limits.clone(), move || {
        let g = state.journeys.geography().clone();
        let mut hotspots = hotspot_rows(&state, &f, places, sort, hq, who.viewer());
        let matched = hotspots.len();
        hotspots.truncate(top);
        let selected = selection_size(&state, &f);
        // a viewer's rows are published here, on the rows, before anything is written (the
        // statistic is already the one of the published measure: `hotspot_rows`)
        let disclosure = who.viewer().then_some(&state.security.disclosure);
        let rows = hotspot_typed_rows(&g, &hotspots, disclosure);
        let published = |r: Response| super::guard::disclosed_if(disclosure.is_some(), r);
        if format == Format::Csv {
            let body = csv_reply(hotspot_csv(&rows)?, None);
            return Ok(published(with_selection(body, selected)));
        }
        let body = HotspotCollection {
            disclosure: disclosure.map(Disclosure::notice),
            features: rows
                .iter()
                .map(|r| PlaceFeature::new(r, Crs::Crs84, true))
                .collect(),
            matched,
            returned: rows.len(),
            statistic: hotspot_statistic_notice(&g, hq),
            kind: "FeatureCollection",
            untimed_excluded: untimed_excluded(&state, &f, who.viewer()),
        };
        Ok(published(with_selection(
            json_reply(&body, GEOJSON),
            selected,
        )))
    })
    .await
}

/// How the statistic of a hotspot answer was computed.
pub fn hotspot_statistic_notice(g: &Geography, hq: HotspotQuery) -> Value {
    let (inference, on) = match hq.inference {
        Inference::Analytic => (json!({"method": "analytic"}), "p_value"),
        Inference::Permutation { permutations, seed } => (
            json!({
                "method": "permutation",
                "permutations": permutations,
                "seed": seed,
                "p_sim": "conditional randomisation as esda.G_Local(star=True): the station's own value held, its neighbours' drawn without replacement from the other stations; (extreme + 1) / (permutations + 1), folded as esda",
            }),
            "p_sim",
        ),
    };
    json!({
        "method": format!("Getis-Ord Gi* on {} per station", hq.measure.field()),
        "measure": hq.measure.as_str(),
        "weights": format!("binary: the station itself and the stations within {} m along the track", hotspots::NEIGHBOUR_TRACK_M),
        "p_value": "two-sided, normal approximation of gi_z",
        "inference": inference,
        "significance": format!("Benjamini-Hochberg false discovery rate {} on {on} over all {} stations", hotspots::FDR_Q, g.stations.len()),
        "rate_per_million": format!("the measure per million ORR entries and exits 2019-20, for stations with at least {RATE_FOOTFALL_FLOOR} (others: low_footfall)"),
    })
}

// ---------------------------------------------------------------- emerging hot spots

/// Parameters of `/api/hotspots/emerging`.
pub const EMERGING_PARAMS: &[&str] =
    journey_params!(["interval"], ["measure", "time_lag", "category"]);
/// Most periods an emerging hot spot analysis takes (five years of weeks).
pub const MAX_PERIODS: usize = 260;

/// `GET /api/hotspots/emerging?interval=week|month`: per station the space-time Gi* z of each
/// period, the Mann-Kendall trend of that series and its emerging hot spot category (see
/// [`crate::layers::emerging`]). `force` and `bbox` choose the stations listed.
pub async fn emerging_api(
    raw: String,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Result<Response, ApiError> {
    use crate::layers::emerging;
    let p = Params::parse(&raw, EMERGING_PARAMS)?;
    let interval = interval_param(&p)?;
    let (f, places) = split_places(filter_from(&p, &state)?);
    let measure = measure_param(&p)?.unwrap_or_default();
    let lag = p.int("time_lag", 0, 12)?.unwrap_or(1) as usize;
    let category = p
        .get("category")
        .map(|c| {
            emerging::CATEGORIES
                .iter()
                .find(|&&x| x == c)
                .copied()
                .ok_or_else(|| ApiError::InvalidParameter {
                    name: "category",
                    message: format!("\"{c}\" is not one of {}", emerging::CATEGORIES.join(", ")),
                })
        })
        .transpose()?;
    blocking(state.limits.clone(), move || {
        let g = state.journeys.geography().clone();
        // A viewer's and a btp_planner's answer is published whole: its counts per station and
        // period are published before the statistic; the only count left is
        // `untimed_excluded`, published in the answer's cell as everywhere.
        let published = who.gets_published_whole();
        let d = &state.security.disclosure;
        let cube = state
            .layers()
            .emerging(&f, interval, measure, lag, published.then_some(d), MAX_PERIODS)
            .map_err(|max| ApiError::InvalidParameter {
                name: "interval",
                message: format!(
                    "more than {max} periods: narrow from and to, or use interval=month"
                ),
            })?;
        let (starts, result) = (cube.starts, cube.stations);
        let ids: Vec<usize> = match places.bbox {
            Some(b) => g.stations.in_bbox(&b),
            None => (0..g.stations.len()).collect(),
        };
        let mut rows: Vec<usize> = ids
            .into_iter()
            .filter(|&i| {
                places
                    .force
                    .is_none_or(|p| g.station_force(i).map(|h| h.force) == Some(p as usize))
                    && category.is_none_or(|c| result[i].category == c)
            })
            .collect();
        let rank = |c: &str| emerging::CATEGORIES.iter().position(|&x| x == c);
        rows.sort_by(|&a, &b| {
            rank(result[a].category)
                .cmp(&rank(result[b].category))
                .then_with(|| g.stations.get(a).code.cmp(&g.stations.get(b).code))
        });
        let features: Vec<EmergingFeature> = rows
            .iter()
            .map(|&i| {
                let s = g.stations.get(i);
                let e = &result[i];
                EmergingFeature {
                    geometry: Point {
                        coordinates: [s.lon, s.lat],
                        kind: "Point",
                    },
                    id: s.code.as_str(),
                    properties: EmergingProperties {
                        bins: e
                            .bins
                            .iter()
                            .map(|&b| match b {
                                1 => Some("hot"),
                                -1 => Some("cold"),
                                _ => None,
                            })
                            .collect(),
                        category: e.category,
                        crs: s.code.as_str(),
                        force: g
                            .station_force(i)
                            .map(|h| g.forces.get(h.force).code.as_str()),
                        gi_z: e.gi_z.iter().map(|&z| round6(z)).collect(),
                        name: &s.name,
                        trend_p: e.trend_p,
                        trend_z: round6(e.trend_z),
                    },
                    kind: "Feature",
                }
            })
            .collect();
        let body = EmergingAnswer {
            disclosure: published.then(|| d.notice()),
            number_matched: features.len(),
            number_returned: features.len(),
            features,
            interval: match interval {
                Interval::Week => "week",
                Interval::Month => "month",
            },
            measure: measure.as_str(),
            method: json!({
                "gi_z": format!("space-time Getis-Ord Gi*: the station and its stations within {} m along the track, in the period and the {lag} before it, over all stations x periods", hotspots::NEIGHBOUR_TRACK_M),
                "bins": format!("hot (z > 0) or cold (z < 0) where significant by Benjamini-Hochberg at {} over all bins (two-sided normal p)", hotspots::FDR_Q),
                "trend": "Mann-Kendall on the station's gi_z series (ties corrected, continuity-corrected z, two-sided p); significant at 0.05",
                "category": "after ESRI's emerging hot spot analysis: see the README",
            }),
            periods: starts
                .iter()
                .map(|&s| layers::date_of(s).to_string())
                .collect(),
            time_lag: lag,
            kind: "FeatureCollection",
            untimed_excluded: untimed_excluded(&state, &f, published),
        };
        let r = with_selection(json_reply(&body, GEOJSON), selection_size(&state, &f));
        Ok(super::guard::disclosed_if(published, r))
    })
    .await
}

/// A `/api/hotspots/emerging` answer. Its fields, and each feature's, in the order of the
/// rendered JSON it replaces (serde_json's maps, by name), so that no client sees a change.
#[derive(serde::Serialize)]
struct EmergingAnswer<'g> {
    /// disclosure control's notice, for a role whose answer is published
    #[serde(skip_serializing_if = "Option::is_none")]
    disclosure: Option<Value>,
    features: Vec<EmergingFeature<'g>>,
    interval: &'static str,
    measure: &'static str,
    method: Value,
    #[serde(rename = "numberMatched")]
    number_matched: usize,
    #[serde(rename = "numberReturned")]
    number_returned: usize,
    periods: Vec<String>,
    time_lag: usize,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    untimed_excluded: Option<Option<u64>>,
}

/// A station of an emerging hot spot answer, as a GeoJSON feature.
#[derive(serde::Serialize)]
struct EmergingFeature<'g> {
    geometry: Point,
    id: &'g str,
    properties: EmergingProperties<'g>,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// A GeoJSON Point.
#[derive(serde::Serialize)]
struct Point {
    coordinates: [f64; 2],
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(serde::Serialize)]
struct EmergingProperties<'g> {
    /// each period's bin: `hot`, `cold` or `null` (not significant)
    bins: Vec<Option<&'static str>>,
    category: &'static str,
    crs: &'g str,
    force: Option<&'g str>,
    gi_z: Vec<f64>,
    name: &'g str,
    trend_p: f64,
    trend_z: f64,
}

// ---------------------------------------------------------------- clock

/// Parameters of `/api/clock`.
pub const CLOCK_PARAMS: &[&str] = journey_params!([], ["measure"]);

/// The cell of the untimed count's keyed rounding: the same in every answer (JSON fields at
/// the top of an answer have no identifying fields, so disclosure control rounds them in this
/// cell too), so no two answers publish one count two ways.
const UNTIMED_CELL: &str = crate::layers::service::ANSWER_CELL;

/// With an `hours` or `days` filter, the journeys it left out for having no time, as the
/// caller may see it: `viewer` (a viewer's, or an answer published whole), published in
/// [`UNTIMED_CELL`] (`Some(None)` when suppressed); for a
/// `btp_planner` (`f.disclose_non_btp`) the BTP part exactly plus the rest published (a
/// suppressed rest counting 0), as [`combine_parts`] does for every other count; else
/// exactly. `None` without such a filter.
pub fn untimed_excluded(state: &AppState, f: &JourneyFilter, viewer: bool) -> Option<Option<u64>> {
    let idx = state.journeys.index();
    let g = state.journeys.geography();
    let d = &state.security.disclosure;
    let column = "untimed_excluded";
    if let Some((all, readable)) = btp_parts(f) {
        let total = idx.untimed_excluded(g, &all)? as u64;
        let mine = idx.untimed_excluded(g, &readable).unwrap_or(0) as u64;
        let rest = d
            .publish(UNTIMED_CELL, column, total.saturating_sub(mine))
            .unwrap_or(0);
        return Some(Some(mine + rest));
    }
    let n = idx.untimed_excluded(g, f)? as u64;
    Some(if viewer {
        d.publish(UNTIMED_CELL, column, n)
    } else {
        Some(n)
    })
}

/// `X-Untimed-Excluded` on an answer whose body has no place for the count (CSV): the
/// number, or `suppressed` for a viewer's count below k.
pub fn untimed_header(r: &mut Response, n: Option<Option<u64>>) {
    let Some(n) = n else { return };
    let text = n.map_or_else(|| "suppressed".to_string(), |n| n.to_string());
    if let Ok(v) = warp::http::HeaderValue::from_str(&text) {
        r.headers_mut().insert(UNTIMED_HEADER, v);
    }
}

/// The response header of [`untimed_header`].
pub const UNTIMED_HEADER: &str = "x-untimed-excluded";

/// `GET /api/clock`: the journeys `f` selects by local day of week and hour (Europe/London),
/// Monday first; with `station`, only those that count there under `measure` (default stops).
pub async fn clock_api(
    raw: String,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Result<Response, ApiError> {
    let p = Params::parse(&raw, CLOCK_PARAMS)?;
    let f = filter_from(&p, &state)?;
    let measure = measure_param(&p)?;
    if measure.is_some() && f.station.is_none() {
        return Err(ApiError::InvalidParameter {
            name: "measure",
            message: "applies with station=CRS (what the journeys did there)".into(),
        });
    }
    let measure = measure.unwrap_or_default();
    blocking(state.limits.clone(), move || {
        // A viewer's and a btp_planner's answer is published whole (the endpoint is not split:
        // its cells hold journeys a btp_planner may not read), here as it is computed.
        let published = who.gets_published_whole();
        let d = &state.security.disclosure;
        let clock = state.layers().clock(&f, measure, published.then_some(d));
        let untimed_excluded = untimed_excluded(&state, &f, published);
        let body = ClockAnswer {
            cells: clock.cells,
            days: crate::journey::clock::DAYS,
            disclosure: published.then(|| d.notice()),
            measure: f.station.is_some().then(|| measure.as_str()),
            timed: clock.timed,
            timezone: crate::journey::clock::TIMEZONE,
            untimed: clock.untimed,
            untimed_excluded,
        };
        let r = with_selection(json_reply(&body, JSON), selection_size(&state, &f));
        Ok(super::guard::disclosed_if(published, r))
    })
    .await
}

/// A `/api/clock` answer. Its fields in the order of the rendered JSON it replaces (serde_json's
/// maps, by name), so that no client sees a change.
#[derive(serde::Serialize)]
struct ClockAnswer {
    /// seven days (Monday first) of 24 local hours
    cells: Vec<Vec<ClockCell>>,
    days: &'static [&'static str],
    /// disclosure control's notice, for a role whose answer is published
    #[serde(skip_serializing_if = "Option::is_none")]
    disclosure: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    measure: Option<&'static str>,
    timed: Option<u64>,
    timezone: &'static str,
    untimed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    untimed_excluded: Option<Option<u64>>,
}

// ---------------------------------------------------------------- flows

pub(crate) use crate::layers::rows::COUNT_COLUMNS;

pub fn flow_id(g: &Geography, f: &layers::Flow) -> String {
    format!(
        "{}-{}",
        g.forces.get(f.origin as usize).code,
        g.forces.get(f.destination as usize).code
    )
}

/// A flow as a line between the representative points of its two forces (a two-point line on
/// one point for journeys inside one force), its properties in a form.
#[derive(serde::Serialize)]
pub struct FlowFeature<'r, 'g> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    geometry: LineString,
    properties: layers::rows::FlowOut<'r, 'g>,
}

/// A GeoJSON LineString of two points.
#[derive(serde::Serialize)]
struct LineString {
    #[serde(rename = "type")]
    kind: &'static str,
    coordinates: [[f64; 2]; 2],
}

impl<'r, 'g> FlowFeature<'r, 'g> {
    pub fn new(state: &AppState, row: &'r FlowRow<'g>, form: Form<'r>) -> Self {
        let point = |i: u16| {
            let p = state.force_points[i as usize];
            [round7(p[0]), round7(p[1])]
        };
        FlowFeature {
            kind: "Feature",
            id: row.id(),
            geometry: LineString {
                kind: "LineString",
                coordinates: [point(row.origin_index), point(row.destination_index)],
            },
            properties: row.form(form),
        }
    }
}

/// The flows as CSV (the rows as given: a viewer's published by the caller).
pub fn flow_csv(rows: &[FlowRow]) -> Result<Vec<u8>, ApiError> {
    layers::rows::csv(
        &FlowRow::csv_header(),
        rows.iter().map(|r| r.form(Form::Csv)),
    )
    .map_err(|e| ApiError::Internal(e.to_string()))
}

/// The typed rows of `flows`, published for a viewer when `d` is given.
pub fn flow_typed_rows<'g>(
    g: &'g Geography,
    flows: &Flows,
    direction: Direction,
    d: Option<&Disclosure>,
) -> Vec<FlowRow<'g>> {
    flows
        .rows
        .iter()
        .map(|f| {
            let mut row = FlowRow::new(g, f, direction);
            if let Some(d) = d {
                row.publish(d);
            }
            row
        })
        .collect()
}

/// Parameters of `/api/flows`.
pub const FLOW_PARAMS: &[&str] = journey_params!(
    [],
    [
        "origin_force",
        "destination_force",
        "direction",
        "format",
        "properties",
        "f"
    ]
);

/// Every property of a flow (GeoJSON feature or matrix row), in the order they are written.
pub fn flow_property_names() -> impl Iterator<Item = &'static str> {
    FlowRow::json_fields()
}

/// `properties=a,b,...` (OGC API – Features' convention): the flow properties to return beside
/// the pair ([`FlowRow::IDENTITY`]); `None` when absent (all of them). Only for the JSON answers.
pub fn flow_selection(p: &Params, fmt: Format) -> Result<Option<Vec<&'static str>>, ApiError> {
    let Some(list) = p.get("properties") else {
        return Ok(None);
    };
    let bad = |message: String| ApiError::InvalidParameter {
        name: "properties",
        message,
    };
    if fmt == Format::Csv {
        return Err(bad(
            "selects the properties of the JSON answers (GeoJSON or format=matrix), not of CSV"
                .into(),
        ));
    }
    list.split(',')
        .map(|name| {
            flow_property_names()
                .find(|k| *k == name)
                .ok_or_else(|| match name {
                    "" => bad(format!("\"{list}\" has an empty name")),
                    _ => bad(format!("\"{name}\" is not a property of a flow")),
                })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// `direction=line|travel` (default `line`).
pub fn direction_param(p: &Params) -> Result<Direction, ApiError> {
    match p.get("direction") {
        None => Ok(Direction::Line),
        Some(s) => Direction::parse(s).ok_or_else(|| ApiError::InvalidParameter {
            name: "direction",
            message: format!("\"{s}\" is not one of {}", Direction::ALL.join(", ")),
        }),
    }
}

/// The flows of the journeys `f` selects, narrowed to an origin and destination force; a
/// viewer's without the pairs under k ([`crate::layers::service::Layers::flow_rows`]).
pub fn flow_rows(
    state: &AppState,
    f: &JourneyFilter,
    origin: Option<u16>,
    destination: Option<u16>,
    direction: Direction,
    viewer: bool,
) -> Flows {
    state
        .layers()
        .flow_rows(f, origin, destination, direction, viewer)
}

/// `GET /api/flows`: force → force flows as a FeatureCollection, or `format=matrix` for the
/// origin × destination table (JSON `{"rows": [...]}`, or CSV with `f=csv`).
pub async fn flows_api(
    raw: String,
    accept: Option<String>,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Result<Response, ApiError> {
    let p = Params::parse_table(&raw, FLOW_PARAMS)?;
    let mut f = filter_from(&p, &state)?;
    f.disclose_non_btp = who.disclose_non_btp();
    let o = force_param(&p, "origin_force", &state)?;
    let d = force_param(&p, "destination_force", &state)?;
    let direction = direction_param(&p)?;
    let matrix = match p.get("format") {
        None | Some("geojson") => false,
        Some("matrix") => true,
        Some(other) => {
            return Err(ApiError::InvalidParameter {
                name: "format",
                message: format!("\"{other}\" is not geojson or matrix"),
            });
        }
    };
    let fmt = format_param(&p, "f", accept.as_deref())?;
    let keep = flow_selection(&p, fmt)?;
    blocking(state.limits.clone(), move || {
        let g = state.journeys.geography().clone();
        let flows = flow_rows(&state, &f, o, d, direction, who.viewer());
        let selected = selection_size(&state, &f);
        // a viewer's rows are published here, on the rows, before anything is written
        let disclosure = who.viewer().then_some(&state.security.disclosure);
        let rows = flow_typed_rows(&g, &flows, direction, disclosure);
        let published = |r: Response| match disclosure {
            Some(_) => super::guard::disclosed(r),
            None => r,
        };
        if fmt == Format::Csv {
            let body = flow_csv(&rows)?;
            return Ok(published(with_selection(csv_reply(body, None), selected)));
        }
        let unplaced = match disclosure {
            Some(d) => d.publish(
                &Disclosure::cell(&[]),
                "unplaced",
                u64::from(flows.unplaced),
            ),
            None => Some(u64::from(flows.unplaced)),
        };
        let untimed_excluded = untimed_excluded(&state, &f, who.viewer());
        let notice = disclosure.map(Disclosure::notice);
        let form = Form::Json(keep.as_deref());
        if matrix {
            let body = FlowMatrix {
                direction: direction.as_str(),
                rows: rows.iter().map(|r| r.form(form)).collect(),
                unplaced,
                untimed_excluded,
                disclosure: notice,
            };
            return Ok(published(with_selection(json_reply(&body, JSON), selected)));
        }
        let features: Vec<FlowFeature> = rows
            .iter()
            .map(|r| FlowFeature::new(&state, r, form))
            .collect();
        let body = FlowCollection {
            kind: "FeatureCollection",
            matched: features.len(),
            returned: features.len(),
            direction: direction.as_str(),
            unplaced,
            features,
            untimed_excluded,
            disclosure: notice,
        };
        Ok(published(with_selection(
            json_reply(&body, GEOJSON),
            selected,
        )))
    })
    .await
}

/// `/api/flows?format=matrix`.
#[derive(serde::Serialize)]
struct FlowMatrix<'r, 'g> {
    direction: &'static str,
    rows: Vec<layers::rows::FlowOut<'r, 'g>>,
    unplaced: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    untimed_excluded: Option<Option<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    disclosure: Option<Value>,
}

/// `/api/flows` as GeoJSON.
#[derive(serde::Serialize)]
struct FlowCollection<'r, 'g> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "numberMatched")]
    matched: usize,
    #[serde(rename = "numberReturned")]
    returned: usize,
    direction: &'static str,
    unplaced: Option<u64>,
    features: Vec<FlowFeature<'r, 'g>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    untimed_excluded: Option<Option<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    disclosure: Option<Value>,
}

// ---------------------------------------------------------------- corridors

/// Parameters of `/api/corridors`.
pub const CORRIDOR_PARAMS: &[&str] = journey_params!([], ["direction", "top", "f"]);
/// Default `top` of `/api/corridors`.
pub const DEFAULT_CORRIDORS: i64 = 100;

/// The corridors of the journeys `f` selects by `direction` (cached).
fn all_corridors(state: &AppState, f: &JourneyFilter, direction: Direction) -> Arc<Corridors> {
    state.layers().corridors(f, direction)
}

/// A corridor as a GeoJSON feature along its rail route (a straight line between its two
/// stations without one); fields by name, as the answers have always had them.
#[derive(serde::Serialize)]
struct CorridorFeature<'r, 'g> {
    geometry: CorridorLine,
    id: String,
    properties: layers::rows::CorridorOut<'r, 'g>,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(serde::Serialize)]
struct CorridorLine {
    coordinates: Vec<[f64; 2]>,
    #[serde(rename = "type")]
    kind: &'static str,
}

impl<'r, 'g> CorridorFeature<'r, 'g> {
    fn new(state: &AppState, r: &'r CorridorRow<'g>) -> Self {
        let (h, m) = (r.hub, r.market);
        // (the route the row's length and forces came from: kept per pair until the data
        // changes)
        let route = corridor_route(state, r.hub_index, r.market_index);
        let coordinates: Vec<[f64; 2]> = match route.as_ref() {
            Some((_, _, c)) if c.len() >= 2 => {
                c.iter().map(|p| [round7(p[0]), round7(p[1])]).collect()
            }
            _ => vec![[h.lon, h.lat], [m.lon, m.lat]],
        };
        CorridorFeature {
            geometry: CorridorLine {
                coordinates,
                kind: "LineString",
            },
            id: format!("{}-{}", h.code.as_str(), m.code.as_str()),
            properties: r.form(CorridorForm::Json),
            kind: "Feature",
        }
    }
}

/// `/api/corridors` as GeoJSON (fields by name).
#[derive(serde::Serialize)]
struct CorridorCollection<'r, 'g> {
    direction: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    disclosure: Option<Value>,
    features: Vec<CorridorFeature<'r, 'g>>,
    #[serde(rename = "numberReturned")]
    returned: usize,
    #[serde(rename = "type")]
    kind: &'static str,
    unplaced: Option<u64>,
}

/// `GET /api/corridors`: station → station corridors (by line: hub station → market station),
/// most journeys first, as a FeatureCollection along the rail route (or CSV).
pub async fn corridors_api(
    raw: String,
    accept: Option<String>,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Result<Response, ApiError> {
    let p = Params::parse_table(&raw, CORRIDOR_PARAMS)?;
    let f = filter_from(&p, &state)?;
    let direction = direction_param(&p)?;
    let top = p.int("top", 1, MAX_TOP)?.unwrap_or(DEFAULT_CORRIDORS) as usize;
    let fmt = format_param(&p, "f", accept.as_deref())?;
    blocking(state.limits.clone(), move || {
        let g = state.journeys.geography().clone();
        let all = all_corridors(&state, &f, direction);
        // a viewer's and a btp_planner's corridors are published whole (the endpoint's answer
        // is not split into BTP's part and the rest), here on the rows
        let disclosure =
            (who.viewer() || who.disclose_non_btp()).then_some(&state.security.disclosure);
        let rows = state
            .layers()
            .corridor_rows(&g, &all, direction, disclosure, top);
        let selected = selection_size(&state, &f);
        let published = |r: Response| match disclosure {
            Some(_) => super::guard::disclosed(r),
            None => r,
        };
        if fmt == Format::Csv {
            let body = layers::rows::csv(
                CorridorRow::csv_header(),
                rows.iter().map(|r| r.form(CorridorForm::Csv)),
            )
            .map_err(|e| ApiError::Internal(e.to_string()))?;
            return Ok(published(with_selection(csv_reply(body, None), selected)));
        }
        let body = CorridorCollection {
            direction: direction.as_str(),
            disclosure: disclosure.map(Disclosure::notice),
            features: rows
                .iter()
                .map(|r| CorridorFeature::new(&state, r))
                .collect(),
            returned: rows.len(),
            kind: "FeatureCollection",
            unplaced: match disclosure {
                Some(d) => d.publish(&Disclosure::cell(&[]), "unplaced", u64::from(all.unplaced)),
                None => Some(u64::from(all.unplaced)),
            },
        };
        Ok(published(with_selection(
            json_reply(&body, GEOJSON),
            selected,
        )))
    })
    .await
}

// ---------------------------------------------------------------- trends

/// Parameters of `/api/trends`.
pub const TREND_PARAMS: &[&str] = journey_params!(["interval"], ["f"]);

use crate::layers::service::TrendError;
pub use crate::layers::service::{DEFAULT_TREND_YEARS, MAX_BUCKETS};

/// Today as a day number (UTC).
pub fn today() -> i32 {
    crate::journey::map::day_number(time::OffsetDateTime::now_utc().date())
}

/// The trend buckets of `f` over its range and the journeys they hold
/// ([`crate::layers::service::Layers::trends`]); a range of more than [`MAX_BUCKETS`] periods
/// is a 400 naming the limit.
pub fn trend_rows(
    state: &AppState,
    f: &JourneyFilter,
    interval: Interval,
    data_range: bool,
) -> Result<(Vec<layers::Bucket>, u32), ApiError> {
    state
        .layers()
        .trends(f, interval, data_range, today())
        .map_err(|e| match e {
            TrendError::TooMany { lo, hi } => ApiError::InvalidParameter {
                name: "to",
                message: format!(
                    "the range from {} to {} holds more than {MAX_BUCKETS} {}s, the most one answer gives: narrow from/to{}",
                    layers::date_of(lo),
                    layers::date_of(hi),
                    interval_name(interval),
                    if interval == Interval::Week {
                        " or use interval=month"
                    } else {
                        ""
                    }
                ),
            },
            TrendError::Combine(e) => ApiError::Internal(format!("combining trend parts: {e}")),
        })
}

fn interval_name(i: Interval) -> &'static str {
    match i {
        Interval::Week => "week",
        Interval::Month => "month",
    }
}

/// `GET /api/trends?interval=week|month`: counts per period (JSON, or CSV with `f=csv`).
pub async fn trends_api(
    raw: String,
    accept: Option<String>,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Result<Response, ApiError> {
    let p = Params::parse_table(&raw, TREND_PARAMS)?;
    let interval = interval_param(&p)?;
    let mut f = filter_from(&p, &state)?;
    f.disclose_non_btp = who.disclose_non_btp();
    let (interval, f, fmt) = (interval, f, format_param(&p, "f", accept.as_deref())?);
    blocking(state.limits.clone(), move || {
        let (buckets, n) = trend_rows(&state, &f, interval, who.sees_all_journeys())?;
        // a viewer's rows are published here, on the rows, before anything is written
        let disclosure = who.viewer().then_some(&state.security.disclosure);
        let rows = trend_typed_rows(&buckets, disclosure);
        let published = |r: Response| match disclosure {
            Some(_) => super::guard::disclosed(r),
            None => r,
        };
        if fmt == Format::Csv {
            let body = trend_csv(&rows)?;
            return Ok(published(with_selection(csv_reply(body, None), n as usize)));
        }
        let body = TrendAnswer {
            buckets: rows.iter().map(|r| r.form(TrendForm::Json)).collect(),
            disclosure: disclosure.map(Disclosure::notice),
            interval: interval_name(interval),
            // the top of the answer has no identifying field: its cell is the empty one
            journeys: match disclosure {
                Some(d) => d.publish(&Disclosure::cell(&[]), "journeys", u64::from(n)),
                None => Some(u64::from(n)),
            },
            untimed_excluded: untimed_excluded(&state, &f, who.viewer()),
        };
        Ok(published(with_selection(
            json_reply(&body, JSON),
            n as usize,
        )))
    })
    .await
}

/// `/api/trends` as JSON (its fields in alphabetical order, as before they were typed).
#[derive(serde::Serialize)]
struct TrendAnswer<'r> {
    buckets: Vec<layers::rows::TrendOut<'r>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    disclosure: Option<Value>,
    interval: &'static str,
    journeys: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    untimed_excluded: Option<Option<u64>>,
}

/// The typed rows of trend periods, published for a viewer when `d` is given.
pub fn trend_typed_rows(buckets: &[layers::Bucket], d: Option<&Disclosure>) -> Vec<TrendRow> {
    buckets
        .iter()
        .map(|b| {
            let mut row = TrendRow::new(b);
            if let Some(d) = d {
                row.publish(d);
            }
            row
        })
        .collect()
}

/// Trend periods as CSV (the rows as given: a viewer's published by the caller).
pub fn trend_csv(rows: &[TrendRow]) -> Result<Vec<u8>, ApiError> {
    layers::rows::csv(
        TrendRow::csv_header(),
        rows.iter().map(|r| r.form(TrendForm::Csv)),
    )
    .map_err(|e| ApiError::Internal(e.to_string()))
}

// ---------------------------------------------------------------- rail sections

/// Section usage over the journeys `f` selects.
pub fn section_stats(state: &AppState, f: &JourneyFilter) -> Arc<Vec<SectionStats>> {
    state.layers().section_stats(f)
}

/// Trends as a CSV table (for the export): monthly, over the range [`trend_range`] gives,
/// published on the rows for a viewer (`d`); (the bytes, the rows, the journeys selected).
pub fn trends_csv(
    state: &AppState,
    f: &JourneyFilter,
    data_range: bool,
    d: Option<&Disclosure>,
) -> Result<(Vec<u8>, usize, usize), ApiError> {
    let (buckets, n) = trend_rows(state, f, Interval::Month, data_range)?;
    let rows = trend_typed_rows(&buckets, d);
    Ok((trend_csv(&rows)?, rows.len(), n as usize))
}
