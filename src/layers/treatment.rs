//! How each force treats the people it meets: encounters, distinct persons, recognition as a
//! victim, safeguarding and NRM referrals, arrests, charges and NFA, per force, with each rate
//! placed on a funnel plot against the national rate ([`funnel`]), and the recording
//! completeness of each recording force.
//!
//! An *encounter* is one person on one report (a person on three reports is three encounters);
//! `persons` counts distinct person keys (`person_id`, which every force derives the same way
//! for the same person). Groups: `children` (age band under 18), `adults` (18 and over),
//! `vulnerable_adults` (adults with at least one vulnerability flag), `all` (every encounter,
//! unknown ages included).

use crate::geography::Geography;
use crate::journey::map::MappedJourney;
use crate::journey::report::{AgeBand, Person, SuspectStatus, VictimStatus, VulnerabilityFlag};
use std::sync::Arc;

/// What the rows of the treatment table are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    /// the force that recorded the report (British Transport Police is a row of its own)
    SourceForce,
    OriginForce,
    DestinationForce,
    /// the line's exporting force (the origin's when the report names none)
    ExportingForce,
}

impl By {
    pub const ALL: &[&str] = &[
        "source_force",
        "origin_force",
        "destination_force",
        "exporting_force",
    ];

    pub fn parse(s: &str) -> Option<By> {
        match s {
            "source_force" => Some(By::SourceForce),
            "origin_force" => Some(By::OriginForce),
            "destination_force" => Some(By::DestinationForce),
            "exporting_force" => Some(By::ExportingForce),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            By::SourceForce => "source_force",
            By::OriginForce => "origin_force",
            By::DestinationForce => "destination_force",
            By::ExportingForce => "exporting_force",
        }
    }
}

/// Which encounters are counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Children,
    Adults,
    VulnerableAdults,
    All,
}

impl Group {
    pub const ALL: &[&str] = &["children", "adults", "vulnerable_adults", "all"];

    pub fn parse(s: &str) -> Option<Group> {
        match s {
            "children" => Some(Group::Children),
            "adults" => Some(Group::Adults),
            "vulnerable_adults" => Some(Group::VulnerableAdults),
            "all" => Some(Group::All),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Group::Children => "children",
            Group::Adults => "adults",
            Group::VulnerableAdults => "vulnerable_adults",
            Group::All => "all",
        }
    }

    /// Whether one encounter (a person as one report describes them) is in the group.
    pub fn admits(self, p: &Person) -> bool {
        let adult = p.age_band != AgeBand::Unknown && !p.age_band.is_child();
        match self {
            Group::Children => p.age_band.is_child(),
            Group::Adults => adult,
            Group::VulnerableAdults => adult && !p.vulnerability_flags.is_empty(),
            Group::All => true,
        }
    }
}

/// The treatment measures, in the order they are reported.
pub const MEASURES: [&str; 6] = [
    "recognised_as_victim",
    "safeguarding_referred",
    "nrm_referred",
    "arrested",
    "charged",
    "nfa",
];

/// Counts over a set of encounters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub encounters: u64,
    /// distinct person keys
    pub persons: u64,
    /// the six [`MEASURES`], in order: a `victim_status` other than `none`; safeguarding
    /// referred; NRM referred; `suspect_status` `arrested`, `charged` or `convicted`; `charged`
    /// or `convicted`; `nfa`
    pub measures: [u64; 6],
}

/// Whether one encounter counts in each of the [`MEASURES`].
pub fn measures_of(p: &Person) -> [bool; 6] {
    use SuspectStatus as S;
    [
        p.victim_status != VictimStatus::None,
        p.safeguarding_referred,
        p.nrm_referred,
        matches!(p.suspect_status, S::Arrested | S::Charged | S::Convicted),
        matches!(p.suspect_status, S::Charged | S::Convicted),
        p.suspect_status == S::Nfa,
    ]
}

/// A row's key: a force (index) or British Transport Police.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RowKey {
    Force(u16),
    Btp,
}

/// The treatment table: one row per force (every force of the geography, in their order, and
/// BTP last when rows are by recording force, whether or not it has encounters, so that which
/// rows exist says nothing about the data), and the national totals over every encounter of
/// the group (those whose row force is unknown, such as a journey ending at sea, included).
#[derive(Clone, Debug, PartialEq)]
pub struct Treatment {
    pub national: Counts,
    pub rows: Vec<(RowKey, Counts)>,
}

fn row_of(by: By, j: &MappedJourney, geo: &Geography) -> Option<RowKey> {
    match by {
        By::SourceForce if j.report.source_force.is_btp() => Some(RowKey::Btp),
        By::SourceForce => geo
            .forces
            .index_of(&j.report.source_force)
            .map(|i| RowKey::Force(i as u16)),
        By::OriginForce => j.origin.force.map(RowKey::Force),
        By::DestinationForce => j.destination.force.map(RowKey::Force),
        By::ExportingForce => j.exporting_force.map(RowKey::Force),
    }
}

/// The treatment table over the journeys a filter selected. O(encounters); distinct persons
/// through one hash set per row.
pub fn treatment(
    geo: &Geography,
    journeys: &[&Arc<MappedJourney>],
    by: By,
    group: Group,
) -> Treatment {
    let nf = geo.forces.forces().len();
    let slot = |k: RowKey| match k {
        RowKey::Force(i) => i as usize,
        RowKey::Btp => nf,
    };
    let mut counts = vec![Counts::default(); nf + 1];
    let mut seen: Vec<Vec<u32>> = vec![Vec::new(); nf + 1];
    let mut national = Counts::default();
    let mut everyone: Vec<u32> = Vec::new();
    let keys = super::PersonKeys::of(journeys);
    for (k, j) in journeys.iter().enumerate() {
        let row = row_of(by, j, geo).map(slot);
        let persons = j.report.persons.iter().zip(keys.of_journey(k));
        for (p, &code) in persons.filter(|(p, _)| group.admits(p)) {
            let m = measures_of(p);
            let add = |c: &mut Counts| {
                c.encounters += 1;
                for (x, hit) in c.measures.iter_mut().zip(m) {
                    *x += u64::from(hit);
                }
            };
            add(&mut national);
            everyone.push(code);
            if let Some(r) = row {
                add(&mut counts[r]);
                seen[r].push(code);
            }
        }
    }
    national.persons = u64::from(super::distinct(&mut everyone).0);
    for (c, s) in counts.iter_mut().zip(&mut seen) {
        c.persons = u64::from(super::distinct(s).0);
    }
    let mut rows: Vec<(RowKey, Counts)> = (0..nf)
        .map(|i| (RowKey::Force(i as u16), counts[i]))
        .collect();
    if by == By::SourceForce {
        rows.push((RowKey::Btp, counts[nf]));
    }
    Treatment { national, rows }
}

/// How completely a recording force fills in the fields treatment depends on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Completeness {
    pub encounters: u64,
    /// an age band other than `unknown`
    pub known_age_band: u64,
    /// a victim status other than the default `none`
    pub victim_status_recorded: u64,
    /// at least one vulnerability flag
    pub vulnerability_flagged: u64,
}

/// Recording completeness per recording force (every force, then BTP), over every encounter of
/// the selected journeys whatever its group.
pub fn completeness(
    geo: &Geography,
    journeys: &[&Arc<MappedJourney>],
) -> Vec<(RowKey, Completeness)> {
    let nf = geo.forces.forces().len();
    let mut out = vec![Completeness::default(); nf + 1];
    for j in journeys {
        let r = match row_of(By::SourceForce, j, geo) {
            Some(RowKey::Force(i)) => i as usize,
            Some(RowKey::Btp) => nf,
            None => continue,
        };
        for p in &j.report.persons {
            let c = &mut out[r];
            c.encounters += 1;
            c.known_age_band += u64::from(p.age_band != AgeBand::Unknown);
            c.victim_status_recorded += u64::from(p.victim_status != VictimStatus::None);
            c.vulnerability_flagged += u64::from(!p.vulnerability_flags.is_empty());
        }
    }
    out.into_iter()
        .enumerate()
        .map(|(i, c)| {
            let k = if i == nf {
                RowKey::Btp
            } else {
                RowKey::Force(i as u16)
            };
            (k, c)
        })
        .collect()
}

/// Whether a person was flagged with a missing episode on this report.
pub fn missing_episode(p: &Person) -> bool {
    p.vulnerability_flags
        .contains(&VulnerabilityFlag::MissingEpisode)
}

pub mod funnel {
    //! Funnel plots for proportions (Spiegelhalter, "Funnel plots for comparing institutional
    //! performance", Statistics in Medicine 24, 2005): a unit with `n` encounters of which `y`
    //! count is compared with the national rate `p0` through the exact binomial distribution
    //! Binomial(n, p0). Its control limits at level `q` are the quantiles
    //! `F⁻¹(q) = min { r : P(Y ≤ r) ≥ q }` (what `scipy.stats.binom.ppf` gives), on the rate
    //! scale `r / n`: 95 % between the 0.025 and 0.975 quantiles, 99.8 % between the 0.001 and
    //! 0.999 quantiles. A unit is `above_95` when `y` exceeds the 0.975 quantile (so
    //! `P(Y ≥ y) ≤ 0.025` if it were in control), `above_99.8` when it exceeds the 0.999 quantile,
    //! and below likewise; otherwise `within`.
    //!
    //! The distribution function is summed from the probabilities, computed from the mode
    //! outwards (`ln` of the mode's probability from log-gamma, then the ratio of neighbouring
    //! terms), so nothing underflows where it matters however large `n` is. O(n).

    /// Where a unit falls on the funnel.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Position {
        Above998,
        Above95,
        Within,
        Below95,
        Below998,
    }

    impl Position {
        pub fn as_str(self) -> &'static str {
            match self {
                Position::Above998 => "above_99.8",
                Position::Above95 => "above_95",
                Position::Within => "within",
                Position::Below95 => "below_95",
                Position::Below998 => "below_99.8",
            }
        }
    }

    /// The probabilities that the quantiles of the two funnels are taken at.
    pub const LEVELS: [f64; 4] = [0.001, 0.025, 0.975, 0.999];

    /// The distribution function of Binomial(n, p) at 0..=n.
    pub fn cdf(n: u64, p: f64) -> Vec<f64> {
        let n_us = n as usize;
        let p = p.clamp(0.0, 1.0);
        let mut pmf = vec![0.0f64; n_us + 1];
        if p <= 0.0 {
            pmf[0] = 1.0;
        } else if p >= 1.0 {
            pmf[n_us] = 1.0;
        } else {
            let nf = n as f64;
            let mode = (((nf + 1.0) * p).floor() as usize).min(n_us);
            let m = mode as f64;
            let ln = libm::lgamma(nf + 1.0) - libm::lgamma(m + 1.0) - libm::lgamma(nf - m + 1.0)
                + m * p.ln()
                + (nf - m) * (-p).ln_1p();
            pmf[mode] = ln.exp();
            let odds = p / (1.0 - p);
            for k in mode..n_us {
                let next = pmf[k] * ((nf - k as f64) / (k as f64 + 1.0)) * odds;
                if next == 0.0 {
                    break;
                }
                pmf[k + 1] = next;
            }
            for k in (1..=mode).rev() {
                let prev = pmf[k] * (k as f64 / (nf - k as f64 + 1.0)) / odds;
                if prev == 0.0 {
                    break;
                }
                pmf[k - 1] = prev;
            }
        }
        let mut acc = 0.0;
        for x in pmf.iter_mut() {
            acc += *x;
            *x = acc.min(1.0);
        }
        pmf
    }

    /// `min { r : P(Y ≤ r) ≥ q }` from a distribution function ([`cdf`]).
    pub fn quantile(cdf: &[f64], q: f64) -> u64 {
        // a relative tolerance of a few ulps: the sum of the probabilities is not exact
        let q = q * (1.0 - 4.0 * f64::EPSILON);
        cdf.partition_point(|&f| f < q)
            .min(cdf.len().saturating_sub(1)) as u64
    }

    /// The four quantiles at [`LEVELS`] of Binomial(n, p).
    pub fn quantiles(n: u64, p: f64) -> [u64; 4] {
        let f = cdf(n, p);
        LEVELS.map(|q| quantile(&f, q))
    }

    /// A unit on the funnel: its quantile limits (counts) and position.
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub struct Placed {
        /// the 0.001, 0.025, 0.975 and 0.999 quantiles of Binomial(n, p0)
        pub limits: [u64; 4],
        pub position: Position,
    }

    /// Places `y` of `n` against the national rate `p0`. None when `n` is 0.
    pub fn place(y: u64, n: u64, p0: f64) -> Option<Placed> {
        if n == 0 || !p0.is_finite() {
            return None;
        }
        let limits = quantiles(n, p0);
        let position = if y > limits[3] {
            Position::Above998
        } else if y > limits[2] {
            Position::Above95
        } else if y < limits[0] {
            Position::Below998
        } else if y < limits[1] {
            Position::Below95
        } else {
            Position::Within
        };
        Some(Placed { limits, position })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn quantiles_of_a_fair_coin_tossed_ten_times_match_the_hand_computation() {
            // Binomial(10, 1/2): P(Y <= k) = sum C(10, i) / 1024 for i <= k:
            // k = 0: 1, 1: 11, 2: 56, 3: 176, 4: 386, 5: 638, 6: 848, 7: 968, 8: 1013, 9: 1023.
            let f = cdf(10, 0.5);
            let by_hand = [1, 11, 56, 176, 386, 638, 848, 968, 1013, 1023, 1024];
            for (k, c) in by_hand.iter().enumerate() {
                assert!((f[k] - f64::from(*c) / 1024.0).abs() < 1e-12, "{k}");
            }
            // 0.001 * 1024 = 1.024 > 1, so the 0.001 quantile is 1 (P(Y <= 1) = 11/1024);
            // 0.025 * 1024 = 25.6: 2 (56); 0.975 * 1024 = 998.4: 8 (1013); 0.999 * 1024 =
            // 1022.98: 9 (1023).
            assert_eq!(quantiles(10, 0.5), [1, 2, 8, 9]);
            // y = 9 of 10 is above the 0.975 quantile (8) but not the 0.999 one (9)
            assert_eq!(place(9, 10, 0.5).unwrap().position, Position::Above95);
            assert_eq!(place(10, 10, 0.5).unwrap().position, Position::Above998);
            assert_eq!(place(1, 10, 0.5).unwrap().position, Position::Below95);
            assert_eq!(place(0, 10, 0.5).unwrap().position, Position::Below998);
            assert_eq!(place(5, 10, 0.5).unwrap().position, Position::Within);
            assert_eq!(place(0, 0, 0.5), None);
        }

        #[test]
        fn degenerate_rates_put_all_the_mass_at_one_end() {
            assert_eq!(quantiles(50, 0.0), [0, 0, 0, 0]);
            assert_eq!(quantiles(50, 1.0), [50, 50, 50, 50]);
            assert_eq!(place(0, 50, 0.0).unwrap().position, Position::Within);
            assert_eq!(place(1, 50, 0.0).unwrap().position, Position::Above998);
        }

        #[test]
        fn a_large_unit_does_not_underflow() {
            // n = 200,000, p = 0.3: mean 60,000, sd sqrt(42,000) = 204.9; the 0.975 quantile
            // is about mean + 1.96 sd = 60,401.7 (normal approximation, good to a unit here)
            let q = quantiles(200_000, 0.3);
            assert!((q[2] as f64 - 60_401.7).abs() < 2.0, "{q:?}");
            assert!((q[1] as f64 - 59_598.3).abs() < 2.0, "{q:?}");
            let f = cdf(200_000, 0.3);
            assert!((f[200_000] - 1.0).abs() < 1e-9);
        }
    }
}
