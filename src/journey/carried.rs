//! What a report carries besides the journey: its seizures (cash, drugs by class and type with
//! wraps, phones, weapons) and its intelligence grading (3x5x2), summarised once at mapping time
//! so that the layers can total them without parsing JSON per request.
//!
//! [`Totals`] adds summaries up; its columns ([`Totals::COLUMNS`]) are the field names every
//! aggregate answer uses (trends, flows, corridors, force rows, stations). Each one but
//! `cash_gbp` is a count (of journeys, items or wraps) and goes through disclosure control for
//! viewers like any other count; `cash_gbp` is a sum of money and is not published to viewers.

use super::report::Report;
use crate::vocab::{DrugClass, DrugType, Handling, IntelAssessment, SourceEval};
use serde_json::Value;

/// Drug classes and types of the v1 schema, in its order (the sizes of the count arrays below).
const DRUG_CLASSES: &[&str] = DrugClass::ALL;
const DRUG_TYPES: &[&str] = DrugType::ALL;
const SOURCE_EVALS: &[&str] = SourceEval::ALL;
const INTEL: &[&str] = IntelAssessment::ALL;
const HANDLING: &[&str] = Handling::ALL;
const _: () = assert!(
    DRUG_CLASSES.len() == 3
        && DRUG_TYPES.len() == 9
        && SOURCE_EVALS.len() == 3
        && INTEL.len() == 5
        && HANDLING.len() == 2
);

/// One report's seizures and grading.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Carried {
    /// the report has a `seizures` object
    pub seized: bool,
    pub cash_gbp: f64,
    pub phones: u32,
    pub weapons: u32,
    /// drug items and their wraps, by class
    pub by_class: [[u32; 2]; 3],
    /// drug items and their wraps, by type
    pub by_type: [[u32; 2]; 9],
    /// grading indices (into the vocabularies above), when graded
    pub source_eval: Option<u8>,
    pub intel_assessment: Option<u8>,
    pub handling: Option<u8>,
    /// the report has a `grading` object
    pub graded: bool,
}

fn index_of(list: &[&str], v: Option<&Value>) -> Option<u8> {
    let s = v?.as_str()?;
    list.iter().position(|x| *x == s).map(|i| i as u8)
}

impl Carried {
    /// The summary of a report's seizures and grading; `None` when it has neither.
    pub fn of(report: &Report) -> Option<Box<Carried>> {
        if report.seizures.is_none() && report.grading.is_none() {
            return None;
        }
        let mut c = Carried::default();
        if let Some(raw) = &report.seizures
            && let Ok(s) = serde_json::from_str::<Value>(raw.get())
        {
            c.seized = true;
            c.cash_gbp = s["cash_gbp"].as_f64().unwrap_or(0.0);
            c.phones = s["phones"].as_u64().unwrap_or(0) as u32;
            c.weapons = s["weapons"].as_array().map_or(0, Vec::len) as u32;
            for d in s["drugs"].as_array().into_iter().flatten() {
                let wraps = d["wraps"].as_u64().unwrap_or(0) as u32;
                if let Some(k) = index_of(DRUG_CLASSES, d.get("class")) {
                    c.by_class[k as usize][0] += 1;
                    c.by_class[k as usize][1] += wraps;
                }
                if let Some(k) = index_of(DRUG_TYPES, d.get("type")) {
                    c.by_type[k as usize][0] += 1;
                    c.by_type[k as usize][1] += wraps;
                }
            }
        }
        if let Some(raw) = &report.grading
            && let Ok(g) = serde_json::from_str::<Value>(raw.get())
        {
            c.graded = true;
            c.source_eval = index_of(SOURCE_EVALS, g.get("source_eval"));
            c.intel_assessment = index_of(INTEL, g.get("intel_assessment"));
            c.handling = index_of(HANDLING, g.get("handling"));
        }
        Some(Box::new(c))
    }
}

/// Seizure and grading totals over a set of journeys.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Totals {
    /// journeys whose report records a seizure
    pub seizure_journeys: u32,
    pub cash_gbp: f64,
    pub phones: u32,
    pub weapons: u32,
    pub by_class: [[u32; 2]; 3],
    pub by_type: [[u32; 2]; 9],
    /// journeys whose report is graded, and how
    pub graded: u32,
    pub source_eval: [u32; 3],
    pub intel_assessment: [u32; 5],
    pub handling: [u32; 2],
}

impl Totals {
    /// The column names, in order (JSON fields and CSV columns alike).
    pub const COLUMNS: &'static [&'static str] = &[
        "seizure_journeys",
        "cash_gbp",
        "phones",
        "weapons",
        "drug_seizures",
        "wraps",
        "drugs_class_a",
        "wraps_class_a",
        "drugs_class_b",
        "wraps_class_b",
        "drugs_class_c",
        "wraps_class_c",
        "drugs_heroin",
        "wraps_heroin",
        "drugs_crack_cocaine",
        "wraps_crack_cocaine",
        "drugs_cocaine",
        "wraps_cocaine",
        "drugs_cannabis",
        "wraps_cannabis",
        "drugs_ketamine",
        "wraps_ketamine",
        "drugs_mdma",
        "wraps_mdma",
        "drugs_spice",
        "wraps_spice",
        "drugs_nitazene",
        "wraps_nitazene",
        "drugs_other",
        "wraps_other",
        "graded",
        "source_eval_1",
        "source_eval_2",
        "source_eval_3",
        "intel_a",
        "intel_b",
        "intel_c",
        "intel_d",
        "intel_e",
        "handling_p",
        "handling_c",
    ];

    pub fn add(&mut self, c: Option<&Carried>) {
        let Some(c) = c else { return };
        if c.seized {
            self.seizure_journeys += 1;
        }
        self.cash_gbp += c.cash_gbp;
        self.phones += c.phones;
        self.weapons += c.weapons;
        for k in 0..3 {
            self.by_class[k][0] += c.by_class[k][0];
            self.by_class[k][1] += c.by_class[k][1];
        }
        for k in 0..9 {
            self.by_type[k][0] += c.by_type[k][0];
            self.by_type[k][1] += c.by_type[k][1];
        }
        if c.graded {
            self.graded += 1;
        }
        if let Some(i) = c.source_eval {
            self.source_eval[i as usize] += 1;
        }
        if let Some(i) = c.intel_assessment {
            self.intel_assessment[i as usize] += 1;
        }
        if let Some(i) = c.handling {
            self.handling[i as usize] += 1;
        }
    }

    /// The values in the order of [`Totals::COLUMNS`] (cash to the penny).
    pub fn values(&self) -> Vec<Value> {
        let mut v: Vec<Value> = vec![
            self.seizure_journeys.into(),
            ((self.cash_gbp * 100.0).round() / 100.0).into(),
            self.phones.into(),
            self.weapons.into(),
            self.by_class.iter().map(|c| c[0]).sum::<u32>().into(),
            self.by_class.iter().map(|c| c[1]).sum::<u32>().into(),
        ];
        for c in self.by_class.iter().chain(&self.by_type) {
            v.push(c[0].into());
            v.push(c[1].into());
        }
        v.push(self.graded.into());
        for n in self
            .source_eval
            .iter()
            .chain(&self.intel_assessment)
            .chain(&self.handling)
        {
            v.push((*n).into());
        }
        v
    }

    /// The values as CSV cells.
    pub fn cells(&self) -> Vec<String> {
        self.values().iter().map(Value::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_columns_and_the_values_line_up() {
        let t = Totals::default();
        assert_eq!(Totals::COLUMNS.len(), t.values().len());
    }
}
