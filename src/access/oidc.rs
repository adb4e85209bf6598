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
        let source = match &cfg.jwks {
            Some(s) => s.clone(),
            None => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    cfg.issuer.trim_end_matches('/')
                );
                let doc: serde_json::Value = serde_json::from_str(&fetch(&url)?)
                    .map_err(|e| anyhow::anyhow!("{url} is not JSON: {e}"))?;
                doc.get("jwks_uri")
                    .and_then(|u| u.as_str())
                    .ok_or_else(|| anyhow::anyhow!("{url} names no jwks_uri"))?
                    .to_string()
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
        })
    }

    pub fn config(&self) -> &OidcConfig {
        &self.cfg
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
