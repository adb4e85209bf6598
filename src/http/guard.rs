//! The gate every request passes before its route, and what happens to the answer after it:
//! sign-in (bearer tokens), the endpoint policy by role, the justification person-level queries
//! need, per-caller rate limits and size limits; then the disclosure-control header on the
//! answers their handlers published on the rows (an aggregate a viewer asks for that was not
//! published is refused, never sent as it is), the audit
//! entry for journey-level reads, exports and ingest (written and synced before the answer
//! leaves), and the security headers.

use super::AppState;
use super::error::ApiError;
use crate::access::{self, Need, Principal, Role, audit::AuditEvent};
use std::net::SocketAddr;
use std::sync::Arc;
use warp::http::{HeaderMap, HeaderValue, Method, header};
use warp::reply::Response;

/// Longest query string accepted, bytes.
pub const MAX_QUERY: usize = 8 * 1024;
/// Longest path accepted, bytes.
pub const MAX_PATH: usize = 2 * 1024;
/// Most header bytes (names and values) accepted.
pub const MAX_HEADERS: usize = 32 * 1024;
/// Longest `X-Justification`, characters.
pub const MAX_JUSTIFICATION: usize = 500;

/// The caller, as handlers see it.
#[derive(Clone, Debug)]
pub struct Who(pub Option<Principal>);

impl Who {
    pub fn role(&self) -> Option<Role> {
        self.0.as_ref().map(|p| p.role)
    }
    /// Sees aggregates through disclosure control only.
    pub fn viewer(&self) -> bool {
        self.role().is_none_or(|r| r == Role::Viewer)
    }
    /// Sees only British Transport Police journeys at journey level.
    pub fn btp_only(&self) -> bool {
        self.role().is_none_or(|r| r < Role::Analyst)
    }
    /// Sees the journeys British Transport Police did not report or join only through
    /// disclosure control in aggregates (a `btp_planner`: it may not read them).
    pub fn disclose_non_btp(&self) -> bool {
        self.role() == Some(Role::BtpPlanner)
    }
    /// Whether this caller's answers of an endpoint published whole (not split into BTP's part)
    /// are published: a viewer's, and a `btp_planner`'s, which hold journeys it may not read.
    /// The handler publishes such an answer on its rows and marks it [`disclosed`].
    pub fn gets_published_whole(&self) -> bool {
        matches!(self.role(), Some(Role::Viewer | Role::BtpPlanner))
    }
    /// May read every journey, so an aggregate may follow the data's own extent.
    pub fn sees_all_journeys(&self) -> bool {
        self.role().is_some_and(|r| r >= Role::Analyst)
    }
    /// The handlers' own check of what the gate's policy already decided (so that a path the
    /// policy normalises differently still cannot reach journeys): journeys need a
    /// `btp_planner`, person summaries an `analyst`.
    pub fn check_journey_read(&self, persons: bool) -> Result<(), ApiError> {
        let need = if persons {
            Role::Analyst
        } else {
            Role::BtpPlanner
        };
        match self.role() {
            Some(r) if r >= need => Ok(()),
            _ => Err(ApiError::Forbidden(format!(
                "reading journeys{} needs the role \"{need}\" or above",
                if persons {
                    " with person summaries"
                } else {
                    ""
                }
            ))),
        }
    }
    /// The force a `force_analyst` is scoped to, as a force index (`u16::MAX`, matching
    /// nothing, for a code the geography does not have); `None` for every other caller.
    pub fn force_scope(&self, geo: &crate::geography::Geography) -> Option<u16> {
        let p = self.0.as_ref()?;
        if p.role != Role::ForceAnalyst {
            return None;
        }
        Some(
            p.force
                .as_deref()
                .and_then(|f| crate::geography::ForceCode::parse(f).ok())
                .and_then(|c| geo.forces.index_of(&c))
                .and_then(|i| u16::try_from(i).ok())
                .unwrap_or(u16::MAX),
        )
    }
    /// Narrows a journey filter to what the caller may see at journey level.
    pub fn scope(&self, f: &mut crate::journey::index::JourneyFilter, state: &super::AppState) {
        f.btp_sourced = self.btp_only();
        f.within_force = self.force_scope(&state.geo);
        f.include_restricted = self.role() == Some(Role::Admin);
    }
    /// The caller may see this journey (`restricted` or not) at journey level.
    pub fn may_see(
        &self,
        j: &crate::journey::map::MappedJourney,
        restricted: bool,
        state: &super::AppState,
    ) -> bool {
        (!restricted || self.role() == Some(Role::Admin))
            && (!self.btp_only() || j.report.btp_sourced())
            && self
                .force_scope(&state.geo)
                .is_none_or(|f| crate::journey::index::touches(j, f))
    }
    /// Everyone, for in-process tests of handlers.
    pub fn admin() -> Who {
        Who(Some(Principal::plain("test", "test", Role::Admin)))
    }
}

/// One of the server's request slots, given back when the request ends (or is dropped).
#[derive(Debug)]
pub struct Slot(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// What the gate learnt about a request, for the step after the route.
#[derive(Debug)]
pub struct Ctx {
    pub _slot: Slot,
    pub principal: Option<Principal>,
    pub method: Method,
    pub path: String,
    pub query: String,
    pub justification: Option<String>,
    pub remote: Option<SocketAddr>,
    /// the operation the request names in the endpoint table, resolved once
    pub route: super::endpoint::Resolved,
}

/// A request refused at the gate: the [`ApiError`] that says why, carried through warp's
/// rejection to the recovery, which answers it as any other error.
#[derive(Debug)]
pub struct Denied(pub ApiError);

impl warp::reject::Reject for Denied {}

/// The gate. Order: sizes, then who is asking, then the policy, then the rate limit.
pub async fn gate(
    method: Method,
    path: warp::path::FullPath,
    headers: HeaderMap,
    query: String,
    remote: Option<SocketAddr>,
    state: Arc<AppState>,
) -> Result<Ctx, warp::Rejection> {
    check(&method, path.as_str(), &headers, &query, remote, &state)
        .map_err(|e| warp::reject::custom(Denied(e)))
}

fn check(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    query: &str,
    remote: Option<SocketAddr>,
    state: &AppState,
) -> Result<Ctx, ApiError> {
    if path.len() > MAX_PATH {
        return Err(ApiError::UriTooLong(format!(
            "the path is {} bytes long; the limit is {MAX_PATH}",
            path.len()
        )));
    }
    if query.len() > MAX_QUERY {
        return Err(ApiError::UriTooLong(format!(
            "the query string is {} bytes long; the limit is {MAX_QUERY}",
            query.len()
        )));
    }
    let header_bytes: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    if header_bytes > MAX_HEADERS {
        return Err(ApiError::HeadersTooLarge(format!(
            "the request headers are {header_bytes} bytes; the limit is {MAX_HEADERS}"
        )));
    }
    // Back-pressure at the door: a bounded number of requests in the server at once.
    let lim = &state.limits;
    let n = lim
        .in_flight
        .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    let slot = Slot(lim.in_flight.clone());
    if n >= lim.max_in_flight {
        return Err(ApiError::Busy(format!(
            "the server is at its limit of {} requests in flight; try again shortly",
            lim.max_in_flight
        )));
    }
    let sec = &state.security;
    let authorization =
        match headers.get(header::AUTHORIZATION) {
            None => None,
            Some(v) => Some(v.to_str().map_err(|_| {
                ApiError::Unauthorized("the Authorization header is not ASCII".into())
            })?),
        };
    let route = super::endpoint::resolve(method.as_str(), path, query);
    let need = route.need;
    let principal = match sec.authenticate(authorization) {
        Ok(p) => p,
        // A bad token is refused even on public paths: the client should know.
        Err(msg) => return Err(ApiError::Unauthorized(msg)),
    };
    let justification = match headers.get("x-justification") {
        None => None,
        Some(v) => {
            let s = v
                .to_str()
                .map_err(|_| {
                    ApiError::BadRequest(
                        "the X-Justification header must be ASCII text (percent-encode other characters)".into(),
                    )
                })?
                .trim()
                .to_string();
            if s.chars().count() > MAX_JUSTIFICATION {
                return Err(ApiError::BadRequest(format!(
                    "the X-Justification header is longer than {MAX_JUSTIFICATION} characters"
                )));
            }
            (!s.is_empty()).then_some(s)
        }
    };
    if let Need::Role(min) = need {
        let Some(p) = &principal else {
            return Err(ApiError::Unauthorized(
                "sign in: send \"Authorization: Bearer <token>\" (tokens come from `linesmap token create`)".into(),
            ));
        };
        if p.role < min {
            return Err(ApiError::Forbidden(format!(
                "the role \"{}\" may not {} {path}{}; it needs \"{min}\" or above",
                p.role,
                method.as_str(),
                if super::endpoint::wants_persons(query) {
                    " with person summaries"
                } else {
                    ""
                },
            )));
        }
        if (super::endpoint::wants_persons(query) || route.person_level())
            && justification.is_none()
        {
            return Err(ApiError::JustificationRequired(
                "person-level queries need a reason: send it in an X-Justification header (it is written to the audit log)".into(),
            ));
        }
    }
    let caller = match (&principal, remote) {
        (Some(p), _) if p.token_id != "open-demo" => p.token_id.clone(),
        (_, Some(a)) => a.ip().to_string(),
        _ => "unknown".into(),
    };
    if need != Need::Public
        && let Err(wait) = sec.rate.take(&caller)
    {
        return Err(ApiError::TooManyRequests(format!(
            "too many requests from this caller; try again in {:.0} s",
            wait.ceil().max(1.0)
        )));
    }
    Ok(Ctx {
        _slot: slot,
        principal,
        method: method.clone(),
        path: path.to_string(),
        query: query.to_string(),
        justification,
        remote,
        route,
    })
}

/// Records returned, exported or created (`X-Record-Count`, set by the handlers).
pub const RECORD_COUNT: &str = "x-record-count";

/// After the route: disclosure control for viewers, then the audit entry.
pub async fn after(ctx: Ctx, state: Arc<AppState>, mut r: Response) -> Response {
    let sec = &state.security;
    let ok = r.status().is_success();
    let viewer = ctx
        .principal
        .as_ref()
        .is_some_and(|p| p.role == Role::Viewer);
    let aggregate = ctx.route.aggregate();
    let role = ctx.principal.as_ref().map(|p| p.role);
    let partial = ctx.route.split();
    if ok && aggregate && (viewer || (role == Some(Role::BtpPlanner) && !partial)) {
        match published(r, &sec.disclosure.header()) {
            Ok(p) => r = p,
            Err(refused) => {
                tracing::error!(path = %ctx.path, "an aggregate answer was not published for its caller; refused");
                return refused.into_response();
            }
        }
    }
    if ok && aggregate && partial && role == Some(Role::BtpPlanner) {
        // the part of each count made of journeys the caller may not read was disclosed
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{}; applied-to=journeys-not-reported-or-joined-by-btp",
            sec.disclosure.header()
        )) {
            r.headers_mut().insert("x-disclosure-control", v);
        }
    }
    // An aggregate over fewer than k journeys describes those journeys: for a role that may
    // read journeys it is a journey-level read, and audited as one.
    let small = r
        .extensions()
        .get::<super::layers::Selection>()
        .map(|s| s.0)
        .filter(|&n| n < sec.disclosure.k as usize)
        .filter(|_| aggregate && role.is_some_and(|r| r >= Role::BtpPlanner));
    // a review decision's action is the decision the handler took (`x-review-decision`)
    let decided = r
        .headers_mut()
        .remove(super::records::REVIEW_DECISION)
        .and_then(|v| match v.to_str() {
            Ok("retain") => Some("review_retain"),
            Ok("dispose") => Some("review_dispose"),
            _ => None,
        });
    let action = ctx
        .route
        .audit_action()
        .map(|a| {
            if a == "review" {
                decided.unwrap_or(a)
            } else {
                a
            }
        })
        .or(small.map(|_| "read_journeys"));
    if ok && let Some(action) = action {
        let records = match small {
            Some(n) if action == "read_journeys" => n as u64,
            _ => r
                .headers()
                .get(RECORD_COUNT)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        };
        let p =
            ctx.principal
                .clone()
                .unwrap_or(Principal::plain("anonymous", "none", Role::Viewer));
        let event = AuditEvent {
            ts: access::audit::now(),
            actor: p.name,
            token_id: p.token_id,
            role: p.role,
            action: action.into(),
            path: ctx.path.clone(),
            query: ctx.query.clone(),
            records,
            justification: ctx.justification.clone(),
            remote: ctx.remote.map(|a| a.ip().to_string()),
            sso_subject: p.sso.as_ref().map(|s| s.subject.clone()),
            sso_issuer: p.sso.map(|s| s.issuer),
        };
        if let Some(log) = &sec.audit {
            let st = state.clone();
            let written = tokio::task::spawn_blocking(move || {
                st.security
                    .audit
                    .as_ref()
                    .map_or(Ok(()), |l| l.append(&event))
            })
            .await;
            if !matches!(written, Ok(Ok(()))) {
                tracing::error!(log = %log.describe(), "cannot write the audit log; refusing the answer");
                return ApiError::Unavailable("the audit log cannot be written".into())
                    .into_response();
            }
        }
    }
    if viewer {
        // how many records an answer holds is for the audit: a viewer's count of the journeys
        // a filter selected would be exact
        r.headers_mut().remove(RECORD_COUNT);
    }
    r
}

/// Marks an answer whose rows its handler published through disclosure control for the
/// caller (a viewer, or a `btp_planner` of an answer published whole): [`after`] adds the
/// header; an aggregate such a caller asks for that is not marked is refused.
#[derive(Clone, Copy, Debug)]
pub struct Disclosed;

/// `r`, marked [`Disclosed`].
pub fn disclosed(mut r: Response) -> Response {
    r.extensions_mut().insert(Disclosed);
    r
}

/// An aggregate answer for a caller whose answers are published: with `header` as
/// `X-Disclosure-Control` when its handler marked it [`Disclosed`] (the body as written), else
/// `Err` with the refusal sent instead (every aggregate's handler publishes such a caller's
/// rows itself, before anything is written: an answer not marked is never sent as it is).
fn published(mut r: Response, header: &str) -> Result<Response, ApiError> {
    if r.extensions().get::<Disclosed>().is_none() {
        return Err(ApiError::Internal(
            "disclosure control: the answer was not published for the caller".into(),
        ));
    }
    if let Ok(v) = HeaderValue::from_str(header) {
        r.headers_mut().insert("x-disclosure-control", v);
    }
    Ok(r)
}

/// `r`, marked [`Disclosed`] when `published` (its handler published it for the caller).
pub fn disclosed_if(published: bool, r: Response) -> Response {
    if published { disclosed(r) } else { r }
}

/// An aggregate endpoint's answer that holds no counts of journeys (a station's reference
/// data, a collection's metadata): published as it is, a viewer's with the notice every
/// published answer carries.
pub fn published_as_is(
    who: Who,
    state: &AppState,
    mut body: serde_json::Value,
    content_type: &'static str,
) -> Response {
    let viewer = who.viewer();
    if viewer && let serde_json::Value::Object(o) = &mut body {
        o.insert("disclosure".into(), state.security.disclosure.notice());
    }
    disclosed_if(viewer, super::json_reply(&body, content_type))
}

/// The page's CSP: a strict one (no inline script or style, nothing from elsewhere); with the
/// page's sign-in through an identity provider, `connect-src` also allows the origin of its
/// token endpoint (the page posts the code there) and nothing else. The origin comes from
/// [`access::oidc::origin`], so it cannot break out of the header.
pub fn content_security_policy(sso_origin: Option<&str>) -> HeaderValue {
    let connect = match sso_origin {
        Some(o) => format!("'self' {o}"),
        None => "'self'".into(),
    };
    let csp = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         worker-src 'self' blob:; connect-src {connect}; font-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    HeaderValue::from_str(&csp).unwrap_or_else(|_| {
        // unreachable with an origin from oidc::origin; the strict policy if it ever were
        HeaderValue::from_static("default-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
    })
}

/// How the page signs in (`GET /api/auth/config`, public): `{"sso": false}`, or the provider's
/// endpoints and the page's client.
pub fn auth_config(state: Arc<AppState>) -> Response {
    let oidc = state.security.oidc.as_ref();
    let body = match oidc.and_then(|o| o.page().map(|p| (o, p))) {
        Some((o, p)) => serde_json::json!({
            "sso": true,
            "issuer": o.config().issuer,
            "client_id": p.client_id,
            "authorization_endpoint": p.authorization_endpoint,
            "token_endpoint": p.token_endpoint,
            "end_session_endpoint": p.end_session_endpoint,
            "scopes": p.scopes,
            "bearer": p.bearer,
        }),
        None => serde_json::json!({"sso": false}),
    };
    super::json_reply(&body, "application/json")
}

/// Security headers on every answer; `csp` (from [`content_security_policy`]) for the page.
pub fn security_headers(r: &mut Response, public: bool, tls: bool, csp: &HeaderValue) {
    let h = r.headers_mut();
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "no-referrer");
    set(h, "x-frame-options", "DENY");
    set(h, "cross-origin-opener-policy", "same-origin");
    h.insert("content-security-policy", csp.clone());
    if tls {
        set(h, "strict-transport-security", "max-age=31536000");
    }
    if !public {
        // Answers depend on who asks: never shared by caches.
        set(h, "cache-control", "private, no-cache");
        set(
            h,
            "vary",
            "authorization, x-justification, accept, accept-encoding",
        );
    }
}

/// The caller's role and the server's access mode (`GET /api/whoami`).
pub fn whoami(who: Who, state: Arc<AppState>) -> Response {
    let sec = &state.security;
    super::json_reply(
        &serde_json::json!({
            "name": who.0.as_ref().map(|p| p.name.clone()),
            "token_id": who.0.as_ref().map(|p| p.token_id.clone()),
            "role": who.role(),
            "open_demo": sec.open_demo().is_some(),
            "marking": state.marking.as_str(),
            "disclosure_control": if who.viewer() { sec.disclosure.notice() } else { serde_json::json!({"applied": false}) },
            "person_summaries": who.role().is_some_and(|r| r >= Role::Analyst),
            "force": who.0.as_ref().and_then(|p| p.force.clone()),
            "sso": who.0.as_ref().and_then(|p| p.sso.as_ref()).map(|s| serde_json::json!({"subject": s.subject, "issuer": s.issuer})),
            "journeys": match who.role() {
                Some(Role::ForceAnalyst) => "force",
                Some(r) if r >= Role::Analyst => "all",
                Some(Role::BtpPlanner) => "btp_sourced",
                _ => "none",
            },
        }),
        "application/json",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_aggregate_not_marked_as_published_is_refused_and_a_marked_one_kept_as_written() {
        let body = r#"{"journeys":3}"#;
        let refused = published(Response::new(body.into()), "suppressed-below=5")
            .unwrap_err()
            .into_response();
        assert_eq!(refused.status(), 500);
        assert!(refused.headers().get("x-disclosure-control").is_none());
        let text = warp::hyper::body::to_bytes(refused.into_body())
            .await
            .unwrap();
        let text = String::from_utf8(text.to_vec()).unwrap();
        assert!(text.contains("internal_error"), "{text}");
        assert!(!text.contains("journeys"), "{text}");
        let kept = published(disclosed(Response::new(body.into())), "suppressed-below=5").unwrap();
        assert_eq!(kept.status(), 200);
        assert_eq!(kept.headers()["x-disclosure-control"], "suppressed-below=5");
        let text = warp::hyper::body::to_bytes(kept.into_body()).await.unwrap();
        assert_eq!(&text[..], body.as_bytes());
    }
}
