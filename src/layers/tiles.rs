//! Vector tiles (Mapbox Vector Tile 2.1) in the OGC `WebMercatorQuad` tile matrix set: tile
//! arithmetic, clipping, quantising and simplifying geometry into a tile, the size cap, and the
//! journeys' route index that makes a national tile over a million journeys cheap. Pure and
//! synchronous: `http::tiles` parses the request, selects the rows and calls this.
//!
//! - **Tiles**: zoom `z` has `2^z × 2^z` tiles; `x` is the column from the west (−180°), `y` the
//!   row from the north (85.0511°), as XYZ clients and OGC's `{tileCol}`/`{tileRow}` count them.
//! - **Geometry**: one layer per tile, extent [`EXTENT`] (4096 units a side); lines are clipped
//!   to the tile plus [`BUFFER`] units on each side (Liang–Barsky per segment, so a line leaving
//!   and re-entering the tile becomes two parts), quantised to whole units and simplified by
//!   dropping every vertex within [`TOLERANCE`] units (one pixel of a 256-pixel tile) of the
//!   last one kept, so no line carries more vertices than the tile has pixels along it; a line
//!   that collapses to one unit keeps its two ends one unit apart, so that it stays in the tile
//!   (and in the tile's counts). Points outside the buffered tile are left out.
//! - **Size cap** (as tippecanoe's defaults): at most [`MAX_BYTES`] (500 KiB) of encoded tile
//!   and [`MAX_FEATURES`] features. Features come most significant first (the caller's order:
//!   the most journeys first); when a tile would exceed either cap the least significant are
//!   dropped from the end until it fits, and [`Encoded::dropped`] says how many.
//! - **Journeys** ([`RouteIndex`]): the journeys on one route geometry (the same rail pieces, or
//!   the same line) share one entry, with an R-tree of the routes' envelopes in Web Mercator.
//!   Below [`COALESCE_BELOW`] a tile has one feature per group of routes drawn alike at its
//!   zoom, from there to [`JOURNEY_ZOOM`] one per route, each with `journeys` and `children`
//!   (the filter's journeys on it and the children on them); from [`JOURNEY_ZOOM`] one feature
//!   per journey (`id`, `journeys` = 1 and its properties). Only the features that are drawn
//!   have their geometry built, so a tile's cost is counting plus at most a cap's worth of
//!   geometry. Lines are also straightened (Douglas–Peucker at half a pixel) after thinning.
//! - **Encoding**: [`super::mvt::LayerWriter`], written here (see its notes).

use super::mvt::LayerWriter;
use crate::geography::{Bbox, Geography};
use crate::journey::index::{JourneyFilter, JourneyIndex};
use crate::journey::map::{MappedJourney, MappedRoute, RouteGeometry};
use rstar::{AABB, RTree, primitives::GeomWithData, primitives::Rectangle};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

/// Units along a tile's side.
pub const EXTENT: u32 = 4096;
/// Units of the tile's neighbours kept around it (4 pixels of a 256-pixel tile), so that lines
/// and symbols join across tile edges.
pub const BUFFER: i32 = 64;
/// Vertices closer than this (units, Chebyshev distance) to the last vertex kept are dropped:
/// one pixel of a 256-pixel tile.
pub const TOLERANCE: i32 = 16;
/// The deepest zoom served (WebMercatorQuad goes to 24; at 22 a tile is under 10 m across).
pub const MAX_ZOOM: u8 = 22;
/// From this zoom every journey is its own feature; below it, the journeys on one route are one.
pub const JOURNEY_ZOOM: u8 = 12;
/// Most encoded bytes in a tile (tippecanoe's default, 500 KiB).
pub const MAX_BYTES: usize = 500 * 1024;
/// Most features in a tile (tippecanoe's default).
pub const MAX_FEATURES: usize = 200_000;
/// Route groups ranked at a time for a journeys tile (a z8 tile holds a few thousand).
const SORTED_HEAD: usize = 8_192;
/// The latitude limit of Web Mercator (the square's edge).
pub const MAX_LAT: f64 = 85.051_128_779_806_59;

/// A tile of WebMercatorQuad: zoom, column (from the west), row (from the north).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TileId {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

impl TileId {
    /// The tile, if `z` is at most [`MAX_ZOOM`] and `x`, `y` are below `2^z`.
    pub fn new(z: u32, x: u32, y: u32) -> Result<TileId, String> {
        if z > u32::from(MAX_ZOOM) {
            return Err(format!("zoom {z} is beyond the deepest, {MAX_ZOOM}"));
        }
        let n = 1u64 << z;
        for (name, v) in [("column x", x), ("row y", y)] {
            if u64::from(v) >= n {
                return Err(format!(
                    "{name} {v} is outside zoom {z}, whose tiles are numbered 0 to {}",
                    n - 1
                ));
            }
        }
        Ok(TileId { z: z as u8, x, y })
    }

    /// Tiles along a side at this zoom.
    pub fn count(&self) -> f64 {
        (1u64 << self.z) as f64
    }

    /// The tile in Web Mercator unit-square coordinates (x east, y south, 0..1):
    /// `[min x, min y, max x, max y]`.
    pub fn world_bounds(&self) -> [f64; 4] {
        let n = self.count();
        [
            f64::from(self.x) / n,
            f64::from(self.y) / n,
            f64::from(self.x + 1) / n,
            f64::from(self.y + 1) / n,
        ]
    }

    /// The tile with its buffer, as a lon/lat box (for the layers' own box queries).
    pub fn lonlat_bbox(&self) -> Bbox {
        let [x0, y0, x1, y1] = self.world_bounds();
        let pad = (x1 - x0) * f64::from(BUFFER) / f64::from(EXTENT);
        let a = lonlat([(x0 - pad).max(0.0), (y1 + pad).min(1.0)]);
        let b = lonlat([(x1 + pad).min(1.0), (y0 - pad).max(0.0)]);
        Bbox {
            min_lon: a[0],
            min_lat: a[1],
            max_lon: b[0],
            max_lat: b[1],
        }
    }

    /// A point in the unit square as tile units (not rounded).
    fn units(&self, w: [f64; 2]) -> [f64; 2] {
        let n = self.count();
        let e = f64::from(EXTENT);
        [
            (w[0] * n - f64::from(self.x)) * e,
            (w[1] * n - f64::from(self.y)) * e,
        ]
    }
}

/// Lon/lat (degrees) to the Web Mercator unit square: x east from −180°, y south from
/// [`MAX_LAT`] (latitudes beyond it are clamped).
pub fn world(p: [f64; 2]) -> [f64; 2] {
    let lat = p[1].clamp(-MAX_LAT, MAX_LAT).to_radians();
    let x = (p[0] + 180.0) / 360.0;
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0;
    [x, y]
}

/// The unit square back to lon/lat.
pub fn lonlat(w: [f64; 2]) -> [f64; 2] {
    let lon = w[0] * 360.0 - 180.0;
    let lat = (std::f64::consts::PI * (1.0 - 2.0 * w[1]))
        .sinh()
        .atan()
        .to_degrees();
    [lon, lat]
}

/// A feature's geometry in tile units.
#[derive(Clone, Debug, PartialEq)]
pub enum Geom {
    Points(Vec<[i32; 2]>),
    /// one or more parts, each of at least two vertices
    Lines(Vec<Vec<[i32; 2]>>),
}

/// A property value (MVT has no null: a null property is left out).
#[derive(Clone, Debug, PartialEq)]
pub enum Prop {
    Str(String),
    Int(i64),
    Double(f64),
    Bool(bool),
}

/// A feature ready to encode.
#[derive(Clone, Debug, PartialEq)]
pub struct TileFeature {
    pub id: Option<u64>,
    pub geom: Geom,
    pub props: Vec<(Cow<'static, str>, Prop)>,
}

/// The point in the tile (with its buffer), if it is there.
pub fn project_point(tile: TileId, p: [f64; 2]) -> Option<[i32; 2]> {
    let u = tile.units(world(p));
    let (lo, hi) = (-f64::from(BUFFER), f64::from(EXTENT as i32 + BUFFER));
    (u[0] >= lo && u[0] <= hi && u[1] >= lo && u[1] <= hi)
        .then(|| [u[0].round() as i32, u[1].round() as i32])
}

/// Clips segment `a`–`b` to the square `[lo, hi]²` (Liang–Barsky); the clipped ends.
fn clip(a: [f64; 2], b: [f64; 2], lo: f64, hi: f64) -> Option<([f64; 2], [f64; 2])> {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a[0] - lo),
        (dx, hi - a[0]),
        (-dy, a[1] - lo),
        (dy, hi - a[1]),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                if r > t1 {
                    return None;
                }
                t0 = t0.max(r);
            } else {
                if r < t0 {
                    return None;
                }
                t1 = t1.min(r);
            }
        }
    }
    Some((
        [a[0] + t0 * dx, a[1] + t0 * dy],
        [a[0] + t1 * dx, a[1] + t1 * dy],
    ))
}

/// Drops the vertices within [`TOLERANCE`] of the last kept (the last vertex is always kept,
/// in place of a kept one too close to it); a part that collapses to one unit is drawn one
/// unit long.
fn simplify(part: &[[f64; 2]]) -> Vec<[i32; 2]> {
    let q = |p: &[f64; 2]| [p[0].round() as i32, p[1].round() as i32];
    thin(&part.iter().map(q).collect::<Vec<_>>())
}

/// [`simplify`] of a part already in whole units (thinning a thinned part changes nothing;
/// thinning parts joined end to end thins their joins).
fn thin(part: &[[i32; 2]]) -> Vec<[i32; 2]> {
    let mut out: Vec<[i32; 2]> = Vec::with_capacity(part.len().min(64));
    let Some((&end, rest)) = part.split_last() else {
        return out;
    };
    for &v in rest {
        match out.last() {
            Some(k) if (v[0] - k[0]).abs().max((v[1] - k[1]).abs()) < TOLERANCE => {}
            _ => out.push(v),
        }
    }
    if out.len() >= 2
        && out
            .last()
            .is_some_and(|k| (end[0] - k[0]).abs().max((end[1] - k[1]).abs()) < TOLERANCE)
    {
        out.pop();
    }
    if out.last() != Some(&end) {
        out.push(end);
    }
    if out.len() == 1 {
        out.push([end[0] + 1, end[1]]);
    }
    out
}

/// A lon/lat polyline in the tile: clipped to the tile and its buffer, quantised and
/// simplified (see the module's notes); empty when it does not reach the tile.
pub fn project_line(tile: TileId, coords: &[[f64; 2]]) -> Vec<Vec<[i32; 2]>> {
    let w: Vec<[f64; 2]> = coords.iter().map(|&p| world(p)).collect();
    project_runs(tile, &[w])
}

/// Runs of a line in the Web Mercator unit square (a gap between runs is a part of the line
/// left out, away from the tile) in the tile: clipped, quantised and simplified.
pub fn project_runs(tile: TileId, runs: &[Vec<[f64; 2]>]) -> Vec<Vec<[i32; 2]>> {
    let (lo, hi) = (-f64::from(BUFFER), f64::from(EXTENT as i32 + BUFFER));
    let mut parts: Vec<Vec<[f64; 2]>> = Vec::new();
    for run in runs {
        let pts: Vec<[f64; 2]> = run.iter().map(|&p| tile.units(p)).collect();
        let mut cur: Vec<[f64; 2]> = Vec::new();
        if pts.len() == 1 {
            cur.extend(clip(pts[0], pts[0], lo, hi).map(|(a, _)| a));
        }
        for w in pts.windows(2) {
            match clip(w[0], w[1], lo, hi) {
                Some((a, b)) => {
                    if cur.last() != Some(&a) {
                        if !cur.is_empty() {
                            parts.push(std::mem::take(&mut cur));
                        }
                        cur.push(a);
                    }
                    cur.push(b);
                }
                None => {
                    if !cur.is_empty() {
                        parts.push(std::mem::take(&mut cur));
                    }
                }
            }
        }
        if !cur.is_empty() {
            parts.push(cur);
        }
    }
    parts.iter().map(|p| straighten(&simplify(p))).collect()
}

/// Douglas–Peucker at half a pixel ([`TOLERANCE`] / 2 units) of a thinned part: a line that
/// is straight to the pixel keeps its two ends instead of a vertex a pixel (a geodesic route
/// is surveyed every few hundred metres).
fn straighten(part: &[[i32; 2]]) -> Vec<[i32; 2]> {
    if part.len() <= 2 {
        return part.to_vec();
    }
    let pts: Vec<[f64; 2]> = part
        .iter()
        .map(|p| [f64::from(p[0]), f64::from(p[1])])
        .collect();
    douglas_peucker(&pts, f64::from(TOLERANCE) / 2.0)
        .into_iter()
        .map(|i| part[i])
        .collect()
}

/// The rail chains in the Web Mercator unit square, each simplified once per band of zooms
/// (Douglas–Peucker at half a pixel of the band's deepest zoom: bands of three zooms from 0,
/// the full chain from zoom [`FULL_CHAIN_ZOOM`]), so that a tile's routes are sliced from
/// geometry of about the tile's resolution instead of every surveyed vertex.
pub struct ChainShapes {
    /// per band, per chain: the kept vertices and their offsets along the chain (metres)
    bands: Vec<Vec<Shape>>,
    /// per chain, its envelope in the unit square
    envelopes: Vec<[f64; 4]>,
}

struct Shape {
    pts: Vec<[f64; 2]>,
    cum: Vec<f64>,
}

/// From this zoom routes are cut from the full chains.
pub const FULL_CHAIN_ZOOM: u8 = 15;
const BAND_ZOOMS: u8 = 3;

impl Shape {
    fn segment_at(&self, offset: f64) -> usize {
        let n = self.pts.len();
        if n < 2 {
            return 0;
        }
        self.cum
            .partition_point(|&c| c <= offset)
            .saturating_sub(1)
            .min(n - 2)
    }

    fn point_at(&self, offset: f64) -> [f64; 2] {
        if self.pts.len() < 2 {
            return self.pts.first().copied().unwrap_or([0.0, 0.0]);
        }
        let i = self.segment_at(offset);
        let (a, b) = (self.cum[i], self.cum[i + 1]);
        let t = if b > a {
            ((offset - a) / (b - a)).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let (p, q) = (self.pts[i], self.pts[i + 1]);
        [p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t]
    }

    /// As `Chain::append_slice`: from offset `from` to `to`, either direction.
    fn append_slice(&self, from: f64, to: f64, out: &mut Vec<[f64; 2]>) {
        let mut push = |p: [f64; 2]| {
            if out.last() != Some(&p) {
                out.push(p);
            }
        };
        push(self.point_at(from));
        let (i, j) = (self.segment_at(from), self.segment_at(to));
        if from <= to {
            for k in i + 1..=j {
                push(self.pts[k]);
            }
        } else {
            for k in (j + 1..=i).rev() {
                push(self.pts[k]);
            }
        }
        push(self.point_at(to));
    }
}

/// Douglas–Peucker: the indices of `pts` kept at `tolerance` (same units), first and last
/// always.
fn douglas_peucker(pts: &[[f64; 2]], tolerance: f64) -> Vec<usize> {
    let n = pts.len();
    if n <= 2 {
        return (0..n).collect();
    }
    let mut keep = vec![false; n];
    keep[0] = true;
    keep[n - 1] = true;
    let mut stack = vec![(0usize, n - 1)];
    while let Some((a, b)) = stack.pop() {
        let (p, q) = (pts[a], pts[b]);
        let (dx, dy) = (q[0] - p[0], q[1] - p[1]);
        let len = dx.hypot(dy);
        let mut far = (0.0f64, 0usize);
        for (k, r) in pts.iter().enumerate().take(b).skip(a + 1) {
            let d = if len > 0.0 {
                ((r[0] - p[0]) * dy - (r[1] - p[1]) * dx).abs() / len
            } else {
                (r[0] - p[0]).hypot(r[1] - p[1])
            };
            if d > far.0 {
                far = (d, k);
            }
        }
        if far.0 > tolerance {
            keep[far.1] = true;
            stack.push((a, far.1));
            stack.push((far.1, b));
        }
    }
    (0..n).filter(|&i| keep[i]).collect()
}

impl ChainShapes {
    /// Every chain of `geo`'s rail graph, projected and simplified per band.
    pub fn build(geo: &Geography) -> ChainShapes {
        let chains = geo.rail.chains();
        let full: Vec<Vec<[f64; 2]>> = chains
            .iter()
            .map(|c| c.coords.iter().map(|&p| world(p)).collect())
            .collect();
        let bands = (0..=FULL_CHAIN_ZOOM / BAND_ZOOMS)
            .map(|b| {
                let deepest = (b + 1) * BAND_ZOOMS - 1;
                let full_band = b * BAND_ZOOMS >= FULL_CHAIN_ZOOM;
                // half a pixel of a 256-pixel tile at the band's deepest zoom
                let tolerance = 0.5 / 256.0 / (1u64 << deepest) as f64;
                chains
                    .iter()
                    .zip(&full)
                    .map(|(c, w)| {
                        let keep = if full_band {
                            (0..w.len()).collect()
                        } else {
                            douglas_peucker(w, tolerance)
                        };
                        Shape {
                            pts: keep.iter().map(|&i| w[i]).collect(),
                            cum: keep.iter().map(|&i| c.cum[i]).collect(),
                        }
                    })
                    .collect()
            })
            .collect();
        let envelopes = chains
            .iter()
            .map(|c| {
                let a = world([c.bbox.min_lon, c.bbox.max_lat]);
                let b = world([c.bbox.max_lon, c.bbox.min_lat]);
                [a[0], a[1], b[0], b[1]]
            })
            .collect();
        ChainShapes { bands, envelopes }
    }

    /// The chains simplified for zoom `z`.
    fn band(&self, z: u8) -> &[Shape] {
        &self.bands[usize::from(z / BAND_ZOOMS).min(self.bands.len() - 1)]
    }

    /// A route's whole line in the unit square at zoom `z`'s resolution, appended to `out`.
    fn line(&self, route: &MappedRoute, z: u8, out: &mut Vec<[f64; 2]>) {
        match &route.geometry {
            RouteGeometry::Line(c) => out.extend(c.iter().map(|&p| world(p))),
            RouteGeometry::Pieces(pieces) => {
                let shapes = self.band(z);
                for &(c, from, to) in pieces {
                    shapes[c as usize].append_slice(from, to, out);
                }
            }
        }
    }
}

/// A rail piece: its chain and the bits of its two offsets.
type PieceKey = (u32, u64, u64);

/// Routes drawn in one tile: each rail piece (a chain from one offset to another) is cut,
/// clipped, quantised and thinned once per tile and shared by every route along it (routes
/// share track: a busy tile draws thousands of routes from a few hundred pieces); a route is
/// its pieces joined end to end and thinned again at the joins.
struct TileLines<'a> {
    tile: TileId,
    shapes: &'a [Shape],
    envelopes: &'a [[f64; 4]],
    /// the tile and its buffer in the unit square
    bounds: [f64; 4],
    pieces: HashMap<PieceKey, Vec<Vec<[i32; 2]>>, std::hash::BuildHasherDefault<Fx>>,
    run: Vec<[f64; 2]>,
}

impl<'a> TileLines<'a> {
    fn new(shapes: &'a ChainShapes, tile: TileId) -> TileLines<'a> {
        let [x0, y0, x1, y1] = tile.world_bounds();
        let pad = (x1 - x0) * f64::from(BUFFER) / f64::from(EXTENT);
        TileLines {
            tile,
            shapes: shapes.band(tile.z),
            envelopes: &shapes.envelopes,
            bounds: [x0 - pad, y0 - pad, x1 + pad, y1 + pad],
            pieces: HashMap::default(),
            run: Vec::new(),
        }
    }

    /// The route in the tile: clipped, quantised and thinned parts (empty when it does not
    /// reach the tile).
    fn route(&mut self, route: &MappedRoute) -> Vec<Vec<[i32; 2]>> {
        let pieces = match &route.geometry {
            RouteGeometry::Line(c) => {
                return project_runs(self.tile, &[c.iter().map(|&p| world(p)).collect()]);
            }
            RouteGeometry::Pieces(pieces) => pieces,
        };
        let [x0, y0, x1, y1] = self.bounds;
        let mut parts: Vec<Vec<[i32; 2]>> = Vec::new();
        let mut joined = false;
        for &(c, from, to) in pieces {
            let e = self.envelopes[c as usize];
            if e[2] < x0 || e[0] > x1 || e[3] < y0 || e[1] > y1 {
                joined = false;
                continue;
            }
            let (tile, shapes, run) = (self.tile, self.shapes, &mut self.run);
            let cut = self
                .pieces
                .entry((c, from.to_bits(), to.to_bits()))
                .or_insert_with(|| {
                    run.clear();
                    shapes[c as usize].append_slice(from, to, run);
                    project_runs(tile, std::slice::from_ref(run))
                });
            for (i, part) in cut.iter().enumerate() {
                // a piece that goes on from where the last one ended continues its part
                match parts.last_mut() {
                    Some(last) if i == 0 && joined && last.last() == part.first() => {
                        last.extend_from_slice(&part[1..])
                    }
                    _ => parts.push(part.clone()),
                }
            }
            joined = !cut.is_empty();
        }
        parts.iter().map(|p| thin(p)).collect()
    }
}

/// A small fast hasher for the tile's piece cache (keys are a chain number and two offsets'
/// bits; the map lives for one tile, so no flooding concern).
#[derive(Default)]
struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// An encoded tile: its bytes, the features in it and the features dropped by the caps.
#[derive(Clone, Debug, Default)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub features: usize,
    pub dropped: usize,
}

/// Encodes the features (most significant first) as one layer named `layer`: the longest
/// run of them from the first that fits [`MAX_FEATURES`] and [`MAX_BYTES`] (the rest are
/// dropped). A tile without features still has its (empty) layer.
pub fn encode(layer: &str, features: &[TileFeature]) -> Encoded {
    let mut w = LayerWriter::new(layer, MAX_BYTES, MAX_FEATURES);
    let mut n = 0;
    for f in features {
        if !w.add(f.id, &f.geom, &f.props) {
            break;
        }
        n += 1;
    }
    Encoded {
        features: w.len(),
        dropped: features.len() - n,
        bytes: w.finish(),
    }
}

// ---------------------------------------------------------------- journeys

/// The journeys on one route geometry: `len` positions from `start` in the index's
/// route-ordered arrays.
struct Route {
    /// one of the routes with this geometry (its coordinates are built when drawn)
    route: Arc<MappedRoute>,
    start: u32,
    len: u32,
    /// of them, those no filter's default leaves out (not restricted), and their children
    open: u32,
    open_children: u64,
}

/// The fields of a journey the common tile filters read, packed and laid out route by route,
/// so that counting a route's journeys under a filter reads one short run of memory instead
/// of each journey where it lies.
#[derive(Clone, Copy, Debug)]
struct Packed {
    /// bit `8 · age band + role` for each role of each person
    pairs: u64,
    day: i32,
    children: u16,
    exporting: u16,
    importing: u16,
    mode: u8,
    /// bit `age band` for each person
    ages: u8,
    flags: u8,
}

// the packed masks have a bit per age band (u8), per (age band, role) pair at 8 · band + role
// (u64) and per mode (u32)
const _: () = assert!(
    crate::journey::report::AgeBand::VARIANTS.len() <= 8
        && crate::journey::report::Role::VARIANTS.len() <= 8
        && crate::journey::report::Mode::VARIANTS.len() <= 32
);

const CROSS_BORDER: u8 = 1;
const RESTRICTED: u8 = 2;
const BTP_SOURCED: u8 = 4;
const NO_FORCE: u16 = u16::MAX;

impl Packed {
    fn of(idx: &JourneyIndex, j: &MappedJourney) -> Packed {
        let (mut pairs, mut ages) = (0u64, 0u8);
        for p in &j.report.persons {
            let a = p.age_band as u32;
            ages |= 1 << a;
            for &r in &p.roles {
                pairs |= 1 << (8 * a + r as u32);
            }
        }
        let flag = |on: bool, bit: u8| if on { bit } else { 0 };
        Packed {
            pairs,
            day: j.day,
            children: j.children,
            exporting: j.exporting_force.unwrap_or(NO_FORCE),
            importing: j.importing_force.unwrap_or(NO_FORCE),
            mode: j.report.journey.mode as u8,
            ages,
            flags: flag(j.cross_border, CROSS_BORDER)
                | flag(idx.is_restricted(&j.report.report_id), RESTRICTED)
                | flag(j.report.btp_sourced(), BTP_SOURCED),
        }
    }
}

/// A journey filter compiled against [`Packed`]: exact for the fields it reads; `rest` when
/// the filter also sets a field it does not read (the journey is then also asked of
/// [`JourneyIndex::selects`]).
struct Compiled {
    from: i32,
    to: i32,
    cross_border: Option<bool>,
    exporting: Option<u16>,
    importing: Option<u16>,
    /// bit per mode (0: any)
    modes: u32,
    /// bit per age band, when only age bands are asked (0: any)
    ages: u8,
    /// bit per (age band, role) pair, when roles are asked (0: any)
    pairs: u64,
    /// the flags that must be clear, and those that must be set
    clear: u8,
    set: u8,
    rest: bool,
}

impl Compiled {
    fn new(f: &JourneyFilter) -> Compiled {
        use crate::journey::report::AgeBand;
        let bands: Vec<u32> = if f.age_bands.is_empty() {
            AgeBand::VARIANTS.iter().map(|&b| b as u32).collect()
        } else {
            f.age_bands.iter().map(|&b| b as u32).collect()
        };
        let pairs = f
            .roles
            .iter()
            .flat_map(|&r| bands.iter().map(move |&a| 1u64 << (8 * a + r as u32)))
            .fold(0, |m, b| m | b);
        let ages = if f.roles.is_empty() {
            f.age_bands.iter().fold(0u8, |m, &b| m | 1 << (b as u32))
        } else {
            0
        };
        // the fields read here, reset: anything left is for `selects` (so that a field added to
        // the filter later is never ignored)
        let rest = JourneyFilter {
            bbox: None,
            from_day: None,
            to_day: None,
            cross_border: None,
            exporting_force: None,
            importing_force: None,
            modes: Vec::new(),
            age_bands: Vec::new(),
            roles: Vec::new(),
            btp_sourced: false,
            disclose_non_btp: false,
            include_restricted: false,
            ..f.clone()
        };
        Compiled {
            from: f.from_day.unwrap_or(i32::MIN),
            to: f.to_day.unwrap_or(i32::MAX),
            cross_border: f.cross_border,
            exporting: f.exporting_force,
            importing: f.importing_force,
            modes: f.modes.iter().fold(0, |m, &x| m | 1 << (x as u32)),
            ages,
            pairs,
            clear: if f.include_restricted { 0 } else { RESTRICTED },
            set: if f.btp_sourced { BTP_SOURCED } else { 0 },
            rest: format!("{rest:?}") != format!("{:?}", JourneyFilter::default()),
        }
    }

    fn passes(&self, p: &Packed) -> bool {
        p.flags & self.clear == 0
            && p.flags & self.set == self.set
            && p.day >= self.from
            && p.day <= self.to
            && self
                .cross_border
                .is_none_or(|c| c == (p.flags & CROSS_BORDER != 0))
            && self.exporting.is_none_or(|e| e == p.exporting)
            && self.importing.is_none_or(|e| e == p.importing)
            && (self.modes == 0 || self.modes & 1 << p.mode != 0)
            && (self.ages == 0 || self.ages & p.ages != 0)
            && (self.pairs == 0 || self.pairs & p.pairs != 0)
    }
}

/// The routes drawn alike at one zoom below [`COALESCE_BELOW`], grouped: one feature each,
/// its `journeys` and `children` summed over its routes (see [`RouteIndex`]).
struct Level {
    /// route numbers by group, ascending within each
    members: Vec<u32>,
    groups: Vec<Group>,
    /// per tile of the zoom (key [`tile_key`]), the groups whose box meets the tile with its
    /// buffer, ascending: a tile reads its list rather than walk an R-tree of the groups (at
    /// zoom 8 a London tile meets tens of thousands of them)
    by_tile: HashMap<u64, Vec<u32>>,
}

/// A tile's key in a zoom's lists.
fn tile_key(x: u32, y: u32) -> u64 {
    u64::from(x) << 32 | u64::from(y)
}

/// The tile's box with its buffer, in the Web Mercator unit square, as the tiles query it.
fn buffered_env(tile: TileId) -> AABB<[f64; 2]> {
    let [x0, y0, x1, y1] = tile.world_bounds();
    let pad = (x1 - x0) * f64::from(BUFFER) / f64::from(EXTENT);
    AABB::from_corners([x0 - pad, y0 - pad], [x1 + pad, y1 + pad])
}

/// The tiles of zoom `z` whose buffered box ([`buffered_env`]) meets `e` (`[min x, min y, max
/// x, max y]`, unit square): the candidates by arithmetic, one tile wider on each side, each
/// tested as the query tests it.
fn tiles_meeting(z: u8, e: [f64; 4], mut each: impl FnMut(u64)) {
    let n = 1u64 << z;
    let nf = n as f64;
    let at = |v: f64| ((v * nf).floor().max(0.0) as u64).min(n - 1);
    let rect = AABB::from_corners([e[0], e[1]], [e[2], e[3]]);
    let (xa, xb) = (at(e[0]).saturating_sub(1), (at(e[2]) + 1).min(n - 1));
    let (ya, yb) = (at(e[1]).saturating_sub(1), (at(e[3]) + 1).min(n - 1));
    for x in xa..=xb {
        for y in ya..=yb {
            let t = TileId {
                z,
                x: x as u32,
                y: y as u32,
            };
            if rstar::Envelope::intersects(&buffered_env(t), &rect) {
                each(tile_key(t.x, t.y));
            }
        }
    }
}

struct Group {
    start: u32,
    len: u32,
    open: u32,
    open_children: u64,
}

/// Below this zoom a journeys tile coalesces the routes drawn alike (see [`RouteIndex`]).
pub const COALESCE_BELOW: u8 = 9;
/// The side, in pixels of a 256-pixel tile, of the cells whose sequence along a route's line
/// is its key at a coalescing zoom (8: 24 km at zoom 5, 3 km at zoom 8). Measured at 100,000
/// journeys: cells of 1, 2, 4 and 8 pixels left 39,454, 34,779, 23,911 and 10,163 journeys out
/// of the largest zoom-5 tile (before lines were straightened to the half pixel).
pub const COALESCE_CELL_PX: f64 = 8.0;

/// The journeys grouped by route geometry, with an R-tree of the routes' envelopes in the
/// Web Mercator unit square; built for one version of the journey index (see
/// [`RouteIndex::version`]) in one pass over the journeys.
///
/// What a feature of a journeys tile is, by zoom:
/// - below [`COALESCE_BELOW`] (the national and regional views), the routes whose whole line
///   is alike at that zoom (its vertices in the same sequence of cells of
///   [`COALESCE_CELL_PX`] pixels, repeats dropped) are one feature, drawn as the line of its
///   first route, with their journeys and children summed (as tippecanoe's coalescing), so
///   that a national tile carries far more of the journeys before the cap. The groups are of the
///   zoom, not of the tile, so a group is the same in every tile it crosses; its feature id is
///   1 + the smallest route number among its members (stable across the tiles of a zoom, for
///   counting each once). The groups of a zoom are made on its first tile after a change.
/// - from [`COALESCE_BELOW`] to [`JOURNEY_ZOOM`], one feature per route geometry (id 1 + its
///   number);
/// - from [`JOURNEY_ZOOM`], one feature per journey.
pub struct RouteIndex {
    version: u64,
    routes: Vec<Route>,
    /// positions in the journey index, route by route
    positions: Vec<u32>,
    /// their filter fields, in the same order
    packed: Vec<Packed>,
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, u32>>,
    levels: Vec<std::sync::OnceLock<Level>>,
}

/// What identifies a route's geometry: its rail pieces, or its line's coordinates.
fn geometry_key(r: &MappedRoute) -> Vec<u64> {
    match &r.geometry {
        RouteGeometry::Pieces(ps) => std::iter::once(0)
            .chain(
                ps.iter()
                    .flat_map(|&(c, a, b)| [u64::from(c), a.to_bits(), b.to_bits()]),
            )
            .collect(),
        RouteGeometry::Line(c) => std::iter::once(1)
            .chain(c.iter().flat_map(|p| [p[0].to_bits(), p[1].to_bits()]))
            .collect(),
    }
}

/// A route's envelope in the unit square (None for a route without geometry).
fn envelope(r: &MappedRoute) -> Option<[f64; 4]> {
    let b = r.bbox;
    (!b.is_empty()).then(|| {
        let a = world([b.min_lon, b.max_lat]);
        let c = world([b.max_lon, b.min_lat]);
        [a[0], a[1], c[0], c[1]]
    })
}

/// A journey tile: the encoded tile, the journeys in its features and those dropped by the
/// caps (on routes whose envelope meets the tile).
#[derive(Clone, Debug, Default)]
pub struct JourneyTile {
    pub encoded: Encoded,
    pub journeys: u64,
    pub dropped_journeys: u64,
}

impl RouteIndex {
    /// Groups the journeys of `idx` by route geometry.
    pub fn build(idx: &JourneyIndex) -> RouteIndex {
        let mut by_ptr: HashMap<*const MappedRoute, u32> = HashMap::new();
        let mut by_key: HashMap<Vec<u64>, u32> = HashMap::new();
        let mut routes: Vec<Route> = Vec::new();
        let all = idx.all();
        let mut route_of: Vec<u32> = Vec::with_capacity(all.len());
        for j in all {
            let ptr = Arc::as_ptr(&j.route);
            let r = match by_ptr.get(&ptr) {
                Some(&r) => r,
                None => {
                    let key = geometry_key(&j.route);
                    let r = *by_key.entry(key).or_insert_with(|| {
                        routes.push(Route {
                            route: j.route.clone(),
                            start: 0,
                            len: 0,
                            open: 0,
                            open_children: 0,
                        });
                        (routes.len() - 1) as u32
                    });
                    by_ptr.insert(ptr, r);
                    r
                }
            };
            route_of.push(r);
            routes[r as usize].len += 1;
        }
        // the journeys laid out route by route (a counting sort: positions ascend per route)
        let mut next = 0u32;
        for r in &mut routes {
            r.start = next;
            next += r.len;
        }
        let mut fill: Vec<u32> = routes.iter().map(|r| r.start).collect();
        let mut positions = vec![0u32; all.len()];
        let mut packed = vec![
            Packed {
                pairs: 0,
                day: 0,
                children: 0,
                exporting: NO_FORCE,
                importing: NO_FORCE,
                mode: 0,
                ages: 0,
                flags: 0,
            };
            all.len()
        ];
        for (i, (j, &r)) in all.iter().zip(&route_of).enumerate() {
            let k = fill[r as usize] as usize;
            fill[r as usize] += 1;
            positions[k] = i as u32;
            packed[k] = Packed::of(idx, j);
            if packed[k].flags & RESTRICTED == 0 {
                let route = &mut routes[r as usize];
                route.open += 1;
                route.open_children += u64::from(j.children);
            }
        }
        let items = routes
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let e = envelope(&r.route)?;
                Some(GeomWithData::new(
                    Rectangle::from_corners([e[0], e[1]], [e[2], e[3]]),
                    i as u32,
                ))
            })
            .collect();
        RouteIndex {
            version: idx.version(),
            routes,
            positions,
            packed,
            tree: RTree::bulk_load(items),
            levels: (0..COALESCE_BELOW).map(|_| Default::default()).collect(),
        }
    }

    /// The version of the journey index it was built from.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Distinct route geometries.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The groups of routes drawn alike at zoom `z` (made on first use), or None from
    /// [`COALESCE_BELOW`].
    fn level(&self, shapes: &ChainShapes, z: u8) -> Option<&Level> {
        let cell = self.levels.get(usize::from(z))?;
        Some(cell.get_or_init(|| self.coalesce(shapes, z)))
    }

    /// Groups of routes at zoom `z`: a route's key is the cells of [`COALESCE_CELL_PX`]
    /// pixels (of that zoom's 256-pixel tiles) its whole line's vertices are in, in order,
    /// repeats dropped.
    fn coalesce(&self, shapes: &ChainShapes, z: u8) -> Level {
        use std::hash::{Hash, Hasher};
        let scale = 256.0 * (1u64 << z) as f64 / COALESCE_CELL_PX;
        let mut by_key: HashMap<(u64, u64), u32> = HashMap::with_capacity(self.routes.len() / 2);
        let mut group_of: Vec<u32> = Vec::with_capacity(self.routes.len());
        let mut sizes: Vec<u32> = Vec::new();
        let mut line: Vec<[f64; 2]> = Vec::new();
        for r in &self.routes {
            line.clear();
            shapes.line(&r.route, z, &mut line);
            let (mut h1, mut h2) = (
                std::collections::hash_map::DefaultHasher::new(),
                std::collections::hash_map::DefaultHasher::new(),
            );
            h2.write_u8(0x5a);
            let mut last: Option<[i64; 2]> = None;
            for p in &line {
                let px = [(p[0] * scale).round() as i64, (p[1] * scale).round() as i64];
                if last != Some(px) {
                    px.hash(&mut h1);
                    px.hash(&mut h2);
                    last = Some(px);
                }
            }
            let k = (h1.finish(), h2.finish());
            let g = *by_key.entry(k).or_insert_with(|| {
                sizes.push(0);
                (sizes.len() - 1) as u32
            });
            sizes[g as usize] += 1;
            group_of.push(g);
        }
        let mut groups: Vec<Group> = Vec::with_capacity(sizes.len());
        let mut next = 0u32;
        for &n in &sizes {
            groups.push(Group {
                start: next,
                len: 0,
                open: 0,
                open_children: 0,
            });
            next += n;
        }
        let mut members = vec![0u32; self.routes.len()];
        let mut boxes: Vec<Option<[f64; 4]>> = vec![None; groups.len()];
        for (r, &g) in group_of.iter().enumerate() {
            let (route, group) = (&self.routes[r], &mut groups[g as usize]);
            members[(group.start + group.len) as usize] = r as u32;
            group.len += 1;
            group.open += route.open;
            group.open_children += route.open_children;
            if let Some(e) = envelope(&route.route) {
                let b = boxes[g as usize].get_or_insert(e);
                *b = [
                    b[0].min(e[0]),
                    b[1].min(e[1]),
                    b[2].max(e[2]),
                    b[3].max(e[3]),
                ];
            }
        }
        let mut by_tile: HashMap<u64, Vec<u32>> = HashMap::new();
        for (g, b) in boxes.iter().enumerate() {
            if let Some(e) = *b {
                tiles_meeting(z, e, |k| by_tile.entry(k).or_default().push(g as u32));
            }
        }
        Level {
            members,
            groups,
            by_tile,
        }
    }

    /// The journeys tile `tile` for the journeys of `idx` (the index this was built from)
    /// that `f` selects (its `bbox` is ignored: the tile is the box), layer `journeys`.
    pub fn tile(
        &self,
        idx: &JourneyIndex,
        geo: &Geography,
        shapes: &ChainShapes,
        tile: TileId,
        f: &JourneyFilter,
    ) -> JourneyTile {
        let mut f = f.clone();
        f.bbox = None;
        // the default filter selects every journey not restricted: counted in advance
        let everything = format!("{f:?}") == format!("{:?}", JourneyFilter::default());
        let test = Compiled::new(&f);
        let env = buffered_env(tile);
        let selected = |k: usize| {
            test.passes(&self.packed[k]) && (!test.rest || idx.selects(geo, self.positions[k], &f))
        };
        // a route's journeys and children under the filter
        let count = |r: u32| -> (u32, u64) {
            let route = &self.routes[r as usize];
            if everything {
                return (route.open, route.open_children);
            }
            let s = route.start as usize;
            (s..s + route.len as usize)
                .filter(|&k| selected(k))
                .fold((0, 0), |(n, c), k| {
                    (n + 1, c + u64::from(self.packed[k].children))
                })
        };
        let level = if tile.z < JOURNEY_ZOOM {
            self.level(shapes, tile.z)
        } else {
            None
        };
        // a unit is a group of routes of the zoom, or one route: its journeys and children
        // under the filter, and its first route (whose line is drawn)
        let count_unit = |u: u32| -> (u32, u64) {
            match level {
                Some(l) => {
                    let g = &l.groups[u as usize];
                    if everything {
                        return (g.open, g.open_children);
                    }
                    l.members[g.start as usize..(g.start + g.len) as usize]
                        .iter()
                        .map(|&r| count(r))
                        .fold((0, 0), |(n, c), (a, b)| (n + a, c + b))
                }
                None => count(u),
            }
        };
        let first_route = |u: u32| -> u32 {
            match level {
                Some(l) => l.members[l.groups[u as usize].start as usize],
                None => u,
            }
        };
        // (unit, journeys, children) of every unit meeting the tile with any journey
        // (counted in the order of their numbers, which is the order of their routes and of the
        // journeys' packed fields in memory: a busy tile reads much of the index, and in order
        // the reads stream instead of each waiting on memory)
        let ids: std::borrow::Cow<[u32]> = match level {
            // the zoom's list for the tile (ascending)
            Some(l) => l
                .by_tile
                .get(&tile_key(tile.x, tile.y))
                .map_or(&[][..], Vec::as_slice)
                .into(),
            None => {
                let mut ids: Vec<u32> = self
                    .tree
                    .locate_in_envelope_intersecting(env)
                    .map(|it| it.data)
                    .collect();
                ids.sort_unstable();
                ids.into()
            }
        };
        let mut units: Vec<(u32, u32, u64)> = ids
            .iter()
            .copied()
            .filter_map(|u| {
                let (n, c) = count_unit(u);
                (n > 0).then_some((u, n, c))
            })
            .collect();
        let total: u64 = units.iter().map(|u| u64::from(u.1)).sum();
        // most journeys first; only the head that can fit is sorted (then the rest, if needed)
        let order = |a: &(u32, u32, u64), b: &(u32, u32, u64)| b.1.cmp(&a.1).then(a.0.cmp(&b.0));
        let mut sorted = 0;
        let single = tile.z >= JOURNEY_ZOOM;
        let mut w = LayerWriter::new("journeys", MAX_BYTES, MAX_FEATURES);
        let mut lines = TileLines::new(shapes, tile);
        let all = idx.all();
        let (mut kept, mut outside, mut dropped_features) = (0u64, 0u64, 0usize);
        let mut full = false;
        for k in 0..units.len() {
            // (a unit is a route: up to a few hundred points to clip and write)
            if k.is_multiple_of(256) {
                crate::cancel::check();
            }
            if full {
                // the rest are dropped whatever their order: counted, not ranked
                dropped_features += units[k..]
                    .iter()
                    .map(|&(_, n, _)| if single { n as usize } else { 1 })
                    .sum::<usize>();
                break;
            }
            if k == sorted {
                // the next head of the rest
                let rest = &mut units[k..];
                let head = rest.len().min(SORTED_HEAD);
                if head < rest.len() {
                    rest.select_nth_unstable_by(head, order);
                }
                rest[..head].sort_unstable_by(order);
                sorted = k + head;
            }
            let (u, n, c) = units[k];
            let first = first_route(u);
            let route = &self.routes[first as usize];
            let parts = lines.route(&route.route);
            if parts.is_empty() {
                outside += u64::from(n);
                continue;
            }
            let geom = Geom::Lines(parts);
            if single {
                let s = route.start as usize;
                for k in (s..s + route.len as usize).filter(|&k| selected(k)) {
                    let i = self.positions[k];
                    let j: &MappedJourney = &all[i as usize];
                    if full || !w.add(Some(u64::from(i) + 1), &geom, &journey_props(geo, j)) {
                        full = true;
                        dropped_features += 1;
                        continue;
                    }
                    kept += 1;
                }
            } else {
                let props = [
                    ("journeys".into(), Prop::Int(i64::from(n))),
                    ("children".into(), Prop::Int(c as i64)),
                ];
                if w.add(Some(u64::from(first) + 1), &geom, &props) {
                    kept += u64::from(n);
                } else {
                    full = true;
                    dropped_features += 1;
                }
            }
        }
        let features = w.len();
        JourneyTile {
            journeys: kept,
            dropped_journeys: total - kept - outside,
            encoded: Encoded {
                bytes: w.finish(),
                features,
                dropped: dropped_features,
            },
        }
    }
}

/// A journey's properties in a tile: `id` (the report id), `journeys` (1), `children`,
/// `persons`, `date`, `mode`, the end stations and forces, `cross_border`, `line_id`.
fn journey_props(geo: &Geography, j: &MappedJourney) -> Vec<(Cow<'static, str>, Prop)> {
    let r = &j.report;
    let mut p: Vec<(Cow<'static, str>, Prop)> = vec![
        ("id".into(), Prop::Str(r.report_id.clone())),
        ("journeys".into(), Prop::Int(1)),
        ("children".into(), Prop::Int(i64::from(j.children))),
        ("persons".into(), Prop::Int(i64::from(j.persons))),
        (
            "date".into(),
            Prop::Str(crate::journey::report::format_date(r.journey.date)),
        ),
        ("mode".into(), Prop::Str(r.journey.mode.as_str().into())),
        ("cross_border".into(), Prop::Bool(j.cross_border)),
    ];
    let station = |s: Option<u32>| s.map(|i| geo.stations.get(i as usize).code.to_string());
    let force = |f: Option<u16>| f.map(|i| geo.forces.get(i as usize).code.to_string());
    for (k, v) in [
        ("origin_station", station(j.origin.station)),
        ("destination_station", station(j.destination.station)),
        ("exporting_force", force(j.exporting_force)),
        ("importing_force", force(j.importing_force)),
        ("line_id", r.line.as_ref().map(|l| l.line_id.clone())),
    ] {
        if let Some(v) = v {
            p.push((k.into(), Prop::Str(v)));
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn the_tiles_a_box_meets_are_those_every_tile_tested_finds() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(8);
        for z in 0..=6u8 {
            let n = 1u32 << z;
            for case in 0..300 {
                // boxes on tile edges, on the edges' buffers, and anywhere
                let v = |rng: &mut rand::rngs::StdRng| match case % 3 {
                    0 => f64::from(rng.random_range(0..=n)) / f64::from(n),
                    1 => {
                        let pad = f64::from(BUFFER) / f64::from(EXTENT) / f64::from(n);
                        (f64::from(rng.random_range(0..=n)) / f64::from(n)
                            + if rng.random_bool(0.5) { pad } else { -pad })
                        .clamp(0.0, 1.0)
                    }
                    _ => rng.random_range(0.0..=1.0),
                };
                let (a, b, c, d) = (v(&mut rng), v(&mut rng), v(&mut rng), v(&mut rng));
                let e = [a.min(b), c.min(d), a.max(b), c.max(d)];
                let mut got = Vec::new();
                tiles_meeting(z, e, |k| got.push(k));
                got.sort_unstable();
                let rect = AABB::from_corners([e[0], e[1]], [e[2], e[3]]);
                let mut want = Vec::new();
                for x in 0..n {
                    for y in 0..n {
                        let t = TileId { z, x, y };
                        let [x0, y0, x1, y1] = t.world_bounds();
                        let pad = (x1 - x0) * 64.0 / 4096.0;
                        // rstar's test: the boxes overlap, edges included
                        if x0 - pad <= rect.upper()[0]
                            && rect.lower()[0] <= x1 + pad
                            && y0 - pad <= rect.upper()[1]
                            && rect.lower()[1] <= y1 + pad
                        {
                            want.push(tile_key(x, y));
                        }
                    }
                }
                assert_eq!(got, want, "z{z} {e:?}");
            }
        }
    }

    #[test]
    fn tiles_number_columns_from_the_west_and_rows_from_the_north() {
        assert!(TileId::new(0, 0, 0).is_ok());
        assert!(TileId::new(3, 8, 0).is_err());
        assert!(TileId::new(3, 0, 8).is_err());
        assert!(TileId::new(23, 0, 0).is_err());
        // London (-0.1276, 51.5072) is in z10 tile 511/340: x = floor((lon+180)/360 * 1024)
        // = floor(511.64) and y = floor((1 - ln(tan φ + sec φ)/π)/2 * 1024) = floor(340.2)
        let w = world([-0.1276, 51.5072]);
        assert_eq!(((w[0] * 1024.0) as u32, (w[1] * 1024.0) as u32), (511, 340));
        let back = lonlat(w);
        assert_relative_eq!(back[0], -0.1276, epsilon = 1e-9);
        assert_relative_eq!(back[1], 51.5072, epsilon = 1e-9);
        // the square's corners
        assert_relative_eq!(world([-180.0, MAX_LAT])[1], 0.0, epsilon = 1e-9);
        assert_relative_eq!(world([180.0, -MAX_LAT])[0], 1.0, epsilon = 1e-12);
    }

    #[test]
    fn a_line_leaving_and_reentering_the_tile_is_two_clipped_parts() {
        let t = TileId::new(0, 0, 0).unwrap();
        // in units of the z0 tile: lon -90 is x 1024, lon 0 is 2048, lon 90 is 3072; the
        // equator is y 2048. Beyond ±180 is outside the world tile (and its buffer).
        let parts = project_line(t, &[[-90.0, 0.0], [90.0, 0.0]]);
        assert_eq!(parts, vec![vec![[1024, 2048], [3072, 2048]]]);
        let z1 = TileId::new(1, 0, 0).unwrap(); // the north-west quarter: x 0..2048 units of z0
        // the equator is its bottom edge (y 4096); lon 0 its east edge (x 4096)
        let parts = project_line(z1, &[[-90.0, 10.0], [90.0, 10.0]]);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0][0][0], 2048);
        assert_eq!(
            parts[0][1][0],
            4096 + BUFFER,
            "clipped at the buffer's edge"
        );
        // out, in, out, in (leaving and coming back at other places): two parts
        let parts = project_line(
            z1,
            &[[-90.0, -30.0], [-90.0, 30.0], [-80.0, -30.0], [-70.0, 30.0]],
        );
        assert_eq!(parts.len(), 2, "{parts:?}");
        // a line far away is not in the tile
        assert!(project_line(z1, &[[90.0, -30.0], [100.0, -40.0]]).is_empty());
    }

    #[test]
    fn vertices_within_a_pixel_are_dropped_and_a_collapsed_line_keeps_one_unit() {
        let s = simplify(&[
            [0.0, 0.0],
            [5.0, 0.0],
            [15.9, 0.0],
            [16.0, 0.0],
            [30.0, 0.0],
            [40.0, 0.0],
        ]);
        // kept: 0; 5 is 5 units from it (dropped); 15.9 rounds to 16, 16 units away (kept);
        // 16 and 30 are 0 and 14 from that (dropped); the end, 40, is 24 away (kept)
        assert_eq!(s, vec![[0, 0], [16, 0], [40, 0]]);
        assert_eq!(simplify(&[[3.0, 3.0], [3.2, 3.1]]), vec![[3, 3], [4, 3]]);
    }

    #[test]
    fn an_over_full_tile_drops_the_least_significant_features_to_fit_the_cap() {
        // 20,000 lines of 100 vertices (about 200 bytes each of geometry: 4 MB) cannot fit
        let line: Vec<[i32; 2]> = (0..100).map(|i| [i * 37 % 4096, i * 41 % 4096]).collect();
        let features: Vec<TileFeature> = (0..20_000)
            .map(|i| TileFeature {
                id: Some(i + 1),
                geom: Geom::Lines(vec![line.clone()]),
                props: vec![("journeys".into(), Prop::Int(20_000 - i as i64))],
            })
            .collect();
        let e = encode("t", &features);
        assert!(e.bytes.len() <= MAX_BYTES, "{}", e.bytes.len());
        assert!(e.features > 1000 && e.dropped > 0);
        assert_eq!(e.features + e.dropped, 20_000);
        // an empty tile still names its layer
        let empty = encode("journeys", &[]);
        assert!(!empty.bytes.is_empty() && empty.features == 0);
    }
}
