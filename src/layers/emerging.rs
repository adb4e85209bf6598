//! Emerging hot spots: is a station's hot spot new, persistent, growing or fading?
//!
//! - **Space-time cube.** Per period (ISO week or calendar month) the measure's count at each
//!   station; `n` stations × `T` periods bins.
//! - **Space-time Gi\*** ([`space_time_gi`]): the neighbourhood of bin (station `i`, period
//!   `t`) is `i` and its network neighbours (as for [`super::hotspots`]) in period `t` and in
//!   the `time_lag` periods before it (fewer at the start), binary weights, Gi\* z over all
//!   `n T` bins with their global mean and standard deviation (Ord & Getis 1995).
//! - **Significant bins**: two-sided normal p-value of z, Benjamini–Hochberg at a false
//!   discovery rate of 0.05 over all bins; a significant bin is hot when `z > 0`, cold when
//!   `z < 0`.
//! - **Trend** ([`mann_kendall`]): the Mann–Kendall test of the station's z series (ties
//!   corrected; `trend_z` with the continuity correction, two-sided `trend_p`), as
//!   `pymannkendall.original_test`; significant at 0.05.
//! - **Categories** ([`category`]), after ESRI's emerging hot spot analysis, for hot spots (the
//!   same with cold), judged in this order when the final period is hot:
//!   `intensifying_hot_spot` (at least 90 % of periods hot, trend up and significant),
//!   `diminishing_hot_spot` (90 %, trend down and significant), `persistent_hot_spot` (90 %,
//!   no significant trend), `new_hot_spot` (only the final period hot), `consecutive_hot_spot`
//!   (one uninterrupted run of at least two hot periods ending with the final one, none
//!   before it), `oscillating_hot_spot` (some earlier period cold), `sporadic_hot_spot` (hot
//!   on and off, never cold). When the final period is not significant:
//!   `historical_hot_spot` (at least 90 % of periods hot), else `historical_cold_spot` (90 %
//!   cold), else `no_pattern`.

use super::hotspots::{FDR_Q, Neighbourhoods, benjamini_hochberg, p_two_sided};

/// Share of periods from which a station is "mostly" hot (or cold).
pub const MOSTLY: f64 = 0.9;
/// Significance level of the trend.
pub const TREND_ALPHA: f64 = 0.05;

/// Gi* z of every bin: `x[t][i]` is the count of station `i` in period `t`; the result has the
/// same shape.
pub fn space_time_gi(x: &[Vec<f64>], nb: &Neighbourhoods, time_lag: usize) -> Vec<Vec<f64>> {
    let t_n = x.len();
    let n = nb.len();
    let total = (t_n * n) as f64;
    if t_n == 0 || total < 2.0 {
        return vec![vec![0.0; n]; t_n];
    }
    let mean = x.iter().flatten().sum::<f64>() / total;
    let s = (x.iter().flatten().map(|v| v * v).sum::<f64>() / total - mean * mean)
        .max(0.0)
        .sqrt();
    // the spatial sum of each bin: itself and its neighbours in the same period
    let spatial: Vec<Vec<f64>> = x
        .iter()
        .map(|xt| {
            (0..n)
                .map(|i| {
                    xt[i]
                        + nb.neighbours[i]
                            .iter()
                            .map(|&j| xt[j as usize])
                            .sum::<f64>()
                })
                .collect()
        })
        .collect();
    (0..t_n)
        .map(|t| {
            let first = t.saturating_sub(time_lag);
            let periods = (t - first + 1) as f64;
            (0..n)
                .map(|i| {
                    let sum: f64 = (first..=t).map(|u| spatial[u][i]).sum();
                    let w = periods * (1.0 + nb.neighbours[i].len() as f64);
                    let den = s * ((total * w - w * w) / (total - 1.0)).max(0.0).sqrt();
                    if den > 0.0 {
                        (sum - mean * w) / den
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect()
}

/// The Mann–Kendall test of a series: (S, var S, z, two-sided p), as
/// `pymannkendall.original_test` (ties corrected, continuity-corrected z).
pub fn mann_kendall(y: &[f64]) -> (f64, f64, f64, f64) {
    let n = y.len();
    let mut s = 0.0;
    for k in 0..n {
        for j in k + 1..n {
            s += (y[j] - y[k]).signum() * f64::from(u8::from(y[j] != y[k]));
        }
    }
    let nf = n as f64;
    let mut sorted = y.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut ties = 0.0;
    let mut k = 0;
    while k < n {
        let mut e = k;
        while e + 1 < n && sorted[e + 1] == sorted[k] {
            e += 1;
        }
        let t = (e - k + 1) as f64;
        ties += t * (t - 1.0) * (2.0 * t + 5.0);
        k = e + 1;
    }
    let var = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - ties) / 18.0;
    let z = if var <= 0.0 {
        0.0
    } else if s > 0.0 {
        (s - 1.0) / var.sqrt()
    } else if s < 0.0 {
        (s + 1.0) / var.sqrt()
    } else {
        0.0
    };
    (s, var, z, p_two_sided(z))
}

/// A bin's state: 1 hot, -1 cold, 0 not significant.
pub type Bin = i8;

/// The category of a station from its bins (oldest first) and the Mann–Kendall trend of its
/// z series (see the module notes).
pub fn category(bins: &[Bin], trend_z: f64, trend_p: f64) -> &'static str {
    let Some(&last) = bins.last() else {
        return "no_pattern";
    };
    let t = bins.len() as f64;
    let share = |v: Bin| bins.iter().filter(|&&b| b == v).count() as f64 / t;
    let trend = if trend_p < TREND_ALPHA {
        trend_z.signum()
    } else {
        0.0
    };
    if last == 0 {
        return if share(1) >= MOSTLY {
            "historical_hot_spot"
        } else if share(-1) >= MOSTLY {
            "historical_cold_spot"
        } else {
            "no_pattern"
        };
    }
    let names: [&'static str; 7] = if last == 1 {
        [
            "intensifying_hot_spot",
            "diminishing_hot_spot",
            "persistent_hot_spot",
            "new_hot_spot",
            "consecutive_hot_spot",
            "oscillating_hot_spot",
            "sporadic_hot_spot",
        ]
    } else {
        [
            "intensifying_cold_spot",
            "diminishing_cold_spot",
            "persistent_cold_spot",
            "new_cold_spot",
            "consecutive_cold_spot",
            "oscillating_cold_spot",
            "sporadic_cold_spot",
        ]
    };
    // "intensifying" is the clustering growing stronger: z rising for hot, falling for cold
    let stronger = f64::from(last);
    if share(last) >= MOSTLY {
        return if trend == stronger {
            names[0]
        } else if trend == -stronger {
            names[1]
        } else {
            names[2]
        };
    }
    let count = bins.iter().filter(|&&b| b == last).count();
    if count == 1 {
        return names[3];
    }
    let run = bins.iter().rev().take_while(|&&b| b == last).count();
    if run == count && run >= 2 {
        return names[4];
    }
    if bins.contains(&-last) {
        names[5]
    } else {
        names[6]
    }
}

/// Every category name, hot, cold, then `no_pattern`.
pub const CATEGORIES: &[&str] = &[
    "new_hot_spot",
    "consecutive_hot_spot",
    "intensifying_hot_spot",
    "persistent_hot_spot",
    "diminishing_hot_spot",
    "sporadic_hot_spot",
    "oscillating_hot_spot",
    "historical_hot_spot",
    "new_cold_spot",
    "consecutive_cold_spot",
    "intensifying_cold_spot",
    "persistent_cold_spot",
    "diminishing_cold_spot",
    "sporadic_cold_spot",
    "oscillating_cold_spot",
    "historical_cold_spot",
    "no_pattern",
];

/// One station's result.
#[derive(Clone, Debug, PartialEq)]
pub struct Emerging {
    pub gi_z: Vec<f64>,
    pub bins: Vec<Bin>,
    pub trend_z: f64,
    pub trend_p: f64,
    pub category: &'static str,
}

/// Emerging hot spot analysis of the cube `x[t][i]`.
pub fn analyse(x: &[Vec<f64>], nb: &Neighbourhoods, time_lag: usize) -> Vec<Emerging> {
    let n = nb.len();
    let z = space_time_gi(x, nb, time_lag);
    let flat: Vec<f64> = z.iter().flatten().map(|&v| p_two_sided(v)).collect();
    let sig = benjamini_hochberg(&flat, FDR_Q);
    (0..n)
        .map(|i| {
            let series: Vec<f64> = z.iter().map(|zt| zt[i]).collect();
            let bins: Vec<Bin> = (0..z.len())
                .map(|t| {
                    let v = z[t][i];
                    match (sig[t * n + i], v) {
                        (true, v) if v > 0.0 => 1,
                        (true, v) if v < 0.0 => -1,
                        _ => 0,
                    }
                })
                .collect();
            let (_, _, tz, tp) = mann_kendall(&series);
            Emerging {
                category: category(&bins, tz, tp),
                gi_z: series,
                bins,
                trend_z: tz,
                trend_p: tp,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_category_from_a_constructed_series() {
        // ten periods; `up`/`down` a significant trend of z, `flat` none
        let (up, down, flat) = ((3.0, 0.001), (-3.0, 0.001), (0.5, 0.6));
        let c = |bins: &[Bin], (z, p): (f64, f64)| category(bins, z, p);
        let hot9 = [0, 1, 1, 1, 1, 1, 1, 1, 1, 1]; // 90 % hot, final hot
        assert_eq!(c(&hot9, up), "intensifying_hot_spot");
        assert_eq!(c(&hot9, down), "diminishing_hot_spot");
        assert_eq!(c(&hot9, flat), "persistent_hot_spot");
        assert_eq!(c(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 1], flat), "new_hot_spot");
        assert_eq!(
            c(&[0, 0, 0, 0, 0, 0, 0, 1, 1, 1], up),
            "consecutive_hot_spot"
        );
        assert_eq!(
            c(&[0, 1, 0, 1, 0, 0, 1, 0, 0, 1], flat),
            "sporadic_hot_spot"
        );
        assert_eq!(
            c(&[0, -1, 0, 1, 0, 0, 1, 0, 0, 1], flat),
            "oscillating_hot_spot"
        );
        assert_eq!(
            c(&[1, 1, 1, 1, 1, 1, 1, 1, 1, 0], down),
            "historical_hot_spot"
        );
        let cold9 = [0, -1, -1, -1, -1, -1, -1, -1, -1, -1];
        // a cold spot intensifies as z falls
        assert_eq!(c(&cold9, down), "intensifying_cold_spot");
        assert_eq!(c(&cold9, up), "diminishing_cold_spot");
        assert_eq!(c(&cold9, flat), "persistent_cold_spot");
        assert_eq!(c(&[0, 0, 0, 0, 0, 0, 0, 0, 0, -1], flat), "new_cold_spot");
        assert_eq!(
            c(&[0, 0, 0, 0, 0, 0, 0, 0, -1, -1], flat),
            "consecutive_cold_spot"
        );
        assert_eq!(
            c(&[-1, 0, 0, -1, 0, 0, 0, 0, 0, -1], flat),
            "sporadic_cold_spot"
        );
        assert_eq!(
            c(&[-1, 0, 1, 0, 0, 0, 0, 0, 0, -1], flat),
            "oscillating_cold_spot"
        );
        assert_eq!(
            c(&[-1, -1, -1, -1, -1, -1, -1, -1, -1, 0], flat),
            "historical_cold_spot"
        );
        assert_eq!(c(&[0, 1, 1, 0, 0, 0, 0, 0, 0, 0], flat), "no_pattern");
        // a run broken earlier is not consecutive: hot before the final run
        assert_eq!(
            c(&[1, 0, 0, 0, 0, 0, 0, 0, 1, 1], flat),
            "sporadic_hot_spot"
        );
        // every name is in the published list
        for name in [
            "intensifying_hot_spot",
            "historical_cold_spot",
            "no_pattern",
        ] {
            assert!(CATEGORIES.contains(&name));
        }
        assert_eq!(CATEGORIES.len(), 17);
    }

    #[test]
    fn space_time_gi_of_one_period_is_gi_star() {
        let nb =
            Neighbourhoods::from_lists(vec![vec![1], vec![0, 2], vec![1, 3], vec![2, 4], vec![3]]);
        let x = vec![vec![10.0, 0.0, 0.0, 0.0, 0.0]];
        let z = space_time_gi(&x, &nb, 1);
        let g = super::super::hotspots::gi_star(&x[0], &nb);
        for i in 0..5 {
            assert!((z[0][i] - g[i]).abs() < 1e-12);
        }
        // two periods, lag 1: bin (0, t=1) sums x[0][0..=1] and x[1][0..=1] = 10 + 0 = 10 with
        // W = 4 of N = 10 bins; mean 1, S = sqrt(100/10 - 1) = 3:
        // z = (10 - 4) / (3 sqrt((40 - 16) / 9)) = 6 / (3 sqrt(24/9)) = 2 / sqrt(8/3)
        let x = vec![vec![10.0, 0.0, 0.0, 0.0, 0.0], vec![0.0; 5]];
        let z = space_time_gi(&x, &nb, 1);
        assert!(
            (z[1][0] - 2.0 / (8.0f64 / 3.0).sqrt()).abs() < 1e-12,
            "{z:?}"
        );
    }
}
