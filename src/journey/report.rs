//! The journey report, schema v1 (`data/journey-report.schema.json`), and its validation.
//!
//! [`parse_report`] walks the JSON of one report and either returns a typed [`Report`] or every
//! problem found, each naming the field's path (`journey.origin.station: unknown CRS "XYZ"`).
//! Parse, don't validate: once a `Report` exists its stations and forces are known, its enums
//! are enums and its dates are in range. Unknown fields are errors (a misspelt field must not be
//! silently lost). A report's canonical JSON ([`Report::canonical_json`]) is what is stored and
//! what idempotency compares.

use crate::geography::{ForceCode, Geography, StationCode};
use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, UtcOffset};

/// Reports may not describe journeys before this date.
pub const EARLIEST_DATE: Date = time::macros::date!(2000 - 01 - 01);
/// The UK bounding box coordinates must fall in: lon, lat.
pub const UK_LON: (f64, f64) = (-8.7, 1.9);
pub const UK_LAT: (f64, f64) = (49.8, 60.9);
/// Most via stations, persons and items in one report.
pub const MAX_VIA: usize = 20;
pub const MAX_PERSONS: usize = 50;
const MAX_ID: usize = 128;

/// One problem with a report: the JSON path of the field and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

pub use crate::vocab::{
    AgeBand, EncounterType, LineType, Mode, Role, Sex, SuspectStatus, VictimStatus,
    VulnerabilityFlag,
};
use crate::vocab::{
    Concealment, DrugClass, DrugType, Handling, IntelAssessment, SourceEval, Weapon,
};

/// Where a journey starts or ends.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Place {
    Station { station: StationCode },
    Point { lon: f64, lat: f64 },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Encounter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub station: Option<StationCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    #[serde(rename = "type")]
    pub kind: EncounterType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joint_with_force: Option<ForceCode>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Journey {
    /// `YYYY-MM-DD`
    #[serde(serialize_with = "ser_date")]
    pub date: Date,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub departed_at: Option<String>,
    pub mode: Mode,
    pub origin: Place,
    pub destination: Place,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<StationCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encounter: Option<Encounter>,
    /// schema v1.1: the journey's time known only within this window (RFC 3339, UTC)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_window: Option<TimeWindow>,
}

/// A time known only within a window, `from` to `to` (schema v1.1).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimeWindow {
    pub from: String,
    pub to: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Line {
    pub line_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exporting_force: Option<ForceCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_type: Option<LineType>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Person {
    pub person_id: String,
    pub age_band: AgeBand,
    pub sex: Sex,
    pub roles: Vec<Role>,
    pub victim_status: VictimStatus,
    pub suspect_status: SuspectStatus,
    pub vulnerability_flags: Vec<VulnerabilityFlag>,
    pub nrm_referred: bool,
    pub safeguarding_referred: bool,
}

/// A validated journey report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub report_id: String,
    /// RFC 3339, normalised to UTC
    pub reported_at: String,
    pub source_force: ForceCode,
    pub journey: Journey,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<Line>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub persons: Vec<Person>,
    /// Validated against the schema; kept as compact JSON text (a `Value` tree costs ~10x).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seizures: Option<Box<serde_json::value::RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grading: Option<Box<serde_json::value::RawValue>>,
}

impl Report {
    /// British Transport Police reported the journey or joined the encounter.
    pub fn btp_sourced(&self) -> bool {
        self.source_force.is_btp()
            || self
                .journey
                .encounter
                .as_ref()
                .and_then(|e| e.joint_with_force.as_ref())
                .is_some_and(ForceCode::is_btp)
    }
}

fn ser_date<S: serde::Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_date(*d))
}

/// `YYYY-MM-DD`.
pub fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day())
}

/// Parses `YYYY-MM-DD` strictly.
pub fn parse_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i32 = s[0..4].parse().ok()?;
    let m: u8 = s[5..7].parse().ok()?;
    let d: u8 = s[8..10].parse().ok()?;
    Date::from_calendar_date(y, time::Month::try_from(m).ok()?, d).ok()
}

impl Report {
    /// The canonical JSON: fields in a fixed order, defaults filled in, times in UTC.
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn children(&self) -> usize {
        self.persons
            .iter()
            .filter(|p| p.age_band.is_child())
            .count()
    }
}

/// Validation context: the geography (to check stations and forces) and today's date.
struct Ctx<'a> {
    geo: &'a Geography,
    today: Date,
    now: OffsetDateTime,
    errors: Vec<FieldError>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<'a> Ctx<'a> {
    fn err(&mut self, path: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            path: path.to_string(),
            message: message.into(),
        });
    }

    fn object<'v>(
        &mut self,
        v: &'v Value,
        path: &str,
        allowed: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Some(m) = v.as_object() else {
            self.err(path, format!("expected an object, found {}", type_name(v)));
            return None;
        };
        for k in m.keys() {
            if !allowed.contains(&k.as_str()) {
                self.err(
                    &join(path, k),
                    format!("unknown field; expected one of: {}", allowed.join(", ")),
                );
            }
        }
        Some(m)
    }

    fn string<'v>(
        &mut self,
        m: &'v Map<String, Value>,
        key: &str,
        path: &str,
        required: bool,
    ) -> Option<&'v str> {
        let p = join(path, key);
        match m.get(key) {
            None if required => {
                self.err(&p, "is required");
                None
            }
            None => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(v) => {
                self.err(&p, format!("expected a string, found {}", type_name(v)));
                None
            }
        }
    }

    fn id(
        &mut self,
        m: &Map<String, Value>,
        key: &str,
        path: &str,
        required: bool,
    ) -> Option<String> {
        let s = self.string(m, key, path, required)?;
        let p = join(path, key);
        let t = s.trim();
        if t.is_empty() {
            self.err(&p, "must not be empty");
            return None;
        }
        if t.chars().count() > MAX_ID {
            self.err(&p, format!("is longer than {MAX_ID} characters"));
            return None;
        }
        if t.chars().any(char::is_control) {
            self.err(&p, "must not contain control characters");
            return None;
        }
        Some(t.to_string())
    }

    fn report_id(&mut self, m: &Map<String, Value>) -> Option<String> {
        let id = self.id(m, "report_id", "", true)?;
        let ok = id.bytes().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && id
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"_.:-".contains(&c));
        if !ok {
            self.err("report_id", format!("\"{id}\" may use only letters, digits and _ . : - and must start with a letter or digit"));
            return None;
        }
        Some(id)
    }

    fn enumerated<T>(
        &mut self,
        m: &Map<String, Value>,
        key: &str,
        path: &str,
        parse: fn(&str) -> Option<T>,
        all: &[&str],
    ) -> Option<T> {
        let s = self.string(m, key, path, false)?;
        let r = parse(s);
        if r.is_none() {
            self.err(
                &join(path, key),
                format!("\"{s}\" is not one of: {}", all.join(", ")),
            );
        }
        r
    }

    fn enum_list<T: PartialEq>(
        &mut self,
        m: &Map<String, Value>,
        key: &str,
        path: &str,
        parse: fn(&str) -> Option<T>,
        all: &[&str],
    ) -> Vec<T> {
        let p = join(path, key);
        let Some(v) = m.get(key) else {
            return Vec::new();
        };
        let Some(items) = v.as_array() else {
            self.err(&p, format!("expected an array, found {}", type_name(v)));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, it) in items.iter().enumerate() {
            let ip = format!("{p}[{i}]");
            match it.as_str() {
                Some(s) => match parse(s) {
                    Some(x) if out.contains(&x) => self.err(&ip, format!("\"{s}\" is repeated")),
                    Some(x) => out.push(x),
                    None => self.err(&ip, format!("\"{s}\" is not one of: {}", all.join(", "))),
                },
                None => self.err(&ip, format!("expected a string, found {}", type_name(it))),
            }
        }
        out
    }

    fn boolean(&mut self, m: &Map<String, Value>, key: &str, path: &str) -> bool {
        match m.get(key) {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(v) => {
                self.err(
                    &join(path, key),
                    format!("expected true or false, found {}", type_name(v)),
                );
                false
            }
        }
    }

    fn timestamp(
        &mut self,
        m: &Map<String, Value>,
        key: &str,
        path: &str,
        required: bool,
    ) -> Option<(String, OffsetDateTime)> {
        let s = self.string(m, key, path, required)?;
        let p = join(path, key);
        let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) else {
            self.err(
                &p,
                format!("\"{s}\" is not an RFC 3339 date-time such as 2024-03-06T10:42:00Z"),
            );
            return None;
        };
        let t = t.to_offset(UtcOffset::UTC);
        if t.date() < EARLIEST_DATE {
            self.err(&p, format!("{s} is before 2000"));
            return None;
        }
        // a little slack for clocks that run ahead of ours
        if t > self.now + time::Duration::minutes(5) {
            self.err(&p, format!("{s} is in the future"));
            return None;
        }
        Some((t.format(&Rfc3339).unwrap_or_else(|_| s.to_string()), t))
    }

    fn force(&mut self, s: &str, path: &str, allow_btp: bool) -> Option<ForceCode> {
        match ForceCode::parse(s) {
            Ok(c) if c.is_btp() && allow_btp => Some(c),
            Ok(c) if c.is_btp() => {
                self.err(
                    path,
                    "BTP polices the railway and has no area: give a territorial force",
                );
                None
            }
            Ok(c) if self.geo.forces.index_of(&c).is_some() => Some(c),
            Ok(c) => {
                self.err(path, format!("unknown force \"{c}\""));
                None
            }
            Err(m) => {
                self.err(path, m);
                None
            }
        }
    }

    fn station(&mut self, s: &str, path: &str) -> Option<StationCode> {
        match StationCode::parse(s) {
            Ok(c) if self.geo.stations.index_of(&c).is_some() => Some(c),
            Ok(c) => {
                self.err(path, format!("unknown CRS \"{c}\""));
                None
            }
            Err(m) => {
                self.err(path, m);
                None
            }
        }
    }

    fn place(&mut self, v: Option<&Value>, path: &str) -> Option<Place> {
        let Some(v) = v else {
            self.err(path, "is required");
            return None;
        };
        let m = self.object(v, path, &["station", "lon", "lat"])?;
        if let Some(s) = m.get("station") {
            if m.contains_key("lon") || m.contains_key("lat") {
                self.err(path, "give either a station or lon/lat, not both");
                return None;
            }
            let Some(s) = s.as_str() else {
                self.err(
                    &join(path, "station"),
                    format!("expected a string, found {}", type_name(s)),
                );
                return None;
            };
            return self
                .station(s, &join(path, "station"))
                .map(|station| Place::Station { station });
        }
        let num = |ctx: &mut Self, key: &str| -> Option<f64> {
            match m.get(key) {
                None => {
                    ctx.err(path, "give a station (CRS) or both lon and lat");
                    None
                }
                Some(Value::Number(n)) => n.as_f64(),
                Some(v) => {
                    ctx.err(
                        &join(path, key),
                        format!("expected a number, found {}", type_name(v)),
                    );
                    None
                }
            }
        };
        let lon = num(self, "lon")?;
        let lat = num(self, "lat")?;
        if !(UK_LON.0..=UK_LON.1).contains(&lon) || !(UK_LAT.0..=UK_LAT.1).contains(&lat) {
            self.err(
                path,
                format!(
                    "({lon}, {lat}) is outside the UK (lon {}..{}, lat {}..{})",
                    UK_LON.0, UK_LON.1, UK_LAT.0, UK_LAT.1
                ),
            );
            return None;
        }
        Some(Place::Point { lon, lat })
    }

    fn journey(&mut self, v: Option<&Value>) -> Option<Journey> {
        let path = "journey";
        let Some(v) = v else {
            self.err(path, "is required");
            return None;
        };
        let m = self.object(
            v,
            path,
            &[
                "date",
                "departed_at",
                "mode",
                "origin",
                "destination",
                "via",
                "encounter",
                "time_window",
            ],
        )?;
        let date = match self.string(m, "date", path, true) {
            None => None,
            Some(s) => match parse_date(s) {
                None => {
                    self.err("journey.date", format!("\"{s}\" is not a date YYYY-MM-DD"));
                    None
                }
                Some(d) if d < EARLIEST_DATE => {
                    self.err("journey.date", format!("{s} is before 2000"));
                    None
                }
                Some(d) if d > self.today => {
                    self.err("journey.date", format!("{s} is in the future"));
                    None
                }
                Some(d) => Some(d),
            },
        };
        let departed_at = self.timestamp(m, "departed_at", path, false).map(|t| t.0);
        let mode = if m.contains_key("mode") {
            self.enumerated(m, "mode", path, Mode::parse, Mode::ALL)
        } else {
            self.err("journey.mode", "is required");
            None
        };
        let origin = self.place(m.get("origin"), "journey.origin");
        let destination = self.place(m.get("destination"), "journey.destination");
        let mut via = Vec::new();
        if let Some(v) = m.get("via") {
            match v.as_array() {
                Some(items) if items.len() > MAX_VIA => {
                    self.err("journey.via", format!("at most {MAX_VIA} stations"))
                }
                Some(items) => {
                    for (i, it) in items.iter().enumerate() {
                        let p = format!("journey.via[{i}]");
                        match it.as_str() {
                            Some(s) => {
                                if let Some(c) = self.station(s, &p) {
                                    via.push(c);
                                }
                            }
                            None => self.err(
                                &p,
                                format!("expected a station code, found {}", type_name(it)),
                            ),
                        }
                    }
                }
                None => self.err(
                    "journey.via",
                    format!("expected an array of station codes, found {}", type_name(v)),
                ),
            }
        }
        let encounter = match m.get("encounter") {
            None => None,
            Some(v) => self.encounter(v),
        };
        let time_window = m.get("time_window").and_then(|v| self.time_window(v));
        Some(Journey {
            date: date?,
            departed_at,
            mode: mode?,
            origin: origin?,
            destination: destination?,
            via,
            encounter,
            time_window,
        })
    }

    fn time_window(&mut self, v: &Value) -> Option<TimeWindow> {
        let path = "journey.time_window";
        let m = self.object(v, path, &["from", "to"])?;
        let from = self.timestamp(m, "from", path, true);
        let to = self.timestamp(m, "to", path, true);
        let (from, to) = (from?, to?);
        let span = (to.1 - from.1).whole_seconds();
        if span < 0 {
            self.err("journey.time_window.to", "is before from");
            return None;
        }
        if span > crate::journey::clock::MAX_WINDOW_S {
            self.err(
                "journey.time_window",
                "is longer than 7 days: give the date alone",
            );
            return None;
        }
        Some(TimeWindow {
            from: from.0,
            to: to.0,
        })
    }

    fn encounter(&mut self, v: &Value) -> Option<Encounter> {
        let path = "journey.encounter";
        let m = self.object(v, path, &["station", "at", "type", "joint_with_force"])?;
        let station = self
            .string(m, "station", path, false)
            .map(|s| self.station(s, "journey.encounter.station"));
        let at = self.timestamp(m, "at", path, false).map(|t| t.0);
        let kind = if m.contains_key("type") {
            self.enumerated(m, "type", path, EncounterType::parse, EncounterType::ALL)
        } else {
            self.err("journey.encounter.type", "is required");
            None
        };
        let joint = self
            .string(m, "joint_with_force", path, false)
            .map(|s| self.force(s, "journey.encounter.joint_with_force", true));
        // an invalid optional value has recorded an error already; absent is fine
        Some(Encounter {
            station: station.flatten(),
            at,
            kind: kind?,
            joint_with_force: joint.flatten(),
        })
    }

    fn line(&mut self, v: &Value) -> Option<Line> {
        let path = "line";
        let m = self.object(
            v,
            path,
            &["line_id", "name", "exporting_force", "line_type"],
        )?;
        let line_id = self.id(m, "line_id", path, true);
        let name = match self.string(m, "name", path, false) {
            Some(s) if s.chars().count() > MAX_ID => {
                self.err("line.name", format!("is longer than {MAX_ID} characters"));
                None
            }
            other => other.map(str::to_string),
        };
        let exporting = self
            .string(m, "exporting_force", path, false)
            .map(|s| self.force(s, "line.exporting_force", false));
        let line_type = self.enumerated(m, "line_type", path, LineType::parse, LineType::ALL);
        Some(Line {
            line_id: line_id?,
            name,
            exporting_force: exporting.flatten(),
            line_type,
        })
    }

    fn person(&mut self, v: &Value, path: &str) -> Option<Person> {
        let allowed = [
            "person_id",
            "age_band",
            "sex",
            "roles",
            "victim_status",
            "suspect_status",
            "vulnerability_flags",
            "nrm_referred",
            "safeguarding_referred",
        ];
        let m = self.object(v, path, &allowed)?;
        let person_id = self.id(m, "person_id", path, true);
        let age_band = if m.contains_key("age_band") {
            self.enumerated(m, "age_band", path, AgeBand::parse, AgeBand::ALL)
        } else {
            self.err(&join(path, "age_band"), "is required");
            None
        };
        let sex = if m.contains_key("sex") {
            self.enumerated(m, "sex", path, Sex::parse, Sex::ALL)
        } else {
            Some(Sex::Unknown)
        };
        let roles = self.enum_list(m, "roles", path, Role::parse, Role::ALL);
        let victim_status = if m.contains_key("victim_status") {
            self.enumerated(
                m,
                "victim_status",
                path,
                VictimStatus::parse,
                VictimStatus::ALL,
            )
        } else {
            Some(VictimStatus::None)
        };
        let suspect_status = if m.contains_key("suspect_status") {
            self.enumerated(
                m,
                "suspect_status",
                path,
                SuspectStatus::parse,
                SuspectStatus::ALL,
            )
        } else {
            Some(SuspectStatus::None)
        };
        let vulnerability_flags = self.enum_list(
            m,
            "vulnerability_flags",
            path,
            VulnerabilityFlag::parse,
            VulnerabilityFlag::ALL,
        );
        let nrm_referred = self.boolean(m, "nrm_referred", path);
        let safeguarding_referred = self.boolean(m, "safeguarding_referred", path);
        Some(Person {
            person_id: person_id?,
            age_band: age_band?,
            sex: sex?,
            roles,
            victim_status: victim_status?,
            suspect_status: suspect_status?,
            vulnerability_flags,
            nrm_referred,
            safeguarding_referred,
        })
    }

    /// Checks an extension object against a small field table; returns it unchanged if valid.
    fn extension(&mut self, v: &Value, path: &str, fields: &[(&str, Check)]) -> Option<Value> {
        let names: Vec<&str> = fields.iter().map(|f| f.0).collect();
        let m = self.object(v, path, &names)?;
        let before = self.errors.len();
        for (name, check) in fields {
            if let Some(x) = m.get(*name) {
                self.check(x, &join(path, name), check);
            }
        }
        (self.errors.len() == before).then(|| v.clone())
    }

    fn check(&mut self, v: &Value, path: &str, c: &Check) {
        match c {
            Check::Enum(all) => match v.as_str() {
                Some(s) if all.contains(&s) => {}
                Some(s) => self.err(path, format!("\"{s}\" is not one of: {}", all.join(", "))),
                None => self.err(path, format!("expected a string, found {}", type_name(v))),
            },
            Check::Text(max) => match v.as_str() {
                Some(s) if s.chars().count() <= *max => {}
                Some(_) => self.err(path, format!("is longer than {max} characters")),
                None => self.err(path, format!("expected a string, found {}", type_name(v))),
            },
            Check::Int(max) => match v.as_u64() {
                Some(n) if n <= *max => {}
                _ => self.err(path, format!("expected a whole number from 0 to {max}")),
            },
            Check::Number(max) => match v.as_f64() {
                Some(n) if (0.0..=*max).contains(&n) => {}
                _ => self.err(path, format!("expected a number from 0 to {max}")),
            },
            Check::EnumList(all, max) => match v.as_array() {
                Some(items) if items.len() <= *max => {
                    for (i, it) in items.iter().enumerate() {
                        self.check(it, &format!("{path}[{i}]"), &Check::Enum(all));
                    }
                }
                Some(_) => self.err(path, format!("at most {max} items")),
                None => self.err(path, format!("expected an array, found {}", type_name(v))),
            },
            Check::Objects(fields, max) => match v.as_array() {
                Some(items) if items.len() <= *max => {
                    for (i, it) in items.iter().enumerate() {
                        let p = format!("{path}[{i}]");
                        if let Some(m) = it.as_object() {
                            for name in fields.iter().filter_map(|f| f.0.strip_suffix('!')) {
                                if !m.contains_key(name) {
                                    self.err(&join(&p, name), "is required");
                                }
                            }
                        }
                        let stripped: Vec<(&str, Check)> = fields
                            .iter()
                            .map(|(n, c)| (n.trim_end_matches('!'), c.clone()))
                            .collect();
                        self.extension(it, &p, &stripped);
                    }
                }
                Some(_) => self.err(path, format!("at most {max} items")),
                None => self.err(path, format!("expected an array, found {}", type_name(v))),
            },
        }
    }
}

/// A field check for the extension objects (`seizures`, `grading`).
#[derive(Clone)]
enum Check {
    Enum(&'static [&'static str]),
    Text(usize),
    Int(u64),
    Number(f64),
    EnumList(&'static [&'static str], usize),
    /// an array of objects; a name ending in `!` is required
    Objects(&'static [(&'static str, Check)], usize),
}

const DRUG_FIELDS: &[(&str, Check)] = &[
    ("class!", Check::Enum(DrugClass::ALL)),
    ("type!", Check::Enum(DrugType::ALL)),
    ("wraps", Check::Int(100_000)),
    ("concealment", Check::Enum(Concealment::ALL)),
];

/// Validates one report (the JSON of one object) against schema v1 and the geography.
/// `now` is the server's clock (reports may not be from the future).
pub fn parse_report(
    v: &Value,
    geo: &Geography,
    now: OffsetDateTime,
) -> Result<Report, Vec<FieldError>> {
    let now = now.to_offset(UtcOffset::UTC);
    let mut c = Ctx {
        geo,
        today: now.date(),
        now,
        errors: Vec::new(),
    };
    let allowed = [
        "schema_version",
        "report_id",
        "reported_at",
        "source_force",
        "journey",
        "line",
        "persons",
        "seizures",
        "grading",
    ];
    let Some(m) = c.object(v, "", &allowed) else {
        return Err(c.errors);
    };
    if let Some(sv) = m.get("schema_version")
        && !matches!(sv.as_str(), Some("1" | "1.1"))
    {
        c.err(
            "schema_version",
            format!("{sv} is not a supported schema version; expected \"1\" or \"1.1\""),
        );
    }
    let report_id = c.report_id(m);
    let reported_at = c.timestamp(m, "reported_at", "", true);
    let source_force = c
        .string(m, "source_force", "", true)
        .map(|s| c.force(s, "source_force", true));
    let journey = c.journey(m.get("journey"));
    let line = m.get("line").map(|l| c.line(l));
    let mut persons = Vec::new();
    match m.get("persons") {
        None => {}
        Some(Value::Array(items)) if items.len() > MAX_PERSONS => {
            c.err("persons", format!("at most {MAX_PERSONS} persons"))
        }
        Some(Value::Array(items)) => {
            for (i, it) in items.iter().enumerate() {
                if let Some(p) = c.person(it, &format!("persons[{i}]")) {
                    persons.push(p);
                }
            }
        }
        Some(v) => c.err(
            "persons",
            format!("expected an array, found {}", type_name(v)),
        ),
    }
    let seizures = m.get("seizures").map(|v| {
        c.extension(
            v,
            "seizures",
            &[
                ("drugs", Check::Objects(DRUG_FIELDS, 50)),
                ("cash_gbp", Check::Number(100_000_000.0)),
                ("phones", Check::Int(1000)),
                ("weapons", Check::EnumList(Weapon::ALL, 50)),
            ],
        )
    });
    let grading = m.get("grading").map(|v| {
        c.extension(
            v,
            "grading",
            &[
                ("source_eval", Check::Enum(SourceEval::ALL)),
                ("intel_assessment", Check::Enum(IntelAssessment::ALL)),
                ("handling", Check::Enum(Handling::ALL)),
                ("handling_conditions", Check::Text(500)),
            ],
        )
    });
    if !c.errors.is_empty() {
        return Err(c.errors);
    }
    // every part parsed without error, so every Option below is Some
    match (report_id, reported_at, source_force, journey) {
        (Some(report_id), Some((reported_at, _)), Some(Some(source_force)), Some(journey)) => {
            Ok(Report {
                report_id,
                reported_at,
                source_force,
                journey,
                line: line.flatten(),
                persons,
                seizures: seizures
                    .flatten()
                    .and_then(|v| serde_json::value::to_raw_value(&v).ok()),
                grading: grading
                    .flatten()
                    .and_then(|v| serde_json::value::to_raw_value(&v).ok()),
            })
        }
        _ => Err(vec![FieldError {
            path: String::new(),
            message: "the report is incomplete".into(),
        }]),
    }
}
