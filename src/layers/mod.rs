//! The analysts' layers, computed from a selection of mapped journeys: counts per station
//! ([`station_stats`]) and per track section ([`rail_usage`]), force-to-force flows ([`flows`]),
//! counts over time ([`trends`]) and station hotspots ([`hotspots`]).
//!
//! Every function takes the journeys a filter selected (see
//! [`crate::journey::index::JourneyFilter`]) and counts each journey once per station, section,
//! flow or period, whatever its route does. `persons` and `children` are summed over the persons
//! of the counted journeys (a person on two journeys counts twice: reports are pseudonymised per
//! report, so people cannot be de-duplicated across reports here).

pub mod emerging;
pub mod hotspots;

use crate::geography::Geography;
use crate::journey::map::{MappedJourney, RouteGeometry};
use crate::journey::report::Mode;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// Journeys at one station.
///
/// What a journey does at a station (each journey counts at most once in each field):
/// - `starts` / `boardings`: the station is its origin; `ends` / `alightings`: its destination;
/// - `interchanges`: the station is one of the report's `via` stations;
/// - `encounters`: the report's `journey.encounter.station` is the station;
/// - `stops`: any of those four (each journey once): somebody is known to have stood there;
/// - `on_route`: the route passes the station without a known stop there;
/// - `journeys`: the journey starts, ends or passes there (its route or an end), each once;
///   `passes`: of those, neither its origin nor its destination. An encounter off the route
///   counts in `encounters` and `stops` only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StationStats {
    /// journeys whose origin is the station
    pub starts: u32,
    /// journeys whose destination is the station
    pub ends: u32,
    /// journeys whose route passes the station without starting or ending there (rail routes
    /// pass the stations beside the track; any `via` station is passed)
    pub passes: u32,
    /// journeys that start, end or pass there, each once
    pub journeys: u32,
    /// persons on those journeys
    pub persons: u32,
    /// children (under 18) on those journeys
    pub children: u32,
    /// journeys with the station among the report's `via` stations
    pub interchanges: u32,
    /// journeys whose encounter was at the station
    pub encounters: u32,
    /// journeys with a known stop at the station: origin, destination, via or encounter
    pub stops: u32,
    /// journeys whose route passes the station without a known stop there
    pub on_route: u32,
}

impl StationStats {
    fn add(&mut self, p: &StationStats) {
        self.starts += p.starts;
        self.ends += p.ends;
        self.passes += p.passes;
        self.journeys += p.journeys;
        self.persons += p.persons;
        self.children += p.children;
        self.interchanges += p.interchanges;
        self.encounters += p.encounters;
        self.stops += p.stops;
        self.on_route += p.on_route;
    }

    /// The count a measure reads.
    pub fn get(&self, m: Measure) -> u32 {
        match m {
            Measure::Stops => self.stops,
            Measure::Boardings => self.starts,
            Measure::Alightings => self.ends,
            Measure::Interchanges => self.interchanges,
            Measure::Encounters => self.encounters,
            Measure::OnRoute => self.on_route,
            Measure::All => self.journeys,
        }
    }
}

/// What a station hotspot counts (see [`StationStats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Measure {
    /// boardings, alightings, interchanges and encounters, each journey once: where people were
    #[default]
    Stops,
    Boardings,
    Alightings,
    Interchanges,
    Encounters,
    /// passed without a known stop
    OnRoute,
    /// every journey that starts, ends or passes (`journeys`)
    All,
}

impl Measure {
    /// The names of the `measure` parameter, in order.
    pub const ALL: &[&str] = &[
        "stops",
        "boardings",
        "alightings",
        "interchanges",
        "encounters",
        "on_route",
        "all",
    ];

    pub fn parse(s: &str) -> Option<Measure> {
        Some(match s {
            "stops" => Measure::Stops,
            "boardings" => Measure::Boardings,
            "alightings" => Measure::Alightings,
            "interchanges" => Measure::Interchanges,
            "encounters" => Measure::Encounters,
            "on_route" => Measure::OnRoute,
            "all" => Measure::All,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Measure::Stops => "stops",
            Measure::Boardings => "boardings",
            Measure::Alightings => "alightings",
            Measure::Interchanges => "interchanges",
            Measure::Encounters => "encounters",
            Measure::OnRoute => "on_route",
            Measure::All => "all",
        }
    }

    /// The property (and count field) holding the measure.
    pub fn field(self) -> &'static str {
        match self {
            Measure::All => "journeys",
            m => m.as_str(),
        }
    }
}

/// Counts per station (indexed like the station index). Large selections are counted on
/// every core, in chunks, and the chunks summed.
pub fn station_stats(geo: &Geography, journeys: &[&Arc<MappedJourney>]) -> Vec<StationStats> {
    let n = geo.stations.len();
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    if threads < 2 || journeys.len() < 20_000 {
        return station_stats_serial(geo, journeys);
    }
    let chunk = journeys.len().div_ceil(threads);
    let parts: Vec<Vec<StationStats>> = std::thread::scope(|s| {
        let handles: Vec<_> = journeys
            .chunks(chunk)
            .map(|c| s.spawn(move || station_stats_serial(geo, c)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut out = vec![StationStats::default(); n];
    for part in parts {
        for (o, p) in out.iter_mut().zip(part) {
            o.add(&p);
        }
    }
    out
}

/// The stations where a journey is known to have stopped: origin, destination, via stations
/// and encounter station, each once (sorted), into `out`; returns its via and encounter
/// stations (via sorted and deduplicated).
fn known_stops(geo: &Geography, j: &MappedJourney, out: &mut Vec<u32>) -> (Vec<u32>, Option<u32>) {
    out.clear();
    let idx = |c| geo.stations.index_of(c).map(|i| i as u32);
    let mut via: Vec<u32> = j.report.journey.via.iter().filter_map(idx).collect();
    via.sort_unstable();
    via.dedup();
    let enc = j
        .report
        .journey
        .encounter
        .as_ref()
        .and_then(|e| e.station.as_ref())
        .and_then(idx);
    out.extend(j.origin.station);
    out.extend(j.destination.station);
    out.extend(&via);
    out.extend(enc);
    out.sort_unstable();
    out.dedup();
    (via, enc)
}

/// Whether a journey counts at station `s` under a measure (see [`StationStats`]).
pub fn counts_at(geo: &Geography, j: &MappedJourney, s: u32, m: Measure) -> bool {
    let mut stops = Vec::with_capacity(8);
    let (via, enc) = known_stops(geo, j, &mut stops);
    let touched = j.origin.station == Some(s)
        || j.destination.station == Some(s)
        || j.route.stations.contains(&s);
    match m {
        Measure::Stops => stops.contains(&s),
        Measure::Boardings => j.origin.station == Some(s),
        Measure::Alightings => j.destination.station == Some(s),
        Measure::Interchanges => via.contains(&s),
        Measure::Encounters => enc == Some(s),
        Measure::OnRoute => touched && !stops.contains(&s),
        Measure::All => touched,
    }
}

fn station_stats_serial(geo: &Geography, journeys: &[&Arc<MappedJourney>]) -> Vec<StationStats> {
    let n = geo.stations.len();
    let mut out = vec![StationStats::default(); n];
    // the journey that last touched each station, so each counts once per journey
    let mut seen = vec![usize::MAX; n];
    // the journey that last stopped at each station
    let mut stopped = vec![usize::MAX; n];
    let mut stops = Vec::with_capacity(8);
    for (k, j) in journeys.iter().enumerate() {
        let (o, d) = (j.origin.station, j.destination.station);
        let (via, enc) = known_stops(geo, j, &mut stops);
        for &s in &via {
            out[s as usize].interchanges += 1;
        }
        if let Some(s) = enc {
            out[s as usize].encounters += 1;
        }
        for &s in &stops {
            out[s as usize].stops += 1;
            stopped[s as usize] = k;
        }
        let mut touch = |s: u32, out: &mut Vec<StationStats>| {
            let s = s as usize;
            if seen[s] != k {
                seen[s] = k;
                let c = &mut out[s];
                c.journeys += 1;
                c.persons += u32::from(j.persons);
                c.children += u32::from(j.children);
                if Some(s as u32) != o && Some(s as u32) != d {
                    c.passes += 1;
                }
                if stopped[s] != k {
                    c.on_route += 1;
                }
            }
        };
        if let Some(s) = o {
            out[s as usize].starts += 1;
            touch(s, &mut out);
        }
        if let Some(s) = d {
            out[s as usize].ends += 1;
            touch(s, &mut out);
        }
        for &s in &j.route.stations {
            touch(s, &mut out);
        }
    }
    out
}

/// Journeys using one track section (a chain of the rail graph, junction to junction).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SectionStats {
    pub journeys: u32,
    pub persons: u32,
    pub children: u32,
}

/// Counts per track section (indexed like [`crate::geography::RailGraph::chains`]): every rail
/// route counts once on each section it runs along, however short the stretch.
pub fn rail_usage(geo: &Geography, journeys: &[&Arc<MappedJourney>]) -> Vec<SectionStats> {
    let n = geo.rail.chains().len();
    let mut out = vec![SectionStats::default(); n];
    let mut seen = vec![usize::MAX; n];
    for (k, j) in journeys.iter().enumerate() {
        let RouteGeometry::Pieces(pieces) = &j.route.geometry else {
            continue;
        };
        for &(c, from, to) in pieces {
            let c = c as usize;
            if seen[c] == k || from == to {
                continue;
            }
            seen[c] = k;
            out[c].journeys += 1;
            out[c].persons += u32::from(j.persons);
            out[c].children += u32::from(j.children);
        }
    }
    out
}

/// One origin force → destination force cell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flow {
    /// force indices
    pub origin: u16,
    pub destination: u16,
    pub journeys: u32,
    pub persons: u32,
    pub children: u32,
    /// of `journeys`, those made by rail: British Transport Police's share, a column across
    /// every flow rather than a place
    pub btp_journeys: u32,
}

/// The flows and the journeys left out of them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Flows {
    /// non-empty cells, most journeys first (ties: origin, destination)
    pub rows: Vec<Flow>,
    /// journeys with an end in no force (at sea, abroad): not in any row
    pub unplaced: u32,
}

/// Origin × destination counts: the force of the journey's origin and of its destination (the
/// `origin_force` and `destination_force` of each journey), the diagonal included (internal
/// journeys).
pub fn flows(journeys: &[&Arc<MappedJourney>]) -> Flows {
    let mut cells: BTreeMap<(u16, u16), Flow> = BTreeMap::new();
    let mut unplaced = 0;
    for j in journeys {
        let (Some(o), Some(d)) = (j.origin.force, j.destination.force) else {
            unplaced += 1;
            continue;
        };
        let f = cells.entry((o, d)).or_insert(Flow {
            origin: o,
            destination: d,
            ..Flow::default()
        });
        f.journeys += 1;
        f.persons += u32::from(j.persons);
        f.children += u32::from(j.children);
        if j.report.journey.mode == Mode::Rail {
            f.btp_journeys += 1;
        }
    }
    let mut rows: Vec<Flow> = cells.into_values().collect();
    rows.sort_by(|a, b| {
        b.journeys
            .cmp(&a.journeys)
            .then(a.origin.cmp(&b.origin))
            .then(a.destination.cmp(&b.destination))
    });
    Flows { rows, unplaced }
}

/// The period of a trend bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interval {
    /// ISO weeks, Monday to Sunday
    Week,
    /// calendar months
    Month,
}

impl Interval {
    pub fn parse(s: &str) -> Option<Interval> {
        match s {
            "week" => Some(Interval::Week),
            "month" => Some(Interval::Month),
            _ => None,
        }
    }

    /// The first day of the period holding `day` (days since 1970-01-01).
    pub fn start_of(self, day: i32) -> i32 {
        match self {
            // 1970-01-01 was a Thursday: Monday is 3 days earlier
            Interval::Week => day - (day + 3).rem_euclid(7),
            Interval::Month => {
                let d = date_of(day);
                day - (d.day() as i32 - 1)
            }
        }
    }

    /// The first day of the next period.
    pub fn next(self, start: i32) -> i32 {
        match self {
            Interval::Week => start + 7,
            Interval::Month => {
                let d = date_of(start);
                start + i32::from(d.month().length(d.year()))
            }
        }
    }
}

/// The date of a day number (days since 1970-01-01).
pub fn date_of(day: i32) -> time::Date {
    time::Date::from_julian_day(day + 2_440_588).unwrap_or(time::Date::MIN)
}

/// Counts in one period.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bucket {
    /// first and last day of the period (days since 1970-01-01)
    pub start: i32,
    pub end: i32,
    pub journeys: u32,
    pub persons: u32,
    pub children: u32,
    /// journeys between two forces
    pub cross_border: u32,
    /// journeys by rail
    pub rail: u32,
    /// distinct `line_id`s among the journeys (the lines active in the period)
    pub lines: u32,
    /// persons referred to the National Referral Mechanism
    pub nrm_referrals: u32,
    pub safeguarding_referrals: u32,
}

/// Counts per period from the period holding `from` (else the first journey) to the one holding
/// `to` (else the last journey), empty periods included.
pub fn trends(
    journeys: &[&Arc<MappedJourney>],
    interval: Interval,
    from: Option<i32>,
    to: Option<i32>,
) -> Vec<Bucket> {
    let lo = from.or_else(|| journeys.iter().map(|j| j.day).min());
    let hi = to.or_else(|| journeys.iter().map(|j| j.day).max());
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return Vec::new();
    };
    let mut buckets = Vec::new();
    let mut s = interval.start_of(lo);
    while s <= hi {
        let e = interval.next(s);
        buckets.push(Bucket {
            start: s,
            end: e - 1,
            ..Bucket::default()
        });
        s = e;
    }
    let first = buckets[0].start;
    let mut lines: Vec<HashSet<&str>> = vec![HashSet::new(); buckets.len()];
    for j in journeys {
        if j.day < first || j.day > hi {
            continue;
        }
        // buckets are contiguous and sorted: find by binary search
        let i = buckets.partition_point(|b| b.end < j.day);
        let b = &mut buckets[i];
        b.journeys += 1;
        b.persons += u32::from(j.persons);
        b.children += u32::from(j.children);
        b.cross_border += u32::from(j.cross_border);
        b.rail += u32::from(j.report.journey.mode == Mode::Rail);
        for p in &j.report.persons {
            b.nrm_referrals += u32::from(p.nrm_referred);
            b.safeguarding_referrals += u32::from(p.safeguarding_referred);
        }
        if let Some(l) = &j.report.line {
            lines[i].insert(l.line_id.as_str());
        }
    }
    for (b, l) in buckets.iter_mut().zip(lines) {
        b.lines = l.len() as u32;
    }
    buckets
}

/// A point inside each force area, for drawing flows: the centroid of the force's largest
/// polygon when the force contains it, else the middle of the widest stretch of that polygon
/// along the parallel through the centroid.
pub fn force_points(geo: &Geography) -> Vec<[f64; 2]> {
    use crate::geography::Located;
    geo.forces
        .forces()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let Some(poly) = f
                .polygons
                .iter()
                .max_by(|a, b| ring_area(&a[0]).abs().total_cmp(&ring_area(&b[0]).abs()))
            else {
                return [f.bbox.min_lon, f.bbox.min_lat];
            };
            let c = polygon_centroid(poly);
            if matches!(geo.forces.locate_exact(c), Located::Inside(k) if k == i) {
                return c;
            }
            widest_crossing(poly, c[1]).unwrap_or(poly[0][0])
        })
        .collect()
}

/// Twice the signed area of an open ring (shoelace), degrees².
fn ring_area(r: &[[f64; 2]]) -> f64 {
    (0..r.len())
        .map(|i| {
            let (a, b) = (r[i], r[(i + 1) % r.len()]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum()
}

/// The planar centroid (lon/lat) of a polygon with holes (rings open, outer first).
fn polygon_centroid(poly: &[Vec<[f64; 2]>]) -> [f64; 2] {
    let (mut a, mut cx, mut cy) = (0.0, 0.0, 0.0);
    for (k, r) in poly.iter().enumerate() {
        // outer ring adds, holes subtract, whatever their winding
        let sign = if k == 0 { 1.0 } else { -1.0 };
        let ra = ring_area(r);
        let orient = if ra < 0.0 { -1.0 } else { 1.0 };
        for i in 0..r.len() {
            let (p, q) = (r[i], r[(i + 1) % r.len()]);
            let cross = (p[0] * q[1] - q[0] * p[1]) * orient * sign;
            a += cross;
            cx += (p[0] + q[0]) * cross;
            cy += (p[1] + q[1]) * cross;
        }
    }
    if a == 0.0 {
        return poly[0][0];
    }
    [cx / (3.0 * a), cy / (3.0 * a)]
}

/// The middle of the widest inside stretch of `poly` along latitude `lat`.
fn widest_crossing(poly: &[Vec<[f64; 2]>], lat: f64) -> Option<[f64; 2]> {
    let mut xs: Vec<f64> = Vec::new();
    for r in poly {
        for i in 0..r.len() {
            let (p, q) = (r[i], r[(i + 1) % r.len()]);
            // half-open rule: each crossing counted once at shared vertices
            if (p[1] > lat) != (q[1] > lat) {
                xs.push(p[0] + (lat - p[1]) / (q[1] - p[1]) * (q[0] - p[0]));
            }
        }
    }
    xs.sort_by(f64::total_cmp);
    xs.chunks_exact(2)
        .max_by(|a, b| (a[1] - a[0]).total_cmp(&(b[1] - b[0])))
        .map(|w| [(w[0] + w[1]) / 2.0, lat])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> i32 {
        crate::journey::map::day_number(crate::journey::report::parse_date(s).unwrap())
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        // 2024-03-06 was a Wednesday
        assert_eq!(
            Interval::Week.start_of(day("2024-03-06")),
            day("2024-03-04")
        );
        assert_eq!(
            Interval::Week.start_of(day("2024-03-04")),
            day("2024-03-04")
        );
        assert_eq!(
            Interval::Week.start_of(day("2024-03-10")),
            day("2024-03-04")
        );
        // 1970-01-01, a Thursday, is in the week of Monday 1969-12-29
        assert_eq!(Interval::Week.start_of(0), -3);
        assert_eq!(
            Interval::Month.start_of(day("2024-02-29")),
            day("2024-02-01")
        );
        assert_eq!(Interval::Month.next(day("2024-02-01")), day("2024-03-01"));
        assert_eq!(Interval::Month.next(day("2023-02-01")), day("2023-03-01"));
        assert_eq!(Interval::Month.next(day("2024-12-01")), day("2025-01-01"));
        assert_eq!(date_of(day("2031-07-19")).to_string(), "2031-07-19");
    }

    #[test]
    fn an_l_shaped_area_gets_a_point_inside_it() {
        // an L whose centroid (in the notch) is outside it
        let l = vec![vec![
            [0.0, 0.0],
            [4.0, 0.0],
            [4.0, 1.0],
            [1.0, 1.0],
            [1.0, 4.0],
            [0.0, 4.0],
        ]];
        let c = polygon_centroid(&l);
        // by hand: area 7, the two rectangles 4x1 (centroid 2, 0.5) and 1x3 (0.5, 2.5)
        assert!((c[0] - (4.0 * 2.0 + 3.0 * 0.5) / 7.0).abs() < 1e-12);
        assert!((c[1] - (4.0 * 0.5 + 3.0 * 2.5) / 7.0).abs() < 1e-12);
        // at y = 1.357 the L is inside only for x in [0, 1]
        assert_eq!(widest_crossing(&l, c[1]), Some([0.5, c[1]]));
        // a square with a square hole: centroid stays at the middle
        let holed = vec![
            vec![[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0]],
            vec![[1.0, 1.0], [1.0, 2.0], [2.0, 2.0], [2.0, 1.0]],
        ];
        let c = polygon_centroid(&holed);
        // (16 * 2 - 1 * 1.5) / 15
        assert!((c[0] - 30.5 / 15.0).abs() < 1e-12 && (c[1] - 30.5 / 15.0).abs() < 1e-12);
    }
}
