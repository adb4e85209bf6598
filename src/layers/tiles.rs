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
//!   Below [`JOURNEY_ZOOM`] a tile has one feature per route with `journeys` and `children`
//!   (the filter's journeys on it and the children on them); from [`JOURNEY_ZOOM`] one feature
//!   per journey (`id`, `journeys` = 1 and its properties). Only the features that are drawn
//!   have their geometry built, so a tile's cost is counting plus at most a cap's worth of
//!   geometry.

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

impl TileFeature {
    /// A guess of the feature's encoded bytes (geometry about two bytes a coordinate, tags
    /// two a pair plus their values), used to stop building features past the cap.
    fn estimate(&self) -> usize {
        let varint = |v: i32| {
            let z = ((v << 1) ^ (v >> 31)) as u32;
            (32 - z.leading_zeros()).div_ceil(7).max(1) as usize
        };
        let geometry: usize = match &self.geom {
            Geom::Points(ps) => 1 + ps.len() * 4,
            Geom::Lines(parts) => parts
                .iter()
                .map(|p| {
                    let mut last = [0, 0];
                    2 + p
                        .iter()
                        .map(|q| {
                            let n = varint(q[0] - last[0]) + varint(q[1] - last[1]);
                            last = *q;
                            n
                        })
                        .sum::<usize>()
                })
                .sum(),
        };
        // the feature's framing, id and type; per tag its two indices and (at worst) a value
        // of its own in the layer's table
        let tags: usize = self
            .props
            .iter()
            .map(|(_, v)| match v {
                Prop::Str(s) => 6 + s.len(),
                _ => 8,
            })
            .sum();
        12 + geometry + tags
    }
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
    let q = |p: [f64; 2]| [p[0].round() as i32, p[1].round() as i32];
    let mut out: Vec<[i32; 2]> = Vec::with_capacity(part.len().min(64));
    let Some((&last, rest)) = part.split_last() else {
        return out;
    };
    for &p in rest {
        let v = q(p);
        match out.last() {
            Some(k) if (v[0] - k[0]).abs().max((v[1] - k[1]).abs()) < TOLERANCE => {}
            _ => out.push(v),
        }
    }
    let end = q(last);
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
    parts.iter().map(|p| simplify(p)).collect()
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

    /// A route's line in the unit square at `tile`'s resolution, as runs: the rail pieces
    /// whose chain does not come near the tile are left out (a gap).
    pub fn route(&self, route: &MappedRoute, tile: TileId) -> Vec<Vec<[f64; 2]>> {
        let [x0, y0, x1, y1] = tile.world_bounds();
        let pad = (x1 - x0) * f64::from(BUFFER) / f64::from(EXTENT);
        let (x0, y0, x1, y1) = (x0 - pad, y0 - pad, x1 + pad, y1 + pad);
        match &route.geometry {
            RouteGeometry::Line(c) => vec![c.iter().map(|&p| world(p)).collect()],
            RouteGeometry::Pieces(pieces) => {
                let band = usize::from(tile.z / BAND_ZOOMS).min(self.bands.len() - 1);
                let shapes = &self.bands[band];
                let mut runs: Vec<Vec<[f64; 2]>> = Vec::new();
                let mut cur: Vec<[f64; 2]> = Vec::new();
                for &(c, from, to) in pieces {
                    let e = self.envelopes[c as usize];
                    if e[2] < x0 || e[0] > x1 || e[3] < y0 || e[1] > y1 {
                        if !cur.is_empty() {
                            runs.push(std::mem::take(&mut cur));
                        }
                        continue;
                    }
                    shapes[c as usize].append_slice(from, to, &mut cur);
                }
                if !cur.is_empty() {
                    runs.push(cur);
                }
                runs
            }
        }
    }
}

/// An encoded tile: its bytes, the features in it and the features dropped by the caps.
#[derive(Clone, Debug, Default)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub features: usize,
    pub dropped: usize,
}

/// Encodes the features (most significant first) as one layer named `layer`; drops the least
/// significant while the tile is over [`MAX_FEATURES`] or [`MAX_BYTES`]. A tile without
/// features still has its (empty) layer.
pub fn encode(layer: &str, features: &[TileFeature]) -> Result<Encoded, mvt::Error> {
    let total = features.len();
    let mut n = total.min(MAX_FEATURES);
    loop {
        let bytes = encode_some(layer, &features[..n])?;
        if bytes.len() <= MAX_BYTES || n == 0 {
            return Ok(Encoded {
                bytes,
                features: n,
                dropped: total - n,
            });
        }
        // shrink in proportion, a little more than needed, then check again
        let ratio = MAX_BYTES as f64 / bytes.len() as f64;
        n = ((n as f64 * ratio * 0.97) as usize).min(n - 1);
    }
}

fn encode_some(layer: &str, features: &[TileFeature]) -> Result<Vec<u8>, mvt::Error> {
    use mvt::{GeomEncoder, GeomType, Tile};
    let mut tile = Tile::new(EXTENT);
    let mut l = tile.create_layer(layer);
    for f in features {
        let data = match &f.geom {
            Geom::Points(ps) => {
                let mut e = GeomEncoder::new(GeomType::Point);
                for p in ps {
                    e.add_point(p[0], p[1])?;
                }
                e.encode()?
            }
            Geom::Lines(parts) => {
                let mut e = GeomEncoder::new(GeomType::Linestring);
                for part in parts {
                    for p in part {
                        e.add_point(p[0], p[1])?;
                    }
                    e.complete_geom()?;
                }
                e.encode()?
            }
        };
        let mut feature = l.into_feature(data);
        if let Some(id) = f.id {
            feature.set_id(id);
        }
        for (k, v) in &f.props {
            match v {
                Prop::Str(s) => feature.add_tag_string(k, s),
                Prop::Int(i) if *i >= 0 => feature.add_tag_uint(k, *i as u64),
                Prop::Int(i) => feature.add_tag_sint(k, *i),
                Prop::Double(d) => feature.add_tag_double(k, *d),
                Prop::Bool(b) => feature.add_tag_bool(k, *b),
            }
        }
        l = feature.into_layer();
    }
    tile.add_layer(l)?;
    tile.to_bytes()
}

// ---------------------------------------------------------------- journeys

/// The journeys on one route geometry.
struct Route {
    /// one of the routes with this geometry (its coordinates are built when drawn)
    route: Arc<MappedRoute>,
    /// the journeys on it, as positions in the index, ascending
    journeys: Vec<u32>,
    /// of them, those no filter's default leaves out (not restricted), and their children
    open: u32,
    open_children: u64,
}

/// The journeys grouped by route geometry, with an R-tree of the routes' envelopes in the
/// Web Mercator unit square; built for one version of the journey index (see
/// [`RouteIndex::version`]) in one pass over the journeys.
pub struct RouteIndex {
    version: u64,
    routes: Vec<Route>,
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, u32>>,
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
        for (i, j) in idx.all().iter().enumerate() {
            let ptr = Arc::as_ptr(&j.route);
            let r = match by_ptr.get(&ptr) {
                Some(&r) => r,
                None => {
                    let key = geometry_key(&j.route);
                    let r = *by_key.entry(key).or_insert_with(|| {
                        routes.push(Route {
                            route: j.route.clone(),
                            journeys: Vec::new(),
                            open: 0,
                            open_children: 0,
                        });
                        (routes.len() - 1) as u32
                    });
                    by_ptr.insert(ptr, r);
                    r
                }
            };
            let route = &mut routes[r as usize];
            route.journeys.push(i as u32);
            if !idx.is_restricted(&j.report.report_id) {
                route.open += 1;
                route.open_children += u64::from(j.children);
            }
        }
        let items = routes
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.route.bbox.is_empty())
            .map(|(i, r)| {
                let b = r.route.bbox;
                let a = world([b.min_lon, b.max_lat]);
                let c = world([b.max_lon, b.min_lat]);
                GeomWithData::new(Rectangle::from_corners(a, c), i as u32)
            })
            .collect();
        RouteIndex {
            version: idx.version(),
            routes,
            tree: RTree::bulk_load(items),
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

    /// The journeys tile `tile` for the journeys of `idx` (the index this was built from)
    /// that `f` selects (its `bbox` is ignored: the tile is the box), layer `journeys`.
    pub fn tile(
        &self,
        idx: &JourneyIndex,
        geo: &Geography,
        shapes: &ChainShapes,
        tile: TileId,
        f: &JourneyFilter,
    ) -> Result<JourneyTile, mvt::Error> {
        let mut f = f.clone();
        f.bbox = None;
        // the default filter selects every journey not restricted: counted in advance
        let everything = format!("{f:?}") == format!("{:?}", JourneyFilter::default());
        let [x0, y0, x1, y1] = tile.world_bounds();
        let pad = (x1 - x0) * f64::from(BUFFER) / f64::from(EXTENT);
        let env = AABB::from_corners([x0 - pad, y0 - pad], [x1 + pad, y1 + pad]);
        let all = idx.all();
        let selected = |i: u32| idx.selects(geo, i, &f);
        // (route, journeys, children) of every route meeting the tile with any journey
        let mut groups: Vec<(u32, u32, u64)> = self
            .tree
            .locate_in_envelope_intersecting(env)
            .filter_map(|it| {
                let r = &self.routes[it.data as usize];
                let (n, c) = if everything {
                    (r.open, r.open_children)
                } else {
                    r.journeys
                        .iter()
                        .filter(|&&i| selected(i))
                        .map(|&i| &*all[i as usize])
                        .fold((0u32, 0u64), |(n, c), j| (n + 1, c + u64::from(j.children)))
                };
                (n > 0).then_some((it.data, n, c))
            })
            .collect();
        // most journeys first; only the head that can fit is sorted (then the rest, if needed)
        let order = |a: &(u32, u32, u64), b: &(u32, u32, u64)| b.1.cmp(&a.1).then(a.0.cmp(&b.0));
        let mut sorted = 0;
        let single = tile.z >= JOURNEY_ZOOM;
        let mut features: Vec<TileFeature> = Vec::new();
        let mut budget = 0usize;
        let mut drawn = 0usize;
        for k in 0..groups.len() {
            if budget > MAX_BYTES || features.len() >= MAX_FEATURES {
                break;
            }
            if k == sorted {
                // the next head of the rest
                let rest = &mut groups[k..];
                let head = rest.len().min(SORTED_HEAD);
                if head < rest.len() {
                    rest.select_nth_unstable_by(head, order);
                }
                rest[..head].sort_unstable_by(order);
                sorted = k + head;
            }
            let (r, n, c) = groups[k];
            drawn += 1;
            let route = &self.routes[r as usize];
            let parts = project_runs(tile, &shapes.route(&route.route, tile));
            if parts.is_empty() {
                continue;
            }
            let geom = Geom::Lines(parts);
            if single {
                for &i in &route.journeys {
                    let j: &MappedJourney = &all[i as usize];
                    if !(if everything {
                        !idx.is_restricted(&j.report.report_id)
                    } else {
                        selected(i)
                    }) {
                        continue;
                    }
                    let feature = TileFeature {
                        id: Some(u64::from(i) + 1),
                        geom: geom.clone(),
                        props: journey_props(geo, j),
                    };
                    budget += feature.estimate();
                    features.push(feature);
                }
            } else {
                let feature = TileFeature {
                    id: Some(u64::from(r) + 1),
                    geom,
                    props: vec![
                        ("journeys".into(), Prop::Int(i64::from(n))),
                        ("children".into(), Prop::Int(c as i64)),
                    ],
                };
                budget += feature.estimate();
                features.push(feature);
            }
        }
        let encoded = encode("journeys", &features)?;
        let count = |fs: &[TileFeature]| -> u64 {
            fs.iter()
                .map(|f| match f.props.iter().find(|(k, _)| k == "journeys") {
                    Some((_, Prop::Int(n))) => *n as u64,
                    _ => 0,
                })
                .sum()
        };
        let kept = count(&features[..encoded.features]);
        let in_groups = count(&features);
        let undrawn: u64 = groups[drawn..].iter().map(|g| u64::from(g.1)).sum();
        Ok(JourneyTile {
            journeys: kept,
            dropped_journeys: in_groups - kept + undrawn,
            encoded: Encoded {
                dropped: encoded.dropped + (groups.len() - drawn),
                ..encoded
            },
        })
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
        let e = encode("t", &features).unwrap();
        assert!(e.bytes.len() <= MAX_BYTES, "{}", e.bytes.len());
        assert!(e.features > 1000 && e.dropped > 0);
        assert_eq!(e.features + e.dropped, 20_000);
        // an empty tile still names its layer
        let empty = encode("journeys", &[]).unwrap();
        assert!(!empty.bytes.is_empty() && empty.features == 0);
    }
}
