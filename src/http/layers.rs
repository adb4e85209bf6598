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
use crate::layers::hotspots::{Inference, Spot};
use crate::layers::{self, Flows, Interval, Measure, SectionStats, StationStats, hotspots};
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
        key: &impl std::fmt::Debug,
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
    hotspots: Memo<Vec<Spot>>,
    sections: Memo<Vec<SectionStats>>,
    forces: Memo<Vec<[u32; 2]>>,
    flows: Memo<Flows>,
}

impl Memos {
    /// Computes the unfiltered layers, so that the first map requests find them ready.
    pub fn warm(state: &AppState) {
        let all = JourneyFilter::default();
        hotspot_statistics(state, &all, HotspotQuery::default());
        force_counts(state, &all);
        section_stats(state, &all);
        flow_rows(state, &all, None, None, false);
    }
}

/// `memo`'s value for `f` at the current data version (or as stale as the limits allow).
fn cached<T>(
    state: &AppState,
    memo: &Memo<T>,
    f: &impl std::fmt::Debug,
    make: impl FnOnce() -> T,
) -> Arc<T> {
    memo.get(
        state.journeys.index().len(),
        state.limits.layer_staleness,
        f,
        make,
    )
}

/// Counts per station over the journeys `f` selects (cached).
pub fn station_counts(state: &AppState, f: &JourneyFilter) -> Arc<Vec<StationStats>> {
    cached(state, &state.memos.stations, f, || {
        let sel = select(state, f);
        layers::station_stats(state.journeys.geography(), &refs(&sel))
    })
}

/// Gi* z, p-values and significance per station over the journeys `f` selects, on the
/// measure and with the inference of `q` (cached).
fn hotspot_statistics(state: &AppState, f: &JourneyFilter, q: HotspotQuery) -> Arc<Vec<Spot>> {
    cached(
        state,
        &state.memos.hotspots,
        &(f, q.measure, q.inference),
        || {
            let stats = station_counts(state, f);
            let x: Vec<f64> = stats.iter().map(|s| f64::from(s.get(q.measure))).collect();
            hotspots::spots(&x, &state.neighbourhoods, q.inference)
        },
    )
}

/// Cross-border journeys exported (by the line's exporting force) and imported (by the
/// destination's force) per force (cached).
pub fn force_counts(state: &AppState, f: &JourneyFilter) -> Arc<Vec<[u32; 2]>> {
    cached(state, &state.memos.forces, f, || {
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

/// How hotspots are ordered (descending; ties: the chosen measure's count, then CRS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HotspotSort {
    GiZ,
    /// the count of a measure (`journeys` is the measure `all`)
    Count(Measure),
    RatePerMillion,
}

impl HotspotSort {
    pub const ALL: &[&str] = &[
        "gi_z",
        "rate_per_million",
        "journeys",
        "stops",
        "boardings",
        "alightings",
        "interchanges",
        "encounters",
        "on_route",
    ];
    fn parse(s: &str) -> Option<HotspotSort> {
        match s {
            "gi_z" => Some(HotspotSort::GiZ),
            "journeys" => Some(HotspotSort::Count(Measure::All)),
            "rate_per_million" => Some(HotspotSort::RatePerMillion),
            "all" => None,
            m => Measure::parse(m).map(HotspotSort::Count),
        }
    }
}

/// Which significant stations `significant=` keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Significant {
    Hot,
    Cold,
    Any,
}

impl Significant {
    pub const ALL: &[&str] = &["hot", "cold", "any"];
    fn parse(s: &str) -> Option<Significant> {
        match s {
            "hot" => Some(Significant::Hot),
            "cold" => Some(Significant::Cold),
            "any" => Some(Significant::Any),
            _ => None,
        }
    }

    pub fn keeps(self, s: &Spot) -> bool {
        match self {
            Significant::Hot => s.kind() == Some("hot"),
            Significant::Cold => s.kind() == Some("cold"),
            Significant::Any => s.significant,
        }
    }
}

/// What a hotspot layer counts and how it judges significance: `measure`, `inference`,
/// `permutations`, `seed`, and the `significant` stations to keep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HotspotQuery {
    pub measure: Measure,
    pub inference: Inference,
    pub significant: Option<Significant>,
}

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

/// Footfall (ORR entries and exits a year) below which a station gets no `rate_per_million`
/// (`low_footfall: true` instead): a few journeys at a halt of a few hundred passengers a year
/// would otherwise top any ranking by rate.
pub const RATE_FOOTFALL_FLOOR: u64 = 10_000;

/// One station of the hotspot layer.
#[derive(Clone, Debug)]
pub struct Hotspot {
    pub station: usize,
    pub force: Option<usize>,
    pub stats: StationStats,
    /// what was counted, and its count at the station as the caller may know it (a viewer's:
    /// published, suppressed as 0)
    pub measure: Measure,
    pub value: u32,
    /// the measure per million annual entries and exits (ORR 2019-20); none without footfall
    /// or below [`RATE_FOOTFALL_FLOOR`]
    pub rate_per_million: Option<f64>,
    /// footfall below [`RATE_FOOTFALL_FLOOR`] (or unknown): no rate
    pub low_footfall: bool,
    pub gi_z: f64,
    pub p_value: f64,
    pub p_sim: Option<f64>,
    pub significant: bool,
    /// `hot`, `cold` or neither
    pub spot: Option<&'static str>,
}

/// Every station with its counts and statistic, over the journeys `f` selects; then the places
/// `places` selects, sorted.
pub fn hotspot_rows(
    state: &AppState,
    f: &JourneyFilter,
    places: PlaceFilter,
    sort: HotspotSort,
    hq: HotspotQuery,
    viewer: bool,
) -> Vec<Hotspot> {
    let g = state.journeys.geography();
    let stats = station_counts(state, f);
    let measure = hq.measure;
    // The sorting count: the chosen measure unless another is asked for.
    let sort_measure = match sort {
        HotspotSort::Count(m) => m,
        _ => measure,
    };
    // Counts per station as the caller may know them: a viewer's are the published ones
    // (suppressed as 0), and its statistic, rates and order are computed from those alone.
    let known = |m: Measure| -> Vec<u32> {
        if viewer {
            let d = &state.security.disclosure;
            stats
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let cell = format!("crs={}|", g.stations.get(i).code);
                    d.publish(&cell, m.field(), u64::from(s.get(m)))
                        .map_or(0, |v| v as u32)
                })
                .collect()
        } else {
            stats.iter().map(|s| s.get(m)).collect()
        }
    };
    let values = known(measure);
    let order_values = if sort_measure == measure {
        values.clone()
    } else {
        known(sort_measure)
    };
    let st = if viewer {
        let x: Vec<f64> = values.iter().map(|&j| f64::from(j)).collect();
        Arc::new(hotspots::spots(&x, &state.neighbourhoods, hq.inference))
    } else {
        hotspot_statistics(state, f, hq)
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
            let spot = st[i];
            if hq.significant.is_some_and(|s| !s.keeps(&spot)) {
                return None;
            }
            let s = g.stations.get(i);
            let footfall = s
                .entries_exits_2019_20
                .filter(|&n| n >= RATE_FOOTFALL_FLOOR);
            Some(Hotspot {
                station: i,
                force,
                stats: stats[i],
                measure,
                value: values[i],
                rate_per_million: footfall.map(|n| f64::from(values[i]) * 1e6 / n as f64),
                low_footfall: footfall.is_none(),
                gi_z: spot.gi_z,
                p_value: spot.p_value,
                p_sim: spot.p_sim,
                significant: spot.significant,
                spot: spot.kind(),
            })
        })
        .collect();
    let key = |h: &Hotspot| match sort {
        HotspotSort::GiZ => h.gi_z,
        HotspotSort::Count(_) => f64::from(order_values[h.station]),
        HotspotSort::RatePerMillion => h.rate_per_million.unwrap_or(f64::NEG_INFINITY),
    };
    rows.sort_by(|a, b| {
        key(b)
            .total_cmp(&key(a))
            .then(order_values[b.station].cmp(&order_values[a.station]))
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
        "measure": h.measure.as_str(),
        "stops": h.stats.stops,
        "boardings": h.stats.starts,
        "alightings": h.stats.ends,
        "interchanges": h.stats.interchanges,
        "encounters": h.stats.encounters,
        "on_route": h.stats.on_route,
        "starts": h.stats.starts,
        "ends": h.stats.ends,
        "passes": h.stats.passes,
        "journeys": h.stats.journeys,
        "persons": h.stats.persons,
        "children": h.stats.children,
        "entries_exits_2019_20": s.entries_exits_2019_20,
        "rate_per_million": h.rate_per_million.map(round6),
        "low_footfall": h.low_footfall,
        "gi_z": round6(h.gi_z),
        "p_value": h.p_value,
        "p_sim": h.p_sim,
        "significant": h.significant,
        "spot": h.spot,
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
    "entries_exits_2019_20",
    "rate_per_million",
    "low_footfall",
    "gi_z",
    "p_value",
    "p_sim",
    "significant",
    "spot",
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
                h.measure.as_str().to_string(),
                h.stats.stops.to_string(),
                h.stats.starts.to_string(),
                h.stats.ends.to_string(),
                h.stats.interchanges.to_string(),
                h.stats.encounters.to_string(),
                h.stats.on_route.to_string(),
                h.stats.starts.to_string(),
                h.stats.ends.to_string(),
                h.stats.passes.to_string(),
                h.stats.journeys.to_string(),
                h.stats.persons.to_string(),
                h.stats.children.to_string(),
                opt(s.entries_exits_2019_20),
                opt(h.rate_per_million.map(round6)),
                h.low_footfall.to_string(),
                round6(h.gi_z).to_string(),
                h.p_value.to_string(),
                opt(h.p_sim),
                h.significant.to_string(),
                opt(h.spot),
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
        let (f, places) = split_places(filter_from(&p, &state)?);
        let top = p.int("top", 1, MAX_TOP)?.unwrap_or(DEFAULT_TOP) as usize;
        Ok::<_, ApiError>((
            f,
            places,
            top,
            sort_param(&p)?,
            hotspot_query(&p)?,
            format_param(&p, "f", accept.as_deref())?,
        ))
    })();
    let (f, places, top, sort, hq, format) = match parsed {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    blocking(state.limits.clone(), move || {
        let g = state.journeys.geography().clone();
        let mut rows = hotspot_rows(&state, &f, places, sort, hq, who.viewer());
        let matched = rows.len();
        rows.truncate(top);
        if format == Format::Csv {
            return Ok(csv_reply(hotspot_csv(&g, &rows)?, None));
        }
        let features: Vec<Value> = rows.iter().map(|h| hotspot_feature(&g, h)).collect();
        let mut body = json!({
            "type": "FeatureCollection",
            "numberMatched": matched,
            "numberReturned": features.len(),
            "statistic": hotspot_statistic_notice(&g, hq),
            "features": features,
        });
        untimed_field(&state, &f, &mut body);
        Ok(json_reply(&body, GEOJSON))
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
pub async fn emerging_api(raw: String, who: super::guard::Who, state: Arc<AppState>) -> Response {
    use crate::layers::emerging;
    let parsed = (|| {
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
                        message: format!(
                            "\"{c}\" is not one of {}",
                            emerging::CATEGORIES.join(", ")
                        ),
                    })
            })
            .transpose()?;
        Ok::<_, ApiError>((interval, f, places, measure, lag, category))
    })();
    let (interval, f, places, measure, lag, category) = match parsed {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    blocking(state.limits.clone(), move || {
        let g = state.journeys.geography().clone();
        let sel = select(&state, &f);
        let lo = f.from_day.or_else(|| sel.iter().map(|j| j.day).min());
        let hi = f.to_day.or_else(|| sel.iter().map(|j| j.day).max());
        let mut starts = Vec::new();
        if let (Some(lo), Some(hi)) = (lo, hi) {
            let mut s = interval.start_of(lo);
            while s <= hi {
                if starts.len() == MAX_PERIODS {
                    return Err(ApiError::InvalidParameter {
                        name: "interval",
                        message: format!(
                            "more than {MAX_PERIODS} periods: narrow from and to, or use interval=month"
                        ),
                    });
                }
                starts.push(s);
                s = interval.next(s);
            }
        }
        // the journeys of each period, then the measure's count per station and period
        let mut groups: Vec<Vec<&Arc<MappedJourney>>> = vec![Vec::new(); starts.len()];
        for j in &sel {
            let k = starts.partition_point(|&s| s <= j.day);
            if k > 0 && j.day <= hi.unwrap_or(i32::MIN) {
                groups[k - 1].push(j);
            }
        }
        let d = &state.security.disclosure;
        let x: Vec<Vec<f64>> = groups
            .iter()
            .zip(&starts)
            .map(|(js, &start)| {
                let stats = layers::station_stats(&g, js);
                stats
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let c = s.get(measure);
                        let c = if who.viewer() {
                            let cell = format!(
                                "crs={}|period_start={}|",
                                g.stations.get(i).code,
                                layers::date_of(start)
                            );
                            d.publish(&cell, measure.field(), u64::from(c)).unwrap_or(0) as u32
                        } else {
                            c
                        };
                        f64::from(c)
                    })
                    .collect()
            })
            .collect();
        let result = emerging::analyse(&x, &state.neighbourhoods, lag);
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
        let features: Vec<Value> = rows
            .iter()
            .map(|&i| {
                let s = g.stations.get(i);
                let e = &result[i];
                json!({
                    "type": "Feature",
                    "id": s.code,
                    "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]},
                    "properties": {
                        "crs": s.code,
                        "name": s.name,
                        "force": g.station_force(i).map(|h| g.forces.get(h.force).code.to_string()),
                        "category": e.category,
                        "trend_z": round6(e.trend_z),
                        "trend_p": e.trend_p,
                        "gi_z": e.gi_z.iter().map(|&z| round6(z)).collect::<Vec<f64>>(),
                        "bins": e.bins.iter().map(|&b| match b { 1 => json!("hot"), -1 => json!("cold"), _ => Value::Null }).collect::<Vec<Value>>(),
                    },
                })
            })
            .collect();
        let mut body = json!({
            "type": "FeatureCollection",
            "interval": match interval { Interval::Week => "week", Interval::Month => "month" },
            "measure": measure.as_str(),
            "time_lag": lag,
            "periods": starts.iter().map(|&s| layers::date_of(s).to_string()).collect::<Vec<String>>(),
            "numberMatched": features.len(),
            "numberReturned": features.len(),
            "method": {
                "gi_z": format!("space-time Getis-Ord Gi*: the station and its stations within {} m along the track, in the period and the {lag} before it, over all stations x periods", hotspots::NEIGHBOUR_TRACK_M),
                "bins": format!("hot (z > 0) or cold (z < 0) where significant by Benjamini-Hochberg at {} over all bins (two-sided normal p)", hotspots::FDR_Q),
                "trend": "Mann-Kendall on the station's gi_z series (ties corrected, continuity-corrected z, two-sided p); significant at 0.05",
                "category": "after ESRI's emerging hot spot analysis: see the README",
            },
            "features": features,
        });
        untimed_field(&state, &f, &mut body);
        Ok(json_reply(&body, GEOJSON))
    })
    .await
}

// ---------------------------------------------------------------- clock

/// Parameters of `/api/clock`.
pub const CLOCK_PARAMS: &[&str] = journey_params!([], ["measure"]);

/// How many journeys an `hours`/`days` filter left out for having no time, as a field of an
/// answer (nothing without such a filter).
pub fn untimed_field(state: &AppState, f: &JourneyFilter, body: &mut Value) {
    if let (Some(n), Value::Object(o)) = (
        state
            .journeys
            .index()
            .untimed_excluded(state.journeys.geography(), f),
        body,
    ) {
        o.insert("untimed_excluded".into(), json!(n));
    }
}

/// `GET /api/clock`: the journeys `f` selects by local day of week and hour (Europe/London),
/// Monday first; with `station`, only those that count there under `measure` (default stops).
pub async fn clock_api(raw: String, who: super::guard::Who, state: Arc<AppState>) -> Response {
    use crate::journey::clock;
    let parsed = (|| {
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
        Ok::<_, ApiError>((f, measure))
    })();
    let (f, measure) = match parsed {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    blocking(state.limits.clone(), move || {
        let g = state.journeys.geography();
        let sel = select(&state, &f);
        let at = |j: &&Arc<MappedJourney>| {
            f.station
                .is_none_or(|s| layers::counts_at(g, j, s, measure))
        };
        let (cells, timed, untimed) = clock::clock(sel.iter().filter(at).map(|j| &j.report));
        let d = &state.security.disclosure;
        let key = format!("clock|{f:?}|{measure:?}");
        let rows: Vec<Value> = cells
            .iter()
            .enumerate()
            .map(|(day, hours)| {
                Value::Array(
                    hours
                        .iter()
                        .enumerate()
                        .map(|(h, &c)| {
                            if who.viewer() {
                                // a viewer's cells: whole journeys, suppressed and rounded
                                let cell = format!("{key}|{day}|{h}");
                                d.publish(&cell, "journeys", c.round() as u64)
                                    .map_or(Value::Null, Value::from)
                            } else {
                                json!((c * 1e6).round() / 1e6)
                            }
                        })
                        .collect(),
                )
            })
            .collect();
        let mut body = json!({
            "timezone": clock::TIMEZONE,
            "days": clock::DAYS,
            "timed": timed,
            "untimed": untimed,
            "cells": rows,
        });
        if f.station.is_some() {
            body["measure"] = json!(measure.as_str());
        }
        untimed_field(&state, &f, &mut body);
        Ok(json_reply(&body, JSON))
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
    let mut flows = (*cached(state, &state.memos.flows, f, || {
        let sel = select(state, f);
        layers::flows(&refs(&sel))
    }))
    .clone();
    // A viewer sees no pair with fewer than k journeys: not even that it exists.
    flows.rows.retain(|r| {
        origin.is_none_or(|o| r.origin == o)
            && destination.is_none_or(|d| r.destination == d)
            && (!viewer || r.journeys >= k)
    });
    flows
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
        let f = filter_from(&p, &state)?;
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
        if fmt == Format::Csv {
            return Ok(csv_reply(flow_csv(&g, &flows)?, None));
        }
        if matrix {
            let rows: Vec<Value> = flows.rows.iter().map(|r| flow_properties(&g, r)).collect();
            let mut body = json!({"rows": rows, "unplaced": flows.unplaced});
            untimed_field(&state, &f, &mut body);
            return Ok(json_reply(&body, JSON));
        }
        let features: Vec<Value> = flows.rows.iter().map(|r| flow_feature(&state, r)).collect();
        let mut body = json!({
            "type": "FeatureCollection",
            "numberMatched": features.len(),
            "numberReturned": features.len(),
            "unplaced": flows.unplaced,
            "features": features,
        });
        untimed_field(&state, &f, &mut body);
        Ok(json_reply(&body, GEOJSON))
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

/// `GET /api/trends?interval=week|month`: counts per period (JSON, or CSV with `f=csv`).
pub async fn trends_api(raw: String, accept: Option<String>, state: Arc<AppState>) -> Response {
    let parsed = (|| {
        let p = Params::parse_table(&raw, TREND_PARAMS)?;
        let interval = interval_param(&p)?;
        let f = filter_from(&p, &state)?;
        Ok::<_, ApiError>((interval, f, format_param(&p, "f", accept.as_deref())?))
    })();
    let (interval, f, fmt) = match parsed {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    blocking(state.limits.clone(), move || {
        let sel = select(&state, &f);
        let buckets = layers::trends(&refs(&sel), interval, f.from_day, f.to_day);
        if fmt == Format::Csv {
            return Ok(csv_reply(
                csv_bytes(TREND_COLUMNS, buckets.iter().map(trend_values))?,
                None,
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
        let mut body = json!({
            "interval": match interval { Interval::Week => "week", Interval::Month => "month" },
            "journeys": sel.len(),
            "buckets": list,
        });
        untimed_field(&state, &f, &mut body);
        Ok(json_reply(&body, JSON))
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
        let sel = select(state, f);
        layers::rail_usage(state.journeys.geography(), &refs(&sel))
    })
}

// ---------------------------------------------------------------- export

/// Parameters of `/api/export`.
pub const EXPORT_PARAMS: &[&str] = journey_params!(
    ["collection", "format"],
    [
        "measure",
        "inference",
        "permutations",
        "seed",
        "significant"
    ]
);

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
        let hq = hotspot_query(&p)?;
        if collection != "hotspots"
            && let Some(name) = HOTSPOT_QUERY_PARAMS.iter().find(|n| p.get(n).is_some())
        {
            return Err(ApiError::InvalidParameter {
                name,
                message: "applies to collection=hotspots only".into(),
            });
        }
        Ok::<_, ApiError>((collection, csv, f, hq))
    })();
    let (collection, csv, f, hq) = match parsed {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let ext = if csv { "csv" } else { "geojson" };
    let name = format!("linesmap-{collection}.{ext}");
    let ctype: &'static str = if csv { CSV } else { GEOJSON };
    if collection == "journeys" {
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
        let (body, n) = super::ogc::layer_download(&state, &collection, f, hq, csv, who.viewer())?;
        Ok(super::journeys::record_count(
            download(ctype, &name, body.into()),
            n,
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

/// Trends as a CSV table (for the export).
pub fn trends_csv(sel: &[Arc<MappedJourney>], f: &JourneyFilter) -> Result<Vec<u8>, ApiError> {
    let buckets = layers::trends(&refs(sel), Interval::Month, f.from_day, f.to_day);
    csv_bytes(TREND_COLUMNS, buckets.iter().map(trend_values))
}
