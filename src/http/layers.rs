//! The analysts' layers over HTTP: `/api/hotspots`, `/api/flows`, `/api/trends` and the
//! streamed `/api/export`, and the features the OGC collections `rail`, `hotspots` and `flows`
//! serve. The numbers come from [`crate::layers`]; this module selects the journeys, sorts and
//! renders.
//!
//! Filters (the same everywhere, see [`super::journeys::JOURNEY_FILTERS`]) select journeys; for
//! the place layers (stations, hotspots, forces) `bbox` and `force` select the places listed
//! instead, while the statistics stay those of the whole network.

use super::error::ApiError;
use super::journeys::{filter_from, force_param, journey_params};
use super::params::Params;
use super::{AppState, json_reply, round7};
use crate::geography::{Bbox, Geography};
use crate::journey::index::JourneyFilter;
use crate::journey::map::MappedJourney;
use crate::layers::{self, Flows, Interval, SectionStats, StationStats, hotspots};
use serde_json::{Value, json};
use std::sync::Arc;
use warp::reply::Response;

const GEOJSON: &str = "application/geo+json";
const JSON: &str = "application/json";
const CSV: &str = "text/csv; charset=utf-8";
/// Default and largest `top` of `/api/hotspots`.
pub const DEFAULT_TOP: i64 = 100;
pub const MAX_TOP: i64 = 10_000;

/// The journeys a filter selects, in the order they were added.
pub fn select(state: &AppState, f: &JourneyFilter) -> Vec<Arc<MappedJourney>> {
    let idx = state.journeys.index();
    idx.matching(state.journeys.geography(), f)
        .into_iter()
        .cloned()
        .collect()
}

fn refs(v: &[Arc<MappedJourney>]) -> Vec<&Arc<MappedJourney>> {
    v.iter().collect()
}

/// Results cached per journey filter until the next journeys arrive (or, when the server
/// allows layers to lag writes by `stale_ok`, until the cached value is that old): the place
/// layers count over every selected journey, and a map pages through them with the same filter.
/// A cached value: the data version it was computed at, when, and the value.
type Cached<T> = (usize, std::time::Instant, Arc<T>);

pub struct Memo<T> {
    /// per filter
    inner: std::sync::Mutex<std::collections::HashMap<String, Cached<T>>>,
    /// held while computing, so that a burst of identical requests computes once
    computing: std::sync::Mutex<()>,
}

/// Entries kept per layer before the cache starts again.
const MEMO_MAX: usize = 256;

impl<T> Default for Memo<T> {
    fn default() -> Self {
        Memo {
            inner: std::sync::Mutex::new(std::collections::HashMap::new()),
            computing: std::sync::Mutex::new(()),
        }
    }
}

impl<T> Memo<T> {
    /// The value for `key` at data `version` (the number of journeys: the index only grows),
    /// or one computed at an older version less than `stale_ok` ago; computed by `make` when
    /// neither is there, one computation at a time (the others wait for it and then find it).
    pub fn get(
        &self,
        version: usize,
        stale_ok: std::time::Duration,
        key: &JourneyFilter,
        make: impl FnOnce() -> T,
    ) -> Arc<T> {
        let key = format!("{key:?}");
        let cached = || {
            self.inner.lock().ok().and_then(|g| {
                g.get(&key)
                    .filter(|(v, at, _)| *v == version || at.elapsed() < stale_ok)
                    .map(|(_, _, x)| x.clone())
            })
        };
        if let Some(v) = cached() {
            return v;
        }
        let _one = self.computing.lock();
        if let Some(v) = cached() {
            return v;
        }
        let v = Arc::new(make());
        if let Ok(mut g) = self.inner.lock() {
            if g.len() >= MEMO_MAX {
                g.clear();
            }
            g.insert(key, (version, std::time::Instant::now(), v.clone()));
        }
        v
    }
}

/// The cached layers of [`AppState`].
#[derive(Default)]
pub struct Memos {
    stations: Memo<Vec<StationStats>>,
    hotspots: Memo<Vec<(f64, f64, bool)>>,
    sections: Memo<Vec<SectionStats>>,
    forces: Memo<Vec<[u32; 2]>>,
    flows: Memo<Flows>,
    sizes: Memo<usize>,
}

impl Memos {
    /// Computes the unfiltered layers, so that the first map requests find them ready.
    pub fn warm(state: &AppState) {
        let all = JourneyFilter::default();
        hotspot_statistics(state, &all);
        force_counts(state, &all);
        section_stats(state, &all);
        flow_rows(state, &all, None, None, false);
    }
}

/// `memo`'s value for `f` at the current data version (or as stale as the limits allow).
fn cached<T>(
    state: &AppState,
    memo: &Memo<T>,
    f: &JourneyFilter,
    make: impl FnOnce() -> T,
) -> Arc<T> {
    memo.get(
        state.journeys.index().len(),
        state.limits.layer_staleness,
        f,
        make,
    )
}

/// The two parts of a filter whose aggregates a `btp_planner` sees: all the journeys it
/// selects, and those British Transport Police reported or joined (readable to the caller).
/// `None` when the filter does not ask for that ([`JourneyFilter::disclose_non_btp`]).
fn btp_parts(f: &JourneyFilter) -> Option<(JourneyFilter, JourneyFilter)> {
    if !f.disclose_non_btp {
        return None;
    }
    let mut all = f.clone();
    all.disclose_non_btp = false;
    let mut readable = all.clone();
    readable.btp_sourced = true;
    Some((all, readable))
}

/// A count made of a readable part shown as it is and a part the caller may not read, shown
/// through disclosure control: `readable + publish(total - readable)` (a suppressed part
/// counts 0).
fn part_count(state: &AppState, cell: &str, column: &str, total: u32, readable: u32) -> u32 {
    let other = total.saturating_sub(readable);
    readable
        + state
            .security
            .disclosure
            .publish(cell, column, u64::from(other))
            .map_or(0, |v| v as u32)
}

/// How many journeys `f` selects (cached): aggregate answers over fewer than k journeys are
/// audited as journey-level reads.
pub fn selection_size(state: &AppState, f: &JourneyFilter) -> usize {
    let mut f = f.clone();
    f.disclose_non_btp = false;
    *cached(state, &state.memos.sizes, &f, || {
        state
            .journeys
            .index()
            .matching(state.journeys.geography(), &f)
            .len()
    })
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
    cached(state, &state.memos.stations, f, || {
        if let Some((all, readable)) = btp_parts(f) {
            let (t, r) = (
                station_counts(state, &all),
                station_counts(state, &readable),
            );
            let g = state.journeys.geography();
            return t
                .iter()
                .zip(r.iter())
                .enumerate()
                .map(|(i, (t, r))| {
                    let cell = format!("crs={}|", g.stations.get(i).code);
                    let p = |col: &str, t: u32, r: u32| part_count(state, &cell, col, t, r);
                    StationStats {
                        starts: p("starts", t.starts, r.starts),
                        ends: p("ends", t.ends, r.ends),
                        passes: p("passes", t.passes, r.passes),
                        journeys: p("journeys", t.journeys, r.journeys),
                        persons: p("persons", t.persons, r.persons),
                        children: p("children", t.children, r.children),
                    }
                })
                .collect();
        }
        let sel = select(state, f);
        layers::station_stats(state.journeys.geography(), &refs(&sel))
    })
}

/// Gi* z, p-value and significance per station over the journeys `f` selects (cached).
fn hotspot_statistics(state: &AppState, f: &JourneyFilter) -> Arc<Vec<(f64, f64, bool)>> {
    cached(state, &state.memos.hotspots, f, || {
        let stats = station_counts(state, f);
        let x: Vec<f64> = stats.iter().map(|s| f64::from(s.journeys)).collect();
        hotspots::statistics(&x, &state.neighbourhoods)
    })
}

/// Cross-border journeys exported (by the line's exporting force) and imported (by the
/// destination's force) per force (cached).
pub fn force_counts(state: &AppState, f: &JourneyFilter) -> Arc<Vec<[u32; 2]>> {
    cached(state, &state.memos.forces, f, || {
        if let Some((all, readable)) = btp_parts(f) {
            let (t, r) = (force_counts(state, &all), force_counts(state, &readable));
            let g = state.journeys.geography();
            return t
                .iter()
                .zip(r.iter())
                .enumerate()
                .map(|(i, (t, r))| {
                    let cell = format!("code={}|", g.forces.get(i).code);
                    [
                        part_count(state, &cell, "exports", t[0], r[0]),
                        part_count(state, &cell, "imports", t[1], r[1]),
                    ]
                })
                .collect();
        }
        let mut counts = vec![[0u32; 2]; state.journeys.geography().forces.forces().len()];
        for j in select(state, f) {
            if let (Some(e), Some(i)) = (j.exporting_force, j.importing_force)
                && e != i
            {
                counts[e as usize][0] += 1;
                counts[i as usize][1] += 1;
            }
        }
        counts
    })
}

/// Places listed by a place layer: inside `bbox` and in force `force`.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlaceFilter {
    pub bbox: Option<Bbox>,
    pub force: Option<u16>,
}

/// Splits a filter into the journeys' part and the places' part (`bbox`, `force`).
pub fn split_places(mut f: JourneyFilter) -> (JourneyFilter, PlaceFilter) {
    let places = PlaceFilter {
        bbox: f.bbox.take(),
        force: f.force.take(),
    };
    (f, places)
}

// ---------------------------------------------------------------- hotspots

/// How hotspots are ordered (descending; ties: more journeys, then CRS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HotspotSort {
    GiZ,
    Journeys,
    RatePerMillion,
}

impl HotspotSort {
    pub const ALL: &[&str] = &["gi_z", "journeys", "rate_per_million"];
    fn parse(s: &str) -> Option<HotspotSort> {
        match s {
            "gi_z" => Some(HotspotSort::GiZ),
            "journeys" => Some(HotspotSort::Journeys),
            "rate_per_million" => Some(HotspotSort::RatePerMillion),
            _ => None,
        }
    }
}

/// One station of the hotspot layer.
#[derive(Clone, Debug)]
pub struct Hotspot {
    pub station: usize,
    pub force: Option<usize>,
    pub stats: StationStats,
    /// journeys per million annual entries and exits (ORR 2019-20); none without footfall
    pub rate_per_million: Option<f64>,
    pub gi_z: f64,
    pub p_value: f64,
    pub significant: bool,
}

/// Every station with its counts and statistic, over the journeys `f` selects; then the places
/// `places` selects, sorted.
pub fn hotspot_rows(
    state: &AppState,
    f: &JourneyFilter,
    places: PlaceFilter,
    sort: HotspotSort,
    viewer: bool,
) -> Vec<Hotspot> {
    let g = state.journeys.geography();
    let stats = station_counts(state, f);
    // Journeys per station as the caller may know them: a viewer's are the published ones
    // (suppressed as 0), and its statistic and order are computed from those alone.
    let journeys: Vec<u32> = if viewer {
        let d = &state.security.disclosure;
        stats
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let cell = format!("crs={}|", g.stations.get(i).code);
                d.publish(&cell, "journeys", u64::from(s.journeys))
                    .map_or(0, |v| v as u32)
            })
            .collect()
    } else {
        stats.iter().map(|s| s.journeys).collect()
    };
    let st = if viewer {
        let x: Vec<f64> = journeys.iter().map(|&j| f64::from(j)).collect();
        Arc::new(hotspots::statistics(&x, &state.neighbourhoods))
    } else {
        hotspot_statistics(state, f)
    };
    let ids: Vec<usize> = match places.bbox {
        Some(b) => g.stations.in_bbox(&b),
        None => (0..g.stations.len()).collect(),
    };
    let mut rows: Vec<Hotspot> = ids
        .into_iter()
        .filter_map(|i| {
            let force = g.station_force(i).map(|h| h.force);
            if places.force.is_some_and(|p| force != Some(p as usize)) {
                return None;
            }
            let s = g.stations.get(i);
            let (gi_z, p_value, significant) = st[i];
            Some(Hotspot {
                station: i,
                force,
                stats: stats[i],
                rate_per_million: s
                    .entries_exits_2019_20
                    .filter(|&n| n > 0)
                    .map(|n| f64::from(journeys[i]) * 1e6 / n as f64),
                gi_z,
                p_value,
                significant,
            })
        })
        .collect();
    let key = |h: &Hotspot| match sort {
        HotspotSort::GiZ => h.gi_z,
        HotspotSort::Journeys => f64::from(journeys[h.station]),
        HotspotSort::RatePerMillion => h.rate_per_million.unwrap_or(f64::NEG_INFINITY),
    };
    rows.sort_by(|a, b| {
        key(b)
            .total_cmp(&key(a))
            .then(journeys[b.station].cmp(&journeys[a.station]))
            .then_with(|| {
                g.stations
                    .get(a.station)
                    .code
                    .cmp(&g.stations.get(b.station).code)
            })
    });
    rows
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

pub fn hotspot_properties(g: &Geography, h: &Hotspot) -> Value {
    let s = g.stations.get(h.station);
    json!({
        "crs": s.code,
        "name": s.name,
        "force": h.force.map(|f| g.forces.get(f).code.to_string()),
        "starts": h.stats.starts,
        "ends": h.stats.ends,
        "passes": h.stats.passes,
        "journeys": h.stats.journeys,
        "persons": h.stats.persons,
        "children": h.stats.children,
        "entries_exits_2019_20": s.entries_exits_2019_20,
        "rate_per_million": h.rate_per_million.map(round6),
        "gi_z": round6(h.gi_z),
        "p_value": h.p_value,
        "significant": h.significant,
    })
}

pub fn hotspot_feature(g: &Geography, h: &Hotspot) -> Value {
    let s = g.stations.get(h.station);
    json!({
        "type": "Feature",
        "id": s.code,
        "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]},
        "properties": hotspot_properties(g, h),
    })
}

/// Parameters of `/api/hotspots`.
pub const HOTSPOT_PARAMS: &[&str] = journey_params!([], ["top", "sort", "f"]);

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

fn format_param(p: &Params, name: &'static str, accept: Option<&str>) -> Result<Format, ApiError> {
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

async fn blocking(
    limits: Arc<super::Limits>,
    f: impl FnOnce() -> Result<Response, ApiError> + Send + 'static,
) -> Response {
    match super::offload(limits, f).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) | Err(e) => e.into_response(),
    }
}

fn csv_reply(body: Vec<u8>, filename: Option<&str>) -> Response {
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

fn csv_bytes(
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

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

const HOTSPOT_COLUMNS: &[&str] = &[
    "crs",
    "name",
    "force",
    "lon",
    "lat",
    "starts",
    "ends",
    "passes",
    "journeys",
    "persons",
    "children",
    "entries_exits_2019_20",
    "rate_per_million",
    "gi_z",
    "p_value",
    "significant",
];

pub fn hotspot_csv(g: &Geography, rows: &[Hotspot]) -> Result<Vec<u8>, ApiError> {
    csv_bytes(
        HOTSPOT_COLUMNS,
        rows.iter().map(|h| {
            let s = g.stations.get(h.station);
            vec![
                s.code.to_string(),
                s.name.clone(),
                opt(h.force.map(|f| g.forces.get(f).code.to_string())),
                s.lon.to_string(),
                s.lat.to_string(),
                h.stats.starts.to_string(),
                h.stats.ends.to_string(),
                h.stats.passes.to_string(),
                h.stats.journeys.to_string(),
                h.stats.persons.to_string(),
                h.stats.children.to_string(),
                opt(s.entries_exits_2019_20),
                opt(h.rate_per_million.map(round6)),
                round6(h.gi_z).to_string(),
                h.p_value.to_string(),
                h.significant.to_string(),
            ]
        }),
    )
}

/// `GET /api/hotspots`: stations ranked as hotspots, a FeatureCollection (or CSV).
pub async fn hotspots_api(
    raw: String,
    accept: Option<String>,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Response {
    let parsed = (|| {
        let p = Params::parse_table(&raw, HOTSPOT_PARAMS)?;
        let (mut f, places) = split_places(filter_from(&p, &state)?);
        f.disclose_non_btp = who.disclose_non_btp();
        let top = p.int("top", 1, MAX_TOP)?.unwrap_or(DEFAULT_TOP) as usize;
        Ok::<_, ApiError>((
            f,
            places,
            top,
            sort_param(&p)?,
            format_param(&p, "f", accept.as_deref())?,
        ))
    })();
    let (f, places, top, sort, format) = match parsed {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    blocking(state.limits.clone(), move || {
        let g = state.journeys.geography().clone();
        let mut rows = hotspot_rows(&state, &f, places, sort, who.viewer());
        let matched = rows.len();
        rows.truncate(top);
        let selected = selection_size(&state, &f);
        if format == Format::Csv {
            return Ok(with_selection(
                csv_reply(hotspot_csv(&g, &rows)?, None),
                selected,
            ));
        }
        let features: Vec<Value> = rows.iter().map(|h| hotspot_feature(&g, h)).collect();
        Ok(json_reply(
            &json!({
                "type": "FeatureCollection",
                "numberMatched": matched,
                "numberReturned": features.len(),
                "statistic": {
                    "method": "Getis-Ord Gi* on journeys per station",
                    "weights": format!("binary: the station itself and the stations within {} m along the track", hotspots::NEIGHBOUR_TRACK_M),
                    "p_value": "two-sided, normal approximation",
                    "significance": format!("Benjamini-Hochberg false discovery rate {} over all {} stations", hotspots::FDR_Q, g.stations.len()),
                },
                "features": features,
            }),
            GEOJSON,
        ))
        .map(|r| with_selection(r, selected))
    })
    .await
}

// ---------------------------------------------------------------- flows

pub fn flow_properties(g: &Geography, f: &layers::Flow) -> Value {
    let (o, d) = (
        g.forces.get(f.origin as usize),
        g.forces.get(f.destination as usize),
    );
    json!({
        "origin_force": o.code,
        "destination_force": d.code,
        "origin_name": o.name,
        "destination_name": d.name,
        "journeys": f.journeys,
        "persons": f.persons,
        "children": f.children,
        "btp_journeys": f.btp_journeys,
        "cross_border": f.origin != f.destination,
    })
}

pub fn flow_id(g: &Geography, f: &layers::Flow) -> String {
    format!(
        "{}-{}",
        g.forces.get(f.origin as usize).code,
        g.forces.get(f.destination as usize).code
    )
}

/// A flow as a line between the representative points of its two forces (a two-point line on
/// one point for journeys inside one force).
pub fn flow_feature(state: &AppState, f: &layers::Flow) -> Value {
    let g = state.journeys.geography();
    let (a, b) = (
        state.force_points[f.origin as usize],
        state.force_points[f.destination as usize],
    );
    json!({
        "type": "Feature",
        "id": flow_id(g, f),
        "geometry": {"type": "LineString", "coordinates": [[round7(a[0]), round7(a[1])], [round7(b[0]), round7(b[1])]]},
        "properties": flow_properties(g, f),
    })
}

const FLOW_COLUMNS: &[&str] = &[
    "origin_force",
    "destination_force",
    "origin_name",
    "destination_name",
    "journeys",
    "persons",
    "children",
    "btp_journeys",
];

pub fn flow_csv(g: &Geography, flows: &Flows) -> Result<Vec<u8>, ApiError> {
    csv_bytes(
        FLOW_COLUMNS,
        flows.rows.iter().map(|f| {
            let (o, d) = (
                g.forces.get(f.origin as usize),
                g.forces.get(f.destination as usize),
            );
            vec![
                o.code.to_string(),
                d.code.to_string(),
                o.name.clone(),
                d.name.clone(),
                f.journeys.to_string(),
                f.persons.to_string(),
                f.children.to_string(),
                f.btp_journeys.to_string(),
            ]
        }),
    )
}

/// Parameters of `/api/flows`.
pub const FLOW_PARAMS: &[&str] =
    journey_params!([], ["origin_force", "destination_force", "format", "f"]);

/// The flows of the journeys `f` selects, narrowed to an origin and destination force.
pub fn flow_rows(
    state: &AppState,
    f: &JourneyFilter,
    origin: Option<u16>,
    destination: Option<u16>,
    viewer: bool,
) -> Flows {
    let k = state.security.disclosure.k;
    let mut flows = (*flow_counts(state, f)).clone();
    // A viewer sees no pair with fewer than k journeys: not even that it exists.
    flows.rows.retain(|r| {
        origin.is_none_or(|o| r.origin == o)
            && destination.is_none_or(|d| r.destination == d)
            && (!viewer || r.journeys >= k)
    });
    flows
}

/// Force-to-force flows over the journeys `f` selects (cached); for a `btp_planner` the part
/// it may not read goes through disclosure control cell by cell (and a cell left empty by it
/// is not listed).
fn flow_counts(state: &AppState, f: &JourneyFilter) -> Arc<Flows> {
    cached(state, &state.memos.flows, f, || {
        if let Some((all, readable)) = btp_parts(f) {
            let (t, r) = (flow_counts(state, &all), flow_counts(state, &readable));
            let g = state.journeys.geography();
            let read: std::collections::HashMap<(u16, u16), &layers::Flow> = r
                .rows
                .iter()
                .map(|x| ((x.origin, x.destination), x))
                .collect();
            let none = layers::Flow::default();
            let mut rows: Vec<layers::Flow> = t
                .rows
                .iter()
                .map(|x| {
                    let y = read
                        .get(&(x.origin, x.destination))
                        .copied()
                        .unwrap_or(&none);
                    let cell = format!(
                        "origin_force={}|destination_force={}|",
                        g.forces.get(x.origin as usize).code,
                        g.forces.get(x.destination as usize).code
                    );
                    let p = |col: &str, t: u32, r: u32| part_count(state, &cell, col, t, r);
                    layers::Flow {
                        origin: x.origin,
                        destination: x.destination,
                        journeys: p("journeys", x.journeys, y.journeys),
                        persons: p("persons", x.persons, y.persons),
                        children: p("children", x.children, y.children),
                        btp_journeys: p("btp_journeys", x.btp_journeys, y.btp_journeys),
                    }
                })
                .filter(|x| x.journeys > 0)
                .collect();
            rows.sort_by(|a, b| {
                b.journeys
                    .cmp(&a.journeys)
                    .then(a.origin.cmp(&b.origin))
                    .then(a.destination.cmp(&b.destination))
            });
            return Flows {
                rows,
                unplaced: part_count(state, "", "unplaced", t.unplaced, r.unplaced),
            };
        }
        let sel = select(state, f);
        layers::flows(&refs(&sel))
    })
}

/// `GET /api/flows`: force → force flows as a FeatureCollection, or `format=matrix` for the
/// origin × destination table (JSON `{"rows": [...]}`, or CSV with `f=csv`).
pub async fn flows_api(
    raw: String,
    accept: Option<String>,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Response {
    let parsed = (|| {
        let p = Params::parse_table(&raw, FLOW_PARAMS)?;
        let mut f = filter_from(&p, &state)?;
        f.disclose_non_btp = who.disclose_non_btp();
        let o = force_param(&p, "origin_force", &state)?;
        let d = force_param(&p, "destination_force", &state)?;
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
        Ok::<_, ApiError>((f, o, d, matrix, fmt))
    })();
    let (f, o, d, matrix, fmt) = match parsed {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    blocking(state.limits.clone(), move || {
        let g = state.journeys.geography().clone();
        let flows = flow_rows(&state, &f, o, d, who.viewer());
        let selected = selection_size(&state, &f);
        if fmt == Format::Csv {
            return Ok(with_selection(
                csv_reply(flow_csv(&g, &flows)?, None),
                selected,
            ));
        }
        if matrix {
            let rows: Vec<Value> = flows.rows.iter().map(|r| flow_properties(&g, r)).collect();
            return Ok(with_selection(
                json_reply(&json!({"rows": rows, "unplaced": flows.unplaced}), JSON),
                selected,
            ));
        }
        let features: Vec<Value> = flows.rows.iter().map(|r| flow_feature(&state, r)).collect();
        Ok(json_reply(
            &json!({
                "type": "FeatureCollection",
                "numberMatched": features.len(),
                "numberReturned": features.len(),
                "unplaced": flows.unplaced,
                "features": features,
            }),
            GEOJSON,
        ))
        .map(|r| with_selection(r, selected))
    })
    .await
}

// ---------------------------------------------------------------- trends

/// Parameters of `/api/trends`.
pub const TREND_PARAMS: &[&str] = journey_params!(["interval"], ["f"]);

const TREND_COLUMNS: &[&str] = &[
    "period_start",
    "period_end",
    "journeys",
    "persons",
    "children",
    "cross_border",
    "rail",
    "lines",
    "nrm_referrals",
    "safeguarding_referrals",
];

fn trend_values(b: &layers::Bucket) -> Vec<String> {
    vec![
        layers::date_of(b.start).to_string(),
        layers::date_of(b.end).to_string(),
        b.journeys.to_string(),
        b.persons.to_string(),
        b.children.to_string(),
        b.cross_border.to_string(),
        b.rail.to_string(),
        b.lines.to_string(),
        b.nrm_referrals.to_string(),
        b.safeguarding_referrals.to_string(),
    ]
}

/// Most periods one trends answer holds.
pub const MAX_BUCKETS: usize = 600;
/// Years of periods a trends answer covers when the caller gives no dates and may not see the
/// data's own range (viewers, btp_planners): the six years MoPI normally keeps records for,
/// up to today, whatever the data holds.
pub const DEFAULT_TREND_YEARS: i32 = 6;

/// Today as a day number (UTC).
pub fn today() -> i32 {
    crate::journey::map::day_number(time::OffsetDateTime::now_utc().date())
}

/// The periods a trends answer covers. With `from`/`to` given, theirs. Otherwise, for a caller
/// who sees every journey (`data_range`), from the first to the last journey the filter
/// selects (none: no periods); for anyone else a fixed window that does not depend on the data
/// ([`DEFAULT_TREND_YEARS`] to today), so that its extent says nothing about a suppressed cell.
/// More than [`MAX_BUCKETS`] periods is a 400 naming the limit.
pub fn trend_range(
    state: &AppState,
    f: &JourneyFilter,
    interval: Interval,
    data_range: bool,
) -> Result<Option<(i32, i32)>, ApiError> {
    let (lo, hi) = if data_range {
        let need = f.from_day.is_none() || f.to_day.is_none();
        let (first, last) = if need {
            let idx = state.journeys.index();
            let days = idx
                .matching(state.journeys.geography(), f)
                .into_iter()
                .map(|j| j.day);
            days.fold((None, None), |(lo, hi): (Option<i32>, Option<i32>), d| {
                (
                    Some(lo.map_or(d, |l| l.min(d))),
                    Some(hi.map_or(d, |h| h.max(d))),
                )
            })
        } else {
            (None, None)
        };
        match (f.from_day.or(first), f.to_day.or(last)) {
            (Some(a), Some(b)) => (a, b),
            _ => return Ok(None),
        }
    } else {
        let t = today();
        let d = layers::date_of(t);
        let back = d
            .replace_year(d.year() - DEFAULT_TREND_YEARS)
            .or_else(|_| {
                d.replace_day(28)
                    .and_then(|d| d.replace_year(d.year() - DEFAULT_TREND_YEARS))
            })
            .map(crate::journey::map::day_number)
            .unwrap_or(t - 365 * DEFAULT_TREND_YEARS);
        (f.from_day.unwrap_or(back), f.to_day.unwrap_or(t))
    };
    if lo > hi {
        return Ok(None);
    }
    let mut n = 0usize;
    let mut s = interval.start_of(lo);
    while s <= hi {
        n += 1;
        if n > MAX_BUCKETS {
            return Err(ApiError::InvalidParameter {
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
            });
        }
        s = interval.next(s);
    }
    Ok(Some((lo, hi)))
}

fn interval_name(i: Interval) -> &'static str {
    match i {
        Interval::Week => "week",
        Interval::Month => "month",
    }
}

/// The trend buckets of `f` over its range (see [`trend_range`]) and the journeys they hold;
/// for a `btp_planner` (`f.disclose_non_btp`) each count is its BTP part as it is plus the
/// rest through disclosure control.
pub fn trend_rows(
    state: &AppState,
    f: &JourneyFilter,
    interval: Interval,
    data_range: bool,
) -> Result<(Vec<layers::Bucket>, u32), ApiError> {
    let Some((lo, hi)) = trend_range(state, f, interval, data_range)? else {
        return Ok((Vec::new(), 0));
    };
    let mut f = f.clone();
    f.from_day = Some(lo);
    f.to_day = Some(hi);
    let count = |f: &JourneyFilter| {
        let sel = select(state, f);
        (
            layers::trends(&refs(&sel), interval, Some(lo), Some(hi)),
            sel.len() as u32,
        )
    };
    match btp_parts(&f) {
        None => Ok(count(&f)),
        Some((all, readable)) => {
            let ((t, tn), (r, rn)) = (count(&all), count(&readable));
            let rows = t
                .iter()
                .zip(r.iter())
                .map(|(t, r)| {
                    let cell = format!("period_start={}|", layers::date_of(t.start));
                    let p = |col: &str, t: u32, r: u32| part_count(state, &cell, col, t, r);
                    layers::Bucket {
                        start: t.start,
                        end: t.end,
                        journeys: p("journeys", t.journeys, r.journeys),
                        persons: p("persons", t.persons, r.persons),
                        children: p("children", t.children, r.children),
                        cross_border: p("cross_border", t.cross_border, r.cross_border),
                        rail: p("rail", t.rail, r.rail),
                        lines: p("lines", t.lines, r.lines),
                        nrm_referrals: p("nrm_referrals", t.nrm_referrals, r.nrm_referrals),
                        safeguarding_referrals: p(
                            "safeguarding_referrals",
                            t.safeguarding_referrals,
                            r.safeguarding_referrals,
                        ),
                    }
                })
                .collect();
            Ok((rows, part_count(state, "", "journeys", tn, rn)))
        }
    }
}

/// `GET /api/trends?interval=week|month`: counts per period (JSON, or CSV with `f=csv`).
pub async fn trends_api(
    raw: String,
    accept: Option<String>,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Response {
    let parsed = (|| {
        let p = Params::parse_table(&raw, TREND_PARAMS)?;
        let interval = match p.get("interval") {
            None => Interval::Month,
            Some(s) => Interval::parse(s).ok_or_else(|| ApiError::InvalidParameter {
                name: "interval",
                message: format!("\"{s}\" is not week or month"),
            })?,
        };
        let mut f = filter_from(&p, &state)?;
        f.disclose_non_btp = who.disclose_non_btp();
        Ok::<_, ApiError>((interval, f, format_param(&p, "f", accept.as_deref())?))
    })();
    let (interval, f, fmt) = match parsed {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    blocking(state.limits.clone(), move || {
        let (buckets, n) = trend_rows(&state, &f, interval, who.sees_all_journeys())?;
        if fmt == Format::Csv {
            return Ok(with_selection(
                csv_reply(
                    csv_bytes(TREND_COLUMNS, buckets.iter().map(trend_values))?,
                    None,
                ),
                n as usize,
            ));
        }
        let list: Vec<Value> = buckets
            .iter()
            .map(|b| {
                let v = trend_values(b);
                let mut o = serde_json::Map::new();
                for (k, (name, val)) in TREND_COLUMNS.iter().zip(v).enumerate() {
                    o.insert(
                        name.to_string(),
                        if k < 2 {
                            json!(val)
                        } else {
                            json!(val.parse::<u64>().unwrap_or(0))
                        },
                    );
                }
                Value::Object(o)
            })
            .collect();
        Ok(with_selection(
            json_reply(
                &json!({
                    "interval": interval_name(interval),
                    "journeys": n,
                    "buckets": list,
                }),
                JSON,
            ),
            n as usize,
        ))
    })
    .await
}

// ---------------------------------------------------------------- rail sections

/// A track section with its usage.
pub fn section_feature(g: &Geography, i: usize, s: SectionStats, geometry: bool) -> Value {
    let c = &g.rail.chains()[i];
    let coords: Vec<[f64; 2]> = if geometry {
        c.coords
            .iter()
            .map(|p| [round7(p[0]), round7(p[1])])
            .collect()
    } else {
        Vec::new()
    };
    json!({
        "type": "Feature",
        "id": i,
        "geometry": if geometry { json!({"type": "LineString", "coordinates": coords}) } else { Value::Null },
        "properties": {
            "section": i,
            "length_m": super::round_m(c.length_m()),
            "journeys": s.journeys,
            "persons": s.persons,
            "children": s.children,
        },
    })
}

/// Section usage over the journeys `f` selects.
pub fn section_stats(state: &AppState, f: &JourneyFilter) -> Arc<Vec<SectionStats>> {
    cached(state, &state.memos.sections, f, || {
        if let Some((all, readable)) = btp_parts(f) {
            let (t, r) = (section_stats(state, &all), section_stats(state, &readable));
            return t
                .iter()
                .zip(r.iter())
                .enumerate()
                .map(|(i, (t, r))| {
                    let cell = format!("section={i}|");
                    let p = |col: &str, t: u32, r: u32| part_count(state, &cell, col, t, r);
                    SectionStats {
                        journeys: p("journeys", t.journeys, r.journeys),
                        persons: p("persons", t.persons, r.persons),
                        children: p("children", t.children, r.children),
                    }
                })
                .collect();
        }
        let sel = select(state, f);
        layers::rail_usage(state.journeys.geography(), &refs(&sel))
    })
}

// ---------------------------------------------------------------- export

/// Parameters of `/api/export`.
pub const EXPORT_PARAMS: &[&str] = journey_params!(["collection", "format"], []);

/// Collections `/api/export` writes.
pub const EXPORT_COLLECTIONS: &[&str] = &[
    "journeys", "stations", "forces", "rail", "hotspots", "flows", "trends",
];

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

const JOURNEY_COLUMNS: &[&str] = &[
    "report_id",
    "date",
    "mode",
    "origin_station",
    "destination_station",
    "origin_force",
    "destination_force",
    "exporting_force",
    "importing_force",
    "cross_border",
    "urban_to_rural",
    "route_method",
    "distance_m",
    "persons",
    "children",
    "line_id",
];

fn journey_csv_row(g: &Geography, j: &MappedJourney) -> Vec<String> {
    let code = |s: Option<u32>| opt(s.map(|i| g.stations.get(i as usize).code.to_string()));
    let force = |f: Option<u16>| opt(f.map(|i| g.forces.get(i as usize).code.to_string()));
    vec![
        j.report.report_id.clone(),
        crate::journey::report::format_date(j.report.journey.date),
        j.report.journey.mode.as_str().to_string(),
        code(j.origin.station),
        code(j.destination.station),
        force(j.origin.force),
        force(j.destination.force),
        force(j.exporting_force),
        force(j.importing_force),
        j.cross_border.to_string(),
        j.urban_to_rural.to_string(),
        serde_json::to_value(j.route.method)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        super::round_m(j.route.distance_m).to_string(),
        j.persons.to_string(),
        j.children.to_string(),
        opt(j.report.line.as_ref().map(|l| l.line_id.clone())),
    ]
}

/// Streams the selected journeys: the matching list is taken at once (pointers), each chunk
/// is serialised as the client reads, so memory stays flat however many journeys go out.
fn stream_journeys(
    state: Arc<AppState>,
    sel: Vec<Arc<MappedJourney>>,
    csv: bool,
) -> warp::hyper::Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let g = state.journeys.geography().clone();
        let head = if csv {
            csv_bytes(JOURNEY_COLUMNS, std::iter::empty()).unwrap_or_default()
        } else {
            br#"{"type":"FeatureCollection","features":["#.to_vec()
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
pub async fn export(raw: String, who: super::guard::Who, state: Arc<AppState>) -> Response {
    let parsed = (|| {
        let p = Params::parse(&raw, EXPORT_PARAMS)?;
        let collection = p.require("collection")?.to_string();
        if !EXPORT_COLLECTIONS.contains(&collection.as_str()) {
            return Err(ApiError::InvalidParameter {
                name: "collection",
                message: format!(
                    "\"{collection}\" is not one of {}",
                    EXPORT_COLLECTIONS.join(", ")
                ),
            });
        }
        let csv = format_param(&p, "format", None)? == Format::Csv;
        let f = filter_from(&p, &state)?;
        Ok::<_, ApiError>((collection, csv, f))
    })();
    let (collection, csv, f) = match parsed {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let ext = if csv { "csv" } else { "geojson" };
    let name = format!("linesmap-{collection}.{ext}");
    let ctype: &'static str = if csv { CSV } else { GEOJSON };
    if collection == "journeys" {
        if let Err(e) = who.check_journey_read(false) {
            return e.into_response();
        }
        let mut f = f;
        f.btp_sourced = who.btp_only();
        let st = state.clone();
        let sel = match super::offload(state.limits.clone(), move || select(&st, &f)).await {
            Ok(s) => s,
            Err(e) => return e.into_response(),
        };
        let n = sel.len();
        return super::journeys::record_count(
            download(ctype, &name, stream_journeys(state, sel, csv)),
            n,
        );
    }
    blocking(state.limits.clone(), move || {
        let (body, rows, selected) = super::ogc::layer_download(&state, &collection, f, csv, &who)?;
        Ok(with_selection(
            super::journeys::record_count(download(ctype, &name, body.into()), rows),
            selected,
        ))
    })
    .await
}

/// CSV of a layer's features: one column per scalar property of the first feature, then
/// `lon`, `lat` for points.
pub fn table_csv(features: &[Value]) -> Result<Vec<u8>, ApiError> {
    let Some(first) = features.first() else {
        return csv_bytes(&[], std::iter::empty());
    };
    let props = first["properties"].as_object().cloned().unwrap_or_default();
    let names: Vec<String> = props
        .iter()
        .filter(|(_, v)| !v.is_array() && !v.is_object())
        .map(|(k, _)| k.clone())
        .collect();
    let points = first["geometry"]["type"] == "Point";
    let mut header: Vec<&str> = names.iter().map(String::as_str).collect();
    if points {
        header.extend(["lon", "lat"]);
    }
    csv_bytes(
        &header,
        features.iter().map(|f| {
            let mut row: Vec<String> = names
                .iter()
                .map(|k| match &f["properties"][k] {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                })
                .collect();
            if points {
                row.push(f["geometry"]["coordinates"][0].to_string());
                row.push(f["geometry"]["coordinates"][1].to_string());
            }
            row
        }),
    )
}

/// Trends as a CSV table (for the export): monthly, over the range [`trend_range`] gives.
pub fn trends_csv(
    state: &AppState,
    f: &JourneyFilter,
    data_range: bool,
) -> Result<(Vec<u8>, usize, usize), ApiError> {
    let (buckets, n) = trend_rows(state, f, Interval::Month, data_range)?;
    Ok((
        csv_bytes(TREND_COLUMNS, buckets.iter().map(trend_values))?,
        buckets.len(),
        n as usize,
    ))
}
