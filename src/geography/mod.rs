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

/// Length of the steps, metres, in which [`Geography::forces_along`] attributes a line to forces.
pub const FORCE_WALK_STEP_M: f64 = 100.0;

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
        let forces = ForceIndex::new(forces, options.force_tolerance_m);
        let (stations, duplicate_stations) = StationIndex::new(stations);
        let rail = RailGraph::build(track, &stations, options.rail);
        let mut geo =
            Geography { forces, stations, rail, duplicate_stations, chain_forces: Vec::new() };
        geo.chain_forces = geo.rail.chains().iter().map(|c| geo.force_runs(&c.coords)).collect();
        geo
    }

    /// Force runs along a polyline: (from offset, to offset, force), merged, metres; the walk
    /// of [`forces_along`](Self::forces_along) with offsets kept.
    fn force_runs(&self, coords: &[[f64; 2]]) -> Vec<(f64, f64, u32)> {
        let mut runs: Vec<(f64, f64, u32)> = Vec::new();
        let mut at = 0.0;
        for w in coords.windows(2) {
            let len = segment_length_m(w[0], w[1]);
            if len <= 0.0 {
                continue;
            }
            let steps = (len / FORCE_WALK_STEP_M).ceil().max(1.0) as usize;
            let step_len = len / steps as f64;
            for k in 0..steps {
                let mid = lerp(w[0], w[1], (k as f64 + 0.5) / steps as f64);
                let (s, e) = (at, at + step_len);
                at = e;
                let Some(hit) = self.forces.locate(mid) else { continue };
                match runs.last_mut() {
                    Some(r) if r.2 == hit.force as u32 && (r.1 - s).abs() < 1e-6 => r.1 = e,
                    _ => runs.push((s, e, hit.force as u32)),
                }
            }
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
                _ => spans.push(ForceSpan { force, distance_m: d }),
            }
        };
        for &(c, from, to) in pieces {
            let runs = &self.chain_forces[c as usize];
            let (lo, hi) = (from.min(to), from.max(to));
            let overlap = |r: &(f64, f64, u32)| hi.min(r.1) - lo.max(r.0);
            if from <= to {
                runs.iter().for_each(|r| push(r.2 as usize, overlap(r)));
            } else {
                runs.iter().rev().for_each(|r| push(r.2 as usize, overlap(r)));
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
    /// The line is walked in steps of at most [`FORCE_WALK_STEP_M`]; each step is given to the
    /// force containing its midpoint (or the nearest within the tolerance), so each border
    /// crossing is placed to within half a step. Steps in no force (open sea) are left out.
    pub fn forces_along(&self, coords: &[[f64; 2]]) -> Vec<ForceSpan> {
        let mut spans: Vec<ForceSpan> = Vec::new();
        for w in coords.windows(2) {
            let len = segment_length_m(w[0], w[1]);
            if len <= 0.0 {
                continue;
            }
            let steps = (len / FORCE_WALK_STEP_M).ceil().max(1.0) as usize;
            let step_len = len / steps as f64;
            for k in 0..steps {
                let mid = lerp(w[0], w[1], (k as f64 + 0.5) / steps as f64);
                let Some(hit) = self.forces.locate(mid) else {
                    continue;
                };
                match spans.last_mut() {
                    Some(s) if s.force == hit.force => s.distance_m += step_len,
                    _ => spans.push(ForceSpan {
                        force: hit.force,
                        distance_m: step_len,
                    }),
                }
            }
        }
        spans
    }
}
