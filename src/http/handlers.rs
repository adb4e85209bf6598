//! Request handlers: parse, call the geography, render.

use super::error::ApiError;
use super::params::Params;
use super::{AppState, json_reply, round_m, round7};
use crate::geography::{ForceHit, Geography, StationCode};
use serde_json::{Value, json};
use std::sync::Arc;
use warp::reply::Response;

const JSON: &str = "application/json";
const GEOJSON: &str = "application/geo+json";
/// Most stations one `/api/locate` may list.
pub const MAX_K: i64 = 50;
/// Most via stations one route may pass through.
pub const MAX_VIA: usize = 20;

/// The number of journeys held, as the caller may know it: nothing signed out (a public count
/// would show every single ingest), through disclosure control for a viewer, exact for
/// everyone else. JSON `null` when suppressed.
pub(crate) fn total_journeys(who: &super::guard::Who, state: &AppState) -> Option<Value> {
    let n = state.journeys.index().len() as u64;
    match who.role() {
        None => None,
        Some(crate::access::Role::Viewer) => Some(
            state
                .security
                .disclosure
                .publish("total|", "journeys", n)
                .map_or(Value::Null, Value::from),
        ),
        Some(_) => Some(Value::from(n)),
    }
}

/// `GET /api/vocabulary`: every closed vocabulary ([`crate::vocab::document`]), public.
pub fn vocabulary() -> Response {
    json_reply(&crate::vocab::document(), "application/json")
}

/// `GET /health`: `{"status": "ok"}` for load balancers; signed-in callers also get the data's
/// counts and the access mode.
pub fn health(
    raw: String,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Result<Response, ApiError> {
    Params::parse(&raw, &[])?;
    let Some(journeys) = total_journeys(&who, &state) else {
        return Ok(json_reply(&json!({"status": "ok"}), JSON));
    };
    let g = &state.geo;
    Ok(json_reply(
        &json!({
            "status": "ok",
            "forces": g.forces.forces().len(),
            "stations": g.stations.len(),
            "rail_km": (g.rail.length_m() / 1000.0).round(),
            "journeys": journeys,
            "auth": if state.security.open_demo().is_some() { "open_demo" } else { "tokens" },
            "open_demo_role": state.security.open_demo(),
        }),
        JSON,
    ))
}

pub(crate) fn force_json(geo: &Geography, hit: Option<ForceHit>) -> Value {
    match hit {
        None => Value::Null,
        Some(h) => {
            let f = geo.forces.get(h.force);
            json!({
                "code": f.code,
                "name": f.name,
                "method": h.method,
                "distance_m": round_m(h.distance_m),
            })
        }
    }
}

pub fn locate(raw: String, state: Arc<AppState>) -> Result<Response, ApiError> {
    let p = Params::parse(&raw, &["lon", "lat", "k"])?;
    let lon = p.f64("lon")?.ok_or(ApiError::MissingParameter("lon"))?;
    let lat = p.f64("lat")?.ok_or(ApiError::MissingParameter("lat"))?;
    if !(-180.0..=180.0).contains(&lon) {
        return Err(ApiError::InvalidParameter {
            name: "lon",
            message: format!("{lon} is outside [-180, 180]"),
        });
    }
    if !(-90.0..=90.0).contains(&lat) {
        return Err(ApiError::InvalidParameter {
            name: "lat",
            message: format!("{lat} is outside [-90, 90]"),
        });
    }
    let k = p.int("k", 1, MAX_K)?.unwrap_or(3) as usize;
    let g = &state.geo;
    let nearest: Vec<Value> = g
        .stations
        .k_nearest([lon, lat], k)
        .into_iter()
        .map(|sd| {
            let s = g.stations.get(sd.station);
            json!({"crs": s.code, "name": s.name, "distance_m": round_m(sd.distance_m)})
        })
        .collect();
    Ok(json_reply(
        &json!({
            "point": [lon, lat],
            "force": force_json(g, g.forces.locate([lon, lat])),
            "nearest_stations": nearest,
        }),
        JSON,
    ))
}

fn station_index(g: &Geography, param: &'static str, code: &str) -> Result<usize, ApiError> {
    let c = StationCode::parse(code).map_err(|message| ApiError::InvalidParameter {
        name: param,
        message,
    })?;
    g.stations.index_of(&c).ok_or(ApiError::UnknownStation {
        what: "station",
        code: c.to_string(),
    })
}

pub async fn route(raw: String, state: Arc<AppState>) -> Result<Response, ApiError> {
    let p = Params::parse(&raw, &["from", "to", "via"])?;
    let g = &state.geo;
    let from = station_index(g, "from", p.require("from")?)?;
    let to = station_index(g, "to", p.require("to")?)?;
    let mut stops = vec![from];
    if let Some(v) = p.get("via").filter(|v| !v.trim().is_empty()) {
        let vias: Vec<&str> = v.split(',').collect();
        if vias.len() > MAX_VIA {
            return Err(ApiError::InvalidParameter {
                name: "via",
                message: format!("at most {MAX_VIA} via stations"),
            });
        }
        for code in vias {
            stops.push(station_index(g, "via", code)?);
        }
    }
    stops.push(to);
    let geo = state.geo.clone();
    // routing is CPU work: keep it off the async workers
    super::offload(state.limits.clone(), move || render_route(&geo, &stops)).await?
}

fn render_route(g: &Geography, stops: &[usize]) -> Result<Response, ApiError> {
    let (route, spans) = g.route(stops).map_err(|e| {
        let name = |i: usize| g.stations.get(i).code.to_string();
        ApiError::NoRoute(match e {
            crate::geography::RouteError::NotAttached(s) => {
                format!("station {} is not attached to the rail network", name(s))
            }
            crate::geography::RouteError::Disconnected(a, b) => format!(
                "no rail route between {} and {}: they are on disconnected parts of the rail network",
                name(a),
                name(b)
            ),
        })
    })?;
    let code = |i: usize| g.stations.get(i).code.clone();
    let coords: Vec<[f64; 2]> = route
        .coords
        .iter()
        .map(|p| [round7(p[0]), round7(p[1])])
        .collect();
    let forces: Vec<Value> = spans
        .iter()
        .map(|s| {
            let f = g.forces.get(s.force);
            json!({"code": f.code, "name": f.name, "distance_m": round_m(s.distance_m)})
        })
        .collect();
    let body = json!({
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": coords},
        "properties": {
            "from": code(stops[0]),
            "to": code(stops[stops.len() - 1]),
            "via": stops[1..stops.len() - 1].iter().map(|&i| code(i)).collect::<Vec<_>>(),
            "distance_m": round_m(route.distance_m),
            "stations": route.stations.iter().map(|&i| code(i)).collect::<Vec<_>>(),
            "forces": forces,
        }
    });
    Ok(json_reply(&body, GEOJSON))
}

/// `GET /api/stations/{crs}`: a station's reference data (no counts of journeys: a viewer's
/// answer is published as it is, with the notice every published answer carries).
pub fn station(
    code: String,
    raw: String,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Result<Response, ApiError> {
    Params::parse(&raw, &[])?;
    let g = &state.geo;
    let c = StationCode::parse(&code)
        .map_err(|m| ApiError::NotFound(format!("no station {code:?}: {m}")))?;
    let i = g
        .stations
        .index_of(&c)
        .ok_or_else(|| ApiError::NotFound(format!("no station with code {c}")))?;
    let s = g.stations.get(i);
    let att = g.rail.attachment(i);
    let body = json!({
        "type": "Feature",
        "id": s.code,
        "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]},
        "properties": {
            "crs": s.code,
            "name": s.name,
            "tiploc": s.tiploc,
            "operator": s.operator,
            "force": force_json(g, g.station_force(i)),
            "policing": ["BTP"],
            "footfall": {
                "entries_exits_2019_20": s.entries_exits_2019_20,
                "entries_exits_2021_22": s.entries_exits_2021_22,
                "interchanges_2021_22": s.interchanges_2021_22,
            },
            "pte_urban_area": s.pte_urban_area,
            "london_travelcard": s.london_travelcard,
            "interchange": s.interchange,
            "rail_attachment_m": att.map(|a| round_m(a.distance_m)),
            "osm_id": s.osm_id,
        }
    });
    Ok(super::guard::published_as_is(who, &state, body, GEOJSON))
}

/// The kinds of audit event.
pub const AUDIT_ACTIONS: &[&str] = crate::vocab::AuditAction::ALL;

/// Most audit events one page lists.
pub const MAX_AUDIT_LIMIT: i64 = 10_000;

/// `GET /api/audit` (admins): the audit log, oldest first, filtered by `actor` (name or token
/// id), `action`, `since` and `until` (RFC 3339, compared as UTC text), paged by
/// `limit`/`offset`.
pub async fn audit(raw: String, state: Arc<AppState>) -> Result<Response, ApiError> {
    let p = Params::parse(
        &raw,
        &["actor", "action", "since", "until", "limit", "offset"],
    )?;
    let text = |k: &'static str| p.get(k).map(str::to_string);
    if let Some(a) = p.get("action")
        && !AUDIT_ACTIONS.contains(&a)
    {
        return Err(ApiError::InvalidParameter {
            name: "action",
            message: format!("\"{a}\" is not one of {}", AUDIT_ACTIONS.join(", ")),
        });
    }
    for k in ["since", "until"] {
        if let Some(v) = p.get(k) {
            time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
                .map_err(|e| ApiError::InvalidParameter {
                    name: if k == "since" { "since" } else { "until" },
                    message: format!("\"{v}\" is not an RFC 3339 time ({e})"),
                })?;
        }
    }
    let (actor, action, since, until, limit, offset) = (
        text("actor"),
        text("action"),
        text("since"),
        text("until"),
        p.int("limit", 1, MAX_AUDIT_LIMIT)?.unwrap_or(1000) as usize,
        p.int("offset", 0, i64::MAX)?.unwrap_or(0) as usize,
    );
    let st = state.clone();
    let (events, matched) = super::offload(state.limits.clone(), move || {
        let Some(log) = &st.security.audit else {
            return Err(ApiError::NotFound(
                "this server keeps no audit log (start it with --audit FILE)".into(),
            ));
        };
        let utc = |t: &str| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
        };
        let (since, until) = (
            since.as_deref().and_then(utc),
            until.as_deref().and_then(utc),
        );
        log.read(
            |e| {
                actor
                    .as_ref()
                    .is_none_or(|a| &e.actor == a || &e.token_id == a)
                    && action.as_ref().is_none_or(|a| &e.action == a)
                    && (since.is_none() && until.is_none() || {
                        let t = utc(&e.ts);
                        since.is_none_or(|s| t.is_some_and(|t| t >= s))
                            && until.is_none_or(|u| t.is_some_and(|t| t <= u))
                    })
            },
            offset,
            limit,
        )
        .map_err(|e| ApiError::Unavailable(format!("reading the audit log: {e}")))
    })
    .await??;
    let mut r = json_reply(
        &json!({"numberMatched": matched, "numberReturned": events.len(), "events": events}),
        JSON,
    );
    r.headers_mut().insert(
        super::guard::RECORD_COUNT,
        warp::http::HeaderValue::from(events.len()),
    );
    Ok(r)
}
