//! The layer service: which journeys a filter selects, and the layers over them (counts per
//! station, force and track section, the Gi* statistic, flows and corridors), each cached per
//! filter ([`FilterKey`]) until the journeys change; for a `btp_planner`'s filters, BTP's part
//! exact and the rest through disclosure control. Also, over the journeys a filter selects, the
//! trend periods, the flows and corridors a caller may see, the clock and the emerging hot spot
//! cube, published here for a caller whose answer is published. Pure and synchronous: it is
//! given the journeys, the stations' neighbourhoods, the memos, how stale a layer may be and
//! the disclosure control through [`Layers`], and knows nothing of HTTP.

use super::collection::Collection;
use super::hotspots::{self, Inference, Neighbourhoods, Spot};
use super::key::{BboxKey, FilterKey};
use super::memo::{Filtered, Memo};
use super::rows::{Cell, CorridorRow, CountCells, Via};
use super::{Corridors, Direction, Flows, Interval, Measure, SectionStats, StationStats};
use crate::access::disclosure::Disclosure;
use crate::geography::{Bbox, Geography};
use crate::ingest::Journeys;
use crate::journey::carried::Totals;
use crate::journey::index::JourneyFilter;
use crate::journey::map::MappedJourney;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Which significant stations `significant=` keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Significant {
    Hot,
    Cold,
    Any,
}

impl Significant {
    pub const ALL: &[&str] = &["hot", "cold", "any"];
    pub fn parse(s: &str) -> Option<Significant> {
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HotspotQuery {
    pub measure: Measure,
    pub inference: Inference,
    pub significant: Option<Significant>,
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
    pub fn parse(s: &str) -> Option<HotspotSort> {
        match s {
            "gi_z" => Some(HotspotSort::GiZ),
            "journeys" => Some(HotspotSort::Count(Measure::All)),
            "rate_per_million" => Some(HotspotSort::RatePerMillion),
            "all" => None,
            m => Measure::parse(m).map(HotspotSort::Count),
        }
    }
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

/// The layers' caches (kept in the server's state; see [`Layers`]).
#[derive(Default)]
pub struct Memos {
    stations: Memo<FilterKey, Vec<StationStats>>,
    hotspots: Memo<(FilterKey, Measure, Inference), Vec<Spot>>,
    sections: Memo<FilterKey, Vec<SectionStats>>,
    forces: Memo<FilterKey, Vec<[u32; 4]>>,
    flows: Memo<FilterKey, Flows>,
    travel_flows: Memo<FilterKey, Flows>,
    force_carried: Memo<FilterKey, Vec<Totals>>,
    corridors: Memo<FilterKey, Corridors>,
    travel_corridors: Memo<FilterKey, Corridors>,
    sizes: Memo<FilterKey, usize>,
    /// CQL2-filtered selections per (collection, normalised filter, the other parameters):
    /// the journeys' positions in the index at its version (no journey is held, so an erased
    /// one leaves nothing here)
    pub filtered_journeys: Filtered<(String, FilterKey), Vec<u32>>,
    /// the rows of the other collections a filter keeps, as positions in their lists (the
    /// geography's stations, forces and track sections; the hotspots and flows as listed);
    /// their rows are made per page
    pub filtered_places: Filtered<FeaturesKey, Vec<usize>>,
    /// rail routes between corridor ends, by (from, to) station: they depend on the
    /// geography alone, so are kept for the server's life (bounded)
    corridor_routes: Mutex<HashMap<(u32, u32), Arc<CorridorRoute>>>,
}

/// The key of a collection's features kept under a CQL2 filter: the collection, the normalised
/// filter's text, and every other parameter of the items that changes which features there
/// are or what they say (box, journeys, station's force, `code`, the hotspot query, the flows'
/// ends and direction, geometry or not, published to a viewer or not).
pub type FeaturesKey = (
    Collection,
    String,
    Option<BboxKey>,
    FilterKey,
    Option<u16>,
    Option<String>,
    HotspotQuery,
    Option<u16>,
    Option<u16>,
    Direction,
    bool,
    bool,
);

/// A corridor's rail route: metres, forces crossed in order, the line along the track.
pub type CorridorRoute = Option<(f64, Vec<usize>, Vec<[f64; 2]>)>;

/// Corridor routes kept before the cache starts again.
const CORRIDOR_ROUTES_MAX: usize = 20_000;

/// What the layer service reads: the journeys (their index and geography), the stations'
/// neighbourhoods, its caches, how long a cached layer may be served after the journeys
/// change, and the disclosure control that publishes the part of an aggregate a
/// `btp_planner` may not read.
#[derive(Clone, Copy)]
pub struct Layers<'a> {
    pub journeys: &'a Journeys,
    pub neighbourhoods: &'a Neighbourhoods,
    pub memos: &'a Memos,
    pub stale_ok: Duration,
    pub disclosure: &'a Disclosure,
}

fn refs(v: &[Arc<MappedJourney>]) -> Vec<&Arc<MappedJourney>> {
    v.iter().collect()
}

/// The two parts of a filter whose aggregates a `btp_planner` sees: all the journeys it
/// selects, and those British Transport Police reported or joined (readable to the caller).
/// `None` when the filter does not ask for that ([`JourneyFilter::disclose_non_btp`]).
pub fn btp_parts(f: &JourneyFilter) -> Option<(JourneyFilter, JourneyFilter)> {
    if !f.disclose_non_btp {
        return None;
    }
    let mut all = f.clone();
    all.disclose_non_btp = false;
    let mut readable = all.clone();
    readable.btp_sourced = true;
    Some((all, readable))
}

/// Fields that identify a row rather than count anything.
const ID_KEYS: &[&str] = &["origin", "destination", "start", "end"];

fn combine_value(
    disclosure: &Disclosure,
    t: &Value,
    r: Option<&Value>,
    cell: &str,
    column: &str,
    drop_empty: bool,
) -> Value {
    match t {
        Value::Number(n) => match n.as_u64() {
            Some(tv) => {
                let rv = r.and_then(Value::as_u64).unwrap_or(0);
                let other = tv.saturating_sub(rv);
                let published = disclosure.publish(cell, column, other).unwrap_or(0);
                Value::from(rv + published)
            }
            None => r.cloned().unwrap_or(Value::Null),
        },
        Value::Object(o) => {
            let ro = r.and_then(Value::as_object);
            let mut out = serde_json::Map::new();
            for (k, v) in o {
                let nv = if ID_KEYS.contains(&k.as_str()) {
                    v.clone()
                } else {
                    let col = if column.is_empty() {
                        k.clone()
                    } else {
                        format!("{column}.{k}")
                    };
                    combine_value(
                        disclosure,
                        v,
                        ro.and_then(|x| x.get(k)),
                        cell,
                        &col,
                        drop_empty,
                    )
                };
                out.insert(k.clone(), nv);
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            let ra = r.and_then(Value::as_array);
            let id_of = |v: &Value| -> Option<String> {
                let o = v.as_object()?;
                let mut id = String::new();
                for k in ID_KEYS {
                    if let Some(x) = o.get(*k) {
                        id.push_str(&format!("{k}={x}|"));
                    }
                }
                (!id.is_empty()).then_some(id)
            };
            let keyed = items.first().and_then(id_of).is_some();
            let by_id: std::collections::HashMap<String, &Value> = if keyed {
                ra.into_iter()
                    .flatten()
                    .filter_map(|x| id_of(x).map(|id| (id, x)))
                    .collect()
            } else {
                std::collections::HashMap::new()
            };
            let mut out = Vec::with_capacity(items.len());
            for (i, v) in items.iter().enumerate() {
                let (id, rv) = if keyed {
                    let id = id_of(v).unwrap_or_default();
                    let rv = by_id.get(&id).copied();
                    (id, rv)
                } else {
                    (format!("{i}|"), ra.and_then(|a| a.get(i)))
                };
                let c = combine_value(
                    disclosure,
                    v,
                    rv,
                    &format!("{cell}/{id}"),
                    column,
                    drop_empty,
                );
                let empty = keyed
                    && drop_empty
                    && (c.get("journeys").and_then(Value::as_u64) == Some(0)
                        || c.pointer("/counts/journeys").and_then(Value::as_u64) == Some(0));
                if !empty {
                    out.push(c);
                }
            }
            Value::Array(out)
        }
        other => other.clone(),
    }
}

impl Layers<'_> {
    /// Computes the unfiltered layers, so that the first map requests find them ready.
    pub fn warm(&self) {
        let all = JourneyFilter::default();
        self.hotspot_statistics(&all, Measure::default(), Inference::default());
        self.force_counts(&all);
        self.section_stats(&all);
        self.flows(&all, Direction::Line);
    }

    /// The journeys a filter selects, in the order they were added.
    pub fn select(&self, f: &JourneyFilter) -> Vec<Arc<MappedJourney>> {
        let idx = self.journeys.index();
        idx.matching(self.journeys.geography(), f)
            .into_iter()
            .cloned()
            .collect()
    }

    /// `memo`'s value for `key` at the current data version (or as stale as allowed).
    ///
    /// The index's read guard is let go before the memo is asked: `make` takes it again, and a
    /// read lock held across the wait for the memo (or taken twice by one thread) deadlocks as
    /// soon as a writer queues between the two (the lock lets a waiting writer go first), which
    /// is what a stream of reports did to every reader (`benches/http/soak.sh`, 2026-11-30).
    fn cached<K: std::hash::Hash + Eq + Clone, T>(
        &self,
        memo: &Memo<K, T>,
        key: K,
        make: impl FnOnce() -> T,
    ) -> Arc<T> {
        let version = self.journeys.index().version() as usize;
        memo.get(version, self.stale_ok, key, make)
    }

    /// The readable part of an aggregate as it is plus the rest through disclosure control, for
    /// any row type: every whole number in `total` (found through serde, so a count added to a
    /// row later is covered without a change here) becomes `r + publish(cell, column, t - r)`,
    /// where `r` is the same number in `readable` and a suppressed part counts 0. Rows are
    /// matched by their identifying fields ([`ID_KEYS`]: a flow's forces, a period's days) or,
    /// where they have none, by position (stations, forces, sections by index); the cell of the
    /// keyed rounding is `scope` and that identity, so a cell publishes the same value however
    /// the query is spelt. With `drop_empty`, listed rows (those with identifying fields) left
    /// with no journeys are dropped (flows list only non-empty pairs), so which rows exist says
    /// nothing of the part the caller may not read. Other numbers (fractions: cash in pounds) are
    /// the readable part's alone.
    pub fn combine_parts<T: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        scope: &str,
        total: &T,
        readable: &T,
        drop_empty: bool,
    ) -> Result<T, serde_json::Error> {
        let t = serde_json::to_value(total)?;
        let r = serde_json::to_value(readable)?;
        let out = combine_value(self.disclosure, &t, Some(&r), scope, "", drop_empty);
        serde_json::from_value(out)
    }

    /// An aggregate for a `btp_planner` ([`JourneyFilter::disclose_non_btp`]): `compute` over
    /// all the journeys `f` selects and over those it may read (both cached), combined by
    /// [`Layers::combine_parts`]. `None` for any other filter. Should the combination fail,
    /// the readable part alone: never the whole.
    fn parted<T: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        f: &JourneyFilter,
        scope: &str,
        compute: impl Fn(&Self, &JourneyFilter) -> Arc<T>,
    ) -> Option<Arc<T>> {
        let (all, readable) = btp_parts(f)?;
        let (t, r) = (compute(self, &all), compute(self, &readable));
        Some(match self.combine_parts(scope, &*t, &*r, true) {
            Ok(v) => Arc::new(v),
            Err(e) => {
                tracing::error!(error = %e, scope, "combining aggregate parts");
                r
            }
        })
    }

    /// How many journeys `f` selects (cached): aggregate answers over fewer than k journeys
    /// are audited as journey-level reads.
    pub fn selection_size(&self, f: &JourneyFilter) -> usize {
        let mut f = f.clone();
        f.disclose_non_btp = false;
        *self.cached(&self.memos.sizes, FilterKey::of(&f), || {
            self.journeys
                .index()
                .matching(self.journeys.geography(), &f)
                .len()
        })
    }

    /// Counts per station over the journeys `f` selects (cached).
    pub fn station_counts(&self, f: &JourneyFilter) -> Arc<Vec<StationStats>> {
        if let Some(v) = self.parted(f, "stations", Self::station_counts) {
            return v;
        }
        self.cached(&self.memos.stations, FilterKey::of(f), || {
            let sel = self.select(f);
            super::station_stats(self.journeys.geography(), &refs(&sel))
        })
    }

    /// Gi* z, p-values and significance per station over the journeys `f` selects, on
    /// `measure` and with `inference` (cached).
    pub fn hotspot_statistics(
        &self,
        f: &JourneyFilter,
        measure: Measure,
        inference: Inference,
    ) -> Arc<Vec<Spot>> {
        self.cached(
            &self.memos.hotspots,
            (FilterKey::of(f), measure, inference),
            || {
                let stats = self.station_counts(f);
                let x: Vec<f64> = stats.iter().map(|s| f64::from(s.get(measure))).collect();
                hotspots::spots(&x, self.neighbourhoods, inference)
            },
        )
    }

    /// Journeys exported and imported per force by line direction, then the distinct persons
    /// and children on those journeys (cached): the off-diagonal line-direction flows summed
    /// by exporting force and by the force supplied, so that the force layer and the flows
    /// agree (see [`super::force_exchange`]), and [`super::force_distinct`] over the same
    /// journeys.
    pub fn force_counts(&self, f: &JourneyFilter) -> Arc<Vec<[u32; 4]>> {
        if let Some(v) = self.parted(f, "forces", Self::force_counts) {
            return v;
        }
        self.cached(&self.memos.forces, FilterKey::of(f), || {
            let n = self.journeys.geography().forces.forces().len();
            let flows = self.flows(f, Direction::Line);
            let sel = self.select(f);
            super::force_exchange(&flows, n)
                .into_iter()
                .zip(super::force_distinct(&refs(&sel), n))
                .map(|(e, (p, c))| [e[0], e[1], p, c])
                .collect()
        })
    }

    /// Seizure and grading totals per force over the journeys whose line supplies it
    /// (cached).
    pub fn force_totals(&self, f: &JourneyFilter) -> Arc<Vec<Totals>> {
        if let Some(v) = self.parted(f, "force_totals", Self::force_totals) {
            return v;
        }
        self.cached(&self.memos.force_carried, FilterKey::of(f), || {
            let sel = self.select(f);
            super::force_carried(&refs(&sel), self.journeys.geography().forces.forces().len())
        })
    }

    /// The flows between forces of the journeys `f` selects (cached), most journeys first.
    pub fn flows(&self, f: &JourneyFilter, direction: Direction) -> Arc<Flows> {
        let scope = match direction {
            Direction::Line => "flows",
            Direction::Travel => "travel_flows",
        };
        if let Some(v) = self.parted(f, scope, |s, f| s.flows(f, direction)) {
            let mut v = (*v).clone();
            // most journeys first again, as `layers::flows` orders them
            v.rows.sort_by(|a, b| {
                b.counts
                    .journeys
                    .cmp(&a.counts.journeys)
                    .then(a.origin.cmp(&b.origin))
                    .then(a.destination.cmp(&b.destination))
            });
            return Arc::new(v);
        }
        let memo = match direction {
            Direction::Line => &self.memos.flows,
            Direction::Travel => &self.memos.travel_flows,
        };
        self.cached(memo, FilterKey::of(f), || {
            let sel = self.select(f);
            super::flows(&refs(&sel), direction)
        })
    }

    /// The corridors of the journeys `f` selects (cached).
    pub fn corridors(&self, f: &JourneyFilter, direction: Direction) -> Arc<Corridors> {
        let memo = match direction {
            Direction::Line => &self.memos.corridors,
            Direction::Travel => &self.memos.travel_corridors,
        };
        self.cached(memo, FilterKey::of(f), || {
            let sel = self.select(f);
            super::corridors(self.journeys.geography(), &refs(&sel), direction)
        })
    }

    /// A corridor's rail route between two stations (kept for the server's life, bounded).
    pub fn corridor_route(&self, from: u32, to: u32) -> Arc<CorridorRoute> {
        let cache = &self.memos.corridor_routes;
        if let Some(r) = cache.lock().ok().and_then(|c| c.get(&(from, to)).cloned()) {
            return r;
        }
        let r = Arc::new(super::corridor_route(self.journeys.geography(), from, to));
        if let Ok(mut c) = cache.lock() {
            if c.len() >= CORRIDOR_ROUTES_MAX {
                c.clear();
            }
            c.insert((from, to), r.clone());
        }
        r
    }

    /// Journeys, persons and children along each track section (cached).
    pub fn section_stats(&self, f: &JourneyFilter) -> Arc<Vec<SectionStats>> {
        if let Some(v) = self.parted(f, "sections", Self::section_stats) {
            return v;
        }
        self.cached(&self.memos.sections, FilterKey::of(f), || {
            let sel = self.select(f);
            super::rail_usage(self.journeys.geography(), &refs(&sel))
        })
    }

    /// Every station with its counts and statistic, over the journeys `f` selects; then the places
    /// `places` selects, sorted.
    pub fn hotspot_rows(
        &self,
        f: &JourneyFilter,
        places: PlaceFilter,
        sort: HotspotSort,
        hq: HotspotQuery,
        viewer: bool,
    ) -> Vec<Hotspot> {
        let g = self.journeys.geography();
        let stats = self.station_counts(f);
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
                let d = self.disclosure;
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
            Arc::new(hotspots::spots(&x, self.neighbourhoods, hq.inference))
        } else {
            self.hotspot_statistics(f, hq.measure, hq.inference)
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

    /// The clock of the journeys `f` selects (with `f.station`, those that count there under
    /// `measure`): per local day of week and hour (Europe/London, Monday first) the journeys'
    /// share of their time windows, and how many journeys had a time and how many had none.
    /// Published when `d` is given (an answer published whole), as disclosure control
    /// publishes a written answer: each cell whole journeys, suppressed and rounded in its own
    /// cell (keyed by the filter and the measure); the two totals in the answer's cell
    /// ([`ANSWER_CELL`]).
    pub fn clock(&self, f: &JourneyFilter, measure: Measure, d: Option<&Disclosure>) -> Clock {
        use crate::journey::clock;
        let g = self.journeys.geography();
        let sel = self.select(f);
        let at =
            |j: &&Arc<MappedJourney>| f.station.is_none_or(|s| super::counts_at(g, j, s, measure));
        let (cells, timed, untimed) = clock::clock(sel.iter().filter(at).map(|j| &j.report));
        let key = format!("clock|{f:?}|{measure:?}");
        let cells = cells
            .iter()
            .enumerate()
            .map(|(day, hours)| {
                hours
                    .iter()
                    .enumerate()
                    .map(|(h, &c)| match d {
                        Some(d) => {
                            let cell = format!("{key}|{day}|{h}");
                            ClockCell::Journeys(d.publish(&cell, "journeys", c.round() as u64))
                        }
                        None => ClockCell::Weight((c * 1e6).round() / 1e6),
                    })
                    .collect()
            })
            .collect();
        let top = |column: &str, n: usize| match d {
            Some(d) => d.publish(ANSWER_CELL, column, n as u64),
            None => Some(n as u64),
        };
        Clock {
            cells,
            timed: top("timed", timed),
            untimed: top("untimed", untimed),
        }
    }

    /// The space-time cube of the journeys `f` selects, for an emerging hot spot analysis:
    /// the periods of `interval` from the filter's first day (else the first journey's) to its
    /// last, each station's count of `measure` in each period (published when `d` is given, in
    /// the cell of the station and the period's start, a suppressed count as 0, before the
    /// statistic), and the analysis of that cube with `lag` periods of time lag
    /// ([`super::emerging::analyse`]). `Err(max)` when there would be more than `max` periods.
    pub fn emerging(
        &self,
        f: &JourneyFilter,
        interval: super::Interval,
        measure: Measure,
        lag: usize,
        d: Option<&Disclosure>,
        max: usize,
    ) -> Result<EmergingCube, usize> {
        let g = self.journeys.geography();
        let sel = self.select(f);
        let lo = f.from_day.or_else(|| sel.iter().map(|j| j.day).min());
        let hi = f.to_day.or_else(|| sel.iter().map(|j| j.day).max());
        let mut starts = Vec::new();
        if let (Some(lo), Some(hi)) = (lo, hi) {
            let mut s = interval.start_of(lo);
            while s <= hi {
                if starts.len() == max {
                    return Err(max);
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
        let x: Vec<Vec<f64>> = groups
            .iter()
            .zip(&starts)
            .map(|(js, &start)| {
                super::station_stats(g, js)
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let c = s.get(measure);
                        let c = match d {
                            Some(d) => {
                                let cell = format!(
                                    "crs={}|period_start={}|",
                                    g.stations.get(i).code,
                                    super::date_of(start)
                                );
                                d.publish(&cell, measure.field(), u64::from(c)).unwrap_or(0) as u32
                            }
                            None => c,
                        };
                        f64::from(c)
                    })
                    .collect()
            })
            .collect();
        let stations = super::emerging::analyse(&x, self.neighbourhoods, lag);
        Ok(EmergingCube { starts, stations })
    }
    /// The periods a trends answer covers. With `from`/`to` given, theirs. Otherwise, for a
    /// caller who sees every journey (`data_range`), from the first to the last journey the
    /// filter selects (none: no periods); for anyone else a fixed window that does not depend
    /// on the data ([`DEFAULT_TREND_YEARS`] to `today`), so that its extent says nothing about a
    /// suppressed cell. More than [`MAX_BUCKETS`] periods is an error naming the range.
    pub fn trend_range(
        &self,
        f: &JourneyFilter,
        interval: Interval,
        data_range: bool,
        today: i32,
    ) -> Result<Option<(i32, i32)>, TrendError> {
        let (lo, hi) = if data_range {
            let need = f.from_day.is_none() || f.to_day.is_none();
            let (first, last) = if need {
                let idx = self.journeys.index();
                let days = idx
                    .matching(self.journeys.geography(), f)
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
            let d = super::date_of(today);
            let back = d
                .replace_year(d.year() - DEFAULT_TREND_YEARS)
                .or_else(|_| {
                    d.replace_day(28)
                        .and_then(|d| d.replace_year(d.year() - DEFAULT_TREND_YEARS))
                })
                .map(crate::journey::map::day_number)
                .unwrap_or(today - 365 * DEFAULT_TREND_YEARS);
            (f.from_day.unwrap_or(back), f.to_day.unwrap_or(today))
        };
        if lo > hi {
            return Ok(None);
        }
        let mut n = 0usize;
        let mut s = interval.start_of(lo);
        while s <= hi {
            n += 1;
            if n > MAX_BUCKETS {
                return Err(TrendError::TooMany { lo, hi });
            }
            s = interval.next(s);
        }
        Ok(Some((lo, hi)))
    }

    /// The trend buckets of `f` over its range ([`Layers::trend_range`]) and the journeys they
    /// hold; for a `btp_planner` (`f.disclose_non_btp`) each count is its BTP part as it is
    /// plus the rest through disclosure control.
    pub fn trends(
        &self,
        f: &JourneyFilter,
        interval: Interval,
        data_range: bool,
        today: i32,
    ) -> Result<(Vec<super::Bucket>, u32), TrendError> {
        let Some((lo, hi)) = self.trend_range(f, interval, data_range, today)? else {
            return Ok((Vec::new(), 0));
        };
        let mut f = f.clone();
        f.from_day = Some(lo);
        f.to_day = Some(hi);
        let count = |f: &JourneyFilter| {
            let sel = self.select(f);
            (
                super::trends(&refs(&sel), interval, Some(lo), Some(hi)),
                sel.len() as u32,
            )
        };
        match btp_parts(&f) {
            None => Ok(count(&f)),
            Some((all, readable)) => {
                let ((t, tn), (r, rn)) = (count(&all), count(&readable));
                Ok((
                    self.combine_parts("trends", &t, &r, false)
                        .map_err(TrendError::Combine)?,
                    self.combine_parts("trends_total", &tn, &rn, false)
                        .map_err(TrendError::Combine)?,
                ))
            }
        }
    }

    /// The flows of the journeys `f` selects, narrowed to an origin and destination force; a
    /// viewer is shown no pair with fewer than k journeys, not even that it exists.
    pub fn flow_rows(
        &self,
        f: &JourneyFilter,
        origin: Option<u16>,
        destination: Option<u16>,
        direction: Direction,
        viewer: bool,
    ) -> Flows {
        let k = self.disclosure.k;
        let mut flows = (*self.flows(f, direction)).clone();
        flows.rows.retain(|r| {
            origin.is_none_or(|o| r.origin == o)
                && destination.is_none_or(|d| r.destination == d)
                && (!viewer || r.counts.journeys >= k)
        });
        flows
    }

    /// The corridors a caller may see, most journeys first, the first `top`: for a viewer (or a
    /// `btp_planner`, whose corridors are published whole), published on the rows: the counts, and
    /// each `via` count in its own cell (the corridor's and the station), those under k left out,
    /// the shares from the published counts; a corridor whose journeys are under k is left out.
    pub fn corridor_rows<'g>(
        &self,
        g: &'g Geography,
        all: &Corridors,
        direction: Direction,
        d: Option<&Disclosure>,
        top: usize,
    ) -> Vec<CorridorRow<'g>> {
        let station = |s: u32| g.stations.get(s as usize);
        let force = |s: u32| {
            g.station_force(s as usize)
                .map(|f| g.forces.get(f.force).code.as_str())
        };
        // (the journeys they are ordered by, the corridor, its cells, the cell of their rounding)
        let mut kept: Vec<(u64, &super::Corridor, CountCells, String)> = all
            .rows
            .iter()
            .filter_map(|c| {
                let mut counts = CountCells::of(&c.counts);
                let cell = Disclosure::cell(&[
                    ("hub_station", station(c.hub).code.as_str()),
                    ("market_station", station(c.market).code.as_str()),
                ]);
                if let Some(d) = d {
                    counts.publish(d, &cell);
                }
                let Some(Cell::Count(Some(journeys))) = counts.get("journeys") else {
                    return None;
                };
                Some((journeys, c, counts, cell))
            })
            .collect();
        kept.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then(a.1.hub.cmp(&b.1.hub))
                .then(a.1.market.cmp(&b.1.market))
        });
        kept.truncate(top);
        kept.into_iter()
            .map(|(journeys, c, counts, cell)| {
                let via = c
                    .via
                    .iter()
                    .filter_map(|&(s, n)| {
                        let n = match d {
                            Some(d) => {
                                let via_cell = format!("{cell}via={}|", station(s).code.as_str());
                                d.publish(&via_cell, "journeys", u64::from(n))? as u32
                            }
                            None => n,
                        };
                        let share = f64::from(n) / journeys.max(1) as f64;
                        Some(Via {
                            station: station(s),
                            journeys: n,
                            share: (share * 1e4).round() / 1e4,
                        })
                    })
                    .collect();
                let route = self.corridor_route(c.hub, c.market);
                CorridorRow {
                    hub_index: c.hub,
                    market_index: c.market,
                    hub: station(c.hub),
                    market: station(c.market),
                    hub_force: force(c.hub),
                    market_force: force(c.market),
                    direction,
                    counts,
                    via,
                    distance_m: route
                        .as_ref()
                        .as_ref()
                        .map(|r| (r.0 * 100.0).round() / 100.0),
                    forces: route.as_ref().as_ref().map_or_else(Vec::new, |r| {
                        r.1.iter().map(|&f| g.forces.get(f).code.as_str()).collect()
                    }),
                }
            })
            .collect()
    }
}

/// Most periods one trends answer holds.
pub const MAX_BUCKETS: usize = 600;
/// Years of periods a trends answer covers when the caller gives no dates and may not see the
/// data's own range (viewers, btp_planners): the six years MoPI normally keeps records for,
/// up to today, whatever the data holds.
pub const DEFAULT_TREND_YEARS: i32 = 6;

/// Why [`Layers::trends`] gives no buckets.
#[derive(Debug)]
pub enum TrendError {
    /// the range from `lo` to `hi` holds more than [`MAX_BUCKETS`] periods
    TooMany { lo: i32, hi: i32 },
    /// a `btp_planner`'s two parts could not be combined
    Combine(serde_json::Error),
}

/// The cell an answer's top-level counts are published in (it has no identifying field): the
/// clock's totals and every answer's `untimed_excluded`, as disclosure control's walk keys a
/// written answer's top-level fields.
pub const ANSWER_CELL: &str = "";

/// A clock ([`Layers::clock`]).
pub struct Clock {
    /// seven days (Monday first) of 24 local hours
    pub cells: Vec<Vec<ClockCell>>,
    pub timed: Option<u64>,
    pub untimed: Option<u64>,
}

/// A clock cell: the journeys' share of their time windows that falls in the hour (to 1e-6),
/// or, published, whole journeys (`None` when suppressed).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum ClockCell {
    Weight(f64),
    Journeys(Option<u64>),
}

/// An emerging hot spot analysis ([`Layers::emerging`]).
pub struct EmergingCube {
    /// the first day of each period
    pub starts: Vec<i32>,
    /// per station (in the geography's order), its series and category
    pub stations: Vec<super::emerging::Emerging>,
}
