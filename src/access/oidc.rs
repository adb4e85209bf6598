//! Single sign-on: bearer JWTs issued by a force's OpenID Connect provider, accepted beside the
//! token file (`serve --oidc-issuer URL --oidc-audience AUD [--oidc-jwks FILE|URL]
//! [--oidc-role-claim roles] [--oidc-force-claim force]`).
//!
//! A JWT is accepted when its signature (RS256 or ES256 only, the algorithm the key is for)
//! verifies against a key of the provider's JWKS chosen by `kid`, and its `iss`, `aud`, `exp` and
//! `nbf` hold, within [`LEEWAY_S`] of clock skew. The role comes from the role claim (a string or
//! a list; a dotted path such as `realm_access.roles` reaches into objects), the force of a
//! `force_analyst` from the force claim. Each refusal names its reason. The keys are read at
//! start-up (from the file, the URL, or the URL the issuer's discovery document names) and again
//! when a token names a `kid` they lack, at most once a minute. The signature checks are
//! jsonwebtoken's (RustCrypto), not ours.
//!
//! With `--oidc-client-id` the page signs in through the provider itself (authorization code
//! with PKCE, a public client): [`PageSignIn`] holds what the page needs, read from the
//! provider's discovery document at start-up, served by `GET /api/auth/config`, and the origin
//! of its token endpoint widens the page's CSP `connect-src`.

use super::{Principal, Role, Sso};
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

/// Seconds of clock skew allowed on `exp` and `nbf`.
pub const LEEWAY_S: u64 = 60;
/// The keys are re-read for an unknown `kid` at most this often.
pub const REFRESH_EVERY: Duration = Duration::from_secs(60);
/// Longest JWT accepted, bytes (the gate already bounds headers to 32 KiB).
const MAX_JWT: usize = 16 * 1024;

/// How the server trusts its provider.
#[derive(Clone, Debug)]
pub struct OidcConfig {
    /// the `iss` every token must carry, exactly
    pub issuer: String,
    /// an `aud` every token must carry
    pub audience: String,
    /// the JWKS: a file, or an `https://` URL (`http://` only to this machine); `None`: the
    /// `jwks_uri` of `{issuer}/.well-known/openid-configuration`
    pub jwks: Option<String>,
    /// the claim holding the role(s)
    pub role_claim: String,
    /// the claim holding a `force_analyst`'s force
    pub force_claim: String,
    /// the least time between two reads of the keys (60 s; shorter in tests)
    pub refresh_every: Duration,
}

/// One usable key of the provider.
struct Key {
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
}

/// A provider's keys and the rules its tokens must meet.
pub struct Oidc {
    cfg: OidcConfig,
    /// where the keys are read from (a file or a URL)
    source: String,
    keys: RwLock<Vec<Key>>,
    last_read: Mutex<Instant>,
    /// the discovery document, when it was read at start-up
    discovery: Option<serde_json::Value>,
    /// the page's sign-in through the provider (`--oidc-client-id`)
    page: Option<PageSignIn>,
}

/// What the page needs to sign in through the provider (authorization code with PKCE, a public
/// client): `GET /api/auth/config`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PageSignIn {
    /// the page's public client id at the provider (`--oidc-client-id`)
    pub client_id: String,
    /// the scopes asked for, space-separated (`--oidc-scopes`)
    pub scopes: String,
    /// from the discovery document
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub end_session_endpoint: Option<String>,
    /// which of the provider's tokens the page sends as its bearer: `id_token` when the
    /// server's audience is the client id (an ID token's `aud` is always the client id), else
    /// `access_token` (the provider must put the server's audience in it)
    pub bearer: &'static str,
}

/// The origin (`scheme://host[:port]`) of an `https://` URL (`http://` only to this machine),
/// or why there is none. The host may hold only letters, digits, `.`, `-` (or be an IPv6
/// literal in brackets), so the origin is safe to write into a header.
pub fn origin(url: &str) -> anyhow::Result<String> {
    check_url(url)?;
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| anyhow::anyhow!("{url} is not an absolute URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    anyhow::ensure!(
        !authority.contains('@'),
        "{url}: a URL with user information is not accepted"
    );
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, Some(p)),
        _ => (authority, None),
    };
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        !v6.is_empty()
            && v6
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
    } else {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    };
    anyhow::ensure!(host_ok, "{url}: \"{host}\" is not a host name");
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.parse::<u16>().is_ok());
    anyhow::ensure!(port_ok, "{url}: the port is not a number");
    let host = host.to_ascii_lowercase();
    Ok(match port {
        Some(p) => format!("{scheme}://{host}:{p}"),
        None => format!("{scheme}://{host}"),
    })
}

/// The URL of an issuer's discovery document.
fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// The issuer's discovery document, fetched.
fn discover(issuer: &str) -> anyhow::Result<serde_json::Value> {
    let url = discovery_url(issuer);
    serde_json::from_str(&fetch(&url)?).map_err(|e| anyhow::anyhow!("{url} is not JSON: {e}"))
}

/// The page's sign-in from a discovery document: the authorization and token endpoints must be
/// there (`https://`, or `http://` to this machine), and a provider that lists its PKCE
/// methods must list S256.
fn page_sign_in(
    doc: &serde_json::Value,
    issuer: &str,
    audience: &str,
    client_id: &str,
    scopes: &str,
) -> anyhow::Result<PageSignIn> {
    let url = discovery_url(issuer);
    anyhow::ensure!(!client_id.trim().is_empty(), "--oidc-client-id is empty");
    let scopes = scopes.split_whitespace().collect::<Vec<_>>().join(" ");
    anyhow::ensure!(
        scopes.split(' ').any(|s| s == "openid"),
        "--oidc-scopes must include \"openid\" (the page checks the ID token's nonce)"
    );
    let endpoint = |name: &str| -> anyhow::Result<Option<String>> {
        match doc.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(u)) => {
                origin(u).map_err(|e| anyhow::anyhow!("{url}: {name}: {e}"))?;
                Ok(Some(u.clone()))
            }
            Some(_) => anyhow::bail!("{url}: {name} is not a string"),
        }
    };
    let need = |name: &str| -> anyhow::Result<String> {
        endpoint(name)?.ok_or_else(|| {
            anyhow::anyhow!(
                "{url} names no {name}, which the page's sign-in (--oidc-client-id) needs"
            )
        })
    };
    if let Some(m) = doc
        .get("code_challenge_methods_supported")
        .and_then(|m| m.as_array())
    {
        anyhow::ensure!(
            m.iter().any(|x| x.as_str() == Some("S256")),
            "{url}: the provider does not offer PKCE with S256 (code_challenge_methods_supported)"
        );
    }
    Ok(PageSignIn {
        client_id: client_id.trim().to_string(),
        scopes,
        authorization_endpoint: need("authorization_endpoint")?,
        token_endpoint: need("token_endpoint")?,
        end_session_endpoint: endpoint("end_session_endpoint")?,
        bearer: if client_id.trim() == audience {
            "id_token"
        } else {
            "access_token"
        },
    })
}

/// A bearer credential shaped like a JWT (three dot-separated parts), not a linesmap token.
pub fn looks_like_jwt(token: &str) -> bool {
    !token.starts_with("lm_") && token.bytes().filter(|&b| b == b'.').count() == 2
}

fn is_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

/// Keys may be fetched over plain HTTP only from this machine (a test or a local proxy).
fn check_url(url: &str) -> anyhow::Result<()> {
    let local = ["http://127.0.0.1", "http://localhost", "http://[::1]"];
    if url.starts_with("https://")
        || local.iter().any(|l| {
            url.strip_prefix(l)
                .is_some_and(|r| r.is_empty() || r.starts_with([':', '/']))
        })
    {
        return Ok(());
    }
    anyhow::bail!(
        "{url}: the provider's keys must come over https:// (http:// only from this machine)"
    )
}

fn fetch(url: &str) -> anyhow::Result<String> {
    check_url(url)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    agent
        .get(url)
        .call()
        .and_then(|mut r| r.body_mut().with_config().limit(1 << 20).read_to_string())
        .map_err(|e| anyhow::anyhow!("cannot fetch {url}: {e}"))
}

/// The text of a JWKS (or discovery document) from a file or a URL.
fn read_source(source: &str) -> anyhow::Result<String> {
    if is_url(source) {
        fetch(source)
    } else {
        std::fs::read_to_string(source).map_err(|e| anyhow::anyhow!("cannot read {source}: {e}"))
    }
}

/// The usable signature keys of a JWKS: RSA (RS256) and P-256 (ES256) keys meant for
/// signatures; symmetric keys, other curves and algorithms, and keys that do not parse are
/// left out (a provider's set may hold encryption keys too).
fn parse_keys(text: &str) -> anyhow::Result<Vec<Key>> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| anyhow::anyhow!("the JWKS is not JSON: {e}"))?;
    let list = v
        .get("keys")
        .and_then(|k| k.as_array())
        .ok_or_else(|| anyhow::anyhow!("the JWKS has no \"keys\" list"))?;
    let mut keys = Vec::new();
    for k in list {
        let Ok(jwk) = serde_json::from_value::<Jwk>(k.clone()) else {
            continue;
        };
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue;
        }
        let alg = match (&jwk.algorithm, jwk.common.key_algorithm) {
            (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
            (AlgorithmParameters::EllipticCurve(p), None | Some(KeyAlgorithm::ES256))
                if p.curve == EllipticCurve::P256 =>
            {
                Algorithm::ES256
            }
            _ => continue,
        };
        let Ok(key) = DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        keys.push(Key {
            kid: jwk.common.key_id.clone(),
            alg,
            key,
        });
    }
    Ok(keys)
}

/// The value at a dotted claim path (`roles`, `realm_access.roles`); a claim whose name has a
/// dot in it is found whole first.
fn claim<'a>(claims: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    if let Some(v) = claims.get(path) {
        return Some(v);
    }
    path.split('.').try_fold(claims, |v, part| v.get(part))
}

/// The role a role claim grants: the broadest linesmap role it names (admin, analyst,
/// force_analyst, btp_planner, viewer in that order); names it does not know are ignored.
fn role_of(v: Option<&serde_json::Value>) -> Option<Role> {
    let names: Vec<&str> = match v? {
        serde_json::Value::String(s) => s.split([' ', ',']).collect(),
        serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str()).collect(),
        _ => return None,
    };
    [
        Role::Admin,
        Role::Analyst,
        Role::ForceAnalyst,
        Role::BtpPlanner,
        Role::Viewer,
    ]
    .into_iter()
    .find(|r| names.contains(&r.as_str()))
}

/// The `alg` a JWT's header names, read without trusting it (for the reason of a refusal).
fn header_alg(token: &str) -> Option<String> {
    let head = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(head.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("alg")?.as_str().map(str::to_string)
}

impl Oidc {
    /// Reads the provider's keys; fails (the server does not start) when they cannot be read or
    /// none is usable.
    pub fn new(cfg: OidcConfig) -> anyhow::Result<Oidc> {
        anyhow::ensure!(!cfg.issuer.is_empty(), "--oidc-issuer is empty");
        anyhow::ensure!(!cfg.audience.is_empty(), "--oidc-audience is empty");
        let mut discovery = None;
        let source = match &cfg.jwks {
            Some(s) => s.clone(),
            None => {
                let doc = discover(&cfg.issuer)?;
                let uri = doc
                    .get("jwks_uri")
                    .and_then(|u| u.as_str())
                    .ok_or_else(|| {
                        anyhow::anyhow!("{} names no jwks_uri", discovery_url(&cfg.issuer))
                    })?
                    .to_string();
                discovery = Some(doc);
                uri
            }
        };
        if is_url(&source) {
            check_url(&source)?;
        }
        let keys =
            parse_keys(&read_source(&source)?).map_err(|e| anyhow::anyhow!("{source}: {e}"))?;
        anyhow::ensure!(
            !keys.is_empty(),
            "{source}: the JWKS holds no RS256 or ES256 signature key"
        );
        Ok(Oidc {
            cfg,
            source,
            keys: RwLock::new(keys),
            last_read: Mutex::new(Instant::now()),
            discovery,
            page: None,
        })
    }

    /// Lets the page sign in through the provider as the public client `client_id` asking for
    /// `scopes`: the endpoints come from the issuer's discovery document (read at start-up;
    /// the server does not start when it cannot be read or lacks them).
    pub fn with_page_sign_in(mut self, client_id: &str, scopes: &str) -> anyhow::Result<Oidc> {
        let doc = match self.discovery.take() {
            Some(d) => d,
            None => discover(&self.cfg.issuer).map_err(|e| {
                anyhow::anyhow!("{e:#} (--oidc-client-id needs the provider's discovery document)")
            })?,
        };
        self.page = Some(page_sign_in(
            &doc,
            &self.cfg.issuer,
            &self.cfg.audience,
            client_id,
            scopes,
        )?);
        Ok(self)
    }

    pub fn config(&self) -> &OidcConfig {
        &self.cfg
    }

    /// The page's sign-in through the provider, if configured.
    pub fn page(&self) -> Option<&PageSignIn> {
        self.page.as_ref()
    }

    /// Re-reads the keys if the last read was at least `refresh_every` ago; true if it did.
    fn refresh(&self) -> bool {
        {
            let mut last = self.last_read.lock().unwrap_or_else(|e| e.into_inner());
            if last.elapsed() < self.cfg.refresh_every {
                return false;
            }
            // counted as a read even if it fails: a broken provider is not asked every request
            *last = Instant::now();
        }
        match read_source(&self.source).and_then(|t| parse_keys(&t)) {
            Ok(keys) if !keys.is_empty() => {
                tracing::info!(keys = keys.len(), source = %self.source, "provider keys re-read");
                *self.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
                true
            }
            Ok(_) => {
                tracing::error!(source = %self.source, "the provider's JWKS holds no usable key; keeping the keys read before");
                false
            }
            Err(e) => {
                tracing::error!("{e:#}; keeping the provider keys read before");
                false
            }
        }
    }

    /// The key a token's `kid` names (the only key when the token names none), its algorithm.
    fn key_for(&self, kid: Option<&str>) -> Option<(Algorithm, DecodingKey)> {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        match kid {
            Some(kid) => keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
            None if keys.len() == 1 => keys.first(),
            None => None,
        }
        .map(|k| (k.alg, k.key.clone()))
    }

    /// The caller a JWT vouches for, or why it is refused.
    pub fn verify(&self, token: &str) -> Result<Principal, String> {
        if token.len() > MAX_JWT {
            return Err(format!("the JWT is longer than {MAX_JWT} bytes"));
        }
        let alg_name = header_alg(token)
            .ok_or("the bearer token is not a JWT: its header is not base64url JSON with an alg")?;
        if alg_name != "RS256" && alg_name != "ES256" {
            return Err(format!(
                "the JWT is signed with \"{alg_name}\"; only RS256 and ES256 are accepted"
            ));
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| format!("the JWT header is not valid: {e}"))?;
        let kid = header.kid.as_deref();
        let found = match self.key_for(kid) {
            Some(k) => Some(k),
            None if kid.is_some() && self.refresh() => self.key_for(kid),
            None => None,
        };
        let Some((alg, key)) = found else {
            return Err(match kid {
                Some(kid) => format!(
                    "the JWT is signed by a key the provider does not list (kid \"{kid}\"; its keys are re-read at most every {} s)",
                    self.cfg.refresh_every.as_secs()
                ),
                None => "the JWT names no key (kid) and the provider has several".into(),
            });
        };
        if header.alg != alg {
            return Err(format!(
                "the JWT is signed with {:?} but its key is for {alg:?}",
                header.alg
            ));
        }
        let mut v = Validation::new(alg);
        v.leeway = LEEWAY_S;
        v.validate_exp = true;
        v.validate_nbf = true;
        v.set_issuer(&[&self.cfg.issuer]);
        v.set_audience(&[&self.cfg.audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data =
            jsonwebtoken::decode::<serde_json::Value>(token, &key, &v).map_err(|e| {
                match e.kind() {
                    ErrorKind::InvalidSignature => {
                        "the JWT's signature does not verify".to_string()
                    }
                    ErrorKind::ExpiredSignature => "the JWT has expired (exp)".into(),
                    ErrorKind::ImmatureSignature => "the JWT is not valid yet (nbf)".into(),
                    ErrorKind::InvalidIssuer => {
                        format!("the JWT's issuer is not {}", self.cfg.issuer)
                    }
                    ErrorKind::InvalidAudience => {
                        format!("the JWT is not for this audience ({})", self.cfg.audience)
                    }
                    ErrorKind::MissingRequiredClaim(c) => format!("the JWT has no \"{c}\" claim"),
                    ErrorKind::InvalidClaimFormat(c) => {
                        format!("the JWT's \"{c}\" claim has the wrong type")
                    }
                    _ => format!("the JWT is not valid: {e}"),
                }
            })?;
        let claims = data.claims;
        let text = |name: &str| {
            claims
                .get(name)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let subject = text("sub").ok_or("the JWT's \"sub\" claim is not a string")?;
        let issuer = text("iss").unwrap_or_default();
        let role = role_of(claim(&claims, &self.cfg.role_claim)).ok_or_else(|| {
            format!(
                "the JWT's \"{}\" claim names no linesmap role (viewer, btp_planner, analyst, force_analyst, admin)",
                self.cfg.role_claim
            )
        })?;
        let force = if role == Role::ForceAnalyst {
            let f = claim(&claims, &self.cfg.force_claim).and_then(|v| v.as_str());
            super::check_force(role, f)
                .map_err(|e| format!("the JWT's \"{}\" claim: {e}", self.cfg.force_claim))?
        } else {
            None
        };
        let name = text("name")
            .or_else(|| text("preferred_username"))
            .or_else(|| text("email"))
            .unwrap_or_else(|| subject.clone());
        Ok(Principal {
            name,
            token_id: "jwt".into(),
            role,
            force,
            sso: Some(Sso { subject, issuer }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_claims_as_strings_lists_and_paths() {
        let c = serde_json::json!({"roles": ["user", "analyst"], "realm_access": {"roles": ["viewer"]}, "scope": "openid admin"});
        assert_eq!(role_of(claim(&c, "roles")), Some(Role::Analyst));
        assert_eq!(role_of(claim(&c, "realm_access.roles")), Some(Role::Viewer));
        assert_eq!(role_of(claim(&c, "scope")), Some(Role::Admin));
        assert_eq!(role_of(claim(&c, "nothing")), None);
        let both = serde_json::json!({"roles": ["force_analyst", "analyst"]});
        assert_eq!(
            role_of(claim(&both, "roles")),
            Some(Role::Analyst),
            "the broadest"
        );
        assert_eq!(
            role_of(Some(&serde_json::json!(["force_analyst"]))),
            Some(Role::ForceAnalyst)
        );
    }

    #[test]
    fn jwt_shapes_and_key_urls() {
        assert!(looks_like_jwt("a.b.c"));
        assert!(looks_like_jwt("a.b."));
        assert!(!looks_like_jwt("lm_00.11.22"));
        assert!(!looks_like_jwt("abc"));
        assert!(check_url("https://idp.example/keys").is_ok());
        assert!(check_url("http://127.0.0.1:9000/keys").is_ok());
        assert!(check_url("http://localhost/keys").is_ok());
        assert!(check_url("http://localhost.evil.example/keys").is_err());
        assert!(check_url("http://idp.example/keys").is_err());
        // {"alg":"none"} in base64url
        assert_eq!(
            header_alg("eyJhbGciOiJub25lIn0.e30.").as_deref(),
            Some("none")
        );
    }

    #[test]
    fn origins_are_scheme_host_and_port_only_and_safe_in_a_header() {
        assert_eq!(
            origin("https://IdP.syn-force.example/realms/x/token").unwrap(),
            "https://idp.syn-force.example"
        );
        assert_eq!(
            origin("https://idp.example:8443/t?x=1").unwrap(),
            "https://idp.example:8443"
        );
        assert_eq!(
            origin("http://127.0.0.1:18711/token").unwrap(),
            "http://127.0.0.1:18711"
        );
        assert_eq!(origin("http://[::1]:9/t").unwrap(), "http://[::1]:9");
        for bad in [
            "http://idp.example/token",
            "https://idp.example;script-src */t",
            "https://user@idp.example/t",
            "https://idp.example:99999/t",
            "https://idp.example:/t",
            "https:///t",
            "https://idp example/t",
        ] {
            assert!(origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_pages_sign_in_comes_from_the_discovery_document() {
        let doc = serde_json::json!({
            "authorization_endpoint": "https://idp.example/auth",
            "token_endpoint": "https://idp.example/token",
            "end_session_endpoint": "https://idp.example/logout",
            "code_challenge_methods_supported": ["plain", "S256"],
        });
        let p = page_sign_in(
            &doc,
            "https://idp.example",
            "linesmap",
            "page",
            " openid  profile ",
        )
        .unwrap();
        assert_eq!(p.scopes, "openid profile");
        assert_eq!(p.bearer, "access_token");
        assert_eq!(
            p.end_session_endpoint.as_deref(),
            Some("https://idp.example/logout")
        );
        let same = page_sign_in(&doc, "https://idp.example", "page", "page", "openid").unwrap();
        assert_eq!(same.bearer, "id_token", "the audience is the client id");
        let err = |doc: serde_json::Value, scopes: &str| {
            page_sign_in(&doc, "https://idp.example", "a", "page", scopes)
                .unwrap_err()
                .to_string()
        };
        assert!(err(doc.clone(), "profile").contains("openid"));
        assert!(
            err(
                serde_json::json!({"token_endpoint": "https://idp.example/t"}),
                "openid"
            )
            .contains("authorization_endpoint")
        );
        assert!(err(serde_json::json!({"authorization_endpoint": "https://idp.example/a", "token_endpoint": "http://idp.example/t"}), "openid").contains("https://"));
        assert!(err(serde_json::json!({"authorization_endpoint": "https://idp.example/a", "token_endpoint": "https://idp.example/t", "code_challenge_methods_supported": ["plain"]}), "openid").contains("S256"));
    }

    #[test]
    fn symmetric_and_encryption_keys_are_not_used() {
        let set = serde_json::json!({"keys": [
            {"kty": "oct", "kid": "h", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "sXch", "e": "AQAB"},
            {"kty": "EC", "kid": "p384", "crv": "P-384", "x": "AA", "y": "AA"},
            {"kty": "XYZ"}
        ]});
        assert!(parse_keys(&set.to_string()).unwrap().is_empty());
        assert!(parse_keys("{}").is_err());
    }
}
