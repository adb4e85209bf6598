//! Treatment and people over HTTP: `GET /api/treatment` (an aggregate: every role, viewers
//! and `btp_planner`s published whole) and `GET /api/people`, `GET /api/people/{psn}`
//! (person-level: analysts and admins with an `X-Justification`, audited as `read_persons`).
//! The numbers come from [`crate::layers::treatment`] (the table, published as it is made, and
//! its JSON) and [`crate::layers::people`]; this module parses, selects the journeys and
//! renders.

use super::error::ApiError;
use super::journeys::{JourneyFeature, filter_from, journey_params, record_count};
use super::layers::{Format, blocking, csv_bytes, csv_reply, format_param, opt, select};
use super::params::Params;
use super::{AppState, json_reply};
use crate::journey::map::MappedJourney;
use crate::layers::people::{self, PersonSummary};
use crate::layers::treatment::{self, By, Group, MEASURES, Table, TableRow};
use std::sync::Arc;
use warp::reply::Response;

const JSON: &str = "application/json";
const GEOJSON: &str = "application/geo+json";

/// Parameters of `/api/treatment`.
pub const TREATMENT_PARAMS: &[&str] = journey_params!(["by", "group"], ["f"]);
/// Parameters of `/api/people`.
pub const PEOPLE_PARAMS: &[&str] =
    journey_params!(["min_journeys", "min_forces", "group"], ["limit", "offset"]);
/// Parameters of `/api/people/{psn}`.
pub const PERSON_PARAMS: &[&str] = journey_params!([], []);
/// Default and largest page of `/api/people`.
pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 10_000;

fn group_param(p: &Params) -> Result<Group, ApiError> {
    p.get("group")
        .map(|s| {
            Group::parse(s).ok_or_else(|| ApiError::InvalidParameter {
                name: "group",
                message: format!("\"{s}\" is not one of {}", Group::ALL.join(", ")),
            })
        })
        .transpose()
        .map(|g| g.unwrap_or(Group::All))
}

/// The table as CSV: the national row first, then a row per force (counts, rates, funnel
/// positions).
fn table_csv(t: &Table) -> Result<Vec<u8>, ApiError> {
    let mut header: Vec<String> = ["key", "name", "encounters", "persons"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    header.extend(MEASURES.iter().map(|m| m.to_string()));
    header.extend(MEASURES.iter().map(|m| format!("{m}_rate")));
    header.extend(MEASURES.iter().map(|m| format!("{m}_funnel")));
    let head: Vec<&str> = header.iter().map(String::as_str).collect();
    let national = TableRow {
        key: "national".into(),
        name: "all encounters".into(),
        counts: t.national,
        rates: t.national_rates,
        funnel: [None; 6],
    };
    let rows = std::iter::once(&national).chain(t.rows.iter()).map(|r| {
        let s = &r.counts;
        let mut row = vec![
            r.key.clone(),
            r.name.clone(),
            opt(s.encounters),
            opt(s.persons),
        ];
        row.extend(s.measures.iter().map(|m| opt(*m)));
        row.extend(r.rates.iter().map(|x| opt(*x)));
        row.extend(r.funnel.iter().map(|p| opt(p.map(|p| p.position.as_str()))));
        row
    });
    csv_bytes(&head, rows)
}

/// `GET /api/treatment?by=..&group=..&<journey filters>[&f=csv]`.
pub async fn treatment_api(
    raw: String,
    accept: Option<String>,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Result<Response, ApiError> {
    let p = Params::parse_table(&raw, TREATMENT_PARAMS)?;
    let by = p
        .get("by")
        .map(|s| {
            By::parse(s).ok_or_else(|| ApiError::InvalidParameter {
                name: "by",
                message: format!("\"{s}\" is not one of {}", By::ALL.join(", ")),
            })
        })
        .transpose()?
        .unwrap_or(By::SourceForce);
    let group = group_param(&p)?;
    let f = filter_from(&p, &state)?;
    let (by, group, f, fmt) = (by, group, f, format_param(&p, "f", accept.as_deref())?);
    blocking(state.limits.clone(), move || {
        let sel = select(&state, &f);
        let sel: Vec<&Arc<MappedJourney>> = sel.iter().collect();
        // A viewer's and a btp_planner's table is published as it is made (the endpoint is
        // published whole): counts, then rates and funnel positions from them.
        let published = who.gets_published_whole();
        let d = published.then_some(&state.security.disclosure);
        let t = treatment::table(state.journeys.geography(), &sel, by, group, d);
        // the answer carries the notice and is marked for the guard, which adds its header
        let mark = |r| super::guard::disclosed_if(published, r);
        if fmt == Format::Csv {
            return Ok(mark(super::layers::with_selection(
                csv_reply(table_csv(&t)?, None),
                sel.len(),
            )));
        }
        let notice = d.map(|d| d.notice());
        let body = treatment::TableJson {
            table: &t,
            disclosure: notice.as_ref(),
        };
        Ok(mark(super::layers::with_selection(
            json_reply(&body, JSON),
            sel.len(),
        )))
    })
    .await
}

// ---------------------------------------------------------------- people

fn day_text(day: i32) -> String {
    crate::layers::date_of(day).to_string()
}

/// A person as an analyst sees them: the pseudonym, never the key (fields by name, as the
/// answers have always had them).
#[derive(serde::Serialize)]
struct PersonOut<'a> {
    age_bands: &'a [crate::journey::report::AgeBand],
    arrests: u32,
    child: bool,
    first_seen: String,
    forces: Vec<&'a str>,
    journeys: usize,
    last_seen: String,
    missing_episodes: u32,
    nrm_referrals: u32,
    person: String,
    roles: &'a [crate::journey::report::Role],
    safeguarding_referrals: u32,
    signals: Vec<&'static str>,
    victim_statuses: &'a [crate::journey::report::VictimStatus],
}

impl<'a> PersonOut<'a> {
    fn new(state: &'a AppState, s: &'a PersonSummary<'_>) -> PersonOut<'a> {
        let g = state.journeys.geography();
        PersonOut {
            age_bands: &s.age_bands,
            arrests: s.arrests,
            child: s.child,
            first_seen: day_text(s.first_seen),
            forces: s
                .forces
                .iter()
                .map(|&f| g.forces.get(f as usize).code.as_str())
                .collect(),
            journeys: s.journeys.len(),
            last_seen: day_text(s.last_seen),
            missing_episodes: s.missing_episodes,
            nrm_referrals: s.nrm_referrals,
            person: state.security.pseudonyms.person(s.key),
            roles: &s.roles,
            safeguarding_referrals: s.safeguarding_referrals,
            signals: s.signals.iter().map(|x| x.as_str()).collect(),
            victim_statuses: &s.victim_statuses,
        }
    }
}

/// `/api/people`.
#[derive(serde::Serialize)]
struct PeopleAnswer<'a> {
    #[serde(rename = "numberMatched")]
    matched: usize,
    #[serde(rename = "numberReturned")]
    returned: usize,
    people: Vec<PersonOut<'a>>,
}

/// `/api/people/{psn}`: the person's journeys as GeoJSON features, with their summary.
#[derive(serde::Serialize)]
struct PersonAnswer<'a> {
    features: Vec<JourneyFeature<'a>>,
    #[serde(rename = "numberMatched")]
    matched: usize,
    #[serde(rename = "numberReturned")]
    returned: usize,
    person: PersonOut<'a>,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// "Today" for the new-force signal: the `to` of the filter, else the last selected journey.
fn reference_day(f: &crate::journey::index::JourneyFilter, sel: &[&Arc<MappedJourney>]) -> i32 {
    f.to_day
        .or_else(|| sel.iter().map(|j| j.day).max())
        .unwrap_or(0)
}

fn count_param(p: &Params, name: &'static str, default: i64) -> Result<usize, ApiError> {
    Ok(p.int(name, 1, 1_000_000)?.unwrap_or(default) as usize)
}

/// `GET /api/people?min_journeys=2&min_forces=1&group=..&<journey filters>&limit=..&offset=..`.
pub async fn people_api(
    raw: String,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Result<Response, ApiError> {
    let p = Params::parse(&raw, PEOPLE_PARAMS)?;
    let min_journeys = count_param(&p, "min_journeys", 2)?;
    let min_forces = count_param(&p, "min_forces", 1)?;
    let group = group_param(&p)?;
    let limit = p.int("limit", 1, MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT) as usize;
    let offset = p.int("offset", 0, i64::MAX)?.unwrap_or(0) as usize;
    let mut f = filter_from(&p, &state)?;
    // person-level: only the journeys the caller may read (a force analyst's force)
    who.check_journey_read(true)?;
    who.scope(&mut f, &state);
    blocking(state.limits.clone(), move || {
        let sel = select(&state, &f);
        let sel: Vec<&Arc<MappedJourney>> = sel.iter().collect();
        let list = people::people(
            &sel,
            group,
            min_journeys,
            min_forces,
            reference_day(&f, &sel),
        );
        // ties broken by pseudonym, not by the key: the order says nothing of the keys
        let mut named: Vec<(String, &PersonSummary<'_>)> = list
            .iter()
            .map(|s| (state.security.pseudonyms.person(s.key), s))
            .collect();
        named.sort_by(|(pa, a), (pb, b)| {
            b.journeys
                .len()
                .cmp(&a.journeys.len())
                .then(b.last_seen.cmp(&a.last_seen))
                .then(pa.cmp(pb))
        });
        let matched = named.len();
        let page: Vec<PersonOut> = named
            .iter()
            .skip(offset)
            .take(limit)
            .map(|(_, s)| PersonOut::new(&state, s))
            .collect();
        let n = page.len();
        let body = PeopleAnswer {
            matched,
            returned: n,
            people: page,
        };
        Ok(record_count(json_reply(&body, JSON), n))
    })
    .await
}

/// Whether `s` is a pseudonym as the server writes them (`psn_` and 16 hex digits).
fn is_pseudonym(s: &str) -> bool {
    s.len() == 20
        && s.starts_with("psn_")
        && s[4..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `GET /api/people/{psn}`: the person's selected journeys in date order as a
/// FeatureCollection, with their summary as `person`.
pub async fn person_api(
    psn: String,
    raw: String,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Result<Response, ApiError> {
    if !is_pseudonym(&psn) {
        return Err(ApiError::InvalidParameter {
            name: "psn",
            message: format!(
                "\"{psn}\" is not a person pseudonym (psn_ and 16 lower-case hex digits)"
            ),
        });
    }
    let p = Params::parse(&raw, PERSON_PARAMS)?;
    let mut f = filter_from(&p, &state)?;
    who.check_journey_read(true)?;
    who.scope(&mut f, &state);
    blocking(state.limits.clone(), move || {
        let sel = select(&state, &f);
        let sel: Vec<&Arc<MappedJourney>> = sel.iter().collect();
        let keys = &state.security.pseudonyms;
        let mut tried = std::collections::HashSet::new();
        let key = sel
            .iter()
            .flat_map(|j| j.report.persons.iter())
            .map(|p| p.person_id.as_str())
            .find(|k| tried.insert(*k) && keys.person(k) == psn)
            .ok_or_else(|| {
                ApiError::NotFound(format!("no person \"{psn}\" on the selected journeys"))
            })?;
        let mut js: Vec<&Arc<MappedJourney>> = sel
            .iter()
            .copied()
            .filter(|j| j.report.persons.iter().any(|p| p.person_id == key))
            .collect();
        js.sort_by_key(|j| j.day);
        let (summary, _) = people::summarise(key, js, reference_day(&f, &sel));
        let features: Vec<JourneyFeature> = summary
            .journeys
            .iter()
            .map(|j| JourneyFeature {
                state: &state,
                journey: j,
                geometry: true,
                crs: super::crs::Crs::Crs84,
                persons: false,
            })
            .collect();
        let n = features.len();
        let body = PersonAnswer {
            features,
            matched: n,
            returned: n,
            person: PersonOut::new(&state, &summary),
            kind: "FeatureCollection",
        };
        Ok(record_count(json_reply(&body, GEOJSON), n))
    })
    .await
}
