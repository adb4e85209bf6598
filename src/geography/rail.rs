//! The rail network as a routable graph.
//!
//! Track comes in as polylines over shared vertices ([`TrackNetwork`]): a vertex used by more than
//! two track segments, or by one (a buffer stop), is a junction; the runs of vertices between
//! junctions become *chains*, the edges of a small graph (GB: ~210,000 vertices become a few
//! thousand chains). Dead ends of small disconnected pieces are bridged to the nearest vertex of
//! another piece within [`RailOptions::bridge_gaps_m`] (the GB track file has small gaps).
//!
//! Stations sit beside the track, not on it: each is attached to the nearest point of the nearest
//! track segment (by true distance), and that attachment (chain, offset along it, distance) is
//! kept. A route between two stations runs from attachment point to attachment point along the
//! track (Dijkstra over junctions, seeded from both ends of the origin's chain), optionally through
//! given via stations; its length is the track length between the attachment points.

use super::geodesy::{
    LocalPlane, SPHERE_TOLERANCE, chord_to_arc, distance_to_segment_m, lerp, segment_length_m,
    to_xyz,
};
use super::stations::StationIndex;
use super::types::Bbox;
use rstar::{RTree, primitives::GeomWithData, primitives::Line};
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, HashSet};

/// Track as read from a file: vertices (lon/lat) and ways as sequences of vertex indices. Ways
/// that share a vertex index are connected there.
#[derive(Clone, Debug, Default)]
pub struct TrackNetwork {
    pub nodes: Vec<[f64; 2]>,
    pub ways: Vec<Vec<u32>>,
}

/// Options for building the graph.
#[derive(Clone, Copy, Debug)]
pub struct RailOptions {
    /// A dead end of a piece of track not connected to the rest is joined to the nearest vertex of
    /// another piece within this many metres. 0 disables bridging.
    pub bridge_gaps_m: f64,
    /// Stations attached farther than this from the track are not listed as passed by routes
    /// (they are still routable from and to).
    pub pass_max_m: f64,
}

impl Default for RailOptions {
    fn default() -> Self {
        RailOptions {
            bridge_gaps_m: 100.0,
            pass_max_m: 500.0,
        }
    }
}

/// A run of track between two junctions.
#[derive(Clone, Debug)]
pub struct Chain {
    pub start: u32,
    pub end: u32,
    pub coords: Vec<[f64; 2]>,
    /// cumulative length at each vertex, metres; `cum[0] == 0`
    pub cum: Vec<f64>,
    pub bbox: Bbox,
}

impl Chain {
    pub fn length_m(&self) -> f64 {
        *self.cum.last().unwrap_or(&0.0)
    }

    /// The point at `offset` metres from the chain's start.
    pub fn point_at(&self, offset: f64) -> [f64; 2] {
        let i = self.segment_at(offset);
        let (a, b) = (self.cum[i], self.cum[i + 1]);
        let t = if b > a {
            ((offset - a) / (b - a)).clamp(0.0, 1.0)
        } else {
            0.0
        };
        lerp(self.coords[i], self.coords[i + 1], t)
    }

    /// Whether the part of the chain between offsets `lo` <= `hi` touches `b`, without copying it.
    pub fn slice_intersects(&self, lo: f64, hi: f64, b: &Bbox) -> bool {
        if self.coords.len() < 2 {
            return self.coords.first().is_some_and(|p| b.contains(*p));
        }
        let (i, j) = (self.segment_at(lo), self.segment_at(hi));
        (i..=j).any(|k| {
            let p = if k == i {
                self.point_at(lo)
            } else {
                self.coords[k]
            };
            let q = if k == j {
                self.point_at(hi)
            } else {
                self.coords[k + 1]
            };
            b.segment_intersects(p, q)
        })
    }

    /// The points of the slice from offset `from` to offset `to` (either direction), as
    /// [`Chain::append_slice`] appends them (a point equal to the one before it may repeat),
    /// without building them.
    pub fn slice_points(&self, from: f64, to: f64) -> impl Iterator<Item = [f64; 2]> + '_ {
        let short = self.coords.len() < 2;
        let ends = |o: f64| {
            if short {
                self.coords.first().copied()
            } else {
                Some(self.point_at(o))
            }
        };
        let (i, j) = (self.segment_at(from), self.segment_at(to));
        // the chain's own vertices between the two ends: i+1..=j forward, i down to j+1 back
        let (start, count, forward) = match (short, from <= to) {
            (true, _) => (0, 0, true),
            (false, true) => (i + 1, j.saturating_sub(i), true),
            (false, false) => (i, i.saturating_sub(j), false),
        };
        ends(from)
            .into_iter()
            .chain(
                (0..count).map(move |t| self.coords[if forward { start + t } else { start - t }]),
            )
            .chain(ends(to))
    }

    /// The segment (from vertex `i` to `i + 1`) holding `offset` metres.
    pub fn segment_at(&self, offset: f64) -> usize {
        let n = self.coords.len();
        if n < 2 {
            return 0;
        }
        self.cum
            .partition_point(|&c| c <= offset)
            .saturating_sub(1)
            .min(n - 2)
    }

    /// The geometry from offset `from` to offset `to` (either direction), appended to `out`
    /// without repeating a point equal to `out`'s last.
    pub fn append_slice(&self, from: f64, to: f64, out: &mut Vec<[f64; 2]>) {
        let mut push = |p: [f64; 2]| {
            if out.last() != Some(&p) {
                out.push(p);
            }
        };
        push(self.point_at(from));
        if from <= to {
            let (i, j) = (self.segment_at(from), self.segment_at(to));
            for k in i + 1..=j {
                push(self.coords[k]);
            }
        } else {
            let (i, j) = (self.segment_at(from), self.segment_at(to));
            for k in (j + 1..=i).rev() {
                push(self.coords[k]);
            }
        }
        push(self.point_at(to));
    }
}

/// Where a station joins the track.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Attachment {
    pub chain: u32,
    /// metres from the chain's start
    pub offset_m: f64,
    /// the attachment point on the track (lon/lat)
    pub point: [f64; 2],
    /// metres from the station to the track
    pub distance_m: f64,
}

/// A dead end joined to another piece of track.
#[derive(Clone, Copy, Debug)]
pub struct Bridge {
    pub from: [f64; 2],
    pub to: [f64; 2],
    pub length_m: f64,
}

/// A route along the track.
#[derive(Clone, Debug)]
pub struct Route {
    /// lon/lat points from the origin's attachment point to the destination's
    pub coords: Vec<[f64; 2]>,
    /// track length, metres
    pub distance_m: f64,
    /// stations passed, in travel order (indices into the station index), origin and
    /// destination included
    pub stations: Vec<usize>,
    /// the route as parts of chains, in travel order: (chain, from offset, to offset) in metres
    pub pieces: Vec<Piece>,
}

/// Why no route was found.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RouteError {
    #[error("station {0} is not attached to the rail network")]
    NotAttached(usize),
    #[error(
        "no rail route between stations {0} and {1}: they are on disconnected parts of the network"
    )]
    Disconnected(usize, usize),
}

type SegItem = GeomWithData<Line<[f64; 3]>, (u32, u32)>;
/// Part of a route: (chain, from offset, to offset), metres along the chain.
pub type Piece = (u32, f64, f64);

/// The routable rail graph with its attached stations. Built once; immutable and `Sync`.
pub struct RailGraph {
    chains: Vec<Chain>,
    junctions: Vec<[f64; 2]>,
    /// junctions on the mean sphere, for the A* bound
    junction_xyz: Vec<[f64; 3]>,
    /// per junction: (chain, true if the junction is the chain's start)
    adj: Vec<Vec<(u32, bool)>>,
    /// component id per junction
    component: Vec<u32>,
    component_sizes: Vec<usize>,
    seg_tree: RTree<SegItem>,
    attachments: Vec<Option<Attachment>>,
    /// per chain: (offset, station) sorted by offset, stations within pass_max_m only
    on_chain: Vec<Vec<(f64, u32)>>,
    bridges: Vec<Bridge>,
    vertices: usize,
    options: RailOptions,
}

impl RailGraph {
    /// The options the graph was built with.
    pub fn options(&self) -> RailOptions {
        self.options
    }
}

impl RailGraph {
    /// Builds the graph from `net` and attaches every station of `stations`.
    pub fn build(net: &TrackNetwork, stations: &StationIndex, options: RailOptions) -> Self {
        let mut adjn = raw_adjacency(net);
        let bridges = bridge_gaps(net, &mut adjn, options.bridge_gaps_m);
        let (chains, junctions, adj) = contract(net, &adjn);
        let vertices = adjn.iter().filter(|a| !a.is_empty()).count();
        let (component, component_sizes) = components(junctions.len(), &chains);
        let mut items = Vec::new();
        for (ci, c) in chains.iter().enumerate() {
            for (si, w) in c.coords.windows(2).enumerate() {
                items.push(GeomWithData::new(
                    Line::new(to_xyz(w[0]), to_xyz(w[1])),
                    (ci as u32, si as u32),
                ));
            }
        }
        let seg_tree = RTree::bulk_load(items);
        let junction_xyz = junctions.iter().map(|&p| to_xyz(p)).collect();
        let mut g = RailGraph {
            chains,
            junctions,
            junction_xyz,
            adj,
            component,
            component_sizes,
            seg_tree,
            attachments: Vec::new(),
            on_chain: Vec::new(),
            bridges,
            vertices,
            options,
        };
        g.attachments = stations
            .stations()
            .iter()
            .map(|s| g.attach(s.pos()))
            .collect();
        g.on_chain = vec![Vec::new(); g.chains.len()];
        for (si, a) in g.attachments.iter().enumerate() {
            if let Some(a) = a
                && a.distance_m <= options.pass_max_m
            {
                g.on_chain[a.chain as usize].push((a.offset_m, si as u32));
            }
        }
        for v in &mut g.on_chain {
            v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        }
        g
    }

    pub fn chains(&self) -> &[Chain] {
        &self.chains
    }

    pub fn junction_count(&self) -> usize {
        self.junctions.len()
    }

    pub fn vertex_count(&self) -> usize {
        self.vertices
    }

    pub fn bridges(&self) -> &[Bridge] {
        &self.bridges
    }

    /// Sizes of the connected components in junctions, largest first.
    pub fn component_sizes(&self) -> Vec<usize> {
        let mut v = self.component_sizes.clone();
        v.sort_unstable_by(|a, b| b.cmp(a));
        v
    }

    /// Total track length, metres.
    pub fn length_m(&self) -> f64 {
        self.chains.iter().map(Chain::length_m).sum()
    }

    pub fn attachment(&self, station: usize) -> Option<&Attachment> {
        self.attachments.get(station).and_then(Option::as_ref)
    }

    /// Whether a station's chain is in the largest connected component.
    pub fn in_main_component(&self, station: usize) -> bool {
        let Some(a) = self.attachment(station) else {
            return false;
        };
        let c = self.component[self.chains[a.chain as usize].start as usize] as usize;
        let max = self.component_sizes.iter().copied().max().unwrap_or(0);
        self.component_sizes[c] == max
    }

    /// Chains whose bounding box intersects `bbox`.
    pub fn chains_in_bbox(&self, bbox: &Bbox) -> Vec<usize> {
        (0..self.chains.len())
            .filter(|&i| self.chains[i].bbox.intersects(bbox))
            .collect()
    }

    /// The nearest point of the track to `p`, by true distance.
    pub fn attach(&self, p: [f64; 2]) -> Option<Attachment> {
        let mut best: Option<Attachment> = None;
        for (item, d2) in self
            .seg_tree
            .nearest_neighbor_iter_with_distance_2(to_xyz(p))
        {
            let lower = chord_to_arc(d2.sqrt()) * (1.0 - SPHERE_TOLERANCE) - 5.0;
            if best.is_some_and(|b| lower > b.distance_m) {
                break;
            }
            let (ci, si) = item.data;
            let c = &self.chains[ci as usize];
            let (a, b) = (c.coords[si as usize], c.coords[si as usize + 1]);
            let (d, q, t) = distance_to_segment_m(p, a, b);
            if best.is_none_or(|bb| d < bb.distance_m) {
                let (c0, c1) = (c.cum[si as usize], c.cum[si as usize + 1]);
                best = Some(Attachment {
                    chain: ci,
                    offset_m: c0 + t * (c1 - c0),
                    point: q,
                    distance_m: d,
                });
            }
        }
        best
    }

    /// For every station, the other stations within `max_m` metres of it along the track
    /// (shortest path between the two attachment points, as [`RailGraph::route`] measures it),
    /// with that distance, nearest first. Unattached stations have none.
    pub fn network_neighbours(&self, station_count: usize, max_m: f64) -> Vec<Vec<(u32, f64)>> {
        // stations by chain, from the attachments (every attached station, however far)
        let mut by_chain: Vec<Vec<(f64, u32)>> = vec![Vec::new(); self.chains.len()];
        for s in 0..station_count {
            if let Some(a) = self.attachment(s) {
                by_chain[a.chain as usize].push((a.offset_m, s as u32));
            }
        }
        let mut dist = vec![f64::INFINITY; self.junctions.len()];
        let mut touched: Vec<u32> = Vec::new();
        let mut best: HashMap<u32, f64> = HashMap::new();
        let mut out = Vec::with_capacity(station_count);
        for s in 0..station_count {
            best.clear();
            let Some(a) = self.attachment(s) else {
                out.push(Vec::new());
                continue;
            };
            let mut offer = |t: u32, d: f64| {
                if t as usize != s && d <= max_m {
                    let e = best.entry(t).or_insert(f64::INFINITY);
                    *e = e.min(d);
                }
            };
            let ca = &self.chains[a.chain as usize];
            for &(off, t) in &by_chain[a.chain as usize] {
                offer(t, (off - a.offset_m).abs());
            }
            let mut heap = BinaryHeap::new();
            for (j, d) in [(ca.start, a.offset_m), (ca.end, ca.length_m() - a.offset_m)] {
                if d <= max_m && d < dist[j as usize] {
                    if dist[j as usize].is_infinite() {
                        touched.push(j);
                    }
                    dist[j as usize] = d;
                    heap.push(HeapItem(d, j));
                }
            }
            while let Some(HeapItem(d, j)) = heap.pop() {
                if d > dist[j as usize] {
                    continue;
                }
                for &(c, is_start) in &self.adj[j as usize] {
                    let ch = &self.chains[c as usize];
                    for &(off, t) in &by_chain[c as usize] {
                        offer(t, d + if is_start { off } else { ch.length_m() - off });
                    }
                    let next = if is_start { ch.end } else { ch.start };
                    let nd = d + ch.length_m();
                    if nd <= max_m && nd < dist[next as usize] {
                        if dist[next as usize].is_infinite() {
                            touched.push(next);
                        }
                        dist[next as usize] = nd;
                        heap.push(HeapItem(nd, next));
                    }
                }
            }
            for j in touched.drain(..) {
                dist[j as usize] = f64::INFINITY;
            }
            let mut list: Vec<(u32, f64)> = best.iter().map(|(&t, &d)| (t, d)).collect();
            list.sort_by(|x, y| x.1.total_cmp(&y.1).then(x.0.cmp(&y.0)));
            out.push(list);
        }
        out
    }

    /// The shortest route through `stops` (origin, any vias, destination), all station indices.
    pub fn route(&self, stops: &[usize]) -> Result<Route, RouteError> {
        self.route_with(stops, true)
    }

    /// As [`route`](Self::route); `coords` false leaves `Route::coords` empty (cheaper when
    /// only the pieces, length and stations are wanted).
    pub fn route_with(&self, stops: &[usize], coords: bool) -> Result<Route, RouteError> {
        let mut points = Vec::new();
        let mut stations: Vec<usize> = Vec::new();
        let mut all_pieces = Vec::new();
        let mut distance_m = 0.0;
        for w in stops.windows(2) {
            let a = self.attachment(w[0]).ok_or(RouteError::NotAttached(w[0]))?;
            let b = self.attachment(w[1]).ok_or(RouteError::NotAttached(w[1]))?;
            let (len, pieces) = self.leg(a, b).ok_or(RouteError::Disconnected(w[0], w[1]))?;
            distance_m += len;
            push_station(&mut stations, w[0]);
            for &(c, from, to) in &pieces {
                if coords {
                    self.chains[c as usize].append_slice(from, to, &mut points);
                }
                let on = &self.on_chain[c as usize];
                let (lo, hi) = (from.min(to), from.max(to));
                let range = on.iter().filter(|(o, _)| *o >= lo && *o <= hi);
                if from <= to {
                    range.for_each(|&(_, s)| push_station(&mut stations, s as usize));
                } else {
                    range
                        .rev()
                        .for_each(|&(_, s)| push_station(&mut stations, s as usize));
                }
            }
            push_station(&mut stations, w[1]);
            all_pieces.extend(pieces);
        }
        if coords {
            if points.len() == 1 {
                points.push(points[0]);
            }
            if points.is_empty()
                && let Some(a) = stops.first().and_then(|&s| self.attachment(s))
            {
                points = vec![a.point, a.point];
            }
        }
        Ok(Route {
            coords: points,
            distance_m,
            stations,
            pieces: all_pieces,
        })
    }

    /// One leg: its length and pieces (chain, from offset, to offset).
    fn leg(&self, a: &Attachment, b: &Attachment) -> Option<(f64, Vec<Piece>)> {
        let ca = &self.chains[a.chain as usize];
        let cb = &self.chains[b.chain as usize];
        let mut best = f64::INFINITY;
        let mut best_end: Option<(u32, bool)> = None; // (junction, arrives at cb's start)
        if a.chain == b.chain {
            best = (a.offset_m - b.offset_m).abs();
        }
        let n = self.junctions.len();
        let mut dist = vec![f64::INFINITY; n];
        // predecessor: (chain, true if traversed start -> end); u32::MAX chain = the source
        let mut pred: Vec<(u32, bool)> = vec![(u32::MAX, true); n];
        // A*: a lower bound of the track distance from a junction to b is the straight line
        // (chord) between them, less 1 % for the sphere standing in for the ellipsoid. It is
        // consistent, so a junction's first pop is final.
        let target = to_xyz(b.point);
        let h = |j: u32| {
            let p = self.junction_xyz[j as usize];
            let (dx, dy, dz) = (p[0] - target[0], p[1] - target[1], p[2] - target[2]);
            (dx * dx + dy * dy + dz * dz).sqrt() * (1.0 - SPHERE_TOLERANCE)
        };
        let mut heap = BinaryHeap::new();
        let mut seed = |j: u32, d: f64, heap: &mut BinaryHeap<HeapItem>| {
            if d < dist[j as usize] {
                dist[j as usize] = d;
                heap.push(HeapItem(d + h(j), j));
            }
        };
        seed(ca.start, a.offset_m, &mut heap);
        seed(ca.end, ca.length_m() - a.offset_m, &mut heap);
        while let Some(HeapItem(key, j)) = heap.pop() {
            let d = dist[j as usize];
            if key > d + h(j) + 1e-6 {
                continue; // stale entry
            }
            if key >= best {
                break;
            }
            if j == cb.start && d + b.offset_m < best {
                best = d + b.offset_m;
                best_end = Some((j, true));
            }
            if j == cb.end && d + cb.length_m() - b.offset_m < best {
                best = d + cb.length_m() - b.offset_m;
                best_end = Some((j, false));
            }
            for &(c, is_start) in &self.adj[j as usize] {
                let ch = &self.chains[c as usize];
                let next = if is_start { ch.end } else { ch.start };
                let nd = d + ch.length_m();
                if nd < dist[next as usize] {
                    dist[next as usize] = nd;
                    pred[next as usize] = (c, is_start);
                    heap.push(HeapItem(nd + h(next), next));
                }
            }
        }
        if !best.is_finite() {
            return None;
        }
        let Some((j_end, at_start)) = best_end else {
            return Some((best, vec![(a.chain, a.offset_m, b.offset_m)]));
        };
        // last piece: from the junction into cb up to b
        let mut pieces = vec![if at_start {
            (b.chain, 0.0, b.offset_m)
        } else {
            (b.chain, cb.length_m(), b.offset_m)
        }];
        let mut j = j_end;
        loop {
            let (c, fwd) = pred[j as usize];
            if c == u32::MAX {
                break;
            }
            let ch = &self.chains[c as usize];
            if fwd {
                pieces.push((c, 0.0, ch.length_m()));
                j = ch.start;
            } else {
                pieces.push((c, ch.length_m(), 0.0));
                j = ch.end;
            }
        }
        // first piece: from a to the junction the search left ca by
        let first = if j == ca.start && (ca.start != ca.end || a.offset_m <= ca.length_m() / 2.0) {
            (a.chain, a.offset_m, 0.0)
        } else {
            (a.chain, a.offset_m, ca.length_m())
        };
        pieces.push(first);
        pieces.reverse();
        Some((best, pieces))
    }
}

fn push_station(v: &mut Vec<usize>, s: usize) {
    if v.last() != Some(&s) {
        v.push(s);
    }
}

#[derive(PartialEq)]
struct HeapItem(f64, u32);
impl Eq for HeapItem {}
impl Ord for HeapItem {
    fn cmp(&self, o: &Self) -> Ordering {
        o.0.total_cmp(&self.0).then(o.1.cmp(&self.1))
    }
}
impl PartialOrd for HeapItem {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// Distinct neighbours of every vertex.
fn raw_adjacency(net: &TrackNetwork) -> Vec<Vec<u32>> {
    let mut adj: Vec<Vec<u32>> = vec![Vec::new(); net.nodes.len()];
    for way in &net.ways {
        for w in way.windows(2) {
            let (u, v) = (w[0], w[1]);
            if u == v || net.nodes[u as usize] == net.nodes[v as usize] {
                continue;
            }
            if !adj[u as usize].contains(&v) {
                adj[u as usize].push(v);
                adj[v as usize].push(u);
            }
        }
    }
    adj
}

/// Union-find root with path halving.
fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        parent[x as usize] = parent[parent[x as usize] as usize];
        x = parent[x as usize];
    }
    x
}

/// Joins each dead end of a piece of track to the nearest vertex of a different piece within
/// `max_m` metres, nearest gaps first. Returns the bridges made.
fn bridge_gaps(net: &TrackNetwork, adj: &mut [Vec<u32>], max_m: f64) -> Vec<Bridge> {
    if max_m <= 0.0 {
        return Vec::new();
    }
    let n = adj.len();
    let mut parent: Vec<u32> = (0..n as u32).collect();
    for (u, nbrs) in adj.iter().enumerate() {
        for &v in nbrs {
            let (a, b) = (find(&mut parent, u as u32), find(&mut parent, v));
            if a != b {
                parent[a as usize] = b;
            }
        }
    }
    let tree: RTree<GeomWithData<[f64; 3], u32>> = RTree::bulk_load(
        (0..n)
            .filter(|&i| !adj[i].is_empty())
            .map(|i| GeomWithData::new(to_xyz(net.nodes[i]), i as u32))
            .collect(),
    );
    // candidate gaps: (length, dead end, target)
    let mut gaps: Vec<(f64, u32, u32)> = Vec::new();
    let chord = super::geodesy::arc_to_chord(max_m / (1.0 - SPHERE_TOLERANCE));
    for (u, nbrs) in adj.iter().enumerate() {
        if nbrs.len() != 1 {
            continue;
        }
        let cu = find(&mut parent, u as u32);
        let p = net.nodes[u];
        let plane = LocalPlane::at(p);
        let best = tree
            .locate_within_distance(to_xyz(p), chord * chord)
            .filter(|it| find(&mut parent, it.data) != cu)
            .map(|it| (plane.distance_m(net.nodes[it.data as usize]), it.data))
            .filter(|(d, _)| *d <= max_m)
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        if let Some((d, v)) = best {
            gaps.push((d, u as u32, v));
        }
    }
    gaps.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut bridges = Vec::new();
    for (d, u, v) in gaps {
        let (a, b) = (find(&mut parent, u), find(&mut parent, v));
        if a == b {
            continue;
        }
        parent[a as usize] = b;
        adj[u as usize].push(v);
        adj[v as usize].push(u);
        bridges.push(Bridge {
            from: net.nodes[u as usize],
            to: net.nodes[v as usize],
            length_m: d,
        });
    }
    bridges
}

/// Contracts runs of degree-2 vertices into chains between junctions.
#[allow(clippy::type_complexity)]
fn contract(
    net: &TrackNetwork,
    adj: &[Vec<u32>],
) -> (Vec<Chain>, Vec<[f64; 2]>, Vec<Vec<(u32, bool)>>) {
    let n = adj.len();
    let mut is_junction: Vec<bool> = adj.iter().map(|a| !a.is_empty() && a.len() != 2).collect();
    let mut jid: HashMap<u32, u32> = HashMap::new();
    let mut junctions = Vec::new();
    let mut chains = Vec::new();
    let mut visited: HashSet<(u32, u32)> = HashSet::new();
    let key = |a: u32, b: u32| if a < b { (a, b) } else { (b, a) };
    let walk = |start: u32,
                is_junction: &[bool],
                visited: &mut HashSet<(u32, u32)>,
                jid: &mut HashMap<u32, u32>,
                junctions: &mut Vec<[f64; 2]>,
                chains: &mut Vec<Chain>| {
        for &first in &adj[start as usize] {
            if visited.contains(&key(start, first)) {
                continue;
            }
            let mut path = vec![start, first];
            visited.insert(key(start, first));
            let (mut prev, mut cur) = (start, first);
            while !is_junction[cur as usize] {
                let next = adj[cur as usize].iter().copied().find(|&x| x != prev);
                let Some(next) = next else { break };
                if !visited.insert(key(cur, next)) {
                    break;
                }
                path.push(next);
                (prev, cur) = (cur, next);
            }
            let mut id = |v: u32| {
                *jid.entry(v).or_insert_with(|| {
                    junctions.push(net.nodes[v as usize]);
                    (junctions.len() - 1) as u32
                })
            };
            let (s, e) = (id(start), id(*path.last().unwrap_or(&start)));
            let coords: Vec<[f64; 2]> = path.iter().map(|&v| net.nodes[v as usize]).collect();
            let mut cum = Vec::with_capacity(coords.len());
            let mut bbox = Bbox::EMPTY;
            let mut acc = 0.0;
            for (i, c) in coords.iter().enumerate() {
                if i > 0 {
                    acc += segment_length_m(coords[i - 1], *c);
                }
                cum.push(acc);
                bbox.extend(*c);
            }
            chains.push(Chain {
                start: s,
                end: e,
                coords,
                cum,
                bbox,
            });
        }
    };
    for v in 0..n as u32 {
        if is_junction[v as usize] {
            walk(
                v,
                &is_junction,
                &mut visited,
                &mut jid,
                &mut junctions,
                &mut chains,
            );
        }
    }
    // pure cycles: no junction on them; make one of their vertices a junction
    for v in 0..n as u32 {
        if adj[v as usize]
            .iter()
            .any(|&u| !visited.contains(&key(u, v)))
        {
            is_junction[v as usize] = true;
            walk(
                v,
                &is_junction,
                &mut visited,
                &mut jid,
                &mut junctions,
                &mut chains,
            );
        }
    }
    let mut jadj = vec![Vec::new(); junctions.len()];
    for (ci, c) in chains.iter().enumerate() {
        jadj[c.start as usize].push((ci as u32, true));
        jadj[c.end as usize].push((ci as u32, false));
    }
    (chains, junctions, jadj)
}

fn components(n: usize, chains: &[Chain]) -> (Vec<u32>, Vec<usize>) {
    let mut parent: Vec<u32> = (0..n as u32).collect();
    for c in chains {
        let (a, b) = (find(&mut parent, c.start), find(&mut parent, c.end));
        if a != b {
            parent[a as usize] = b;
        }
    }
    let mut id: HashMap<u32, u32> = HashMap::new();
    let mut comp = vec![0u32; n];
    let mut sizes = Vec::new();
    for v in 0..n as u32 {
        let r = find(&mut parent, v);
        let next = id.len() as u32;
        let c = *id.entry(r).or_insert(next);
        if c as usize == sizes.len() {
            sizes.push(0);
        }
        sizes[c as usize] += 1;
        comp[v as usize] = c;
    }
    (comp, sizes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geography::stations::Station;
    use crate::geography::types::StationCode;

    fn st(code: &str, lon: f64, lat: f64) -> Station {
        Station {
            code: StationCode::parse(code).unwrap(),
            name: code.into(),
            lon,
            lat,
            ..Default::default()
        }
    }

    /// A square loop with a spur: A(0,52)-B(0.1,52)-C(0.1,52.1)-D(0,52.1)-A, spur B-E(0.2,52).
    fn network() -> TrackNetwork {
        let nodes = vec![
            [0.0, 52.0],
            [0.05, 52.0],
            [0.1, 52.0],
            [0.1, 52.1],
            [0.0, 52.1],
            [0.2, 52.0],
        ];
        TrackNetwork {
            nodes,
            ways: vec![vec![0, 1, 2, 3], vec![3, 4, 0], vec![2, 5]],
        }
    }

    #[test]
    fn chains_contract_degree_two_vertices() {
        let (idx, _) = StationIndex::new(vec![]);
        let g = RailGraph::build(&network(), &idx, RailOptions::default());
        // junctions: vertex 2 (degree 3) and vertex 5 (dead end); the loop 2-3-4-0-1-2 is one chain
        assert_eq!(g.junction_count(), 2);
        assert_eq!(g.chains().len(), 2);
        let total: f64 = g.chains().iter().map(Chain::length_m).sum();
        let len = super::super::geodesy::polyline_length_m;
        // the loop 2-3-4-0-1-2 plus the spur 2-5
        let want = len(&[
            [0.1, 52.0],
            [0.1, 52.1],
            [0.0, 52.1],
            [0.0, 52.0],
            [0.05, 52.0],
            [0.1, 52.0],
        ]) + len(&[[0.1, 52.0], [0.2, 52.0]]);
        assert!((total - want).abs() < 1e-6);
    }

    #[test]
    fn a_route_takes_the_shorter_way_round_the_loop() {
        // stations beside the track: P near (0.05, 52) south side, Q near (0, 52.05) west side,
        // R at the spur end
        let (idx, _) = StationIndex::new(vec![
            st("PPP", 0.05, 51.9995),
            st("QQQ", -0.0005, 52.05),
            st("RRR", 0.2, 52.0),
        ]);
        let g = RailGraph::build(&network(), &idx, RailOptions::default());
        let a = g.attachment(0).unwrap();
        assert!((a.distance_m - 55.7).abs() < 0.5, "attach {}", a.distance_m);
        let r = g.route(&[0, 1]).unwrap();
        // P -> A is 0.05 deg of longitude at 52 N, A -> Q is 0.05 deg of latitude
        let want = super::super::geodesy::geodesic_m([0.05, 52.0], [0.0, 52.0])
            + super::super::geodesy::geodesic_m([0.0, 52.0], [0.0, 52.05]);
        assert!(
            (r.distance_m - want).abs() < 1.0,
            "{} vs {want}",
            r.distance_m
        );
        assert_eq!(r.stations, vec![0, 1]);
        // via the spur end: P -> R -> Q; back from R the shorter way to Q passes P again
        let r2 = g.route(&[0, 2, 1]).unwrap();
        assert_eq!(r2.stations, vec![0, 2, 0, 1]);
        assert!(r2.distance_m > r.distance_m);
        assert_eq!(r2.coords.first(), Some(&a.point));
    }

    #[test]
    fn a_small_gap_is_bridged_and_a_large_one_is_not() {
        // two lines 0.0005 deg (~34 m) apart end to end, and a third 0.01 deg (~690 m) away
        let nodes = vec![
            [0.0, 52.0],
            [0.1, 52.0],
            [0.1005, 52.0],
            [0.2, 52.0],
            [0.21, 52.0],
            [0.3, 52.0],
        ];
        let net = TrackNetwork {
            nodes,
            ways: vec![vec![0, 1], vec![2, 3], vec![4, 5]],
        };
        let (idx, _) = StationIndex::new(vec![
            st("AAA", 0.0, 52.0),
            st("BBB", 0.2, 52.0),
            st("CCC", 0.3, 52.0),
        ]);
        let g = RailGraph::build(
            &net,
            &idx,
            RailOptions {
                bridge_gaps_m: 100.0,
                pass_max_m: 500.0,
            },
        );
        assert_eq!(g.bridges().len(), 1);
        assert!((g.bridges()[0].length_m - 34.3).abs() < 0.5);
        assert!(g.route(&[0, 1]).is_ok());
        assert_eq!(
            g.route(&[0, 2]).unwrap_err(),
            RouteError::Disconnected(0, 2)
        );
    }
}
