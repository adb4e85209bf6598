//! Station hotspots: Getis-Ord Gi* over the stations of the network, with neighbourhoods along
//! the track, and a Benjamini–Hochberg false-discovery-rate correction.
//!
//! - **Value.** `x_i` is the number of selected journeys that start, end or pass at station `i`
//!   (each once: [`super::StationStats::journeys`]); every station of the network is in the
//!   statistic, those without journeys with 0.
//! - **Weights.** Binary rail-network weights: `w_ij = 1` when station `j` is within
//!   [`NEIGHBOUR_TRACK_M`] of station `i` along the track (the shortest path between their
//!   attachment points, as routes are measured), and `w_ii = 1` (the "star" of Gi*); else 0. Two
//!   stations close as the crow flies but on different lines are not neighbours unless the track
//!   joins them within the distance. A station not attached to the track has only itself.
//! - **Statistic** (Getis & Ord 1992; Ord & Getis 1995), with `n` stations, mean `x̄` and
//!   `S = sqrt(Σx²/n − x̄²)`:
//!   `z_i = (Σ_j w_ij x_j − x̄ W_i) / (S sqrt((n Σ_j w_ij² − W_i²) / (n − 1)))`, `W_i = Σ_j w_ij`.
//!   Where the denominator is 0 (no journeys anywhere, or a neighbourhood of every station),
//!   `z = 0`.
//! - **p-value.** Two-sided under the normal approximation: `p = erfc(|z| / √2)`.
//! - **Permutation inference** ([`permutation_p`], the default over HTTP): conditional
//!   randomisation as PySAL's `esda.G_Local(star=True)`: a station's own value is held and its
//!   `k_i` neighbours' values are replaced by `k_i` values drawn without replacement from the
//!   other `n − 1` stations, `permutations` times. As esda (`vec_permutations`, `crand`), one
//!   table of draws (`permutations` rows of `max k` positions among the `n − 1` others) serves
//!   every station, station `i` reading the first `k_i` of each row. The others of station `i`
//!   are the stations in their order with the last one moved into `i`'s place (position `i`
//!   reads station `n − 1`; any one-to-one arrangement of the others is as uniform a draw):
//!   a row then reads the same stations for every station but at one position, so one running
//!   sum per row serves them all. `larger` counts the draws
//!   whose sum is at least the observed one; folded as esda's default ("directed"):
//!   `larger = min(larger, permutations − larger)`, `p_sim = (larger + 1) / (permutations + 1)`.
//!   The draws come from ChaCha8 seeded with `seed`: the same seed gives the same answer. Two
//!   consequences of esda's convention, kept: ties count as "larger", so a station whose
//!   neighbourhood is all zeros in a mostly-zero network has every draw ≥ it and none below, and
//!   comes out as an extreme cold spot; a station with no neighbours ("island") is given
//!   `p_sim = 1` here (esda gives it `1 / (permutations + 1)`; nothing can be randomised).
//! - **Significance.** Benjamini–Hochberg over all `n` stations at a false discovery rate of
//!   [`FDR_Q`], on `p_sim` (permutation) or the normal p-value (analytic): with the p-values
//!   sorted, `p_(1) ≤ … ≤ p_(n)`, the largest `k` with `p_(k) ≤ k q / n`; stations with
//!   `p ≤ p_(k)` are `significant` (hot when `z > 0`, cold when `z < 0`).

/// Stations within this many metres of each other along the track are neighbours.
pub const NEIGHBOUR_TRACK_M: f64 = 10_000.0;
/// The false discovery rate of the significance test.
pub const FDR_Q: f64 = 0.05;

/// The network neighbourhoods of the stations, built once.
pub struct Neighbourhoods {
    /// per station, its neighbours (itself excluded)
    pub neighbours: Vec<Vec<u32>>,
}

impl Neighbourhoods {
    pub fn build(geo: &crate::geography::Geography) -> Neighbourhoods {
        let lists = geo
            .rail
            .network_neighbours(geo.stations.len(), NEIGHBOUR_TRACK_M);
        Neighbourhoods {
            neighbours: lists
                .into_iter()
                .map(|l| l.into_iter().map(|(s, _)| s).collect())
                .collect(),
        }
    }

    pub fn from_lists(neighbours: Vec<Vec<u32>>) -> Neighbourhoods {
        Neighbourhoods { neighbours }
    }

    pub fn len(&self) -> usize {
        self.neighbours.len()
    }

    pub fn is_empty(&self) -> bool {
        self.neighbours.is_empty()
    }
}

/// Gi* z-scores of `x` (one value per station) with binary weights: self plus neighbours.
pub fn gi_star(x: &[f64], nb: &Neighbourhoods) -> Vec<f64> {
    let n = x.len() as f64;
    if x.len() < 2 {
        return vec![0.0; x.len()];
    }
    let mean = x.iter().sum::<f64>() / n;
    let s = (x.iter().map(|v| v * v).sum::<f64>() / n - mean * mean)
        .max(0.0)
        .sqrt();
    (0..x.len())
        .map(|i| {
            let list = &nb.neighbours[i];
            let w = 1.0 + list.len() as f64;
            let sum = x[i] + list.iter().map(|&j| x[j as usize]).sum::<f64>();
            let den = s * ((n * w - w * w) / (n - 1.0)).max(0.0).sqrt();
            if den > 0.0 {
                (sum - mean * w) / den
            } else {
                0.0
            }
        })
        .collect()
}

/// Two-sided p-value of a standard normal z-score.
pub fn p_two_sided(z: f64) -> f64 {
    libm::erfc(z.abs() / std::f64::consts::SQRT_2).min(1.0)
}

/// Benjamini–Hochberg: which p-values are discoveries at false discovery rate `q`.
pub fn benjamini_hochberg(p: &[f64], q: f64) -> Vec<bool> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut cutoff = None;
    for (k, &i) in order.iter().enumerate() {
        if p[i] <= (k + 1) as f64 * q / m as f64 {
            cutoff = Some(p[i]);
        }
    }
    p.iter().map(|&v| cutoff.is_some_and(|c| v <= c)).collect()
}

/// How a station's significance is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Inference {
    /// the normal approximation of Gi* z
    Analytic,
    /// conditional randomisation with this many draws and this seed
    Permutation { permutations: u32, seed: u64 },
}

/// Default and limits of `permutations`, and the default `seed`.
pub const DEFAULT_PERMUTATIONS: u32 = 999;
pub const MIN_PERMUTATIONS: u32 = 99;
pub const MAX_PERMUTATIONS: u32 = 9_999;
pub const DEFAULT_SEED: u64 = 12_345;

impl Default for Inference {
    fn default() -> Self {
        Inference::Permutation {
            permutations: DEFAULT_PERMUTATIONS,
            seed: DEFAULT_SEED,
        }
    }
}

/// The statistic of one station.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spot {
    /// Gi* z (analytic, Ord & Getis 1995)
    pub gi_z: f64,
    /// two-sided normal p-value of `gi_z`
    pub p_value: f64,
    /// the folded pseudo p-value of the permutation test, when it was run
    pub p_sim: Option<f64>,
    /// Benjamini–Hochberg discovery on `p_sim` (permutation) or `p_value` (analytic)
    pub significant: bool,
}

impl Spot {
    /// `hot`, `cold`, or neither.
    pub fn kind(&self) -> Option<&'static str> {
        match (self.significant, self.gi_z) {
            (true, z) if z > 0.0 => Some("hot"),
            (true, z) if z < 0.0 => Some("cold"),
            _ => None,
        }
    }
}

/// Gi* z, p-values and significance per station under `inference`.
pub fn spots(x: &[f64], nb: &Neighbourhoods, inference: Inference) -> Vec<Spot> {
    let z = gi_star(x, nb);
    let p: Vec<f64> = z.iter().map(|&v| p_two_sided(v)).collect();
    let p_sim = match inference {
        Inference::Analytic => None,
        Inference::Permutation { permutations, seed } => {
            Some(permutation_p(x, nb, permutations as usize, seed))
        }
    };
    let sig = benjamini_hochberg(p_sim.as_deref().unwrap_or(&p), FDR_Q);
    (0..x.len())
        .map(|i| Spot {
            gi_z: z[i],
            p_value: p[i],
            p_sim: p_sim.as_ref().map(|v| v[i]),
            significant: sig[i],
        })
        .collect()
}

/// The draws of the conditional randomisation: `permutations` rows of `k` distinct positions
/// among `0..others` (a partial Fisher–Yates shuffle per row), from ChaCha8 seeded by `seed`.
pub fn draw_table(permutations: usize, k: usize, others: usize, seed: u64) -> Vec<u32> {
    use rand::{Rng, SeedableRng};
    let k = k.min(others);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut pool: Vec<u32> = (0..others as u32).collect();
    let mut rows = Vec::with_capacity(permutations * k);
    for _ in 0..permutations {
        // the pool's order left by the last row does not matter: a uniform draw of positions
        // from any arrangement is a uniform draw of values
        for c in 0..k {
            let r = rng.random_range(c..others);
            pool.swap(c, r);
            rows.push(pool[c]);
        }
    }
    rows
}

/// The folded pseudo p-values of Gi* by conditional randomisation (see the module notes).
pub fn permutation_p(x: &[f64], nb: &Neighbourhoods, permutations: usize, seed: u64) -> Vec<f64> {
    let n = x.len();
    if n < 2 || permutations == 0 {
        return vec![1.0; n];
    }
    let k = nb
        .neighbours
        .iter()
        .map(Vec::len)
        .max()
        .unwrap_or(0)
        .min(n - 1);
    let rows = draw_table(permutations, k, n - 1, seed);
    // Counts (the statistic's values are whole numbers but for rates) are summed as integers,
    // exact in any order (as their sums in `f64` are below 2^53): a draw's sums come from its
    // running sums (count_larger_whole). Rates are added value by value.
    let whole = x
        .iter()
        .all(|&v| v >= 0.0 && v.fract() == 0.0 && v <= f64::from(u32::MAX));
    let larger = if whole {
        let xi: Vec<u64> = x.iter().map(|&v| v as u64).collect();
        count_larger_whole(&xi, nb, &rows, k, permutations)
    } else {
        count_larger(x, nb, &rows, k, permutations, x.iter().all(|&v| v >= 0.0))
    };
    let p = permutations as u32;
    larger
        .into_iter()
        .zip(&nb.neighbours)
        .map(|(l, list)| {
            if list.is_empty() {
                return 1.0;
            }
            let l = if p - l < l { p - l } else { l };
            f64::from(l + 1) / f64::from(p + 1)
        })
        .collect()
}

/// The stations a permutation test draws for: those with neighbours and, when no value is
/// negative (`nonneg`), an observed neighbours' sum above 0 (every draw is at least 0, so such
/// a station has all `permutations` draws at least its sum without adding any: most of them
/// under a narrow filter, no journeys near). The others' `larger` is set here. Returns the
/// active stations and every station's observed sum.
fn observed_and_active<T>(
    x: &[T],
    nb: &Neighbourhoods,
    permutations: usize,
    nonneg: bool,
    larger: &mut [u32],
) -> (Vec<usize>, Vec<T>)
where
    T: Copy + Default + PartialOrd + std::ops::AddAssign,
{
    let zero = T::default();
    let observed: Vec<T> = nb
        .neighbours
        .iter()
        .map(|l| {
            let mut s = zero;
            l.iter().for_each(|&j| s += x[j as usize]);
            s
        })
        .collect();
    let mut active: Vec<usize> = Vec::with_capacity(x.len());
    for i in 0..x.len() {
        if nb.neighbours[i].is_empty() || (nonneg && observed[i] <= zero) {
            larger[i] = permutations as u32;
        } else {
            active.push(i);
        }
    }
    (active, observed)
}

/// For each station, how many of the draws (`rows`, `k` positions each) sum to at least its
/// neighbours' observed sum (the station's own value is held on both sides); the stations
/// are shared between the cores by their neighbours to add. Position `r` of a draw for station
/// `i` is station `r`, but for `r = i`, which is the last station `n − 1` (the others in
/// their order with the last moved into `i`'s place): see [`count_larger_whole`], which the
/// counts use, and which this sums value by value (`f64` values: a sum's rounding depends
/// on the order of its terms, and a tie must come out as the definition's).
fn count_larger(
    x: &[f64],
    nb: &Neighbourhoods,
    rows: &[u32],
    k: usize,
    permutations: usize,
    nonneg: bool,
) -> Vec<u32> {
    let n = x.len();
    let mut larger = vec![0u32; n];
    if k == 0 {
        return larger;
    }
    let (active, observed) = observed_and_active(x, nb, permutations, nonneg, &mut larger);
    let last = x[n - 1];
    let count = |stations: &[usize]| -> Vec<u32> {
        let mut out = vec![0u32; stations.len()];
        for (d, row) in rows.chunks_exact(k).enumerate() {
            // (a draw over a share of the stations is some tens of µs of work)
            if d.is_multiple_of(16) {
                crate::cancel::check();
            }
            for (o, &i) in out.iter_mut().zip(stations) {
                let mut s = 0.0;
                for &r in &row[..nb.neighbours[i].len()] {
                    let r = r as usize;
                    s += if r == i { last } else { x[r] };
                }
                *o += u32::from(s >= observed[i]);
            }
        }
        out
    };
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let work: usize = active.iter().map(|&i| nb.neighbours[i].len()).sum();
    let counts: Vec<u32> = if threads < 2 || active.len() < 256 {
        count(&active)
    } else {
        // consecutive runs of the active stations with about equal neighbours to add
        let per = work.div_ceil(threads);
        let mut parts: Vec<&[usize]> = Vec::with_capacity(threads);
        let (mut from, mut acc) = (0, 0);
        for (at, &i) in active.iter().enumerate() {
            acc += nb.neighbours[i].len();
            if acc >= per {
                parts.push(&active[from..=at]);
                (from, acc) = (at + 1, 0);
            }
        }
        if from < active.len() {
            parts.push(&active[from..]);
        }
        crate::cancel::on_threads(parts, count)
            .into_iter()
            .flatten()
            .collect()
    };
    for (&i, c) in active.iter().zip(counts) {
        larger[i] = c;
    }
    larger
}

/// [`count_larger`] for whole counts, whose sums are exact in any order: a draw's sum for
/// station `i` is the sum of its row's first `k_i` positions read as stations, `P[k_i]` of the
/// row's running sums, corrected where the row holds `i` itself among them (there it reads
/// the last station instead: `P[k_i] − x_i + x_{n−1}`). One pass over a row's `k` positions
/// and one step per station, where adding every station's `k_i` values costs the sum of the
/// `k_i` (10 on average over the stations of GB, 77 at most: about ten times the work). The
/// draws are shared between the cores.
fn count_larger_whole(
    x: &[u64],
    nb: &Neighbourhoods,
    rows: &[u32],
    k: usize,
    permutations: usize,
) -> Vec<u32> {
    let n = x.len();
    let mut larger = vec![0u32; n];
    if k == 0 {
        return larger;
    }
    let (active, observed) = observed_and_active(x, nb, permutations, true, &mut larger);
    // per active station: its index, its number of neighbours and its observed sum
    let stations: Vec<(usize, u32, u64)> = active
        .iter()
        .map(|&i| (i, nb.neighbours[i].len() as u32, observed[i]))
        .collect();
    let last = x[n - 1];
    let count = |draws: &[u32]| -> Vec<u32> {
        let mut out = vec![0u32; stations.len()];
        // where in the row each position is (u32::MAX: not in it), and the running sums
        let mut at = vec![u32::MAX; n];
        let mut sums = vec![0u64; k + 1];
        for (d, row) in draws.chunks_exact(k).enumerate() {
            // (a draw is a few µs of work)
            if d.is_multiple_of(64) {
                crate::cancel::check();
            }
            for (t, &r) in row.iter().enumerate() {
                sums[t + 1] = sums[t] + x[r as usize];
                at[r as usize] = t as u32;
            }
            for (o, &(i, ki, obs)) in out.iter_mut().zip(&stations) {
                let mut s = sums[ki as usize];
                // (the last station is never a position: its others are 0..n-1 as they are)
                if at[i] < ki {
                    s = s + last - x[i];
                }
                *o += u32::from(s >= obs);
            }
            for &r in row {
                at[r as usize] = u32::MAX;
            }
        }
        out
    };
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let draws = rows.len() / k;
    let counts: Vec<u32> = if threads < 2 || stations.len() * draws < 1 << 18 {
        count(rows)
    } else {
        // the draws in as many runs as cores, each counted for every station, then added
        let per = draws.div_ceil(threads) * k;
        let mut total = vec![0u32; stations.len()];
        for part in crate::cancel::on_threads(rows.chunks(per), count) {
            total.iter_mut().zip(part).for_each(|(t, c)| *t += c);
        }
        total
    };
    for (&i, c) in active.iter().zip(counts) {
        larger[i] = c;
    }
    larger
}

/// Gi* z, p-value and significance per station.
pub fn statistics(x: &[f64], nb: &Neighbourhoods) -> Vec<(f64, f64, bool)> {
    let z = gi_star(x, nb);
    let p: Vec<f64> = z.iter().map(|&v| p_two_sided(v)).collect();
    let sig = benjamini_hochberg(&p, FDR_Q);
    z.into_iter()
        .zip(p)
        .zip(sig)
        .map(|((z, p), s)| (z, p, s))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gi_star_on_a_path_matches_a_hand_computation() {
        // five stations on a line, each the neighbour of the next: 0-1-2-3-4
        let nb =
            Neighbourhoods::from_lists(vec![vec![1], vec![0, 2], vec![1, 3], vec![2, 4], vec![3]]);
        let x = [10.0, 0.0, 0.0, 0.0, 0.0];
        // by hand: n = 5, mean 2, S = sqrt(100/5 - 4) = 4.
        // station 0: W = 2, sum = 10; num = 10 - 4 = 6; den = 4 sqrt((10 - 4)/4) = 4 sqrt(1.5)
        // station 2: W = 3, sum = 0; num = -6; den = 4 sqrt((15 - 9)/4) = 4 sqrt(1.5)
        let z = gi_star(&x, &nb);
        let k = 4.0 * 1.5f64.sqrt();
        assert!((z[0] - 6.0 / k).abs() < 1e-12, "{z:?}");
        assert!((z[1] - 4.0 / k).abs() < 1e-12, "{z:?}"); // W 3, sum 10, num 10 - 6
        assert!((z[2] + 6.0 / k).abs() < 1e-12, "{z:?}");
        assert!((z[4] + 4.0 / k).abs() < 1e-12, "{z:?}"); // W 2, sum 0, num -4
        // no variation: no statistic
        assert_eq!(gi_star(&[3.0; 5], &nb), vec![0.0; 5]);
    }

    #[test]
    fn the_draw_table_samples_without_replacement() {
        let rows = draw_table(500, 5, 7, 9);
        assert_eq!(rows.len(), 2_500);
        let mut seen = [0u32; 7];
        for r in rows.chunks_exact(5) {
            let mut v = r.to_vec();
            v.sort_unstable();
            v.dedup();
            assert_eq!(v.len(), 5, "distinct within a row: {r:?}");
            r.iter().for_each(|&i| seen[i as usize] += 1);
        }
        // each of the 7 positions is in a row with probability 5/7: about 357 of 500 rows
        assert!(seen.iter().all(|&c| (300..420).contains(&c)), "{seen:?}");
        assert_eq!(
            draw_table(500, 5, 7, 9),
            rows,
            "the same seed, the same draws"
        );
    }

    /// `permutation_p` written out from its definition: each draw's whole sum, every station.
    fn p_sim_by_definition(
        x: &[f64],
        nb: &Neighbourhoods,
        permutations: usize,
        seed: u64,
    ) -> Vec<f64> {
        let n = x.len();
        let k = nb
            .neighbours
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(0)
            .min(n - 1);
        let rows = draw_table(permutations, k, n - 1, seed);
        (0..n)
            .map(|i| {
                let list = &nb.neighbours[i];
                if list.is_empty() {
                    return 1.0;
                }
                // the others: every station but i, the last in i's place
                let mut others: Vec<f64> = x[..n - 1].to_vec();
                if i < n - 1 {
                    others[i] = x[n - 1];
                }
                let observed: f64 = list.iter().map(|&j| x[j as usize]).sum();
                let larger = rows
                    .chunks_exact(k)
                    .filter(|row| {
                        row[..list.len()]
                            .iter()
                            .map(|&r| others[r as usize])
                            .sum::<f64>()
                            >= observed
                    })
                    .count();
                let folded = larger.min(permutations - larger);
                (folded + 1) as f64 / (permutations + 1) as f64
            })
            .collect()
    }

    #[test]
    fn a_cancelled_permutation_test_stops_within_a_few_draws() {
        use crate::cancel::{Cancelled, Token};
        use std::time::{Duration, Instant};
        // Rates (added value by value): 6,000 stations of 80 neighbours each, every one
        // observed, 9,999 draws of about 4.8 × 10⁹ additions in all. Counts (one running sum
        // per draw and a step per station): 200,000 stations, 9,999 draws of 2 × 10⁹ steps.
        // Seconds of work each on any machine of today.
        for (n, rates) in [(6_000u32, true), (200_000, false)] {
            let nb = Neighbourhoods::from_lists(
                (0..n)
                    .map(|i| (1..=80).map(|d| (i + d * 37) % n).collect())
                    .collect(),
            );
            let x: Vec<f64> = (0..n)
                .map(|i| f64::from(1 + i % 7) + if rates { 0.5 } else { 0.0 })
                .collect();
            let t = Token::new();
            let started = Instant::now();
            let cancelled_at = std::thread::scope(|s| {
                let canceller = s.spawn(|| {
                    std::thread::sleep(Duration::from_millis(50));
                    t.cancel();
                    Instant::now()
                });
                let r = t.run(|| permutation_p(&x, &nb, 9_999, 1));
                assert_eq!(r.map(|p| p.len()), Err(Cancelled), "rates: {rates}");
                canceller.join().unwrap()
            });
            let late = started.elapsed().saturating_sub(cancelled_at - started);
            // stopped at a check soon after the cancel (each thread checks every 16 or 64 draws)
            assert!(
                late < Duration::from_millis(500),
                "rates: {rates}: stopped {late:?} after the cancel"
            );
        }
        let x: Vec<f64> = (0..50).map(|i| f64::from(1 + i % 7)).collect();
        // the same work uncancelled runs on well past that point, and gives every station a
        // p-value (the check is no-op outside a token's work)
        let small = Neighbourhoods::from_lists((0..50).map(|i| vec![(i + 1) % 50]).collect());
        let p = Token::new()
            .run(|| permutation_p(&x[..50], &small, 99, 1))
            .unwrap();
        assert_eq!(p.len(), 50);
        assert!(p.iter().all(|&v| (0.01..=1.0).contains(&v)), "{p:?}");
    }

    #[test]
    fn p_sim_skipping_the_stations_observed_at_zero_is_p_sim_by_definition() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for case in 0..12 {
            let n = 300 + 20 * case;
            // counts with ties, a few large values and fractional rates, most of them 0 (in the
            // odd cases 97%, as under a narrow filter: many neighbourhoods sum to 0); in the last
            // cases a negative value (nothing left out)
            let zeros = if case % 2 == 1 { 97 } else { 60 };
            let x: Vec<f64> = (0..n)
                .map(|_| match rng.random_range(0..100) {
                    z if z < zeros => 0.0,
                    z if z < zeros + (100 - zeros) / 2 => f64::from(rng.random_range(1..4u32)),
                    z if z < 99 => f64::from(rng.random_range(10..500u32)),
                    _ => rng.random_range(0.0..3.0),
                })
                .chain((case >= 10).then_some(-1.5))
                .collect();
            let n = x.len();
            // neighbourhoods of 0 to 30 stations (an island among them)
            let lists: Vec<Vec<u32>> = (0..n)
                .map(|i| {
                    let want = if i % 37 == 0 {
                        0
                    } else {
                        rng.random_range(1..=30)
                    };
                    let mut l: Vec<u32> = Vec::new();
                    while l.len() < want {
                        let j = rng.random_range(0..n as u32);
                        if j as usize != i && !l.contains(&j) {
                            l.push(j);
                        }
                    }
                    l
                })
                .collect();
            let nb = Neighbourhoods::from_lists(lists);
            let at_zero = nb
                .neighbours
                .iter()
                .filter(|l| !l.is_empty() && l.iter().all(|&j| x[j as usize] == 0.0))
                .count();
            if case % 2 == 1 {
                assert!(
                    at_zero > n / 4,
                    "case {case}: {at_zero} stations observed at 0"
                );
            }
            // as they are (fractions: summed as f64) and as whole counts (summed as integers)
            let counts: Vec<f64> = x.iter().map(|v| v.round()).collect();
            for (perms, seed) in [(99, 1), (999, case as u64)] {
                for (what, x) in [("rates", &x), ("counts", &counts)] {
                    assert_eq!(
                        permutation_p(x, &nb, perms, seed),
                        p_sim_by_definition(x, &nb, perms, seed),
                        "case {case}, {what}, {perms} permutations"
                    );
                }
            }
        }
    }

    #[test]
    fn p_values_are_those_of_the_normal_distribution() {
        // tabulated: P(|Z| > 1.959964) = 0.05, P(|Z| > 2.575829) = 0.01, P(|Z| > 1) = 0.3173105
        assert!((p_two_sided(1.959964) - 0.05).abs() < 1e-6);
        assert!((p_two_sided(-2.575829) - 0.01).abs() < 1e-6);
        assert!((p_two_sided(1.0) - 0.317_310_5).abs() < 1e-7);
        assert_eq!(p_two_sided(0.0), 1.0);
    }

    #[test]
    fn benjamini_hochberg_keeps_the_step_up_cutoff() {
        // m = 5, q = 0.05: thresholds 0.01, 0.02, 0.03, 0.04, 0.05.
        // sorted p: 0.001 (<= 0.01), 0.025 (> 0.02), 0.03 (<= 0.03), 0.2, 0.9:
        // the largest k with p_(k) <= k q / m is 3, so the first three are discoveries even
        // though the second alone fails its threshold (step-up).
        let p = [0.9, 0.03, 0.001, 0.2, 0.025];
        assert_eq!(
            benjamini_hochberg(&p, 0.05),
            vec![false, true, true, false, true]
        );
        assert_eq!(benjamini_hochberg(&[0.5, 0.6], 0.05), vec![false, false]);
    }
}
