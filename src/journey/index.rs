//! The in-memory index of mapped journeys: an R-tree over the distinct routes' envelopes (each
//! route with its journeys listed) for bbox and spatial-filter queries, and the per-journey
//! columns the filters read. Appends only; readers share it behind a lock.
//! Restricted reports stay in it but are passed over unless a filter asks for them (an admin's
//! journey-level reads). Its [`JourneyIndex::version`] changes on every change (a journey added,
//! a restriction set or lifted): the layer caches key on it.

use super::map::{MappedJourney, MappedRoute, RouteGeometry, RouteView, Shape};
use super::report::{AgeBand, Mode, Role};
use crate::geography::{Bbox, Geography, Piece};
use rstar::{AABB, RTree, primitives::GeomWithData, primitives::Rectangle};
use std::collections::HashMap;
use std::sync::Arc;

/// Which journeys a query wants. Every field narrows; `None` means any.
#[derive(Clone, Debug, Default)]
pub struct JourneyFilter {
    /// the route intersects this box (lon/lat, edges included)
    pub bbox: Option<Bbox>,
    /// journey date on or after this day (days since 1970-01-01)
    pub from_day: Option<i32>,
    /// journey date on or before this day
    pub to_day: Option<i32>,
    /// the journey touches this force: at either end or crossed
    pub force: Option<u16>,
    pub cross_border: Option<bool>,
    /// the line's exporting force (the origin's when the report names no line force)
    pub exporting_force: Option<u16>,
    /// the force of the destination
    pub importing_force: Option<u16>,
    /// the journey was made by one of these modes (empty: any)
    pub modes: Vec<Mode>,
    /// some person on the journey is in one of these age bands (empty: any) and, with
    /// `roles`, has one of those roles: both hold for the same person
    pub age_bands: Vec<AgeBand>,
    pub roles: Vec<Role>,
    /// the report's line
    pub line: Option<String>,
    /// the journey starts, ends or passes at this station (station index)
    pub station: Option<u32>,
    /// only journeys British Transport Police reported or joined (what a `btp_planner` sees
    /// at journey level)
    pub btp_sourced: bool,
    /// Not a selection: the aggregates over this filter show the journeys British Transport
    /// Police did not report or join (which a `btp_planner` may not read) only through
    /// disclosure control (see `http::layers`). Part of the filter so that the layer caches
    /// keep such answers apart.
    pub disclose_non_btp: bool,
    /// only journeys that start, end or pass in this force (what a `force_analyst` sees at
    /// journey level)
    pub within_force: Option<u16>,
    /// restricted reports too (an admin's journey-level reads); layers never count them
    pub include_restricted: bool,
    /// local hours and days of the week (`hours`, `days`); untimed journeys never pass
    pub time: Option<super::clock::TimeFilter>,
}

/// The journey starts, ends or passes in force `force` (index).
pub fn touches(j: &MappedJourney, force: u16) -> bool {
    j.origin.force == Some(force)
        || j.destination.force == Some(force)
        || j.route.forces.iter().any(|s| s.force == force as usize)
}

#[derive(Default)]
pub struct JourneyIndex {
    journeys: Vec<Arc<MappedJourney>>,
    by_id: HashMap<String, u32>,
    /// the numbered routes with a box, by route number ([`Hot::route`]): a box query visits
    /// routes (47,604 for 100,000 generated journeys), not journeys
    /// (each leaf carries where the route's geometry lies, so that a box query reads the
    /// candidates' geometry without a visit to a per-route array first)
    route_tree: RTree<GeomWithData<Rectangle<[f64; 2]>, RouteLeaf>>,
    /// per route number, the positions of the journeys on it (ascending: journeys are only
    /// appended, and a rebuild numbers them in order)
    route_journeys: Vec<OnRoute>,
    /// every person key seen, numbered in order of first appearance
    people: HashMap<String, u32>,
    /// report ids under restriction
    restricted: std::collections::HashSet<String>,
    /// the version of each rectified report held (absent: 1, as posted)
    versions: HashMap<String, i64>,
    /// changes on every change of what a filter can select
    version: u64,
    /// per station, the journeys that start, end or pass there (ascending), for the `station`
    /// filter: scanning every journey's route for one station is memory-bound
    by_station: Vec<Vec<u32>>,
    /// per journey (in the order added), the fields filters read most, side by side
    hot: Vec<Hot>,
    /// per journey day, the journeys of that day (ascending), for date ranges
    by_day: std::collections::BTreeMap<i32, Vec<u32>>,
    /// route numbers (each journey's is [`Hot::route`]) by the address of the shared route (every route numbered is held by a
    /// journey of this index, so no address is reused while it is here)
    route_numbers: HashMap<usize, u32>,
    /// per route number, the route's box (side by side, so that a filter's envelope test does
    /// not visit the journey and its route)
    route_boxes: Vec<Bbox>,
    /// per route number, the route (side by side, so that testing a route does not visit a
    /// journey on it first)
    route_list: Vec<Arc<MappedRoute>>,
    /// per route number, where its geometry lies in `route_pieces` or `route_points`: a
    /// route's test reads them side by side rather than visiting the route
    route_spans: Vec<Span>,
    route_pieces: Vec<Piece>,
    /// the points of the routes that are lines (not along the track), side by side
    route_points: Vec<[f64; 2]>,
}

/// Where a numbered route's geometry lies: its rail pieces in `route_pieces`, or (a line) its
/// points in `route_points`, from `from` to `to` (exclusive).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Span {
    from: u32,
    to: u32,
    line: bool,
}

impl Span {
    /// Appends `items` to `list`: where they now lie.
    fn appended<T: Copy>(list: &mut Vec<T>, items: &[T], line: bool) -> Span {
        let from = list.len() as u32;
        list.extend_from_slice(items);
        Span {
            from,
            to: list.len() as u32,
            line,
        }
    }
}

/// A route in the route R-tree: its number and where its geometry lies.
#[derive(Clone, Copy, Debug, PartialEq)]
struct RouteLeaf {
    route: u32,
    span: Span,
}

/// The journeys on one route (positions, ascending): most routes have one to three, kept in
/// place so that gathering them reads no second block of memory.
#[derive(Clone, Debug)]
enum OnRoute {
    Few(u8, [u32; 3]),
    Many(Vec<u32>),
}

impl OnRoute {
    fn push(&mut self, i: u32) {
        match self {
            OnRoute::Few(n, a) if usize::from(*n) < a.len() => {
                a[usize::from(*n)] = i;
                *n += 1;
            }
            OnRoute::Few(n, a) => {
                let mut v = a[..usize::from(*n)].to_vec();
                v.push(i);
                *self = OnRoute::Many(v);
            }
            OnRoute::Many(v) => v.push(i),
        }
    }

    fn as_slice(&self) -> &[u32] {
        match self {
            OnRoute::Few(n, a) => &a[..usize::from(*n).min(a.len())],
            OnRoute::Many(v) => v,
        }
    }
}

/// A route's box as an R-tree rectangle; None for an empty box (a route with no points, which
/// no box meets).
fn route_rect(b: &Bbox) -> Option<Rectangle<[f64; 2]>> {
    (!b.is_empty()).then(|| Rectangle::from_corners([b.min_lon, b.min_lat], [b.max_lon, b.max_lat]))
}

/// The fields of a journey that filters read most, kept side by side in one array of the
/// index, so that a scan over every journey reads them in order rather than visiting each
/// journey where it lies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hot {
    pub day: i32,
    pub mode: Mode,
    pub cross_border: bool,
    pub return_run: bool,
    pub urban_to_rural: bool,
    pub persons: u16,
    pub children: u16,
    pub origin_force: Option<u16>,
    pub destination_force: Option<u16>,
    pub exporting_force: Option<u16>,
    pub importing_force: Option<u16>,
    /// the number of the journey's route in its index (journeys sharing one mapped route share
    /// it, so that a test of the route's geometry is made once per route; `u32::MAX` outside
    /// an index)
    pub route: u32,
}

impl Hot {
    pub fn of(j: &MappedJourney) -> Hot {
        Hot {
            day: j.day,
            mode: j.report.journey.mode,
            cross_border: j.cross_border,
            return_run: j.return_run,
            urban_to_rural: j.urban_to_rural,
            persons: j.persons,
            children: j.children,
            origin_force: j.origin.force,
            destination_force: j.destination.force,
            exporting_force: j.exporting_force,
            importing_force: j.importing_force,
            route: u32::MAX,
        }
    }
}

impl JourneyIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a journey; a report id already present is ignored (returns false).
    pub fn insert(&mut self, mut j: MappedJourney) -> bool {
        if self.by_id.contains_key(&j.report.report_id) {
            return false;
        }
        self.number_people(&mut j);
        let i = self.journeys.len() as u32;
        self.by_id.insert(j.report.report_id.clone(), i);
        self.index_stations(i, &j);
        let routes = self.route_list.len();
        let route = self.index_day_and_route(i, &j);
        if self.route_list.len() > routes
            && let Some(r) = route_rect(&j.route.bbox)
        {
            let span = self.route_spans[route as usize];
            self.route_tree
                .insert(GeomWithData::new(r, RouteLeaf { route, span }));
        }
        self.hot.push(Hot {
            route,
            ..Hot::of(&j)
        });
        self.journeys.push(Arc::new(j));
        self.version += 1;
        true
    }

    /// The data version: changes whenever a journey is added or a restriction set or lifted.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Carries on the numbering of an index this one replaces (versions never repeat).
    pub fn continue_from(&mut self, earlier: &JourneyIndex) {
        self.version += earlier.version + 1;
    }

    pub fn is_restricted(&self, report_id: &str) -> bool {
        !self.restricted.is_empty() && self.restricted.contains(report_id)
    }

    /// Sets the restricted report ids (a new version only if they changed).
    pub fn set_restricted(&mut self, ids: std::collections::HashSet<String>) {
        if ids != self.restricted {
            self.restricted = ids;
            self.version += 1;
        }
    }

    /// The restricted ids now.
    pub fn restricted(&self) -> &std::collections::HashSet<String> {
        &self.restricted
    }

    fn index_stations(&mut self, i: u32, j: &MappedJourney) {
        let stations = j
            .origin
            .station
            .into_iter()
            .chain(j.destination.station)
            .chain(j.route.stations.iter().copied());
        for s in stations {
            let s = s as usize;
            if s >= self.by_station.len() {
                self.by_station.resize_with(s + 1, Vec::new);
            }
            let list = &mut self.by_station[s];
            if list.last() != Some(&i) {
                list.push(i);
            }
        }
    }

    /// Files the journey at position `i` under its day; returns its route's number.
    fn index_day_and_route(&mut self, i: u32, j: &MappedJourney) -> u32 {
        self.by_day.entry(j.day).or_default().push(i);
        let next = self.route_numbers.len() as u32;
        let r = *self
            .route_numbers
            .entry(Arc::as_ptr(&j.route) as usize)
            .or_insert(next);
        if r == next {
            self.route_boxes.push(j.route.bbox);
            self.route_list.push(j.route.clone());
            self.route_journeys.push(OnRoute::Few(0, [0; 3]));
            let span = match &j.route.geometry {
                RouteGeometry::Pieces(p) => Span::appended(&mut self.route_pieces, p, false),
                RouteGeometry::Line(c) => Span::appended(&mut self.route_points, c, true),
            };
            self.route_spans.push(span);
        }
        self.route_journeys[r as usize].push(i);
        r
    }

    /// The positions of the journeys on route number `r` (ascending; none for a number not
    /// given).
    pub fn journeys_on_route(&self, r: u32) -> &[u32] {
        self.route_journeys
            .get(r as usize)
            .map_or(&[], OnRoute::as_slice)
    }

    /// Each numbered route, by route number ([`Hot::route`]).
    pub fn route_list(&self) -> &[Arc<MappedRoute>] {
        &self.route_list
    }

    /// Route number `r`'s geometry and box for a spatial test, from the index's side-by-side
    /// copies (the route itself is not visited).
    pub fn route_view(&self, r: u32) -> Option<RouteView<'_>> {
        let r = r as usize;
        Some(self.view_of(*self.route_spans.get(r)?, *self.route_boxes.get(r)?))
    }

    /// The geometry at `span` with its box.
    fn view_of(&self, span: Span, bbox: Bbox) -> RouteView<'_> {
        let (from, to) = (span.from as usize, span.to as usize);
        RouteView {
            geometry: if span.line {
                Shape::Line(self.route_points.get(from..to).unwrap_or(&[]))
            } else {
                Shape::Pieces(self.route_pieces.get(from..to).unwrap_or(&[]))
            },
            bbox,
        }
    }

    /// Each numbered route's box, by route number ([`Hot::route`]).
    pub fn route_boxes(&self) -> &[Bbox] {
        &self.route_boxes
    }

    /// How many routes are numbered (every [`Hot::route`] of this index is below it).
    pub fn routes(&self) -> usize {
        self.route_numbers.len()
    }

    /// Builds an index from many journeys at once (bulk-loaded R-tree).
    pub fn from_journeys(list: Vec<MappedJourney>) -> Self {
        Self::from_arcs(list.into_iter().map(Arc::new).collect())
    }

    /// Takes out the journeys of these report ids (erased): the index is rebuilt without them,
    /// so nothing of theirs stays in memory. Returns how many it held.
    pub fn remove(&mut self, ids: &std::collections::HashSet<String>) -> usize {
        let n = ids.iter().filter(|id| self.by_id.contains_key(*id)).count();
        if n == 0 {
            return 0;
        }
        let keep: Vec<Arc<MappedJourney>> = self
            .journeys
            .iter()
            .filter(|j| !ids.contains(&j.report.report_id))
            .cloned()
            .collect();
        let mut fresh = JourneyIndex::from_arcs(keep);
        fresh.restricted = self
            .restricted
            .iter()
            .filter(|id| !ids.contains(*id))
            .cloned()
            .collect();
        fresh.versions = self
            .versions
            .iter()
            .filter(|(id, _)| !ids.contains(*id))
            .map(|(id, v)| (id.clone(), *v))
            .collect();
        fresh.continue_from(self);
        *self = fresh;
        n
    }

    /// The version of a report held (1 unless it was rectified).
    pub fn version_of(&self, report_id: &str) -> i64 {
        self.versions.get(report_id).copied().unwrap_or(1)
    }

    /// Records the version of a journey held (after [`JourneyIndex::insert`] of a rectified
    /// report, or a load).
    pub fn set_version(&mut self, report_id: &str, version: i64) {
        if version > 1 {
            self.versions.insert(report_id.to_string(), version);
        }
    }

    /// Puts rectified versions in place of the journeys they correct (each only if newer than
    /// the one held; ids not held are passed over): the index is rebuilt, in the same order,
    /// so that no count of an old version stays; restrictions are kept. Returns how many.
    pub fn replace(&mut self, list: Vec<(MappedJourney, i64)>) -> usize {
        let mut subs: HashMap<String, (MappedJourney, i64)> = list
            .into_iter()
            .filter(|(j, v)| {
                self.by_id.contains_key(&j.report.report_id)
                    && *v > self.version_of(&j.report.report_id)
            })
            .map(|(j, v)| (j.report.report_id.clone(), (j, v)))
            .collect();
        let n = subs.len();
        if n == 0 {
            return 0;
        }
        let mut versions = self.versions.clone();
        let all: Vec<Arc<MappedJourney>> = self
            .journeys
            .iter()
            .map(|j| match subs.remove(&j.report.report_id) {
                Some((new, v)) => {
                    versions.insert(new.report.report_id.clone(), v);
                    Arc::new(new)
                }
                None => j.clone(),
            })
            .collect();
        let mut fresh = JourneyIndex::from_arcs(all);
        fresh.restricted = self.restricted.clone();
        fresh.versions = versions;
        fresh.continue_from(self);
        *self = fresh;
        n
    }

    fn from_arcs(list: Vec<Arc<MappedJourney>>) -> Self {
        let mut idx = JourneyIndex::new();
        let mut items = Vec::new();
        for mut j in list {
            if idx.by_id.contains_key(&j.report.report_id) {
                continue;
            }
            // numbered by this index (a rebuild after an erasure numbers afresh; a journey still
            // shared with the old index is copied first)
            idx.number_people(Arc::make_mut(&mut j));
            let i = idx.journeys.len() as u32;
            idx.by_id.insert(j.report.report_id.clone(), i);
            idx.index_stations(i, &j);
            let routes = idx.route_list.len();
            let route = idx.index_day_and_route(i, &j);
            if idx.route_list.len() > routes
                && let Some(r) = route_rect(&j.route.bbox)
            {
                let span = idx.route_spans[route as usize];
                items.push(GeomWithData::new(r, RouteLeaf { route, span }));
            }
            idx.hot.push(Hot {
                route,
                ..Hot::of(&j)
            });
            idx.journeys.push(j);
        }
        idx.route_tree = RTree::bulk_load(items);
        idx.version = idx.journeys.len() as u64;
        idx
    }

    /// Fills in [`MappedJourney::person_keys`] from the index's numbering of person keys.
    fn number_people(&mut self, j: &mut MappedJourney) {
        j.person_keys = j
            .report
            .persons
            .iter()
            .map(|p| {
                let next = self.people.len() as u32;
                let id = match self.people.get(p.person_id.as_str()) {
                    Some(&id) => id,
                    None => {
                        self.people.insert(p.person_id.clone(), next);
                        next
                    }
                };
                id << 1 | u32::from(p.age_band.is_child())
            })
            .collect();
    }

    pub fn len(&self) -> usize {
        self.journeys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.journeys.is_empty()
    }

    pub fn get(&self, report_id: &str) -> Option<&Arc<MappedJourney>> {
        self.by_id
            .get(report_id)
            .map(|&i| &self.journeys[i as usize])
    }

    pub fn all(&self) -> &[Arc<MappedJourney>] {
        &self.journeys
    }

    fn passes(&self, geo: &Geography, i: u32, f: &JourneyFilter) -> bool {
        // the journey itself is read only where a filter needs more than its hot fields
        let j = &self.journeys[i as usize];
        let h = &self.hot[i as usize];
        if f.btp_sourced && !j.report.btp_sourced() {
            return false;
        }
        if !f.include_restricted && self.is_restricted(&j.report.report_id) {
            return false;
        }
        if f.from_day.is_some_and(|d| h.day < d) || f.to_day.is_some_and(|d| h.day > d) {
            return false;
        }
        if f.cross_border.is_some_and(|c| c != h.cross_border)
            || f.exporting_force
                .is_some_and(|e| h.exporting_force != Some(e))
            || f.importing_force
                .is_some_and(|e| h.importing_force != Some(e))
            || (!f.modes.is_empty() && !f.modes.contains(&h.mode))
        {
            return false;
        }
        if f.line
            .as_deref()
            .is_some_and(|l| j.report.line.as_ref().is_none_or(|x| x.line_id != l))
        {
            return false;
        }
        if let Some(s) = f.station
            && j.origin.station != Some(s)
            && j.destination.station != Some(s)
            && !j.route.stations.contains(&s)
        {
            return false;
        }
        if (!f.age_bands.is_empty() || !f.roles.is_empty())
            && !j.report.persons.iter().any(|p| {
                (f.age_bands.is_empty() || f.age_bands.contains(&p.age_band))
                    && (f.roles.is_empty() || p.roles.iter().any(|r| f.roles.contains(r)))
            })
        {
            return false;
        }
        if f.force.is_some_and(|force| !touches(j, force))
            || f.within_force.is_some_and(|force| !touches(j, force))
        {
            return false;
        }
        f.bbox.is_none_or(|b| j.route.intersects(geo, &b))
            && f.time.is_none_or(|t| t.passes(&j.report))
    }

    /// Whether the journey at position `i` of this index (in the order added, as
    /// [`Self::all`]) passes `f`, as [`Self::matching`] decides (its box included): for callers
    /// that walk their own grouping of the journeys (vector tiles).
    pub fn selects(&self, geo: &Geography, i: u32, f: &JourneyFilter) -> bool {
        self.passes(geo, i, f)
    }

    /// With an `hours` or `days` filter: how many journeys it left out for having no time
    /// (they pass every other filter); None without one.
    pub fn untimed_excluded(&self, geo: &Geography, f: &JourneyFilter) -> Option<usize> {
        f.time?;
        let rest = JourneyFilter {
            time: None,
            ..f.clone()
        };
        Some(
            self.matching(geo, &rest)
                .iter()
                .filter(|j| super::clock::when(&j.report).is_none())
                .count(),
        )
    }

    /// Every matching journey, in the order they were added.
    pub fn matching<'a>(
        &'a self,
        geo: &'a Geography,
        f: &'a JourneyFilter,
    ) -> Vec<&'a Arc<MappedJourney>> {
        self.positions(geo, f, |_, _| true)
            .into_iter()
            .map(|i| &self.journeys[i as usize])
            .collect()
    }

    /// The positions (in the order journeys were added) of the journeys that match `f` and
    /// pass `keep`: the candidates are narrowed through the route R-tree (`bbox`) or the
    /// station lists (`station`) first. Positions are of this version of the index
    /// ([`JourneyIndex::version`]): read them with [`JourneyIndex::at`] on the same version.
    pub fn positions(
        &self,
        geo: &Geography,
        f: &JourneyFilter,
        keep: impl Fn(&MappedJourney, &Hot) -> bool,
    ) -> Vec<u32> {
        self.positions_within(geo, f, None, keep)
    }

    /// [`JourneyIndex::positions`], the candidates also narrowed to the journeys whose route's
    /// box meets `envelope` (through the R-tree only: `keep` makes the exact test). Without a
    /// box or a station, a date range (`from_day`, `to_day`) that holds under half the journeys
    /// is read from the day lists.
    pub fn positions_within(
        &self,
        geo: &Geography,
        f: &JourneyFilter,
        envelope: Option<Bbox>,
        keep: impl Fn(&MappedJourney, &Hot) -> bool,
    ) -> Vec<u32> {
        self.positions_on_routes(geo, f, envelope, |_, _| true, keep)
    }

    /// [`JourneyIndex::positions_within`], and with a box (`f.bbox` or `envelope`) only the
    /// journeys on routes that pass `route` (given a route number, [`Hot::route`], and the route's
    /// geometry and box as [`JourneyIndex::route_view`] gives them, read from the R-tree; each
    /// candidate route is asked once, and its journeys are not visited when it fails): with a
    /// box the candidates are the routes of the route R-tree whose box meets it (and the other
    /// box when both are given), their journeys gathered in order (a bit per journey) before
    /// `f` and `keep` are tested on each. `route` must hold for every route of a journey `keep`
    /// passes (it is a shortcut, not a further filter); it is asked nothing without a box.
    pub fn positions_on_routes(
        &self,
        geo: &Geography,
        f: &JourneyFilter,
        envelope: Option<Bbox>,
        mut route: impl FnMut(u32, RouteView<'_>) -> bool,
        keep: impl Fn(&MappedJourney, &Hot) -> bool,
    ) -> Vec<u32> {
        let ok = |i: u32| {
            crate::cancel::check_at(i as usize);
            self.passes(geo, i, f) && keep(&self.journeys[i as usize], &self.hot[i as usize])
        };
        let (first, second) = match (f.bbox, envelope) {
            (Some(a), b) => (Some(a), b),
            (None, b) => (b, None),
        };
        match first {
            Some(b) => {
                let env = AABB::from_corners([b.min_lon, b.min_lat], [b.max_lon, b.max_lat]);
                let mut marks = vec![0u64; self.journeys.len().div_ceil(64)];
                for it in self.route_tree.locate_in_envelope_intersecting(env) {
                    let RouteLeaf { route: r, span } = it.data;
                    let (lo, hi) = (it.geom().lower(), it.geom().upper());
                    let bbox = Bbox {
                        min_lon: lo[0],
                        min_lat: lo[1],
                        max_lon: hi[0],
                        max_lat: hi[1],
                    };
                    if second.is_some_and(|o| !bbox.intersects(&o))
                        || !route(r, self.view_of(span, bbox))
                    {
                        continue;
                    }
                    for &i in self.route_journeys[r as usize].as_slice() {
                        marks[i as usize / 64] |= 1 << (i % 64);
                    }
                }
                let mut ids = Vec::new();
                for (w, &word) in marks.iter().enumerate() {
                    let mut m = word;
                    while m != 0 {
                        let i = (w * 64) as u32 + m.trailing_zeros();
                        m &= m - 1;
                        if ok(i) {
                            ids.push(i);
                        }
                    }
                }
                ids
            }
            None if f.station.is_some() => f
                .station
                .and_then(|s| self.by_station.get(s as usize))
                .into_iter()
                .flatten()
                .copied()
                .filter(|&i| ok(i))
                .collect(),
            None if f.from_day.is_some() || f.to_day.is_some() => {
                let (from, to) = (f.from_day.unwrap_or(i32::MIN), f.to_day.unwrap_or(i32::MAX));
                if from > to {
                    return Vec::new();
                }
                let days = self.by_day.range(from..=to);
                let n: usize = days.clone().map(|(_, v)| v.len()).sum();
                if n > self.journeys.len() / 2 {
                    // most journeys: a scan in order costs less than gathering and sorting
                    return (0..self.journeys.len() as u32).filter(|&i| ok(i)).collect();
                }
                let mut ids: Vec<u32> = Vec::with_capacity(n);
                days.for_each(|(_, v)| ids.extend(v.iter().copied().filter(|&i| ok(i))));
                ids.sort_unstable();
                ids
            }
            None => (0..self.journeys.len() as u32).filter(|&i| ok(i)).collect(),
        }
    }

    /// The journey at a position [`JourneyIndex::positions`] gave.
    pub fn at(&self, i: u32) -> Option<&Arc<MappedJourney>> {
        self.journeys.get(i as usize)
    }

    /// The number matching and the page `[offset, offset + limit)` of them.
    pub fn query(
        &self,
        geo: &Geography,
        f: &JourneyFilter,
        offset: usize,
        limit: usize,
    ) -> (usize, Vec<Arc<MappedJourney>>) {
        let all = self.matching(geo, f);
        let page = all
            .iter()
            .skip(offset)
            .take(limit)
            .map(|j| Arc::clone(j))
            .collect();
        (all.len(), page)
    }
}
