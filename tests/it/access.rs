//! Access control end to end: the role × endpoint matrix, what each role sees, differencing
//! attacks on a viewer's suppressed counts, the audit log, limits, CORS, static files and TLS.
//!
//! The data: 12 rail journeys Liverpool Street → Norwich in January 2024 (a 15-17 runner each;
//! the odd ones reported by BTP, the even ones by Norfolk) and `small` rail journeys Liverpool
//! Lime Street → Bangor (Gwynedd) in February (BTP, an under-10 each), so that a viewer must
//! never learn `small` (3 or 4: below k = 5).

use super::common::gb_arc;
use linesmap::access::audit::AuditLog;
use linesmap::access::disclosure::Disclosure;
use linesmap::access::tokens::{TokenRecord, Tokens, sha256_hex};
use linesmap::access::{Authentication, Pseudonyms, RateLimiter, Role, Security};
use linesmap::http::{AppState, routes};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(super) const NORFOLK: &str = "E23000024";
pub(super) const MERSEYSIDE: &str = "E23000004";
pub(super) const NORTH_WALES: &str = "W15000001";

/// The test token of a role: `lm_` and 64 times one digit.
pub(super) fn token(r: Role) -> String {
    let d = match r {
        Role::Viewer => '1',
        Role::BtpPlanner => '2',
        Role::Analyst => '3',
        Role::Admin => '4',
        Role::ForceAnalyst => '5',
    };
    format!("lm_{}", d.to_string().repeat(64))
}

pub(super) fn security(audit: &Path, rate: u32, cors: Vec<String>) -> Security {
    let records = Role::ALL
        .iter()
        .map(|&r| TokenRecord {
            id: format!("tok_{r}"),
            name: format!("{r} tester"),
            role: r,
            sha256: sha256_hex(token(r).as_bytes()),
            created: "2026-11-29T00:00:00Z".into(),
            // the force analyst is North Wales's: it sees the small LIV → BNG journeys only
            force: (r == Role::ForceAnalyst).then(|| NORTH_WALES.into()),
            expires: None,
            revoked: None,
        })
        .collect();
    Security {
        auth: Authentication::Tokens(Tokens::from_records(records)),
        oidc: None,
        pseudonyms: Pseudonyms::new(b"access test key 1".to_vec()),
        disclosure: Disclosure::new(5, 5, Pseudonyms::new(b"access test key 1".to_vec())),
        audit: Some(AuditLog::open(audit).unwrap()),
        rate: RateLimiter::new(rate),
        cors_origins: cors,
        tls: false,
    }
}

pub(super) fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("linesmap-access-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub(super) fn reports(small: usize) -> Value {
    let mut v = Vec::new();
    for i in 0..12 {
        v.push(json!({
            "report_id": format!("syn-acc-{i}"),
            "reported_at": format!("2024-01-{:02}T20:00:00Z", i + 2),
            "source_force": if i % 2 == 1 { "BTP" } else { NORFOLK },
            "journey": {"date": format!("2024-01-{:02}", i + 2), "mode": "rail",
                "origin": {"station": "LST"}, "destination": {"station": "NRW"}},
            "line": {"line_id": "syn-acc-line", "name": "SYN-ACC"},
            // the same person on journeys 0 and 1
            "persons": [{"person_id": format!("syn-acc-p{}", i.max(1)), "age_band": "15-17", "roles": ["runner"]}],
        }));
    }
    for i in 0..small {
        v.push(json!({
            "report_id": format!("syn-acc-small-{i}"),
            "reported_at": format!("2024-02-{:02}T20:00:00Z", i + 5),
            "source_force": "BTP",
            "journey": {"date": format!("2024-02-{:02}", i + 5), "mode": "rail",
                "origin": {"station": "LIV"}, "destination": {"station": "BNG"}},
            "persons": [{"person_id": format!("syn-acc-q{i}"), "age_band": "under_10", "roles": ["runner"]}],
        }));
    }
    Value::Array(v)
}

pub(super) struct Fixture {
    pub(super) st: Arc<AppState>,
    pub(super) dir: PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(super) async fn fixture(
    name: &str,
    small: usize,
    rate: u32,
    cors: Vec<String>,
    web: bool,
) -> Fixture {
    let dir = temp(name);
    let store = linesmap::store::SqliteStore::in_memory().unwrap();
    let journeys = Arc::new(linesmap::ingest::Journeys::new(
        gb_arc().clone(),
        Arc::new(store),
    ));
    let web_dir = web.then(|| {
        let w = dir.join("web");
        std::fs::create_dir_all(w.join("assets")).unwrap();
        std::fs::write(w.join("index.html"), "<!doctype html><title>t</title>").unwrap();
        std::fs::write(w.join("assets/app.js"), "console.log(1)").unwrap();
        std::fs::write(dir.join("secret.txt"), "TOP-SECRET-CONTENT").unwrap();
        std::fs::write(w.join("secret.txt"), "WEB-ROOT-NOT-AN-ASSET").unwrap();
        w
    });
    let st = AppState::with_security(
        journeys,
        web_dir,
        security(&dir.join("audit.ndjson"), rate, cors),
    );
    let r = call(
        &st,
        "POST",
        "/api/journeys",
        Some(Role::Admin),
        &[],
        Some(reports(small)),
    )
    .await;
    assert_eq!(r.0, 201, "{}", r.1);
    Fixture { st, dir }
}

/// (status, body as text, headers)
pub(super) async fn call(
    st: &Arc<AppState>,
    method: &str,
    path: &str,
    role: Option<Role>,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, String, warp::http::HeaderMap) {
    let mut req = warp::test::request().method(method).path(path);
    if let Some(r) = role {
        req = req.header("authorization", format!("Bearer {}", token(r)));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let r = req.reply(&routes(st.clone())).await;
    (
        r.status().as_u16(),
        String::from_utf8_lossy(r.body()).into_owned(),
        r.headers().clone(),
    )
}

/// A GET signed in as `role`, no other header.
pub(super) async fn get_as(
    st: &Arc<AppState>,
    path: &str,
    role: Role,
) -> (u16, String, warp::http::HeaderMap) {
    call(st, "GET", path, Some(role), &[], None).await
}

pub(super) async fn json_of(st: &Arc<AppState>, path: &str, role: Role) -> Value {
    let (s, b, _) = call(st, "GET", path, Some(role), &[], None).await;
    assert_eq!(s, 200, "{path} as {role}: {b}");
    serde_json::from_str(&b).unwrap_or_else(|e| panic!("{path}: {e}: {b}"))
}

pub(super) const WHY: (&str, &str) = ("x-justification", "access test: synthetic data");

#[tokio::test]
async fn every_endpoint_answers_each_role_as_the_matrix_says() {
    let f = fixture("matrix", 3, 0, vec![], true).await;
    // callers: signed out, viewer, btp_planner, analyst, force_analyst (North Wales), admin
    let who = [
        None,
        Some(Role::Viewer),
        Some(Role::BtpPlanner),
        Some(Role::Analyst),
        Some(Role::ForceAnalyst),
        Some(Role::Admin),
    ];
    #[rustfmt::skip]
    let matrix: &[(&str, &str, bool, [u16; 6])] = &[
        // method, path, with X-Justification, expected status per caller
        ("GET", "/", false, [200, 200, 200, 200, 200, 200]),
        ("GET", "/health", false, [200, 200, 200, 200, 200, 200]),
        ("GET", "/conformance", false, [200, 200, 200, 200, 200, 200]),
        ("GET", "/openapi", false, [200, 200, 200, 200, 200, 200]),
        ("GET", "/assets/app.js", false, [200, 200, 200, 200, 200, 200]),
        ("GET", "/collections", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/collections/stations", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/collections/stations/items?limit=5", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/collections/stations/items/LST", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/collections/forces/items?limit=5", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/collections/rail/items?limit=5", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/collections/hotspots/items?limit=5", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/collections/flows/items", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/collections/journeys/items?limit=5", false, [401, 403, 200, 200, 200, 200]),
        // Part 3 filtering (issue 19): queryables for every signed-in role, a filter as the items
        ("GET", "/collections/stations/queryables", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/collections/journeys/queryables", false, [401, 200, 200, 200, 200, 200]),
        ("POST", "/collections/stations/queryables", false, [401, 405, 405, 405, 405, 405]),
        ("GET", "/collections/stations/items?filter=journeys%20%3E%203", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/collections/journeys/items?filter=mode%20%3D%20%27rail%27", false, [401, 403, 200, 200, 200, 200]),
        ("GET", "/collections/stations/items?filter=nosuch%20%3D%201", false, [401, 400, 400, 400, 400, 400]),
        // vector tiles (issue 19): metadata for every signed-in role; a tile as its items
        ("GET", "/tileMatrixSets", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/tileMatrixSets/WebMercatorQuad", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/collections/journeys/tiles", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/collections/rail/tiles/WebMercatorQuad", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/collections/stations/tiles/WebMercatorQuad/0/0/0", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/collections/flows/tiles/WebMercatorQuad/5/15/10?mode=rail", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/collections/journeys/tiles/WebMercatorQuad/0/0/0", false, [401, 403, 200, 200, 200, 200]),
        ("GET", "/collections/journeys/tiles/WebMercatorQuad/0/0/9", false, [401, 403, 400, 400, 400, 400]),
        ("POST", "/collections/stations/tiles/WebMercatorQuad/0/0/0", false, [401, 405, 405, 405, 405, 405]),
        ("GET", "/collections/journeys/items/syn-acc-1", false, [401, 403, 200, 200, 404, 200]),
        // not reported by BTP: as absent to a BTP planner as a journey that does not exist
        ("GET", "/collections/journeys/items/syn-acc-0", false, [401, 403, 404, 200, 404, 200]),
        ("GET", "/collections/journeys/items?persons=true", true, [401, 403, 403, 200, 200, 200]),
        ("GET", "/collections/journeys/items?persons=true", false, [401, 403, 403, 403, 403, 403]),
        ("GET", "/api/journeys?limit=5", false, [401, 403, 200, 200, 200, 200]),
        ("GET", "/api/journeys/syn-acc-1", false, [401, 403, 200, 200, 404, 200]),
        ("GET", "/api/journeys/syn-acc-0", false, [401, 403, 404, 200, 404, 200]),
        // a force analyst's own force's journeys (Liverpool → Bangor ends in North Wales)
        ("GET", "/api/journeys/syn-acc-small-0", false, [401, 403, 200, 200, 200, 200]),
        ("GET", "/collections/journeys/items/syn-acc-small-0", false, [401, 403, 200, 200, 200, 200]),
        ("GET", "/api/journeys/syn-acc-small-0?persons=true", true, [401, 403, 403, 200, 200, 200]),
        ("GET", "/api/journeys/syn-acc-1?persons=true", true, [401, 403, 403, 200, 404, 200]),
        ("GET", "/api/journeys?persons=true", false, [401, 403, 403, 403, 403, 403]),
        ("GET", "/api/hotspots?top=5", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/api/flows", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/api/flows?format=matrix", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/api/trends?interval=month", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/api/clock", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/api/hotspots/emerging?interval=month", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/api/clock?station=EUS&measure=all&hours=22-02", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/api/export?collection=journeys", false, [401, 403, 200, 200, 200, 200]),
        ("GET", "/api/export?collection=hotspots&format=csv", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/api/export?collection=forces", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/api/export?collection=trends&format=csv", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/api/locate?lon=-0.1335&lat=51.5282", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/api/route?from=EUS&to=NRW", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/api/stations/EUS", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/api/whoami", false, [401, 200, 200, 200, 200, 200]),
        // how the page signs in: public (the page asks before anyone has signed in)
        ("GET", "/api/auth/config", false, [200, 200, 200, 200, 200, 200]),
        ("GET", "/api/auth/config?x=1", false, [400, 400, 400, 400, 400, 400]),
        ("POST", "/api/auth/config", false, [401, 405, 405, 405, 405, 405]),
        // the words of the public report schema: public too
        ("GET", "/api/vocabulary", false, [200, 200, 200, 200, 200, 200]),
        ("GET", "/api/vocabulary?x=1", false, [400, 400, 400, 400, 400, 400]),
        ("GET", "/api/audit", false, [401, 403, 403, 403, 403, 200]),
        ("GET", "/api/flows?direction=travel", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/api/corridors", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/api/corridors?direction=travel&f=csv", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/api/corridors?top=0", false, [401, 400, 400, 400, 400, 400]),
        ("GET", "/api/treatment", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/api/treatment?by=origin_force&group=children&f=csv", false, [401, 200, 200, 200, 200, 200]),
        ("GET", "/api/treatment?by=area", false, [401, 400, 400, 400, 400, 400]),
        // person-level: analysts and admins, and only with a reason
        ("GET", "/api/people", true, [401, 403, 403, 200, 200, 200]),
        ("GET", "/api/people?min_journeys=1&group=children", true, [401, 403, 403, 200, 200, 200]),
        ("GET", "/api/people", false, [401, 403, 403, 403, 403, 403]),
        ("GET", "/api/people/psn_0000000000000000", true, [401, 403, 403, 404, 404, 404]),
        ("GET", "/api/people/syn-acc-p1", true, [401, 403, 403, 400, 400, 400]),
        ("GET", "/api/people/psn_0000000000000000", false, [401, 403, 403, 403, 403, 403]),
        ("GET", "/api/people?min_journeys=0", true, [401, 403, 403, 400, 400, 400]),
        ("POST", "/api/people", true, [401, 403, 403, 405, 405, 405]),
        ("GET", "/no/such/path", false, [401, 404, 404, 404, 404, 404]),
        // restriction: admins only, with a reason (last: the admin's restricts, then lifts)
        ("POST", "/api/journeys/syn-acc-small-2/restrict", false, [401, 403, 403, 403, 403, 403]),
        ("POST", "/api/journeys/syn-acc-small-2/restrict", true, [401, 403, 403, 403, 403, 200]),
        ("POST", "/api/journeys/syn-acc-small-2/unrestrict", true, [401, 403, 403, 403, 403, 200]),
        ("POST", "/api/journeys/no-such-report/restrict", true, [401, 403, 403, 403, 403, 404]),
        // erasure: admins only, with a reason (last: the admin's erases)
        ("DELETE", "/api/journeys/syn-acc-1", false, [401, 403, 403, 403, 403, 403]),
        ("DELETE", "/api/journeys/no-such-report", true, [401, 403, 403, 403, 403, 404]),
        ("DELETE", "/api/journeys/syn-acc-small-1", true, [401, 403, 403, 403, 403, 200]),
        ("DELETE", "/api/journeys/syn-acc-small-1", true, [401, 403, 403, 403, 403, 410]),
        ("GET", "/api/journeys/syn-acc-small-1", false, [401, 403, 404, 404, 404, 404]),
        // rectification and versions: admins only, with a reason (a PUT with no body is a 400)
        ("PUT", "/api/journeys/syn-acc-2", false, [401, 403, 403, 403, 403, 403]),
        ("PUT", "/api/journeys/syn-acc-2", true, [401, 403, 403, 403, 403, 400]),
        ("GET", "/api/journeys/syn-acc-2/versions", false, [401, 403, 403, 403, 403, 200]),
        ("GET", "/api/journeys/no-such-report/versions", false, [401, 403, 403, 403, 403, 404]),
        ("GET", "/api/journeys/syn-acc-small-1/versions", false, [401, 403, 403, 403, 403, 410]),
        ("POST", "/api/journeys/syn-acc-2/versions", true, [401, 403, 403, 403, 403, 405]),
        // review (MoPI): admins only; decisions with a reason (no body: 400)
        ("GET", "/api/review?due_before=2031-01-01", false, [401, 403, 403, 403, 403, 200]),
        ("GET", "/api/review?due_before=soon", false, [401, 403, 403, 403, 403, 400]),
        ("POST", "/api/review/syn-acc-2", false, [401, 403, 403, 403, 403, 403]),
        ("POST", "/api/review/syn-acc-2", true, [401, 403, 403, 403, 403, 400]),
        ("GET", "/api/review/syn-acc-2", false, [401, 403, 403, 403, 403, 405]),
    ];
    for &(method, path, why, expected) in matrix {
        for (caller, want) in who.iter().zip(expected) {
            let h: Vec<(&str, &str)> = if why { vec![WHY] } else { vec![] };
            let (got, body, headers) = call(&f.st, method, path, *caller, &h, None).await;
            assert_eq!(got, want, "{method} {path} as {caller:?}: {body}");
            if got >= 400 {
                let v: Value = serde_json::from_str(&body)
                    .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {body}"));
                assert!(v["code"].is_string() && v["message"].is_string(), "{body}");
            }
            if got == 401 {
                assert!(headers.contains_key("www-authenticate"), "{path}");
            }
        }
    }
    // Other spellings of journey paths are judged as the path they spell: a viewer is refused
    // (403) whatever the router would then make of them.
    for p in [
        "/api//journeys",
        "//api/journeys",
        "/api/./journeys",
        "/api/x/../journeys",
        "/api/%6Aourneys",
        "/api/journeys%2Fsyn-acc-1",
        "/collections//journeys/items",
        "/collections/%6Aourneys/items",
        "/api/export?collection=%6Aourneys",
        // warp serves this one (a trailing slash): judged on the raw path, a viewer got journeys
        "/api/export/?collection=journeys",
    ] {
        let (s, b, _) = get_as(&f.st, p, Role::Viewer).await;
        assert_eq!(s, 403, "{p} as viewer: {b}");
        let (s, _, _) = call(&f.st, "GET", p, None, &[], None).await;
        assert_eq!(s, 401, "{p} signed out");
        let (s, _, _) = get_as(&f.st, p, Role::Analyst).await;
        assert!(s == 200 || s == 404 || s == 400, "{p} as analyst: {s}");
    }
    // Ingest: admins only.
    let one = json!({"report_id": "syn-acc-new", "reported_at": "2024-03-01T10:00:00Z", "source_force": "BTP",
        "journey": {"date": "2024-03-01", "mode": "rail", "origin": {"station": "EUS"}, "destination": {"station": "BHM"}}});
    for (caller, want) in who.iter().zip([401, 403, 403, 403, 403, 201]) {
        let (got, body, _) = call(
            &f.st,
            "POST",
            "/api/journeys",
            *caller,
            &[],
            Some(one.clone()),
        )
        .await;
        assert_eq!(got, want, "POST as {caller:?}: {body}");
    }
    // Rectification and review decisions with a body: admins only.
    let mut fixed = reports(0)[3].clone();
    fixed["journey"]["destination"]["station"] = json!("IPS");
    let retain = json!({"decision": "retain", "review_date": "2040-01-01", "reason": "access test (synthetic)"});
    for (method, path, body) in [
        ("PUT", "/api/journeys/syn-acc-3", fixed),
        ("POST", "/api/review/syn-acc-3", retain),
    ] {
        for (caller, want) in who.iter().zip([401, 403, 403, 403, 403, 200]) {
            let (got, b, _) = call(&f.st, method, path, *caller, &[WHY], Some(body.clone())).await;
            assert_eq!(got, want, "{method} {path} as {caller:?}: {b}");
        }
    }
    // A token that is not ours is refused even where signed-out callers are welcome.
    let (s, b, _) = call(
        &f.st,
        "GET",
        "/health",
        None,
        &[("authorization", "Bearer lm_nope")],
        None,
    )
    .await;
    assert_eq!(s, 401, "{b}");
    let (s, _, _) = call(
        &f.st,
        "GET",
        "/health",
        None,
        &[("authorization", "Basic abc")],
        None,
    )
    .await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn each_role_sees_what_it_may_and_nothing_more() {
    let f = fixture("roles", 3, 0, vec![], false).await;
    // BTP planner: only the 6 + 3 BTP journeys, no person details.
    let btp = json_of(&f.st, "/api/journeys?limit=100", Role::BtpPlanner).await;
    assert_eq!(btp["numberMatched"], 9);
    for j in btp["features"].as_array().unwrap() {
        assert_eq!(j["properties"]["source_force"], "BTP");
        assert!(j["properties"].get("persons_summary").is_none());
    }
    let ogc = json_of(
        &f.st,
        "/collections/journeys/items?limit=100",
        Role::BtpPlanner,
    )
    .await;
    assert_eq!(ogc["numberMatched"], 9);
    let (s, body, h) = get_as(
        &f.st,
        "/api/export?collection=journeys&format=csv",
        Role::BtpPlanner,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(body.lines().count(), 1 + 9, "{body}");
    assert_eq!(h["x-record-count"], "9");
    // Aggregates are over every journey for a BTP planner: its 9 BTP journeys as they are, the
    // 6 Norfolk reported through disclosure control (6 published as 5 or 10).
    let t = json_of(&f.st, "/api/trends?interval=month", Role::BtpPlanner).await;
    let d = Disclosure::new(5, 5, Pseudonyms::new(b"access test key 1".to_vec()));
    assert_eq!(t["journeys"], 9 + d.publish("", "journeys", 6).unwrap());
    assert!(t.get("disclosure").is_none());
    // Analyst: every journey; persons only as pseudonyms, the same person the same pseudonym.
    let all = json_of(&f.st, "/api/journeys?limit=100", Role::Analyst).await;
    assert_eq!(all["numberMatched"], 15);
    let (s, body, _) = call(
        &f.st,
        "GET",
        "/api/journeys?limit=100&persons=true",
        Some(Role::Analyst),
        &[WHY],
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert!(
        !body.contains("syn-acc-p"),
        "a person id left the server: {}",
        &body[..300]
    );
    let v: Value = serde_json::from_str(&body).unwrap();
    let psn = |id: &str| -> String {
        let j = v["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["id"] == id)
            .unwrap();
        j["properties"]["persons_summary"][0]["pseudonym"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        psn("syn-acc-0"),
        psn("syn-acc-1"),
        "one person, one pseudonym"
    );
    assert_ne!(psn("syn-acc-1"), psn("syn-acc-2"));
    assert!(psn("syn-acc-0").starts_with("psn_"));
    let keys = Pseudonyms::new(b"access test key 1".to_vec());
    assert_eq!(
        psn("syn-acc-2"),
        keys.person("syn-acc-p2"),
        "HMAC of the id under the server key"
    );
    let p = &v["features"][0]["properties"]["persons_summary"][0];
    assert_eq!(p["age_band"], "15-17");
    assert!(p.get("sex").is_none() && p.get("vulnerability_flags").is_none());
    // whoami says what the role sees
    let me = json_of(&f.st, "/api/whoami", Role::Viewer).await;
    assert_eq!(me["role"], "viewer");
    assert_eq!(me["disclosure_control"]["suppressed_below"], 5);
    assert_eq!(me["journeys"], "none");
    assert_eq!(me["marking"], "OFFICIAL-SENSITIVE", "the default marking");
    assert_eq!(
        json_of(&f.st, "/api/whoami", Role::BtpPlanner).await["journeys"],
        "btp_sourced"
    );
}

#[tokio::test]
async fn the_vocabulary_endpoint_serves_the_report_schemas_words_to_anyone() {
    let f = fixture("vocabulary", 1, 0, vec![], true).await;
    // signed out (`None`): public, as the schema itself is
    let (s, b, _) = call(&f.st, "GET", "/api/vocabulary", None, &[], None).await;
    assert_eq!(s, 200, "{b}");
    let v: Value = serde_json::from_str(&b).unwrap();
    // the words written out from data/journey-report.schema.json by hand
    assert_eq!(
        v["age_band"],
        serde_json::json!([
            "under_10", "10-12", "13-14", "15-17", "18-24", "25-34", "35_plus", "unknown"
        ])
    );
    assert_eq!(
        v["child_age_band"],
        serde_json::json!(["under_10", "10-12", "13-14", "15-17"])
    );
    assert_eq!(
        v["mode"],
        serde_json::json!([
            "rail",
            "coach",
            "bus",
            "car",
            "private_hire",
            "taxi",
            "on_foot",
            "unknown"
        ])
    );
    assert_eq!(v["drug_class"], serde_json::json!(["A", "B", "C"]));
    assert_eq!(v["handling"], serde_json::json!(["P", "C"]));
    assert_eq!(v["day"][0], "mon");
    assert_eq!(v["measure"][0], "stops");
    // the audit's own list, which GET /api/audit?action= checks against
    let actions = v["audit_action"].as_array().unwrap();
    assert_eq!(actions.len(), 14);
    assert!(actions.iter().any(|a| a == "review_dispose"));
}

#[tokio::test]
async fn a_force_analyst_sees_its_forces_journeys_and_national_aggregates() {
    // The North Wales force analyst: of the 15 journeys, the 3 Liverpool → Bangor ones end in
    // North Wales; the 12 Liverpool Street → Norwich ones never enter it.
    let f = fixture("force", 3, 0, vec![], false).await;
    let fa = Role::ForceAnalyst;
    let mine = ["syn-acc-small-0", "syn-acc-small-1", "syn-acc-small-2"];
    let ids = |v: &Value| -> Vec<String> {
        v["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_str().unwrap().to_string())
            .collect()
    };
    let list = json_of(&f.st, "/api/journeys?limit=100", fa).await;
    assert_eq!(list["numberMatched"], 3);
    assert_eq!(ids(&list), mine);
    let ogc = json_of(&f.st, "/collections/journeys/items?limit=100", fa).await;
    assert_eq!(ids(&ogc), mine);
    // Its filters narrow within its force: Norfolk's journeys stay out of reach.
    let norfolk = json_of(&f.st, &format!("/api/journeys?force={NORFOLK}"), fa).await;
    assert_eq!(norfolk["numberMatched"], 0);
    let (s, body, h) = get_as(&f.st, "/api/export?collection=journeys&format=csv", fa).await;
    assert_eq!(s, 200);
    assert_eq!(body.lines().count(), 1 + 3, "{body}");
    assert_eq!(h["x-record-count"], "3");
    // Persons of its own journeys, pseudonymised as for an analyst.
    let (s, body, _) = call(
        &f.st,
        "GET",
        "/api/journeys/syn-acc-small-1?persons=true",
        Some(fa),
        &[WHY],
        None,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let keys = Pseudonyms::new(b"access test key 1".to_vec());
    assert_eq!(
        v["properties"]["persons_summary"][0]["pseudonym"],
        keys.person("syn-acc-q1")
    );
    // Aggregates are national and unsuppressed: all 15 journeys, the 3 small ones exact.
    let t = json_of(&f.st, "/api/trends?interval=month", fa).await;
    assert_eq!(t["journeys"], 15);
    assert!(t.get("disclosure").is_none());
    assert_eq!(
        t["buckets"][1]["journeys"], 3,
        "February: the 3 small journeys"
    );
    let me = json_of(&f.st, "/api/whoami", fa).await;
    assert_eq!(
        (
            me["role"].clone(),
            me["force"].clone(),
            me["journeys"].clone()
        ),
        (json!("force_analyst"), json!(NORTH_WALES), json!("force"))
    );
    // The audit entry of its list read counts what it got.
    let log = AuditLog::open(&f.dir.join("audit.ndjson")).unwrap();
    let (reads, _) = log
        .read(
            |e| e.role == Role::ForceAnalyst && e.action == "read_journeys",
            0,
            10,
        )
        .unwrap();
    assert_eq!(reads.first().map(|e| e.records), Some(3));
}

/// Every count in a viewer's answer: a multiple of 5 and at least 5, or null.
fn assert_all_disclosed(v: &Value, at: &str) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                // shares and funnel positions, computed from the published counts (checked
                // where they are tested)
                if matches!(k.as_str(), "rates" | "funnel" | "shares") {
                    continue;
                }
                if linesmap::access::disclosure::is_count(k)
                    && let Some(n) = x.as_f64()
                {
                    assert!(n >= 5.0 && n % 5.0 == 0.0, "{at}: {k} = {n}");
                }
                assert_all_disclosed(x, at);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| assert_all_disclosed(x, at)),
        _ => {}
    }
}

fn station_row<'a>(fc: &'a Value, crs: &str) -> &'a Value {
    fc["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["crs"] == crs)
        .unwrap_or_else(|| panic!("{crs}"))
}

#[tokio::test]
async fn differencing_a_viewers_answers_never_yields_a_count_below_k() {
    let f = fixture("sdc", 3, 0, vec![], false).await;
    let st = &f.st;
    // 1. Every aggregate a viewer can ask for is disclosed.
    let paths = [
        "/api/trends?interval=month",
        "/api/trends?interval=week",
        "/api/trends?interval=month&from=2024-02-01",
        "/api/hotspots?top=10000",
        "/api/flows",
        "/api/flows?format=matrix",
        "/api/flows?format=matrix&direction=travel",
        "/api/corridors",
        "/api/corridors?direction=travel",
        "/collections/stations/items?limit=10000",
        "/collections/forces/items?limit=100",
        "/collections/rail/items?limit=10000",
        "/collections/hotspots/items?limit=10000",
        "/collections/flows/items",
        "/collections/stations/items/BNG",
        "/collections/forces/items/W15000001",
        "/api/clock",
        "/api/clock?station=BNG&measure=all",
        "/api/hotspots/emerging?interval=month",
        "/api/hotspots?top=10000&measure=boardings&hours=0-23",
    ];
    for p in paths {
        let v = json_of(st, p, Role::Viewer).await;
        assert_all_disclosed(&v, p);
        assert_eq!(v["disclosure"]["suppressed_below"], 5, "{p}");
        // the clock's cells: whole journeys, each null or a multiple of 5 from 5
        for c in v["cells"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r.as_array().unwrap())
        {
            assert!(
                c.is_null() || c.as_f64().is_some_and(|n| n >= 5.0 && n % 5.0 == 0.0),
                "{p}: {c}"
            );
        }
    }
    // 2. Adjacent date ranges: total(Jan–Feb) − total(Jan) would be February's 3.
    let total = |v: Value| v["journeys"].clone();
    let jan_feb = total(
        json_of(
            st,
            "/api/trends?interval=month&from=2024-01-01&to=2024-02-29",
            Role::Viewer,
        )
        .await,
    );
    let jan = total(
        json_of(
            st,
            "/api/trends?interval=month&from=2024-01-01&to=2024-01-31",
            Role::Viewer,
        )
        .await,
    );
    let feb = total(
        json_of(
            st,
            "/api/trends?interval=month&from=2024-02-01&to=2024-02-29",
            Role::Viewer,
        )
        .await,
    );
    assert_eq!(feb, Value::Null, "3 journeys are suppressed");
    let diff = jan_feb.as_i64().unwrap() - jan.as_i64().unwrap();
    assert!(
        diff % 5 == 0 && diff != 3,
        "Jan–Feb {jan_feb} − Jan {jan} = {diff}"
    );
    // The analyst sees the true counts.
    let a = json_of(
        st,
        "/api/trends?interval=month&from=2024-02-01&to=2024-02-29",
        Role::Analyst,
    )
    .await;
    assert_eq!(a["journeys"], 3);
    // 3. A total minus its parts: the buckets of a month view against its total.
    let m = json_of(st, "/api/trends?interval=month", Role::Viewer).await;
    let parts: i64 = m["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["journeys"].as_i64())
        .sum();
    let rest = m["journeys"].as_i64().unwrap() - parts;
    assert!(rest % 5 == 0 && rest != 3, "{rest}");
    // 4. Overlapping boxes around Bangor and Lime Street: the small stations stay suppressed.
    for bbox in ["-4.2,53.2,-4.1,53.25", "-4.5,53.0,-2.8,53.5", "-5,50,2,56"] {
        let v = json_of(
            st,
            &format!("/collections/stations/items?limit=10000&bbox={bbox}"),
            Role::Viewer,
        )
        .await;
        for crs in ["BNG", "LIV"] {
            if let Some(s) = v["features"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["properties"]["crs"] == crs)
            {
                assert_eq!(s["properties"]["journeys"], Value::Null, "{crs} in {bbox}");
                assert_eq!(s["properties"]["children"], Value::Null, "{crs} in {bbox}");
            }
        }
    }
    // 5. Flows: the Merseyside → North Wales pair (3 journeys) is not even listed for a viewer.
    let pair = |v: &Value| {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["origin_force"] == MERSEYSIDE && r["destination_force"] == NORTH_WALES)
    };
    assert!(pair(
        &json_of(st, "/api/flows?format=matrix", Role::Analyst).await
    ));
    assert!(!pair(
        &json_of(st, "/api/flows?format=matrix", Role::Viewer).await
    ));
    // Force totals: North Wales imports 3 → suppressed, and its net with it.
    let nw = json_of(
        st,
        &format!("/collections/forces/items/{NORTH_WALES}"),
        Role::Viewer,
    )
    .await;
    assert_eq!(nw["properties"]["imports"], Value::Null);
    assert_eq!(nw["properties"]["net"], Value::Null);
    // 6. Consistent: the same cell has the same published value through every door, and
    // asking again (or spelling the query differently) changes nothing.
    let lst_api = station_row(
        &json_of(st, "/api/hotspots?top=10000", Role::Viewer).await,
        "LST",
    )["properties"]["journeys"]
        .clone();
    let lst_items = json_of(st, "/collections/stations/items/LST", Role::Viewer).await["properties"]["journeys"].clone();
    let (_, csv, h) = get_as(
        st,
        "/api/export?collection=hotspots&format=csv",
        Role::Viewer,
    )
    .await;
    assert!(
        h["x-disclosure-control"]
            .to_str()
            .unwrap()
            .contains("suppressed-below=5")
    );
    let head: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = head.iter().position(|c| *c == "journeys").unwrap();
    let lst_csv = csv
        .lines()
        .find(|l| l.starts_with("LST,"))
        .unwrap()
        .split(',')
        .nth(col)
        .unwrap()
        .to_string();
    assert!(
        lst_api == 10 || lst_api == 15,
        "12 rounds to 10 or 15: {lst_api}"
    );
    assert_eq!(lst_api, lst_items);
    assert_eq!(lst_api.to_string(), lst_csv);
    let again = station_row(
        &json_of(st, "/api/hotspots?top=10000&sort=journeys", Role::Viewer).await,
        "LST",
    )["properties"]["journeys"]
        .clone();
    assert_eq!(lst_api, again);
}

#[tokio::test]
async fn a_viewers_hotspots_do_not_depend_on_a_suppressed_count() {
    // Three or four journeys at Bangor: below k either way, so a viewer's whole hotspot layer,
    // Gi* included, must be the same, byte for byte.
    let three = fixture("gi3", 3, 0, vec![], false).await;
    let four = fixture("gi4", 4, 0, vec![], false).await;
    for p in [
        "/api/hotspots?top=10000",
        "/api/hotspots?top=20&sort=journeys",
        "/api/flows?format=matrix",
        "/api/corridors",
        "/api/corridors?direction=travel&f=csv",
        "/api/hotspots?top=10000&measure=alightings&inference=analytic",
        "/api/clock?station=BNG&measure=all",
        "/api/hotspots/emerging?interval=month&measure=alightings",
    ] {
        let (_, a, _) = get_as(&three.st, p, Role::Viewer).await;
        let (_, b, _) = get_as(&four.st, p, Role::Viewer).await;
        assert_eq!(a, b, "{p}");
        // while an analyst sees the difference
        let (_, a, _) = get_as(&three.st, p, Role::Analyst).await;
        let (_, b, _) = get_as(&four.st, p, Role::Analyst).await;
        assert_ne!(a, b, "{p}");
    }
    let v = json_of(&three.st, "/api/hotspots?top=10000", Role::Viewer).await;
    let bng = station_row(&v, "BNG");
    assert_eq!(bng["properties"]["journeys"], Value::Null);
    assert_eq!(bng["properties"]["rate_per_million"], Value::Null);
}

/// Numbers in aggregate answers that are not counts: derived from published counts for a
/// viewer (net, share), or not about the journeys at all (places, paging, the notice).
const NOT_COUNTS: &[&str] = &[
    "net",
    "share",
    "distance_m",
    "numberMatched",
    "numberReturned",
    "suppressed_below",
    "rounded_to_base",
];

fn numeric_fields(v: &Value, out: &mut std::collections::BTreeSet<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                if k == "geometry" {
                    continue;
                }
                if x.is_number() {
                    out.insert(k.clone());
                }
                numeric_fields(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| numeric_fields(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_number_in_flows_corridors_forces_and_trends_is_a_disclosed_count_or_derived() {
    // What an analyst gets names every field; each number must be a count that disclosure
    // control knows (`is_count`), money it withholds (OMITTED_FIELDS) or not a count at all.
    use linesmap::access::disclosure::{OMITTED_FIELDS, is_count};
    let f = fixture("fields", 3, 0, vec![], false).await;
    for p in [
        "/api/flows?format=matrix",
        "/api/corridors",
        "/collections/forces/items?limit=100",
        "/api/trends?interval=month",
    ] {
        let mut names = std::collections::BTreeSet::new();
        numeric_fields(&json_of(&f.st, p, Role::Analyst).await, &mut names);
        assert!(names.contains("seizure_journeys"), "{p}: {names:?}");
        for n in &names {
            assert!(
                is_count(n)
                    || OMITTED_FIELDS.contains(&n.as_str())
                    || NOT_COUNTS.contains(&n.as_str()),
                "{p}: {n} is a number disclosure control does not know"
            );
        }
        // a viewer never gets the money
        let v = json_of(&f.st, p, Role::Viewer).await;
        let text = v.to_string();
        assert!(!text.contains("\"cash_gbp\":0"), "{p}: {text}");
        let mut viewer_names = std::collections::BTreeSet::new();
        numeric_fields(&v, &mut viewer_names);
        assert!(!viewer_names.contains("cash_gbp"), "{p}");
    }
}

#[tokio::test]
async fn a_viewers_corridor_vias_are_published_counts_with_shares_from_them() {
    // The fixture's 12 Liverpool Street → Norwich journeys, plus 8 via Cambridge and 3 via
    // Chelmsford: 23 on the corridor, Cambridge named by 8 (published 5 or 10), Chelmsford by
    // 3 (under k: not listed for a viewer, not even that it was used).
    let f = fixture("vias", 3, 0, vec![], false).await;
    let mut more = Vec::new();
    for (i, via) in std::iter::repeat_n("CBG", 8)
        .chain(std::iter::repeat_n("CHM", 3))
        .enumerate()
    {
        more.push(json!({
            "report_id": format!("syn-acc-via-{i}"),
            "reported_at": "2024-01-20T20:00:00Z",
            "source_force": "BTP",
            "journey": {"date": "2024-01-20", "mode": "rail", "origin": {"station": "LST"},
                "destination": {"station": "NRW"}, "via": [via]},
        }));
    }
    let r = call(
        &f.st,
        "POST",
        "/api/journeys",
        Some(Role::Admin),
        &[],
        Some(Value::Array(more)),
    )
    .await;
    assert_eq!(r.0, 201, "{}", r.1);
    let find = |v: &Value| {
        v["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| {
                c["properties"]["hub_station"] == "LST"
                    && c["properties"]["market_station"] == "NRW"
            })
            .unwrap()["properties"]
            .clone()
    };
    let a = find(&json_of(&f.st, "/api/corridors", Role::Analyst).await);
    assert_eq!(a["journeys"], 23);
    assert_eq!(
        a["via"],
        json!([
            {"station": "CBG", "name": "Cambridge", "journeys": 8, "share": 0.3478},
            {"station": "CHM", "name": "Chelmsford", "journeys": 3, "share": 0.1304}
        ])
    );
    let v = find(&json_of(&f.st, "/api/corridors", Role::Viewer).await);
    let total = v["journeys"].as_u64().unwrap();
    assert!(total % 5 == 0 && total.abs_diff(23) < 5, "{v}");
    let via = v["via"].as_array().unwrap();
    assert_eq!(via.len(), 1, "{v}");
    assert_eq!(via[0]["station"], "CBG");
    let n = via[0]["journeys"].as_u64().unwrap();
    assert!(n == 5 || n == 10, "{n}");
    let share = ((n as f64 / total as f64) * 1e4).round() / 1e4;
    assert_eq!(via[0]["share"], json!(share));
    // the same published values through the CSV
    let (_, csv, _) = get_as(&f.st, "/api/corridors?f=csv", Role::Viewer).await;
    assert!(csv.contains(&format!(",CBG:{n},{total},")), "{csv}");
}

#[tokio::test]
async fn a_person_seen_again_is_listed_for_an_analyst_under_a_pseudonym_and_the_read_is_audited() {
    let f = fixture("people", 3, 0, vec![], false).await;
    let st = &f.st;
    // syn-acc-p1 is on journeys 0 and 1 (2024-01-02 and 01-03), both Liverpool Street (City of
    // London) to Norwich (Norfolk); no one else is on two journeys
    let (s, body, _) = call(st, "GET", "/api/people", Some(Role::Analyst), &[WHY], None).await;
    assert_eq!(s, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let psn = Pseudonyms::new(b"access test key 1".to_vec()).person("syn-acc-p1");
    assert_eq!(v["numberMatched"], json!(1));
    let p = &v["people"][0];
    assert_eq!(p["person"], json!(psn));
    assert_eq!(p["journeys"], json!(2));
    assert_eq!(p["forces"], json!(["E23000034", NORFOLK]));
    assert_eq!(
        (&p["first_seen"], &p["last_seen"]),
        (&json!("2024-01-02"), &json!("2024-01-03"))
    );
    // a child: the referrals are there beside the arrests, even when zero
    assert_eq!(p["child"], json!(true));
    assert_eq!(
        (
            &p["safeguarding_referrals"],
            &p["nrm_referrals"],
            &p["arrests"]
        ),
        (&json!(0), &json!(0), &json!(0))
    );
    assert!(
        !body.contains("syn-acc-p"),
        "no person key leaves the server: {body}"
    );
    let (s, body, _) = call(
        st,
        "GET",
        &format!("/api/people/{psn}"),
        Some(Role::Admin),
        &[WHY],
        None,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let one: Value = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = one["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["syn-acc-0", "syn-acc-1"]);
    assert_eq!(one["person"], *p);
    // each journey as the journeys' own door gives it (geometry, properties, id)
    for f in one["features"].as_array().unwrap() {
        let id = f["id"].as_str().unwrap();
        let (s, body, _) = call(
            st,
            "GET",
            &format!("/collections/journeys/items/{id}"),
            Some(Role::Admin),
            &[],
            None,
        )
        .await;
        assert_eq!(s, 200, "{body}");
        let own: Value = serde_json::from_str(&body).unwrap();
        for k in ["type", "id", "geometry", "properties"] {
            assert_eq!(f[k], own[k], "{id}: {k}");
        }
        assert!(f["geometry"]["coordinates"].as_array().unwrap().len() >= 2);
    }
    let log = std::fs::read_to_string(f.dir.join("audit.ndjson")).unwrap();
    let reads: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| {
            e["action"] == "read_persons" && e["path"].as_str().unwrap().starts_with("/api/people")
        })
        .collect();
    assert_eq!(reads.len(), 2, "{log}");
    assert_eq!(reads[0]["records"], json!(1));
    assert_eq!(reads[1]["records"], json!(2));
    assert_eq!(reads[1]["justification"], json!(WHY.1));
}

#[tokio::test]
async fn a_viewers_treatment_table_and_distinct_counts_do_not_depend_on_a_suppressed_count() {
    // Three or four under-10s from Liverpool (Merseyside) to Bangor (North Wales), each
    // reported once by BTP: below k either way. The answers that hold only them must be the
    // same for a viewer, byte for byte, and no list of rows may depend on them (totals that
    // also hold the other twelve journeys may differ: they are not suppressed).
    let three = fixture("tr3", 3, 0, vec![], false).await;
    let four = fixture("tr4", 4, 0, vec![], false).await;
    for p in [
        "/api/flows?format=matrix",
        "/api/flows?format=matrix&f=csv",
        "/collections/forces/items?limit=100&f=json",
        "/api/export?collection=forces&format=csv",
        "/api/trends?interval=month&from=2024-02-01&to=2024-02-29&f=csv",
    ] {
        let (_, a, _) = get_as(&three.st, p, Role::Viewer).await;
        let (_, b, _) = get_as(&four.st, p, Role::Viewer).await;
        assert_eq!(a, b, "{p}");
        if !p.contains("csv") {
            assert_all_disclosed(&serde_json::from_str(&a).unwrap(), p);
        }
    }
    for by in linesmap::layers::treatment::By::ALL {
        for group in linesmap::layers::treatment::Group::ALL {
            let p = format!("/api/treatment?by={by}&group={group}");
            let a = json_of(&three.st, &p, Role::Viewer).await;
            let b = json_of(&four.st, &p, Role::Viewer).await;
            assert_all_disclosed(&a, &p);
            let keys = |v: &Value| -> Vec<Value> {
                v["rows"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["key"].clone())
                    .collect()
            };
            assert_eq!(keys(&a), keys(&b), "{p}: the same rows");
            for key in [MERSEYSIDE, NORTH_WALES] {
                let row = |v: &Value| {
                    v["rows"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|r| r["key"] == key)
                        .unwrap()
                        .clone()
                };
                assert_eq!(row(&a), row(&b), "{p} {key}");
            }
        }
    }
    // while an analyst sees the difference: BTP recorded 6 + 3 (or 4) encounters
    let a = json_of(
        &three.st,
        "/api/treatment?by=source_force&group=all",
        Role::Analyst,
    )
    .await;
    let b = json_of(
        &four.st,
        "/api/treatment?by=source_force&group=all",
        Role::Analyst,
    )
    .await;
    let btp = |v: &Value| {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == "BTP")
            .unwrap()
            .clone()
    };
    assert_eq!(
        (btp(&a)["encounters"].clone(), btp(&b)["encounters"].clone()),
        (json!(9), json!(10))
    );
    // Rates and funnel positions for a viewer are those of the published counts: BTP's
    // children are 9 or 10 encounters (the 3 or 4 under-10s and the 6 BTP journeys of
    // syn-acc-*, each a 15-17); none is recognised as a victim
    let v = json_of(
        &three.st,
        "/api/treatment?by=source_force&group=children",
        Role::Viewer,
    )
    .await;
    for row in v["rows"].as_array().unwrap() {
        let n = row["encounters"].as_f64();
        for m in linesmap::layers::treatment::MEASURES {
            let y = row[m].as_f64();
            let want = match (y, n) {
                (Some(y), Some(n)) if n > 0.0 => json!((y.min(n) / n * 1e6).round() / 1e6),
                _ => Value::Null,
            };
            assert_eq!(row["rates"][m], want, "{row}");
            if want.is_null() {
                assert_eq!(row["funnel"][m]["position"], Value::Null, "{row}");
            }
        }
    }
    // No one in the fixture is recognised as a victim: the national count, 0, is suppressed
    // (null), so the national rate is null too, and with it every row's position.
    assert_eq!(v["national"]["recognised_as_victim"], Value::Null);
    assert_eq!(v["national"]["rates"]["recognised_as_victim"], Value::Null);
}

#[tokio::test]
async fn every_journey_level_access_and_export_is_audited_and_survives_a_restart() {
    let f = fixture("audit", 3, 0, vec![], false).await;
    let st = &f.st;
    get_as(st, "/api/journeys?limit=4", Role::Analyst).await;
    get_as(st, "/api/journeys/syn-acc-3", Role::BtpPlanner).await;
    call(
        st,
        "GET",
        "/api/journeys/syn-acc-3?persons=true",
        Some(Role::Analyst),
        &[WHY],
        None,
    )
    .await;
    get_as(st, "/collections/journeys/items?limit=2", Role::Analyst).await;
    get_as(
        st,
        "/api/export?collection=journeys&from=2024-02-01",
        Role::Analyst,
    )
    .await;
    get_as(st, "/api/export?collection=hotspots", Role::Viewer).await;
    // other spellings of the same paths are audited as what they are, when they are answered
    let (s1, _, _) = get_as(st, "/api/export/?collection=hotspots", Role::Viewer).await;
    let (s2, _, _) = get_as(st, "/api//journeys/syn-acc-3", Role::Analyst).await;
    let spelt = [s1, s2].iter().filter(|&&s| s == 200).count() as u64;
    // refused: not audited as an access
    get_as(st, "/api/journeys", Role::Viewer).await;
    // aggregates are not journey-level
    get_as(st, "/api/hotspots", Role::Viewer).await;
    let log = json_of(st, "/api/audit", Role::Admin).await;
    let answered_spellings = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"] == "/api/export/" || e["path"] == "/api//journeys/syn-acc-3")
        .count() as u64;
    assert_eq!(
        answered_spellings, spelt,
        "every answered spelling is audited"
    );
    let log = json_of(st, "/api/audit?limit=7", Role::Admin).await;
    let ev: Vec<(String, String, String, u64, Option<String>)> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().into(),
                e["role"].as_str().unwrap().into(),
                e["path"].as_str().unwrap().into(),
                e["records"].as_u64().unwrap(),
                e["justification"].as_str().map(String::from),
            )
        })
        .collect();
    let s = |x: &str| x.to_string();
    assert_eq!(
        ev,
        vec![
            (s("ingest"), s("admin"), s("/api/journeys"), 15, None),
            (
                s("read_journeys"),
                s("analyst"),
                s("/api/journeys"),
                4,
                None
            ),
            (
                s("read_journey"),
                s("btp_planner"),
                s("/api/journeys/syn-acc-3"),
                1,
                None
            ),
            (
                s("read_persons"),
                s("analyst"),
                s("/api/journeys/syn-acc-3"),
                1,
                Some(s(WHY.1))
            ),
            (
                s("read_journeys"),
                s("analyst"),
                s("/collections/journeys/items"),
                2,
                None
            ),
            (s("export"), s("analyst"), s("/api/export"), 3, None),
            (s("export"), s("viewer"), s("/api/export"), 2568, None),
        ]
    );
    let first = &log["events"][1];
    assert_eq!(first["actor"], "analyst tester");
    assert_eq!(first["token_id"], "tok_analyst");
    assert_eq!(first["query"], "limit=4");
    assert!(first["ts"].as_str().unwrap().starts_with("20"));
    // Filters of the log itself, and reading it is audited too.
    let persons = json_of(st, "/api/audit?action=read_persons", Role::Admin).await;
    assert_eq!(persons["numberMatched"], 1);
    let (s400, _, _) = get_as(st, "/api/audit?since=yesterday", Role::Admin).await;
    assert_eq!(s400, 400);
    // After a restart (the file reopened) every entry is still there.
    let reopened = AuditLog::open(&f.dir.join("audit.ndjson")).unwrap();
    let (all, n) = reopened.read(|_| true, 0, 1000).unwrap();
    assert_eq!(
        n,
        10 + spelt as usize,
        "the 7 above, the answered spellings and the 3 reads of the log (the refused one is not a read)"
    );
    assert_eq!(all[3].justification.as_deref(), Some(WHY.1));
    assert_eq!(all[n - 1].action, "read_audit");
}

#[tokio::test]
async fn limits_rate_cors_headers_and_static_files() {
    let f = fixture("limits", 3, 30, vec![], true).await;
    let st = &f.st;
    // Oversized query and headers.
    let long = format!("/api/hotspots?top=5&x={}", "a".repeat(9000));
    let (s, b, _) = get_as(st, &long, Role::Viewer).await;
    assert_eq!(s, 414, "{b}");
    let big = "b".repeat(40_000);
    let (s, b, _) = call(
        st,
        "GET",
        "/api/whoami",
        Some(Role::Viewer),
        &[("x-big", &big)],
        None,
    )
    .await;
    assert_eq!(s, 431, "{b}");
    let (s, _, _) = call(
        st,
        "GET",
        "/api/journeys/syn-acc-1?persons=true",
        Some(Role::Analyst),
        &[("x-justification", &"j".repeat(600))],
        None,
    )
    .await;
    assert_eq!(s, 400);
    // Static files cannot escape web/assets.
    for p in [
        "/assets/../secret.txt",
        "/assets/%2e%2e/secret.txt",
        "/assets/..%2F..%2Fsecret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
    ] {
        let (s, body, _) = call(st, "GET", p, None, &[], None).await;
        // refused one way or another (a path that leaves assets/ is judged as where it leads)
        assert!(s == 404 || s == 400 || s == 401, "{p}: {s}");
        assert!(
            !body.contains("SECRET") && !body.contains("WEB-ROOT"),
            "{p}: {body}"
        );
    }
    // Security headers; the page's CSP has no unsafe-inline.
    let (s, _, h) = call(st, "GET", "/", None, &[("accept", "text/html")], None).await;
    assert_eq!(s, 200);
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    // CORS is off: no allow-origin header for another origin.
    let (_, _, h) = call(
        st,
        "GET",
        "/api/whoami",
        Some(Role::Viewer),
        &[("origin", "https://elsewhere.example")],
        None,
    )
    .await;
    assert!(!h.contains_key("access-control-allow-origin"));
    // Rate limit: 30 a minute for this token (some used above); another token is unaffected.
    let mut limited = None;
    for i in 0..40 {
        let (s, _, h) = get_as(st, "/api/whoami", Role::Viewer).await;
        if s == 429 {
            limited = Some((i, h));
            break;
        }
    }
    let (i, h) = limited.expect("the 31st request in a minute is refused");
    assert!(i <= 30 && h.contains_key("retry-after"), "{i}");
    let (s, _, _) = get_as(st, "/api/whoami", Role::BtpPlanner).await;
    assert_eq!(s, 200);
    // Public paths are not rate limited.
    let (s, _, _) = call(st, "GET", "/health", None, &[], None).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn cors_answers_only_the_configured_origins() {
    let f = fixture("cors", 3, 0, vec!["https://gis.example".into()], false).await;
    let (s, _, h) = call(
        &f.st,
        "GET",
        "/api/whoami",
        Some(Role::Viewer),
        &[("origin", "https://gis.example")],
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(h["access-control-allow-origin"], "https://gis.example");
    let (s, body, h) = call(
        &f.st,
        "GET",
        "/api/whoami",
        Some(Role::Viewer),
        &[("origin", "https://evil.example")],
        None,
    )
    .await;
    assert_eq!(s, 403, "{body}");
    assert!(!h.contains_key("access-control-allow-origin"));
    let (s, _, h) = call(
        &f.st,
        "OPTIONS",
        "/api/hotspots",
        None,
        &[
            ("origin", "https://gis.example"),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", "authorization"),
        ],
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert!(
        h["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
}

#[test]
fn serves_https_with_rustls_and_tokens_from_the_cli() {
    let dir = temp("tls");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let ok = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let tokens = dir.join("tokens.json");
    let viewer = super::common::create_token(&tokens, "viewer", "tls viewer");
    let (mut child, addr) = super::common::start_server_raw(
        &dir.join("s.sqlite"),
        &tokens,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let curl = |args: &[&str]| {
        std::process::Command::new("curl")
            .args(["-sS", "-i", "--max-time", "10", "--cacert"])
            .arg(&cert)
            .args(args)
            .output()
            .expect("curl runs")
    };
    let out = curl(&[
        &format!("https://{addr}/api/whoami"),
        "-H",
        &format!("Authorization: Bearer {viewer}"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.starts_with("HTTP/1.1 200") || text.starts_with("HTTP/2 200"),
        "{text}"
    );
    assert!(
        text.contains("\"role\":\"viewer\"")
            && text
                .to_ascii_lowercase()
                .contains("strict-transport-security"),
        "{text}"
    );
    let out = curl(&[&format!("https://{addr}/api/whoami")]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(" 401"),
        "signed out over TLS"
    );
    // Plain HTTP to the TLS port gets no answer.
    let out = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "5", &format!("http://{addr}/health")])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("\"status\":\"ok\""));
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_flow_selection_publishes_the_same_numbers_as_the_whole_flow_for_every_role() {
    // The pair stays in a selection: it is the cell a viewer's rounding is keyed on, so a
    // selected count is the same published number as the whole row's (two roundings of one
    // count would narrow it), and a btp_planner's BTP part and published rest add up alike.
    let f = fixture("flow-selection", 3, 0, vec![], false).await;
    for role in [Role::Viewer, Role::BtpPlanner, Role::Analyst] {
        let whole = json_of(&f.st, "/api/flows?format=matrix", role).await;
        let some = json_of(
            &f.st,
            "/api/flows?format=matrix&properties=journeys,children",
            role,
        )
        .await;
        let (w, s) = (
            whole["rows"].as_array().unwrap(),
            some["rows"].as_array().unwrap(),
        );
        assert!(
            !w.is_empty() && w.len() == s.len(),
            "{role}: {whole} / {some}"
        );
        for (a, b) in w.iter().zip(s) {
            let pick = |r: &Value| {
                json!({"origin_force": r["origin_force"], "destination_force": r["destination_force"],
                    "journeys": r["journeys"], "children": r["children"]})
            };
            assert_eq!(b, &pick(a), "{role}");
        }
        if role == Role::Viewer {
            // 12 journeys Liverpool Street → Norwich, all children: published as 10 or 15
            let j = s[0]["journeys"].as_u64().unwrap();
            assert!(j == 10 || j == 15, "{some}");
        }
    }
}

/// A fixture (k = 3) holding 3,000 synthetic journeys from the generator with `seed`.
async fn generated_fixture(name: &str, seed: u64) -> Fixture {
    let f = fixture(name, 3, 0, vec![], false).await;
    let reports = linesmap::journey::generate::generate(
        super::common::gb(),
        &linesmap::journey::generate::GeneratorParams::builtin(),
        3_000,
        seed,
    );
    let values: Vec<_> = reports.into_iter().map(Ok).collect();
    f.st.journeys
        .ingest(&values, time::OffsetDateTime::now_utc())
        .unwrap();
    f
}

/// A flows CSV without the pairs of fewer than `k` journeys (a viewer is not shown them).
fn csv_without_pairs_under(exact: &str, k: u64) -> Vec<u8> {
    let mut r = csv::Reader::from_reader(exact.as_bytes());
    let head = r.headers().unwrap().clone();
    let j = head.iter().position(|c| c == "journeys").unwrap();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&head).unwrap();
    for rec in r.records() {
        let rec = rec.unwrap();
        if rec[j].parse::<u64>().unwrap() >= k {
            w.write_record(&rec).unwrap();
        }
    }
    w.into_inner().unwrap()
}

#[tokio::test]
async fn a_viewers_flows_published_on_the_rows_equal_the_analysts_published_as_rendered() {
    // /api/flows publishes a viewer's typed rows before writing them (layers::rows). The
    // independent method is disclosure control on the analyst's written answer (the walk over
    // its JSON or CSV that the other aggregates still go through), less the pairs under k
    // that a viewer is not even shown: the two must agree to the byte (CSV) or the value (JSON).
    let f = generated_fixture("flow-rows", 11).await;
    let st = &f.st;
    let d = &st.security.disclosure;
    let k = u64::from(d.k);
    let mut suppressed = 0;
    for q in [
        "",
        "direction=travel",
        "from=2024-01-01&to=2024-03-31",
        "hours=22-02",
        "mode=rail&age_band=15-17",
        "origin_force=E23000001",
    ] {
        for (form, list) in [("", "features"), ("format=matrix&", "rows")] {
            for props in ["", "&properties=journeys,children,cash_gbp"] {
                let path = format!("/api/flows?{form}{q}{props}");
                let mut want = json_of(st, &path, Role::Analyst).await;
                let rows = want[list].as_array_mut().unwrap();
                let before = rows.len();
                rows.retain(|r| {
                    let p = if list == "features" {
                        &r["properties"]
                    } else {
                        r
                    };
                    p["journeys"].as_u64().unwrap() >= k
                });
                suppressed += before - rows.len();
                if list == "features" {
                    let n = want["features"].as_array().unwrap().len();
                    want["numberMatched"] = n.into();
                    want["numberReturned"] = n.into();
                }
                d.json(&mut want);
                let (s, body, h) = get_as(st, &path, Role::Viewer).await;
                assert_eq!(s, 200, "{path}: {body}");
                let got: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(got, want, "{path}");
                assert_eq!(h["x-disclosure-control"], d.header().as_str(), "{path}");
                if q == "hours=22-02" {
                    assert!(got.get("untimed_excluded").is_some(), "{path}");
                }
            }
        }
        let path = format!("/api/flows?f=csv&{q}");
        let (_, exact, _) = get_as(st, &path, Role::Analyst).await;
        let want = d.csv(&csv_without_pairs_under(&exact, k)).unwrap();
        let (s, got, h) = get_as(st, &path, Role::Viewer).await;
        assert_eq!(s, 200, "{path}: {got}");
        assert_eq!(got, String::from_utf8(want).unwrap(), "{path}");
        assert_eq!(h["x-disclosure-control"], d.header().as_str(), "{path}");
    }
    // the comparison had pairs to leave out and counts to round
    assert!(suppressed > 0);
}

#[tokio::test]
async fn a_viewers_trends_published_on_the_rows_equal_the_analysts_published_as_rendered() {
    // /api/trends (JSON and CSV) and the trends export publish a viewer's typed periods before
    // writing them (layers::rows::TrendRow). The independent method is disclosure control on
    // the analyst's written answer (the walk over its JSON or CSV by field name): the two must
    // agree to the value (JSON) and to the byte (CSV). With from and to given, both roles
    // count the same periods (a viewer without dates gets a fixed window).
    let f = generated_fixture("trend-rows", 13).await;
    let st = &f.st;
    let d = &st.security.disclosure;
    let (mut suppressed, mut rounded, mut untimed) = (0, 0, 0);
    for q in [
        "from=2023-01-01&to=2025-12-31&interval=month",
        "from=2024-01-01&to=2024-03-31&interval=week",
        "from=2024-01-01&to=2024-06-30&interval=week&hours=22-02",
        "from=2023-06-01&to=2024-05-31&interval=month&mode=rail&age_band=15-17",
        "from=2024-02-01&to=2024-02-29&interval=week&exporting_force=E23000001",
    ] {
        let path = format!("/api/trends?{q}");
        let mut want = json_of(st, &path, Role::Analyst).await;
        for b in want["buckets"].as_array().unwrap() {
            for c in ["journeys", "children", "distinct_persons", "phones"] {
                match b[c].as_u64().unwrap() {
                    n if n < u64::from(d.k) => suppressed += 1,
                    n if n % u64::from(d.base) != 0 => rounded += 1,
                    _ => {}
                }
            }
        }
        untimed += usize::from(want.get("untimed_excluded").is_some());
        d.json(&mut want);
        let (s, body, h) = get_as(st, &path, Role::Viewer).await;
        assert_eq!(s, 200, "{path}: {body}");
        let got: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(got, want, "{path}");
        assert_eq!(h["x-disclosure-control"], d.header().as_str(), "{path}");
        for path in [
            format!("/api/trends?f=csv&{q}"),
            format!(
                "/api/export?collection=trends&format=csv&{}",
                q.split('&')
                    .filter(|p| !p.starts_with("interval="))
                    .collect::<Vec<_>>()
                    .join("&")
            ),
        ] {
            let (s, exact, _) = get_as(st, &path, Role::Analyst).await;
            assert_eq!(s, 200, "{path}: {exact}");
            let want = d.csv(exact.as_bytes()).unwrap();
            let (s, got, h) = get_as(st, &path, Role::Viewer).await;
            assert_eq!(s, 200, "{path}: {got}");
            assert_eq!(got, String::from_utf8(want).unwrap(), "{path}");
            assert_eq!(h["x-disclosure-control"], d.header().as_str(), "{path}");
        }
    }
    // the comparison had counts to suppress and to round, and an untimed count to publish
    assert!(
        suppressed > 0 && rounded > 0 && untimed > 0,
        "{suppressed} {rounded} {untimed}"
    );
}

#[tokio::test]
async fn a_viewers_corridors_published_on_the_rows_equal_the_analysts_published_as_rendered() {
    // /api/corridors publishes a viewer's (and a btp_planner's: the answer is not split)
    // typed corridors before writing them. Independent method: disclosure control on the
    // analyst's written answer, less the corridors under k, ordered by the published journeys;
    // each `via` count published in its own cell (the corridor and the station), those under k
    // left out, its share of the published journeys.
    let f = generated_fixture("corridor-rows", 17).await;
    let st = &f.st;
    let d = &st.security.disclosure;
    let k = u64::from(d.k);
    let index = |c: &Value| {
        let code = linesmap::geography::StationCode::parse(c.as_str().unwrap()).unwrap();
        st.journeys.geography().stations.index_of(&code).unwrap()
    };
    let (mut left_out, mut vias) = (0, 0);
    for q in [
        "top=500",
        "top=500&direction=travel",
        "top=500&mode=rail&from=2024-01-01&to=2024-06-30",
        "top=7",
    ] {
        let path = format!("/api/corridors?{q}");
        let exact = json_of(st, &path.replace("top=7", "top=500"), Role::Analyst).await;
        let mut want: Vec<Value> = Vec::new();
        for feat in exact["features"].as_array().unwrap() {
            let p = &feat["properties"];
            if p["journeys"].as_u64().unwrap() < k {
                left_out += 1;
                continue;
            }
            let cell = format!(
                "hub_station={}|market_station={}|",
                p["hub_station"].as_str().unwrap(),
                p["market_station"].as_str().unwrap()
            );
            let mut feat = feat.clone();
            d.row(&mut feat);
            let journeys = feat["properties"]["journeys"].as_u64().unwrap();
            let published: Vec<Value> = p["via"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|v| {
                    let s = v["station"].as_str().unwrap();
                    let n = v["journeys"].as_u64().unwrap();
                    let m = d.publish(&format!("{cell}via={s}|"), "journeys", n)?;
                    let share = (m as f64 / journeys.max(1) as f64 * 1e4).round() / 1e4;
                    Some(json!({"journeys": m, "name": v["name"], "share": share, "station": s}))
                })
                .collect();
            vias += published.len();
            feat["properties"]["via"] = Value::Array(published);
            want.push(feat);
        }
        // most published journeys first, ties as the server breaks them (hub, then market, by
        // station index)
        want.sort_by(|a, b| {
            let (a, b) = (&a["properties"], &b["properties"]);
            b["journeys"]
                .as_u64()
                .cmp(&a["journeys"].as_u64())
                .then(index(&a["hub_station"]).cmp(&index(&b["hub_station"])))
                .then(index(&a["market_station"]).cmp(&index(&b["market_station"])))
        });
        if q == "top=7" {
            want.truncate(7);
        }
        for role in [Role::Viewer, Role::BtpPlanner] {
            let (s, body, h) = get_as(st, &path, role).await;
            assert_eq!(s, 200, "{path}: {body}");
            let got: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(
                got["features"],
                Value::Array(want.clone()),
                "{path} {role:?}"
            );
            assert_eq!(got["numberReturned"], want.len(), "{path} {role:?}");
            let unplaced = d.publish("", "unplaced", exact["unplaced"].as_u64().unwrap());
            assert_eq!(got["unplaced"], json!(unplaced), "{path} {role:?}");
            assert_eq!(got["disclosure"], d.notice(), "{path} {role:?}");
            let header = h["x-disclosure-control"].to_str().unwrap();
            assert!(header.starts_with(&d.header()), "{path} {role:?}: {header}");
        }
    }
    // the comparison had corridors to leave out and via counts to publish
    assert!(left_out > 0 && vias > 0, "{left_out} {vias}");
}

/// The answer of an endpoint published whole, as a viewer gets it, after checking that a
/// btp_planner gets the same bytes and both the disclosure-control header.
async fn published_whole(st: &Arc<AppState>, path: &str) -> String {
    let d = &st.security.disclosure;
    let (s, body, h) = get_as(st, path, Role::Viewer).await;
    assert_eq!(s, 200, "{path}: {body}");
    let (s, planner, ph) = get_as(st, path, Role::BtpPlanner).await;
    assert_eq!(s, 200, "{path}: {planner}");
    assert_eq!(
        body, planner,
        "{path}: a btp_planner's answer is a viewer's"
    );
    for h in [&h, &ph] {
        assert_eq!(h["x-disclosure-control"], d.header().as_str(), "{path}");
    }
    body
}

#[tokio::test]
async fn a_viewers_clock_is_published_in_its_cells_and_equals_disclosure_on_the_analysts() {
    // /api/clock publishes a viewer's and a btp_planner's answer in the handler (the endpoint
    // is published whole): each cell whole journeys, suppressed and rounded in its own cell;
    // `timed`, `untimed` and `untimed_excluded` in the answer's cell; the notice. Independent
    // method: the analyst's exact answer through disclosure control's walk over rendered JSON
    // (the top-level counts and the notice) and, cell by cell, the weight to whole journeys:
    // suppressed below k, else a multiple of the base within one base of it.
    let f = generated_fixture("clock-rows", 19).await;
    let st = &f.st;
    let d = &st.security.disclosure;
    let (k, base) = (u64::from(d.k), u64::from(d.base));
    let (mut suppressed, mut rounded) = (0, 0);
    for q in [
        "",
        "hours=22-02",
        "days=fri,sat&from=2024-01-01&to=2024-06-30",
        "station=EUS",
        "station=LST&measure=all&hours=06-10",
        "mode=rail&age_band=15-17",
    ] {
        let path = format!("/api/clock?{q}");
        let exact = json_of(st, &path, Role::Analyst).await;
        let body = published_whole(st, &path).await;
        // the fields in the order of the rendered answer (by name)
        let at: Vec<usize> = [
            "\"cells\"",
            "\"days\"",
            "\"disclosure\"",
            "\"timed\"",
            "\"timezone\"",
            "\"untimed\"",
        ]
        .iter()
        .map(|k| {
            body.find(k)
                .unwrap_or_else(|| panic!("{path}: {k} in {body}"))
        })
        .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{path}: {body}");
        let got: Value = serde_json::from_str(&body).unwrap();
        let (mut want_top, mut got_top) = (exact.clone(), got.clone());
        want_top["cells"] = Value::Null;
        got_top["cells"] = Value::Null;
        d.json(&mut want_top);
        assert_eq!(got_top, want_top, "{path}");
        assert_eq!(
            exact.get("untimed_excluded").is_some(),
            q.contains("hours") || q.contains("days"),
            "{path}: {exact}"
        );
        let (w, p) = (
            exact["cells"].as_array().unwrap(),
            got["cells"].as_array().unwrap(),
        );
        assert_eq!((w.len(), p.len()), (7, 7), "{path}");
        for (wd, pd) in w.iter().zip(p) {
            let (wd, pd) = (wd.as_array().unwrap(), pd.as_array().unwrap());
            assert_eq!((wd.len(), pd.len()), (24, 24), "{path}");
            for (wc, pc) in wd.iter().zip(pd) {
                let n = wc.as_f64().unwrap().round() as u64;
                if n < k {
                    assert!(pc.is_null(), "{path}: {n} published as {pc}");
                    suppressed += 1;
                } else {
                    let p = pc.as_u64().unwrap_or_else(|| panic!("{path}: {n} as {pc}"));
                    assert!(p % base == 0 && p.abs_diff(n) < base, "{path}: {n} as {p}");
                    rounded += u32::from(!n.is_multiple_of(base));
                }
            }
        }
    }
    assert!(suppressed > 0 && rounded > 0, "{suppressed} {rounded}");
}

#[tokio::test]
async fn a_viewers_emerging_hot_spots_are_published_whole_in_the_handler() {
    // /api/hotspots/emerging publishes a viewer's and a btp_planner's counts per station and
    // period before the statistic, and the answer's `untimed_excluded` in the answer's cell,
    // then writes the answer through serde and marks it for the guard (which no longer reads
    // the body again). Independent method: disclosure control's walk over the written answer
    // changes nothing in it (no count left unpublished); its `untimed_excluded` is the
    // analyst's exact count published; the notice and the header are there; the stations
    // listed are the analyst's.
    let f = generated_fixture("emerging-rows", 23).await;
    let st = &f.st;
    let d = &st.security.disclosure;
    let mut untimed = 0;
    for q in [
        "interval=month",
        "interval=month&hours=22-02",
        "interval=week&from=2024-01-01&to=2024-03-31&days=sat,sun",
        "interval=month&measure=all&force=E23000001",
    ] {
        let path = format!("/api/hotspots/emerging?{q}");
        let exact = json_of(st, &path, Role::Analyst).await;
        let body = published_whole(st, &path).await;
        let got: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(got["disclosure"], d.notice(), "{path}");
        let mut walked = got.clone();
        walked.as_object_mut().unwrap().remove("disclosure");
        d.json(&mut walked);
        assert_eq!(walked, got, "{path}");
        let want = exact.get("untimed_excluded").map(|n| {
            d.publish("", "untimed_excluded", n.as_u64().unwrap())
                .map_or(Value::Null, Value::from)
        });
        assert_eq!(got.get("untimed_excluded"), want.as_ref(), "{path}");
        untimed += usize::from(want.is_some_and(|n| !n.is_null()));
        let ids = |v: &Value| {
            let mut ids: Vec<String> = v["features"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["id"].as_str().unwrap().to_string())
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(ids(&got), ids(&exact), "{path}");
        assert!(!ids(&got).is_empty(), "{path}");
    }
    assert!(untimed > 0);
}

#[tokio::test]
async fn a_viewers_treatment_table_is_published_as_it_is_made() {
    // /api/treatment publishes a viewer's and a btp_planner's counts as the table is made
    // (the national row, each row and the completeness), computes the rates and funnel
    // positions from them, and marks the answer for the guard (which no longer reads it
    // again). Independent method: disclosure control's walk over the written answer, JSON and
    // CSV, changes nothing in it (no count left unpublished); the notice and header are there.
    let f = generated_fixture("treatment-rows", 29).await;
    let st = &f.st;
    let d = &st.security.disclosure;
    let (mut suppressed, mut shown) = (0, 0);
    for q in [
        "by=source_force&group=all",
        "by=origin_force&group=children",
        "by=destination_force&group=all&from=2024-01-01&to=2024-06-30",
        "by=source_force&group=children&mode=rail&hours=18-06",
    ] {
        for csv in [false, true] {
            let path = format!("/api/treatment?{q}{}", if csv { "&f=csv" } else { "" });
            let body = published_whole(st, &path).await;
            if csv {
                let walked = d.csv(body.as_bytes()).unwrap();
                assert_eq!(String::from_utf8(walked).unwrap(), body, "{path}");
                suppressed += body.matches(",,").count();
                continue;
            }
            let got: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(got["disclosure"], d.notice(), "{path}");
            let mut walked = got.clone();
            walked.as_object_mut().unwrap().remove("disclosure");
            d.json(&mut walked);
            assert_eq!(walked, got, "{path}");
            for r in got["rows"].as_array().unwrap() {
                match r["encounters"].as_u64() {
                    Some(n) => {
                        assert!(
                            n.is_multiple_of(u64::from(d.base)) && n >= u64::from(d.k),
                            "{path}: {r}"
                        );
                        shown += 1;
                    }
                    None => suppressed += 1,
                }
            }
        }
    }
    assert!(suppressed > 0 && shown > 0, "{suppressed} {shown}");
}

#[tokio::test]
async fn a_viewers_places_published_on_the_rows_equal_the_analysts_published_as_rendered() {
    // The items, a single feature and the export (GeoJSON and CSV) of stations, forces,
    // track sections and flows publish a viewer's typed rows (layers::rows: StationRow,
    // ForceRow, SectionRow, FlowRow) before writing them. The independent method is disclosure control on the
    // analyst's written answer (the walk over its JSON or CSV by field name, `net` from the
    // published counts): the two must agree to the value (JSON) and to the byte (CSV). A CQL2
    // filter on a count compares the counts a viewer is shown: the analyst's whole answer,
    // published, then filtered here by hand.
    let f = generated_fixture("place-rows", 17).await;
    let st = &f.st;
    let d = &st.security.disclosure;
    let k = u64::from(d.k);
    for (c, count, tested) in [
        (
            "stations",
            "journeys",
            &["journeys", "starts", "distinct_children", "on_route"][..],
        ),
        (
            "forces",
            "exports",
            &["exports", "imports", "phones", "distinct_persons"][..],
        ),
        ("rail", "journeys", &["journeys", "persons", "children"][..]),
    ] {
        let (mut suppressed, mut rounded, mut untimed) = (0, 0, 0);
        for q in [
            "limit=10000",
            "limit=25&offset=20",
            "limit=10000&bbox=-0.5,51.3,0.3,51.7&datetime=2024-01-01/2024-06-30",
            "limit=10000&hours=22-02",
            "limit=10000&mode=rail&age_band=15-17",
            "limit=100&crs=http://www.opengis.net/def/crs/EPSG/0/27700",
        ] {
            let path = format!("/collections/{c}/items?{q}");
            let mut want = json_of(st, &path, Role::Analyst).await;
            for s in want["features"].as_array().unwrap() {
                for field in tested {
                    match s["properties"][field].as_u64().unwrap() {
                        n if n < k => suppressed += 1,
                        n if n % u64::from(d.base) != 0 => rounded += 1,
                        _ => {}
                    }
                }
            }
            untimed += usize::from(want.get("untimed_excluded").is_some());
            d.json(&mut want);
            let (s, body, h) = get_as(st, &path, Role::Viewer).await;
            assert_eq!(s, 200, "{path}: {body}");
            let got: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(got, want, "{path}");
            assert_eq!(h["x-disclosure-control"], d.header().as_str(), "{path}");
        }
        // the comparison had counts to suppress and to round, and an untimed count to publish
        assert!(
            suppressed > 0 && rounded > 0 && untimed > 0,
            "{c}: {suppressed} {rounded} {untimed}"
        );
        // a filter on counts: the features whose published count is at least 10
        let all = {
            let mut v = json_of(
                st,
                &format!("/collections/{c}/items?limit=10000"),
                Role::Analyst,
            )
            .await;
            d.json(&mut v);
            v
        };
        let kept: Vec<&Value> = all["features"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["properties"][count].as_u64().is_some_and(|n| n >= 10))
            .collect();
        assert!(!kept.is_empty() && kept.len() < all["features"].as_array().unwrap().len());
        let path = format!("/collections/{c}/items?limit=10000&filter={count}%20%3E%3D%2010");
        let (s, body, _) = get_as(st, &path, Role::Viewer).await;
        assert_eq!(s, 200, "{path}: {body}");
        let got: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(got["numberMatched"], kept.len(), "{path}");
        assert_eq!(
            got["features"]
                .as_array()
                .unwrap()
                .iter()
                .collect::<Vec<_>>(),
            kept,
            "{path}"
        );
        // one feature, and the export as JSON and CSV
        let one = match &kept[0]["id"] {
            Value::String(s) => s.clone(),
            n => n.to_string(),
        };
        for path in [
            format!("/collections/{c}/items/{one}"),
            format!("/api/export?collection={c}&format=geojson&from=2024-01-01&to=2024-12-31"),
        ] {
            let mut want = json_of(st, &path, Role::Analyst).await;
            d.json(&mut want);
            let (s, body, h) = get_as(st, &path, Role::Viewer).await;
            assert_eq!(s, 200, "{path}: {body}");
            assert_eq!(
                serde_json::from_str::<Value>(&body).unwrap(),
                want,
                "{path}"
            );
            assert_eq!(h["x-disclosure-control"], d.header().as_str(), "{path}");
        }
        for path in [
            format!("/api/export?collection={c}&format=csv"),
            format!("/api/export?collection={c}&format=csv&hours=22-02&mode=rail"),
        ] {
            let (s, exact, _) = get_as(st, &path, Role::Analyst).await;
            assert_eq!(s, 200, "{path}: {exact}");
            let want = d.csv(exact.as_bytes()).unwrap();
            let (s, got, h) = get_as(st, &path, Role::Viewer).await;
            assert_eq!(s, 200, "{path}: {got}");
            assert_eq!(got, String::from_utf8(want).unwrap(), "{path}");
            assert_eq!(h["x-disclosure-control"], d.header().as_str(), "{path}");
        }
    }
    // the flows' items and export: the analyst's, less the pairs under k a viewer is not
    // shown, published
    for path in [
        "/collections/flows/items?limit=10000",
        "/collections/flows/items?limit=10000&direction=travel&mode=rail",
        "/api/export?collection=flows&from=2024-01-01&to=2024-12-31",
    ] {
        let mut want = json_of(st, path, Role::Analyst).await;
        let fs = want["features"].as_array_mut().unwrap();
        let before = fs.len();
        fs.retain(|f| f["properties"]["journeys"].as_u64().unwrap() >= k);
        let n = fs.len();
        assert!(0 < n && n < before, "{path}: {n} of {before}");
        want["numberMatched"] = n.into();
        want["numberReturned"] = n.into();
        d.json(&mut want);
        let (s, body, h) = get_as(st, path, Role::Viewer).await;
        assert_eq!(s, 200, "{path}: {body}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            want,
            "{path}"
        );
        assert_eq!(h["x-disclosure-control"], d.header().as_str(), "{path}");
    }
    let path = "/api/export?collection=flows&format=csv&direction=travel";
    let (_, exact, _) = get_as(st, path, Role::Analyst).await;
    let want = d.csv(&csv_without_pairs_under(&exact, k)).unwrap();
    let (s, got, h) = get_as(st, path, Role::Viewer).await;
    assert_eq!(s, 200, "{path}: {got}");
    assert_eq!(got, String::from_utf8(want).unwrap(), "{path}");
    assert_eq!(h["x-disclosure-control"], d.header().as_str(), "{path}");
    // hotspots: a viewer's statistic comes from published counts (so it is not the analyst's
    // published); disclosure control's walk over a viewer's answer changes nothing in it (every
    // count published in its station's cell, the rate from the published measure)
    let mut published = 0;
    for path in [
        "/collections/hotspots/items?limit=10000",
        "/collections/hotspots/items?limit=10000&measure=boardings&inference=analytic",
        "/collections/hotspots/items?limit=100&filter=stops%20%3E%3D%2010&hours=22-02",
        "/collections/hotspots/items/EUS",
        "/api/export?collection=hotspots&measure=all",
        "/api/hotspots?top=10000",
        "/api/hotspots?top=300&measure=boardings&inference=analytic&hours=22-02",
    ] {
        let (s, body, h) = get_as(st, path, Role::Viewer).await;
        assert_eq!(s, 200, "{path}: {body}");
        assert_eq!(h["x-disclosure-control"], d.header().as_str(), "{path}");
        let mut got: Value = serde_json::from_str(&body).unwrap();
        // `/api/hotspots` says how its statistic was computed, the rate's text included (the
        // walk, which reads any `rate_per_million` as a rate, would have nulled it)
        if let Some(notice) = got.as_object_mut().unwrap().remove("statistic") {
            assert!(notice["rate_per_million"].is_string(), "{path}: {notice}");
        }
        let mut walked = got.clone();
        walked.as_object_mut().unwrap().remove("disclosure");
        d.json(&mut walked);
        assert_eq!(walked, got, "{path}");
        let exact = json_of(st, path, Role::Analyst).await;
        let counts = |v: &Value| -> Vec<Value> {
            let fs = v.get("features").and_then(Value::as_array);
            let list = fs.map_or_else(|| vec![v.clone()], Clone::clone);
            list.iter()
                .map(|f| f["properties"]["stops"].clone())
                .collect()
        };
        // the viewer's counts are not the analyst's: publication happened on these rows
        published += usize::from(counts(&got) != counts(&exact));
    }
    assert!(published >= 6, "{published}");
    // the hotspots' CSV tables the same: a viewer's is disclosure control's fixed point while
    // its counts are not the analyst's
    for path in [
        "/api/hotspots?top=10000&f=csv",
        "/api/hotspots?top=200&f=csv&measure=all&days=sat,sun",
        "/api/export?collection=hotspots&format=csv",
        "/api/export?collection=hotspots&format=csv&filter=stops%20%3E%3D%2010",
    ] {
        let (s, got, h) = get_as(st, path, Role::Viewer).await;
        assert_eq!(s, 200, "{path}: {got}");
        assert_eq!(h["x-disclosure-control"], d.header().as_str(), "{path}");
        let walked = String::from_utf8(d.csv(got.as_bytes()).unwrap()).unwrap();
        assert_eq!(walked, got, "{path}");
        let (_, exact, _) = get_as(st, path, Role::Analyst).await;
        assert_eq!(got.lines().next(), exact.lines().next(), "{path}");
        if !path.contains("filter") {
            assert_eq!(got.lines().count(), exact.lines().count(), "{path}");
        }
        assert_ne!(got, exact, "{path}");
    }
    // no station in the box: the header alone (the properties by name, then the point)
    let (s, body, _) = get_as(
        st,
        "/api/export?collection=stations&format=csv&bbox=10,10,11,11",
        Role::Viewer,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        body,
        "alightings,boardings,children,crs,distinct_children,distinct_persons,encounters,ends,\
         entries_exits_2019_20,force,interchanges,journeys,name,on_route,passes,persons,starts,\
         stops,lon,lat\n"
    );
    // a spatial filter keeps the same forces in the CSV export as in the GeoJSON one (the
    // table has no geometry column, the filter still tests the force's area)
    let filter = "filter=S_INTERSECTS(geometry,POINT(-1.5%2053.8))";
    let geojson = json_of(
        st,
        &format!("/api/export?collection=forces&{filter}"),
        Role::Analyst,
    )
    .await;
    let (_, csv, _) = get_as(
        st,
        &format!("/api/export?collection=forces&format=csv&{filter}"),
        Role::Analyst,
    )
    .await;
    let codes: Vec<&str> = geojson["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["E23000010"], "West Yorkshire holds the point");
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let code = r
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "code")
        .unwrap();
    let rows: Vec<String> = r.records().map(|x| x.unwrap()[code].to_string()).collect();
    assert_eq!(rows, codes);
}
