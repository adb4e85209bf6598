//! Police force areas and the point → force lookup.
//!
//! [`ForceIndex::locate`] is exact point-in-polygon (planar in lon/lat, as GeoJSON edges are
//! straight lines in lon/lat, the convention of GEOS, shapely and PostGIS geometry), made fast by a
//! grid whose cells are classified once at start-up:
//! - *outside*: no polygon touches the cell and none contains it; if the cell is farther than the
//!   tolerance from every boundary the answer is "no force" at once;
//! - *inside*: no edge crosses the cell and one force contains it: the answer is that force;
//! - *boundary*: edges cross the cell. Each force with edges in (or containing) the cell keeps
//!   its edges clipped to the cell and whether a fixed reference point of the cell is inside it; a
//!   query counts the edges crossed by the segment from the point to the reference point, so only
//!   the few edges of one cell are tested (the idea behind GEOS prepared geometries and S2).
//!
//! Generalised coastlines leave some coastal points (piers, harbour stations) just outside every
//! polygon. Such a point falls back to the force whose boundary is nearest, if that is within the
//! tolerance (default [`DEFAULT_TOLERANCE_M`]), and the answer says so
//! ([`LocateMethod::NearestWithinTolerance`]).

use super::geodesy::{LocalPlane, closest_on_segment, distance_to_segment_m};
use super::types::{Bbox, ForceCode};
use rstar::{AABB, RTree, primitives::GeomWithData, primitives::Rectangle};
use serde::Serialize;
use std::collections::HashMap;

/// Default distance, in metres, within which a point outside every polygon is given to the
/// nearest force. The shared GB data's generalised coastlines leave 29 stations outside every
/// polygon, all within 0.7 km of their force; Scotland's polygon is ~1 km resolution.
pub const DEFAULT_TOLERANCE_M: f64 = 1_000.0;

/// One police force area.
#[derive(Clone, Debug)]
pub struct Force {
    pub code: ForceCode,
    /// Short name (`Metropolitan Police`, `Lancashire`).
    pub name: String,
    /// Full name of the force (`Lancashire Constabulary`), when the data has it.
    pub force_name: Option<String>,
    /// Polygons as rings of lon/lat points; the first ring of each is the outer ring, the others holes.
    pub polygons: Vec<Vec<Vec<[f64; 2]>>>,
    pub bbox: Bbox,
}

impl Force {
    pub fn vertex_count(&self) -> usize {
        self.polygons.iter().flatten().map(Vec::len).sum()
    }
}

/// How a point was assigned to a force.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LocateMethod {
    /// The point is inside the force's polygon.
    PointInPolygon,
    /// The point is outside every polygon, within the tolerance of this force's boundary.
    NearestWithinTolerance,
}

/// The answer of [`ForceIndex::locate`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ForceHit {
    /// Index into [`ForceIndex::forces`].
    pub force: usize,
    pub method: LocateMethod,
    /// Distance to the force's boundary in metres: 0 for a point inside.
    pub distance_m: f64,
}

#[derive(Clone, Copy, Debug)]
struct Edge {
    a: [f64; 2],
    b: [f64; 2],
    force: u16,
}

/// Cell tags (top two bits of a cell word).
const TAG_OUTSIDE: u32 = 0;
const TAG_INSIDE: u32 = 1;
const TAG_BOUNDARY: u32 = 2;
const TAG_SHIFT: u32 = 30;
const PAYLOAD: u32 = (1 << TAG_SHIFT) - 1;
/// Payload of an outside cell within the tolerance of some boundary.
const OUTSIDE_NEAR: u32 = 1;
/// Where the reference point sits in a cell, as fractions of its width and height: off-centre so
/// that it does not fall on round-number coordinates that data vertices often have.
const REF_FX: f64 = 0.503_717;
const REF_FY: f64 = 0.496_911;

#[derive(Clone, Copy, Debug)]
struct Candidate {
    force: u16,
    ref_inside: bool,
    edge_start: u32,
    edge_len: u32,
}

struct Grid {
    x0: f64,
    y0: f64,
    cw: f64,
    ch: f64,
    nx: usize,
    ny: usize,
    cells: Vec<u32>,
    /// per boundary cell: range into `cands`
    bcells: Vec<(u32, u32)>,
    cands: Vec<Candidate>,
    /// edges of boundary cells: ax, ay, bx, by
    cell_edges: Vec<[f64; 4]>,
}

/// Point → force lookups over a set of force areas. Built once; immutable and `Sync`.
pub struct ForceIndex {
    forces: Vec<Force>,
    by_code: HashMap<ForceCode, usize>,
    grid: Grid,
    edges: Vec<Edge>,
    edge_tree: RTree<GeomWithData<Rectangle<[f64; 2]>, u32>>,
    tolerance_m: f64,
}

/// Grid cell size in degrees (lon, lat): about 1 km square in Britain.
const CELL_LON: f64 = 0.016;
const CELL_LAT: f64 = 0.01;

impl ForceIndex {
    /// Indexes `forces` (sorted by code, so that answers do not depend on input order).
    /// `tolerance_m` is the fallback distance for points outside every polygon.
    pub fn new(mut forces: Vec<Force>, tolerance_m: f64) -> Self {
        forces.sort_by(|a, b| a.code.cmp(&b.code));
        let by_code = forces
            .iter()
            .enumerate()
            .map(|(i, f)| (f.code.clone(), i))
            .collect();
        let mut edges = Vec::new();
        for (fi, f) in forces.iter().enumerate() {
            for ring in f.polygons.iter().flatten() {
                push_ring_edges(ring, fi as u16, &mut edges);
            }
        }
        let edge_tree = RTree::bulk_load(
            edges
                .iter()
                .enumerate()
                .map(|(i, e)| GeomWithData::new(Rectangle::from_corners(e.a, e.b), i as u32))
                .collect(),
        );
        let (grid, maybe_near) = Grid::build(&forces, &edges, tolerance_m);
        let mut idx = ForceIndex {
            forces,
            by_code,
            grid,
            edges,
            edge_tree,
            tolerance_m,
        };
        idx.mark_near_cells(maybe_near);
        idx
    }

    pub fn forces(&self) -> &[Force] {
        &self.forces
    }

    pub fn get(&self, i: usize) -> &Force {
        &self.forces[i]
    }

    pub fn index_of(&self, code: &ForceCode) -> Option<usize> {
        self.by_code.get(code).copied()
    }

    pub fn tolerance_m(&self) -> f64 {
        self.tolerance_m
    }

    /// The force containing `p` (lon/lat), else the nearest force whose boundary is within the
    /// tolerance, else `None`. About 100 ns for a point inside; a point outside every polygon
    /// but near one costs an R-tree query.
    pub fn locate(&self, p: [f64; 2]) -> Option<ForceHit> {
        match self.locate_exact(p) {
            Located::Inside(force) => Some(ForceHit {
                force,
                method: LocateMethod::PointInPolygon,
                distance_m: 0.0,
            }),
            Located::Far => None,
            Located::Near => self
                .nearest_within(p, self.tolerance_m)
                .map(|(force, d)| ForceHit {
                    force,
                    method: LocateMethod::NearestWithinTolerance,
                    distance_m: d,
                }),
        }
    }

    /// Marks the outside cells that can hold a point within the tolerance of an edge: those
    /// whose centre is within tolerance + half the cell's diagonal of one.
    fn mark_near_cells(&mut self, maybe_near: Vec<usize>) {
        let g = &self.grid;
        let (cw, ch, x0, y0, nx) = (g.cw, g.ch, g.x0, g.y0, g.nx);
        let near: Vec<usize> = maybe_near
            .into_iter()
            .filter(|&i| {
                let (ix, iy) = (i % nx, i / nx);
                let c = [x0 + (ix as f64 + 0.5) * cw, y0 + (iy as f64 + 0.5) * ch];
                let half_diag = LocalPlane::at(c).distance_m([c[0] + cw / 2.0, c[1] + ch / 2.0]);
                let reach = (self.tolerance_m + half_diag) * 1.01 + 10.0;
                self.nearest_within(c, reach).is_some()
            })
            .collect();
        for i in near {
            self.grid.cells[i] = (TAG_OUTSIDE << TAG_SHIFT) | OUTSIDE_NEAR;
        }
    }

    /// Exact point-in-polygon only: whether `p` is inside a force, and if not, whether it may be
    /// within the tolerance of one.
    pub fn locate_exact(&self, p: [f64; 2]) -> Located {
        let g = &self.grid;
        let fx = (p[0] - g.x0) / g.cw;
        let fy = (p[1] - g.y0) / g.ch;
        // NaN fails both comparisons and lands here too.
        if !(fx >= 0.0 && fy >= 0.0 && fx < g.nx as f64 && fy < g.ny as f64) {
            return Located::Far;
        }
        let (ix, iy) = (fx as usize, fy as usize);
        let word = g.cells[iy * g.nx + ix];
        match word >> TAG_SHIFT {
            TAG_INSIDE => Located::Inside((word & PAYLOAD) as usize),
            TAG_BOUNDARY => {
                let r = [
                    g.x0 + (ix as f64 + REF_FX) * g.cw,
                    g.y0 + (iy as f64 + REF_FY) * g.ch,
                ];
                let (s, e) = g.bcells[(word & PAYLOAD) as usize];
                for c in &g.cands[s as usize..e as usize] {
                    let es = c.edge_start as usize;
                    let mut inside = c.ref_inside;
                    for ed in &g.cell_edges[es..es + c.edge_len as usize] {
                        if crosses(p, r, [ed[0], ed[1]], [ed[2], ed[3]]) {
                            inside = !inside;
                        }
                    }
                    if inside {
                        return Located::Inside(c.force as usize);
                    }
                }
                Located::Near
            }
            _ if word & PAYLOAD == OUTSIDE_NEAR => Located::Near,
            _ => Located::Far,
        }
    }

    /// The force whose boundary is nearest to `p`, if within `max_m` metres, with the distance.
    pub fn nearest_within(&self, p: [f64; 2], max_m: f64) -> Option<(usize, f64)> {
        // A box in degrees certainly holding every point within max_m: the meridional radius of
        // curvature is above 6,335 km everywhere, and longitude degrees shrink towards the pole.
        let dlat = (max_m / 6_335_000.0).to_degrees();
        let lat_far = (p[1].abs() + dlat).min(89.0).to_radians();
        let dlon = dlat / lat_far.cos();
        let env = AABB::from_corners([p[0] - dlon, p[1] - dlat], [p[0] + dlon, p[1] + dlat]);
        let mut best: Option<(usize, f64)> = None;
        let plane = LocalPlane::at(p);
        for item in self.edge_tree.locate_in_envelope_intersecting(env) {
            let e = &self.edges[item.data as usize];
            // Cheap screen first: on the local plane the straight edge is within 1 % of its
            // length (its bow in the exact frame) plus 1 % of the distance of the exact answer.
            let (pa, pb) = (plane.project(e.a), plane.project(e.b));
            let (c, _) = closest_on_segment([0.0, 0.0], pa, pb);
            let slack = 0.01 * (pa[0] - pb[0]).hypot(pa[1] - pb[1]) + 1.0;
            let rough = c[0].hypot(c[1]) * 0.99 - slack;
            if rough > max_m || best.is_some_and(|(_, bd)| rough > bd) {
                continue;
            }
            let (d, _, _) = distance_to_segment_m(p, e.a, e.b);
            if d <= max_m && best.is_none_or(|(_, bd)| d < bd) {
                best = Some((e.force as usize, d));
            }
        }
        best
    }

    /// Indices of forces whose bounding box intersects `bbox`.
    pub fn in_bbox(&self, bbox: &Bbox) -> Vec<usize> {
        (0..self.forces.len())
            .filter(|&i| self.forces[i].bbox.intersects(bbox))
            .collect()
    }

    /// Counts of grid cells by class (outside, inside, boundary) and boundary-cell edges: for
    /// the data-quality report and the README's design notes.
    pub fn grid_stats(&self) -> (usize, usize, usize, usize) {
        let mut n = [0usize; 3];
        for w in &self.grid.cells {
            n[(w >> TAG_SHIFT) as usize] += 1;
        }
        (n[0], n[1], n[2], self.grid.cell_edges.len())
    }
}

/// The exact part of a lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Located {
    Inside(usize),
    /// Outside every polygon, but perhaps within the tolerance of one.
    Near,
    /// Outside every polygon and farther than the tolerance from all of them.
    Far,
}

fn push_ring_edges(ring: &[[f64; 2]], force: u16, out: &mut Vec<Edge>) {
    if ring.len() < 2 {
        return;
    }
    let n = ring.len();
    for i in 0..n {
        let a = ring[i];
        let b = ring[(i + 1) % n];
        // the closing edge of an explicitly closed ring is zero-length and skipped here
        if a != b {
            out.push(Edge { a, b, force });
        }
    }
}

#[inline]
fn orient(a: [f64; 2], b: [f64; 2], c: [f64; 2]) -> f64 {
    (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
}

/// Whether segment p-r crosses edge a-b. Vertices exactly on the line p-r count as lying on its
/// positive side (a half-open rule), so an edge chain touching the segment at a vertex is
/// counted twice or not at all and the crossing parity stays right.
#[inline]
fn crosses(p: [f64; 2], r: [f64; 2], a: [f64; 2], b: [f64; 2]) -> bool {
    let sa = orient(p, r, a) >= 0.0;
    let sb = orient(p, r, b) >= 0.0;
    if sa == sb {
        return false;
    }
    let sp = orient(a, b, p) >= 0.0;
    let sr = orient(a, b, r) >= 0.0;
    sp != sr
}

impl Grid {
    fn build(forces: &[Force], edges: &[Edge], tolerance_m: f64) -> (Grid, Vec<usize>) {
        let mut ext = Bbox::EMPTY;
        for f in forces {
            ext.extend([f.bbox.min_lon, f.bbox.min_lat]);
            ext.extend([f.bbox.max_lon, f.bbox.max_lat]);
        }
        if ext.is_empty() {
            ext = Bbox {
                min_lon: 0.0,
                min_lat: 0.0,
                max_lon: 0.0,
                max_lat: 0.0,
            };
        }
        let (cw, ch) = (CELL_LON, CELL_LAT);
        // Width of a cell in metres at the highest latitude of the grid (its narrowest).
        let lat_hi = ext.max_lat.abs().max(ext.min_lat.abs()).min(85.0);
        let cell_w_m = cw.to_radians() * 6_335_000.0 * lat_hi.to_radians().cos();
        let cell_h_m = ch.to_radians() * 6_335_000.0;
        let rx = (tolerance_m / cell_w_m).ceil() as usize + 1;
        let ry = (tolerance_m / cell_h_m).ceil() as usize + 1;
        let x0 = ext.min_lon - (rx + 1) as f64 * cw;
        let y0 = ext.min_lat - (ry + 1) as f64 * ch;
        let nx = ((ext.max_lon - x0) / cw).ceil() as usize + rx + 2;
        let ny = ((ext.max_lat - y0) / ch).ceil() as usize + ry + 2;

        // 1. Which cells each edge touches (conservatively).
        let mut touches: Vec<(u32, u16, u32)> = Vec::new(); // (cell, force, edge)
        for (ei, e) in edges.iter().enumerate() {
            let ga = [(e.a[0] - x0) / cw, (e.a[1] - y0) / ch];
            let gb = [(e.b[0] - x0) / cw, (e.b[1] - y0) / ch];
            for_each_cell_on_segment(ga, gb, nx, ny, |ix, iy| {
                touches.push(((iy * nx + ix) as u32, e.force, ei as u32));
            });
        }
        touches.sort_unstable();
        touches.dedup();

        // 2. Scanline crossings at each row's reference latitude.
        let mut crossings: Vec<(u32, f64, u16)> = Vec::new(); // (row, x, force)
        for e in edges {
            let (ya, yb) = ((e.a[1] - y0) / ch - REF_FY, (e.b[1] - y0) / ch - REF_FY);
            let r0 = ya.min(yb).floor().max(0.0) as usize;
            let r1 = (ya.max(yb).ceil().max(0.0) as usize).min(ny.saturating_sub(1));
            for row in r0..=r1 {
                let yr = y0 + (row as f64 + REF_FY) * ch;
                if (e.a[1] > yr) != (e.b[1] > yr) {
                    let x = e.a[0] + (yr - e.a[1]) * (e.b[0] - e.a[0]) / (e.b[1] - e.a[1]);
                    crossings.push((row as u32, x, e.force));
                }
            }
        }
        crossings.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));

        // 3. Sweep each row: classify cells, record reference-point status of boundary cells.
        let mut cells = vec![TAG_OUTSIDE << TAG_SHIFT; nx * ny];
        let mut bcells = Vec::new();
        let mut cands = Vec::new();
        let mut cell_edges: Vec<[f64; 4]> = Vec::new();
        let mut parity = vec![false; forces.len()];
        let mut ci = 0; // cursor into crossings
        let mut ti = 0; // cursor into touches
        for iy in 0..ny {
            parity.iter_mut().for_each(|p| *p = false);
            while ci < crossings.len() && (crossings[ci].0 as usize) < iy {
                ci += 1;
            }
            for ix in 0..nx {
                let xr = x0 + (ix as f64 + REF_FX) * cw;
                while ci < crossings.len() && crossings[ci].0 as usize == iy && crossings[ci].1 < xr
                {
                    let f = crossings[ci].2 as usize;
                    parity[f] = !parity[f];
                    ci += 1;
                }
                let cell = (iy * nx + ix) as u32;
                let t_start = ti;
                while ti < touches.len() && touches[ti].0 == cell {
                    ti += 1;
                }
                let cell_touches = &touches[t_start..ti];
                if cell_touches.is_empty() {
                    if let Some(f) = parity.iter().position(|&p| p) {
                        cells[cell as usize] = (TAG_INSIDE << TAG_SHIFT) | f as u32;
                    }
                    continue;
                }
                let start = cands.len() as u32;
                // forces with edges in the cell, then forces containing the whole cell
                let mut k = 0;
                while k < cell_touches.len() {
                    let f = cell_touches[k].1;
                    let es = cell_edges.len() as u32;
                    while k < cell_touches.len() && cell_touches[k].1 == f {
                        let e = &edges[cell_touches[k].2 as usize];
                        cell_edges.push([e.a[0], e.a[1], e.b[0], e.b[1]]);
                        k += 1;
                    }
                    cands.push(Candidate {
                        force: f,
                        ref_inside: parity[f as usize],
                        edge_start: es,
                        edge_len: cell_edges.len() as u32 - es,
                    });
                }
                for (f, &inside) in parity.iter().enumerate() {
                    if inside && !cell_touches.iter().any(|t| t.1 as usize == f) {
                        cands.push(Candidate {
                            force: f as u16,
                            ref_inside: true,
                            edge_start: 0,
                            edge_len: 0,
                        });
                    }
                }
                cands[start as usize..].sort_by_key(|c| c.force);
                cells[cell as usize] = (TAG_BOUNDARY << TAG_SHIFT) | bcells.len() as u32;
                bcells.push((start, cands.len() as u32));
            }
        }

        // 4. Outside cells that may hold a point within the tolerance of an edge need the slow
        //    path. Only cells within reach of a boundary cell can: collect those here;
        //    `mark_near_cells` keeps the ones truly within reach.
        let is_b: Vec<bool> = cells
            .iter()
            .map(|w| w >> TAG_SHIFT == TAG_BOUNDARY)
            .collect();
        let mut near_x = vec![false; nx * ny];
        for iy in 0..ny {
            let mut last: Option<usize> = None;
            for ix in 0..nx {
                if is_b[iy * nx + ix] {
                    last = Some(ix);
                }
                if last.is_some_and(|l| ix - l <= rx) {
                    near_x[iy * nx + ix] = true;
                }
            }
            let mut next: Option<usize> = None;
            for ix in (0..nx).rev() {
                if is_b[iy * nx + ix] {
                    next = Some(ix);
                }
                if next.is_some_and(|n| n - ix <= rx) {
                    near_x[iy * nx + ix] = true;
                }
            }
        }
        let mut maybe_near = Vec::new();
        for ix in 0..nx {
            for iy in 0..ny {
                let i = iy * nx + ix;
                if cells[i] >> TAG_SHIFT != TAG_OUTSIDE {
                    continue;
                }
                let lo = iy.saturating_sub(ry);
                let hi = (iy + ry).min(ny - 1);
                if (lo..=hi).any(|j| near_x[j * nx + ix]) {
                    maybe_near.push(i);
                }
            }
        }
        let grid = Grid {
            x0,
            y0,
            cw,
            ch,
            nx,
            ny,
            cells,
            bcells,
            cands,
            cell_edges,
        };
        (grid, maybe_near)
    }
}

/// Calls `f` for every grid cell that segment `a`-`b` (in cell units) may touch: for each row the
/// segment spans, the columns of its clipped x-range, widened by a small epsilon.
fn for_each_cell_on_segment(
    a: [f64; 2],
    b: [f64; 2],
    nx: usize,
    ny: usize,
    mut f: impl FnMut(usize, usize),
) {
    const EPS: f64 = 1e-7;
    let (ylo, yhi) = (a[1].min(b[1]), a[1].max(b[1]));
    let r0 = (ylo - EPS).floor().max(0.0) as usize;
    let r1 = ((yhi + EPS).floor().max(0.0) as usize).min(ny - 1);
    for row in r0..=r1 {
        let (ya, yb) = ((row as f64).max(ylo), (row as f64 + 1.0).min(yhi));
        let (xa, xb) = if (b[1] - a[1]).abs() < 1e-12 {
            (a[0], b[0])
        } else {
            let t = |y: f64| a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1]);
            (t(ya), t(yb))
        };
        let c0 = (xa.min(xb) - EPS).floor().max(0.0) as usize;
        let c1 = ((xa.max(xb) + EPS).floor().max(0.0) as usize).min(nx - 1);
        for col in c0..=c1 {
            f(col, row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(code: &str, x0: f64, y0: f64, s: f64) -> Force {
        let ring = vec![
            [x0, y0],
            [x0 + s, y0],
            [x0 + s, y0 + s],
            [x0, y0 + s],
            [x0, y0],
        ];
        Force {
            code: ForceCode::parse(code).unwrap(),
            name: code.into(),
            force_name: None,
            polygons: vec![vec![ring]],
            bbox: Bbox {
                min_lon: x0,
                min_lat: y0,
                max_lon: x0 + s,
                max_lat: y0 + s,
            },
        }
    }

    #[test]
    fn a_point_inside_a_square_force_is_found_exactly() {
        let idx = ForceIndex::new(vec![square("E23000001", -1.0, 51.0, 0.5)], 1000.0);
        let hit = idx.locate([-0.75, 51.25]).unwrap();
        assert_eq!((hit.force, hit.method), (0, LocateMethod::PointInPolygon));
        // just inside and just outside the east edge (at -0.5), in a boundary cell
        assert!(matches!(
            idx.locate_exact([-0.500_001, 51.3]),
            Located::Inside(0)
        ));
        assert!(!matches!(
            idx.locate_exact([-0.499_999, 51.3]),
            Located::Inside(_)
        ));
    }

    #[test]
    fn a_hole_is_not_inside_and_the_enclave_in_it_is() {
        // A 1-degree square with a hole, and a second force filling the hole (like the City of
        // London inside the Met).
        let mut outer = square("E23000001", 0.0, 50.0, 1.0);
        outer.polygons[0].push(vec![[0.4, 50.4], [0.6, 50.4], [0.6, 50.6], [0.4, 50.6]]);
        let city = square("E23000034", 0.4, 50.4, 0.2);
        let idx = ForceIndex::new(vec![outer, city], 1000.0);
        let code = |p| {
            idx.locate(p)
                .map(|h| idx.get(h.force).code.as_str().to_string())
        };
        assert_eq!(code([0.5, 50.5]).as_deref(), Some("E23000034"));
        assert_eq!(code([0.2, 50.2]).as_deref(), Some("E23000001"));
        assert_eq!(code([0.39, 50.5]).as_deref(), Some("E23000001"));
        assert_eq!(code([0.41, 50.5]).as_deref(), Some("E23000034"));
    }

    #[test]
    fn a_point_just_off_the_coast_falls_back_to_the_nearest_force_within_tolerance() {
        let idx = ForceIndex::new(vec![square("E23000001", 0.0, 50.0, 1.0)], 1000.0);
        // 0.005 degrees of latitude south of the 1-degree south edge; independent: shapely
        // distance in pyproj's AEQD centred on the point = 675.961 m (556 m to the parallel,
        // plus the 120 m the straight edge bows north of it)
        let hit = idx.locate([0.5, 49.995]).unwrap();
        assert_eq!(hit.method, LocateMethod::NearestWithinTolerance);
        assert!(
            (hit.distance_m - 675.961).abs() < 0.01,
            "{}",
            hit.distance_m
        );
        // 0.02 degrees (2.2 km) is beyond the tolerance
        assert_eq!(idx.locate([0.5, 49.98]), None);
        assert_eq!(idx.locate([30.0, 10.0]), None);
        assert_eq!(idx.locate([f64::NAN, 50.5]), None);
    }

    #[test]
    fn the_grid_agrees_with_brute_force_ray_casting_on_a_jagged_polygon() {
        // a star-shaped polygon with many vertices, including vertices on cell corners
        let mut ring = Vec::new();
        for i in 0..200 {
            let t = i as f64 / 200.0 * std::f64::consts::TAU;
            let r = if i % 2 == 0 { 0.5 } else { 0.23 };
            ring.push([
                (t.cos() * r * 100.0).round() / 100.0,
                50.0 + (t.sin() * r * 100.0).round() / 100.0,
            ]);
        }
        let mut f = square("E23000001", 0.0, 0.0, 1.0);
        f.polygons = vec![vec![ring.clone()]];
        f.bbox = Bbox {
            min_lon: -0.5,
            min_lat: 49.5,
            max_lon: 0.5,
            max_lat: 50.5,
        };
        let idx = ForceIndex::new(vec![f], 1000.0);
        let brute = |p: [f64; 2]| {
            let mut inside = false;
            let n = ring.len();
            for i in 0..n {
                let (a, b) = (ring[i], ring[(i + 1) % n]);
                if (a[1] > p[1]) != (b[1] > p[1])
                    && p[0] < a[0] + (p[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
                {
                    inside = !inside;
                }
            }
            inside
        };
        let mut state = 12345u64;
        let mut rnd = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..200_000 {
            let p = [rnd() * 1.2 - 0.6, 49.4 + rnd() * 1.2];
            let got = matches!(idx.locate_exact(p), Located::Inside(0));
            assert_eq!(got, brute(p), "at {p:?}");
        }
    }
}
