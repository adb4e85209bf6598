//! People seen again: the selected journeys grouped by person key (`person_id`, derived the
//! same way by every force for the same person), each person with their journeys in order, the
//! force areas they were moved through, what happened to them each time, and flags an analyst
//! should look at ([`Signal`]).
//!
//! Child first: a person's safeguarding and NRM referrals are always counted beside their
//! arrests.

use super::treatment::{Group, measures_of, missing_episode};
use crate::journey::map::MappedJourney;
use crate::journey::report::{AgeBand, Role, VictimStatus};
use std::sync::Arc;

/// Days back from the reference day within which a force is "new" ([`Signal::NewForce`]).
pub const NEW_FORCE_DAYS: i32 = 90;

/// Flags on a person, each a documented rule over their selected journeys in date order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Signal {
    /// a force area (where a journey starts or ends) first seen within the [`NEW_FORCE_DAYS`]
    /// days ending on the reference day, later than the first journey's areas
    NewForce,
    /// at least three journeys, the gaps between them (days) never growing, and the last gap
    /// at most half the first
    ShorteningIntervals,
    /// a more senior role on a later journey than on an earlier one (runner < line_holder <
    /// controller)
    RoleEscalation,
    /// a missing episode recorded on two or more journeys
    RepeatedMissingEpisodes,
    /// arrested (or charged, or convicted) on some journey and never referred for
    /// safeguarding or to the NRM on any
    ArrestedNeverReferred,
}

impl Signal {
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::NewForce => "new_force_last_90_days",
            Signal::ShorteningIntervals => "shortening_intervals",
            Signal::RoleEscalation => "role_escalation",
            Signal::RepeatedMissingEpisodes => "repeated_missing_episodes",
            Signal::ArrestedNeverReferred => "arrested_never_referred",
        }
    }
}

/// One person over the selected journeys.
#[derive(Clone, Debug)]
pub struct PersonSummary<'a> {
    /// the person key as reported (pseudonymise before it leaves the server)
    pub key: &'a str,
    /// the person's journeys, by date (ties: the order they were added)
    pub journeys: Vec<&'a Arc<MappedJourney>>,
    /// force areas (indices) their journeys start or end in, in the order first seen
    pub forces: Vec<u16>,
    /// first and last journey day (days since 1970-01-01)
    pub first_seen: i32,
    pub last_seen: i32,
    /// in the order first seen
    pub age_bands: Vec<AgeBand>,
    pub roles: Vec<Role>,
    pub victim_statuses: Vec<VictimStatus>,
    /// journeys on which they were referred for safeguarding, to the NRM, arrested (or charged
    /// or convicted), recorded missing
    pub safeguarding_referrals: u32,
    pub nrm_referrals: u32,
    pub arrests: u32,
    pub missing_episodes: u32,
    /// under 18 on one of the journeys
    pub child: bool,
    pub signals: Vec<Signal>,
}

impl PersonSummary<'_> {
    /// Whether the person is in the group: a child when under 18 on one of their journeys; an
    /// adult when never a child and 18 or over on one; a vulnerable adult when an adult with a
    /// vulnerability flag on one; everyone for `all`.
    pub fn in_group(&self, group: Group, flagged: bool) -> bool {
        let adult = !self.child && self.age_bands.iter().any(|b| *b != AgeBand::Unknown);
        match group {
            Group::Children => self.child,
            Group::Adults => adult,
            Group::VulnerableAdults => adult && flagged,
            Group::All => true,
        }
    }
}

fn rank(r: Role) -> Option<u8> {
    match r {
        Role::Runner => Some(1),
        Role::LineHolder => Some(2),
        Role::Controller => Some(3),
        _ => None,
    }
}

fn push_new<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

/// Every person on the selected journeys in `group` with at least `min_journeys` journeys and
/// `min_forces` force areas, sorted by journeys (most first), then last seen (latest first),
/// then key. `reference_day` is "today" for [`Signal::NewForce`] (the end of the period asked
/// about). O(encounters · log).
pub fn people<'a>(
    journeys: &[&'a Arc<MappedJourney>],
    group: Group,
    min_journeys: usize,
    min_forces: usize,
    reference_day: i32,
) -> Vec<PersonSummary<'a>> {
    // (person number, journey, person on it), grouped by person: a sort, not a hash map
    let keys = super::PersonKeys::of(journeys);
    let mut pairs: Vec<(u32, u32, u32)> = Vec::new();
    for k in 0..journeys.len() {
        for (i, &code) in keys.of_journey(k).iter().enumerate() {
            pairs.push((code >> 1, k as u32, i as u32));
        }
    }
    pairs.sort_unstable();
    let mut out: Vec<PersonSummary<'a>> = Vec::new();
    for group_of in pairs.chunk_by(|a, b| a.0 == b.0) {
        let mut js: Vec<&'a Arc<MappedJourney>> = group_of
            .iter()
            .map(|&(_, k, _)| journeys[k as usize])
            .collect();
        // a person named twice on one report is one journey
        js.dedup_by(|a, b| Arc::ptr_eq(a, b));
        if js.len() < min_journeys {
            continue;
        }
        let (_, k, i) = group_of[0];
        let key = journeys[k as usize].report.persons[i as usize]
            .person_id
            .as_str();
        // by date; ties in the order the journeys were added (the sort above kept it)
        js.sort_by_key(|j| j.day);
        let (s, flagged) = summarise(key, js, reference_day);
        if s.forces.len() >= min_forces && s.in_group(group, flagged) {
            out.push(s);
        }
    }
    out.sort_by(|a, b| {
        b.journeys
            .len()
            .cmp(&a.journeys.len())
            .then(b.last_seen.cmp(&a.last_seen))
            .then(a.key.cmp(b.key))
    });
    out
}

/// One person's summary over their journeys (sorted by day), and whether a vulnerability flag
/// was recorded on any.
pub fn summarise<'a>(
    key: &'a str,
    journeys: Vec<&'a Arc<MappedJourney>>,
    reference_day: i32,
) -> (PersonSummary<'a>, bool) {
    let mut s = PersonSummary {
        key,
        forces: Vec::new(),
        first_seen: journeys.first().map_or(0, |j| j.day),
        last_seen: journeys.last().map_or(0, |j| j.day),
        age_bands: Vec::new(),
        roles: Vec::new(),
        victim_statuses: Vec::new(),
        safeguarding_referrals: 0,
        nrm_referrals: 0,
        arrests: 0,
        missing_episodes: 0,
        child: false,
        signals: Vec::new(),
        journeys: Vec::new(),
    };
    let mut flagged = false;
    // the day each force was first seen
    let mut force_days: Vec<(u16, i32)> = Vec::new();
    let mut ranks: Vec<(u8, u8)> = Vec::new(); // (lowest, highest) ranked role per journey
    for j in &journeys {
        for f in [j.origin.force, j.destination.force].into_iter().flatten() {
            if !s.forces.contains(&f) {
                s.forces.push(f);
                force_days.push((f, j.day));
            }
        }
        let mut missing = false;
        let (mut sg, mut nrm, mut arrest) = (false, false, false);
        let (mut lo, mut hi) = (u8::MAX, 0u8);
        for p in j.report.persons.iter().filter(|p| p.person_id == key) {
            push_new(&mut s.age_bands, p.age_band);
            for r in &p.roles {
                push_new(&mut s.roles, *r);
                if let Some(k) = rank(*r) {
                    lo = lo.min(k);
                    hi = hi.max(k);
                }
            }
            push_new(&mut s.victim_statuses, p.victim_status);
            let m = measures_of(p);
            sg |= m[1];
            nrm |= m[2];
            arrest |= m[3];
            missing |= missing_episode(p);
            s.child |= p.age_band.is_child();
            flagged |= !p.vulnerability_flags.is_empty();
        }
        s.safeguarding_referrals += u32::from(sg);
        s.nrm_referrals += u32::from(nrm);
        s.arrests += u32::from(arrest);
        s.missing_episodes += u32::from(missing);
        if hi > 0 {
            ranks.push((lo, hi));
        }
    }
    if let Some(&(_, d0)) = force_days.first()
        && force_days[1..]
            .iter()
            .any(|&(_, d)| d > d0 && d <= reference_day && reference_day - d < NEW_FORCE_DAYS)
    {
        s.signals.push(Signal::NewForce);
    }
    let gaps: Vec<i32> = journeys.windows(2).map(|w| w[1].day - w[0].day).collect();
    if gaps.len() >= 2
        && gaps.windows(2).all(|w| w[1] <= w[0])
        && gaps[gaps.len() - 1] * 2 <= gaps[0]
    {
        s.signals.push(Signal::ShorteningIntervals);
    }
    let escalated = ranks
        .iter()
        .enumerate()
        .any(|(i, &(lo, _))| ranks[i + 1..].iter().any(|&(_, hi)| hi > lo));
    if escalated {
        s.signals.push(Signal::RoleEscalation);
    }
    if s.missing_episodes >= 2 {
        s.signals.push(Signal::RepeatedMissingEpisodes);
    }
    if s.arrests > 0 && s.safeguarding_referrals == 0 && s.nrm_referrals == 0 {
        s.signals.push(Signal::ArrestedNeverReferred);
    }
    s.journeys = journeys;
    (s, flagged)
}
