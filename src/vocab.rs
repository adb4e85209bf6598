//! Every closed vocabulary of the server, written once: the journey report's enumerations
//! (modes, age bands, roles, statuses, flags, encounter and line types, drugs, concealment,
//! weapons, the 3x5x2 grading) and the audit actions.
//!
//! The report validator ([`crate::journey::report`]), the synthetic generator
//! ([`crate::journey::generate`]), the seizure totals ([`crate::journey::carried`]), the
//! OpenAPI document, the queryables and the audit read these lists; the map page reads them
//! from `GET /api/vocabulary` ([`document`]); a test checks that the shipped JSON Schema
//! (`data/journey-report.schema.json`) enumerates exactly the same words.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Declares a closed vocabulary: an enum whose JSON spellings are given, with every word
/// (`ALL`, in declaration order), every variant (`VARIANTS`), `parse` and `as_str`.
macro_rules! vocabulary {
    ($(#[$m:meta])* $name:ident { $($var:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $s)] $var),+ }
        #[allow(dead_code)]
        impl $name {
            /// Every word, in declaration order.
            pub const ALL: &'static [&'static str] = &[$($s),+];
            /// Every variant, in declaration order.
            pub const VARIANTS: &'static [$name] = &[$($name::$var),+];
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$var),)+ _ => None }
            }
            /// The JSON spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$var => $s),+ }
            }
        }
    };
}
pub(crate) use vocabulary;

vocabulary!(
    /// How the journey was made (DOMAIN.md §3.4; schema `journey.mode`).
    Mode { Rail = "rail", Coach = "coach", Bus = "bus", Car = "car", PrivateHire = "private_hire", Taxi = "taxi", OnFoot = "on_foot", Unknown = "unknown" }
);
vocabulary!(
    /// A person's age band (schema `persons[].age_band`); the first four are children.
    AgeBand { Under10 = "under_10", A10to12 = "10-12", A13to14 = "13-14", A15to17 = "15-17", A18to24 = "18-24", A25to34 = "25-34", A35Plus = "35_plus", Unknown = "unknown" }
);
vocabulary!(
    /// Schema `persons[].sex`.
    Sex { Male = "male", Female = "female", Other = "other", Unknown = "unknown" }
);
vocabulary!(
    /// A person's role in the line (schema `persons[].roles`).
    Role { Runner = "runner", LineHolder = "line_holder", Controller = "controller", CuckooedOccupant = "cuckooed_occupant", Customer = "customer", Facilitator = "facilitator", Associate = "associate" }
);
vocabulary!(
    /// Schema `persons[].victim_status`.
    VictimStatus { None = "none", PotentialVictim = "potential_victim", NrmPositiveRg = "nrm_positive_rg", NrmPositiveCg = "nrm_positive_cg", NrmNegative = "nrm_negative" }
);
vocabulary!(
    /// Schema `persons[].suspect_status`.
    SuspectStatus { None = "none", Stopped = "stopped", Arrested = "arrested", Charged = "charged", Convicted = "convicted", Nfa = "nfa" }
);
vocabulary!(
    /// One controlled vocabulary for every force (the HMICFRS finding on inconsistent
    /// recording; schema `persons[].vulnerability_flags`).
    VulnerabilityFlag { MissingEpisode = "missing_episode", LookedAfterChild = "looked_after_child", ExcludedFromSchool = "excluded_from_school", FamilyBreakdown = "family_breakdown", Poverty = "poverty", LearningDifficulty = "learning_difficulty", Neurodivergence = "neurodivergence", DrugDependency = "drug_dependency", MentalHealth = "mental_health", PhysicalHealth = "physical_health", DebtBondage = "debt_bondage", SexualExploitation = "sexual_exploitation", UnexplainedCashOrPhones = "unexplained_cash_or_phones", CleanSkin = "clean_skin" }
);
vocabulary!(
    /// Schema `journey.encounter.type`.
    EncounterType { StopSearch = "stop_search", Arrest = "arrest", Safeguarding = "safeguarding", Intelligence = "intelligence", WelfareCheck = "welfare_check", Other = "other" }
);
vocabulary!(
    /// Schema `line.line_type`.
    LineType { External = "external", Internal = "internal" }
);
vocabulary!(
    /// Misuse of Drugs Act 1971 class (schema `seizures.drugs[].class`).
    DrugClass { A = "A", B = "B", C = "C" }
);
vocabulary!(
    /// Schema `seizures.drugs[].type`.
    DrugType { Heroin = "heroin", CrackCocaine = "crack_cocaine", Cocaine = "cocaine", Cannabis = "cannabis", Ketamine = "ketamine", Mdma = "mdma", Spice = "spice", Nitazene = "nitazene", Other = "other" }
);
vocabulary!(
    /// Where drugs were hidden (schema `seizures.drugs[].concealment`).
    Concealment { Internal = "internal", Clothing = "clothing", Bag = "bag", Vehicle = "vehicle", Address = "address", Other = "other" }
);
vocabulary!(
    /// Schema `seizures.weapons[]`.
    Weapon { Knife = "knife", Firearm = "firearm", Corrosive = "corrosive", Other = "other" }
);
vocabulary!(
    /// Source evaluation of the 3x5x2 grading (schema `grading.source_eval`).
    SourceEval { Reliable = "1", Untested = "2", NotReliable = "3" }
);
vocabulary!(
    /// Intelligence assessment of the 3x5x2 grading (schema `grading.intel_assessment`).
    IntelAssessment { A = "A", B = "B", C = "C", D = "D", E = "E" }
);
vocabulary!(
    /// Handling code of the 3x5x2 grading (schema `grading.handling`).
    Handling { P = "P", C = "C" }
);
vocabulary!(
    /// What an audit event records (the audit log's `action`, `GET /api/audit?action=`).
    AuditAction { ReadJourneys = "read_journeys", ReadJourney = "read_journey", ReadPersons = "read_persons", Export = "export", Ingest = "ingest", ReadAudit = "read_audit", Restrict = "restrict", Unrestrict = "unrestrict", Erase = "erase", Rectify = "rectify", ReadVersions = "read_versions", ReadReview = "read_review", ReviewRetain = "review_retain", ReviewDispose = "review_dispose" }
);

impl AgeBand {
    /// Under 18.
    pub fn is_child(self) -> bool {
        matches!(
            self,
            AgeBand::Under10 | AgeBand::A10to12 | AgeBand::A13to14 | AgeBand::A15to17
        )
    }

    /// The bands under 18, in order.
    pub fn children() -> impl Iterator<Item = AgeBand> {
        AgeBand::VARIANTS.iter().copied().filter(|b| b.is_child())
    }
}

impl DrugType {
    /// Misuse of Drugs Act 1971 class (ketamine has been class B since 2014; "other" taken
    /// as C).
    pub fn class(self) -> DrugClass {
        match self {
            DrugType::Heroin
            | DrugType::CrackCocaine
            | DrugType::Cocaine
            | DrugType::Mdma
            | DrugType::Nitazene => DrugClass::A,
            DrugType::Cannabis | DrugType::Ketamine | DrugType::Spice => DrugClass::B,
            DrugType::Other => DrugClass::C,
        }
    }
}

/// The vocabularies as `GET /api/vocabulary` serves them: each name (the report field's, or
/// the query parameter's) with its words in order, and `child_age_band`, the bands under 18
/// ("children only" on the map). `measure` and `day` are the query parameters' words.
pub fn document() -> Value {
    json!({
        "mode": Mode::ALL,
        "age_band": AgeBand::ALL,
        "child_age_band": AgeBand::children().map(AgeBand::as_str).collect::<Vec<_>>(),
        "sex": Sex::ALL,
        "role": Role::ALL,
        "victim_status": VictimStatus::ALL,
        "suspect_status": SuspectStatus::ALL,
        "vulnerability_flag": VulnerabilityFlag::ALL,
        "encounter_type": EncounterType::ALL,
        "line_type": LineType::ALL,
        "drug_class": DrugClass::ALL,
        "drug_type": DrugType::ALL,
        "concealment": Concealment::ALL,
        "weapon": Weapon::ALL,
        "source_eval": SourceEval::ALL,
        "intel_assessment": IntelAssessment::ALL,
        "handling": Handling::ALL,
        "audit_action": AuditAction::ALL,
        "measure": crate::layers::Measure::ALL,
        "day": crate::journey::clock::DAYS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `enum` in the shipped JSON Schema, by its path.
    fn schema_enums() -> Vec<(String, Vec<String>)> {
        fn walk(v: &Value, path: &str, out: &mut Vec<(String, Vec<String>)>) {
            match v {
                Value::Object(o) => {
                    if let Some(Value::Array(words)) = o.get("enum") {
                        let words = words
                            .iter()
                            .map(|w| w.as_str().unwrap().to_string())
                            .collect();
                        out.push((path.to_string(), words));
                    }
                    for (k, x) in o {
                        walk(x, &format!("{path}/{k}"), out);
                    }
                }
                Value::Array(a) => a.iter().for_each(|x| walk(x, path, out)),
                _ => {}
            }
        }
        let schema: Value =
            serde_json::from_str(include_str!("../data/journey-report.schema.json")).unwrap();
        let mut out = Vec::new();
        walk(&schema, "", &mut out);
        out
    }

    #[test]
    fn the_shipped_schema_enumerates_exactly_the_words_of_this_module() {
        let p = "/properties";
        let expected: Vec<(String, &[&str])> = vec![
            (format!("{p}/journey/properties/mode"), Mode::ALL),
            (
                format!("{p}/journey/properties/encounter/properties/type"),
                EncounterType::ALL,
            ),
            (format!("{p}/line/properties/line_type"), LineType::ALL),
            (
                format!("{p}/persons/items/properties/age_band"),
                AgeBand::ALL,
            ),
            (format!("{p}/persons/items/properties/sex"), Sex::ALL),
            (
                format!("{p}/persons/items/properties/roles/items"),
                Role::ALL,
            ),
            (
                format!("{p}/persons/items/properties/victim_status"),
                VictimStatus::ALL,
            ),
            (
                format!("{p}/persons/items/properties/suspect_status"),
                SuspectStatus::ALL,
            ),
            (
                format!("{p}/persons/items/properties/vulnerability_flags/items"),
                VulnerabilityFlag::ALL,
            ),
            (
                format!("{p}/seizures/properties/drugs/items/properties/class"),
                DrugClass::ALL,
            ),
            (
                format!("{p}/seizures/properties/drugs/items/properties/type"),
                DrugType::ALL,
            ),
            (
                format!("{p}/seizures/properties/drugs/items/properties/concealment"),
                Concealment::ALL,
            ),
            (
                format!("{p}/seizures/properties/weapons/items"),
                Weapon::ALL,
            ),
            (
                format!("{p}/grading/properties/source_eval"),
                SourceEval::ALL,
            ),
            (
                format!("{p}/grading/properties/intel_assessment"),
                IntelAssessment::ALL,
            ),
            (format!("{p}/grading/properties/handling"), Handling::ALL),
        ];
        let found = schema_enums();
        for (path, words) in &expected {
            let (_, got) = found
                .iter()
                .find(|(p, _)| p == path)
                .unwrap_or_else(|| panic!("the schema has no enum at {path}"));
            assert_eq!(got, words, "{path}");
        }
        // every enum of the schema is one of these, but for the schema's own version number
        let others: Vec<&String> = found
            .iter()
            .map(|(p, _)| p)
            .filter(|p| !expected.iter().any(|(e, _)| e == *p))
            .collect();
        assert_eq!(others, vec!["/properties/schema_version"]);
    }

    #[test]
    fn the_child_bands_are_the_four_under_eighteen() {
        let kids: Vec<&str> = AgeBand::children().map(AgeBand::as_str).collect();
        assert_eq!(kids, ["under_10", "10-12", "13-14", "15-17"]);
    }

    #[test]
    fn words_parse_back_to_their_variants() {
        for (i, w) in DrugType::ALL.iter().enumerate() {
            assert_eq!(DrugType::parse(w), Some(DrugType::VARIANTS[i]));
            assert_eq!(DrugType::VARIANTS[i].as_str(), *w);
        }
        assert_eq!(DrugType::parse("Heroin"), None);
        assert_eq!(DrugType::Ketamine.class(), DrugClass::B);
    }
}
