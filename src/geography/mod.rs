//! The reference geography: police force areas, stations and the rail network, indexed for the
//! spatial questions the rest of the server asks. Pure and synchronous; built once at start-up and
//! shared read-only.

pub mod forces;
pub mod geodesy;
pub mod rail;
pub mod stations;
pub mod types;

pub use forces::{DEFAULT_TOLERANCE_M, Force, ForceHit, ForceIndex, LocateMethod, Located};
pub use rail::{Attachment, Piece, RailGraph, RailOptions, Route, RouteError, TrackNetwork};
pub use stations::{Station, StationDistance, StationIndex};
pub use types::{Bbox, ForceCode, LonLat, Metres, StationCode};

use geodesy::{lerp, segment_length_m};

/// Spacing, metres, of the samples [`Geography::forces_along`] takes along a line.
pub const FORCE_WALK_STEP_M: f64 = 500.0;
/// How precisely, metres, a border crossing is placed by bisection between two samples.
pub const FORCE_BORDER_PRECISION_M: f64 = 5.0;

/// Everything the server knows about the map.
pub struct Geography {
    pub forces: ForceIndex,
    pub stations: StationIndex,
    pub rail: RailGraph,
    /// Station codes that appeared more than once in the input (the first was kept).
    pub duplicate_stations: Vec<StationCode>,
    /// Per rail chain: (from offset, to offset, force) runs along it, in order, metres.
    chain_forces: Vec<Vec<(f64, f64, u32)>>,
}

/// A force crossed by a line, with the distance travelled inside it.
#[derive(Clone, Debug, PartialEq)]
pub struct ForceSpan {
    pub force: usize,
    pub distance_m: f64,
}

/// Options for building the geography.
#[derive(Clone, Copy, Debug)]
pub struct GeographyOptions {
    pub force_tolerance_m: f64,
    pub rail: RailOptions,
}

impl Default for GeographyOptions {
    fn default() -> Self {
        GeographyOptions {
            force_tolerance_m: DEFAULT_TOLERANCE_M,
            rail: RailOptions::default(),
        }
    }
}

impl Geography {
    pub fn build(
        forces: Vec<Force>,
        stations: Vec<Station>,
        track: &TrackNetwork,
        options: GeographyOptions,
    ) -> Geography {
        // the force grid and the station + rail indexes are independent: build them side by side
        let (forces, (stations, duplicate_stations, rail)) = std::thread::scope(|s| {
            let f = s.spawn(|| ForceIndex::new(forces, options.force_tolerance_m));
            let (stations, duplicate_stations) = StationIndex::new(stations);
            let rail = RailGraph::build(track, &stations, options.rail);
            (
                f.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
                (stations, duplicate_stations, rail),
            )
        });
        let mut geo = Geography {
            forces,
            stations,
            rail,
            duplicate_stations,
            chain_forces: Vec::new(),
        };
        geo.chain_forces = geo
            .rail
            .chains()
            .iter()
            .map(|c| geo.force_runs(&c.coords))
            .collect();
        geo
    }

    /// Force runs along a polyline: (from offset, to offset, force), merged, metres. See
    /// [`forces_along`](Self::forces_along) for the method.
    fn force_runs(&self, coords: &[[f64; 2]]) -> Vec<(f64, f64, u32)> {
        // exact containment only: the tolerance fallback is for end points (pier stations),
        // not for attributing open water a line crosses
        let locate = |p: [f64; 2]| match self.forces.locate_exact(p) {
            Located::Inside(f) => Some(f as u32),
            _ => None,
        };
        let mut runs: Vec<(f64, f64, u32)> = Vec::new();
        // the current run: (start offset, force)
        let mut cur: Option<(f64, Option<u32>)> = None;
        let close = |runs: &mut Vec<(f64, f64, u32)>, start: f64, end: f64, f: Option<u32>| {
            if let Some(f) = f
                && end > start
            {
                match runs.last_mut() {
                    Some(r) if r.2 == f && (r.1 - start).abs() < 1e-6 => r.1 = end,
                    _ => runs.push((start, end, f)),
                }
            }
        };
        let mut at = 0.0;
        for w in coords.windows(2) {
            let len = segment_length_m(w[0], w[1]);
            if len <= 0.0 {
                continue;
            }
            let steps = (len / FORCE_WALK_STEP_M).ceil().max(1.0) as usize;
            let mut prev_t = 0.0;
            for k in 0..=steps {
                let t = k as f64 / steps as f64;
                let f = locate(lerp(w[0], w[1], t));
                match cur {
                    None => cur = Some((at, f)),
                    Some((start, cf)) if cf != f => {
                        // bisect between prev_t (force cf) and t (force f) for the border
                        let (mut lo, mut hi) = (prev_t, t);
                        while (hi - lo) * len > FORCE_BORDER_PRECISION_M {
                            let mid = (lo + hi) / 2.0;
                            if locate(lerp(w[0], w[1], mid)) == cf {
                                lo = mid
                            } else {
                                hi = mid
                            }
                        }
                        let border = at + (lo + hi) / 2.0 * len;
                        close(&mut runs, start, border, cf);
                        cur = Some((border, f));
                    }
                    Some(_) => {}
                }
                prev_t = t;
            }
            at += len;
        }
        if let Some((start, f)) = cur {
            close(&mut runs, start, at, f);
        }
        runs
    }

    /// The forces a route crosses, in travel order, from the precomputed runs of its chains.
    pub fn route_forces(&self, pieces: &[Piece]) -> Vec<ForceSpan> {
        let mut spans: Vec<ForceSpan> = Vec::new();
        let mut push = |force: usize, d: f64| {
            if d <= 0.0 {
                return;
            }
            match spans.last_mut() {
                Some(s) if s.force == force => s.distance_m += d,
                _ => spans.push(ForceSpan {
                    force,
                    distance_m: d,
                }),
            }
        };
        for &(c, from, to) in pieces {
            let runs = &self.chain_forces[c as usize];
            let (lo, hi) = (from.min(to), from.max(to));
            let overlap = |r: &(f64, f64, u32)| hi.min(r.1) - lo.max(r.0);
            if from <= to {
                runs.iter().for_each(|r| push(r.2 as usize, overlap(r)));
            } else {
                runs.iter()
                    .rev()
                    .for_each(|r| push(r.2 as usize, overlap(r)));
            }
        }
        spans
    }

    /// The force of a station (its territorial force; BTP is not a place).
    pub fn station_force(&self, station: usize) -> Option<ForceHit> {
        self.forces.locate(self.stations.get(station).pos())
    }

    /// Route through stations and attribute it to forces.
    pub fn route(&self, stops: &[usize]) -> Result<(Route, Vec<ForceSpan>), RouteError> {
        let r = self.rail.route(stops)?;
        let spans = self.route_forces(&r.pieces);
        Ok((r, spans))
    }

    /// The forces a lon/lat line passes through, in travel order, with the metres inside each.
    ///
    /// The line is sampled every [`FORCE_WALK_STEP_M`]; where two samples fall in different
    /// forces the border is found by bisection to within [`FORCE_BORDER_PRECISION_M`]. A force
    /// crossed for less than a step between two samples of one other force can be missed.
    /// Stretches outside every polygon (estuaries, open sea, track along a generalised
    /// coastline) are left out: containment is exact here, without the tolerance fallback.
    pub fn forces_along(&self, coords: &[[f64; 2]]) -> Vec<ForceSpan> {
        self.force_runs(coords).into_iter().fold(
            Vec::new(),
            |mut spans: Vec<ForceSpan>, (s, e, f)| {
                match spans.last_mut() {
                    Some(last) if last.force == f as usize => last.distance_m += e - s,
                    _ => spans.push(ForceSpan {
                        force: f as usize,
                        distance_m: e - s,
                    }),
                }
                spans
            },
        )
    }
}
