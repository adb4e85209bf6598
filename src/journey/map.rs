//! Mapping a validated report onto the geography.
//!
//! - **Ends.** A station end is that station. A point end snaps to the nearest station within
//!   [`SNAP_TOLERANCE_M`] (the result gives the distance); farther than that it stays a point.
//! - **Route.** Rail journeys run along the rail graph through any `via` stations, from station to
//!   station; both ends must then be stations. Where the graph cannot connect them (the Isle of
//!   Wight has no rail link) the journey is drawn as a geodesic line and says so
//!   (`route_method: "geodesic_fallback"`). Other modes are a geodesic line (densified every
//!   [`GEODESIC_STEP_M`]) through the ends and any via stations.
//! - **Forces.** The force of each end: a station end's (also a point that snapped to a
//!   station: the station's force, not the force of the point, which may be offshore), else the
//!   point's; the forces crossed in order with the metres inside each; `exporting_force` is the
//!   line's when the report gives one, else the origin's; `importing_force` is the force the line
//!   supplies: the destination's, or the origin's when the journey ends back in the exporting
//!   force (a `return_run`); `cross_border` when origin and destination forces differ.
//! - **Urban to rural.** Each end station is classed from the station data: `urban` for the
//!   metropolitan areas that export lines (London Travelcard area or a metropolitan PTE area:
//!   Greater Manchester, Merseyside, West Midlands, West and South Yorkshire, Tyne and Wear,
//!   Strathclyde), else `town` with at least [`TOWN_FOOTFALL`] entries and exits in 2019-20, else
//!   `rural`; an end with no station is `unknown`. `urban_to_rural` is an urban origin and a town
//!   or rural destination: the hub-to-county pattern of DOMAIN.md §2.

use super::report::{FieldError, Mode, Place, Report};
use crate::geography::geodesy::{geodesic_m, segment_length_m};
use crate::geography::{Bbox, ForceSpan, Geography, LocateMethod, Piece, Station};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Metres within which a point end snaps to the nearest station.
pub const SNAP_TOLERANCE_M: f64 = 2_000.0;
/// Entries and exits a year (ORR 2019-20) from which a non-metropolitan station is a `town`.
pub const TOWN_FOOTFALL: u64 = 1_000_000;
/// Geodesic lines are densified to points at most this far apart.
pub const GEODESIC_STEP_M: f64 = 5_000.0;
/// The route cache stops growing at this many entries.
const ROUTE_CACHE_MAX: usize = 200_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StationClass {
    Urban,
    Town,
    Rural,
    Unknown,
}

impl StationClass {
    /// The name in the journey's properties.
    pub fn as_str(self) -> &'static str {
        match self {
            StationClass::Urban => "urban",
            StationClass::Town => "town",
            StationClass::Rural => "rural",
            StationClass::Unknown => "unknown",
        }
    }

    pub fn of(s: &Station) -> StationClass {
        if s.london_travelcard == Some(true) || s.pte_urban_area.is_some() {
            StationClass::Urban
        } else if s.entries_exits_2019_20.unwrap_or(0) >= TOWN_FOOTFALL {
            StationClass::Town
        } else {
            StationClass::Rural
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteMethod {
    Rail,
    Geodesic,
    GeodesicFallback,
}

impl RouteMethod {
    /// The name in the journey's properties.
    pub fn as_str(self) -> &'static str {
        match self {
            RouteMethod::Rail => "rail",
            RouteMethod::Geodesic => "geodesic",
            RouteMethod::GeodesicFallback => "geodesic_fallback",
        }
    }
}

/// One end of a mapped journey.
#[derive(Clone, Debug, PartialEq)]
pub struct End {
    pub station: Option<u32>,
    /// the point given, or the station's position for a station end
    pub point: [f64; 2],
    /// for a point end that snapped to a station: metres from the point to the station
    pub snapped_m: Option<f64>,
    pub force: Option<u16>,
    pub force_method: Option<LocateMethod>,
    pub class: StationClass,
}

/// A route's geometry: parts of rail chains, or explicit points.
#[derive(Clone, Debug)]
pub enum RouteGeometry {
    Pieces(Vec<Piece>),
    Line(Vec<[f64; 2]>),
}

/// The mapped route, shared by every journey on the same stops.
#[derive(Clone, Debug)]
pub struct MappedRoute {
    pub geometry: RouteGeometry,
    pub method: RouteMethod,
    pub distance_m: f64,
    pub stations: Vec<u32>,
    pub forces: Vec<ForceSpan>,
    pub bbox: Bbox,
}

/// A report with everything the geography says about it.
#[derive(Clone, Debug)]
pub struct MappedJourney {
    pub report: Report,
    /// days since 1970-01-01 of the journey date, for filtering
    pub day: i32,
    pub origin: End,
    pub destination: End,
    pub route: Arc<MappedRoute>,
    pub exporting_force: Option<u16>,
    /// the force the line supplies: the destination's, or the origin's on a return run
    pub importing_force: Option<u16>,
    /// the journey ends back in the line's exporting force, from another force (a runner
    /// coming home)
    pub return_run: bool,
    pub cross_border: bool,
    pub urban_to_rural: bool,
    pub persons: u16,
    pub children: u16,
    /// the report's seizures and grading, summarised (none when it has neither)
    pub carried: Option<Box<super::carried::Carried>>,
    /// the persons' keys as numbers, `(id << 1) | child` in the order of `report.persons`:
    /// `id` numbers the distinct `person_id`s of the index that holds the journey (filled in
    /// when it is inserted; empty before), `child` says under 18 on this journey. Distinct
    /// counts read these instead of hashing strings per query.
    pub person_keys: Vec<u32>,
}

/// Days since 1970-01-01.
pub fn day_number(d: time::Date) -> i32 {
    d.to_julian_day() - 2_440_588
}

/// Maps reports; caches rail routes by their stops (reports repeat corridors).
pub struct Mapper {
    geo: Arc<Geography>,
    /// mapped routes by stops (rail) or by points (other modes)
    cache: Mutex<HashMap<Vec<u64>, Arc<MappedRoute>>>,
}

impl Mapper {
    pub fn new(geo: Arc<Geography>) -> Mapper {
        Mapper {
            geo,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn geography(&self) -> &Arc<Geography> {
        &self.geo
    }

    fn end(&self, place: &Place) -> End {
        let g = &self.geo;
        let (station, point, snapped_m) = match place {
            Place::Station { station } => {
                let i = g.stations.index_of(station).map(|i| i as u32);
                let p = i
                    .map(|i| g.stations.get(i as usize).pos())
                    .unwrap_or([0.0, 0.0]);
                (i, p, None)
            }
            Place::Point { lon, lat } => {
                let p = [*lon, *lat];
                match g.stations.nearest(p) {
                    Some(n) if n.distance_m <= SNAP_TOLERANCE_M => {
                        // the snapped distance is reported: make it the exact geodesic. The
                        // point stays the point given: rail routes start at the station, other
                        // modes at the point.
                        let s = g.stations.get(n.station);
                        (Some(n.station as u32), p, Some(geodesic_m(p, s.pos())))
                    }
                    _ => (None, p, None),
                }
            }
        };
        // A station end (given or snapped) takes the station's force: a reported point can lie
        // offshore of a coastal station (Cleethorpes) and be in no force at all.
        let hit = match station {
            Some(i) => g.station_force(i as usize),
            None => g.forces.locate(point),
        };
        let class = station
            .map(|i| StationClass::of(g.stations.get(i as usize)))
            .unwrap_or(StationClass::Unknown);
        End {
            station,
            point,
            snapped_m,
            force: hit.map(|h| h.force as u16),
            force_method: hit.map(|h| h.method),
            class,
        }
    }

    /// Maps a validated report.
    pub fn map(&self, report: Report) -> Result<MappedJourney, FieldError> {
        let g = &self.geo;
        let j = &report.journey;
        let origin = self.end(&j.origin);
        let destination = self.end(&j.destination);
        let via: Vec<u32> = j
            .via
            .iter()
            .filter_map(|c| g.stations.index_of(c).map(|i| i as u32))
            .collect();
        let route = if j.mode == Mode::Rail {
            for (end, path) in [
                (&origin, "journey.origin"),
                (&destination, "journey.destination"),
            ] {
                if end.station.is_none() {
                    return Err(FieldError {
                        path: path.into(),
                        message: format!(
                            "no station within {SNAP_TOLERANCE_M:.0} m of ({}, {}) for a rail journey",
                            end.point[0], end.point[1]
                        ),
                    });
                }
            }
            let mut stops = vec![origin.station.unwrap_or(0)];
            stops.extend(&via);
            stops.push(destination.station.unwrap_or(0));
            self.rail_route(stops)
        } else {
            let mut pts = vec![origin.point];
            pts.extend(via.iter().map(|&i| g.stations.get(i as usize).pos()));
            pts.push(destination.point);
            let mut stations: Vec<u32> = origin.station.into_iter().collect();
            stations.extend(&via);
            stations.extend(destination.station);
            self.line_route(&pts, stations)
        };
        let exporting_force = report
            .line
            .as_ref()
            .and_then(|l| l.exporting_force.as_ref())
            .and_then(|c| g.forces.index_of(c))
            .map(|i| i as u16)
            .or(origin.force);
        let return_run = exporting_force.is_some()
            && destination.force == exporting_force
            && origin.force.is_some()
            && origin.force != exporting_force;
        let importing_force = if return_run {
            origin.force
        } else {
            destination.force
        };
        let cross_border =
            matches!((origin.force, destination.force), (Some(a), Some(b)) if a != b);
        let urban_to_rural = origin.class == StationClass::Urban
            && matches!(destination.class, StationClass::Town | StationClass::Rural);
        let persons = report.persons.len().min(u16::MAX as usize) as u16;
        let children = report.children().min(u16::MAX as usize) as u16;
        let carried = super::carried::Carried::of(&report);
        Ok(MappedJourney {
            carried,
            return_run,
            person_keys: Vec::new(),
            day: day_number(j.date),
            report,
            origin,
            destination,
            route,
            exporting_force,
            importing_force,
            cross_border,
            urban_to_rural,
            persons,
            children,
        })
    }

    fn cached(&self, key: &[u64], make: impl FnOnce() -> MappedRoute) -> Arc<MappedRoute> {
        if let Some(r) = self.cache.lock().ok().and_then(|c| c.get(key).cloned()) {
            return r;
        }
        let route = Arc::new(make());
        if let Ok(mut c) = self.cache.lock()
            && c.len() < ROUTE_CACHE_MAX
        {
            c.insert(key.to_vec(), route.clone());
        }
        route
    }

    fn rail_route(&self, stops: Vec<u32>) -> Arc<MappedRoute> {
        let key: Vec<u64> = std::iter::once(0)
            .chain(stops.iter().map(|&s| s as u64))
            .collect();
        self.cached(&key, || {
            let g = &self.geo;
            let idx: Vec<usize> = stops.iter().map(|&s| s as usize).collect();
            match g.rail.route_with(&idx, false) {
                Ok(r) => {
                    // the union of the chains' boxes: a superset, refined by `intersects`
                    let mut bbox = Bbox::EMPTY;
                    for &(c, _, _) in &r.pieces {
                        let b = g.rail.chains()[c as usize].bbox;
                        bbox.extend([b.min_lon, b.min_lat]);
                        bbox.extend([b.max_lon, b.max_lat]);
                    }
                    MappedRoute {
                        forces: g.route_forces(&r.pieces),
                        geometry: RouteGeometry::Pieces(r.pieces),
                        method: RouteMethod::Rail,
                        distance_m: r.distance_m,
                        stations: r.stations.iter().map(|&s| s as u32).collect(),
                        bbox,
                    }
                }
                Err(_) => {
                    let pts: Vec<[f64; 2]> = idx.iter().map(|&i| g.stations.get(i).pos()).collect();
                    self.geodesic_route(&pts, stops.clone(), RouteMethod::GeodesicFallback)
                }
            }
        })
    }

    fn line_route(&self, pts: &[[f64; 2]], stations: Vec<u32>) -> Arc<MappedRoute> {
        let key: Vec<u64> = std::iter::once(1)
            .chain(pts.iter().flat_map(|p| [p[0].to_bits(), p[1].to_bits()]))
            .chain(std::iter::once(u64::MAX))
            .chain(stations.iter().map(|&s| s as u64))
            .collect();
        self.cached(&key, || {
            self.geodesic_route(pts, stations.clone(), RouteMethod::Geodesic)
        })
    }

    fn geodesic_route(
        &self,
        pts: &[[f64; 2]],
        stations: Vec<u32>,
        method: RouteMethod,
    ) -> MappedRoute {
        let mut coords = vec![pts[0]];
        let mut distance_m = 0.0;
        for w in pts.windows(2) {
            let d = geodesic_m(w[0], w[1]);
            distance_m += d;
            // vertices by spherical interpolation (within metres of the ellipsoidal geodesic
            // over British distances); the length above is the exact geodesic
            let n = (d / GEODESIC_STEP_M).ceil().max(1.0) as usize;
            for k in 1..n {
                coords.push(slerp(w[0], w[1], k as f64 / n as f64));
            }
            coords.push(w[1]);
        }
        let mut bbox = Bbox::EMPTY;
        for p in &coords {
            bbox.extend(*p);
        }
        let mut stations = stations;
        stations.dedup();
        MappedRoute {
            forces: self.geo.forces_along(&coords),
            geometry: RouteGeometry::Line(coords),
            method,
            distance_m,
            stations,
            bbox,
        }
    }
}

/// The point a fraction `t` of the way along the great circle from `a` to `b` (lon/lat).
fn slerp(a: [f64; 2], b: [f64; 2], t: f64) -> [f64; 2] {
    let v = |p: [f64; 2]| {
        let (lon, lat) = (p[0].to_radians(), p[1].to_radians());
        [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
    };
    let (va, vb) = (v(a), v(b));
    let dot = (va[0] * vb[0] + va[1] * vb[1] + va[2] * vb[2]).clamp(-1.0, 1.0);
    let omega = dot.acos();
    if omega < 1e-12 {
        return a;
    }
    let (sa, sb) = (
        ((1.0 - t) * omega).sin() / omega.sin(),
        (t * omega).sin() / omega.sin(),
    );
    let p = [
        sa * va[0] + sb * vb[0],
        sa * va[1] + sb * vb[1],
        sa * va[2] + sb * vb[2],
    ];
    [
        p[1].atan2(p[0]).to_degrees(),
        p[2].atan2(p[0].hypot(p[1])).to_degrees(),
    ]
}

impl MappedRoute {
    /// The route's points, lon/lat.
    pub fn coords(&self, geo: &Geography) -> Vec<[f64; 2]> {
        match &self.geometry {
            RouteGeometry::Line(c) => c.clone(),
            RouteGeometry::Pieces(pieces) => {
                let mut out = Vec::new();
                for &(c, from, to) in pieces {
                    geo.rail.chains()[c as usize].append_slice(from, to, &mut out);
                }
                if out.len() == 1 {
                    out.push(out[0]);
                }
                out
            }
        }
    }

    /// Whether any part of the route intersects `b` (edges included): [`RouteView::intersects`].
    pub fn intersects(&self, geo: &Geography, b: &Bbox) -> bool {
        self.view().intersects(geo, b)
    }

    /// Whether the route intersects geometry `g` (lon/lat): [`RouteView::intersects_geometry`].
    pub fn intersects_geometry(&self, geo: &Geography, g: &geo::Geometry<f64>) -> bool {
        self.view().intersects_geometry_with(geo, g, None)
    }

    /// [`RouteView::intersects_geometry_with`].
    pub fn intersects_geometry_with(
        &self,
        geo: &Geography,
        g: &geo::Geometry<f64>,
        memo: Option<&mut ChainMemo>,
    ) -> bool {
        self.view().intersects_geometry_with(geo, g, memo)
    }

    /// The route's geometry and box as the spatial tests read them.
    pub fn view(&self) -> RouteView<'_> {
        RouteView {
            geometry: match &self.geometry {
                RouteGeometry::Pieces(p) => Shape::Pieces(p),
                RouteGeometry::Line(c) => Shape::Line(c),
            },
            bbox: self.bbox,
        }
    }
}

/// A route's geometry and box as a spatial test reads them, borrowed from a [`MappedRoute`]
/// or from a copy kept side by side in an index (so that the test need not visit the route).
#[derive(Clone, Copy, Debug)]
pub struct RouteView<'a> {
    pub geometry: Shape<'a>,
    pub bbox: Bbox,
}

/// A route's geometry, borrowed: parts of rail chains, or explicit points.
#[derive(Clone, Copy, Debug)]
pub enum Shape<'a> {
    Pieces(&'a [Piece]),
    Line(&'a [[f64; 2]]),
}

impl RouteView<'_> {
    /// Whether any part of the route intersects `b` (edges included): geo's predicate on the
    /// route's line as [`MappedRoute::coords`] gives it (each segment against the rectangle),
    /// without building the line. A route whose box lies inside `b` meets it at once; a chain
    /// whose box lies outside `b` is passed over and one inside it meets it; a segment is
    /// tested only when its own box meets `b`.
    pub fn intersects(self, geo: &Geography, b: &Bbox) -> bool {
        self.meets_box(geo, b, None)
    }

    /// The box test; with a memo the route's own box is not read (the caller keeps a copy
    /// and has compared it: reading it is a cache miss per route), each chain's still is.
    fn meets_box(&self, geo: &Geography, b: &Bbox, memo: Option<&mut ChainMemo>) -> bool {
        if memo.is_none() {
            if !grown(&self.bbox, CHAIN_MARGIN).intersects(b) {
                return false;
            }
            if !self.bbox.is_empty() && within(&self.bbox, b) {
                return true;
            }
        }
        let r = geo::Rect::new(
            geo::coord! { x: b.min_lon, y: b.min_lat },
            geo::coord! { x: b.max_lon, y: b.max_lat },
        );
        self.any_segment(geo, b, Inside::Box, memo, |p, q| {
            segment_meets_rect(p, q, &r)
        })
    }

    /// Whether the route intersects geometry `g` (lon/lat): geo's predicate on the route's line
    /// as [`MappedRoute::coords`] gives it, without building the line: chains whose box misses
    /// `g`'s are passed over, and of the rest only segments whose box meets `g`'s are tested
    /// (for a polygon: its first point inside, or a segment meeting an edge, as geo decides a
    /// line against an area). A rectangle is the rectangle's test above.
    pub fn intersects_geometry(&self, geo: &Geography, g: &geo::Geometry<f64>) -> bool {
        self.intersects_geometry_with(geo, g, None)
    }

    /// [`MappedRoute::intersects_geometry`], keeping in `memo` what it learns of each rail
    /// chain against `g` for the next route tested against the same `g` (a chain's box
    /// outside or inside, and whether the whole chain meets it).
    pub fn intersects_geometry_with(
        &self,
        geo: &Geography,
        g: &geo::Geometry<f64>,
        memo: Option<&mut ChainMemo>,
    ) -> bool {
        use geo::{BoundingRect, Intersects};
        let Some(e) = g.bounding_rect() else {
            return false;
        };
        let env = Bbox {
            min_lon: e.min().x,
            min_lat: e.min().y,
            max_lon: e.max().x,
            max_lat: e.max().y,
        };
        if let geo::Geometry::Rect(_) = g {
            return self.meets_box(geo, &env, memo);
        }
        if !grown(&self.bbox, CHAIN_MARGIN).intersects(&env) {
            return false;
        }
        let line = |p: [f64; 2], q: [f64; 2]| {
            geo::Line::new(
                geo::coord! { x: p[0], y: p[1] },
                geo::coord! { x: q[0], y: q[1] },
            )
        };
        let meets_env = |p: [f64; 2], q: [f64; 2]| {
            p[0].min(q[0]) <= env.max_lon
                && p[0].max(q[0]) >= env.min_lon
                && p[1].min(q[1]) <= env.max_lat
                && p[1].max(q[1]) >= env.min_lat
        };
        let polygons: Vec<&geo::Polygon<f64>> = match g {
            geo::Geometry::Polygon(p) => vec![p],
            geo::Geometry::MultiPolygon(m) => m.0.iter().collect(),
            _ => {
                // points and lines: any segment meeting it (a one-point route is that point)
                if let Some(p) = self.single_point(geo) {
                    return g.intersects(&geo::Point::new(p[0], p[1]));
                }
                return self.any_segment(geo, &env, Inside::Never, memo, |p, q| {
                    meets_env(p, q) && g.intersects(&line(p, q))
                });
            }
        };
        // geo on a line and a polygon: a segment meeting one of its rings, or the line's first
        // point inside (or on) it (then the rest of the line cannot be inside without one)
        // one polygon's segment test may keep what it learns of chains; several may not
        let mut memo = memo.filter(|_| polygons.len() == 1);
        polygons.into_iter().any(|poly| {
            let Some(pe) = poly.bounding_rect() else {
                return false;
            };
            let pb = Bbox {
                min_lon: pe.min().x,
                min_lat: pe.min().y,
                max_lon: pe.max().x,
                max_lat: pe.max().y,
            };
            if !grown(&self.bbox, CHAIN_MARGIN).intersects(&pb) {
                return false;
            }
            // the first point inside first: a route meeting a polygon about a city mostly
            // starts in it, and one point costs less than walking the segments inside it
            // (unless the memo says the first piece's chain lies outside the polygon)
            let outside = match (self.geometry, memo.as_deref()) {
                (Shape::Pieces(pieces), Some(m)) => pieces
                    .first()
                    .and_then(|&(c, ..)| m.0.get(c as usize))
                    .is_some_and(|&x| x == chain_state::OUTSIDE),
                _ => false,
            };
            (!outside
                && self.first_point(geo).is_some_and(|p| {
                    pb.contains(p) && poly.intersects(&geo::Point::new(p[0], p[1]))
                }))
                || self.any_segment(
                    geo,
                    &pb,
                    Inside::Polygon(poly),
                    memo.as_deref_mut(),
                    |p, q| {
                        p[0].min(q[0]) <= pb.max_lon
                            && p[0].max(q[0]) >= pb.min_lon
                            && p[1].min(q[1]) <= pb.max_lat
                            && p[1].max(q[1]) >= pb.min_lat
                            && {
                                let l = line(p, q);
                                std::iter::once(poly.exterior())
                                    .chain(poly.interiors())
                                    .any(|ring| ring.intersects(&l))
                            }
                    },
                )
        })
    }

    /// The route's first point (that of [`MappedRoute::coords`]).
    fn first_point(&self, geo: &Geography) -> Option<[f64; 2]> {
        match self.geometry {
            Shape::Line(c) => c.first().copied(),
            Shape::Pieces(pieces) => pieces.first().and_then(|&(c, from, to)| {
                geo.rail.chains()[c as usize].slice_points(from, to).next()
            }),
        }
    }

    /// The point of a geodesic route of one point (a line of one point, which geo reads as
    /// that point); None for any other route.
    fn single_point(&self, _geo: &Geography) -> Option<[f64; 2]> {
        match self.geometry {
            Shape::Line(c) if c.len() == 1 => c.first().copied(),
            _ => None,
        }
    }

    /// Whether `seg` holds for a segment of the route's line (those of
    /// [`MappedRoute::coords`], a point repeated as a segment of no length), passing over the
    /// rail pieces on chains whose box lies more than [`CHAIN_MARGIN`] outside `env` (their
    /// segments cannot meet it), and answering from a chain's box alone where `inside` allows:
    /// true for a piece on a chain whose box lies that much inside the box `env` or, grown by
    /// it, inside the polygon (each of its points is in it), false (the piece passed over) for
    /// one whose grown box lies outside the polygon and meets none of its rings. Pieces join end
    /// to start (at a junction or a stop), so the step between two pieces is no segment.
    fn any_segment(
        &self,
        geo: &Geography,
        env: &Bbox,
        inside: Inside<'_>,
        mut memo: Option<&mut ChainMemo>,
        mut seg: impl FnMut([f64; 2], [f64; 2]) -> bool,
    ) -> bool {
        match self.geometry {
            Shape::Line(c) => {
                if let [p] = c {
                    return seg(*p, *p);
                }
                c.windows(2).any(|w| seg(w[0], w[1]))
            }
            Shape::Pieces(pieces) => {
                let chains = geo.rail.chains();
                // the two ends first: a route meets a box about a city mostly where it starts
                // or ends there
                let n = pieces.len();
                let order = [n.wrapping_sub(1), 0]
                    .into_iter()
                    .filter(move |&k| k < n)
                    .take(n.min(2))
                    .chain(1..n.saturating_sub(1));
                order.map(|k| pieces[k]).any(|(c, from, to)| {
                    // what the memo knows first: a chain whose box lies outside or inside
                    // needs no read of the chain
                    let known = memo
                        .as_deref()
                        .and_then(|m| m.0.get(c as usize).copied())
                        .unwrap_or(chain_state::UNKNOWN);
                    match known {
                        chain_state::OUTSIDE => return false,
                        chain_state::INSIDE => return true,
                        _ => {}
                    }
                    let chain = &chains[c as usize];
                    // the piece is the whole chain (as routes are built: 0 and its length)
                    let whole = from.min(to) == 0.0 && from.max(to) == chain.length_m();
                    match known {
                        chain_state::MEETS if whole => return true,
                        chain_state::MISSES if whole => return false,
                        chain_state::UNKNOWN => {
                            let state = if !grown(&chain.bbox, CHAIN_MARGIN).intersects(env) {
                                chain_state::OUTSIDE
                            } else {
                                match inside {
                                    Inside::Box if within(&chain.bbox, env) => chain_state::INSIDE,
                                    Inside::Polygon(poly) => {
                                        polygon_state(poly, &grown(&chain.bbox, CHAIN_MARGIN))
                                    }
                                    _ => chain_state::NEAR,
                                }
                            };
                            if let Some(m) = memo.as_deref_mut()
                                && let Some(x) = m.0.get_mut(c as usize)
                            {
                                *x = state;
                            }
                            match state {
                                chain_state::OUTSIDE => return false,
                                chain_state::INSIDE => return true,
                                _ => {}
                            }
                        }
                        _ => {}
                    }
                    let mut points = chain.slice_points(from, to);
                    let Some(mut prev) = points.next() else {
                        return false;
                    };
                    let mut any = false;
                    let mut hit = false;
                    for p in points {
                        if seg(prev, p) {
                            hit = true;
                            break;
                        }
                        any = true;
                        prev = p;
                    }
                    // a slice of one point
                    hit = hit || (!any && seg(prev, prev));
                    if whole
                        && let Some(m) = memo.as_deref_mut()
                        && let Some(x) = m.0.get_mut(c as usize)
                    {
                        *x = if hit {
                            chain_state::MEETS
                        } else {
                            chain_state::MISSES
                        };
                    }
                    hit
                })
            }
        }
    }
}

/// Which rail chains a route's segment test may take as meeting the geometry (or, for a
/// polygon, as missing it) from their box alone.
#[derive(Clone, Copy)]
enum Inside<'a> {
    /// the geometry is the box `env`: a chain whose box lies inside it meets it
    Box,
    /// a chain whose box no ring of the polygon meets lies wholly inside it (meets it) or
    /// wholly outside it (none of its segments meets a ring)
    Polygon(&'a geo::Polygon<f64>),
    /// none: every chain near the geometry is tested segment by segment
    Never,
}

/// A chain whose (grown) box is `b` against a polygon: NEAR when a segment of one of the
/// polygon's rings meets the box (geo's `Line` against `Rect`); otherwise the box lies in one
/// face of the rings, inside the polygon (INSIDE: every point of the chain is in it, so a route
/// along it meets the polygon, as geo decides a line against an area) or outside it (OUTSIDE:
/// no segment of the chain can meet a ring), as one of its corners does.
fn polygon_state(poly: &geo::Polygon<f64>, b: &Bbox) -> u8 {
    use geo::Intersects;
    let r = geo::Rect::new(
        geo::coord! { x: b.min_lon, y: b.min_lat },
        geo::coord! { x: b.max_lon, y: b.max_lat },
    );
    let touches = std::iter::once(poly.exterior())
        .chain(poly.interiors())
        .flat_map(|ring| ring.lines())
        .any(|l| segment_meets_rect([l.start.x, l.start.y], [l.end.x, l.end.y], &r));
    if touches {
        chain_state::NEAR
    } else if poly.intersects(&geo::Point::new(b.min_lon, b.min_lat)) {
        chain_state::INSIDE
    } else {
        chain_state::OUTSIDE
    }
}

/// What one spatial test has learnt of each rail chain (see [`chain_state`]), kept across the
/// routes it tests: many routes run along the same chains.
pub struct ChainMemo(Vec<u8>);

impl ChainMemo {
    /// Nothing known yet of any chain of `geo`.
    pub fn new(geo: &Geography) -> ChainMemo {
        ChainMemo(vec![chain_state::UNKNOWN; geo.rail.chains().len()])
    }
}

/// A chain against one geometry's test: its box outside the geometry's, inside it (a box
/// test: every point meets it), or near it, and then whether the whole chain meets it.
mod chain_state {
    pub const UNKNOWN: u8 = 0;
    pub const OUTSIDE: u8 = 1;
    pub const INSIDE: u8 = 2;
    pub const NEAR: u8 = 3;
    pub const MEETS: u8 = 4;
    pub const MISSES: u8 = 5;
}

/// Degrees (about 0.1 mm) by which whole chains are passed over or taken as inside: a slice's
/// end points are interpolated along a segment, so they may lie an ulp outside the chain's box.
const CHAIN_MARGIN: f64 = 1e-9;

/// `b` grown by `m` on every side (an empty box stays empty).
fn grown(b: &Bbox, m: f64) -> Bbox {
    Bbox {
        min_lon: b.min_lon - m,
        min_lat: b.min_lat - m,
        max_lon: b.max_lon + m,
        max_lat: b.max_lat + m,
    }
}

/// `inner` lies inside `outer` shrunk by [`CHAIN_MARGIN`].
fn within(inner: &Bbox, outer: &Bbox) -> bool {
    inner.min_lon >= outer.min_lon + CHAIN_MARGIN
        && inner.max_lon <= outer.max_lon - CHAIN_MARGIN
        && inner.min_lat >= outer.min_lat + CHAIN_MARGIN
        && inner.max_lat <= outer.max_lat - CHAIN_MARGIN
}

/// Whether segment `p`-`q` meets rectangle `r` (edges included), exactly as geo's `Line`
/// against `Rect`: a few comparisons first (the segment's box, an end inside).
fn segment_meets_rect(p: [f64; 2], q: [f64; 2], r: &geo::Rect<f64>) -> bool {
    use geo::Intersects;
    let (lo, hi) = (r.min(), r.max());
    if p[0].max(q[0]) < lo.x
        || p[0].min(q[0]) > hi.x
        || p[1].max(q[1]) < lo.y
        || p[1].min(q[1]) > hi.y
    {
        return false;
    }
    let inside = |a: [f64; 2]| a[0] >= lo.x && a[0] <= hi.x && a[1] >= lo.y && a[1] <= hi.y;
    inside(p)
        || inside(q)
        || geo::Line::new(
            geo::coord! { x: p[0], y: p[1] },
            geo::coord! { x: q[0], y: q[1] },
        )
        .intersects(r)
}

/// Whether a polyline touches a box (edges included).
pub fn polyline_intersects(coords: &[[f64; 2]], b: &Bbox) -> bool {
    if coords.len() == 1 {
        return b.contains(coords[0]);
    }
    coords.windows(2).any(|w| b.segment_intersects(w[0], w[1]))
}

/// Total length of a polyline, metres (for tests and checks).
pub fn line_length_m(coords: &[[f64; 2]]) -> f64 {
    coords
        .windows(2)
        .map(|w| segment_length_m(w[0], w[1]))
        .sum()
}

impl MappedJourney {
    /// Whole days from the journey's date to the date it was reported (UTC).
    pub fn reporting_lag_days(&self) -> Option<i32> {
        let r = &self.report;
        let reported = r
            .reported_at
            .get(..10)
            .and_then(super::report::parse_date)?;
        Some(day_number(reported) - self.day)
    }

    /// The journey's properties as a typed row: what [`MappedJourney::properties`] holds,
    /// serialised field by field (no JSON tree per journey), its keys in the same (sorted)
    /// order, so that both write the same text.
    pub fn row<'a>(&'a self, geo: &'a Geography) -> JourneyProperties<'a> {
        let r = &self.report;
        let round = |v: f64| (v * 100.0).round() / 100.0;
        let station = |s: Option<u32>| s.map(|i| Shown(&geo.stations.get(i as usize).code));
        let force = |f: Option<u16>| f.map(|i| Shown(&geo.forces.get(i as usize).code));
        JourneyProperties {
            children: self.children,
            cross_border: self.cross_border,
            date: super::report::format_date(r.journey.date),
            destination_class: self.destination.class,
            destination_force: force(self.destination.force),
            destination_snapped_m: self.destination.snapped_m.map(round),
            destination_station: station(self.destination.station),
            distance_m: round(self.route.distance_m),
            exporting_force: force(self.exporting_force),
            forces: ForceSpans(geo, &self.route.forces),
            importing_force: force(self.importing_force),
            line_id: r.line.as_ref().map(|l| &l.line_id),
            line_name: r.line.as_ref().and_then(|l| l.name.as_ref()),
            line_type: r.line.as_ref().and_then(|l| l.line_type),
            mode: r.journey.mode,
            origin_class: self.origin.class,
            origin_force: force(self.origin.force),
            origin_snapped_m: self.origin.snapped_m.map(round),
            origin_station: station(self.origin.station),
            persons: self.persons,
            persons_summary: None,
            report_id: &r.report_id,
            reported_at: &r.reported_at,
            reporting_lag_days: self.reporting_lag_days(),
            return_run: self.return_run,
            route_method: self.route.method,
            source_force: &r.source_force,
            stations: RouteStations(geo, &self.route.stations),
            urban_to_rural: self.urban_to_rural,
            via: &r.journey.via,
        }
    }

    /// The mapped journey's GeoJSON properties (the names are a contract; see the README).
    pub fn properties(&self, geo: &Geography) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::json;
        let r = &self.report;
        let code = |s: Option<u32>| s.map(|i| geo.stations.get(i as usize).code.to_string());
        let force = |f: Option<u16>| f.map(|i| geo.forces.get(i as usize).code.to_string());
        let round = |v: f64| (v * 100.0).round() / 100.0;
        let mut m = serde_json::Map::new();
        let mut put = |k: &str, v: serde_json::Value| {
            m.insert(k.to_string(), v);
        };
        put("report_id", json!(r.report_id));
        put("reported_at", json!(r.reported_at));
        put("source_force", json!(r.source_force));
        put("date", json!(super::report::format_date(r.journey.date)));
        put("mode", json!(r.journey.mode));
        put("origin_station", json!(code(self.origin.station)));
        put("destination_station", json!(code(self.destination.station)));
        put("via", json!(r.journey.via));
        put("origin_force", json!(force(self.origin.force)));
        put("destination_force", json!(force(self.destination.force)));
        put("exporting_force", json!(force(self.exporting_force)));
        put("importing_force", json!(force(self.importing_force)));
        put("return_run", json!(self.return_run));
        put("cross_border", json!(self.cross_border));
        put("urban_to_rural", json!(self.urban_to_rural));
        put("origin_class", json!(self.origin.class));
        put("destination_class", json!(self.destination.class));
        put("origin_snapped_m", json!(self.origin.snapped_m.map(round)));
        put(
            "destination_snapped_m",
            json!(self.destination.snapped_m.map(round)),
        );
        put("route_method", json!(self.route.method));
        put("distance_m", json!(round(self.route.distance_m)));
        put(
            "stations",
            json!(
                self.route
                    .stations
                    .iter()
                    .map(|&s| geo.stations.get(s as usize).code.to_string())
                    .collect::<Vec<_>>()
            ),
        );
        put(
            "forces",
            serde_json::Value::Array(
                self.route
                    .forces
                    .iter()
                    .map(|s| {
                        let f = geo.forces.get(s.force);
                        json!({"code": f.code, "name": f.name, "distance_m": round(s.distance_m)})
                    })
                    .collect(),
            ),
        );
        put("line_id", json!(r.line.as_ref().map(|l| &l.line_id)));
        put(
            "line_name",
            json!(r.line.as_ref().and_then(|l| l.name.as_ref())),
        );
        put(
            "line_type",
            json!(r.line.as_ref().and_then(|l| l.line_type)),
        );
        put("reporting_lag_days", json!(self.reporting_lag_days()));
        put("persons", json!(self.persons));
        put("children", json!(self.children));
        m
    }
}

/// A journey's properties ([`MappedJourney::row`]), fields in the order of their names (the
/// order a JSON object of them is written in).
#[derive(serde::Serialize)]
pub struct JourneyProperties<'a> {
    pub children: u16,
    pub cross_border: bool,
    pub date: String,
    pub destination_class: StationClass,
    pub destination_force: Option<Shown<'a, crate::geography::ForceCode>>,
    pub destination_snapped_m: Option<f64>,
    pub destination_station: Option<Shown<'a, crate::geography::StationCode>>,
    pub distance_m: f64,
    pub exporting_force: Option<Shown<'a, crate::geography::ForceCode>>,
    pub forces: ForceSpans<'a>,
    pub importing_force: Option<Shown<'a, crate::geography::ForceCode>>,
    pub line_id: Option<&'a String>,
    pub line_name: Option<&'a String>,
    pub line_type: Option<super::report::LineType>,
    pub mode: super::report::Mode,
    pub origin_class: StationClass,
    pub origin_force: Option<Shown<'a, crate::geography::ForceCode>>,
    pub origin_snapped_m: Option<f64>,
    pub origin_station: Option<Shown<'a, crate::geography::StationCode>>,
    pub persons: u16,
    /// the persons as an analyst who gave a justification sees them (absent otherwise)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persons_summary: Option<serde_json::Value>,
    pub report_id: &'a String,
    pub reported_at: &'a String,
    pub reporting_lag_days: Option<i32>,
    pub return_run: bool,
    pub route_method: RouteMethod,
    pub source_force: &'a crate::geography::ForceCode,
    pub stations: RouteStations<'a>,
    pub urban_to_rural: bool,
    pub via: &'a Vec<crate::geography::StationCode>,
}

/// A value written as its text (`Display`), as a JSON string.
pub struct Shown<'a, T>(&'a T);

impl<T: std::fmt::Display> serde::Serialize for Shown<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self.0)
    }
}

/// The stations a route passes, as their codes.
pub struct RouteStations<'a>(&'a Geography, &'a [u32]);

impl serde::Serialize for RouteStations<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            self.1
                .iter()
                .map(|&i| Shown(&self.0.stations.get(i as usize).code)),
        )
    }
}

/// The forces a route crosses: code, name and distance inside, metres (to 1 cm).
pub struct ForceSpans<'a>(&'a Geography, &'a [ForceSpan]);

impl serde::Serialize for ForceSpans<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct Span<'a> {
            code: &'a crate::geography::ForceCode,
            distance_m: f64,
            name: &'a String,
        }
        s.collect_seq(self.1.iter().map(|sp| {
            let f = self.0.forces.get(sp.force);
            Span {
                code: &f.code,
                distance_m: (sp.distance_m * 100.0).round() / 100.0,
                name: &f.name,
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_crossing_a_box_intersect_it_and_others_do_not() {
        let b = Bbox::new(0.0, 0.0, 1.0, 1.0).unwrap();
        assert!(b.segment_intersects([-1.0, 0.5], [2.0, 0.5]));
        assert!(b.segment_intersects([0.5, 0.5], [0.6, 0.6]));
        assert!(
            b.segment_intersects([-1.0, -1.0], [0.0, 0.0]),
            "touching a corner counts"
        );
        // reaches x = 0 only at y = 2, above the box
        assert!(!b.segment_intersects([-1.0, 0.0], [0.0, 2.0]));
        assert!(!b.segment_intersects([1.5, -1.0], [2.5, 3.0]));
        assert!(!b.segment_intersects([-1.0, 1.5], [0.4, 3.0]));
        assert!(polyline_intersects(
            &[[2.0, 2.0], [0.5, 2.0], [0.5, 0.5]],
            &b
        ));
    }
}
