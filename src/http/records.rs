//! The record-keeping endpoints (admins, with a reason in `X-Justification`): rectification of
//! a report (`PUT /api/journeys/{id}`, DPA 2018 s.46) and its versions
//! (`GET /api/journeys/{id}/versions`), and review under the MoPI code (`GET /api/review`,
//! `POST /api/review/{id}`). Each is an audit action (see `guard::audit_action`).

use super::error::ApiError;
use super::journeys::{MAX_BODY, feature, read_limited, record_count};
use super::params::Params;
use super::{AppState, json_reply};
use crate::ingest::RectifyOutcome;
use crate::journey::report::{format_date, parse_date};
use serde_json::{Value, json};
use std::sync::Arc;
use warp::reply::Response;

/// The response header that tells the audit which review decision was taken (removed before
/// the answer leaves).
pub const REVIEW_DECISION: &str = "x-review-decision";

/// The caller's reason, or 403 `justification_required` naming what it is for.
fn reason(justification: Option<String>, what: &str) -> Result<String, ApiError> {
    justification
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::JustificationRequired(format!(
                "{what} needs a reason: send it in an X-Justification header (it is kept with the record and written to the audit log)"
            ))
        })
}

fn actor(who: &super::guard::Who) -> String {
    who.0
        .as_ref()
        .map_or("unknown", |p| p.name.as_str())
        .to_string()
}

/// A JSON object body (the content type JSON, or none).
async fn json_body<S, B>(headers: &warp::http::HeaderMap, body: S) -> Result<Value, ApiError>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>>,
    B: warp::hyper::body::Buf,
{
    let ct = headers
        .get(warp::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let base = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if base != "application/json" {
        return Err(ApiError::UnsupportedMediaType(format!(
            "content type \"{base}\" is not accepted: send application/json"
        )));
    }
    let bytes = read_limited(headers, body, MAX_BODY).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest("the request body is empty".into()));
    }
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::InvalidJson(format!("the body is not valid JSON: {e}")))?;
    if !v.is_object() {
        return Err(ApiError::BadRequest("expected a JSON object".into()));
    }
    Ok(v)
}

/// `PUT /api/journeys/{id}`: replaces a report with a corrected version (validated as a POSTed
/// report is; its `report_id` the path's, or left out). The earlier version stays readable to
/// admins; every layer, list and export uses the new one at once (other instances within a
/// poll). A restricted report may be rectified and stays restricted.
pub async fn rectify<S, B>(
    id: String,
    justification: Option<String>,
    headers: warp::http::HeaderMap,
    body: S,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Result<Response, ApiError>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>>,
    B: warp::hyper::body::Buf,
{
    let why = reason(justification, "rectifying a report")?;
    let mut v = json_body(&headers, body).await?;
    match v.get("report_id") {
        None => {
            v["report_id"] = Value::String(id.clone());
        }
        Some(Value::String(s)) if *s == id => {}
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "the body's report_id {other} is not the path's \"{id}\": a rectification keeps the report's id (leave report_id out, or give the same)"
            )));
        }
    }
    let (at, who_name) = (crate::access::audit::now(), actor(&who));
    let st = state.clone();
    let at2 = at.clone();
    let now = time::OffsetDateTime::now_utc();
    let done = super::offload_write(state.limits.clone(), move || {
        st.journeys.rectify(&v, at2, who_name, why, now)
    })
    .await;
    let answer = |j: &crate::journey::map::MappedJourney, version: i64, changed: bool| {
        record_count(
            json_reply(
                &json!({
                    "report_id": id,
                    "version": version,
                    "changed": changed,
                    "at": at,
                    "journey": feature(&state, j, true),
                }),
                "application/json",
            ),
            usize::from(changed),
        )
    };
    match done {
        Ok(Ok(RectifyOutcome::Done(j, version))) => Ok(answer(&j, version, true)),
        Ok(Ok(RectifyOutcome::Unchanged(j, version))) => Ok(answer(&j, version, false)),
        Ok(Ok(RectifyOutcome::NoSuchReport)) => {
            Err(ApiError::NotFound(format!("no report \"{id}\"")))
        }
        Ok(Ok(RectifyOutcome::Erased)) => {
            Err(ApiError::Gone(format!("the report \"{id}\" was erased")))
        }
        Ok(Ok(RectifyOutcome::Rejected(errors))) => Err(ApiError::InvalidCorrection(errors)),
        Ok(Err(e)) => Err(ApiError::Unavailable(format!("the store: {e}"))),
        Err(e) => Err(e),
    }
}

/// A stored report's JSON as an admin may see it: person ids as their pseudonyms.
fn pseudonymised(body: &str, keys: &crate::access::Pseudonyms) -> Value {
    let mut v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    if let Some(persons) = v.get_mut("persons").and_then(Value::as_array_mut) {
        for p in persons.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(Value::String(id)) = p.remove("person_id") {
                p.insert("pseudonym".into(), Value::String(keys.person(&id)));
            }
        }
    }
    v
}

/// `GET /api/journeys/{id}/versions` (admins): every version of a report, newest first: its
/// number, when, who and why (none for the version as posted), whether it is current, and the
/// report as it was (person ids as pseudonyms).
pub async fn versions(id: String, raw: String, state: Arc<AppState>) -> Result<Response, ApiError> {
    Params::parse(&raw, &[])?;
    let st = state.clone();
    let rid = id.clone();
    let found = super::offload(state.limits.clone(), move || {
        st.journeys.store().versions(&rid)
    })
    .await;
    match found {
        Ok(Ok(Some(list))) => {
            let keys = &state.security.pseudonyms;
            let out: Vec<Value> = list
                .iter()
                .map(|v| {
                    json!({
                        "version": v.version,
                        "current": v.current,
                        "at": v.at,
                        "actor": v.actor,
                        "reason": v.reason,
                        "report": pseudonymised(&v.body, keys),
                    })
                })
                .collect();
            let n = out.len();
            Ok(record_count(
                json_reply(
                    &json!({"report_id": id, "versions": out}),
                    "application/json",
                ),
                n,
            ))
        }
        Ok(Ok(None)) if state.journeys.is_erased(&id) => {
            Err(ApiError::Gone(format!("the report \"{id}\" was erased")))
        }
        Ok(Ok(None)) => Err(ApiError::NotFound(format!("no report \"{id}\""))),
        Ok(Err(e)) => Err(ApiError::Unavailable(format!("the store: {e}"))),
        Err(e) => Err(e),
    }
}

/// The query parameters of `GET /api/review`.
pub const REVIEW_PARAMS: &[&str] = &["due_before", "limit", "offset"];

/// A date parameter or field (YYYY-MM-DD, 2000 to 2200).
fn date_value(name: &'static str, s: &str) -> Result<time::Date, ApiError> {
    parse_date(s.trim())
        .filter(|d| (2000..=2200).contains(&d.year()))
        .ok_or_else(|| ApiError::InvalidParameter {
            name,
            message: format!("\"{s}\" is not a date YYYY-MM-DD from 2000 to 2200"),
        })
}

/// `GET /api/review?due_before=YYYY-MM-DD[&limit&offset]` (admins): the reports whose review
/// date is before `due_before` (default: tomorrow, so those due today too), oldest first.
pub async fn review_list(raw: String, state: Arc<AppState>) -> Result<Response, ApiError> {
    let p = Params::parse(&raw, REVIEW_PARAMS)?;
    let due = match p.get("due_before") {
        Some(s) => date_value("due_before", s)?,
        None => time::OffsetDateTime::now_utc()
            .date()
            .next_day()
            .unwrap_or(time::Date::MAX),
    };
    let limit = p
        .int("limit", 1, super::journeys::MAX_LIMIT)?
        .unwrap_or(super::journeys::DEFAULT_LIMIT) as usize;
    let offset = p.int("offset", 0, i64::MAX)?.unwrap_or(0) as usize;
    let st = state.clone();
    let res = super::offload(state.limits.clone(), move || {
        crate::store::review_queue(
            st.journeys.store().as_ref(),
            st.journeys.review_after(),
            due,
        )
    })
    .await;
    match res {
        Ok(Ok(all)) => {
            let matched = all.len();
            let page: Vec<_> = all.into_iter().skip(offset).take(limit).collect();
            let n = page.len();
            Ok(record_count(
                json_reply(
                    &json!({
                        "due_before": format_date(due),
                        "review_after": state.journeys.review_after().to_string(),
                        "numberMatched": matched,
                        "numberReturned": n,
                        "reports": page,
                    }),
                    "application/json",
                ),
                n,
            ))
        }
        Ok(Err(e)) => Err(ApiError::Unavailable(format!("the store: {e}"))),
        Err(e) => Err(e),
    }
}

/// A review decision's body: `{"decision": "retain", "review_date": "YYYY-MM-DD", "reason"}`
/// (a date after today) or `{"decision": "dispose", "reason"}`.
fn decision(v: &Value) -> Result<(bool, Option<time::Date>, String), ApiError> {
    let field = |name: &str| v.get(name).filter(|x| !x.is_null());
    if let Some(extra) = v.as_object().and_then(|m| {
        m.keys()
            .find(|k| !matches!(k.as_str(), "decision" | "review_date" | "reason"))
    }) {
        return Err(ApiError::BadRequest(format!(
            "unknown field \"{extra}\": a decision has decision, review_date and reason"
        )));
    }
    let reason = match field("reason") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 2000 => s.trim().to_string(),
        Some(_) => {
            return Err(ApiError::BadRequest(
                "reason must be a non-empty string of at most 2,000 bytes".into(),
            ));
        }
        None => return Err(ApiError::BadRequest("a decision needs a reason".into())),
    };
    let date = match field("review_date") {
        Some(Value::String(s)) => {
            Some(parse_date(s).filter(|d| d.year() <= 2200).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "review_date \"{s}\" is not a date YYYY-MM-DD up to 2200"
                ))
            })?)
        }
        Some(_) => {
            return Err(ApiError::BadRequest(
                "review_date must be a date YYYY-MM-DD".into(),
            ));
        }
        None => None,
    };
    match field("decision").and_then(Value::as_str) {
        Some("retain") => {
            let today = time::OffsetDateTime::now_utc().date();
            match date {
                Some(d) if d > today => Ok((true, Some(d), reason)),
                Some(d) => Err(ApiError::BadRequest(format!(
                    "review_date {} is not after today ({}): a retained report's next review is in the future",
                    format_date(d),
                    format_date(today)
                ))),
                None => Err(ApiError::BadRequest(
                    "retain needs a review_date: the date of the next review".into(),
                )),
            }
        }
        Some("dispose") if date.is_some() => Err(ApiError::BadRequest(
            "dispose takes no review_date: the report is erased".into(),
        )),
        Some("dispose") => Ok((false, None, reason)),
        _ => Err(ApiError::BadRequest(
            "decision must be \"retain\" or \"dispose\"".into(),
        )),
    }
}

/// `POST /api/review/{id}` (admins, with `X-Justification`): records a review decision.
/// `retain` sets the report's next review date (kept in its decision history); `dispose`
/// erases it as `DELETE /api/journeys/{id}` does (the tombstone keeps the reason).
pub async fn review_decide<S, B>(
    id: String,
    justification: Option<String>,
    headers: warp::http::HeaderMap,
    body: S,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Result<Response, ApiError>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>>,
    B: warp::hyper::body::Buf,
{
    reason(justification, "a review decision")?;
    let (retain, date, why) = decision(&json_body(&headers, body).await?)?;
    let at = crate::access::audit::now();
    let actor = actor(&who);
    let st = state.clone();
    let (rid, at2, why2) = (id.clone(), at.clone(), why.clone());
    let done = super::offload_write(state.limits.clone(), move || {
        if retain {
            let d = crate::store::Decision {
                decision: "retain".into(),
                review_date: date.map(format_date),
                reason: why2,
                actor,
                at: at2,
            };
            st.journeys
                .store()
                .retain(&rid, &d)
                .map(|found| match found {
                    true => crate::store::Erased::Done,
                    false if st.journeys.is_erased(&rid) => crate::store::Erased::Already,
                    false => crate::store::Erased::NoSuchReport,
                })
        } else {
            st.journeys.erase(&crate::store::Tombstone {
                report_id: rid,
                at: at2,
                actor,
                reason: why2,
            })
        }
    })
    .await;
    let label = if retain { "retain" } else { "dispose" };
    match done {
        Ok(Ok(crate::store::Erased::Done)) => {
            let mut body = json!({"report_id": id, "decision": label, "reason": why, "at": at});
            match date {
                Some(d) => body["review_date"] = json!(format_date(d)),
                None => body["erased"] = json!(true),
            }
            let mut r = record_count(json_reply(&body, "application/json"), 1);
            r.headers_mut()
                .insert(REVIEW_DECISION, warp::http::HeaderValue::from_static(label));
            Ok(r)
        }
        Ok(Ok(crate::store::Erased::NoSuchReport)) => {
            Err(ApiError::NotFound(format!("no report \"{id}\"")))
        }
        Ok(Ok(crate::store::Erased::Already)) => {
            Err(ApiError::Gone(format!("the report \"{id}\" was erased")))
        }
        Ok(Err(e)) => Err(ApiError::Unavailable(format!("the store: {e}"))),
        Err(e) => Err(e),
    }
}
