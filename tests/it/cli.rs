//! The binary over a real socket: `serve` prints its address, answers, and stops on SIGTERM;
//! `check-data` reports; bad data is an error exit, not a panic.

use super::common::data_dir;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_linesmap");

/// A GET over a real socket, signed in with `token` (none when empty).
pub fn http_get(addr: &str, token: &str, path: &str) -> String {
    let auth = if token.is_empty() {
        String::new()
    } else {
        format!("Authorization: Bearer {token}\r\n")
    };
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn serve_prints_its_address_answers_and_stops_cleanly_on_sigterm() {
    let store = std::env::temp_dir().join(format!("linesmap-serve-{}.sqlite", std::process::id()));
    let (mut child, addr, token) = start_server(&store);
    assert!(
        addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
        "{addr}"
    );
    let resp = http_get(&addr, "", "/api/locate?lon=-0.1335&lat=51.5282&k=1");
    assert!(resp.starts_with("HTTP/1.1 401"), "signed out: {resp}");
    let resp = http_get(&addr, &token, "/api/locate?lon=-0.1335&lat=51.5282&k=1");
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(
        resp.contains("\"E23000001\"") && resp.contains("\"EUS\""),
        "{resp}"
    );
    let resp = http_get(&addr, &token, "/api/route?from=EUS");
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", store.display()));
    }
}

#[test]
fn check_data_reports_what_an_operator_needs() {
    let out = Command::new(BIN)
        .args(["check-data", "--data"])
        .arg(data_dir())
        .env("LINESMAP_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "FORCES: 45 areas",
        "STATIONS: 2568",
        "outside every force polygon: 29 (29 given to the nearest force within 1000 m, 0 in no force)",
        "RYP      Ryde Pier Head",
        "stations attached to the track: 2568 of 2568",
        "connected components",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn check_data_by_default_verifies_the_shipped_data_against_its_manifest() {
    // no --data and no LINESMAP_DATA: the data/gb of the checkout
    let out = Command::new(BIN)
        .arg("check-data")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("LINESMAP_DATA")
        .env("LINESMAP_LOG", "warn")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("5 of 5 files as listed"), "{text}");
    assert!(text.contains("STATIONS: 2568"), "{text}");
    // sha256sum data/gb/stations.csv
    let manifest = std::fs::read_to_string(data_dir().join("MANIFEST.json")).unwrap();
    assert!(manifest.contains("5140fb51aa291ce24cdcb7fa859dca862e8091c53546916691bc7ebfe3f37451"));

    // a copy with one file changed by a byte and one removed fails, naming both
    let dir = std::env::temp_dir().join(format!("linesmap-manifest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for f in [
        "MANIFEST.json",
        "forces.geojson",
        "forces.csv",
        "stations.csv",
        "rail_tracks.geojson",
    ] {
        std::fs::copy(data_dir().join(f), dir.join(f)).unwrap();
    }
    let mut csv = std::fs::read(dir.join("forces.csv")).unwrap();
    csv.push(b'\n');
    std::fs::write(dir.join("forces.csv"), csv).unwrap();
    let out = Command::new(BIN)
        .args(["check-data", "--data"])
        .arg(&dir)
        .env("LINESMAP_LOG", "warn")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("CHANGED  forces.csv"), "{text}");
    assert!(text.contains("MISSING  gb_rail.osm.pbf"), "{text}");
    assert!(text.contains("ok       stations.csv"), "{text}");
    assert!(text.contains("3 of 5 files as listed"), "{text}");
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("does not match its MANIFEST.json")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_data_is_a_clear_error_exit() {
    let dir = std::env::temp_dir().join(format!("linesmap-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("forces.geojson"),
        "{\"type\": \"FeatureCollection\", \"features\": [",
    )
    .unwrap();
    std::fs::write(
        dir.join("stations.csv"),
        "crs,name,lat,lon\nEUS,Euston,51.5,-0.13\n",
    )
    .unwrap();
    std::fs::write(dir.join("rail_tracks.geojson"), "{}").unwrap();
    let out = Command::new(BIN)
        .args(["check-data", "--data"])
        .arg(&dir)
        .env("LINESMAP_LOG", "off")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("forces.geojson: not valid GeoJSON"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let out = Command::new(BIN)
        .args(["serve", "--data", "/nonexistent"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("/nonexistent: not a folder")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn http_post_json(addr: &str, token: &str, path: &str, body: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn start_server(store: &std::path::Path) -> (std::process::Child, String, String) {
    super::common::start_server(store, &[])
}

#[test]
fn acknowledged_reports_survive_kill_9_and_reload_on_restart() {
    let dir = std::env::temp_dir().join(format!("linesmap-kill9-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("journeys.sqlite");
    let _ = std::fs::remove_file(&store);
    let mut acked = Vec::new();
    for round in 0..3 {
        let (mut child, addr, token) = start_server(&store);
        for i in 0..15 {
            let id = format!("kill9-{round}-{i}");
            let (from, to) = [("EUS", "NRW"), ("LIV", "BPN"), ("BHM", "SWA")][i % 3];
            let body = format!(
                r#"{{"report_id":"{id}","reported_at":"2024-03-06T10:42:00Z","source_force":"BTP","journey":{{"date":"2024-03-06","mode":"rail","origin":{{"station":"{from}"}},"destination":{{"station":"{to}"}}}}}}"#
            );
            let resp = http_post_json(&addr, &token, "/api/journeys", &body);
            assert!(resp.starts_with("HTTP/1.1 201"), "{resp}");
            acked.push(id);
        }
        // SIGKILL straight after the last acknowledgement: no clean shutdown
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let (mut child, addr, token) = start_server(&store);
    let list = http_get(&addr, &token, "/api/journeys?limit=100");
    assert!(
        list.contains(&format!("\"numberMatched\":{}", acked.len())),
        "{}",
        &list[..400.min(list.len())]
    );
    for id in &acked {
        let resp = http_get(&addr, &token, &format!("/api/journeys/{id}"));
        assert!(resp.starts_with("HTTP/1.1 200"), "{id} lost: {resp}");
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let s = linesmap::store::SqliteStore::open(&store).unwrap();
    use linesmap::store::JourneyStore;
    assert_eq!(s.count().unwrap(), acked.len() as u64);
    s.integrity_check().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The body of a GET over a real socket.
pub fn http_get_body(addr: &str, token: &str, path: &str) -> String {
    let resp = http_get(addr, token, path);
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    resp.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

#[test]
fn serve_hands_its_protective_marking_to_the_page_and_refuses_a_bad_one() {
    let store =
        std::env::temp_dir().join(format!("linesmap-marking-{}.sqlite", std::process::id()));
    let (mut child, addr, token) =
        super::common::start_server(&store, &["--marking", "SECRET – UK EYES ONLY (test)"]);
    let resp = http_get(&addr, &token, "/api/whoami");
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(
        resp.contains("\"marking\":\"SECRET – UK EYES ONLY (test)\""),
        "{resp}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // Too long, a line break, empty: refused before anything starts, saying why.
    for (bad, says) in [
        ("X".repeat(65), "has 65 characters; at most 64"),
        (
            "OFFICIAL\nSENSITIVE".to_string(),
            "control character (U+000A)",
        ),
        (String::new(), "is empty"),
    ] {
        let out = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--open-demo",
                "--marking",
                &bad,
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {err}");
        assert!(
            err.contains("--marking") && err.contains(says),
            "{bad:?}: {err}"
        );
    }
    let _ = std::fs::remove_file(store.with_extension("tokens.json"));
    for suffix in ["", "-wal", "-shm", ".key", ".audit.ndjson"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", store.display()));
    }
}
