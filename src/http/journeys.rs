//! `/api/journeys`: ingest (POST) and read (GET) journey reports.

use super::error::ApiError;
use super::params::Params;
use super::{AppState, json_reply, round7};
use crate::ingest::Outcome;
use crate::journey::index::JourneyFilter;
use crate::journey::map::{MappedJourney, RouteGeometry, day_number};
use crate::journey::report::{FieldError, parse_date};
use serde_json::{Value, json};
use std::sync::Arc;
use warp::http::StatusCode;
use warp::reply::Response;

/// Largest request body accepted, bytes (16 MiB).
pub const MAX_BODY: u64 = 16 * 1024 * 1024;
/// Most records in one batch.
pub const MAX_BATCH: usize = 10_000;
/// Default and largest page size of `GET /api/journeys`.
pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 10_000;

const GEOJSON: &str = "application/geo+json";

/// A journey as a GeoJSON Feature, serialised straight to the output (no intermediate JSON
/// tree for the route's coordinates: a page of 1,000 rail journeys is a million positions),
/// in `crs`. `geometry` false writes `null` (batch answers).
pub struct JourneyFeature<'a> {
    pub state: &'a AppState,
    pub journey: &'a MappedJourney,
    pub geometry: bool,
    pub crs: super::crs::Crs,
    /// add `persons_summary` (pseudonymised; for analysts who gave a justification)
    pub persons: bool,
}

/// A LineString's positions in a CRS: CRS84 rounded to 1e-7 degrees (about 1 cm).
struct Positions<'a>(&'a [[f64; 2]], super::crs::Crs);

impl serde::Serialize for Positions<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use super::crs::Crs;
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for p in self.0 {
            let q = [round7(p[0]), round7(p[1])];
            match self.1 {
                Crs::Crs84 => seq.serialize_element(&q)?,
                Crs::Epsg4326 => seq.serialize_element(&[q[1], q[0]])?,
                Crs::Epsg27700 => seq.serialize_element(&self.1.from_lonlat(*p))?,
            }
        }
        seq.end()
    }
}

impl serde::Serialize for JourneyFeature<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let geo = self.state.journeys.geography();
        let j = self.journey;
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("type", "Feature")?;
        m.serialize_entry("id", &j.report.report_id)?;
        if self.geometry {
            let coords = j.route.coords(geo);
            m.serialize_entry(
                "geometry",
                &GeometryOut {
                    kind: "LineString",
                    coordinates: Positions(&coords, self.crs),
                },
            )?;
        } else {
            m.serialize_entry("geometry", &Value::Null)?;
        }
        m.serialize_entry("properties", &self.properties())?;
        m.end()
    }
}

impl JourneyFeature<'_> {
    /// The feature's properties: the journey's typed row, with `persons_summary` for an
    /// analyst who may see it.
    fn properties(&self) -> crate::journey::map::JourneyProperties<'_> {
        let mut row = self.journey.row(self.state.journeys.geography());
        if self.persons {
            row.persons_summary = Some(persons_summary(
                &self.state.security.pseudonyms,
                &self.journey.report.persons,
            ));
        }
        row
    }

    /// Writes the feature as its `Serialize` does, byte for byte, with the route's coordinates
    /// written straight to bytes ([`super::coords`]) and, for a route already written into
    /// `out` (journeys on one route, keyed in `routes` by its address), copied from there.
    pub fn write_json(
        &self,
        out: &mut Vec<u8>,
        routes: &mut std::collections::HashMap<usize, (usize, usize)>,
    ) {
        let geo = self.state.journeys.geography();
        let j = self.journey;
        out.extend_from_slice(br#"{"type":"Feature","id":"#);
        let _ = serde_json::to_writer(&mut *out, &j.report.report_id);
        if self.geometry {
            out.extend_from_slice(br#","geometry":{"type":"LineString","coordinates":"#);
            let key = Arc::as_ptr(&j.route) as usize;
            match routes.get(&key) {
                Some(&(from, to)) => out.extend_from_within(from..to),
                None => {
                    let from = out.len();
                    let written = match (&j.route.geometry, self.crs) {
                        (RouteGeometry::Pieces(pieces), super::crs::Crs::Crs84) => self
                            .state
                            .chain_text
                            .get_or_init(|| super::coords::ChainText::build(&geo.rail))
                            .write_route(out, &geo.rail, pieces),
                        _ => false,
                    };
                    if !written {
                        let coords = j.route.coords(geo);
                        // about 24 bytes a position: one allocation rather than several copies
                        out.reserve(coords.len() * 24 + 2);
                        super::coords::write_positions(out, &coords, self.crs);
                    }
                    routes.insert(key, (from, out.len()));
                }
            }
            out.push(b'}');
        } else {
            out.extend_from_slice(br#","geometry":null"#);
        }
        out.extend_from_slice(br#","properties":"#);
        let _ = serde_json::to_writer(&mut *out, &self.properties());
        out.push(b'}');
    }
}

impl FeatureCollectionOut<JourneyFeature<'_>> {
    /// The collection as serde_json writes it, byte for byte, its features written by
    /// [`JourneyFeature::write_json`] (each distinct route's coordinates once).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4096 + self.features.len() * 8192);
        out.extend_from_slice(br#"{"type":"FeatureCollection","numberMatched":"#);
        let _ = serde_json::to_writer(&mut out, &self.number_matched);
        out.extend_from_slice(br#","numberReturned":"#);
        let _ = serde_json::to_writer(&mut out, &self.number_returned);
        out.extend_from_slice(br#","features":["#);
        let mut routes = std::collections::HashMap::new();
        for (k, f) in self.features.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            f.write_json(&mut out, &mut routes);
        }
        out.extend_from_slice(br#"],"links":"#);
        let _ = serde_json::to_writer(&mut out, &self.links);
        if let Some(n) = self.untimed_excluded {
            out.extend_from_slice(br#","untimed_excluded":"#);
            let _ = serde_json::to_writer(&mut out, &n);
        }
        out.push(b'}');
        out
    }

    /// The collection as a response of `content_type` ([`Self::to_bytes`]).
    pub fn reply(&self, content_type: &'static str) -> Response {
        let mut r = Response::new(self.to_bytes().into());
        r.headers_mut().insert(
            warp::http::header::CONTENT_TYPE,
            warp::http::HeaderValue::from_static(content_type),
        );
        r
    }
}

/// The persons of a report as an analyst may see them: person ids only as keyed pseudonyms;
/// age band, roles, victim status and referrals; no sex, suspect status or vulnerability flags
/// (sensitive processing, DPA 2018 s.35).
pub fn persons_summary(
    keys: &crate::access::Pseudonyms,
    persons: &[crate::journey::report::Person],
) -> Value {
    Value::Array(
        persons
            .iter()
            .map(|p| {
                json!({
                    "pseudonym": keys.person(&p.person_id),
                    "age_band": p.age_band,
                    "roles": p.roles,
                    "victim_status": p.victim_status,
                    "nrm_referred": p.nrm_referred,
                    "safeguarding_referred": p.safeguarding_referred,
                })
            })
            .collect(),
    )
}

/// Sets `X-Record-Count` (what the audit entry records).
pub fn record_count(mut r: Response, n: usize) -> Response {
    r.headers_mut()
        .insert(super::guard::RECORD_COUNT, warp::http::HeaderValue::from(n));
    r
}

#[derive(serde::Serialize)]
struct GeometryOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    coordinates: Positions<'a>,
}

/// A journey as a GeoJSON Feature value (CRS84); `geometry` false leaves it out.
pub fn feature(state: &AppState, j: &MappedJourney, geometry: bool) -> Value {
    serde_json::to_value(JourneyFeature {
        state,
        journey: j,
        geometry,
        crs: super::crs::Crs::Crs84,
        persons: false,
    })
    .unwrap_or(Value::Null)
}

fn with_status(mut r: Response, s: StatusCode) -> Response {
    *r.status_mut() = s;
    r
}

enum BodyKind {
    Json,
    Ndjson,
}

fn body_kind(content_type: Option<&str>) -> Result<BodyKind, ApiError> {
    let ct = content_type
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match ct.as_str() {
        "application/json" | "application/geo+json" => Ok(BodyKind::Json),
        "application/x-ndjson" | "application/ndjson" | "application/jsonl" => Ok(BodyKind::Ndjson),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "content type \"{other}\" is not accepted: send application/json (one report or an array) or application/x-ndjson"
        ))),
    }
}

/// Splits a request body into records: (values, whether it was a batch).
fn records(
    kind: BodyKind,
    body: &[u8],
) -> Result<(Vec<Result<Value, FieldError>>, bool), ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest(
            "the request body is empty: send a journey report".into(),
        ));
    }
    match kind {
        BodyKind::Json => {
            let v: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::InvalidJson(format!("the body is not valid JSON: {e}")))?;
            match v {
                Value::Array(items) if items.len() > MAX_BATCH => {
                    Err(ApiError::BadRequest(format!(
                        "a batch holds at most {MAX_BATCH} reports; this one has {}",
                        items.len()
                    )))
                }
                Value::Array(items) if items.is_empty() => {
                    Err(ApiError::BadRequest("the batch is empty".into()))
                }
                Value::Array(items) => Ok((items.into_iter().map(Ok).collect(), true)),
                v @ Value::Object(_) => Ok((vec![Ok(v)], false)),
                _ => Err(ApiError::BadRequest(
                    "expected a JSON object (one report) or an array of reports".into(),
                )),
            }
        }
        BodyKind::Ndjson => {
            let text = std::str::from_utf8(body)
                .map_err(|_| ApiError::BadRequest("the NDJSON body is not UTF-8".into()))?;
            let mut out = Vec::new();
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                if out.len() == MAX_BATCH {
                    return Err(ApiError::BadRequest(format!(
                        "a batch holds at most {MAX_BATCH} reports"
                    )));
                }
                out.push(serde_json::from_str::<Value>(line).map_err(|e| FieldError {
                    path: String::new(),
                    message: format!("line {}: not valid JSON: {e}", n + 1),
                }));
            }
            Ok((out, true))
        }
    }
}

fn error_list(errors: &[FieldError]) -> Value {
    Value::Array(
        errors
            .iter()
            .map(|e| json!({"path": e.path, "message": e.message}))
            .collect(),
    )
}

/// Reads a request body up to `limit` bytes; a larger one is refused as soon as that is known
/// (from Content-Length, or while streaming a chunked body) without holding it in memory.
pub async fn read_limited<S, B>(
    headers: &warp::http::HeaderMap,
    body: S,
    limit: u64,
) -> Result<Vec<u8>, ApiError>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>>,
    B: warp::hyper::body::Buf,
{
    use futures_util::StreamExt;
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "the request body is larger than the limit of {limit} bytes (16 MiB): split the batch"
        ))
    };
    let declared = headers
        .get(warp::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut out = Vec::with_capacity(declared.unwrap_or(0) as usize);
    let mut body = std::pin::pin!(body);
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk
            .map_err(|e| ApiError::BadRequest(format!("cannot read the request body: {e}")))?;
        if out.len() as u64 + chunk.remaining() as u64 > limit {
            return Err(too_large());
        }
        while chunk.has_remaining() {
            let c = chunk.chunk();
            out.extend_from_slice(c);
            let n = c.len();
            chunk.advance(n);
        }
    }
    Ok(out)
}

pub async fn post_stream<S, B>(
    headers: warp::http::HeaderMap,
    body: S,
    raw: String,
    state: Arc<AppState>,
) -> Result<Response, ApiError>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>>,
    B: warp::hyper::body::Buf,
{
    let content_type = headers
        .get(warp::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Params::parse(&raw, &[])?;
    body_kind(content_type.as_deref())?;
    let bytes = read_limited(&headers, body, MAX_BODY).await?;
    post(content_type, bytes, raw, state).await
}

pub async fn post(
    content_type: Option<String>,
    body: Vec<u8>,
    raw: String,
    state: Arc<AppState>,
) -> Result<Response, ApiError> {
    Params::parse(&raw, &[])?;
    let (values, batch) = records(body_kind(content_type.as_deref())?, &body)?;
    let st = state.clone();
    let now = time::OffsetDateTime::now_utc();
    let outcomes = super::offload_write(state.limits.clone(), move || {
        st.journeys.ingest(&values, now)
    })
    .await?
    .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    if !batch {
        return match outcomes.into_iter().next() {
            Some(Outcome::Created(j)) => Ok(record_count(
                with_status(
                    json_reply(&feature(&state, &j, true), GEOJSON),
                    StatusCode::CREATED,
                ),
                1,
            )),
            Some(Outcome::Exists(j)) => Ok(json_reply(&feature(&state, &j, true), GEOJSON)),
            Some(Outcome::Conflict(id)) => Err(ApiError::Conflict(format!(
                "report_id \"{id}\" is already stored with different content; reports are append-only"
            ))),
            Some(Outcome::Rejected(errors)) => Err(ApiError::InvalidReport(errors)),
            Some(Outcome::Erased(id)) => Err(ApiError::Gone(format!(
                "report_id \"{id}\" was erased; an erased id is not taken again"
            ))),
            None => Err(ApiError::Internal("no outcome for a single report".into())),
        };
    }
    let (mut created, mut existing, mut rejected) = (0, 0, 0);
    let results: Vec<Value> = outcomes
        .iter()
        .enumerate()
        .map(|(i, o)| match o {
            Outcome::Created(j) => {
                created += 1;
                json!({"index": i, "report_id": j.report.report_id, "status": "created", "journey": feature(&state, j, false)})
            }
            Outcome::Exists(j) => {
                existing += 1;
                json!({"index": i, "report_id": j.report.report_id, "status": "exists", "journey": feature(&state, j, false)})
            }
            Outcome::Conflict(id) => {
                rejected += 1;
                json!({"index": i, "report_id": id, "status": "conflict", "errors": [{"path": "report_id", "message": "already stored with different content"}]})
            }
            Outcome::Erased(id) => {
                rejected += 1;
                json!({"index": i, "report_id": id, "status": "erased", "errors": [{"path": "report_id", "message": "this id was erased"}]})
            }
            Outcome::Rejected(errors) => {
                rejected += 1;
                json!({"index": i, "status": "rejected", "errors": error_list(errors)})
            }
        })
        .collect();
    let status = match (created + existing, rejected) {
        (_, 0) if created > 0 => StatusCode::CREATED,
        (_, 0) => StatusCode::OK,
        (0, _) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::MULTI_STATUS,
    };
    let body =
        json!({"created": created, "existing": existing, "rejected": rejected, "results": results});
    Ok(record_count(
        with_status(json_reply(&body, "application/json"), status),
        created,
    ))
}

pub fn get_one(
    id: String,
    raw: String,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Result<Response, ApiError> {
    let p = Params::parse(&raw, &["persons"])?;
    let persons = bool_param(&p, "persons")?.unwrap_or(false);
    who.check_journey_read(persons)?;
    // A journey the caller may not see is as absent as one that does not exist.
    let found = {
        let idx = state.journeys.index();
        idx.get(&id)
            .filter(|j| who.may_see(j, idx.is_restricted(&id), &state))
            .cloned()
    };
    let j =
        found.ok_or_else(|| ApiError::NotFound(format!("no journey with report_id \"{id}\"")))?;
    Ok(record_count(
        json_reply(
            &JourneyFeature {
                state: &state,
                journey: &j,
                geometry: true,
                crs: super::crs::Crs::Crs84,
                persons,
            },
            GEOJSON,
        ),
        1,
    ))
}

/// A parameter list: `before`, the journey filters (every name [`filter_from`] reads), `after`.
/// One list of filter names for every endpoint that takes them.
macro_rules! journey_params {
    ([$($before:literal),*], [$($after:literal),*]) => {
        &[
            $($before,)*
            "from", "to", "bbox", "force", "cross_border", "exporting_force", "importing_force",
            "mode", "age_band", "role", "line", "station", "hours", "days",
            $($after),*
        ]
    };
}
pub(crate) use journey_params;

/// The journey filters, each a query parameter (see [`filter_from`]).
pub const JOURNEY_FILTERS: &[&str] = journey_params!([], []);

/// A force parameter: a GSS code of a force in the data.
pub fn force_param(
    p: &Params,
    name: &'static str,
    state: &AppState,
) -> Result<Option<u16>, ApiError> {
    p.get(name)
        .map(|s| {
            let code = crate::geography::ForceCode::parse(s)
                .map_err(|message| ApiError::InvalidParameter { name, message })?;
            state
                .journeys
                .geography()
                .forces
                .index_of(&code)
                .map(|i| i as u16)
                .ok_or_else(|| ApiError::InvalidParameter {
                    name,
                    message: format!("unknown force \"{code}\""),
                })
        })
        .transpose()
}

/// A comma-separated list of enumeration values (empty when the parameter is absent).
fn list_param<T>(
    p: &Params,
    name: &'static str,
    parse: fn(&str) -> Option<T>,
    all: &[&str],
) -> Result<Vec<T>, ApiError> {
    let Some(s) = p.get(name) else {
        return Ok(Vec::new());
    };
    s.split(',')
        .map(|v| {
            parse(v.trim()).ok_or_else(|| ApiError::InvalidParameter {
                name,
                message: format!("\"{v}\" is not one of {}", all.join(", ")),
            })
        })
        .collect()
}

/// A `true`/`false` parameter.
pub fn bool_param(p: &Params, name: &'static str) -> Result<Option<bool>, ApiError> {
    p.get(name)
        .map(|s| match s {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(ApiError::InvalidParameter {
                name,
                message: format!("\"{s}\" is not true or false"),
            }),
        })
        .transpose()
}

/// Days after today a date in a query may be (a planned operation's window, a clock a little
/// ahead); later dates are refused.
pub const MAX_DAYS_AHEAD: i32 = 366;

/// A day in a query, bounded to the dates reports may have: from 2000-01-01 (the report
/// schema's earliest) to [`MAX_DAYS_AHEAD`] days after today. Outside that is an error naming
/// the range, so no request can ask for centuries of periods.
pub fn bounded_day(d: time::Date) -> Result<i32, String> {
    use crate::journey::report::{EARLIEST_DATE, format_date};
    let day = day_number(d);
    let latest = super::layers::today() + MAX_DAYS_AHEAD;
    if d < EARLIEST_DATE || day > latest {
        return Err(format!(
            "{} is outside the dates reports may have ({} to {})",
            format_date(d),
            format_date(EARLIEST_DATE),
            crate::layers::date_of(latest)
        ));
    }
    Ok(day)
}

/// Parses the journey filters shared by the list, layer and export endpoints: whichever of
/// [`JOURNEY_FILTERS`] the query has.
pub fn filter_from(p: &Params, state: &AppState) -> Result<JourneyFilter, ApiError> {
    use crate::journey::report::{AgeBand, Mode, Role};
    let day = |name: &'static str| -> Result<Option<i32>, ApiError> {
        p.get(name)
            .map(|s| {
                let d = parse_date(s.trim()).ok_or_else(|| ApiError::InvalidParameter {
                    name,
                    message: format!("\"{s}\" is not a date YYYY-MM-DD"),
                })?;
                bounded_day(d).map_err(|message| ApiError::InvalidParameter { name, message })
            })
            .transpose()
    };
    let from_day = day("from")?;
    let to_day = day("to")?;
    if let (Some(a), Some(b)) = (from_day, to_day)
        && a > b
    {
        return Err(ApiError::InvalidParameter {
            name: "to",
            message: "is before from".into(),
        });
    }
    let bbox = p
        .get("bbox")
        .map(|s| {
            crate::geography::Bbox::parse(s).map_err(|message| ApiError::InvalidParameter {
                name: "bbox",
                message,
            })
        })
        .transpose()?;
    Ok(JourneyFilter {
        bbox,
        from_day,
        to_day,
        force: force_param(p, "force", state)?,
        cross_border: bool_param(p, "cross_border")?,
        exporting_force: force_param(p, "exporting_force", state)?,
        importing_force: force_param(p, "importing_force", state)?,
        modes: list_param(p, "mode", Mode::parse, Mode::ALL)?,
        age_bands: list_param(p, "age_band", AgeBand::parse, AgeBand::ALL)?,
        roles: list_param(p, "role", Role::parse, Role::ALL)?,
        line: p.get("line").map(str::to_string),
        station: p
            .get("station")
            .map(|s| {
                let code = p.station("station", s)?;
                state
                    .journeys
                    .geography()
                    .stations
                    .index_of(&code)
                    .map(|i| i as u32)
                    .ok_or_else(|| ApiError::InvalidParameter {
                        name: "station",
                        message: format!("unknown station \"{code}\""),
                    })
            })
            .transpose()?,
        btp_sourced: false,
        disclose_non_btp: false,
        within_force: None,
        include_restricted: false,
        time: time_param(p)?,
    })
}

/// `hours=H-H` and `days=mon,…` (see [`crate::journey::clock`]).
fn time_param(p: &Params) -> Result<Option<crate::journey::clock::TimeFilter>, ApiError> {
    use crate::journey::clock::TimeFilter;
    let (hours, days) = (p.get("hours"), p.get("days"));
    if hours.is_none() && days.is_none() {
        return Ok(None);
    }
    let hours = hours
        .map(|s| {
            TimeFilter::parse_hours(s).map_err(|message| ApiError::InvalidParameter {
                name: "hours",
                message,
            })
        })
        .transpose()?
        .unwrap_or(TimeFilter::ANY.hours);
    let days = days
        .map(|s| {
            TimeFilter::parse_days(s).map_err(|message| ApiError::InvalidParameter {
                name: "days",
                message,
            })
        })
        .transpose()?
        .unwrap_or(TimeFilter::ANY.days);
    Ok(Some(TimeFilter { hours, days }))
}

/// The query parameters of `GET /api/journeys`.
pub const LIST_PARAMS: &[&str] = journey_params!([], ["limit", "offset", "persons"]);

pub async fn list(
    raw: String,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Result<Response, ApiError> {
    let p = Params::parse(&raw, LIST_PARAMS)?;
    let mut f = filter_from(&p, &state)?;
    who.scope(&mut f, &state);
    let limit = p.int("limit", 1, MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT) as usize;
    let offset = p.int("offset", 0, i64::MAX)?.unwrap_or(0) as usize;
    let persons = bool_param(&p, "persons")?.unwrap_or(false);
    who.check_journey_read(persons)?;
    let st = state.clone();
    super::offload(state.limits.clone(), move || {
        let (matched, page) = st.journeys.index().query(st.journeys.geography(), &f, offset, limit);
        let features: Vec<JourneyFeature> = page
            .iter()
            .map(|j| JourneyFeature {
                state: &st,
                journey: j,
                geometry: true,
                crs: super::crs::Crs::Crs84,
                persons,
            })
            .collect();
        let mut links = Vec::new();
        if offset + page.len() < matched {
            links.push(json!({"rel": "next", "type": GEOJSON, "href": format!("/api/journeys?{}", with_offset(&raw, offset + limit))}));
        }
        if offset > 0 {
            links.push(json!({"rel": "prev", "type": GEOJSON, "href": format!("/api/journeys?{}", with_offset(&raw, offset.saturating_sub(limit)))}));
        }
        let n = features.len();
        let mut out = FeatureCollectionOut::new(features, matched, links);
        out.untimed_excluded = st.journeys.index().untimed_excluded(st.journeys.geography(), &f);
        record_count(out.reply(GEOJSON), n)
    })
    .await
}

/// A FeatureCollection written without an intermediate JSON tree.
#[derive(serde::Serialize)]
pub struct FeatureCollectionOut<F: serde::Serialize> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(rename = "numberMatched")]
    pub number_matched: usize,
    #[serde(rename = "numberReturned")]
    pub number_returned: usize,
    pub features: Vec<F>,
    pub links: Vec<Value>,
    /// with an `hours` or `days` filter: the journeys left out for having no time
    #[serde(skip_serializing_if = "Option::is_none")]
    pub untimed_excluded: Option<usize>,
}

impl<F: serde::Serialize> FeatureCollectionOut<F> {
    pub fn new(features: Vec<F>, matched: usize, links: Vec<Value>) -> Self {
        FeatureCollectionOut {
            kind: "FeatureCollection",
            number_matched: matched,
            number_returned: features.len(),
            features,
            links,
            untimed_excluded: None,
        }
    }
}

/// The query string with `offset` replaced.
pub fn with_offset(raw: &str, offset: usize) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        if k != "offset" {
            ser.append_pair(&k, &v);
        }
    }
    ser.append_pair("offset", &offset.to_string());
    ser.finish()
}

/// `POST /api/journeys/{id}/restrict` and `/unrestrict` (admin, the reason in
/// `X-Justification`): withholds a stored report from every layer, list, export and read except
/// an admin's, or lifts that; in the store, so every instance follows within a poll.
pub async fn restriction(
    id: String,
    restrict: bool,
    justification: Option<String>,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Result<Response, ApiError> {
    let Some(reason) = justification
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
    else {
        return Err(ApiError::JustificationRequired(format!(
            "{} a report needs a reason: send it in an X-Justification header (it is kept with the restriction and written to the audit log)",
            if restrict {
                "restricting"
            } else {
                "lifting the restriction of"
            }
        )));
    };
    let actor = who
        .0
        .as_ref()
        .map_or("unknown", |p| p.name.as_str())
        .to_string();
    let at = crate::access::audit::now();
    let st = state.clone();
    let rid = id.clone();
    let (r, at2) = (reason.clone(), at.clone());
    let done = super::offload_write(state.limits.clone(), move || {
        if restrict {
            st.journeys.restrict(&crate::store::Restriction {
                report_id: rid,
                reason: r,
                actor,
                at: at2,
            })
        } else {
            st.journeys.unrestrict(&rid)
        }
    })
    .await;
    match done {
        Ok(Ok(true)) => Ok(record_count(
            json_reply(
                &serde_json::json!({"report_id": id, "restricted": restrict, "reason": reason, "at": at}),
                "application/json",
            ),
            1,
        )),
        Ok(Ok(false)) if restrict => Err(ApiError::NotFound(format!("no report \"{id}\""))),
        Ok(Ok(false)) => Err(ApiError::Conflict(format!(
            "the report \"{id}\" is not restricted"
        ))),
        Ok(Err(e)) => Err(ApiError::Unavailable(format!("the store: {e}"))),
        Err(e) => Err(e),
    }
}

/// `DELETE /api/journeys/{id}` (admin, the reason in `X-Justification`): erases a report. Its
/// content leaves the store and every layer, list and export (other instances follow within a
/// poll); a tombstone keeps the id, when, who and why, and a later POST of the id is 410.
pub async fn erase(
    id: String,
    justification: Option<String>,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Result<Response, ApiError> {
    let Some(reason) = justification
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
    else {
        return Err(ApiError::JustificationRequired(
            "erasing a report needs a reason: send it in an X-Justification header (it is kept in the tombstone and written to the audit log)".into(),
        ));
    };
    let t = crate::store::Tombstone {
        report_id: id.clone(),
        at: crate::access::audit::now(),
        actor: who
            .0
            .as_ref()
            .map_or("unknown", |p| p.name.as_str())
            .to_string(),
        reason,
    };
    let st = state.clone();
    let tomb = t.clone();
    match super::offload_write(state.limits.clone(), move || st.journeys.erase(&tomb)).await {
        Ok(Ok(crate::store::Erased::Done)) => Ok(record_count(
            json_reply(
                &serde_json::json!({"report_id": t.report_id, "erased": true, "at": t.at, "reason": t.reason}),
                "application/json",
            ),
            1,
        )),
        Ok(Ok(crate::store::Erased::NoSuchReport)) => {
            Err(ApiError::NotFound(format!("no report \"{id}\"")))
        }
        Ok(Ok(crate::store::Erased::Already)) => Err(ApiError::Gone(format!(
            "the report \"{id}\" was erased before"
        ))),
        Ok(Err(e)) => Err(ApiError::Unavailable(format!("the store: {e}"))),
        Err(e) => Err(e),
    }
}
