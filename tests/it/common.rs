//! Shared fixtures: the real GB geography, loaded once per test binary.

use linesmap::config::{DataPaths, load_geography};
use linesmap::{Geography, GeographyOptions};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// The GB reference data folder. Missing data is a loud failure, in CI and everywhere else.
pub fn data_dir() -> PathBuf {
    let dir = std::env::var_os("LINESMAP_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/gb"));
    assert!(
        dir.join("forces.geojson").is_file(),
        "reference data not found at {} (CI={}): these tests need the project's data/gb \
         or LINESMAP_DATA pointing at a copy",
        dir.display(),
        std::env::var("CI").unwrap_or_default()
    );
    dir
}

/// The real OpenStreetMap extract the PBF tests read (ships with the tests, ODbL).
pub fn rutland_pbf() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/osm/rutland-2018.osm.pbf")
}

/// The GB geography from `forces.geojson`, `stations.csv` and `rail_tracks.geojson`.
pub fn gb() -> &'static Geography {
    gb_arc()
}

/// The same, shareable.
pub fn gb_arc() -> &'static Arc<Geography> {
    static GEO: OnceLock<Arc<Geography>> = OnceLock::new();
    GEO.get_or_init(|| {
        let dir = data_dir();
        let paths = DataPaths::resolve(Some(&dir), None, None, None).expect("data paths");
        Arc::new(
            load_geography(&paths, GeographyOptions::default())
                .expect("GB data loads")
                .0,
        )
    })
}

/// A server state on the GB data with an empty in-memory store.
pub fn fresh_state() -> Arc<linesmap::http::AppState> {
    let store = linesmap::store::SqliteStore::in_memory().expect("in-memory store");
    let journeys = linesmap::ingest::Journeys::new(gb_arc().clone(), Arc::new(store));
    linesmap::http::AppState::new(Arc::new(journeys))
}

/// The independent reference answers (tests/independent/reference.json).
pub fn reference() -> &'static serde_json::Value {
    static REF: OnceLock<serde_json::Value> = OnceLock::new();
    REF.get_or_init(|| {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/independent/reference.json");
        serde_json::from_str(&std::fs::read_to_string(&p).expect("reference.json")).expect("json")
    })
}

pub fn station(g: &Geography, crs: &str) -> usize {
    g.stations
        .index_of(&linesmap::geography::StationCode::parse(crs).unwrap())
        .unwrap_or_else(|| panic!("station {crs}"))
}

pub fn force_code(g: &Geography, i: usize) -> &str {
    g.forces.get(i).code.as_str()
}

/// Creates a token with `linesmap token create` in `file`; returns the token.
pub fn create_token(file: &std::path::Path, role: &str, name: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_linesmap"))
        .args([
            "token", "create", "--role", role, "--name", name, "--tokens",
        ])
        .arg(file)
        .output()
        .expect("linesmap token create runs");
    assert!(
        out.status.success(),
        "token create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("lm_"), "{token}");
    token
}

/// Starts `linesmap serve` on a free port with the GB data and `store`, signing in with tokens
/// from a file beside the store (an `admin` token is made for the test), plus `extra`
/// arguments; returns the child, its `IP:PORT` and the admin token.
pub fn start_server(
    store: &std::path::Path,
    extra: &[&str],
) -> (std::process::Child, String, String) {
    let tokens = store.with_extension("tokens.json");
    let token = create_token(&tokens, "admin", "integration test (admin)");
    let (child, addr) = start_server_raw(store, &tokens, extra);
    (child, addr, token)
}

/// `linesmap serve` with the token file `tokens` and `extra` arguments; the child and `IP:PORT`.
pub fn start_server_raw(
    store: &std::path::Path,
    tokens: &std::path::Path,
    extra: &[&str],
) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_linesmap"))
        .args(["serve", "--listen", "127.0.0.1:0", "--store"])
        .arg(store)
        .arg("--data")
        .arg(data_dir())
        .arg("--tokens")
        .arg(tokens)
        .args(extra)
        .env("LINESMAP_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("the linesmap binary starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("a line");
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .or_else(|| line.trim().strip_prefix("listening on https://"))
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, addr)
}

/// POSTs a report `body` to `/api/journeys` over a real socket with `token`; the status, or
/// None when the connection failed (the server was killed): then the write is not acknowledged.
pub fn post_report(addr: &str, token: &str, body: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .ok()?;
    write!(
        s,
        "POST /api/journeys HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.get(9..12)?.parse().ok()
}

/// A valid synthetic rail report (BTP, one 15-17 runner) between one of four station pairs.
pub fn report(id: &str, k: usize) -> String {
    let (from, to) = [
        ("EUS", "NRW"),
        ("LIV", "BPN"),
        ("BHM", "SWA"),
        ("KGX", "SKE"),
    ][k % 4];
    format!(
        r#"{{"report_id":"{id}","reported_at":"2024-03-06T10:42:00Z","source_force":"BTP","journey":{{"date":"2024-03-06","mode":"rail","origin":{{"station":"{from}"}},"destination":{{"station":"{to}"}}}},"persons":[{{"person_id":"syn-{id}","age_band":"15-17","roles":["runner"]}}]}}"#
    )
}

/// A token file record for `token` (the token itself is hashed, as the CLI does).
pub fn token_record(
    id: &str,
    role: linesmap::access::Role,
    token: &str,
) -> linesmap::access::tokens::TokenRecord {
    linesmap::access::tokens::TokenRecord {
        id: id.into(),
        name: format!("{role} tester"),
        role,
        sha256: linesmap::access::tokens::sha256_hex(token.as_bytes()),
        created: "2026-11-30T00:00:00Z".into(),
        force: None,
        expires: None,
        revoked: None,
    }
}

/// Access settings for in-process tests: these token records, optionally a provider, the
/// audit log at `dir/audit.ndjson`, no rate limit, CORS off.
pub fn test_security(
    dir: &std::path::Path,
    records: Vec<linesmap::access::tokens::TokenRecord>,
    oidc: Option<linesmap::access::oidc::Oidc>,
) -> linesmap::access::Security {
    use linesmap::access::{Pseudonyms, disclosure::Disclosure};
    linesmap::access::Security {
        auth: linesmap::access::Authentication::Tokens(
            linesmap::access::tokens::Tokens::from_records(records),
        ),
        oidc,
        pseudonyms: Pseudonyms::new(b"in-process test key".to_vec()),
        disclosure: Disclosure::new(5, 5, Pseudonyms::new(b"in-process test key".to_vec())),
        audit: Some(linesmap::access::audit::AuditLog::open(&dir.join("audit.ndjson")).unwrap()),
        rate: linesmap::access::RateLimiter::new(0),
        cors_origins: vec![],
        tls: false,
    }
}

/// A server process killed and reaped when dropped, so it goes down with its test, pass or fail.
pub struct StopOnDrop(pub std::process::Child);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
