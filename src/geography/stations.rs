//! Stations and the nearest-station lookups.
//!
//! Two R-trees and a grid:
//! - a tree over Earth-centred x, y, z on the mean sphere ([`to_xyz`]): chord distance there is
//!   monotone in great-circle distance, so the tree's order is metric. [`StationIndex::k_nearest`]
//!   and [`StationIndex::within_m`] walk it and re-rank by the true WGS84 geodesic, stopping once
//!   the sphere's lower bound passes the k-th best;
//! - a tree in lon/lat for bounding-box queries (a bbox is given in degrees);
//! - for the hot path [`StationIndex::nearest`], a grid of ~2.5 km cells each holding the few
//!   stations that can be nearest to some point of the cell (every station whose lower-bound
//!   distance to the cell is within the smallest upper-bound distance of any station). A query
//!   ranks those few on a local tangent plane and settles near ties (< 0.1 %) with the geodesic.

use super::geodesy::{
    LocalPlane, SPHERE_TOLERANCE, andoyer_lambert_m, arc_to_chord, chord_to_arc, geodesic_m, to_xyz,
};
use super::types::{Bbox, StationCode};
use rstar::{AABB, PointDistance, RTree, primitives::GeomWithData};
use std::collections::HashMap;

/// A railway station.
#[derive(Clone, Debug, Default)]
pub struct Station {
    /// CRS code, or `osm:N` for an OSM station without one.
    pub code: StationCode,
    pub name: String,
    pub tiploc: Option<String>,
    pub lon: f64,
    pub lat: f64,
    pub operator: Option<String>,
    /// The metropolitan PTE area (`Greater Manchester`, `West Midlands`…), if any.
    pub pte_urban_area: Option<String>,
    pub london_travelcard: Option<bool>,
    pub interchange: Option<bool>,
    /// ORR annual entries and exits, financial year 2019-20 (normal footfall).
    pub entries_exits_2019_20: Option<u64>,
    /// ORR annual entries and exits, 2021-22 (COVID-depressed).
    pub entries_exits_2021_22: Option<u64>,
    pub interchanges_2021_22: Option<u64>,
    /// The OSM node id, for stations read from a PBF.
    pub osm_id: Option<i64>,
}

impl Default for StationCode {
    fn default() -> Self {
        StationCode::from_osm_id(0)
    }
}

impl Station {
    pub fn pos(&self) -> [f64; 2] {
        [self.lon, self.lat]
    }
}

type XyzItem = GeomWithData<[f64; 3], u32>;
type LlItem = GeomWithData<[f64; 2], u32>;

/// Stations with their spatial indexes. Built once; immutable and `Sync`.
pub struct StationIndex {
    stations: Vec<Station>,
    by_code: HashMap<StationCode, usize>,
    xyz: RTree<XyzItem>,
    ll: RTree<LlItem>,
    grid: NearestGrid,
    /// station positions in radians, for the hot path
    rad: Vec<[f64; 2]>,
}

/// A station and its distance from the query point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StationDistance {
    pub station: usize,
    pub distance_m: f64,
}

impl StationIndex {
    /// Indexes `stations`. Duplicate codes keep the first station and return the others' codes
    /// as the error side of the tuple, for the data report.
    pub fn new(stations: Vec<Station>) -> (Self, Vec<StationCode>) {
        let mut kept = Vec::with_capacity(stations.len());
        let mut by_code = HashMap::with_capacity(stations.len());
        let mut duplicates = Vec::new();
        for s in stations {
            if by_code.contains_key(&s.code) {
                duplicates.push(s.code.clone());
                continue;
            }
            by_code.insert(s.code.clone(), kept.len());
            kept.push(s);
        }
        let xyz = RTree::bulk_load(
            kept.iter()
                .enumerate()
                .map(|(i, s)| GeomWithData::new(to_xyz(s.pos()), i as u32))
                .collect(),
        );
        let ll = RTree::bulk_load(
            kept.iter()
                .enumerate()
                .map(|(i, s)| GeomWithData::new(s.pos(), i as u32))
                .collect(),
        );
        let rad = kept
            .iter()
            .map(|s| [s.lon.to_radians(), s.lat.to_radians()])
            .collect();
        let mut idx = StationIndex {
            stations: kept,
            by_code,
            xyz,
            ll,
            grid: NearestGrid::default(),
            rad,
        };
        idx.grid = NearestGrid::build(&idx);
        (idx, duplicates)
    }

    pub fn stations(&self) -> &[Station] {
        &self.stations
    }

    pub fn get(&self, i: usize) -> &Station {
        &self.stations[i]
    }

    pub fn len(&self) -> usize {
        self.stations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.stations.is_empty()
    }

    pub fn index_of(&self, code: &StationCode) -> Option<usize> {
        self.by_code.get(code).copied()
    }

    /// The `k` stations nearest to `p` by WGS84 geodesic distance, nearest first. O(k log n).
    pub fn k_nearest(&self, p: [f64; 2], k: usize) -> Vec<StationDistance> {
        let mut best: Vec<StationDistance> = Vec::with_capacity(k + 1);
        if k == 0 {
            return best;
        }
        let q = to_xyz(p);
        for item in self.xyz.nearest_neighbor_iter_with_distance_2(q) {
            let lower = chord_to_arc(item.1.sqrt()) * (1.0 - SPHERE_TOLERANCE);
            if best.len() == k && lower > best[k - 1].distance_m {
                break;
            }
            let i = item.0.data as usize;
            let d = geodesic_m(p, self.stations[i].pos());
            let at = best.partition_point(|b| (b.distance_m, b.station) < (d, i));
            if at < k {
                best.insert(
                    at,
                    StationDistance {
                        station: i,
                        distance_m: d,
                    },
                );
                best.truncate(k);
            }
        }
        best
    }

    /// Every station within `radius_m` metres (geodesic) of `p`, nearest first.
    pub fn within_m(&self, p: [f64; 2], radius_m: f64) -> Vec<StationDistance> {
        let chord = arc_to_chord(radius_m / (1.0 - SPHERE_TOLERANCE));
        let mut out: Vec<StationDistance> = self
            .xyz
            .locate_within_distance(to_xyz(p), chord * chord)
            .map(|it| it.data as usize)
            .map(|i| StationDistance {
                station: i,
                distance_m: geodesic_m(p, self.stations[i].pos()),
            })
            .filter(|s| s.distance_m <= radius_m)
            .collect();
        out.sort_by(|a, b| {
            a.distance_m
                .total_cmp(&b.distance_m)
                .then(a.station.cmp(&b.station))
        });
        out
    }

    /// Stations inside `bbox` (degrees, edges included), in index order.
    pub fn in_bbox(&self, bbox: &Bbox) -> Vec<usize> {
        let env = AABB::from_corners([bbox.min_lon, bbox.min_lat], [bbox.max_lon, bbox.max_lat]);
        let mut v: Vec<usize> = self
            .ll
            .locate_in_envelope(env)
            .map(|it| it.data as usize)
            .collect();
        v.sort_unstable();
        v
    }

    /// The station nearest to `p` by geodesic distance, with the distance in metres: from the
    /// local plane (within 2e-5) up to 50 km, Andoyer-Lambert (within 2e-6) beyond. The hot
    /// path: ~100-200 ns.
    pub fn nearest(&self, p: [f64; 2]) -> Option<StationDistance> {
        let cands = self.grid.candidates(p);
        let Some(cands) = cands else {
            return self.k_nearest(p, 1).into_iter().next();
        };
        let plane = LocalPlane::at(p);
        let (mut b1, mut d1, mut d2) = (u32::MAX, f64::INFINITY, f64::INFINITY);
        for &c in cands {
            let r = self.rad[c as usize];
            let [x, y] = plane.project_rad(r[0], r[1]);
            let d = x * x + y * y;
            if d < d1 {
                d2 = d1;
                (b1, d1) = (c, d);
            } else if d < d2 {
                d2 = d;
            }
        }
        if b1 == u32::MAX {
            return None;
        }
        let (d1, d2) = (d1.sqrt(), d2.sqrt());
        let pos = |i: u32| self.stations[i as usize].pos();
        if d1 <= 50_000.0 {
            // The plane is good to 2e-5 within 50 km: a runner-up within 1e-4 (+0.5 m) may be nearer.
            if d2 > d1 * 1.0001 + 0.5 {
                return Some(StationDistance {
                    station: b1 as usize,
                    distance_m: d1,
                });
            }
            let band = (d1 * 1.0001 + 0.5).powi(2);
            return Some(self.settle(p, cands, &plane, band, |i| geodesic_m(p, pos(i))));
        }
        // Far from every station (open sea, empty moors): the plane is only good to ~1e-4 at
        // 150 km; rank the plausible ones by Andoyer-Lambert (2e-6), near ties by the geodesic.
        let band = (d1 * 1.001 + 0.5).powi(2);
        let mut plausible: Vec<(f64, u32)> = cands
            .iter()
            .filter(|&&c| {
                let r = self.rad[c as usize];
                let [x, y] = plane.project_rad(r[0], r[1]);
                x * x + y * y <= band
            })
            .map(|&c| (andoyer_lambert_m(p, pos(c)), c))
            .collect();
        plausible.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let (d0, c0) = plausible[0];
        let tie = d0 * (1.0 + 1e-5) + 0.5;
        if plausible.get(1).is_none_or(|x| x.0 > tie) {
            return Some(StationDistance {
                station: c0 as usize,
                distance_m: d0,
            });
        }
        let best = plausible
            .iter()
            .take_while(|x| x.0 <= tie)
            .map(|&(_, c)| (geodesic_m(p, pos(c)), c as usize))
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
            .unwrap_or((d0, c0 as usize));
        Some(StationDistance {
            station: best.1,
            distance_m: best.0,
        })
    }

    /// The best of the candidates within `band` (squared plane metres) by `metric`.
    fn settle(
        &self,
        _p: [f64; 2],
        cands: &[u32],
        plane: &LocalPlane,
        band: f64,
        metric: impl Fn(u32) -> f64,
    ) -> StationDistance {
        let mut best = StationDistance {
            station: usize::MAX,
            distance_m: f64::INFINITY,
        };
        for &c in cands {
            let r = self.rad[c as usize];
            let [x, y] = plane.project_rad(r[0], r[1]);
            if x * x + y * y <= band {
                let d = metric(c);
                if (d, c as usize) < (best.distance_m, best.station) {
                    best = StationDistance {
                        station: c as usize,
                        distance_m: d,
                    };
                }
            }
        }
        best
    }

    /// Mean and maximum number of candidates per grid cell (for the data report and benches).
    pub fn grid_stats(&self) -> (f64, usize) {
        let g = &self.grid;
        let n = g.start.len().saturating_sub(1).max(1);
        let max = g
            .start
            .windows(2)
            .map(|w| (w[1] - w[0]) as usize)
            .max()
            .unwrap_or(0);
        (g.cand.len() as f64 / n as f64, max)
    }
}

/// Cell size of the nearest-station grid, degrees (lon, lat): about 2.5 km square in Britain.
const NG_LON: f64 = 0.04;
const NG_LAT: f64 = 0.025;
/// How far beyond the stations the grid reaches, degrees; beyond it the R-tree answers.
const NG_PAD: f64 = 2.0;

#[derive(Default)]
struct NearestGrid {
    x0: f64,
    y0: f64,
    nx: usize,
    ny: usize,
    /// CSR: candidates of cell i are cand[start[i]..start[i + 1]]
    start: Vec<u32>,
    cand: Vec<u32>,
}

impl NearestGrid {
    fn build(idx: &StationIndex) -> NearestGrid {
        if idx.stations.is_empty() {
            return NearestGrid::default();
        }
        let mut ext = Bbox::EMPTY;
        for s in &idx.stations {
            ext.extend(s.pos());
        }
        let x0 = ext.min_lon - NG_PAD;
        let y0 = (ext.min_lat - NG_PAD).max(-89.0);
        let nx = ((ext.max_lon + NG_PAD - x0) / NG_LON).ceil() as usize;
        let ny = (((ext.max_lat + NG_PAD).min(89.0) - y0) / NG_LAT).ceil() as usize;
        let mut start = Vec::with_capacity(nx * ny + 1);
        let mut cand = Vec::new();
        start.push(0u32);
        for iy in 0..ny {
            for ix in 0..nx {
                let lo = [x0 + ix as f64 * NG_LON, y0 + iy as f64 * NG_LAT];
                let hi = [lo[0] + NG_LON, lo[1] + NG_LAT];
                let centre = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
                let corners = [lo, hi, [lo[0], hi[1]], [hi[0], lo[1]]];
                let max_to_cell = |s: &Station| {
                    let far = corners
                        .iter()
                        .map(|c| LocalPlane::at(*c).distance_m(s.pos()))
                        .fold(0.0, f64::max);
                    far * 1.02 + 20.0
                };
                let min_to_cell = |s: &Station| {
                    let q = [s.lon.clamp(lo[0], hi[0]), s.lat.clamp(lo[1], hi[1])];
                    (LocalPlane::at(q).distance_m(s.pos()) * 0.98 - 20.0).max(0.0)
                };
                // an upper bound for the nearest distance from any point of the cell
                let Some(first) = idx.xyz.nearest_neighbor(to_xyz(centre)) else {
                    start.push(cand.len() as u32);
                    continue;
                };
                let bound = max_to_cell(&idx.stations[first.data as usize]);
                let reach = bound + LocalPlane::at(centre).distance_m(hi) * 1.02 + 20.0;
                let chord = arc_to_chord(reach / (1.0 - SPHERE_TOLERANCE));
                let mut near: Vec<u32> = idx
                    .xyz
                    .locate_within_distance(to_xyz(centre), chord * chord)
                    .map(|it| it.data)
                    .collect();
                let bound = near
                    .iter()
                    .map(|&i| max_to_cell(&idx.stations[i as usize]))
                    .fold(bound, f64::min);
                near.retain(|&i| min_to_cell(&idx.stations[i as usize]) <= bound);
                near.sort_unstable();
                cand.extend_from_slice(&near);
                start.push(cand.len() as u32);
            }
        }
        NearestGrid {
            x0,
            y0,
            nx,
            ny,
            start,
            cand,
        }
    }

    #[inline]
    fn candidates(&self, p: [f64; 2]) -> Option<&[u32]> {
        let fx = (p[0] - self.x0) / NG_LON;
        let fy = (p[1] - self.y0) / NG_LAT;
        if !(fx >= 0.0 && fy >= 0.0 && fx < self.nx as f64 && fy < self.ny as f64) {
            return None;
        }
        let i = fy as usize * self.nx + fx as usize;
        Some(&self.cand[self.start[i] as usize..self.start[i + 1] as usize])
    }
}

// `PointDistance` is used through the R-tree's generic bounds.
#[allow(unused)]
fn _assert_metric_trees(t: &RTree<XyzItem>) -> f64 {
    t.iter()
        .next()
        .map(|i| i.geom().distance_2(&[0.0; 3]))
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(code: &str, lon: f64, lat: f64) -> Station {
        Station {
            code: StationCode::parse(code).unwrap(),
            name: code.into(),
            lon,
            lat,
            ..Default::default()
        }
    }

    #[test]
    fn nearest_is_metric_not_degrees() {
        // At 55 N a degree of longitude is 64 km, of latitude 111 km. Station A is 0.1 degrees
        // east (6.4 km), B is 0.08 degrees north (8.9 km): B is nearer in degrees, A truly nearer.
        let (idx, _) = StationIndex::new(vec![st("AAA", -2.9, 55.0), st("BBB", -3.0, 55.08)]);
        let p = [-3.0, 55.0];
        let n = idx.nearest(p).unwrap();
        assert_eq!(idx.get(n.station).code.as_str(), "AAA");
        let k = idx.k_nearest(p, 2);
        assert_eq!(
            k.iter().map(|s| s.station).collect::<Vec<_>>(),
            vec![n.station, 1 - n.station]
        );
        assert!((k[0].distance_m - geodesic_m(p, [-2.9, 55.0])).abs() < 1e-6);
        assert!((n.distance_m - k[0].distance_m).abs() < 1.0);
    }

    #[test]
    fn every_lookup_agrees_with_brute_force_geodesic_ranking() {
        let mut state = 7u64;
        let mut rnd = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let stations: Vec<Station> = (0..300)
            .map(|i| {
                let code: String = [
                    b'A' + (i / 26 / 26 % 26) as u8,
                    b'A' + (i / 26 % 26) as u8,
                    b'A' + (i % 26) as u8,
                ]
                .iter()
                .map(|&c| c as char)
                .collect();
                st(&code, -5.0 + rnd() * 6.0, 50.5 + rnd() * 6.0)
            })
            .collect();
        let pos: Vec<[f64; 2]> = stations.iter().map(Station::pos).collect();
        let (idx, dups) = StationIndex::new(stations);
        assert!(dups.is_empty());
        for _ in 0..2000 {
            let p = [-9.0 + rnd() * 14.0, 48.0 + rnd() * 12.0];
            let mut brute: Vec<(f64, usize)> = pos
                .iter()
                .enumerate()
                .map(|(i, s)| (geodesic_m(p, *s), i))
                .collect();
            brute.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let n = idx.nearest(p).unwrap();
            assert_eq!(n.station, brute[0].1, "nearest at {p:?}");
            let k = idx.k_nearest(p, 3);
            let got: Vec<usize> = k.iter().map(|s| s.station).collect();
            let want: Vec<usize> = brute[..3].iter().map(|b| b.1).collect();
            assert_eq!(got, want, "3 nearest at {p:?}");
            let r = brute[4].0;
            let within: Vec<usize> = idx.within_m(p, r).iter().map(|s| s.station).collect();
            assert_eq!(within, brute[..5].iter().map(|b| b.1).collect::<Vec<_>>());
        }
    }

    #[test]
    fn bbox_query_includes_edges() {
        let (idx, _) = StationIndex::new(vec![st("AAA", 0.0, 50.0), st("BBB", 1.0, 51.0)]);
        let b = Bbox::new(0.0, 50.0, 0.5, 50.5).unwrap();
        assert_eq!(idx.in_bbox(&b), vec![0]);
    }
}
