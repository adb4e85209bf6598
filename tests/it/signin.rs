//! Signing in: bearer JWTs from an OpenID Connect provider and the token file's lifecycle.
//!
//! The provider is played by the test: it makes its own keys with `openssl` (RSA 2048 and
//! P-256), writes their JWKS itself (the RSA modulus from `openssl rsa -modulus`, the EC point
//! from the public key's DER, base64url-encoded here, not by the JWT library) and serves it from
//! a file or from a socket of its own. Tokens are signed with jsonwebtoken (the crate the server
//! verifies with); the refusals are forged by hand (`alg: none`, a changed payload, HS256 keyed
//! with the public key).

use super::common::{create_token, gb_arc, report, start_server_raw, test_security, token_record};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use linesmap::access::audit::AuditLog;
use linesmap::access::oidc::{Oidc, OidcConfig};
use linesmap::access::tokens::sha256_hex;
use linesmap::access::{Role, Security};
use linesmap::http::{AppState, routes};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ISS: &str = "https://idp.syn-force.example/realms/syn";
const AUD: &str = "linesmap-syn";
const ADMIN: &str = "lm_4444444444444444444444444444444444444444444444444444444444444444";
const NORFOLK: &str = "E23000024";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("linesmap-signin-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn openssl(args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A key the test's provider signs with, and its public JWK.
struct Key {
    alg: Algorithm,
    kid: String,
    signing: EncodingKey,
    jwk: Value,
    /// the public key, PEM (what an attacker keys HS256 with)
    public_pem: Vec<u8>,
}

fn rsa_key(dir: &Path, kid: &str) -> Key {
    let pem = dir.join(format!("{kid}.pem"));
    let p = pem.to_str().unwrap();
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        p,
    ]);
    let der = openssl(&["rsa", "-in", p, "-traditional", "-outform", "DER"]);
    let text = String::from_utf8(openssl(&["rsa", "-in", p, "-noout", "-text"])).unwrap();
    assert!(text.contains("publicExponent: 65537"), "e is AQAB");
    let modulus = String::from_utf8(openssl(&["rsa", "-in", p, "-noout", "-modulus"])).unwrap();
    let hex = modulus.trim().strip_prefix("Modulus=").unwrap();
    let n: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    assert_eq!(n.len(), 256);
    Key {
        alg: Algorithm::RS256,
        kid: kid.into(),
        signing: EncodingKey::from_rsa_der(&der),
        jwk: json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64(&n), "e": "AQAB"}),
        public_pem: openssl(&["rsa", "-in", p, "-pubout"]),
    }
}

fn ec_key(dir: &Path, kid: &str) -> Key {
    let pem = dir.join(format!("{kid}.pem"));
    let p = pem.to_str().unwrap();
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        p,
    ]);
    let der = openssl(&["pkcs8", "-topk8", "-nocrypt", "-in", p, "-outform", "DER"]);
    let spki = openssl(&["pkey", "-in", p, "-pubout", "-outform", "DER"]);
    // an uncompressed P-256 point ends the SubjectPublicKeyInfo: 0x04, x (32 bytes), y (32)
    let point = &spki[spki.len() - 65..];
    assert_eq!(point[0], 4);
    Key {
        alg: Algorithm::ES256,
        kid: kid.into(),
        signing: EncodingKey::from_ec_der(&der),
        // no "alg": the server derives ES256 from the curve
        jwk: json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(&point[1..33]), "y": b64(&point[33..])}),
        public_pem: openssl(&["pkey", "-in", p, "-pubout"]),
    }
}

fn jwks(keys: &[&Key]) -> String {
    json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()}).to_string()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The claims of a valid token for `role`, with `over` replacing or adding some.
fn claims(role: &str, over: Value) -> Value {
    let mut c = json!({"iss": ISS, "aud": AUD, "sub": "syn-user-1", "name": "SSO Analyst",
        "iat": now(), "nbf": now() - 10, "exp": now() + 600, "roles": ["offline_access", role]});
    for (k, v) in over.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn sign(key: &Key, claims: &Value) -> String {
    let mut h = Header::new(key.alg);
    h.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&h, claims, &key.signing).unwrap()
}

fn security(dir: &Path, oidc: Oidc) -> Security {
    test_security(
        dir,
        vec![token_record("tok_admin", Role::Admin, ADMIN)],
        Some(oidc),
    )
}

fn config(jwks: Option<String>, issuer: &str, refresh: Duration) -> OidcConfig {
    OidcConfig {
        issuer: issuer.into(),
        audience: AUD.into(),
        jwks,
        role_claim: "roles".into(),
        force_claim: "force".into(),
        refresh_every: refresh,
    }
}

/// A state on the GB data with four synthetic reports (`syn-sso-0..3`: Euston → Norwich,
/// Liverpool Lime Street → Blackpool North, Birmingham New Street → Swansea, King's Cross →
/// Skegness).
async fn state(dir: &Path, oidc: Oidc) -> Arc<AppState> {
    let store = linesmap::store::SqliteStore::in_memory().unwrap();
    let journeys = Arc::new(linesmap::ingest::Journeys::new(
        gb_arc().clone(),
        Arc::new(store),
    ));
    let st = AppState::with_security(journeys, None, security(dir, oidc));
    let batch = format!(
        "[{}]",
        (0..4)
            .map(|k| report(&format!("syn-sso-{k}"), k))
            .collect::<Vec<_>>()
            .join(",")
    );
    let r = warp::test::request()
        .method("POST")
        .path("/api/journeys")
        .header("authorization", format!("Bearer {ADMIN}"))
        .header("content-type", "application/json")
        .body(batch)
        .reply(&routes(st.clone()))
        .await;
    assert_eq!(r.status(), 201, "{:?}", r.body());
    st
}

/// (status, body as JSON) of a GET with `Authorization: Bearer <bearer>`.
async fn get(st: &Arc<AppState>, path: &str, bearer: &str) -> (u16, Value) {
    let r = warp::test::request()
        .path(path)
        .header("authorization", format!("Bearer {bearer}"))
        .header("x-justification", "sign-in test: synthetic data")
        .reply(&routes(st.clone()))
        .await;
    (
        r.status().as_u16(),
        serde_json::from_slice(r.body()).unwrap_or(Value::Null),
    )
}

/// The reason a refused bearer gets: it must be a 401 JSON error with WWW-Authenticate.
async fn refusal(st: &Arc<AppState>, bearer: &str) -> String {
    let r = warp::test::request()
        .path("/api/whoami")
        .header("authorization", format!("Bearer {bearer}"))
        .reply(&routes(st.clone()))
        .await;
    let body: Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(r.status(), 401, "{body}");
    assert!(r.headers().contains_key("www-authenticate"));
    assert_eq!(body["code"], "unauthorized", "{body}");
    body["message"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn provider_jwts_sign_in_and_every_forged_or_stale_one_is_refused_with_its_reason() {
    let dir = temp("jwt");
    let rsa = rsa_key(&dir, "rsa-1");
    let ec = ec_key(&dir, "ec-1");
    let stranger = rsa_key(&dir, "rsa-stranger"); // not in the provider's JWKS
    let file = dir.join("jwks.json");
    std::fs::write(&file, jwks(&[&rsa, &ec])).unwrap();
    let oidc = Oidc::new(config(
        Some(file.to_str().unwrap().into()),
        ISS,
        Duration::from_secs(60),
    ))
    .unwrap();
    let st = state(&dir, oidc).await;

    // RS256: an analyst, named from the token; the SSO identity is kept.
    let good = sign(&rsa, &claims("analyst", json!({})));
    let (s, me) = get(&st, "/api/whoami", &good).await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["role"], "analyst");
    assert_eq!(me["name"], "SSO Analyst");
    assert_eq!(me["token_id"], "jwt");
    assert_eq!(me["journeys"], "all");
    assert_eq!(me["sso"], json!({"subject": "syn-user-1", "issuer": ISS}));
    // ES256, with the role under a nested claim path? No: the configured claim is `roles`;
    // a force analyst of Norfolk sees only the Euston → Norwich journey (the only one of the
    // four that starts, ends or passes in Norfolk).
    let fa = sign(
        &ec,
        &claims(
            "force_analyst",
            json!({"force": NORFOLK, "sub": "syn-user-2"}),
        ),
    );
    let (s, me) = get(&st, "/api/whoami", &fa).await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["role"], "force_analyst");
    assert_eq!(me["force"], NORFOLK);
    assert_eq!(me["journeys"], "force");
    let (s, list) = get(&st, "/api/journeys?limit=100", &fa).await;
    assert_eq!(s, 200);
    assert_eq!(list["numberMatched"], 1);
    assert_eq!(list["features"][0]["id"], "syn-sso-0");
    let (s, _) = get(&st, "/api/journeys/syn-sso-1", &fa).await;
    assert_eq!(s, 404, "another force's journey is as absent as none");
    let (s, all) = get(&st, "/api/journeys?limit=100", &good).await;
    assert_eq!((s, all["numberMatched"].as_u64()), (200, Some(4)));
    // Within the 60 s leeway an expired token still passes; past it, refused.
    let late = sign(&rsa, &claims("analyst", json!({"exp": now() - 30})));
    assert_eq!(get(&st, "/api/whoami", &late).await.0, 200);

    let cases: Vec<(&str, String, &str)> = vec![
        (
            "expired",
            sign(&rsa, &claims("analyst", json!({"exp": now() - 120}))),
            "expired",
        ),
        (
            "not yet valid",
            sign(&rsa, &claims("analyst", json!({"nbf": now() + 600}))),
            "not valid yet",
        ),
        (
            "wrong audience",
            sign(&rsa, &claims("analyst", json!({"aud": "another-app"}))),
            "audience",
        ),
        (
            "wrong issuer",
            sign(
                &rsa,
                &claims("analyst", json!({"iss": "https://idp.elsewhere.example"})),
            ),
            "issuer",
        ),
        (
            "no exp",
            sign(&rsa, &claims("analyst", json!({"exp": null}))),
            "\"exp\"",
        ),
        (
            "unknown kid",
            sign(&stranger, &claims("admin", json!({}))),
            "does not list",
        ),
        (
            "no role",
            sign(&rsa, &claims("offline_access", json!({}))),
            "names no linesmap role",
        ),
        (
            "force analyst without a force",
            sign(&rsa, &claims("force_analyst", json!({}))),
            "needs a force",
        ),
        (
            "force analyst of BTP",
            sign(&rsa, &claims("force_analyst", json!({"force": "BTP"}))),
            "territorial force",
        ),
    ];
    for (what, jwt, reason) in cases {
        let msg = refusal(&st, &jwt).await;
        assert!(msg.contains(reason), "{what}: {msg}");
    }
    // A stranger's key under the provider's kid: the signature does not verify.
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some("rsa-1".into());
    let forged = jsonwebtoken::encode(&h, &claims("admin", json!({})), &stranger.signing).unwrap();
    assert!(
        refusal(&st, &forged)
            .await
            .contains("signature does not verify")
    );
    // The provider's token with its payload changed (analyst → admin), signature kept.
    let parts: Vec<&str> = good.split('.').collect();
    let admin_payload = b64(claims("admin", json!({})).to_string().as_bytes());
    let tampered = format!("{}.{admin_payload}.{}", parts[0], parts[2]);
    assert!(
        refusal(&st, &tampered)
            .await
            .contains("signature does not verify")
    );
    // The same signature under an ES256 header: the key is RS256's.
    let es_head = b64(br#"{"alg":"ES256","kid":"rsa-1"}"#);
    let swapped = format!("{es_head}.{}.{}", parts[1], parts[2]);
    assert!(
        refusal(&st, &swapped)
            .await
            .contains("its key is for RS256")
    );
    // alg none, unsigned.
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT","kid":"rsa-1"}"#),
        b64(claims("admin", json!({})).to_string().as_bytes())
    );
    let msg = refusal(&st, &none).await;
    assert!(
        msg.contains("\"none\"") && msg.contains("only RS256 and ES256"),
        "{msg}"
    );
    // HS256 keyed with the provider's public key (the algorithm-confusion attack), for
    // either key.
    for key in [&rsa, &ec] {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(key.kid.clone());
        let hs = jsonwebtoken::encode(
            &h,
            &claims("admin", json!({})),
            &EncodingKey::from_secret(&key.public_pem),
        )
        .unwrap();
        let msg = refusal(&st, &hs).await;
        assert!(msg.contains("\"HS256\""), "{msg}");
    }
    // Not a JWT at all, and a token file token that is not ours: refused too.
    assert!(refusal(&st, "a.b.c").await.contains("not a JWT"));
    assert!(refusal(&st, "lm_nope").await.contains("not valid"));

    // The audit log names the SSO subject and issuer of JWT callers' journey-level reads.
    let (s, _) = get(&st, "/api/journeys/syn-sso-0?persons=true", &good).await;
    assert_eq!(s, 200);
    let (s, audit) = get(&st, "/api/audit?action=read_persons", ADMIN).await;
    assert_eq!(s, 200, "{audit}");
    let e = audit["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(e["actor"], "SSO Analyst");
    assert_eq!(e["token_id"], "jwt");
    assert_eq!(e["role"], "analyst");
    assert_eq!(e["sso_subject"], "syn-user-1");
    assert_eq!(e["sso_issuer"], ISS);
    assert_eq!(e["justification"], "sign-in test: synthetic data");
    let (_, fa_reads) = get(&st, "/api/audit?action=read_journeys", ADMIN).await;
    let fa_read = fa_reads["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["sso_subject"] == "syn-user-2")
        .expect("the force analyst's list read is audited")
        .clone();
    assert_eq!(
        (fa_read["role"].clone(), fa_read["records"].clone()),
        (json!("force_analyst"), json!(1))
    );
    // Token-file callers' entries carry no SSO fields.
    assert!(audit_has_no_sso_for_tokens(&dir));
    let _ = std::fs::remove_dir_all(&dir);
}

fn audit_has_no_sso_for_tokens(dir: &Path) -> bool {
    let log = AuditLog::open(&dir.join("audit.ndjson")).unwrap();
    let (all, n) = log.read(|e| e.token_id == "tok_admin", 0, 100).unwrap();
    n > 0
        && all
            .iter()
            .all(|e| e.sso_subject.is_none() && e.sso_issuer.is_none())
}

/// A provider on a local socket: its discovery document at
/// `/.well-known/openid-configuration` and its JWKS at `/jwks`, counting the JWKS fetches.
struct Provider {
    base: String,
    jwks: Arc<Mutex<String>>,
    fetches: Arc<AtomicUsize>,
}

fn provider(initial: String) -> Provider {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let jwks = Arc::new(Mutex::new(initial));
    let fetches = Arc::new(AtomicUsize::new(0));
    let (j, n, b) = (jwks.clone(), fetches.clone(), base.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match c.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => req.extend_from_slice(&buf[..k]),
                }
            }
            let line = String::from_utf8_lossy(&req)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            let body = if line.starts_with("GET /.well-known/openid-configuration ") {
                json!({"issuer": b, "jwks_uri": format!("{b}/jwks"),
                    "authorization_endpoint": format!("{b}/authorize"),
                    "token_endpoint": format!("{b}/token"),
                    "end_session_endpoint": format!("{b}/logout"),
                    "code_challenge_methods_supported": ["S256"]})
                .to_string()
            } else {
                n.fetch_add(1, Ordering::SeqCst);
                j.lock().unwrap().clone()
            };
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Provider {
        base,
        jwks,
        fetches,
    }
}

#[tokio::test]
async fn a_new_signing_key_is_fetched_when_its_kid_arrives_at_most_once_per_interval() {
    let dir = temp("rotate");
    let old = rsa_key(&dir, "rsa-old");
    let new = ec_key(&dir, "ec-new");
    let p = provider(jwks(&[&old]));
    // No --oidc-jwks: the keys' URL comes from the issuer's discovery document. The interval
    // is 2 s here (60 s in the server) so that the test need not wait a minute.
    let oidc = Oidc::new(config(None, &p.base, Duration::from_secs(2))).unwrap();
    assert_eq!(p.fetches.load(Ordering::SeqCst), 1, "read once at start-up");
    let st = state(&dir, oidc).await;
    let claims = |role: &str| {
        let mut c = claims(role, json!({}));
        c["iss"] = json!(p.base);
        c
    };
    assert_eq!(
        get(&st, "/api/whoami", &sign(&old, &claims("viewer")))
            .await
            .0,
        200
    );
    // An unknown kid once the interval has passed: the keys are re-read (still refused).
    let stranger = rsa_key(&dir, "rsa-stranger");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(
        refusal(&st, &sign(&stranger, &claims("admin")))
            .await
            .contains("does not list")
    );
    assert_eq!(
        p.fetches.load(Ordering::SeqCst),
        2,
        "re-read for the unknown kid"
    );
    // The provider rotates: the new key is published and a token signed by it arrives at
    // once, within the interval of that read: refused, the provider not asked.
    *p.jwks.lock().unwrap() = jwks(&[&old, &new]);
    let rotated = sign(&new, &claims("analyst"));
    let msg = refusal(&st, &rotated).await;
    assert!(msg.contains("does not list"), "{msg}");
    assert_eq!(
        p.fetches.load(Ordering::SeqCst),
        2,
        "not re-read within the interval"
    );
    // After the interval the new kid brings one read, and the token is accepted.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (s, me) = get(&st, "/api/whoami", &rotated).await;
    assert_eq!((s, me["role"].clone()), (200, json!("analyst")), "{me}");
    assert_eq!(
        p.fetches.load(Ordering::SeqCst),
        3,
        "re-read once for the new kid"
    );
    // A flood of unknown kids right after: refused, and the provider is not asked again.
    for _ in 0..5 {
        assert!(
            refusal(&st, &sign(&stranger, &claims("admin")))
                .await
                .contains("does not list")
        );
    }
    assert_eq!(p.fetches.load(Ordering::SeqCst), 3);
    // Keys over plain HTTP from another machine are refused at start-up.
    let e = Oidc::new(config(
        Some("http://idp.syn-force.example/jwks".into()),
        ISS,
        Duration::from_secs(60),
    ))
    .err()
    .expect("refused");
    assert!(e.to_string().contains("https://"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The CSP of the page with `connect-src` as given: every other directive is the strict one.
fn csp_with_connect(connect: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         worker-src 'self' blob:; connect-src {connect}; font-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// (status, CSP header, body) of a GET signed out, or with a bearer.
async fn get_csp(st: &Arc<AppState>, path: &str, bearer: Option<&str>) -> (u16, String, Value) {
    let mut req = warp::test::request().path(path);
    if let Some(b) = bearer {
        req = req.header("authorization", format!("Bearer {b}"));
    }
    let r = req.reply(&routes(st.clone())).await;
    let csp = r
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (
        r.status().as_u16(),
        csp,
        serde_json::from_slice(r.body()).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn the_pages_sign_in_config_names_the_provider_and_the_csp_widens_to_its_origin_only_when_on()
{
    let dir = temp("pagecfg");
    let key = rsa_key(&dir, "rsa-page");
    let p = provider(jwks(&[&key]));
    let strict = csp_with_connect("'self'");
    // SSO for bearers only (no --oidc-client-id): the page signs in with a token as before, and
    // the CSP is the strict one, unchanged.
    let off = state(
        &dir,
        Oidc::new(config(None, &p.base, Duration::from_secs(60))).unwrap(),
    )
    .await;
    let (s, csp, body) = get_csp(&off, "/api/auth/config", None).await;
    assert_eq!((s, body), (200, json!({"sso": false})));
    assert_eq!(csp, strict);
    assert_eq!(get_csp(&off, "/", None).await.1, strict);
    // With the page's client: the endpoints the provider's discovery document names (the test
    // provider's own, written out here), the scopes, and the access token as the bearer, since
    // the server's audience is not the client id.
    let oidc = Oidc::new(config(None, &p.base, Duration::from_secs(60)))
        .unwrap()
        .with_page_sign_in("linesmap-page-syn", "openid   profile")
        .unwrap();
    let audit_before = std::fs::read_to_string(dir.join("audit.ndjson")).unwrap_or_default();
    let on = state(&dir, oidc).await;
    let (s, csp, body) = get_csp(&on, "/api/auth/config", None).await;
    let b = &p.base;
    assert_eq!(
        (s, body),
        (
            200,
            json!({"sso": true, "issuer": b, "client_id": "linesmap-page-syn",
                "authorization_endpoint": format!("{b}/authorize"),
                "token_endpoint": format!("{b}/token"),
                "end_session_endpoint": format!("{b}/logout"),
                "scopes": "openid profile", "bearer": "access_token"})
        )
    );
    // connect-src: 'self' and the provider's origin (scheme, host and port of its token
    // endpoint), nothing more; every other directive unchanged; on the page, on public and on
    // signed-in answers alike.
    assert!(b.starts_with("http://127.0.0.1:"), "{b}");
    let widened = csp_with_connect(&format!("'self' {b}"));
    assert_eq!(csp, widened);
    assert_eq!(get_csp(&on, "/", None).await.1, widened);
    let (s, csp, _) = get_csp(&on, "/api/whoami", Some(ADMIN)).await;
    assert_eq!((s, csp), (200, widened));
    // Reading how to sign in is not an audited access (the admin's whoami above is not either;
    // the only entries are the fixture's ingests).
    let audit_after = std::fs::read_to_string(dir.join("audit.ndjson")).unwrap_or_default();
    let new_lines: Vec<&str> = audit_after[audit_before.len().min(audit_after.len())..]
        .lines()
        .collect();
    assert!(
        new_lines.iter().all(|l| l.contains("\"ingest\"")),
        "{new_lines:?}"
    );
    // The audience equal to the client id: the page sends the ID token (its aud is the client
    // id by definition).
    let mut same = config(None, &p.base, Duration::from_secs(60));
    same.audience = "linesmap-page-syn".into();
    let same = Oidc::new(same)
        .unwrap()
        .with_page_sign_in("linesmap-page-syn", "openid")
        .unwrap();
    assert_eq!(same.page().unwrap().bearer, "id_token");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serve_reads_the_pages_sign_in_from_the_provider_at_start_up_or_does_not_start() {
    let dir = temp("pagecli");
    let key = rsa_key(&dir, "rsa-pagecli");
    let jwks_file = dir.join("jwks.json");
    std::fs::write(&jwks_file, jwks(&[&key])).unwrap();
    let tokens = dir.join("tokens.json");
    create_token(&tokens, "admin", "pagecli admin");
    let p = provider(jwks(&[&key]));
    let (mut child, addr) = start_server_raw(
        &dir.join("s.sqlite"),
        &tokens,
        &[
            "--oidc-issuer",
            &p.base,
            "--oidc-audience",
            AUD,
            "--oidc-jwks",
            jwks_file.to_str().unwrap(),
            "--oidc-client-id",
            "linesmap-page-syn",
            "--oidc-scopes",
            "openid email",
        ],
    );
    let resp = super::cli::http_get(&addr, "", "/api/auth/config");
    let body: Value = serde_json::from_str(resp.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(
        (
            body["sso"].clone(),
            body["token_endpoint"].clone(),
            body["scopes"].clone()
        ),
        (
            json!(true),
            json!(format!("{}/token", p.base)),
            json!("openid email")
        ),
        "{body}"
    );
    assert!(
        resp.to_ascii_lowercase()
            .contains(&format!("connect-src 'self' {};", p.base)),
        "{resp}"
    );
    let _ = child.kill();
    let _ = child.wait();
    // A provider that cannot be reached: the server does not start, and says why.
    let out = linesmap(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data",
        super::common::data_dir().to_str().unwrap(),
        "--store",
        dir.join("t.sqlite").to_str().unwrap(),
        "--tokens",
        tokens.to_str().unwrap(),
        "--oidc-issuer",
        "http://127.0.0.1:9",
        "--oidc-audience",
        AUD,
        "--oidc-jwks",
        jwks_file.to_str().unwrap(),
        "--oidc-client-id",
        "linesmap-page-syn",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("http://127.0.0.1:9/.well-known/openid-configuration")
            && err.contains("--oidc-client-id needs the provider's discovery document"),
        "{err}"
    );
    // --oidc-scopes means nothing without the page's client.
    let out = linesmap(&["serve", "--oidc-scopes", "openid"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--oidc-client-id"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn linesmap(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_linesmap"))
        .args(args)
        .output()
        .expect("linesmap runs")
}

fn whoami(addr: &str, bearer: &str) -> (u16, Value) {
    let resp = super::cli::http_get(addr, bearer, "/api/whoami");
    let status = resp.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = resp.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[test]
fn tokens_expire_and_are_revoked_in_a_running_server_and_sso_works_beside_them() {
    let dir = temp("lifecycle");
    let file = dir.join("tokens.json");
    let f = file.to_str().unwrap();
    let admin = create_token(&file, "admin", "lifecycle admin");
    // The force of a force analyst: required, a territorial force's code, and only theirs.
    let out = linesmap(&[
        "token",
        "create",
        "--role",
        "force_analyst",
        "--name",
        "FA",
        "--tokens",
        f,
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a force"));
    let out = linesmap(&[
        "token", "create", "--role", "analyst", "--name", "A", "--force", NORFOLK, "--tokens", f,
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("only a force_analyst"));
    let out = linesmap(&[
        "token",
        "create",
        "--role",
        "analyst",
        "--name",
        "A",
        "--expires",
        "90x",
        "--tokens",
        f,
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("the unit must be"));
    let out = linesmap(&[
        "token",
        "create",
        "--role",
        "force_analyst",
        "--name",
        "Norfolk FA",
        "--force",
        NORFOLK,
        "--expires",
        "90d",
        "--tokens",
        f,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fa = String::from_utf8(out.stdout).unwrap().trim().to_string();

    let rsa = rsa_key(&dir, "rsa-cli");
    let jwks_file = dir.join("jwks.json");
    std::fs::write(&jwks_file, jwks(&[&rsa])).unwrap();
    let store = dir.join("s.sqlite");
    let (mut child, addr) = start_server_raw(
        &store,
        &file,
        &[
            "--oidc-issuer",
            ISS,
            "--oidc-audience",
            AUD,
            "--oidc-jwks",
            jwks_file.to_str().unwrap(),
            "--oidc-role-claim",
            "realm_access.roles",
            "--rate-limit",
            "0",
        ],
    );
    assert_eq!(whoami(&addr, &admin).0, 200);
    let (s, me) = whoami(&addr, &fa);
    assert_eq!(
        (s, me["role"].clone(), me["force"].clone()),
        (200, json!("force_analyst"), json!(NORFOLK))
    );
    // SSO through the flags: the role under a nested claim.
    let mut c = claims(
        "ignored",
        json!({"realm_access": {"roles": ["btp_planner"]}}),
    );
    c.as_object_mut().unwrap().remove("roles");
    let (s, me) = whoami(&addr, &sign(&rsa, &c));
    assert_eq!((s, me["role"].clone()), (200, json!("btp_planner")), "{me}");

    // A token made while the server runs is accepted at once: the file is re-read.
    let later = create_token(&file, "analyst", "added later");
    assert_eq!(whoami(&addr, &later).0, 200);
    // Revoked: refused at once, without a restart.
    let list = String::from_utf8(linesmap(&["token", "list", "--tokens", f]).stdout).unwrap();
    let id = list
        .lines()
        .find(|l| l.ends_with("\tadded later"))
        .and_then(|l| l.split('\t').next())
        .unwrap()
        .to_string();
    let out = linesmap(&["token", "revoke", &id, "--tokens", f]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (s, body) = whoami(&addr, &later);
    assert_eq!(s, 401);
    assert!(
        body["message"].as_str().unwrap().contains("revoked"),
        "{body}"
    );
    let again = linesmap(&["token", "revoke", &id, "--tokens", f]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already revoked"));
    // Expiring in 5 s (to the second): accepted now, refused once the time has passed.
    let out = linesmap(&[
        "token",
        "create",
        "--role",
        "viewer",
        "--name",
        "short-lived",
        "--expires",
        "5s",
        "--tokens",
        f,
    ]);
    let short = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(whoami(&addr, &short).0, 200);
    std::thread::sleep(Duration::from_secs(6));
    let (s, body) = whoami(&addr, &short);
    assert_eq!(s, 401);
    assert!(
        body["message"].as_str().unwrap().contains("expired"),
        "{body}"
    );
    // The list says each token's status, never a token or its hash.
    let list = String::from_utf8(linesmap(&["token", "list", "--tokens", f]).stdout).unwrap();
    let status = |name: &str| {
        list.lines()
            .find(|l| l.ends_with(&format!("\t{name}")))
            .map(|l| l.split('\t').nth(1).unwrap().to_string())
    };
    assert_eq!(status("lifecycle admin").as_deref(), Some("active"));
    assert_eq!(status("added later").as_deref(), Some("revoked"));
    assert_eq!(status("short-lived").as_deref(), Some("expired"));
    assert!(
        list.contains(&format!("force_analyst\t{NORFOLK}")),
        "{list}"
    );
    assert!(!list.contains(&admin[3..]) && !list.contains(&sha256_hex(admin.as_bytes())));
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
