//! The analysts' layers, computed from a selection of mapped journeys: counts per station
//! ([`station_stats`]) and per track section ([`rail_usage`]), force-to-force flows ([`flows`]),
//! counts over time ([`trends`]) and station hotspots ([`hotspots`]).
//!
//! Every function takes the journeys a filter selected (see
//! [`crate::journey::index::JourneyFilter`]) and counts each journey once per station, section,
//! flow or period, whatever its route does. `persons` and `children` are summed over the persons
//! of the counted journeys (a person on two journeys counts twice); `distinct_persons` and
//! `distinct_children` count distinct person keys (`person_id`, derived the same way by every
//! force for the same person) over the same journeys, a child being a person under 18 on one of
//! them ([`PersonKeys`], [`distinct`]). Distinct counts cannot be summed across parts, so each
//! row's are counted from its own list of keys.

pub mod collection;
pub mod emerging;
pub mod hotspots;
pub mod key;
pub mod memo;
pub mod mvt;
pub mod people;
pub mod rows;
pub mod service;
pub mod tiles;
pub mod treatment;

use crate::geography::Geography;
use crate::journey::carried::Totals;
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// distinct person keys on those journeys
    pub distinct_persons: u32,
    /// distinct person keys under 18 on one of those journeys
    pub distinct_children: u32,
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

/// The person keys of a selection of journeys as small numbers: for journey `k`,
/// [`PersonKeys::of_journey`] lists `(id << 1) | child` for each person on it, where `id`
/// numbers the distinct `person_id`s of the selection and `child` says the person is under 18
/// on that journey.
pub struct PersonKeys {
    offsets: Vec<u32>,
    codes: Vec<u32>,
}

impl PersonKeys {
    /// The keys of `journeys` (in their order): those the journey index numbered
    /// ([`MappedJourney::person_keys`]), or, for journeys not from one index, numbered here
    /// with one hash map. O(persons).
    pub fn of(journeys: &[&Arc<MappedJourney>]) -> PersonKeys {
        let mut offsets = Vec::with_capacity(journeys.len() + 1);
        let mut codes = Vec::with_capacity(journeys.len() * 2);
        offsets.push(0);
        if journeys
            .iter()
            .all(|j| j.person_keys.len() == j.report.persons.len())
        {
            for j in journeys {
                codes.extend_from_slice(&j.person_keys);
                offsets.push(codes.len() as u32);
            }
            return PersonKeys { offsets, codes };
        }
        let mut ids: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
        for j in journeys {
            for p in &j.report.persons {
                let next = ids.len() as u32;
                let id = *ids.entry(p.person_id.as_str()).or_insert(next);
                codes.push(id << 1 | u32::from(p.age_band.is_child()));
            }
            offsets.push(codes.len() as u32);
        }
        PersonKeys { offsets, codes }
    }

    /// The codes of the persons on journey `k` of the selection.
    pub fn of_journey(&self, k: usize) -> &[u32] {
        &self.codes[self.offsets[k] as usize..self.offsets[k + 1] as usize]
    }
}

/// Distinct persons and distinct children among `codes` (see [`PersonKeys`]); sorts `codes`.
pub fn distinct(codes: &mut [u32]) -> (u32, u32) {
    codes.sort_unstable();
    let (mut persons, mut children) = (0, 0);
    let mut i = 0;
    while i < codes.len() {
        let id = codes[i] >> 1;
        let mut child = false;
        while i < codes.len() && codes[i] >> 1 == id {
            child |= codes[i] & 1 == 1;
            i += 1;
        }
        persons += 1;
        children += u32::from(child);
    }
    (persons, children)
}

/// Distinct persons and children of each row, from the journeys (indices into the selection)
/// each row counts: `rows[r]` is every journey of row `r`, each once. Rows are counted on every
/// core when the work is large.
pub fn distinct_per_row(keys: &PersonKeys, rows: &[Vec<u32>]) -> Vec<(u32, u32)> {
    let one = |r: &Vec<u32>| {
        crate::cancel::check();
        let mut codes: Vec<u32> = r
            .iter()
            .flat_map(|&k| keys.of_journey(k as usize).iter().copied())
            .collect();
        distinct(&mut codes)
    };
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let work: usize = rows.iter().map(Vec::len).sum();
    if threads < 2 || work < 200_000 {
        return rows.iter().map(one).collect();
    }
    let chunk = rows.len().div_ceil(threads);
    crate::cancel::on_threads(rows.chunks(chunk), |c| {
        c.iter().map(one).collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect()
}

/// Counts per station (indexed like the station index). Large selections are counted on
/// every core, in chunks, and the chunks summed.
pub fn station_stats(geo: &Geography, journeys: &[&Arc<MappedJourney>]) -> Vec<StationStats> {
    // (journeys, persons and children are summed over chunks; the distinct counts come from
    // each station's own list of journeys)
    let n = geo.stations.len();
    let mut out = station_counts_only(geo, journeys);
    let keys = PersonKeys::of(journeys);
    let mut rows: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (k, j) in journeys.iter().enumerate() {
        if j.report.persons.is_empty() {
            continue;
        }
        let mut add = |s: u32| {
            let r = &mut rows[s as usize];
            if r.last() != Some(&(k as u32)) {
                r.push(k as u32);
            }
        };
        j.origin.station.into_iter().for_each(&mut add);
        j.destination.station.into_iter().for_each(&mut add);
        j.route.stations.iter().copied().for_each(&mut add);
    }
    for (o, (p, c)) in out.iter_mut().zip(distinct_per_row(&keys, &rows)) {
        o.distinct_persons = p;
        o.distinct_children = c;
    }
    out
}

/// Counts per station without the distinct ones.
fn station_counts_only(geo: &Geography, journeys: &[&Arc<MappedJourney>]) -> Vec<StationStats> {
    let n = geo.stations.len();
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    if threads < 2 || journeys.len() < 20_000 {
        return station_stats_serial(geo, journeys);
    }
    let chunk = journeys.len().div_ceil(threads);
    let parts = crate::cancel::on_threads(journeys.chunks(chunk), |c| station_stats_serial(geo, c));
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
        crate::cancel::check_at(k);
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
        crate::cancel::check_at(k);
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

/// How journeys are placed between forces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Direction {
    /// by the line: from the line's exporting force (the origin's when the report names no
    /// line force) to the force it supplies (the journey's destination force, or its origin
    /// force on a return run, a journey back into the exporting force)
    #[default]
    Line,
    /// by the journey: from the force of its origin to the force of its destination
    Travel,
}

impl Direction {
    pub const ALL: &[&str] = &["line", "travel"];
    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "line" => Some(Direction::Line),
            "travel" => Some(Direction::Travel),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Line => "line",
            Direction::Travel => "travel",
        }
    }

    /// The (from, to) forces of a journey; `None` when either is in no force.
    pub fn forces(self, j: &MappedJourney) -> Option<(u16, u16)> {
        match self {
            Direction::Line => Some((j.exporting_force?, j.importing_force?)),
            Direction::Travel => Some((j.origin.force?, j.destination.force?)),
        }
    }

    /// The (from, to) stations of a journey: by line, a return run goes from its destination
    /// (in the exporting force: the hub) to its origin (the market).
    pub fn stations(self, j: &MappedJourney) -> Option<(u32, u32)> {
        let (o, d) = (j.origin.station?, j.destination.station?);
        Some(if self == Direction::Line && j.return_run {
            (d, o)
        } else {
            (o, d)
        })
    }
}

/// Journey counts shared by flows and corridors.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    pub journeys: u32,
    /// distinct `line_id`s
    pub lines: u32,
    /// journeys back into the line's exporting force
    pub return_runs: u32,
    /// distinct lines whose reports say `line_type` internal or external
    pub internal_lines: u32,
    pub external_lines: u32,
    /// journeys made by rail
    pub rail_journeys: u32,
    /// journeys British Transport Police reported (`source_force` BTP)
    pub btp_reported: u32,
    /// journeys with an encounter joint with BTP
    pub btp_joint: u32,
    pub persons: u32,
    pub children: u32,
    /// distinct person keys on these journeys, and of them those under 18 on one
    pub distinct_persons: u32,
    pub distinct_children: u32,
    /// seizures and grading
    pub carried: Totals,
}

/// Distinct line ids seen by a [`Counts`] (all, internal, external).
#[derive(Default)]
struct LineSets<'a>([HashSet<&'a str>; 3]);

impl Counts {
    fn add<'a>(&mut self, j: &'a MappedJourney, sets: &mut LineSets<'a>) {
        use crate::journey::report::LineType;
        let r = &j.report;
        self.journeys += 1;
        self.return_runs += u32::from(j.return_run);
        self.rail_journeys += u32::from(r.journey.mode == Mode::Rail);
        self.btp_reported += u32::from(r.source_force.is_btp());
        self.btp_joint += u32::from(
            r.journey
                .encounter
                .as_ref()
                .and_then(|e| e.joint_with_force.as_ref())
                .is_some_and(|f| f.is_btp()),
        );
        self.persons += u32::from(j.persons);
        self.children += u32::from(j.children);
        self.carried.add(j.carried.as_deref());
        if let Some(l) = &r.line {
            sets.0[0].insert(&l.line_id);
            match l.line_type {
                Some(LineType::Internal) => sets.0[1].insert(&l.line_id),
                Some(LineType::External) => sets.0[2].insert(&l.line_id),
                None => false,
            };
        }
    }

    fn close(&mut self, sets: &LineSets) {
        self.lines = sets.0[0].len() as u32;
        self.internal_lines = sets.0[1].len() as u32;
        self.external_lines = sets.0[2].len() as u32;
    }
}

/// One force → force cell.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Flow {
    /// force indices
    pub origin: u16,
    pub destination: u16,
    pub counts: Counts,
}

/// The flows and the journeys left out of them.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Flows {
    /// non-empty cells, most journeys first (ties: origin, destination)
    pub rows: Vec<Flow>,
    /// journeys with an end (or, by line, an exporting or supplied force) in no force: not in
    /// any row
    pub unplaced: u32,
}

/// Force × force counts by `direction` (see [`Direction`]), the diagonal included (journeys
/// inside one force).
pub fn flows(journeys: &[&Arc<MappedJourney>], direction: Direction) -> Flows {
    let mut cells: BTreeMap<(u16, u16), (Flow, LineSets, Vec<u32>)> = BTreeMap::new();
    let mut unplaced = 0;
    for (k, j) in journeys.iter().enumerate() {
        crate::cancel::check_at(k);
        let Some((o, d)) = direction.forces(j) else {
            unplaced += 1;
            continue;
        };
        let (f, sets, members) = cells.entry((o, d)).or_insert_with(|| {
            (
                Flow {
                    origin: o,
                    destination: d,
                    ..Flow::default()
                },
                LineSets::default(),
                Vec::new(),
            )
        });
        f.counts.add(j, sets);
        members.push(k as u32);
    }
    let keys = PersonKeys::of(journeys);
    let mut rows: Vec<Flow> = cells
        .into_values()
        .map(|(mut f, sets, members)| {
            f.counts.close(&sets);
            let (p, c) = distinct_per_row(&keys, std::slice::from_ref(&members))[0];
            f.counts.distinct_persons = p;
            f.counts.distinct_children = c;
            f
        })
        .collect();
    rows.sort_by(|a, b| {
        b.counts
            .journeys
            .cmp(&a.counts.journeys)
            .then(a.origin.cmp(&b.origin))
            .then(a.destination.cmp(&b.destination))
    });
    Flows { rows, unplaced }
}

/// Exports and imports per force (indexed like the forces): the journeys of the off-diagonal
/// flows by line direction, summed by exporting force (row) and supplied force (column). So
/// a force's exports are the sum of its outgoing line-direction flows and its imports of its
/// incoming ones.
pub fn force_exchange(flows: &Flows, n: usize) -> Vec<[u32; 2]> {
    let mut out = vec![[0u32; 2]; n];
    for f in flows.rows.iter().filter(|f| f.origin != f.destination) {
        out[f.origin as usize][0] += f.counts.journeys;
        out[f.destination as usize][1] += f.counts.journeys;
    }
    out
}

/// Distinct persons and children per force (indexed like the forces) over the journeys its
/// exports and imports count: the off-diagonal journeys by line direction, each once.
pub fn force_distinct(journeys: &[&Arc<MappedJourney>], n: usize) -> Vec<(u32, u32)> {
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (k, j) in journeys.iter().enumerate() {
        crate::cancel::check_at(k);
        if let Some((o, d)) = Direction::Line.forces(j)
            && o != d
        {
            members[o as usize].push(k as u32);
            members[d as usize].push(k as u32);
        }
    }
    distinct_per_row(&PersonKeys::of(journeys), &members)
}

/// Seizure and grading totals per force over the journeys whose line supplies it (indexed
/// like the forces; internal journeys count in their own force).
pub fn force_carried(journeys: &[&Arc<MappedJourney>], n: usize) -> Vec<Totals> {
    let mut out = vec![Totals::default(); n];
    for j in journeys {
        if let Some(i) = j.importing_force {
            out[i as usize].add(j.carried.as_deref());
        }
    }
    out
}

/// A station → station corridor.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Corridor {
    /// station indices: by line, the hub (in the exporting force) and the market it supplies
    pub hub: u32,
    pub market: u32,
    pub counts: Counts,
    /// the `via` stations the reports name, with the journeys naming each, most first (ties:
    /// station index)
    pub via: Vec<(u32, u32)>,
}

/// The corridors and the journeys left out of them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Corridors {
    /// most journeys first (ties: hub, market)
    pub rows: Vec<Corridor>,
    /// journeys with an end at no station: not in any corridor
    pub unplaced: u32,
}

/// Station × station counts by `direction`: by line from the hub station (the journey's origin,
/// or its destination on a return run) to the market station.
pub fn corridors(
    geo: &Geography,
    journeys: &[&Arc<MappedJourney>],
    direction: Direction,
) -> Corridors {
    type Cell<'a> = (Corridor, LineSets<'a>, BTreeMap<u32, u32>, Vec<u32>);
    let mut cells: BTreeMap<(u32, u32), Cell> = BTreeMap::new();
    let mut unplaced = 0;
    for (k, j) in journeys.iter().enumerate() {
        crate::cancel::check_at(k);
        let Some((h, m)) = direction.stations(j) else {
            unplaced += 1;
            continue;
        };
        let (c, sets, via, members) = cells.entry((h, m)).or_insert_with(|| {
            (
                Corridor {
                    hub: h,
                    market: m,
                    ..Corridor::default()
                },
                LineSets::default(),
                BTreeMap::new(),
                Vec::new(),
            )
        });
        c.counts.add(j, sets);
        members.push(k as u32);
        // each via station once per journey
        let mut named: Vec<u32> = j
            .report
            .journey
            .via
            .iter()
            .filter_map(|c| geo.stations.index_of(c).map(|i| i as u32))
            .filter(|&s| s != h && s != m)
            .collect();
        named.sort_unstable();
        named.dedup();
        for s in named {
            *via.entry(s).or_default() += 1;
        }
    }
    let keys = PersonKeys::of(journeys);
    let mut rows: Vec<Corridor> = cells
        .into_values()
        .map(|(mut c, sets, via, members)| {
            c.counts.close(&sets);
            let (p, ch) = distinct_per_row(&keys, std::slice::from_ref(&members))[0];
            c.counts.distinct_persons = p;
            c.counts.distinct_children = ch;
            c.via = via.into_iter().collect();
            c.via.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            c
        })
        .collect();
    rows.sort_by(|a, b| {
        b.counts
            .journeys
            .cmp(&a.counts.journeys)
            .then(a.hub.cmp(&b.hub))
            .then(a.market.cmp(&b.market))
    });
    Corridors { rows, unplaced }
}

/// The shortest rail route between two stations: its length in metres and the forces it
/// crosses in travel order (`None` between disconnected parts of the network).
pub fn corridor_route(
    geo: &Geography,
    from: u32,
    to: u32,
) -> Option<(f64, Vec<usize>, Vec<[f64; 2]>)> {
    let idx = [from as usize, to as usize];
    let r = geo.rail.route_with(&idx, true).ok()?;
    let forces = geo
        .route_forces(&r.pieces)
        .iter()
        .map(|s| s.force)
        .collect();
    Some((r.distance_m, forces, r.coords))
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
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
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
    /// distinct person keys on the period's journeys, and of them those under 18 on one
    pub distinct_persons: u32,
    pub distinct_children: u32,
    /// seizures and grading
    pub carried: Totals,
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
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); buckets.len()];
    for (k, j) in journeys.iter().enumerate() {
        if j.day < first || j.day > hi {
            continue;
        }
        // buckets are contiguous and sorted: find by binary search
        let i = buckets.partition_point(|b| b.end < j.day);
        members[i].push(k as u32);
        let b = &mut buckets[i];
        b.journeys += 1;
        b.persons += u32::from(j.persons);
        b.children += u32::from(j.children);
        b.cross_border += u32::from(j.cross_border);
        b.rail += u32::from(j.report.journey.mode == Mode::Rail);
        b.carried.add(j.carried.as_deref());
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
    let keys = PersonKeys::of(journeys);
    for (b, (p, c)) in buckets.iter_mut().zip(distinct_per_row(&keys, &members)) {
        b.distinct_persons = p;
        b.distinct_children = c;
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
