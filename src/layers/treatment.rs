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

use crate::access::disclosure::Disclosure;
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

// ------------------------------------------------------------- the table as the caller sees it

/// Counts as the caller may know them: true, or (published) suppressed and rounded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shown {
    pub encounters: Option<u64>,
    pub persons: Option<u64>,
    pub measures: [Option<u64>; 6],
}

impl Shown {
    /// `c` as the caller may know it: published in `cell` when `d` is given.
    fn of(c: &Counts, cell: &str, d: Option<&Disclosure>) -> Shown {
        let p = |column: &str, v: u64| d.map_or(Some(v), |d| d.publish(cell, column, v));
        let mut measures = [None; 6];
        for (k, m) in measures.iter_mut().enumerate() {
            *m = p(MEASURES[k], c.measures[k]);
        }
        Shown {
            encounters: p("encounters", c.encounters),
            persons: p("persons", c.persons),
            measures,
        }
    }

    /// Each measure's share of the encounters.
    fn rates(&self) -> [Option<f64>; 6] {
        self.measures.map(|m| share(m, self.encounters))
    }

    /// Each measure placed on the funnel against the national rate: `None` where a count or
    /// the national rate is unknown (suppressed) or there are no encounters.
    fn placed(&self, national: &[Option<f64>; 6]) -> [Option<funnel::Placed>; 6] {
        let mut out = [None; 6];
        for (k, o) in out.iter_mut().enumerate() {
            if let (Some(y), Some(n), Some(p0)) = (self.measures[k], self.encounters, national[k]) {
                *o = funnel::place(y.min(n), n, p0);
            }
        }
        out
    }
}

/// A share of encounters, to 1e-6 (at most 1: published counts are rounded independently).
fn share(y: Option<u64>, n: Option<u64>) -> Option<f64> {
    match (y, n) {
        (Some(y), Some(n)) if n > 0 => Some(super::rows::round6(y.min(n) as f64 / n as f64)),
        _ => None,
    }
}

/// One row of the table as the caller may see it: a force (or BTP), its counts, rates and
/// funnel positions.
#[derive(Clone, Debug)]
pub struct TableRow {
    /// the force's code, or `BTP`
    pub key: String,
    pub name: String,
    pub counts: Shown,
    pub rates: [Option<f64>; 6],
    pub funnel: [Option<funnel::Placed>; 6],
}

/// A recording force's completeness as the caller may see it: its encounters (of every group,
/// by the recording force) and how many had each of [`COMPLETENESS`] recorded.
#[derive(Clone, Debug)]
pub struct CompletenessRow {
    pub key: String,
    pub name: String,
    /// encounters, then [`COMPLETENESS`]
    pub counts: [Option<u64>; 4],
}

/// What the completeness table counts, after the encounters.
pub const COMPLETENESS: [&str; 3] = [
    "known_age_band",
    "victim_status_recorded",
    "vulnerability_flagged",
];

/// The treatment answer: the national row, a row per force, the completeness table, each as
/// the caller may see it.
#[derive(Clone, Debug)]
pub struct Table {
    pub by: By,
    pub group: Group,
    pub national: Shown,
    pub national_rates: [Option<f64>; 6],
    pub rows: Vec<TableRow>,
    pub completeness: Vec<CompletenessRow>,
}

/// A row's key and name: the force's code and name, or British Transport Police's.
fn key_code(g: &Geography, k: RowKey) -> (String, String) {
    match k {
        RowKey::Force(i) => {
            let f = g.forces.get(i as usize);
            (f.code.to_string(), f.name.clone())
        }
        RowKey::Btp => ("BTP".into(), "British Transport Police".into()),
    }
}

/// The treatment table of `journeys`, published when `d` is given: each row's counts in its
/// own cell (`treatment:BY:GROUP:CODE|`; the national row's in `treatment:GROUP:national|`,
/// which does not depend on `by`), then the rates and funnel positions from the published
/// counts; a recording force's completeness in the cell of its `source_force` row of group
/// `all` (the same encounters).
pub fn table(
    g: &Geography,
    journeys: &[&Arc<MappedJourney>],
    by: By,
    group: Group,
    d: Option<&Disclosure>,
) -> Table {
    let t = treatment(g, journeys, by, group);
    let national_cell = format!("treatment:{}:national|", group.as_str());
    let national = Shown::of(&t.national, &national_cell, d);
    let national_rates = national.rates();
    let rows = t
        .rows
        .iter()
        .map(|(k, c)| {
            let (key, name) = key_code(g, *k);
            let cell = format!("treatment:{}:{}:{key}|", by.as_str(), group.as_str());
            let counts = Shown::of(c, &cell, d);
            TableRow {
                rates: counts.rates(),
                funnel: counts.placed(&national_rates),
                key,
                name,
                counts,
            }
        })
        .collect();
    let completeness = completeness(g, journeys)
        .into_iter()
        .map(|(k, c)| {
            let (key, name) = key_code(g, k);
            let cell = format!("treatment:source_force:all:{key}|");
            let p = |column: &str, v: u64| d.map_or(Some(v), |d| d.publish(&cell, column, v));
            let counts = [
                p("encounters", c.encounters),
                p(COMPLETENESS[0], c.known_age_band),
                p(COMPLETENESS[1], c.victim_status_recorded),
                p(COMPLETENESS[2], c.vulnerability_flagged),
            ];
            CompletenessRow { key, name, counts }
        })
        .collect();
    Table {
        by,
        group,
        national,
        national_rates,
        rows,
        completeness,
    }
}

/// How the funnel limits are computed, as the answer says.
pub const FUNNEL_METHOD: &str = "exact binomial: a row of n encounters of which y count is compared with Binomial(n, national rate); 95 % limits are its 0.025 and 0.975 quantiles, 99.8 % limits its 0.001 and 0.999 quantiles (min r with P(Y <= r) >= q), divided by n; above_95 when y exceeds the 0.975 quantile, above_99.8 the 0.999 one, below likewise";
/// The funnel plot's reference.
pub const FUNNEL_REFERENCE: &str = "Spiegelhalter DJ. Funnel plots for comparing institutional performance. Statistics in Medicine 2005; 24:1185-1202";

mod json {
    //! The table as JSON through serde: every object's fields by name in alphabetical order,
    //! as the answer has always had them.
    use super::{COMPLETENESS, CompletenessRow, MEASURES, Shown, Table, TableRow, funnel};
    use serde::ser::{Serialize, SerializeMap, Serializer};

    /// A field's value.
    enum V<'a> {
        Text(&'a str),
        Count(Option<u64>),
        Share(Option<f64>),
        /// the measures' rates
        Rates(&'a [Option<f64>; 6]),
        /// the measures' funnel positions, with the row's encounters
        Funnel(&'a [Option<funnel::Placed>; 6], Option<u64>),
        /// the completeness shares of the encounters
        Shares(&'a [Option<u64>; 4]),
        Place(Option<funnel::Placed>, Option<u64>),
        Rows(&'a [TableRow]),
        Completeness(&'a [CompletenessRow]),
        National(&'a Shown, &'a [Option<f64>; 6]),
        Method,
    }

    /// Fields written as a JSON object in the order of their names.
    struct Object<'a>(Vec<(&'a str, V<'a>)>);

    impl Serialize for Object<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut order: Vec<&(&str, V)> = self.0.iter().collect();
            order.sort_by_key(|(k, _)| *k);
            let mut m = s.serialize_map(Some(order.len()))?;
            for (k, v) in order {
                m.serialize_entry(k, v)?;
            }
            m.end()
        }
    }

    fn counts<'a>(o: &mut Vec<(&'a str, V<'a>)>, s: &'a Shown) {
        o.push(("encounters", V::Count(s.encounters)));
        o.push(("persons", V::Count(s.persons)));
        for (k, m) in MEASURES.iter().enumerate() {
            o.push((m, V::Count(s.measures[k])));
        }
    }

    impl Serialize for V<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match self {
                V::Text(t) => s.serialize_str(t),
                V::Count(n) => n.serialize(s),
                V::Share(x) => x.serialize(s),
                V::Rates(r) => Object(
                    MEASURES
                        .iter()
                        .zip(r.iter())
                        .map(|(m, x)| (*m, V::Share(*x)))
                        .collect(),
                )
                .serialize(s),
                V::Funnel(f, n) => Object(
                    MEASURES
                        .iter()
                        .zip(f.iter())
                        .map(|(m, p)| (*m, V::Place(*p, *n)))
                        .collect(),
                )
                .serialize(s),
                V::Place(p, n) => {
                    let mut m = s.serialize_map(Some(3))?;
                    match (p, n) {
                        (Some(p), Some(n)) if *n > 0 => {
                            let r = |q: u64| super::super::rows::round6(q as f64 / *n as f64);
                            m.serialize_entry("limits_95", &[r(p.limits[1]), r(p.limits[2])])?;
                            m.serialize_entry("limits_99_8", &[r(p.limits[0]), r(p.limits[3])])?;
                            m.serialize_entry("position", p.position.as_str())?;
                        }
                        _ => {
                            m.serialize_entry("limits_95", &())?;
                            m.serialize_entry("limits_99_8", &())?;
                            m.serialize_entry("position", &())?;
                        }
                    }
                    m.end()
                }
                V::Shares(c) => Object(
                    COMPLETENESS
                        .iter()
                        .enumerate()
                        .map(|(k, name)| (*name, V::Share(super::share(c[k + 1], c[0]))))
                        .collect(),
                )
                .serialize(s),
                V::Rows(rows) => s.collect_seq(rows.iter().map(|r| {
                    let mut o = vec![("key", V::Text(&r.key)), ("name", V::Text(&r.name))];
                    counts(&mut o, &r.counts);
                    o.push(("rates", V::Rates(&r.rates)));
                    o.push(("funnel", V::Funnel(&r.funnel, r.counts.encounters)));
                    Object(o)
                })),
                V::Completeness(rows) => s.collect_seq(rows.iter().map(|r| {
                    let mut o = vec![
                        ("key", V::Text(&r.key)),
                        ("name", V::Text(&r.name)),
                        ("encounters", V::Count(r.counts[0])),
                    ];
                    for (k, c) in COMPLETENESS.iter().enumerate() {
                        o.push((c, V::Count(r.counts[k + 1])));
                    }
                    o.push(("shares", V::Shares(&r.counts)));
                    Object(o)
                })),
                V::National(n, rates) => {
                    let mut o = Vec::new();
                    counts(&mut o, n);
                    o.push(("rates", V::Rates(rates)));
                    Object(o).serialize(s)
                }
                V::Method => Object(vec![
                    ("method", V::Text(super::FUNNEL_METHOD)),
                    ("reference", V::Text(super::FUNNEL_REFERENCE)),
                ])
                .serialize(s),
            }
        }
    }

    /// The table as `/api/treatment`'s JSON, with disclosure control's notice when published.
    pub struct TableJson<'a> {
        pub table: &'a Table,
        pub disclosure: Option<&'a serde_json::Value>,
    }

    impl Serialize for TableJson<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let t = self.table;
            let mut m = s.serialize_map(None)?;
            m.serialize_entry("by", t.by.as_str())?;
            m.serialize_entry("completeness", &V::Completeness(&t.completeness))?;
            if let Some(d) = self.disclosure {
                m.serialize_entry("disclosure", d)?;
            }
            m.serialize_entry("funnel", &V::Method)?;
            m.serialize_entry("group", t.group.as_str())?;
            m.serialize_entry("national", &V::National(&t.national, &t.national_rates))?;
            m.serialize_entry("rows", &V::Rows(&t.rows))?;
            m.end()
        }
    }
}

pub use json::TableJson;

#[cfg(test)]
mod table_tests {
    use super::*;

    #[test]
    fn the_table_is_written_with_its_fields_by_name_and_its_shares_and_limits_by_hand() {
        // national: 5 of 10 encounters for every measure, so each rate is 0.5; a row of the
        // same counts sits within the funnel of Binomial(10, 0.5), whose 0.001, 0.025, 0.975
        // and 0.999 quantiles are 1, 2, 8 and 9 (the hand computation in `funnel`'s tests), so
        // its limits are 0.2–0.8 and 0.1–0.9; a suppressed row has no rates or positions.
        let n = Shown {
            encounters: Some(10),
            persons: Some(7),
            measures: [Some(5); 6],
        };
        let national_rates = n.rates();
        assert_eq!(national_rates, [Some(0.5); 6]);
        let row = TableRow {
            key: "E23000001".into(),
            name: "Metropolitan Police".into(),
            counts: n,
            rates: n.rates(),
            funnel: n.placed(&national_rates),
        };
        let hidden = Shown {
            encounters: None,
            persons: None,
            measures: [None; 6],
        };
        let suppressed = TableRow {
            key: "BTP".into(),
            name: "British Transport Police".into(),
            counts: hidden,
            rates: hidden.rates(),
            funnel: hidden.placed(&national_rates),
        };
        let t = Table {
            by: By::SourceForce,
            group: Group::Children,
            national: n,
            national_rates,
            rows: vec![row, suppressed],
            completeness: vec![CompletenessRow {
                key: "E23000001".into(),
                name: "Metropolitan Police".into(),
                counts: [Some(4), Some(3), None, Some(0)],
            }],
        };
        let notice = serde_json::json!({"applied": true});
        let got = serde_json::to_string(&TableJson {
            table: &t,
            disclosure: Some(&notice),
        })
        .unwrap();
        let within = serde_json::json!({
            "position": "within", "limits_95": [0.2, 0.8], "limits_99_8": [0.1, 0.9]
        });
        let none = serde_json::json!({"position": null, "limits_95": null, "limits_99_8": null});
        let each = |v: serde_json::Value| -> serde_json::Value {
            MEASURES
                .iter()
                .map(|m| (m.to_string(), v.clone()))
                .collect()
        };
        let counts = |e: serde_json::Value, p: serde_json::Value, m: serde_json::Value| {
            let mut o = serde_json::Map::new();
            o.insert("encounters".into(), e);
            o.insert("persons".into(), p);
            for k in MEASURES {
                o.insert(k.into(), m.clone());
            }
            o
        };
        let mut national = counts(10.into(), 7.into(), 5.into());
        national.insert("rates".into(), each(0.5.into()));
        let mut met = counts(10.into(), 7.into(), 5.into());
        met.insert("key".into(), "E23000001".into());
        met.insert("name".into(), "Metropolitan Police".into());
        met.insert("rates".into(), each(0.5.into()));
        met.insert("funnel".into(), each(within));
        let null = serde_json::Value::Null;
        let mut btp = counts(null.clone(), null.clone(), null.clone());
        btp.insert("key".into(), "BTP".into());
        btp.insert("name".into(), "British Transport Police".into());
        btp.insert("rates".into(), each(null));
        btp.insert("funnel".into(), each(none));
        // serde_json's own maps write their keys in order: the same bytes or not
        let want = serde_json::json!({
            "by": "source_force",
            "group": "children",
            "national": national,
            "rows": [met, btp],
            "completeness": [{
                "key": "E23000001", "name": "Metropolitan Police", "encounters": 4,
                "known_age_band": 3, "victim_status_recorded": null, "vulnerability_flagged": 0,
                "shares": {
                    "known_age_band": 0.75, "victim_status_recorded": null,
                    "vulnerability_flagged": 0.0
                }
            }],
            "funnel": {"method": FUNNEL_METHOD, "reference": FUNNEL_REFERENCE},
            "disclosure": {"applied": true},
        });
        assert_eq!(got, serde_json::to_string(&want).unwrap());
    }
}
