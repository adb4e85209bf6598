//! Who may see what: bearer-token roles, the endpoint policy, person pseudonyms, per-token rate
//! limits, disclosure control for viewers ([`disclosure`]) and the audit log ([`audit`]).
//!
//! Roles, least to most: `viewer` sees suppressed aggregates only; `btp_planner` sees the
//! aggregates unsuppressed and, at journey level, the journeys British Transport Police reported
//! or joined, without person details; `analyst` sees every journey and, with an
//! `X-Justification`, person summaries (pseudonymised); `force_analyst` is an analyst scoped to
//! one force: at journey and person level only the journeys that start, end or pass in it,
//! aggregates national and unsuppressed; `admin` also ingests and reads the audit log.
//!
//! Callers sign in with a token from the token file ([`tokens`]) or, when the server is given
//! an OpenID Connect provider, with the provider's JWT ([`oidc`]).

pub mod audit;
pub mod disclosure;
pub mod oidc;
pub mod tokens;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    BtpPlanner,
    Analyst,
    /// an analyst scoped to one force (the principal's `force`): it passes every check an
    /// `analyst` passes, and the journeys it sees are narrowed to its force
    ForceAnalyst,
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Viewer,
        Role::BtpPlanner,
        Role::Analyst,
        Role::ForceAnalyst,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::BtpPlanner => "btp_planner",
            Role::Analyst => "analyst",
            Role::ForceAnalyst => "force_analyst",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is asking.
#[derive(Clone, Debug, PartialEq)]
pub struct Principal {
    pub name: String,
    /// the token's public id, `open-demo`, or `jwt` for a caller signed in through the
    /// OpenID Connect provider
    pub token_id: String,
    pub role: Role,
    /// the force (GSS code) a `force_analyst` is scoped to
    pub force: Option<String>,
    /// the provider's `sub` and `iss`, for a caller signed in with a JWT
    pub sso: Option<Sso>,
}

/// The identity a JWT vouches for.
#[derive(Clone, Debug, PartialEq)]
pub struct Sso {
    pub subject: String,
    pub issuer: String,
}

impl Principal {
    /// A caller with a role and nothing else (no force, not signed in through the provider).
    pub fn plain(name: &str, token_id: &str, role: Role) -> Principal {
        Principal {
            name: name.into(),
            token_id: token_id.into(),
            role,
            force: None,
            sso: None,
        }
    }
}

/// The force of a caller with `role`: required (a GSS force code, not BTP, which is
/// `btp_planner`'s) for a `force_analyst`, refused for every other role.
pub fn check_force(role: Role, force: Option<&str>) -> Result<Option<String>, String> {
    match (role, force.map(str::trim)) {
        (Role::ForceAnalyst, None | Some("")) => {
            Err("a force_analyst needs a force (a GSS code such as E23000026)".into())
        }
        (Role::ForceAnalyst, Some(f)) => match crate::geography::ForceCode::parse(f) {
            Ok(c) if !c.is_btp() => Ok(Some(c.to_string())),
            _ => Err(format!(
                "\"{f}\" is not a territorial force's GSS code (E23…, W15… or S32…)"
            )),
        },
        (_, None) => Ok(None),
        (r, Some(_)) => Err(format!(
            "only a force_analyst has a force; the role \"{r}\" sees every force"
        )),
    }
}

/// How requests are authenticated.
pub enum Authentication {
    /// bearer tokens from a token file
    Tokens(tokens::Tokens),
    /// no sign-in: every request without a token acts with this role (tokens, if any, still
    /// count). Only when asked for explicitly (`--open-demo`).
    OpenDemo(Role, tokens::Tokens),
}

/// What a request needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// anyone, signed in or not
    Public,
    /// at least this role
    Role(Role),
}

/// The endpoint policy: what `method path?query` needs. Journey-level reads need a
/// `btp_planner`; person summaries (`persons=true`) an `analyst`; ingest and the audit log an
/// `admin`; everything else behind sign-in (aggregates, reference layers, collections) any role.
/// Unknown paths need sign-in too, so a stranger learns nothing from 404s.
pub fn need(method: &str, path: &str, query: &str) -> Need {
    let normalized = normalize(path);
    let path = normalized.as_str();
    let get = method == "GET" || method == "HEAD";
    if get
        && (matches!(path, "/" | "/health" | "/conformance" | "/openapi")
            || path.starts_with("/assets/"))
    {
        return Need::Public;
    }
    if path == "/api/audit" {
        return Need::Role(Role::Admin);
    }
    if is_person_level(path) {
        return Need::Role(Role::Analyst);
    }
    let persons = wants_persons(query);
    if path == "/api/journeys" || path.starts_with("/api/journeys/") {
        return match method {
            "GET" | "HEAD" if persons => Need::Role(Role::Analyst),
            "GET" | "HEAD" => Need::Role(Role::BtpPlanner),
            _ => Need::Role(Role::Admin),
        };
    }
    if path == "/collections/journeys/items" || path.starts_with("/collections/journeys/items/") {
        return Need::Role(if persons {
            Role::Analyst
        } else {
            Role::BtpPlanner
        });
    }
    if path == "/api/export" && export_collection(query).is_none_or(|c| c == "journeys") {
        return Need::Role(Role::BtpPlanner);
    }
    Need::Role(Role::Viewer)
}

/// The path the policy judges: percent-decoded, empty and `.` segments dropped, `..` applied,
/// so that `/api//journeys` or `/api/%6Aourneys` is judged as `/api/journeys` whatever the
/// router later makes of it.
pub fn normalize(path: &str) -> String {
    let decoded: String =
        form_urlencoded::parse(format!("p={}", path.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
    let mut parts: Vec<&str> = Vec::new();
    for seg in decoded.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The request asks for person summaries (`persons=true`, however often given).
pub fn wants_persons(query: &str) -> bool {
    form_urlencoded::parse(query.as_bytes()).any(|(k, v)| k == "persons" && v == "true")
}

/// The collection an export asks for (`None` when absent: the export then refuses it).
fn export_collection(query: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "collection")
        .map(|(_, v)| v.into_owned())
}

/// Person-level paths (`/api/people`, `/api/people/{psn}`): analysts and admins, with an
/// `X-Justification`; every read is audited as `read_persons`.
pub fn is_person_level(path: &str) -> bool {
    let path = normalize(path);
    path == "/api/people" || path.starts_with("/api/people/")
}

/// Journey-level paths: every successful read is audited.
pub fn is_journey_level(method: &str, path: &str) -> bool {
    let path = normalize(path);
    let path = path.as_str();
    (method == "GET" || method == "HEAD")
        && (path == "/api/journeys"
            || path.starts_with("/api/journeys/")
            || path == "/collections/journeys/items"
            || path.starts_with("/collections/journeys/items/")
            || is_person_level(path))
}

/// Aggregate paths whose counts a viewer sees only through disclosure control.
pub fn is_aggregate(path: &str) -> bool {
    let path = normalize(path);
    let path = path.as_str();
    matches!(
        path,
        "/api/hotspots"
            | "/api/flows"
            | "/api/corridors"
            | "/api/trends"
            | "/api/export"
            | "/api/treatment"
            | "/api/clock"
            | "/api/hotspots/emerging"
    ) || (path.starts_with("/collections/") && !path.ends_with("/queryables"))
        || path.starts_with("/api/stations/")
}

/// Aggregate answers that disclose to a `btp_planner` only the part it may not read (its
/// British Transport Police journeys exact, see `http::layers::combine_parts`); on any other
/// aggregate path a `btp_planner` gets the whole answer through disclosure control, as a
/// viewer does, so that a new aggregate is safe before it learns to split its counts.
pub fn partial_disclosure(path: &str, query: &str) -> bool {
    let path = normalize(path);
    let path = path.as_str();
    match path {
        "/api/hotspots" | "/api/flows" | "/api/trends" => true,
        "/api/export" => export_collection(query).is_some_and(|c| {
            matches!(
                c.as_str(),
                "journeys" | "stations" | "forces" | "rail" | "hotspots" | "flows" | "trends"
            )
        }),
        p => p.starts_with("/collections/") || p.starts_with("/api/stations/"),
    }
}

/// Keyed pseudonyms of person ids: HMAC-SHA256 under the server's secret, so the same person is
/// the same pseudonym in every answer and nobody without the key can link it back.
#[derive(Clone)]
pub struct Pseudonyms {
    key: Vec<u8>,
}

impl Pseudonyms {
    pub fn new(key: Vec<u8>) -> Pseudonyms {
        Pseudonyms { key }
    }

    /// Reads the key file, or creates it (32 random bytes, hex, mode 0600) when missing.
    pub fn load_or_create(path: &std::path::Path) -> anyhow::Result<Pseudonyms> {
        if path.exists() {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            let hex = text.trim();
            if hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                anyhow::bail!("{}: not a hex key of 16 bytes or more", path.display());
            }
            return Ok(Pseudonyms::new(hex.as_bytes().to_vec()));
        }
        let hex = tokens::hex(&tokens::random_bytes(32)?);
        tokens::write_private(path, format!("{hex}\n").as_bytes())?;
        Ok(Pseudonyms::new(hex.into_bytes()))
    }

    /// `psn_` and the first 16 hex digits of HMAC-SHA256(key, "person:" + id).
    pub fn person(&self, id: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("any key length");
        mac.update(b"person:");
        mac.update(id.as_bytes());
        let out = mac.finalize().into_bytes();
        format!("psn_{}", tokens::hex(&out[..8]))
    }

    /// A uniform number in [0, 1) from the key and `parts` (disclosure control's cell keys).
    pub fn uniform(&self, parts: &[&[u8]]) -> f64 {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("any key length");
        mac.update(b"cell:");
        for p in parts {
            mac.update(&(p.len() as u64).to_le_bytes());
            mac.update(p);
        }
        let out = mac.finalize().into_bytes();
        let mut b = [0u8; 8];
        b.copy_from_slice(&out[..8]);
        (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Token buckets: `per_minute` requests a minute for each caller (token id, or address when
/// signed out), bursts up to the same number.
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_minute` 0 turns limiting off.
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request for `who`; `Err(seconds to wait)` when the bucket is empty.
    pub fn take(&self, who: &str) -> Result<(), f64> {
        self.take_at(who, Instant::now())
    }

    fn take_at(&self, who: &str, now: Instant) -> Result<(), f64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let cap = f64::from(self.per_minute);
        let rate = cap / 60.0;
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if b.len() > 100_000 {
            // Forget idle callers rather than grow without bound.
            b.retain(|_, (_, t)| now.duration_since(*t).as_secs() < 120);
        }
        let (tokens, last) = b.entry(who.to_string()).or_insert((cap, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(cap);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err((1.0 - *tokens) / rate)
        }
    }
}

/// The access settings of a server.
pub struct Security {
    pub auth: Authentication,
    /// bearer JWTs from an OpenID Connect provider, beside the token file
    pub oidc: Option<oidc::Oidc>,
    pub pseudonyms: Pseudonyms,
    pub disclosure: disclosure::Disclosure,
    pub audit: Option<audit::AuditLog>,
    pub rate: RateLimiter,
    /// origins allowed by CORS; empty: CORS off
    pub cors_origins: Vec<String>,
    /// served over TLS (adds Strict-Transport-Security)
    pub tls: bool,
}

impl Security {
    /// Open, every request an `admin`, no audit file, no rate limit: for tests and embedding.
    /// The `serve` command never uses this; it needs `--tokens` or `--open-demo`.
    pub fn open_for_tests() -> Security {
        let key = b"linesmap-test-key-not-secret".to_vec();
        Security {
            auth: Authentication::OpenDemo(Role::Admin, tokens::Tokens::default()),
            oidc: None,
            disclosure: disclosure::Disclosure::new(5, 5, Pseudonyms::new(key.clone())),
            pseudonyms: Pseudonyms::new(key),
            audit: None,
            rate: RateLimiter::new(0),
            cors_origins: Vec::new(),
            tls: false,
        }
    }

    pub fn open_demo(&self) -> Option<Role> {
        match &self.auth {
            Authentication::OpenDemo(r, _) => Some(*r),
            Authentication::Tokens(_) => None,
        }
    }

    /// The caller of a request with this `Authorization` header: `Ok(None)` signed out,
    /// `Err` (the reason) for a header that is not a valid bearer token: unknown, expired or
    /// revoked, or a JWT the provider's keys and claims do not bear out.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Option<Principal>, String> {
        let tokens = match &self.auth {
            Authentication::Tokens(t) | Authentication::OpenDemo(_, t) => t,
        };
        let open = |()| {
            self.open_demo()
                .map(|role| Principal::plain("open demo (no sign-in)", "open-demo", role))
        };
        let Some(h) = authorization else {
            return Ok(open(()));
        };
        let Some(token) = h
            .strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
        else {
            return Err("the Authorization header must be \"Bearer <token>\"".into());
        };
        let token = token.trim();
        if let Some(o) = &self.oidc
            && oidc::looks_like_jwt(token)
        {
            return o.verify(token).map(Some);
        }
        match tokens.find(token) {
            Some(r) => match r.refusal(time::OffsetDateTime::now_utc()) {
                Some(why) => Err(why),
                None => Ok(Some(Principal {
                    name: r.name,
                    token_id: r.id,
                    role: r.role,
                    force: r.force,
                    sso: None,
                })),
            },
            None => Err("the bearer token is not valid".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn policy_by_path_and_role() {
        assert_eq!(need("GET", "/", ""), Need::Public);
        assert_eq!(need("GET", "/health", ""), Need::Public);
        assert_eq!(need("GET", "/assets/index.js", ""), Need::Public);
        assert_eq!(need("POST", "/health", ""), Need::Role(Role::Viewer));
        assert_eq!(need("GET", "/collections", ""), Need::Role(Role::Viewer));
        assert_eq!(
            need("GET", "/api/hotspots", "top=5"),
            Need::Role(Role::Viewer)
        );
        assert_eq!(
            need("GET", "/api/journeys", "limit=5"),
            Need::Role(Role::BtpPlanner)
        );
        assert_eq!(
            need("GET", "/api/journeys/x", "persons=true"),
            Need::Role(Role::Analyst)
        );
        assert_eq!(need("POST", "/api/journeys", ""), Need::Role(Role::Admin));
        assert_eq!(
            need("DELETE", "/api/journeys/x", ""),
            Need::Role(Role::Admin)
        );
        assert_eq!(
            need("GET", "/collections/journeys/items", "persons=true&limit=1"),
            Need::Role(Role::Analyst)
        );
        assert_eq!(
            need("GET", "/api/export", "collection=journeys"),
            Need::Role(Role::BtpPlanner)
        );
        assert_eq!(need("GET", "/api/export", ""), Need::Role(Role::BtpPlanner));
        assert_eq!(
            need("GET", "/api/export", "collection=hotspots"),
            Need::Role(Role::Viewer)
        );
        assert_eq!(need("GET", "/api/audit", ""), Need::Role(Role::Admin));
        assert_eq!(need("GET", "/nowhere", ""), Need::Role(Role::Viewer));
        assert!(Role::Viewer < Role::BtpPlanner && Role::Analyst < Role::Admin);
        assert_eq!(normalize("//api/./x/../journeys/"), "/api/journeys");
        assert_eq!(normalize("/api/%6Aourneys%2Fa"), "/api/journeys/a");
        assert_eq!(normalize("/a+b"), "/a+b");
        assert_eq!(
            need("GET", "/api//journeys", ""),
            Need::Role(Role::BtpPlanner)
        );
        assert_eq!(
            need("GET", "/assets/../api/journeys", ""),
            Need::Role(Role::BtpPlanner)
        );
    }

    #[test]
    fn pseudonyms_are_stable_keyed_and_opaque() {
        let a = Pseudonyms::new(b"key one key one key one".to_vec());
        let b = Pseudonyms::new(b"key two key two key two".to_vec());
        assert_eq!(a.person("syn-p-1"), a.person("syn-p-1"));
        assert_ne!(a.person("syn-p-1"), a.person("syn-p-2"));
        assert_ne!(a.person("syn-p-1"), b.person("syn-p-1"));
        assert!(!a.person("syn-p-1").contains("syn"));
        assert_eq!(a.person("x").len(), 4 + 16);
        // RFC 4231 test case 2 (key "Jefe"), through the same HMAC: the first 8 bytes.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            tokens::hex(&mac.finalize().into_bytes()[..8]),
            "5bdcc146bf60754e"
        );
    }

    #[test]
    fn buckets_refill_at_the_rate() {
        let r = RateLimiter::new(60); // one a second, bursts of 60
        let t = Instant::now();
        for _ in 0..60 {
            assert!(r.take_at("a", t).is_ok());
        }
        let wait = r.take_at("a", t).unwrap_err();
        assert!((wait - 1.0).abs() < 1e-9, "{wait}");
        assert!(r.take_at("b", t).is_ok(), "callers have their own buckets");
        assert!(r.take_at("a", t + Duration::from_millis(1000)).is_ok());
        assert!(r.take_at("a", t + Duration::from_millis(1000)).is_err());
        assert!(RateLimiter::new(0).take_at("a", t).is_ok());
    }
}
