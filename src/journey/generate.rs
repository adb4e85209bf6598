//! Synthetic journey reports: a deterministic generator of county-lines journeys in the v1 report
//! format (`data/journey-report.schema.json`), for demos, tests and benchmarks.
//!
//! Every number the model uses is a field of [`GeneratorParams`]; the defaults live in
//! `data/generator.json` and each one's source is given in `data/GENERATOR.md`.
//!
//! # The model
//! - **Lines** start on days drawn from a yearly volume table (active lines a month). A line is
//!   *internal* (both ends in one force) with that year's `internal_share`, else *external*: an
//!   exporting force is drawn from the exporter weights, an importing force from that exporter's
//!   kernel (or, if it has none, from nearby forces), then an origin station among the exporter's
//!   urban hubs (London Travelcard or PTE stations, by footfall) and a market station in the
//!   importer (non-urban, moderate footfall, named county-lines towns boosted). A line sometimes
//!   routes via one NCA/BTP interchange hub lying between its ends.
//! - **Crews** (a runner, sometimes with one or two companions) work a line for a few weeks and
//!   travel its corridor as a Poisson process; only a share of journeys is reported. So the same
//!   `person_id` and `line_id` recur across reports on the same corridor.
//! - Reporting runs faster in NCLCC **intensification weeks** (and, optionally, in the 2020
//!   lockdown), when encounters are also likelier.
//! - Each **report** is one journey: mode (children take the train far more than adults), places,
//!   an optional encounter at a station of the journey, the people with their victim and suspect
//!   status, seizures and grading. Ethnicity is never generated.
//!
//! # Determinism
//! One `ChaCha8Rng::seed_from_u64(seed)` stream drawn in a fixed order; no hash-map iteration;
//! reports are sorted by `reported_at` (ties keep generation order) and numbered
//! `syn-<seed>-<index>`. The same geography, parameters, `n` and seed give the same bytes.
//!
//! # Cost
//! The simulation is cheap (~0.25 s for 100,000 reports). [`generate`] returns
//! `serde_json::Value`s, whose objects are B-tree maps: ~7 kB and ~80 allocations a report, so
//! building them dominates and is spread over the cores. [`generate_ndjson`] writes the same
//! bytes straight from compact structs, in about half the time and a tenth of the memory.
//!
//! Everything invented is marked synthetic: ids start `syn-`, line names `SYN-`.

use crate::geography::geodesy::{andoyer_lambert_m, radii};
use crate::geography::{ForceCode, Geography, StationCode};
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Exp1, Poisson, StandardNormal};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use time::Date;

// ------------------------------------------------------------------------------------------
// Vocabularies (the schema's enumerations that parameters refer to)
// ------------------------------------------------------------------------------------------

pub use crate::vocab::VulnerabilityFlag as Flag;
pub use crate::vocab::{
    Concealment, DrugType, IntelAssessment, Mode, Role, SourceEval, VictimStatus, Weapon,
};

crate::vocab::vocabulary!(
    /// Encounter types that record no arrest, search or safeguarding (a part of
    /// [`crate::vocab::EncounterType`], for the generator's weights).
    QuietEncounter { Intelligence = "intelligence", WelfareCheck = "welfare_check", Other = "other" }
);

// ------------------------------------------------------------------------------------------
// Parameters
// ------------------------------------------------------------------------------------------

/// Every parameter of the generator. The shape is that of `data/generator.json`; every field is
/// required and unknown fields are refused. Probabilities ("…_share", "…_child" etc.) are in
/// [0, 1]; weights are relative (only their ratios matter).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorParams {
    pub period: Period,
    /// Line volume and internal-line share by calendar year; a year outside the table takes the
    /// nearest year's values.
    pub years: Vec<YearVolume>,
    pub intensification_weeks: Intensification,
    pub covid_2020: Covid,
    /// Exporting forces with their weights and importer kernels.
    pub exporters: Vec<Exporter>,
    /// Length scale, km, of the `exp(-d / scale)` kernel that picks importers for an exporter
    /// with an empty `importers` list (d: between hub and market centroids).
    pub nearby_importer_scale_km: f64,
    pub origins: Origins,
    pub destinations: Destinations,
    pub interchanges: Interchanges,
    pub lines: LineParams,
    pub cadence: Cadence,
    pub modes: Modes,
    pub places: Places,
    pub timing: Timing,
    pub encounters: Encounters,
    pub persons: PersonParams,
    pub outcomes: Outcomes,
    pub seizures: SeizureParams,
    pub grading: GradingParams,
}

/// Journey dates lie in `start..=end` (ISO dates); reports are made no later than `end` 23:59:59Z.
/// The server refuses reports from the future, so `end` should not be after today.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    pub start: String,
    pub end: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YearVolume {
    pub year: i32,
    /// Active lines a month: the relative rate at which lines start that year.
    pub lines_per_month: f64,
    /// Share of lines starting that year that are internal (both ends in one force).
    pub internal_share: f64,
}

/// A week of national action, every year from `month`/`day`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonthDay {
    pub month: u8,
    pub day: u8,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intensification {
    pub starts: Vec<MonthDay>,
    /// Length of each intensification period, days.
    pub days: u32,
    /// Reports per journey are multiplied by this inside the weeks.
    pub report_rate_factor: f64,
    /// Share of reports with an encounter inside the weeks (at least the usual share).
    pub encounter_share: f64,
}

/// The 2020 lockdown scenario: rail travel fell ~94 % but county-lines activity did not, so
/// runners were more conspicuous: more reports per journey, more encounters.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Covid {
    pub enabled: bool,
    pub start: String,
    pub end: String,
    pub report_rate_factor: f64,
    pub encounter_share: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exporter {
    pub force: ForceCode,
    /// A label for people reading the file; not used.
    pub name: String,
    pub weight: f64,
    /// Where this exporter's external lines go; empty means nearby forces.
    pub importers: Vec<Importer>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Importer {
    pub force: ForceCode,
    pub name: String,
    pub weight: f64,
}

/// Origins: urban hubs of the exporting force.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Origins {
    /// Hub weight = footfall ^ exponent.
    pub footfall_exponent: f64,
    /// A force's Travelcard/PTE stations are its hubs if they carry at least this share of its
    /// footfall; otherwise its hubs are its busiest `fallback_top_n` stations.
    pub urban_footfall_share_min: f64,
    pub fallback_top_n: usize,
}

/// Destinations: market and coastal towns of the importing force.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destinations {
    /// Weight = min(footfall, cap) ^ exponent (x `named_boost` for a named town).
    pub footfall_exponent: f64,
    pub footfall_cap: f64,
    /// Stations with fewer annual entries and exits are not destinations (unless named).
    pub min_footfall: f64,
    pub named_boost: f64,
    /// Towns named in county-lines cases; also allowed when urban (Chester is a Merseyrail station).
    pub named: Vec<StationCode>,
    /// A force imports external lines only if its non-urban (and named) stations carry at
    /// least this share of its footfall; the metropolitan forces do not.
    pub market_footfall_share_min: f64,
    /// An internal line's two ends are at least this far apart, km.
    pub internal_min_distance_km: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interchanges {
    pub stations: Vec<StationCode>,
    /// Share of lines that route via a hub, when one lies between the ends.
    pub via_share: f64,
    /// A hub lies between the ends if going through it adds at most this fraction to the
    /// crow-flies distance.
    pub max_detour: f64,
    /// ... and it is at least this far, km, from each end.
    pub min_leg_km: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineParams {
    /// Mean of the exponential line lifetime, weeks (at least two weeks).
    pub lifetime_weeks_mean: f64,
    /// Mean number of crews over a line's life (at least one).
    pub crews_per_line_mean: f64,
    /// Share of reports that name the line.
    pub attributed_share: f64,
    /// Share of journeys made back from the market to the hub (cash runs).
    pub return_journey_share: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cadence {
    /// Journeys a crew makes on its corridor a week (Poisson rate).
    pub journeys_per_week: f64,
    /// Share of journeys that lead to a report.
    pub reported_share: f64,
    /// Mean of the exponential time a crew works a line, weeks (at least one).
    pub crew_active_weeks_mean: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Modes {
    /// P(rail) when the lead runner is under 18.
    pub rail_share_child: f64,
    /// P(rail) when the lead runner is an adult.
    pub rail_share_adult: f64,
    /// Share of a crew's journeys made by its usual mode.
    pub persistence: f64,
    /// Split of non-rail modes for children and for adults.
    pub other_child: BTreeMap<Mode, f64>,
    pub other_adult: BTreeMap<Mode, f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Places {
    /// Share of rail origins/destinations given as a point near the station instead of its code.
    pub point_share_rail: f64,
    pub point_share_other: f64,
    /// Points lie within this distance of the station, metres.
    pub point_radius_m: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timing {
    pub departed_at_share: f64,
    pub encounter_at_share: f64,
    pub earliest_departure_hour: u8,
    /// Crow-flies distance x `route_factor` / speed gives the travel time.
    pub route_factor: f64,
    pub rail_speed_kmh: f64,
    pub road_speed_kmh: f64,
    /// Exponential delay between the journey and the report, hours, capped at `report_delay_days_max`.
    pub report_delay_hours_mean: f64,
    pub report_delay_days_max: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Encounters {
    /// Share of reports recording an encounter (the rest are intelligence reports).
    pub share: f64,
    /// Where on a journey an encounter happens (relative weights; `at_via` only with a via).
    pub at_origin: f64,
    pub at_via: f64,
    pub at_destination: f64,
    /// Share of rail encounters reported by BTP (the rest by the station's territorial force).
    pub btp_share_rail: f64,
    /// Share of encounters that are joint operations (BTP with the local force).
    pub joint_share: f64,
    /// Type of an encounter that led to no arrest, search or safeguarding referral.
    pub no_outcome_types: BTreeMap<QuietEncounter, f64>,
    pub intelligence_source: IntelligenceSource,
}

/// Who reports a journey without an encounter (relative weights).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntelligenceSource {
    pub importer: f64,
    pub exporter: f64,
    pub btp_if_rail: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonParams {
    /// Relative weights of crews of 1, 2, 3 … people.
    pub crew_size_weights: Vec<f64>,
    pub male_share: f64,
    pub unknown_sex_share: f64,
    /// Share of runners under 18.
    pub runner_under_18_share: f64,
    /// Ages of child runners (years, 10..=17) with relative weights.
    pub child_age_weights: BTreeMap<u8, f64>,
    /// Adult runners are 18 + an exponential number of years with this mean.
    pub adult_runner_age_excess_mean: f64,
    /// Line holders and controllers: 18 + exponential years with this mean.
    pub senior_age_excess_mean: f64,
    /// Roles of the second and third members of a crew.
    pub companion_roles: BTreeMap<Role, f64>,
    /// Independent probabilities of each vulnerability flag.
    pub flags_child: BTreeMap<Flag, f64>,
    pub flags_adult: BTreeMap<Flag, f64>,
    /// P(the runner of a new crew is someone already reported, moved to another line) when
    /// such a person was last reported at most `rerecruit_window_days` before the crew starts.
    #[serde(default)]
    pub rerecruited_share: f64,
    #[serde(default)]
    pub rerecruit_window_days: f64,
    /// P(a re-recruited adult comes back as a line holder rather than a runner).
    #[serde(default)]
    pub escalation_share: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcomes {
    /// P(arrested) of an encountered child / adult.
    pub arrest_child: f64,
    pub arrest_adult: f64,
    /// P(stopped and searched) of an encountered person not arrested.
    pub stopped_share_not_arrested: f64,
    /// Share of the stopped recorded as no further action.
    pub nfa_share_stopped: f64,
    /// P(charged) of an arrested child / adult.
    pub charged_child: f64,
    pub charged_adult: f64,
    /// P(NRM referral) of an arrested child / adult.
    pub nrm_per_arrest_child: f64,
    pub nrm_per_arrest_adult: f64,
    /// P(safeguarding referral) of an encountered child / vulnerable adult.
    pub safeguarding_child: f64,
    pub safeguarding_adult_vulnerable: f64,
    /// P(recorded as potential victim) of an encountered child / vulnerable adult.
    pub potential_victim_child: f64,
    pub potential_victim_adult_vulnerable: f64,
    /// ... of a child in an intelligence report.
    pub intelligence_potential_victim_child: f64,
    /// Victim status in later reports on someone already referred to the NRM.
    pub nrm_decisions: BTreeMap<VictimStatus, f64>,
    /// How much recording forces differ: each force's odds of recording a potential victim,
    /// a safeguarding referral and an NRM referral are multiplied by `exp(sigma * z)`, `z` a
    /// standard normal drawn from a hash of the force code (the same in every run).
    #[serde(default)]
    pub force_log_odds_sigma: f64,
    /// British Transport Police's log-odds shift instead of a drawn one.
    #[serde(default)]
    pub btp_log_odds: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeizureParams {
    /// Mean phones / weapons seized per arrest (Poisson).
    pub phones_per_arrest: f64,
    pub weapons_per_arrest: f64,
    pub weapon_types: BTreeMap<Weapon, f64>,
    /// Share of reports with an arrest in which drugs are seized.
    pub drugs_share: f64,
    pub second_drug_share: f64,
    pub drug_types: BTreeMap<DrugType, f64>,
    /// Log-normal number of wraps: median and sigma of the log.
    pub wraps_median: f64,
    pub wraps_sigma: f64,
    pub concealment: BTreeMap<Concealment, f64>,
    /// Share of reports with an arrest in which courier cash is seized, outbound / return.
    pub courier_cash_share_outbound: f64,
    pub courier_cash_share_return: f64,
    pub cash_min_gbp: f64,
    pub cash_max_gbp: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradingParams {
    /// Share of reports carrying a 3x5x2 grading.
    pub share: f64,
    pub source_eval: BTreeMap<SourceEval, f64>,
    pub intel_assessment: BTreeMap<IntelAssessment, f64>,
    pub handling_c_share: f64,
    /// Share of `C`-handled reports with handling conditions, and their text.
    pub conditions_share: f64,
    pub conditions_text: String,
}

impl GeneratorParams {
    /// The defaults from `data/generator.json`.
    pub fn builtin() -> GeneratorParams {
        // The file is compiled in and a unit test parses it, so this cannot fail at run time.
        GeneratorParams::from_json(include_str!("../../data/generator.json"))
            .expect("data/generator.json is a valid parameter file")
    }

    /// Parses a parameters document of the same shape as `data/generator.json` and checks its
    /// values. Errors name the field (`destinations.named_boost: …`, or serde's "unknown field
    /// `x`" / "missing field `x`" with line and column).
    pub fn from_json(text: &str) -> Result<GeneratorParams, String> {
        let p: GeneratorParams =
            serde_json::from_str(text).map_err(|e| format!("generator parameters: {e}"))?;
        p.validate()?;
        Ok(p)
    }

    /// Checks every value; the error lists each bad field by its path.
    pub fn validate(&self) -> Result<(), String> {
        let mut c = Checker::default();
        let start = c.date("period.start", &self.period.start);
        let end = c.date("period.end", &self.period.end);
        if let (Some(s), Some(e)) = (start, end)
            && s > e
        {
            c.fail("period", "start is after end");
        }
        if self.years.is_empty() {
            c.fail("years", "must list at least one year");
        }
        for (i, y) in self.years.iter().enumerate() {
            c.non_negative(&format!("years[{i}].lines_per_month"), y.lines_per_month);
            c.prob(&format!("years[{i}].internal_share"), y.internal_share);
        }
        c.weights(
            "years[].lines_per_month",
            self.years.iter().map(|y| y.lines_per_month),
        );
        let iw = &self.intensification_weeks;
        for (i, md) in iw.starts.iter().enumerate() {
            if Date::from_calendar_date(2019, month(md.month), md.day).is_err() {
                c.fail(
                    &format!("intensification_weeks.starts[{i}]"),
                    "is not a day of the year",
                );
            }
        }
        if iw.days == 0 || iw.days > 31 {
            c.fail("intensification_weeks.days", "must be 1..=31");
        }
        c.positive(
            "intensification_weeks.report_rate_factor",
            iw.report_rate_factor,
        );
        c.prob("intensification_weeks.encounter_share", iw.encounter_share);
        let cs = c.date("covid_2020.start", &self.covid_2020.start);
        let ce = c.date("covid_2020.end", &self.covid_2020.end);
        if let (Some(s), Some(e)) = (cs, ce)
            && s > e
        {
            c.fail("covid_2020", "start is after end");
        }
        c.positive(
            "covid_2020.report_rate_factor",
            self.covid_2020.report_rate_factor,
        );
        c.prob(
            "covid_2020.encounter_share",
            self.covid_2020.encounter_share,
        );
        for (i, x) in self.exporters.iter().enumerate() {
            if x.force.is_btp() {
                c.fail(
                    &format!("exporters[{i}].force"),
                    "BTP has no area to export from",
                );
            }
            c.non_negative(&format!("exporters[{i}].weight"), x.weight);
            for (j, m) in x.importers.iter().enumerate() {
                let path = format!("exporters[{i}].importers[{j}]");
                if m.force.is_btp() {
                    c.fail(&format!("{path}.force"), "BTP has no area to import into");
                }
                if m.force == x.force {
                    c.fail(
                        &format!("{path}.force"),
                        "an exporter cannot import from itself",
                    );
                }
                c.non_negative(&format!("{path}.weight"), m.weight);
            }
        }
        c.weights(
            "exporters[].weight",
            self.exporters.iter().map(|x| x.weight),
        );
        c.positive("nearby_importer_scale_km", self.nearby_importer_scale_km);
        c.non_negative("origins.footfall_exponent", self.origins.footfall_exponent);
        c.prob(
            "origins.urban_footfall_share_min",
            self.origins.urban_footfall_share_min,
        );
        if self.origins.fallback_top_n == 0 {
            c.fail("origins.fallback_top_n", "must be at least 1");
        }
        let d = &self.destinations;
        c.non_negative("destinations.footfall_exponent", d.footfall_exponent);
        c.positive("destinations.footfall_cap", d.footfall_cap);
        c.non_negative("destinations.min_footfall", d.min_footfall);
        c.positive("destinations.named_boost", d.named_boost);
        c.prob(
            "destinations.market_footfall_share_min",
            d.market_footfall_share_min,
        );
        c.non_negative(
            "destinations.internal_min_distance_km",
            d.internal_min_distance_km,
        );
        let x = &self.interchanges;
        c.prob("interchanges.via_share", x.via_share);
        c.non_negative("interchanges.max_detour", x.max_detour);
        c.non_negative("interchanges.min_leg_km", x.min_leg_km);
        let l = &self.lines;
        c.positive("lines.lifetime_weeks_mean", l.lifetime_weeks_mean);
        if !(l.crews_per_line_mean >= 1.0 && l.crews_per_line_mean <= 1000.0) {
            c.fail("lines.crews_per_line_mean", "must be a number in [1, 1000]");
        }
        c.prob("lines.attributed_share", l.attributed_share);
        c.prob("lines.return_journey_share", l.return_journey_share);
        c.positive("cadence.journeys_per_week", self.cadence.journeys_per_week);
        c.prob("cadence.reported_share", self.cadence.reported_share);
        c.positive(
            "cadence.crew_active_weeks_mean",
            self.cadence.crew_active_weeks_mean,
        );
        let m = &self.modes;
        c.prob("modes.rail_share_child", m.rail_share_child);
        c.prob("modes.rail_share_adult", m.rail_share_adult);
        c.prob("modes.persistence", m.persistence);
        for (path, split) in [
            ("modes.other_child", &m.other_child),
            ("modes.other_adult", &m.other_adult),
        ] {
            if split.contains_key(&Mode::Rail) {
                c.fail(path, "lists rail; the rail share is set by rail_share_*");
            }
            c.weights(path, split.values().copied());
        }
        let p = &self.places;
        c.prob("places.point_share_rail", p.point_share_rail);
        c.prob("places.point_share_other", p.point_share_other);
        if !(p.point_radius_m > 0.0 && p.point_radius_m <= 10_000.0) {
            c.fail("places.point_radius_m", "must be in (0, 10000] metres");
        }
        let t = &self.timing;
        c.prob("timing.departed_at_share", t.departed_at_share);
        c.prob("timing.encounter_at_share", t.encounter_at_share);
        if t.earliest_departure_hour > 20 {
            c.fail("timing.earliest_departure_hour", "must be 0..=20");
        }
        if !(t.route_factor >= 1.0 && t.route_factor <= 5.0) {
            c.fail("timing.route_factor", "must be in [1, 5]");
        }
        c.positive("timing.rail_speed_kmh", t.rail_speed_kmh);
        c.positive("timing.road_speed_kmh", t.road_speed_kmh);
        c.non_negative("timing.report_delay_hours_mean", t.report_delay_hours_mean);
        if t.report_delay_days_max > 365 {
            c.fail("timing.report_delay_days_max", "must be at most 365");
        }
        let e = &self.encounters;
        c.prob("encounters.share", e.share);
        for (path, v) in [
            ("encounters.at_origin", e.at_origin),
            ("encounters.at_via", e.at_via),
            ("encounters.at_destination", e.at_destination),
        ] {
            c.non_negative(path, v);
        }
        c.weights(
            "encounters.at_origin/at_destination",
            [e.at_origin, e.at_destination],
        );
        c.prob("encounters.btp_share_rail", e.btp_share_rail);
        c.prob("encounters.joint_share", e.joint_share);
        c.weights(
            "encounters.no_outcome_types",
            e.no_outcome_types.values().copied(),
        );
        let s = &e.intelligence_source;
        c.weights(
            "encounters.intelligence_source",
            [s.importer, s.exporter, s.btp_if_rail],
        );
        c.weights(
            "encounters.intelligence_source (importer, exporter)",
            [s.importer, s.exporter],
        );
        let pp = &self.persons;
        c.weights(
            "persons.crew_size_weights",
            pp.crew_size_weights.iter().copied(),
        );
        if pp.crew_size_weights.len() > 50 {
            c.fail("persons.crew_size_weights", "crews of more than 50 people");
        }
        c.prob("persons.male_share", pp.male_share);
        c.prob("persons.unknown_sex_share", pp.unknown_sex_share);
        if pp.male_share + pp.unknown_sex_share > 1.0 {
            c.fail(
                "persons.male_share",
                "male_share + unknown_sex_share exceeds 1",
            );
        }
        c.prob("persons.runner_under_18_share", pp.runner_under_18_share);
        if pp
            .child_age_weights
            .keys()
            .any(|&a| !(10..=17).contains(&a))
        {
            c.fail("persons.child_age_weights", "ages must be 10..=17");
        }
        c.weights(
            "persons.child_age_weights",
            pp.child_age_weights.values().copied(),
        );
        c.non_negative(
            "persons.adult_runner_age_excess_mean",
            pp.adult_runner_age_excess_mean,
        );
        c.non_negative("persons.senior_age_excess_mean", pp.senior_age_excess_mean);
        c.weights(
            "persons.companion_roles",
            pp.companion_roles.values().copied(),
        );
        for (path, flags) in [
            ("persons.flags_child", &pp.flags_child),
            ("persons.flags_adult", &pp.flags_adult),
        ] {
            for (f, &v) in flags {
                c.prob(&format!("{path}.{}", f.as_str()), v);
            }
        }
        let o = &self.outcomes;
        for (path, v) in [
            ("arrest_child", o.arrest_child),
            ("arrest_adult", o.arrest_adult),
            ("stopped_share_not_arrested", o.stopped_share_not_arrested),
            ("nfa_share_stopped", o.nfa_share_stopped),
            ("charged_child", o.charged_child),
            ("charged_adult", o.charged_adult),
            ("nrm_per_arrest_child", o.nrm_per_arrest_child),
            ("nrm_per_arrest_adult", o.nrm_per_arrest_adult),
            ("safeguarding_child", o.safeguarding_child),
            (
                "safeguarding_adult_vulnerable",
                o.safeguarding_adult_vulnerable,
            ),
            ("potential_victim_child", o.potential_victim_child),
            (
                "potential_victim_adult_vulnerable",
                o.potential_victim_adult_vulnerable,
            ),
            (
                "intelligence_potential_victim_child",
                o.intelligence_potential_victim_child,
            ),
        ] {
            c.prob(&format!("outcomes.{path}"), v);
        }
        c.weights("outcomes.nrm_decisions", o.nrm_decisions.values().copied());
        c.non_negative("outcomes.force_log_odds_sigma", o.force_log_odds_sigma);
        if !o.btp_log_odds.is_finite() || o.btp_log_odds.abs() > 10.0 {
            c.fail("outcomes.btp_log_odds", "must be a number from -10 to 10");
        }
        c.prob("persons.rerecruited_share", pp.rerecruited_share);
        c.non_negative("persons.rerecruit_window_days", pp.rerecruit_window_days);
        c.prob("persons.escalation_share", pp.escalation_share);
        let z = &self.seizures;
        c.non_negative("seizures.phones_per_arrest", z.phones_per_arrest);
        c.non_negative("seizures.weapons_per_arrest", z.weapons_per_arrest);
        c.weights("seizures.weapon_types", z.weapon_types.values().copied());
        c.prob("seizures.drugs_share", z.drugs_share);
        c.prob("seizures.second_drug_share", z.second_drug_share);
        c.weights("seizures.drug_types", z.drug_types.values().copied());
        if !(z.wraps_median >= 1.0 && z.wraps_median <= 10_000.0) {
            c.fail("seizures.wraps_median", "must be in [1, 10000]");
        }
        if !(z.wraps_sigma >= 0.0 && z.wraps_sigma <= 3.0) {
            c.fail("seizures.wraps_sigma", "must be in [0, 3]");
        }
        c.weights("seizures.concealment", z.concealment.values().copied());
        c.prob(
            "seizures.courier_cash_share_outbound",
            z.courier_cash_share_outbound,
        );
        c.prob(
            "seizures.courier_cash_share_return",
            z.courier_cash_share_return,
        );
        c.non_negative("seizures.cash_min_gbp", z.cash_min_gbp);
        if !(z.cash_max_gbp >= z.cash_min_gbp && z.cash_max_gbp <= 1_000_000.0) {
            c.fail(
                "seizures.cash_max_gbp",
                "must be at least cash_min_gbp and at most 1000000",
            );
        }
        let g = &self.grading;
        c.prob("grading.share", g.share);
        c.weights("grading.source_eval", g.source_eval.values().copied());
        c.weights(
            "grading.intel_assessment",
            g.intel_assessment.values().copied(),
        );
        c.prob("grading.handling_c_share", g.handling_c_share);
        c.prob("grading.conditions_share", g.conditions_share);
        if g.conditions_text.is_empty() || g.conditions_text.len() > 500 {
            c.fail("grading.conditions_text", "must be 1..=500 characters");
        }
        c.finish()
    }

    /// Checks that the forces and stations the parameters name exist in `geo`. [`generate`]
    /// skips the unknown ones, so a front end should call this and report the problem.
    pub fn check_geography(&self, geo: &Geography) -> Result<(), String> {
        let mut missing = Vec::new();
        for (i, x) in self.exporters.iter().enumerate() {
            if geo.forces.index_of(&x.force).is_none() {
                missing.push(format!("exporters[{i}].force {}", x.force));
            }
            for (j, m) in x.importers.iter().enumerate() {
                if geo.forces.index_of(&m.force).is_none() {
                    missing.push(format!("exporters[{i}].importers[{j}].force {}", m.force));
                }
            }
        }
        for (path, list) in [
            ("destinations.named", &self.destinations.named),
            ("interchanges.stations", &self.interchanges.stations),
        ] {
            for (i, code) in list.iter().enumerate() {
                if geo.stations.index_of(code).is_none() {
                    missing.push(format!("{path}[{i}] {code}"));
                }
            }
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("not in the geography: {}", missing.join(", ")))
        }
    }
}

/// Collects validation failures with the path of each field.
#[derive(Default)]
struct Checker(Vec<String>);

impl Checker {
    fn fail(&mut self, path: &str, what: &str) {
        self.0.push(format!("{path}: {what}"));
    }
    fn prob(&mut self, path: &str, v: f64) {
        if !(0.0..=1.0).contains(&v) {
            self.fail(path, &format!("must be a probability in [0, 1], got {v}"));
        }
    }
    fn positive(&mut self, path: &str, v: f64) {
        if !(v.is_finite() && v > 0.0) {
            self.fail(path, &format!("must be a finite number > 0, got {v}"));
        }
    }
    fn non_negative(&mut self, path: &str, v: f64) {
        if !(v.is_finite() && v >= 0.0) {
            self.fail(path, &format!("must be a finite number >= 0, got {v}"));
        }
    }
    fn weights(&mut self, path: &str, ws: impl IntoIterator<Item = f64>) {
        let mut sum = 0.0;
        for w in ws {
            if !(w.is_finite() && w >= 0.0) {
                self.fail(path, &format!("weights must be finite and >= 0, got {w}"));
                return;
            }
            sum += w;
        }
        if sum <= 0.0 {
            self.fail(path, "needs at least one positive weight");
        }
    }
    fn date(&mut self, path: &str, s: &str) -> Option<Date> {
        let d = parse_date(s);
        if d.is_none() {
            self.fail(path, &format!("\"{s}\" is not a date YYYY-MM-DD"));
        }
        d
    }
    fn finish(self) -> Result<(), String> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(format!("generator parameters: {}", self.0.join("; ")))
        }
    }
}

fn parse_date(s: &str) -> Option<Date> {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

fn month(m: u8) -> time::Month {
    time::Month::try_from(m).unwrap_or(time::Month::January)
}

// ------------------------------------------------------------------------------------------
// Generation: public entry points
// ------------------------------------------------------------------------------------------

/// Why no reports could be generated.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("{0}")]
    InvalidParams(String),
    #[error(
        "the geography has no usable station (one with a CRS code, on the main rail network, in a force area)"
    )]
    NoStations,
    #[error("no exporting force of the parameters has a station to start a line from")]
    NoExporters,
    #[error("writing reports: {0}")]
    Io(#[from] std::io::Error),
    #[error("serialising a report: {0}")]
    Json(#[from] serde_json::Error),
}

/// `n` synthetic reports, identical for the same (geography, params, n, seed): the same bytes
/// when serialised. Returns no reports if the parameters are invalid or the geography has no
/// usable station ([`try_generate`] says why), and fewer than `n` only if the parameters make
/// reports all but impossible (a zero reporting rate). Time and memory are linear in `n`.
pub fn generate(
    geo: &Geography,
    params: &GeneratorParams,
    n: usize,
    seed: u64,
) -> Vec<serde_json::Value> {
    try_generate(geo, params, n, seed).unwrap_or_default()
}

/// As [`generate`], with the reason when nothing can be generated.
pub fn try_generate(
    geo: &Geography,
    params: &GeneratorParams,
    n: usize,
    seed: u64,
) -> Result<Vec<serde_json::Value>, GenerateError> {
    let world = World::new(geo, params)?;
    let reports = simulate(&world, params, n, seed);
    // Building serde_json objects (a BTreeMap node per object, ~7 kB a report) costs more than
    // the simulation, so it is spread over the cores; each thread converts a contiguous chunk
    // and the chunks are joined in order, so the result does not depend on the thread count.
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get().min(8));
    let chunk = reports.len().div_ceil(threads).max(1);
    let convert = |part: &[ReportOut<'_>]| -> Result<Vec<Value>, serde_json::Error> {
        part.iter().map(serde_json::to_value).collect()
    };
    if threads == 1 || reports.len() < 2_000 {
        return Ok(convert(&reports)?);
    }
    let parts: Vec<Result<Vec<Value>, serde_json::Error>> = std::thread::scope(|s| {
        let handles: Vec<_> = reports
            .chunks(chunk)
            .map(|part| s.spawn(move || convert(part)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut out = Vec::with_capacity(reports.len());
    for part in parts {
        out.extend(part?);
    }
    Ok(out)
}

/// Generates `n` reports as [`generate`] does and writes them to `w` as NDJSON, the same bytes
/// as [`write_ndjson`] of [`generate`]'s reports, without building `serde_json::Value`s: about
/// half the time and a tenth of the memory, for large files. Returns the number written.
pub fn generate_ndjson(
    geo: &Geography,
    params: &GeneratorParams,
    n: usize,
    seed: u64,
    w: &mut impl Write,
) -> Result<usize, GenerateError> {
    let world = World::new(geo, params)?;
    let reports = simulate(&world, params, n, seed);
    let mut buf = std::io::BufWriter::with_capacity(1 << 16, w);
    for r in &reports {
        serde_json::to_writer(&mut buf, r)?;
        buf.write_all(b"\n")?;
    }
    buf.flush()?;
    Ok(reports.len())
}

/// Writes reports as NDJSON: one compact JSON object per line, each line ending in `\n`.
pub fn write_ndjson(reports: &[serde_json::Value], w: &mut impl Write) -> std::io::Result<()> {
    let mut buf = std::io::BufWriter::with_capacity(1 << 16, w);
    for r in reports {
        serde_json::to_writer(&mut buf, r)?;
        buf.write_all(b"\n")?;
    }
    buf.flush()
}

/// Runs the simulation until it has `n` reports, then orders them by `reported_at` (ties keep
/// the order they were made in) and numbers them.
fn simulate<'a>(
    world: &'a World<'a>,
    params: &'a GeneratorParams,
    n: usize,
    seed: u64,
) -> Vec<ReportOut<'a>> {
    let mut sim = Sim {
        w: world,
        p: params,
        rng: ChaCha8Rng::seed_from_u64(seed),
        out: Vec::with_capacity(n.min(1 << 20)),
        next_line: 1,
        next_person: 1,
        brand_uses: vec![0; BRAND_WORDS.len()],
        reported: Vec::new(),
    };
    // A line's crews may yield no report (or only reports outside the period), so a bound on
    // the attempts keeps degenerate parameters (a zero reporting rate) from looping forever.
    let max_attempts = 1_000 + 100 * n as u64;
    let mut attempts: u64 = 0;
    while sim.out.len() < n && attempts < max_attempts {
        sim.line(n);
        attempts += 1;
    }
    let mut made = sim.out;
    made.truncate(n);
    // sort positions, not the (large) reports; ties keep the order they were made in
    let mut order: Vec<usize> = (0..made.len()).collect();
    order.sort_by_key(|&i| (made[i].reported_at, i));
    let mut slots: Vec<Option<ReportOut<'a>>> = made.into_iter().map(Some).collect();
    let mut out: Vec<ReportOut<'a>> = order.iter().filter_map(|&i| slots[i].take()).collect();
    for (index, r) in out.iter_mut().enumerate() {
        r.report_id = ReportId { seed, index };
    }
    out
}

// ------------------------------------------------------------------------------------------
// The prepared world: stations by force, pickers, the calendar
// ------------------------------------------------------------------------------------------

/// A weighted choice among items.
#[derive(Clone)]
struct Choice<T> {
    items: Vec<T>,
    dist: WeightedIndex<f64>,
}

impl<T: Copy> Choice<T> {
    /// `None` when there is no positive weight.
    fn new(pairs: impl IntoIterator<Item = (T, f64)>) -> Option<Choice<T>> {
        let (items, weights): (Vec<T>, Vec<f64>) = pairs
            .into_iter()
            .filter(|(_, w)| w.is_finite() && *w > 0.0)
            .unzip();
        let dist = WeightedIndex::new(&weights).ok()?;
        Some(Choice { items, dist })
    }

    fn pick(&self, rng: &mut ChaCha8Rng) -> T {
        self.items[self.dist.sample(rng)]
    }
}

/// A parameter map as a choice; the map was validated to hold a positive weight.
fn choice<K: Copy + Ord>(m: &BTreeMap<K, f64>) -> Result<Choice<K>, GenerateError> {
    Choice::new(m.iter().map(|(&k, &w)| (k, w)))
        .ok_or_else(|| GenerateError::InvalidParams("a weight map has no positive weight".into()))
}

struct ExporterSim {
    force: usize,
    importers: Choice<usize>,
}

struct World<'a> {
    geo: &'a Geography,
    /// Territorial force of each station usable for journeys, else `None`.
    force_of: Vec<Option<usize>>,
    hubs: Vec<Option<Choice<usize>>>,
    markets: Vec<Option<Choice<usize>>>,
    /// Destinations of internal lines: markets, or any usable station of the force.
    locals: Vec<Option<Choice<usize>>>,
    exporters: Vec<ExporterSim>,
    exporter_pick: WeightedIndex<f64>,
    interchanges: Vec<usize>,
    /// Crow-flies km from each interchange (as in `interchanges`) to every station.
    interchange_km: Vec<Vec<f64>>,
    cal: Calendar,
    other_child: Choice<Mode>,
    other_adult: Choice<Mode>,
    no_outcome: Choice<QuietEncounter>,
    crew_size: Choice<usize>,
    child_age: Choice<u8>,
    companion_role: Choice<Role>,
    flags_child: Vec<(Flag, f64)>,
    flags_adult: Vec<(Flag, f64)>,
    nrm_decision: Choice<VictimStatus>,
    weapon: Choice<Weapon>,
    drug: Choice<DrugType>,
    concealment: Choice<Concealment>,
    source_eval: Choice<SourceEval>,
    intel_assessment: Choice<IntelAssessment>,
}

fn is_crs(code: &StationCode) -> bool {
    let b = code.as_str().as_bytes();
    b.len() == 3 && b.iter().all(u8::is_ascii_alphabetic)
}

fn km(geo: &Geography, a: usize, b: usize) -> f64 {
    andoyer_lambert_m(geo.stations.get(a).pos(), geo.stations.get(b).pos()) / 1000.0
}

/// Footfall-weighted centroid of a choice of stations (lon/lat; fine at county scale).
fn centroid(geo: &Geography, c: &Choice<usize>) -> [f64; 2] {
    let (mut sx, mut sy, mut sw) = (0.0, 0.0, 0.0);
    for (k, &s) in c.items.iter().enumerate() {
        let w = c.dist.weight(k).unwrap_or(0.0);
        let p = geo.stations.get(s).pos();
        sx += p[0] * w;
        sy += p[1] * w;
        sw += w;
    }
    if sw > 0.0 {
        [sx / sw, sy / sw]
    } else {
        [0.0, 0.0]
    }
}

/// The most likely item of a choice (ties: the first).
fn heaviest(c: &Choice<usize>) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (k, &s) in c.items.iter().enumerate() {
        let w = c.dist.weight(k).unwrap_or(0.0);
        if w > best.1 {
            best = (s, w);
        }
    }
    best.0
}

/// The forces near exporter `f` for its "nearby forces" kernel, with their distance in km
/// **over the rail network**, from the exporter's main hub (its heaviest) to each importer's
/// main market town: a straight line would put South Wales next to Devon and Cornwall across
/// the Bristol Channel. Forces more than `8 × scale` away as the crow flies (a kernel weight
/// below e⁻⁸ even before the track's detours) and forces the track does not connect are left
/// out.
fn nearby_km(
    geo: &Geography,
    f: usize,
    hubs: &Choice<usize>,
    markets: &[Option<Choice<usize>>],
    scale_km: f64,
) -> Vec<(usize, f64)> {
    let from = heaviest(hubs);
    let c = centroid(geo, hubs);
    markets
        .iter()
        .enumerate()
        .filter(|&(g, m)| g != f && m.is_some())
        .filter_map(|(g, m)| {
            let m = m.as_ref()?;
            if andoyer_lambert_m(c, centroid(geo, m)) / 1000.0 > 8.0 * scale_km {
                return None;
            }
            let to = heaviest(m);
            let r = geo.rail.route_with(&[from, to], false).ok()?;
            Some((g, r.distance_m / 1000.0))
        })
        .collect()
}

impl<'a> World<'a> {
    fn new(geo: &'a Geography, p: &GeneratorParams) -> Result<World<'a>, GenerateError> {
        p.validate().map_err(GenerateError::InvalidParams)?;
        let stations = geo.stations.stations();
        let nf = geo.forces.forces().len();
        let force_of: Vec<Option<usize>> = (0..stations.len())
            .map(|i| {
                if is_crs(&stations[i].code) && geo.rail.in_main_component(i) {
                    geo.station_force(i).map(|h| h.force)
                } else {
                    None
                }
            })
            .collect();
        if force_of.iter().all(Option::is_none) {
            return Err(GenerateError::NoStations);
        }
        let footfall = |i: usize| stations[i].entries_exits_2019_20.unwrap_or(0) as f64;
        let urban = |i: usize| {
            stations[i].london_travelcard == Some(true) || stations[i].pte_urban_area.is_some()
        };
        let named: Vec<usize> = p
            .destinations
            .named
            .iter()
            .filter_map(|c| geo.stations.index_of(c))
            .collect();
        let mut by_force: Vec<Vec<usize>> = vec![Vec::new(); nf];
        for (i, f) in force_of.iter().enumerate() {
            if let Some(f) = *f {
                by_force[f].push(i);
            }
        }
        let o = &p.origins;
        let d = &p.destinations;
        let mut hubs = Vec::with_capacity(nf);
        let mut markets = Vec::with_capacity(nf);
        let mut locals = Vec::with_capacity(nf);
        for list in &by_force {
            // Urban hubs: the force's Travelcard/PTE stations, if they carry at least
            // `urban_footfall_share_min` of its footfall; a few such stations just over a
            // border (Shireoaks, a South Yorkshire PTE station in Nottinghamshire) do not make
            // a force urban, and then its busiest stations are its hubs.
            let total: f64 = list.iter().map(|&i| footfall(i)).sum();
            let mut cands: Vec<usize> = list.iter().copied().filter(|&i| urban(i)).collect();
            let urban_total: f64 = cands.iter().map(|&i| footfall(i)).sum();
            if cands.is_empty() || urban_total < o.urban_footfall_share_min * total {
                cands = list.clone();
                // busiest first; ties by index so the order is total
                cands.sort_by(|&a, &b| footfall(b).total_cmp(&footfall(a)).then(a.cmp(&b)));
                cands.truncate(o.fallback_top_n);
            }
            hubs.push(Choice::new(
                cands
                    .iter()
                    .map(|&i| (i, footfall(i).max(1.0).powf(o.footfall_exponent))),
            ));
            // A market town: moderate footfall (capped), named towns boosted.
            let town_weight = |i: usize| {
                let is_named = named.contains(&i);
                if footfall(i) < d.min_footfall && !is_named {
                    return 0.0;
                }
                let w = footfall(i)
                    .clamp(1.0, d.footfall_cap)
                    .powf(d.footfall_exponent);
                if is_named { w * d.named_boost } else { w }
            };
            // External lines go to non-urban stations (named towns always allowed: Chester is
            // a Merseyrail station); internal lines to any town of the force.
            // A force imports external lines only if such stations carry a real share of its
            // footfall: the few non-PTE halts inside Greater Manchester are not its towns.
            let market = |i: usize| !urban(i) || named.contains(&i);
            let market_total: f64 = list
                .iter()
                .filter(|&&i| market(i))
                .map(|&i| footfall(i))
                .sum();
            markets.push(if market_total >= d.market_footfall_share_min * total {
                Choice::new(
                    list.iter()
                        .map(|&i| (i, if market(i) { town_weight(i) } else { 0.0 })),
                )
            } else {
                None
            });
            locals.push(Choice::new(list.iter().map(|&i| (i, town_weight(i)))));
        }
        let mut exporters = Vec::new();
        let mut exporter_weights = Vec::new();
        for x in &p.exporters {
            let Some(f) = geo.forces.index_of(&x.force) else {
                continue;
            };
            let Some(hub) = &hubs[f] else { continue };
            let importers = if x.importers.is_empty() {
                Choice::new(
                    nearby_km(geo, f, hub, &markets, p.nearby_importer_scale_km)
                        .into_iter()
                        .map(|(g, dkm)| (g, (-dkm / p.nearby_importer_scale_km).exp())),
                )
            } else {
                Choice::new(x.importers.iter().filter_map(|m| {
                    let g = geo.forces.index_of(&m.force)?;
                    (g != f && markets[g].is_some()).then_some((g, m.weight))
                }))
            };
            if let Some(importers) = importers
                && x.weight > 0.0
            {
                exporters.push(ExporterSim {
                    force: f,
                    importers,
                });
                exporter_weights.push(x.weight);
            }
        }
        let exporter_pick =
            WeightedIndex::new(&exporter_weights).map_err(|_| GenerateError::NoExporters)?;
        let interchanges: Vec<usize> = p
            .interchanges
            .stations
            .iter()
            .filter_map(|c| geo.stations.index_of(c))
            .filter(|&i| force_of[i].is_some())
            .collect();
        let interchange_km = interchanges
            .iter()
            .map(|&h| (0..stations.len()).map(|i| km(geo, h, i)).collect())
            .collect();
        let pp = &p.persons;
        Ok(World {
            geo,
            force_of,
            hubs,
            markets,
            locals,
            exporters,
            exporter_pick,
            interchanges,
            interchange_km,
            cal: Calendar::new(p),
            other_child: choice(&p.modes.other_child)?,
            other_adult: choice(&p.modes.other_adult)?,
            no_outcome: choice(&p.encounters.no_outcome_types)?,
            crew_size: Choice::new(
                pp.crew_size_weights
                    .iter()
                    .enumerate()
                    .map(|(i, &w)| (i + 1, w)),
            )
            .ok_or_else(|| GenerateError::InvalidParams("persons.crew_size_weights".into()))?,
            child_age: choice(&pp.child_age_weights)?,
            companion_role: choice(&pp.companion_roles)?,
            flags_child: pp.flags_child.iter().map(|(&f, &v)| (f, v)).collect(),
            flags_adult: pp.flags_adult.iter().map(|(&f, &v)| (f, v)).collect(),
            nrm_decision: choice(&p.outcomes.nrm_decisions)?,
            weapon: choice(&p.seizures.weapon_types)?,
            drug: choice(&p.seizures.drug_types)?,
            concealment: choice(&p.seizures.concealment)?,
            source_eval: choice(&p.grading.source_eval)?,
            intel_assessment: choice(&p.grading.intel_assessment)?,
        })
    }

    /// CRS code of a station.
    fn code(&self, station: usize) -> &'a str {
        self.geo.stations.get(station).code.as_str()
    }

    /// GSS code of a force.
    fn force_code(&self, force: usize) -> &'a str {
        self.geo.forces.get(force).code.as_str()
    }

    /// Force of a usable station (every station the generator picks is usable).
    fn force(&self, station: usize) -> usize {
        self.force_of[station].unwrap_or(0)
    }
}

/// Days as Julian day numbers; index 0 is `first`, a lead-in before the period so that lines
/// active on its first day have started (the activity is stationary from day one).
struct Calendar {
    first: i32,
    period_end: i32,
    /// Cumulative line-start weight up to and including each day.
    start_cum: Vec<f64>,
    /// Internal-line share of lines starting on each day.
    internal_share: Vec<f64>,
    /// Report-rate multiplier of each day (0 before the period) and its prefix sums (len + 1).
    rate: Vec<f64>,
    rate_cum: Vec<f64>,
    /// Share of reports with an encounter, by day.
    encounter: Vec<f64>,
}

impl Calendar {
    /// Needs validated parameters (the dates parse, the year table is not empty).
    fn new(p: &GeneratorParams) -> Calendar {
        let jd = |s: &str| parse_date(s).map_or(0, Date::to_julian_day);
        let (ps, pe) = (jd(&p.period.start), jd(&p.period.end));
        let lead_in_weeks = 4.0 * (p.lines.lifetime_weeks_mean + p.cadence.crew_active_weeks_mean);
        let first = ps - (lead_in_weeks * 7.0).ceil() as i32;
        let len = (pe - first + 1) as usize;
        let year_of = |d: i32| Date::from_julian_day(d).map_or(0, Date::year);

        // days of intensification weeks (a week may run over new year)
        let iw = &p.intensification_weeks;
        let mut boosted = vec![false; len];
        for y in year_of(first) - 1..=year_of(pe) {
            for md in &iw.starts {
                let Ok(s) = Date::from_calendar_date(y, month(md.month), md.day) else {
                    continue;
                };
                let s = s.to_julian_day();
                for d in s..s + iw.days as i32 {
                    if (first..=pe).contains(&d) {
                        boosted[(d - first) as usize] = true;
                    }
                }
            }
        }
        let covid = p
            .covid_2020
            .enabled
            .then(|| jd(&p.covid_2020.start)..=jd(&p.covid_2020.end));

        let mut years: Vec<&YearVolume> = p.years.iter().collect();
        years.sort_by_key(|y| y.year);
        // the nearest year of the table (lines starting before it follow its first year)
        let year_row = |y: i32| years.iter().min_by_key(|v| (v.year - y).abs()).copied();

        let mut start_cum = Vec::with_capacity(len);
        let mut internal_share = Vec::with_capacity(len);
        let mut rate = Vec::with_capacity(len);
        let mut encounter = Vec::with_capacity(len);
        let mut acc = 0.0;
        for (k, &boost) in boosted.iter().enumerate() {
            let d = first + k as i32;
            let row = year_row(year_of(d));
            acc += row.map_or(0.0, |r| r.lines_per_month);
            start_cum.push(acc);
            internal_share.push(row.map_or(0.0, |r| r.internal_share));
            let (mut r, mut e) = (1.0, p.encounters.share);
            if d < ps {
                r = 0.0;
            }
            if boost {
                r *= iw.report_rate_factor;
                e = e.max(iw.encounter_share);
            }
            if covid.as_ref().is_some_and(|c| c.contains(&d)) {
                r *= p.covid_2020.report_rate_factor;
                e = e.max(p.covid_2020.encounter_share);
            }
            rate.push(r);
            encounter.push(e);
        }
        let mut rate_cum = Vec::with_capacity(len + 1);
        rate_cum.push(0.0);
        for r in &rate {
            rate_cum.push(rate_cum[rate_cum.len() - 1] + r);
        }
        Calendar {
            first,
            period_end: pe,
            start_cum,
            internal_share,
            rate,
            rate_cum,
            encounter,
        }
    }

    fn len(&self) -> usize {
        self.rate.len()
    }

    /// A day index drawn with probability proportional to the line-start weight.
    fn line_start(&self, rng: &mut ChaCha8Rng) -> usize {
        let total = self.start_cum.last().copied().unwrap_or(0.0);
        let u = rng.random::<f64>() * total;
        self.start_cum
            .partition_point(|&c| c <= u)
            .min(self.len() - 1)
    }

    /// Sum of report-rate multipliers over days `a..b`.
    fn rate_sum(&self, a: usize, b: usize) -> f64 {
        self.rate_cum[b] - self.rate_cum[a]
    }

    /// A day in `a..b` drawn with probability proportional to the report rate (needs a
    /// positive `rate_sum(a, b)`).
    fn report_day(&self, a: usize, b: usize, rng: &mut ChaCha8Rng) -> usize {
        let u = self.rate_cum[a] + rng.random::<f64>() * self.rate_sum(a, b);
        // first day whose cumulative sum passes u, skipping zero-rate days
        let k = self.rate_cum[a + 1..=b].partition_point(|&c| c <= u);
        (a + k).min(b - 1)
    }
}

// ------------------------------------------------------------------------------------------
// The simulation
// ------------------------------------------------------------------------------------------

/// Invented words for line brands (`SYN-<WORD>`), birds and moorland plants: no real line names.
#[rustfmt::skip]
const BRAND_WORDS: &[&str] = &[
    "KESTREL", "MERLIN", "HOBBY", "OSPREY", "BUZZARD", "HARRIER", "GOSHAWK", "KITE", "PEREGRINE",
    "SPARROWHAWK", "CURLEW", "LAPWING", "PLOVER", "DUNLIN", "SANDERLING", "REDSHANK", "GREENSHANK",
    "GODWIT", "WHIMBREL", "TURNSTONE", "KNOT", "RUFF", "SNIPE", "WOODCOCK", "AVOCET", "STILT",
    "OYSTERCATCHER", "PUFFIN", "GUILLEMOT", "RAZORBILL", "GANNET", "FULMAR", "SHEARWATER", "PETREL",
    "KITTIWAKE", "TERN", "SKUA", "CORMORANT", "SHAG", "HERON", "EGRET", "BITTERN", "CRANE", "STORK",
    "SPOONBILL", "GREBE", "DIVER", "TEAL", "WIGEON", "GADWALL", "PINTAIL", "SHOVELER", "POCHARD",
    "SCAUP", "EIDER", "SCOTER", "GOLDENEYE", "SMEW", "MERGANSER", "GOOSANDER", "SHELDUCK", "BRANT",
    "WHOOPER", "BEWICK", "GROUSE", "PTARMIGAN", "CAPERCAILLIE", "QUAIL", "PARTRIDGE", "PHEASANT",
    "CORNCRAKE", "RAIL", "MOORHEN", "COOT", "NIGHTJAR", "SWIFT", "HOOPOE", "KINGFISHER", "WRYNECK",
    "WOODLARK", "SKYLARK", "MARTIN", "SWALLOW", "PIPIT", "WAGTAIL", "DIPPER", "WREN", "DUNNOCK",
    "ROBIN", "NIGHTINGALE", "REDSTART", "WHINCHAT", "STONECHAT", "WHEATEAR", "OUZEL", "FIELDFARE",
    "REDWING", "THRUSH", "WARBLER", "WHITETHROAT", "BLACKCAP", "CHIFFCHAFF", "GOLDCREST",
    "FIRECREST", "FLYCATCHER", "NUTHATCH", "TREECREEPER", "ORIOLE", "SHRIKE", "JAY", "MAGPIE",
    "CHOUGH", "JACKDAW", "ROOK", "RAVEN", "STARLING", "SPARROW", "CHAFFINCH", "BRAMBLING", "SERIN",
    "GREENFINCH", "GOLDFINCH", "SISKIN", "LINNET", "TWITE", "REDPOLL", "CROSSBILL", "BULLFINCH",
    "HAWFINCH", "BUNTING", "YELLOWHAMMER", "HEATHER", "BRACKEN", "BILBERRY", "SUNDEW", "BOGBEAN",
    "COTTONGRASS", "SPHAGNUM", "TORMENTIL", "ASPHODEL", "CROWBERRY",
];

// ------------------------------------------------------------------------------------------
// Reports as written
// ------------------------------------------------------------------------------------------
//
// The simulation fills these compact structs (codes borrowed from the geography, vocabulary as
// `&'static str`), sorts them, and only then turns them into JSON. Fields are declared in
// alphabetical order, the order of serde_json's (BTreeMap) objects, so writing a struct directly
// gives the same bytes as writing its `Value` (a test holds the two paths together).

/// A UTC instant in seconds from Julian day 0, written as RFC 3339 (`2024-03-06T09:10:00Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Instant(i64);

/// A Julian day, written as `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug)]
struct Day(i32);

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = Date::from_julian_day(self.0).unwrap_or(Date::MIN);
        write!(
            f,
            "{:04}-{:02}-{:02}",
            d.year(),
            u8::from(d.month()),
            d.day()
        )
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sod = self.0.rem_euclid(86_400);
        write!(
            f,
            "{}T{:02}:{:02}:{:02}Z",
            Day(self.0.div_euclid(86_400) as i32),
            sod / 3600,
            sod % 3600 / 60,
            sod % 60
        )
    }
}

/// `syn-line-12`, `syn-p-4`: a synthetic id.
#[derive(Clone, Copy, Debug)]
struct SynId {
    prefix: &'static str,
    n: u32,
}

impl fmt::Display for SynId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.prefix, self.n)
    }
}

/// `syn-<seed>-<index, 7 digits>`.
#[derive(Clone, Copy, Debug)]
struct ReportId {
    seed: u64,
    index: usize,
}

impl fmt::Display for ReportId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "syn-{}-{:07}", self.seed, self.index)
    }
}

/// A line's brand: `SYN-<WORD>`, then `SYN-<WORD>-2`, `-3` … for later lines given the same word.
#[derive(Clone, Copy, Debug)]
struct Brand {
    word: u16,
    uses: u32,
}

impl fmt::Display for Brand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SYN-{}", BRAND_WORDS[usize::from(self.word)])?;
        if self.uses > 1 {
            write!(f, "-{}", self.uses)?;
        }
        Ok(())
    }
}

/// Serialises a `Display` value as a JSON string, without an intermediate `String` when writing.
macro_rules! serialize_as_string {
    ($($t:ty),+) => {$(
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    )+};
}
serialize_as_string!(Instant, Day, SynId, ReportId, Brand);

/// A set of vulnerability flags (bit i: `Flag::VARIANTS[i]`), written as an array in that order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Flags(u16);

impl Flags {
    fn insert(&mut self, f: Flag) {
        if let Some(i) = Flag::VARIANTS.iter().position(|&g| g == f) {
            self.0 |= 1 << i;
        }
    }
    fn is_empty(&self) -> bool {
        self.0 == 0
    }
}

impl Serialize for Flags {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.0.count_ones() as usize))?;
        for (i, f) in Flag::VARIANTS.iter().enumerate() {
            if self.0 & (1 << i) != 0 {
                seq.serialize_element(f.as_str())?;
            }
        }
        seq.end()
    }
}

#[derive(Serialize)]
#[serde(untagged)]
enum PlaceOut<'a> {
    Station { station: &'a str },
    Point { lat: f64, lon: f64 },
}

#[derive(Serialize)]
struct EncounterOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<Instant>,
    #[serde(skip_serializing_if = "Option::is_none")]
    joint_with_force: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    station: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct JourneyOut<'a> {
    date: Day,
    #[serde(skip_serializing_if = "Option::is_none")]
    departed_at: Option<Instant>,
    destination: PlaceOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encounter: Option<EncounterOut<'a>>,
    mode: &'static str,
    origin: PlaceOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    via: Option<[&'a str; 1]>,
}

#[derive(Serialize)]
struct LineOut<'a> {
    exporting_force: &'a str,
    line_id: SynId,
    line_type: &'static str,
    name: Brand,
}

#[derive(Serialize)]
struct PersonOut {
    age_band: &'static str,
    nrm_referred: bool,
    person_id: SynId,
    roles: [&'static str; 1],
    safeguarding_referred: bool,
    sex: &'static str,
    suspect_status: &'static str,
    victim_status: &'static str,
    #[serde(skip_serializing_if = "Flags::is_empty")]
    vulnerability_flags: Flags,
}

#[derive(Serialize)]
struct DrugOut {
    class: &'static str,
    concealment: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    wraps: u64,
}

#[derive(Serialize, Default)]
struct SeizuresOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    cash_gbp: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    drugs: Vec<DrugOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phones: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    weapons: Vec<&'static str>,
}

#[derive(Serialize)]
struct GradingOut<'a> {
    handling: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    handling_conditions: Option<&'a str>,
    intel_assessment: &'static str,
    source_eval: &'static str,
}

/// One report; `report_id` is set once the reports are in order.
#[derive(Serialize)]
struct ReportOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    grading: Option<GradingOut<'a>>,
    journey: JourneyOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<LineOut<'a>>,
    persons: Vec<PersonOut>,
    report_id: ReportId,
    reported_at: Instant,
    schema_version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    seizures: Option<SeizuresOut>,
    source_force: &'a str,
}

struct Line {
    /// Assigned when the line is first reported.
    id: Option<u32>,
    brand: Option<Brand>,
    exporter_force: usize,
    internal: bool,
    hub: usize,
    market: usize,
    via: Option<usize>,
    /// Crow-flies km hub→via (or hub→market) and via→market (0 without a via).
    km_hub_via: f64,
    km_via_market: f64,
    start: usize,
    end: usize,
}

#[derive(Clone)]
struct Person {
    id: u32,
    /// reported before (on another crew): keeps its id
    known: bool,
    age: u8,
    sex: &'static str,
    role: Role,
    flags: Flags,
    nrm_referred_before: bool,
}

impl Person {
    fn child(&self) -> bool {
        self.age < 18
    }
}

struct Sim<'a> {
    w: &'a World<'a>,
    p: &'a GeneratorParams,
    rng: ChaCha8Rng,
    out: Vec<ReportOut<'a>>,
    next_line: u32,
    next_person: u32,
    brand_uses: Vec<u32>,
    /// runners already reported, with the day of their last report: people who are moved to
    /// other lines (and other forces) later
    reported: Vec<(Person, usize)>,
}

/// A recording force's odds multiplier for recognising and referring the people it meets:
/// `exp(sigma * z)` with `z` a standard normal drawn from a hash of the force code (FNV-1a,
/// then Box-Muller), so the same force has the same practice in every run and seed; BTP's is
/// `exp(btp_log_odds)`.
fn recording_odds(force: &str, o: &Outcomes) -> f64 {
    if force == ForceCode::BTP {
        return o.btp_log_odds.exp();
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in force.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // two uniforms in (0, 1) from the two halves of a further mix
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    let u1 = ((h >> 32) as f64 + 0.5) / 4_294_967_296.0;
    let u2 = ((h & 0xffff_ffff) as f64 + 0.5) / 4_294_967_296.0;
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    (o.force_log_odds_sigma * z).exp()
}

fn exp1(rng: &mut ChaCha8Rng) -> f64 {
    rng.sample::<f64, _>(Exp1)
}

fn poisson(rng: &mut ChaCha8Rng, mean: f64) -> u64 {
    if mean <= 0.0 || !mean.is_finite() {
        return 0;
    }
    // rand_distr caps lambda at ~1.8e19; county-lines means are tiny.
    Poisson::new(mean.min(1e9)).map_or(0, |d| d.sample(rng) as u64)
}

fn age_band(age: u8) -> &'static str {
    use crate::vocab::AgeBand as B;
    match age {
        0..=9 => B::Under10,
        10..=12 => B::A10to12,
        13..=14 => B::A13to14,
        15..=17 => B::A15to17,
        18..=24 => B::A18to24,
        25..=34 => B::A25to34,
        _ => B::A35Plus,
    }
    .as_str()
}

/// One stop of a journey, for encounters.
#[derive(Clone, Copy)]
enum Stop {
    Origin,
    Via,
    Destination,
}

/// What happened to the people of a report.
#[derive(Default)]
struct Tally {
    arrests: u64,
    stopped: bool,
    safeguarded: bool,
}

impl<'a> Sim<'a> {
    /// Creates one line and simulates its crews.
    fn line(&mut self, n: usize) {
        let w = self.w;
        let p = self.p;
        let cal = &w.cal;
        let start = cal.line_start(&mut self.rng);
        let mut internal = self.rng.random_bool(cal.internal_share[start]);
        let mut x = &w.exporters[w.exporter_pick.sample(&mut self.rng)];
        let Some(hubs) = &w.hubs[x.force] else { return };
        let mut hub = hubs.pick(&mut self.rng);
        let mut market = None;
        if internal {
            // A force too small for an internal line of that length cannot run one: another
            // exporter is drawn (up to 20 times), so that internal lines keep their share of
            // new lines (turning them external instead pulled the share below its parameter).
            let min_km = p.destinations.internal_min_distance_km;
            'draw: for attempt in 0..20 {
                if attempt > 0 {
                    x = &w.exporters[w.exporter_pick.sample(&mut self.rng)];
                    let Some(hubs) = &w.hubs[x.force] else {
                        continue;
                    };
                    hub = hubs.pick(&mut self.rng);
                }
                let Some(locals) = &w.locals[x.force] else {
                    continue;
                };
                for _ in 0..20 {
                    let m = locals.pick(&mut self.rng);
                    if m != hub && km(w.geo, hub, m) >= min_km {
                        market = Some(m);
                        break 'draw;
                    }
                }
            }
            internal = market.is_some();
        }
        if market.is_none() {
            let g = x.importers.pick(&mut self.rng);
            market = w.markets[g].as_ref().map(|m| m.pick(&mut self.rng));
        }
        let Some(market) = market else { return };
        let direct = km(w.geo, hub, market);
        let mut via = None;
        if self.rng.random_bool(p.interchanges.via_share) {
            let ic = &p.interchanges;
            let between: Vec<usize> = (0..w.interchanges.len())
                .filter(|&k| {
                    let (a, b) = (w.interchange_km[k][hub], w.interchange_km[k][market]);
                    let h = w.interchanges[k];
                    h != hub
                        && h != market
                        && a >= ic.min_leg_km
                        && b >= ic.min_leg_km
                        && a + b <= (1.0 + ic.max_detour) * direct
                })
                .map(|k| w.interchanges[k])
                .collect();
            if !between.is_empty() {
                via = Some(between[self.rng.random_range(0..between.len())]);
            }
        }
        let (km_hub_via, km_via_market) = match via {
            Some(v) => (km(w.geo, hub, v), km(w.geo, v, market)),
            None => (direct, 0.0),
        };
        let life = (exp1(&mut self.rng) * p.lines.lifetime_weeks_mean * 7.0).max(14.0) as usize;
        let mut line = Line {
            id: None,
            brand: None,
            exporter_force: x.force,
            internal,
            hub,
            market,
            via,
            km_hub_via,
            km_via_market,
            start,
            end: start + life,
        };
        let crews = 1 + poisson(&mut self.rng, p.lines.crews_per_line_mean - 1.0);
        for _ in 0..crews {
            if self.out.len() >= n {
                break;
            }
            self.crew(&mut line);
        }
    }

    /// One crew working a line: its reported journeys.
    fn crew(&mut self, line: &mut Line) {
        let w = self.w;
        let p = self.p;
        // crews are spread over the line's whole life, which may run past the period's end
        let a = self.rng.random_range(line.start..line.end);
        let active = (exp1(&mut self.rng) * p.cadence.crew_active_weeks_mean * 7.0).max(7.0);
        let b = (a + active as usize).min(line.end).min(w.cal.len());
        let size = w.crew_size.pick(&mut self.rng);
        let mut crew: Vec<Person> = Vec::with_capacity(size);
        for k in 0..size {
            let role = if k == 0 {
                Role::Runner
            } else {
                w.companion_role.pick(&mut self.rng)
            };
            let again = if k == 0 { self.rerecruit(a) } else { None };
            crew.push(again.unwrap_or_else(|| self.person(role)));
        }
        let lead_child = crew[0].child();
        let usual_mode = self.mode(lead_child);
        if a >= b {
            return; // the crew starts after the period
        }
        let mean =
            p.cadence.journeys_per_week * p.cadence.reported_share / 7.0 * w.cal.rate_sum(a, b);
        let k = poisson(&mut self.rng, mean);
        if k == 0 {
            return;
        }
        let mut days: Vec<usize> = (0..k)
            .map(|_| w.cal.report_day(a, b, &mut self.rng))
            .collect();
        days.sort_unstable();
        // ids are given out when a line or crew is first reported, so they count reported ones
        if line.id.is_none() {
            line.id = Some(self.next_line);
            self.next_line += 1;
            let word = self.rng.random_range(0..BRAND_WORDS.len());
            self.brand_uses[word] += 1;
            line.brand = Some(Brand {
                word: word as u16,
                uses: self.brand_uses[word],
            });
        }
        for person in crew.iter_mut().filter(|p| !p.known) {
            person.id = self.next_person;
            self.next_person += 1;
        }
        let last = days.last().copied().unwrap_or(a);
        for day in days {
            let mode = if self.rng.random_bool(p.modes.persistence) {
                usual_mode
            } else {
                self.mode(lead_child)
            };
            let report = self.report(line, &mut crew, day, mode);
            self.out.push(report);
        }
        let mut lead = crew.swap_remove(0);
        lead.known = true;
        self.reported.push((lead, last));
    }

    /// Someone already reported, taken on by a new crew starting on day `start` (so moved to
    /// another line, often in other forces), with the share `rerecruited_share` when the one
    /// drawn was last reported within the window before `start`; an adult may come back as a
    /// line holder (`escalation_share`). Ages go up with the years between.
    fn rerecruit(&mut self, start: usize) -> Option<Person> {
        let pp = &self.p.persons;
        if self.reported.is_empty() || !self.rng.random_bool(pp.rerecruited_share) {
            return None;
        }
        let k = self.rng.random_range(0..self.reported.len());
        let (p, last) = &self.reported[k];
        if *last > start || (start - last) as f64 > pp.rerecruit_window_days {
            return None;
        }
        let mut p = p.clone();
        p.age = p.age.saturating_add(((start - last) / 365) as u8);
        p.role = if p.age >= 18 && self.rng.random_bool(pp.escalation_share) {
            Role::LineHolder
        } else {
            Role::Runner
        };
        Some(p)
    }

    fn person(&mut self, role: Role) -> Person {
        let w = self.w;
        let pp = &self.p.persons;
        let age = match role {
            Role::Runner if self.rng.random_bool(pp.runner_under_18_share) => {
                w.child_age.pick(&mut self.rng)
            }
            Role::Runner | Role::Associate | Role::Customer | Role::CuckooedOccupant => {
                18 + (exp1(&mut self.rng) * pp.adult_runner_age_excess_mean).min(60.0) as u8
            }
            Role::LineHolder | Role::Controller | Role::Facilitator => {
                18 + (exp1(&mut self.rng) * pp.senior_age_excess_mean).min(60.0) as u8
            }
        };
        let u: f64 = self.rng.random();
        let sex = if u < pp.male_share {
            "male"
        } else if u < pp.male_share + pp.unknown_sex_share {
            "unknown"
        } else {
            "female"
        };
        let table = if age < 18 {
            &w.flags_child
        } else {
            &w.flags_adult
        };
        let mut flags = Flags::default();
        for &(f, pr) in table {
            if self.rng.random_bool(pr) {
                flags.insert(f);
            }
        }
        Person {
            id: 0,
            known: false,
            age,
            sex,
            role,
            flags,
            nrm_referred_before: false,
        }
    }

    fn mode(&mut self, child: bool) -> Mode {
        let m = &self.p.modes;
        let rail = if child {
            m.rail_share_child
        } else {
            m.rail_share_adult
        };
        if self.rng.random_bool(rail) {
            Mode::Rail
        } else if child {
            self.w.other_child.pick(&mut self.rng)
        } else {
            self.w.other_adult.pick(&mut self.rng)
        }
    }

    /// A station, or (sometimes) a point within the point radius of it.
    fn place(&mut self, station: usize, rail: bool) -> PlaceOut<'a> {
        let pl = &self.p.places;
        let share = if rail {
            pl.point_share_rail
        } else {
            pl.point_share_other
        };
        if !self.rng.random_bool(share) {
            return PlaceOut::Station {
                station: self.w.code(station),
            };
        }
        let st = self.w.geo.stations.get(station);
        // uniform in the disc, on the local tangent plane of the ellipsoid
        let r = pl.point_radius_m * self.rng.random::<f64>().sqrt();
        let theta = std::f64::consts::TAU * self.rng.random::<f64>();
        let lat = st.lat.to_radians();
        let (mr, nr) = radii(lat);
        let dlat = (r * theta.cos() / mr).to_degrees();
        let dlon = (r * theta.sin() / (nr * lat.cos())).to_degrees();
        let round = |v: f64| (v * 1e5).round() / 1e5;
        PlaceOut::Point {
            lat: round(st.lat + dlat).clamp(49.8, 60.9),
            lon: round(st.lon + dlon).clamp(-8.7, 1.9),
        }
    }

    fn report(
        &mut self,
        line: &Line,
        crew: &mut [Person],
        day: usize,
        mode: Mode,
    ) -> ReportOut<'a> {
        let w = self.w;
        let p = self.p;
        let cal = &w.cal;
        let jd = cal.first + day as i32;
        let midnight = i64::from(jd) * 86_400;
        let rail = mode == Mode::Rail;
        let returning = self.rng.random_bool(p.lines.return_journey_share);
        let (from, to) = if returning {
            (line.market, line.hub)
        } else {
            (line.hub, line.market)
        };
        let (km_first, km_second) = if returning {
            (line.km_via_market, line.km_hub_via)
        } else {
            (line.km_hub_via, line.km_via_market)
        };
        let via = if rail { line.via } else { None };
        let total_km = km_first + km_second;

        // times in whole minutes, the journey within its day
        let t = &p.timing;
        let speed = if rail {
            t.rail_speed_kmh
        } else {
            t.road_speed_kmh
        };
        let earliest = i64::from(t.earliest_departure_hour) * 3600;
        let last_minute = 86_340;
        let travel = (((total_km * t.route_factor / speed * 60.0) as i64 + 10) * 60)
            .min(last_minute - earliest - 60);
        let slack_minutes = (last_minute - earliest - travel) / 60;
        let dep = earliest + self.rng.random_range(0..slack_minutes.max(1)) * 60;
        let arr = dep + travel;

        let origin = self.place(from, rail);
        let destination = self.place(to, rail);
        let departed_at = self
            .rng
            .random_bool(t.departed_at_share)
            .then_some(Instant(midnight + dep));

        // encounter: where, and which force records it (its practice shapes the outcomes)
        let encounter = self.rng.random_bool(cal.encounter[day]);
        let mut latest = arr;
        let (source_force, place) = if encounter {
            let e = &p.encounters;
            let wv = if via.is_some() { e.at_via } else { 0.0 };
            let u = self.rng.random::<f64>() * (e.at_origin + wv + e.at_destination);
            let stop = if u < e.at_origin {
                Stop::Origin
            } else if u < e.at_origin + wv {
                Stop::Via
            } else {
                Stop::Destination
            };
            let (station, at) = match stop {
                Stop::Origin => (from, dep - self.rng.random_range(0..=15) * 60),
                Stop::Via => (
                    via.unwrap_or(from),
                    dep + (travel as f64 * km_first / total_km.max(1e-9)) as i64 / 60 * 60,
                ),
                Stop::Destination => (to, arr + self.rng.random_range(0..=10) * 60),
            };
            let at = at.clamp(0, last_minute);
            latest = latest.max(at);
            let territorial = w.force_code(w.force(station));
            let joint = self.rng.random_bool(e.joint_share);
            let (source, joint_with_force, station) = if !rail {
                // a road stop near that end of the journey, by its territorial force
                (territorial, None, None)
            } else if self.rng.random_bool(e.btp_share_rail) {
                (
                    ForceCode::BTP,
                    joint.then_some(territorial),
                    Some(w.code(station)),
                )
            } else {
                (
                    territorial,
                    joint.then_some(ForceCode::BTP),
                    Some(w.code(station)),
                )
            };
            let at = self
                .rng
                .random_bool(t.encounter_at_share)
                .then_some(Instant(midnight + at));
            (source, Some((joint_with_force, station, at)))
        } else {
            let is = &p.encounters.intelligence_source;
            let btp = if rail { is.btp_if_rail } else { 0.0 };
            let u = self.rng.random::<f64>() * (is.importer + is.exporter + btp);
            let source = if u < is.importer {
                w.force_code(w.force(line.market))
            } else if u < is.importer + is.exporter {
                w.force_code(w.force(line.hub))
            } else {
                ForceCode::BTP
            };
            (source, None)
        };
        // outcomes, by the recording force's practice
        let odds = recording_odds(source_force, &p.outcomes);
        let mut tally = Tally::default();
        let persons: Vec<PersonOut> = crew
            .iter_mut()
            .map(|person| self.person_in_report(person, encounter, odds, &mut tally))
            .collect();
        let encounter = match place {
            Some((joint_with_force, station, at)) => {
                let kind = if tally.arrests > 0 {
                    "arrest"
                } else if tally.stopped {
                    "stop_search"
                } else if tally.safeguarded {
                    "safeguarding"
                } else {
                    w.no_outcome.pick(&mut self.rng).as_str()
                };
                Some(EncounterOut {
                    at,
                    joint_with_force,
                    station,
                    kind,
                })
            }
            None => None,
        };

        // reported after the journey (and encounter), within a few days, not after the period
        let delay = (exp1(&mut self.rng) * t.report_delay_hours_mean * 3600.0)
            .min(f64::from(t.report_delay_days_max) * 86_400.0) as i64;
        let cap = i64::from(cal.period_end) * 86_400 + 86_399;
        let reported_at = Instant((midnight + latest + delay / 60 * 60).min(cap));

        let line_out = self
            .rng
            .random_bool(p.lines.attributed_share)
            .then(|| LineOut {
                exporting_force: w.force_code(line.exporter_force),
                line_id: SynId {
                    prefix: "syn-line-",
                    n: line.id.unwrap_or(0),
                },
                line_type: if line.internal {
                    "internal"
                } else {
                    "external"
                },
                name: line.brand.unwrap_or(Brand { word: 0, uses: 1 }),
            });
        let seizures = if tally.arrests > 0 {
            self.seizures(tally.arrests, rail, returning)
        } else {
            None
        };
        let grading = self
            .rng
            .random_bool(p.grading.share)
            .then(|| self.grading());
        ReportOut {
            grading,
            journey: JourneyOut {
                date: Day(jd),
                departed_at,
                destination,
                encounter,
                mode: mode.as_str(),
                origin,
                via: via.map(|v| [w.code(v)]),
            },
            line: line_out,
            persons,
            report_id: ReportId { seed: 0, index: 0 },
            reported_at,
            schema_version: "1",
            seizures,
            source_force,
        }
    }

    /// A person's entry in one report; adds what happened to them to `tally`.
    fn person_in_report(
        &mut self,
        person: &mut Person,
        encounter: bool,
        odds: f64,
        tally: &mut Tally,
    ) -> PersonOut {
        let o = &self.p.outcomes;
        // the recording force's practice: its odds of recognising and referring
        let by_force = |p: f64| p * odds / (1.0 - p + p * odds);
        let child = person.child();
        let vulnerable = !person.flags.is_empty();
        let (mut arrested, mut charged, mut stopped, mut nfa) = (false, false, false, false);
        let (mut nrm, mut safeguarded) = (false, false);
        let mut victim = VictimStatus::None;
        if person.nrm_referred_before {
            victim = self.w.nrm_decision.pick(&mut self.rng);
        }
        if encounter {
            arrested = self.rng.random_bool(if child {
                o.arrest_child
            } else {
                o.arrest_adult
            });
            if arrested {
                charged = self.rng.random_bool(if child {
                    o.charged_child
                } else {
                    o.charged_adult
                });
                nrm = self.rng.random_bool(by_force(if child {
                    o.nrm_per_arrest_child
                } else {
                    o.nrm_per_arrest_adult
                }));
            } else if self.rng.random_bool(o.stopped_share_not_arrested) {
                stopped = true;
                nfa = self.rng.random_bool(o.nfa_share_stopped);
            }
            safeguarded = if child {
                self.rng.random_bool(by_force(o.safeguarding_child))
            } else {
                vulnerable
                    && self
                        .rng
                        .random_bool(by_force(o.safeguarding_adult_vulnerable))
            };
            if victim == VictimStatus::None {
                let pv = if child {
                    o.potential_victim_child
                } else if vulnerable {
                    o.potential_victim_adult_vulnerable
                } else {
                    0.0
                };
                if nrm || self.rng.random_bool(by_force(pv)) {
                    victim = VictimStatus::PotentialVictim;
                }
            }
        } else if victim == VictimStatus::None
            && child
            && self
                .rng
                .random_bool(by_force(o.intelligence_potential_victim_child))
        {
            victim = VictimStatus::PotentialVictim;
        }
        person.nrm_referred_before |= nrm;
        tally.arrests += u64::from(arrested);
        tally.stopped |= stopped;
        tally.safeguarded |= safeguarded;
        let suspect = match (arrested, charged, stopped, nfa) {
            (true, true, _, _) => "charged",
            (true, false, _, _) => "arrested",
            (false, _, true, true) => "nfa",
            (false, _, true, false) => "stopped",
            _ => "none",
        };
        PersonOut {
            age_band: age_band(person.age),
            nrm_referred: nrm,
            person_id: SynId {
                prefix: "syn-p-",
                n: person.id,
            },
            roles: [person.role.as_str()],
            safeguarding_referred: safeguarded,
            sex: person.sex,
            suspect_status: suspect,
            victim_status: victim.as_str(),
            vulnerability_flags: person.flags,
        }
    }

    fn seizures(&mut self, arrests: u64, rail: bool, returning: bool) -> Option<SeizuresOut> {
        let w = self.w;
        let z = &self.p.seizures;
        let mut out = SeizuresOut::default();
        if self.rng.random_bool(z.drugs_share) {
            let first = w.drug.pick(&mut self.rng);
            let mut types = vec![first];
            if self.rng.random_bool(z.second_drug_share) {
                let second = w.drug.pick(&mut self.rng);
                if second != first {
                    types.push(second);
                }
            }
            for d in types {
                let normal: f64 = self.rng.sample(StandardNormal);
                let wraps = (z.wraps_median * (z.wraps_sigma * normal).exp())
                    .round()
                    .clamp(1.0, 100_000.0) as u64;
                let mut c = w.concealment.pick(&mut self.rng);
                if rail && c == Concealment::Vehicle {
                    c = Concealment::Bag;
                }
                out.drugs.push(DrugOut {
                    class: d.class().as_str(),
                    concealment: c.as_str(),
                    kind: d.as_str(),
                    wraps,
                });
            }
        }
        let cash_share = if returning {
            z.courier_cash_share_return
        } else {
            z.courier_cash_share_outbound
        };
        if self.rng.random_bool(cash_share) {
            let gbp = z.cash_min_gbp + self.rng.random::<f64>() * (z.cash_max_gbp - z.cash_min_gbp);
            out.cash_gbp = Some((gbp / 10.0).round() as u64 * 10);
        }
        let phones = poisson(&mut self.rng, z.phones_per_arrest * arrests as f64).min(1000);
        out.phones = (phones > 0).then_some(phones);
        let weapons = poisson(&mut self.rng, z.weapons_per_arrest * arrests as f64).min(50);
        out.weapons = (0..weapons)
            .map(|_| w.weapon.pick(&mut self.rng).as_str())
            .collect();
        let empty = out.drugs.is_empty()
            && out.cash_gbp.is_none()
            && out.phones.is_none()
            && out.weapons.is_empty();
        (!empty).then_some(out)
    }

    fn grading(&mut self) -> GradingOut<'a> {
        let w = self.w;
        let g = &self.p.grading;
        let source_eval = w.source_eval.pick(&mut self.rng).as_str();
        let intel_assessment = w.intel_assessment.pick(&mut self.rng).as_str();
        let (handling, handling_conditions) = if self.rng.random_bool(g.handling_c_share) {
            let cond = self.rng.random_bool(g.conditions_share);
            ("C", cond.then_some(g.conditions_text.as_str()))
        } else {
            ("P", None)
        };
        GradingOut {
            handling,
            handling_conditions,
            intel_assessment,
            source_eval,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DataPaths, load_geography};
    use crate::geography::GeographyOptions;
    use crate::geography::geodesy::geodesic_m;
    use std::collections::{BTreeSet, HashMap};
    use std::path::Path;
    use std::sync::OnceLock;
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    /// The real GB geography. Missing data is a loud failure.
    fn gb() -> &'static Geography {
        static GEO: OnceLock<Geography> = OnceLock::new();
        GEO.get_or_init(|| {
            let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data/gb"));
            assert!(
                dir.join("forces.geojson").is_file(),
                "GB reference data not found at {}: these tests need the project's \
                 data/gb",
                dir.display()
            );
            let paths = DataPaths::resolve(Some(dir), None, None, None).expect("data paths");
            load_geography(&paths, GeographyOptions::default())
                .expect("GB data loads")
                .0
        })
    }

    fn s(v: &str) -> Value {
        Value::String(v.to_string())
    }

    const SEED: u64 = 7;
    const N: usize = 5_000;

    /// 5,000 reports from the built-in parameters, seed 7.
    fn sample() -> &'static [Value] {
        static SAMPLE: OnceLock<Vec<Value>> = OnceLock::new();
        SAMPLE.get_or_init(|| generate(gb(), &GeneratorParams::builtin(), N, SEED))
    }

    fn ndjson(reports: &[Value]) -> Vec<u8> {
        let mut out = Vec::new();
        write_ndjson(reports, &mut out).unwrap();
        out
    }

    fn station(code: &str) -> usize {
        gb().stations
            .index_of(&StationCode::parse(code).unwrap())
            .unwrap_or_else(|| panic!("station {code} not in the geography"))
    }

    fn force_code_of(code: &str) -> String {
        let f = gb()
            .station_force(station(code))
            .expect("station in a force");
        gb().forces.get(f.force).code.as_str().to_string()
    }

    fn date_of(s: &str) -> Date {
        parse_date(s).unwrap_or_else(|| panic!("bad date {s}"))
    }

    fn time_of(s: &str) -> OffsetDateTime {
        OffsetDateTime::parse(s, &Rfc3339).unwrap_or_else(|e| panic!("bad date-time {s}: {e}"))
    }

    fn under_18(band: &str) -> bool {
        matches!(band, "under_10" | "10-12" | "13-14" | "15-17")
    }

    /// Band midpoints, years (35_plus taken as 40).
    fn band_mid(band: &str) -> f64 {
        match band {
            "13-14" => 14.0,
            "15-17" => 16.5,
            "18-24" => 21.5,
            "25-34" => 30.0,
            "35_plus" => 40.0,
            other => panic!("unexpected age band {other}"),
        }
    }

    fn year(r: &Value) -> i32 {
        date_of(r["journey"]["date"].as_str().unwrap()).year()
    }

    // --------------------------------------------------------------------------------------
    // A validator for the subset of JSON Schema 2020-12 that the v1 schema uses. Any keyword or
    // pattern it does not know is itself an error, so a schema change cannot slip past it.
    // --------------------------------------------------------------------------------------

    fn schema() -> &'static Value {
        static S: OnceLock<Value> = OnceLock::new();
        S.get_or_init(|| {
            serde_json::from_str(include_str!("../../data/journey-report.schema.json")).unwrap()
        })
    }

    fn pattern_matches(pattern: &str, s: &str) -> bool {
        let b = s.as_bytes();
        match pattern {
            "^[A-Za-z0-9][A-Za-z0-9_.:-]*$" => {
                !b.is_empty()
                    && b[0].is_ascii_alphanumeric()
                    && b.iter()
                        .all(|c| c.is_ascii_alphanumeric() || b"_.:-".contains(c))
            }
            "^[A-Za-z]{3}$" => b.len() == 3 && b.iter().all(u8::is_ascii_alphabetic),
            "^[EWSN][0-9]{8}$" => {
                b.len() == 9 && b"EWSN".contains(&b[0]) && b[1..].iter().all(u8::is_ascii_digit)
            }
            other => panic!("the test validator does not know the pattern {other}"),
        }
    }

    fn check(schema: &Value, v: &Value, path: &str, errs: &mut Vec<String>) {
        let obj = schema.as_object().expect("schema node is an object");
        for (key, kw) in obj {
            let mut err = |m: String| errs.push(format!("{path}: {m}"));
            match key.as_str() {
                "$schema" | "$id" | "title" | "description" | "default" | "$defs" => {}
                "$ref" => {
                    let name = kw.as_str().unwrap().strip_prefix("#/$defs/").unwrap();
                    check(&schema_root()["$defs"][name], v, path, errs);
                }
                "type" => {
                    let ok = match kw.as_str().unwrap() {
                        "object" => v.is_object(),
                        "array" => v.is_array(),
                        "string" => v.is_string(),
                        "integer" => v.is_i64() || v.is_u64(),
                        "number" => v.is_number(),
                        "boolean" => v.is_boolean(),
                        t => panic!("unknown type {t}"),
                    };
                    if !ok {
                        err(format!("not of type {kw}: {v}"));
                    }
                }
                "enum" => {
                    if !kw.as_array().unwrap().contains(v) {
                        err(format!("{v} not in {kw}"));
                    }
                }
                "const" => {
                    if kw != v {
                        err(format!("{v} is not {kw}"));
                    }
                }
                "required" => {
                    for r in kw.as_array().unwrap() {
                        if v.get(r.as_str().unwrap()).is_none() {
                            err(format!("missing {r}"));
                        }
                    }
                }
                "properties" => {
                    if let Some(o) = v.as_object() {
                        for (k, sub) in kw.as_object().unwrap() {
                            if let Some(x) = o.get(k) {
                                check(sub, x, &format!("{path}.{k}"), errs);
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    assert_eq!(kw, &Value::Bool(false), "only `false` is supported");
                    if let Some(o) = v.as_object() {
                        let props = obj["properties"].as_object().unwrap();
                        for k in o.keys() {
                            if !props.contains_key(k) {
                                err(format!("unknown field {k}"));
                            }
                        }
                    }
                }
                "items" => {
                    if let Some(a) = v.as_array() {
                        for (i, x) in a.iter().enumerate() {
                            check(kw, x, &format!("{path}[{i}]"), errs);
                        }
                    }
                }
                "maxItems" => {
                    if v.as_array()
                        .is_some_and(|a| a.len() as u64 > kw.as_u64().unwrap())
                    {
                        err("too many items".into());
                    }
                }
                "uniqueItems" => {
                    if let Some(a) = v.as_array() {
                        let set: BTreeSet<String> = a.iter().map(Value::to_string).collect();
                        if set.len() != a.len() {
                            err("items not unique".into());
                        }
                    }
                }
                "minLength" | "maxLength" => {
                    if let Some(s) = v.as_str() {
                        let n = s.chars().count() as u64;
                        let lim = kw.as_u64().unwrap();
                        if (key == "minLength" && n < lim) || (key == "maxLength" && n > lim) {
                            err(format!("length {n} breaks {key} {lim}"));
                        }
                    }
                }
                "minimum" | "maximum" => {
                    if let Some(x) = v.as_f64() {
                        let lim = kw.as_f64().unwrap();
                        if (key == "minimum" && x < lim) || (key == "maximum" && x > lim) {
                            err(format!("{x} breaks {key} {lim}"));
                        }
                    }
                }
                "pattern" => {
                    if let Some(s) = v.as_str()
                        && !pattern_matches(kw.as_str().unwrap(), s)
                    {
                        err(format!("\"{s}\" does not match {kw}"));
                    }
                }
                "format" => {
                    if let Some(s) = v.as_str() {
                        let ok = match kw.as_str().unwrap() {
                            "date" => s.len() == 10 && parse_date(s).is_some(),
                            "date-time" => OffsetDateTime::parse(s, &Rfc3339).is_ok(),
                            f => panic!("the test validator does not know the format {f}"),
                        };
                        if !ok {
                            err(format!("\"{s}\" is not a {kw}"));
                        }
                    }
                }
                "oneOf" | "anyOf" => {
                    let passing = kw
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|sub| {
                            let mut e = Vec::new();
                            check(sub, v, path, &mut e);
                            e.is_empty()
                        })
                        .count();
                    if (key == "oneOf" && passing != 1) || (key == "anyOf" && passing == 0) {
                        err(format!("{passing} branches of {key} match {v}"));
                    }
                }
                other => panic!("the test validator does not know the keyword {other}"),
            }
        }
    }

    fn schema_root() -> &'static Value {
        schema()
    }

    fn schema_errors(report: &Value) -> Vec<String> {
        let mut errs = Vec::new();
        check(schema(), report, "$", &mut errs);
        errs
    }

    #[test]
    fn the_schema_validator_rejects_what_the_schema_forbids() {
        let good = sample()[0].clone();
        assert!(
            schema_errors(&good).is_empty(),
            "{:?}",
            schema_errors(&good)
        );
        let mut bad = good.clone();
        bad["ethnicity"] = s("x");
        assert!(!schema_errors(&bad).is_empty());
        let mut bad = good.clone();
        bad["journey"]["origin"] = serde_json::json!({"station": "EUST"});
        assert!(!schema_errors(&bad).is_empty());
        let mut bad = good.clone();
        bad["journey"]["origin"] = serde_json::json!({"station": "EUS", "lon": 0.0, "lat": 51.0});
        assert!(!schema_errors(&bad).is_empty());
        let mut bad = good;
        bad["reported_at"] = s("2024-13-01T00:00:00Z");
        assert!(!schema_errors(&bad).is_empty());
    }

    // --------------------------------------------------------------------------------------
    // Parameters
    // --------------------------------------------------------------------------------------

    #[test]
    fn builtin_parameters_parse_and_name_only_places_in_the_gb_data() {
        let p = GeneratorParams::builtin();
        p.check_geography(gb()).unwrap();
        let met = &p.exporters[0];
        assert_eq!(met.force.as_str(), "E23000001");
        // the NCA 2019 shares and the 23 further exporting forces
        assert_eq!(met.weight, 0.15);
        assert_eq!(p.exporters.len(), 3 + 23);
        let sum: f64 = p.exporters.iter().map(|x| x.weight).sum();
        assert!((sum - 1.0).abs() < 1e-9, "exporter weights sum to {sum}");
        // the Anglia counts for Norfolk and Northamptonshire
        assert_eq!(met.importers[0].weight, 416.0);
        assert!(met.importers.iter().any(|m| m.weight == 47.0));
        // round trip: what we serialise parses back to the same document
        let again = GeneratorParams::from_json(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(
            serde_json::to_value(&again).unwrap(),
            serde_json::to_value(&p).unwrap()
        );
    }

    #[test]
    fn parameter_errors_name_the_field() {
        let text = include_str!("../../data/generator.json");
        let mut v: Value = serde_json::from_str(text).unwrap();
        v["modes"]["rail_share_child"] = Value::from(1.5);
        v["destinations"]["named_boost"] = Value::from(-1.0);
        let e = GeneratorParams::from_json(&v.to_string()).unwrap_err();
        assert!(e.contains("modes.rail_share_child"), "{e}");
        assert!(e.contains("destinations.named_boost"), "{e}");

        let mut v: Value = serde_json::from_str(text).unwrap();
        v["cadence"]["journeys_per_wek"] = Value::from(1.0);
        let e = GeneratorParams::from_json(&v.to_string()).unwrap_err();
        assert!(e.contains("unknown field `journeys_per_wek`"), "{e}");

        let mut v: Value = serde_json::from_str(text).unwrap();
        v["cadence"]
            .as_object_mut()
            .unwrap()
            .remove("reported_share");
        let e = GeneratorParams::from_json(&v.to_string()).unwrap_err();
        assert!(e.contains("missing field `reported_share`"), "{e}");

        let mut v: Value = serde_json::from_str(text).unwrap();
        v["exporters"][0]["force"] = s("Met");
        let e = GeneratorParams::from_json(&v.to_string()).unwrap_err();
        assert!(e.contains("not a force code"), "{e}");

        let mut v: Value = serde_json::from_str(text).unwrap();
        v["modes"]["other_adult"]["hovercraft"] = Value::from(0.1);
        let e = GeneratorParams::from_json(&v.to_string()).unwrap_err();
        assert!(e.contains("unknown variant `hovercraft`"), "{e}");

        let mut v: Value = serde_json::from_str(text).unwrap();
        v["period"]["end"] = s("2018-12-31");
        let e = GeneratorParams::from_json(&v.to_string()).unwrap_err();
        assert!(e.contains("period: start is after end"), "{e}");

        let mut p = GeneratorParams::builtin();
        p.exporters[1].force = ForceCode::parse("E23999999").unwrap();
        p.destinations
            .named
            .push(StationCode::parse("QQQ").unwrap());
        let e = p.check_geography(gb()).unwrap_err();
        assert!(e.contains("exporters[1].force E23999999"), "{e}");
        assert!(e.contains("QQQ"), "{e}");
        p.lines.attributed_share = 2.0;
        assert!(matches!(
            try_generate(gb(), &p, 10, 1),
            Err(GenerateError::InvalidParams(m)) if m.contains("lines.attributed_share")
        ));
    }

    // --------------------------------------------------------------------------------------
    // Determinism and format
    // --------------------------------------------------------------------------------------

    #[test]
    fn the_same_seed_gives_the_same_bytes_and_another_seed_does_not() {
        let p = GeneratorParams::builtin();
        let a = ndjson(&generate(gb(), &p, 2_000, 42));
        let b = ndjson(&generate(gb(), &p, 2_000, 42));
        let c = ndjson(&generate(gb(), &p, 2_000, 43));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(ndjson(sample()), ndjson(&generate(gb(), &p, N, SEED)));
    }

    #[test]
    fn writing_directly_gives_the_same_bytes_as_writing_the_values() {
        let p = GeneratorParams::builtin();
        let mut direct = Vec::new();
        assert_eq!(generate_ndjson(gb(), &p, N, SEED, &mut direct).unwrap(), N);
        assert!(direct == ndjson(sample()), "the two paths differ");
    }

    #[test]
    fn exactly_n_reports_are_made() {
        let p = GeneratorParams::builtin();
        for n in [0, 1, 17, 1_000] {
            assert_eq!(generate(gb(), &p, n, 3).len(), n);
        }
    }

    #[test]
    fn ndjson_has_one_report_per_line() {
        let reports = &sample()[..300];
        let text = String::from_utf8(ndjson(reports)).unwrap();
        assert!(text.ends_with('\n'));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), reports.len());
        for (line, r) in lines.iter().zip(reports) {
            assert_eq!(&serde_json::from_str::<Value>(line).unwrap(), r);
        }
    }

    #[test]
    fn every_report_validates_against_the_v1_schema() {
        for r in sample() {
            let errs = schema_errors(r);
            assert!(errs.is_empty(), "{errs:?} in {r}");
            for field in [
                "report_id",
                "reported_at",
                "source_force",
                "journey",
                "persons",
            ] {
                assert!(r.get(field).is_some(), "no {field} in {r}");
            }
            let persons = r["persons"].as_array().unwrap();
            assert!((1..=3).contains(&persons.len()), "{r}");
        }
    }

    #[test]
    fn report_ids_are_unique_and_numbered_in_order_of_reporting() {
        let mut prev = String::new();
        for (i, r) in sample().iter().enumerate() {
            assert_eq!(r["report_id"], s(&format!("syn-{SEED}-{i:07}")));
            let at = r["reported_at"].as_str().unwrap().to_string();
            assert!(at >= prev, "{at} before {prev}");
            prev = at;
        }
        let ids: BTreeSet<&str> = sample()
            .iter()
            .map(|r| r["report_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), N);
    }

    #[test]
    fn dates_lie_in_the_period_and_reports_follow_their_journeys() {
        let (start, end) = (date_of("2019-01-01"), date_of("2025-12-31"));
        let cap = time_of("2025-12-31T23:59:59Z");
        let now = OffsetDateTime::now_utc();
        for r in sample() {
            let j = &r["journey"];
            let date = date_of(j["date"].as_str().unwrap());
            assert!(date >= start && date <= end, "{r}");
            let reported = time_of(r["reported_at"].as_str().unwrap());
            assert!(reported <= cap && reported <= now, "{r}");
            assert!(reported.date() >= date, "{r}");
            assert!((reported.date() - date).whole_days() <= 5, "{r}");
            for t in [j.get("departed_at"), j["encounter"].get("at")]
                .into_iter()
                .flatten()
            {
                let t = time_of(t.as_str().unwrap());
                assert_eq!(t.date(), date, "{r}");
                assert!(t <= reported, "{r}");
            }
        }
    }

    // --------------------------------------------------------------------------------------
    // Geography
    // --------------------------------------------------------------------------------------

    fn stations_of(r: &Value) -> Vec<&str> {
        let j = &r["journey"];
        let mut out: Vec<&str> = [&j["origin"]["station"], &j["destination"]["station"]]
            .into_iter()
            .filter_map(Value::as_str)
            .collect();
        if let Some(v) = j.get("via") {
            out.extend(v.as_array().unwrap().iter().map(|x| x.as_str().unwrap()));
        }
        if let Some(e) = j["encounter"]["station"].as_str() {
            out.push(e);
        }
        out
    }

    #[test]
    fn station_and_force_codes_exist_in_the_geography() {
        let geo = gb();
        let known_force = |c: &str| {
            c == "BTP"
                || ForceCode::parse(c)
                    .ok()
                    .and_then(|f| geo.forces.index_of(&f))
                    .is_some()
        };
        for r in sample() {
            for code in stations_of(r) {
                assert!(geo.rail.in_main_component(station(code)), "{code} in {r}");
            }
            assert!(known_force(r["source_force"].as_str().unwrap()), "{r}");
            if let Some(f) = r["journey"]["encounter"]["joint_with_force"].as_str() {
                assert!(known_force(f) && f != r["source_force"], "{r}");
            }
            if let Some(f) = r["line"]["exporting_force"].as_str() {
                assert!(known_force(f) && f != "BTP", "{r}");
            }
            // an encounter at a station is reported by BTP or by that station's force
            if let Some(st) = r["journey"]["encounter"]["station"].as_str() {
                let src = r["source_force"].as_str().unwrap();
                assert!(src == "BTP" || src == force_code_of(st), "{r}");
                let j = &r["journey"];
                let on_journey = [&j["origin"]["station"], &j["destination"]["station"]]
                    .iter()
                    .any(|x| x.as_str() == Some(st))
                    || j["via"][0].as_str() == Some(st);
                let ends_are_points =
                    j["origin"].get("lon").is_some() || j["destination"].get("lon").is_some();
                assert!(on_journey || ends_are_points, "{r}");
            }
        }
    }

    #[test]
    fn points_lie_within_a_kilometre_of_a_station() {
        let mut points = 0;
        for r in sample() {
            for end in ["origin", "destination"] {
                let place = &r["journey"][end];
                if let (Some(lon), Some(lat)) = (place["lon"].as_f64(), place["lat"].as_f64()) {
                    let near = gb().stations.nearest([lon, lat]).unwrap();
                    assert!(near.distance_m <= 1_002.0, "{} m in {r}", near.distance_m);
                    points += 1;
                }
            }
        }
        assert!(points > 100, "only {points} points");
    }

    #[test]
    fn a_via_hub_lies_between_origin_and_destination() {
        let hubs = [
            "EUS", "STP", "WAT", "CLJ", "PAD", "LST", "BHM", "MAN", "LIV", "CRE", "PRE", "WVH",
        ];
        let pos = |c: &str| gb().stations.get(station(c)).pos();
        let mut vias = 0;
        for r in sample() {
            let j = &r["journey"];
            let Some(via) = j.get("via") else { continue };
            assert_eq!(j["mode"], "rail", "{r}");
            let v = via[0].as_str().unwrap();
            assert!(hubs.contains(&v), "{r}");
            vias += 1;
            let (Some(o), Some(d)) = (
                j["origin"]["station"].as_str(),
                j["destination"]["station"].as_str(),
            ) else {
                continue;
            };
            let direct = geodesic_m(pos(o), pos(d));
            let through = geodesic_m(pos(o), pos(v)) + geodesic_m(pos(v), pos(d));
            assert!(through <= 1.3 * direct * (1.0 + 1e-6), "{r}");
        }
        assert!(vias > 200, "only {vias} journeys via a hub");
    }

    // --------------------------------------------------------------------------------------
    // The model's shape
    // --------------------------------------------------------------------------------------

    #[test]
    fn children_travel_by_rail_more_often_than_adults() {
        let (mut child, mut child_rail, mut adult, mut adult_rail) = (0, 0, 0, 0);
        for r in sample() {
            let rail = r["journey"]["mode"] == "rail";
            if under_18(r["persons"][0]["age_band"].as_str().unwrap()) {
                child += 1;
                child_rail += usize::from(rail);
            } else {
                adult += 1;
                adult_rail += usize::from(rail);
            }
        }
        let (c, a) = (
            child_rail as f64 / child as f64,
            adult_rail as f64 / adult as f64,
        );
        // parameters: 0.85 and 0.45 for a crew's usual mode
        assert!(c > a + 0.25, "rail share: children {c:.2}, adults {a:.2}");
    }

    #[test]
    fn the_met_exports_more_reported_journeys_than_any_other_force() {
        let mut by_force: BTreeMap<&str, usize> = BTreeMap::new();
        for r in sample() {
            if let Some(f) = r["line"]["exporting_force"].as_str() {
                *by_force.entry(f).or_default() += 1;
            }
        }
        let top = by_force.iter().max_by_key(|(_, n)| **n).unwrap();
        assert_eq!(*top.0, "E23000001", "{by_force:?}");
        // some 26 forces export, as in the NCA's picture
        assert!(by_force.len() >= 20, "{by_force:?}");
    }

    #[test]
    fn met_external_lines_run_between_london_and_the_met_importers() {
        let p = GeneratorParams::builtin();
        let importers: BTreeSet<&str> = p.exporters[0]
            .importers
            .iter()
            .map(|m| m.force.as_str())
            .collect();
        let mut seen = 0;
        for r in sample() {
            let l = &r["line"];
            if l["exporting_force"] != "E23000001" || l["line_type"] != "external" {
                continue;
            }
            let j = &r["journey"];
            let (Some(o), Some(d)) = (
                j["origin"]["station"].as_str(),
                j["destination"]["station"].as_str(),
            ) else {
                continue;
            };
            let ends = [force_code_of(o), force_code_of(d)];
            assert!(ends.contains(&"E23000001".to_string()), "{r}");
            assert!(
                ends.iter().any(|f| importers.contains(f.as_str())),
                "{ends:?} in {r}"
            );
            seen += 1;
        }
        assert!(seen > 100, "only {seen} Met external journeys");
    }

    #[test]
    fn internal_lines_gain_share_from_2019_20_to_2024_25() {
        let share = |years: [i32; 2]| {
            let (mut internal, mut all) = (0, 0);
            for r in sample() {
                if let Some(t) = r["line"]["line_type"].as_str()
                    && years.contains(&year(r))
                {
                    all += 1;
                    internal += usize::from(t == "internal");
                }
            }
            internal as f64 / all as f64
        };
        let (early, late) = (share([2019, 2020]), share([2024, 2025]));
        // parameters: ~0.08 in 2019-20, ~0.34 in 2024-25
        assert!(late > early + 0.1, "internal share {early:.2} -> {late:.2}");
    }

    #[test]
    fn reports_follow_the_yearly_volume_and_intensification_weeks() {
        let mut per_year: BTreeMap<i32, usize> = BTreeMap::new();
        let (mut in_weeks, mut outside) = (0usize, 0usize);
        let mut week_days = 0usize;
        for r in sample() {
            *per_year.entry(year(r)).or_default() += 1;
        }
        let iw = GeneratorParams::builtin().intensification_weeks;
        let in_week = |d: Date| {
            iw.starts.iter().any(|md| {
                let s = Date::from_calendar_date(d.year(), month(md.month), md.day).unwrap();
                d >= s && (d - s).whole_days() < i64::from(iw.days)
            })
        };
        let (start, end) = (date_of("2019-01-01"), date_of("2025-12-31"));
        let mut d = start;
        while d <= end {
            week_days += usize::from(in_week(d));
            d = d.next_day().unwrap();
        }
        let all_days = (end - start).whole_days() as usize + 1;
        for r in sample() {
            if in_week(date_of(r["journey"]["date"].as_str().unwrap())) {
                in_weeks += 1;
            } else {
                outside += 1;
            }
        }
        let per_day_in = in_weeks as f64 / week_days as f64;
        let per_day_out = outside as f64 / (all_days - week_days) as f64;
        // a factor of 2.5 in the parameters
        assert!(
            per_day_in > 1.6 * per_day_out,
            "{per_day_in:.2} vs {per_day_out:.2} reports a day"
        );
        // 950 active lines a month in 2019, 600 in 2020-22
        assert!(
            per_year[&2019] as f64 > 1.2 * per_year[&2021] as f64,
            "{per_year:?}"
        );
    }

    #[test]
    fn the_covid_scenario_brings_more_reports_in_lockdown() {
        let mut p = GeneratorParams::builtin();
        let in_lockdown = |reports: &[Value]| {
            let (a, b) = (date_of("2020-03-23"), date_of("2020-06-30"));
            reports
                .iter()
                .filter(|r| {
                    let d = date_of(r["journey"]["date"].as_str().unwrap());
                    d >= a && d <= b
                })
                .count()
        };
        let off = in_lockdown(&generate(gb(), &p, N, 11));
        p.covid_2020.enabled = true;
        p.covid_2020.report_rate_factor = 2.0;
        let on = in_lockdown(&generate(gb(), &p, N, 11));
        assert!(on as f64 > 1.4 * off as f64, "{off} -> {on}");
    }

    #[test]
    fn invented_names_and_ids_are_marked_synthetic() {
        fn walk(v: &Value, key: &str, out: &mut usize) {
            match v {
                Value::Object(m) => {
                    for (k, x) in m {
                        assert_ne!(k, "ethnicity");
                        walk(x, k, out);
                    }
                }
                Value::Array(a) => a.iter().for_each(|x| walk(x, key, out)),
                Value::String(s) if matches!(key, "report_id" | "person_id" | "line_id") => {
                    assert!(s.starts_with("syn-"), "{key}: {s}");
                    *out += 1;
                }
                Value::String(s) if key == "name" => {
                    assert!(s.starts_with("SYN-"), "{key}: {s}");
                    *out += 1;
                }
                _ => {}
            }
        }
        let mut checked = 0;
        for r in sample() {
            walk(r, "", &mut checked);
        }
        assert!(checked > 3 * N, "only {checked} names and ids");
    }

    #[test]
    fn people_recur_on_their_corridor_and_some_are_moved_to_other_lines_and_forces() {
        // person -> (date, age band, sex, role, line, forces at both ends) of each report
        type Sighting<'a> = (
            &'a str,
            &'a str,
            &'a str,
            &'a str,
            Option<&'a str>,
            [String; 2],
        );
        let mut seen: HashMap<&str, Vec<Sighting>> = HashMap::new();
        let end_force = |e: &Value| e["station"].as_str().map(force_code_of).unwrap_or_default();
        for r in sample() {
            let j = &r["journey"];
            for person in r["persons"].as_array().unwrap() {
                seen.entry(person["person_id"].as_str().unwrap())
                    .or_default()
                    .push((
                        j["date"].as_str().unwrap(),
                        person["age_band"].as_str().unwrap(),
                        person["sex"].as_str().unwrap(),
                        person["roles"][0].as_str().unwrap(),
                        r["line"]["line_id"].as_str(),
                        [end_force(&j["origin"]), end_force(&j["destination"])],
                    ));
            }
        }
        let repeaters = seen.values().filter(|v| v.len() > 1).count();
        assert!(repeaters > 200, "only {repeaters} people seen twice");
        let band = |b: &str| {
            crate::journey::report::AgeBand::ALL
                .iter()
                .position(|x| *x == b)
                .unwrap()
        };
        let (mut moved, mut child_in_3_forces, mut escalated) = (0, 0, 0);
        let mut journeys: Vec<usize> = Vec::new();
        for (id, v) in &mut seen {
            v.sort();
            journeys.push(v.len());
            for w in v.windows(2) {
                // the same person: same sex; ages only go up
                assert_eq!(w[0].2, w[1].2, "{id} changed sex");
                assert!(band(w[0].1) <= band(w[1].1), "{id} got younger: {w:?}");
            }
            let lines: BTreeSet<&str> = v.iter().filter_map(|x| x.4).collect();
            moved += usize::from(lines.len() > 1);
            let forces: BTreeSet<&str> = v
                .iter()
                .flat_map(|x| x.5.iter().map(String::as_str))
                .filter(|f| !f.is_empty())
                .collect();
            child_in_3_forces += usize::from(under_18(v[0].1) && forces.len() >= 3);
            let first_runner = v.iter().position(|x| x.3 == "runner");
            escalated += usize::from(
                first_runner.is_some_and(|i| v[i..].iter().any(|x| x.3 == "line_holder")),
            );
        }
        // people moved between lines, children through three or more force areas, runners
        // who come back as line holders
        assert!(moved > 50, "{moved} people on more than one line");
        assert!(
            child_in_3_forces > 10,
            "{child_in_3_forces} children in 3+ forces"
        );
        assert!(escalated > 5, "{escalated} escalations");
        // skewed: most people on one or two journeys, a tail on many more
        journeys.sort_unstable();
        let median = journeys[journeys.len() / 2];
        let p99 = journeys[journeys.len() * 99 / 100];
        assert!(
            median <= 2 && p99 >= 5 * median.max(1),
            "median {median}, p99 {p99}"
        );
    }

    #[test]
    fn recording_forces_differ_in_how_they_recognise_children_as_victims() {
        let p = GeneratorParams::builtin();
        let odds: Vec<(f64, String)> = gb()
            .forces
            .forces()
            .iter()
            .map(|f| {
                (
                    recording_odds(f.code.as_str(), &p.outcomes),
                    f.code.to_string(),
                )
            })
            .collect();
        let lo = odds.iter().map(|x| x.0).fold(f64::INFINITY, f64::min);
        let hi = odds.iter().map(|x| x.0).fold(0.0, f64::max);
        // 45 draws of exp(0.6 z): the extremes lie well beyond one sd (0.55, 1.82)
        assert!(lo < 0.55 && hi > 1.82, "{lo} {hi}");
        assert_eq!(recording_odds("BTP", &p.outcomes), 0.5f64.exp());
        assert_eq!(
            recording_odds("E23000001", &p.outcomes),
            recording_odds("E23000001", &p.outcomes)
        );
        // in the sample, the share of encountered children recorded as potential victims is
        // higher where a force's odds are higher: compare the forces above and below the median
        let mut by_force: HashMap<String, (u32, u32)> = HashMap::new();
        for r in sample() {
            if r["journey"]["encounter"].is_null() {
                continue;
            }
            for person in r["persons"].as_array().unwrap() {
                if under_18(person["age_band"].as_str().unwrap()) {
                    let e = by_force
                        .entry(r["source_force"].as_str().unwrap().into())
                        .or_default();
                    e.0 += 1;
                    e.1 += u32::from(person["victim_status"] != "none");
                }
            }
        }
        let mut sorted = odds.clone();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        let half = |s: &[(f64, String)]| {
            let (n, v) = s
                .iter()
                .filter_map(|x| by_force.get(&x.1))
                .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
            f64::from(v) / f64::from(n.max(1))
        };
        let (low, high) = (half(&sorted[..22]), half(&sorted[23..]));
        assert!(
            high > low + 0.02,
            "low-odds forces {low}, high-odds forces {high}"
        );
    }

    #[test]
    fn outcomes_match_the_btp_and_nrm_ratios() {
        let (mut arrested, mut arrested_child, mut charged_child, mut nrm) = (0, 0, 0, 0);
        let mut arrested_child_victim = 0;
        let (mut persons, mut male) = (0, 0);
        let (mut phones, mut weapons) = (0u64, 0usize);
        let (mut btp_ages, mut btp_people) = (0.0, 0);
        let mut bands: BTreeMap<&str, usize> = BTreeMap::new();
        for r in sample() {
            let btp_encounter =
                r["source_force"] == "BTP" && r["journey"].get("encounter").is_some();
            let mut arrests = 0;
            for p in r["persons"].as_array().unwrap() {
                let band = p["age_band"].as_str().unwrap();
                let child = under_18(band);
                persons += 1;
                male += usize::from(p["sex"] == "male");
                if p["roles"][0] == "runner" {
                    *bands.entry(band).or_default() += 1;
                }
                if btp_encounter {
                    btp_ages += band_mid(band);
                    btp_people += 1;
                }
                let status = p["suspect_status"].as_str().unwrap();
                if status == "arrested" || status == "charged" {
                    arrests += 1;
                    arrested += 1;
                    if child {
                        arrested_child += 1;
                        charged_child += usize::from(status == "charged");
                    }
                    // both sides of the coin: an arrested child is mostly also a victim
                    if child && p["victim_status"] != "none" {
                        arrested_child_victim += 1;
                    }
                } else {
                    assert_eq!(p["nrm_referred"], false, "{r}");
                }
                nrm += usize::from(p["nrm_referred"] == true);
            }
            let z = &r["seizures"];
            assert!(arrests > 0 || z.is_null(), "seizure without arrest: {r}");
            if let Some(cash) = z["cash_gbp"].as_f64() {
                assert!((1_000.0..=5_000.0).contains(&cash), "{r}");
            }
            phones += z["phones"].as_u64().unwrap_or(0);
            weapons += z["weapons"].as_array().map_or(0, Vec::len);
        }
        let a = arrested as f64;
        let ratio = |x: f64, lo: f64, hi: f64, what: &str| {
            assert!(
                (lo..=hi).contains(&x),
                "{what} = {x:.3}, expected {lo}..{hi}"
            );
        };
        // BTP: ~40% of arrests under 18, one in five of them criminalised
        ratio(
            arrested_child as f64 / a,
            0.3,
            0.5,
            "under-18 share of arrests",
        );
        ratio(
            charged_child as f64 / arrested_child as f64,
            0.12,
            0.28,
            "charged share of arrested children",
        );
        // parameters: 0.9 of encountered children recorded as potential victims
        ratio(
            arrested_child_victim as f64 / arrested_child as f64,
            0.8,
            1.0,
            "victim share of arrested children",
        );
        // BTP: NRM referrals ~5% of arrests; weapons 0.2-0.4 and phones 0.7-1.1 per arrest
        ratio(nrm as f64 / a, 0.03, 0.08, "NRM referrals per arrest");
        ratio(weapons as f64 / a, 0.2, 0.4, "weapons per arrest");
        ratio(phones as f64 / a, 0.7, 1.1, "phones per arrest");
        // NRM county-lines referrals 81% male
        ratio(male as f64 / persons as f64, 0.75, 0.87, "male share");
        // BTP Taskforce: mean age of people encountered 18
        ratio(
            btp_ages / btp_people as f64,
            16.5,
            20.5,
            "mean age in BTP encounters",
        );
        let mode = bands.iter().max_by_key(|(_, n)| **n).unwrap();
        assert_eq!(*mode.0, "15-17", "{bands:?}");
        assert!(!bands.contains_key("10-12") && !bands.contains_key("under_10"));
    }

    /// 20,000 reports, seed 11: enough lines per exporter to compare shares.
    fn big_sample() -> &'static [Value] {
        static SAMPLE: OnceLock<Vec<Value>> = OnceLock::new();
        SAMPLE.get_or_init(|| generate(gb(), &GeneratorParams::builtin(), 20_000, 11))
    }

    /// The force of a report's end: its station's, or the nearest station's to its point.
    fn end_force(place: &Value) -> String {
        match place["station"].as_str() {
            Some(c) => force_code_of(c),
            None => {
                let p = [
                    place["lon"].as_f64().unwrap(),
                    place["lat"].as_f64().unwrap(),
                ];
                let s = gb().stations.nearest(p).unwrap().station;
                let f = gb().station_force(s).unwrap();
                gb().forces.get(f.force).code.as_str().to_string()
            }
        }
    }

    /// External lines by exporter: how many go to each importing force (one count per line).
    /// A line's market is the force its reports' far ends fall in most often (an end given as a
    /// point is placed at its nearest station, which near a border can be the neighbour's, so
    /// one report alone does not decide it).
    fn external_lines_by_exporter() -> BTreeMap<String, BTreeMap<String, usize>> {
        type Ends = (String, BTreeMap<String, usize>);
        let mut ends_of: BTreeMap<String, Ends> = BTreeMap::new();
        for r in big_sample() {
            let l = &r["line"];
            if l["line_type"] != "external" {
                continue;
            }
            let x = l["exporting_force"].as_str().unwrap().to_string();
            let j = &r["journey"];
            let ends = [end_force(&j["origin"]), end_force(&j["destination"])];
            let e = ends_of
                .entry(l["line_id"].as_str().unwrap().to_string())
                .or_insert_with(|| (x.clone(), BTreeMap::new()));
            for f in ends.iter().filter(|f| **f != x) {
                *e.1.entry(f.clone()).or_default() += 1;
            }
        }
        let mut out: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
        for (x, seen) in ends_of.into_values() {
            // most often, ties to the smaller code
            if let Some((m, _)) = seen.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))) {
                *out.entry(x).or_default().entry(m.clone()).or_default() += 1;
            }
        }
        out
    }

    #[test]
    fn each_exporters_lines_go_to_its_documented_importers_in_proportion() {
        // data/generator.json gives each large exporter a kernel of importer weights: the
        // share of its external lines going to each importer is weight / total weight, within
        // four binomial standard deviations (and a point) of what 20,000 reports show.
        let p = GeneratorParams::builtin();
        let seen = external_lines_by_exporter();
        let mut checked = 0;
        for x in p.exporters.iter().filter(|x| !x.importers.is_empty()) {
            let Some(got) = seen.get(x.force.as_str()) else {
                continue;
            };
            let n: usize = got.values().sum();
            if n < 100 {
                continue;
            }
            let total: f64 = x.importers.iter().map(|m| m.weight).sum();
            for m in &x.importers {
                let e = m.weight / total;
                let o = *got.get(m.force.as_str()).unwrap_or(&0) as f64 / n as f64;
                let tol = 4.0 * (e * (1.0 - e) / n as f64).sqrt() + 0.01;
                assert!(
                    (o - e).abs() <= tol,
                    "{} -> {}: {o:.3} of {n} lines against the kernel's {e:.3}",
                    x.name,
                    m.name
                );
            }
            // and nowhere else
            for f in got.keys() {
                assert!(
                    x.importers.iter().any(|m| m.force.as_str() == f),
                    "{} sends a line to {f}",
                    x.name
                );
            }
            checked += 1;
        }
        assert!(checked >= 3, "{checked} exporters with 100 lines or more");
    }

    #[test]
    fn devon_and_cornwall_lines_go_east_by_rail_not_across_the_bristol_channel() {
        // Devon and Cornwall has no kernel: "nearby forces" by distance over the rail network.
        // Cardiff is 80 km from Plymouth across the Bristol Channel but over 250 km by rail
        // (through Bristol), so South Wales is no longer its top destination: Avon and
        // Somerset, next door along the line, is.
        const DC: &str = "E23000035";
        const AVON: &str = "E23000036";
        const SOUTH_WALES: &str = "W15000003";
        let w = World::new(gb(), &GeneratorParams::builtin()).unwrap();
        let f = gb()
            .forces
            .index_of(&ForceCode::parse(DC).unwrap())
            .unwrap();
        let hubs = w.hubs[f].as_ref().unwrap();
        let km: BTreeMap<&str, f64> = nearby_km(gb(), f, hubs, &w.markets, 60.0)
            .into_iter()
            .map(|(g, d)| (gb().forces.get(g).code.as_str(), d))
            .collect();
        assert!(km[AVON] < km[SOUTH_WALES], "{km:?}");
        // Exeter or Plymouth to the main South Wales town by rail: at least 150 km
        assert!(km[SOUTH_WALES] > 150.0, "{km:?}");
        let lines = &external_lines_by_exporter()[DC];
        let n: usize = lines.values().sum();
        let wales = *lines.get(SOUTH_WALES).unwrap_or(&0) as f64 / n as f64;
        // was 47 % of its cross-border journeys with the straight-line rule
        assert!(
            wales < 0.1,
            "South Wales takes {wales:.2} of {n}: {lines:?}"
        );
    }

    #[test]
    fn exporters_without_a_kernel_send_lines_by_the_documented_nearby_kernel() {
        // GENERATOR.md: an exporter with no importer list sends its external lines to other
        // forces with weight exp(-d / nearby_importer_scale_km), d the rail distance between
        // main hub and main market town. Each importer's share of the lines of every such
        // exporter with 60 lines or more, within four binomial standard deviations and a point.
        let p = GeneratorParams::builtin();
        let w = World::new(gb(), &p).unwrap();
        let seen = external_lines_by_exporter();
        let mut checked = 0;
        for x in p.exporters.iter().filter(|x| x.importers.is_empty()) {
            let Some(got) = seen.get(x.force.as_str()) else {
                continue;
            };
            let n: usize = got.values().sum();
            if n < 60 {
                continue;
            }
            let f = gb().forces.index_of(&x.force).unwrap();
            let Some(hubs) = w.hubs[f].as_ref() else {
                continue;
            };
            let scale = p.nearby_importer_scale_km;
            let kernel: Vec<(String, f64)> = nearby_km(gb(), f, hubs, &w.markets, scale)
                .into_iter()
                .map(|(g, d)| (gb().forces.get(g).code.to_string(), (-d / scale).exp()))
                .collect();
            let total: f64 = kernel.iter().map(|k| k.1).sum();
            for (code, wt) in &kernel {
                let e = wt / total;
                let o = *got.get(code.as_str()).unwrap_or(&0) as f64 / n as f64;
                let tol = 4.0 * (e * (1.0 - e) / n as f64).sqrt() + 0.01;
                assert!(
                    (o - e).abs() <= tol,
                    "{} -> {code}: {o:.3} of {n} lines against the kernel's {e:.3}",
                    x.name
                );
            }
            checked += 1;
        }
        assert!(checked >= 3, "{checked} exporters checked");
    }

    #[test]
    fn internal_lines_keep_their_share_of_new_lines() {
        // Lines first reported in 2024-25 were mostly started then (internal_share 0.33 and
        // 0.35), a few in late 2023 (0.30): about 0.33, within three binomial standard
        // deviations and two points for that mix.
        let mut first: BTreeMap<&str, (Date, bool)> = BTreeMap::new();
        for r in big_sample() {
            let l = &r["line"];
            let (Some(id), Some(t)) = (l["line_id"].as_str(), l["line_type"].as_str()) else {
                continue;
            };
            let d = date_of(r["journey"]["date"].as_str().unwrap());
            let e = first.entry(id).or_insert((d, t == "internal"));
            if d < e.0 {
                e.0 = d;
            }
        }
        let late: Vec<bool> = first
            .values()
            .filter(|(d, _)| d.year() >= 2024)
            .map(|(_, i)| *i)
            .collect();
        let n = late.len() as f64;
        let share = late.iter().filter(|i| **i).count() as f64 / n;
        let tol = 3.0 * (0.33f64 * 0.67 / n).sqrt() + 0.02;
        assert!(
            (share - 0.33).abs() <= tol,
            "{share:.3} of {n} lines (±{tol:.3})"
        );
    }
}
