//! The HTTP API in-process (warp::test), on the real GB data.

use linesmap::http::{AppState, routes};
use serde_json::Value;
use std::sync::Arc;

fn state() -> Arc<AppState> {
    super::common::fresh_state()
}

async fn get(path: &str) -> (u16, Value, String) {
    let r = warp::test::request()
        .method("GET")
        .path(path)
        .reply(&routes(state()))
        .await;
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(r.body()).unwrap_or(Value::Null);
    (r.status().as_u16(), body, ct)
}

#[tokio::test]
async fn health_answers_with_the_data_counts() {
    let (s, b, ct) = get("/health").await;
    assert_eq!(s, 200);
    assert_eq!(ct, "application/json");
    assert_eq!(b["forces"], 45);
    assert_eq!(b["stations"], 2568);
}

#[tokio::test]
async fn locate_euston_gives_the_met_and_euston_first() {
    let (s, b, _) = get("/api/locate?lon=-0.1335&lat=51.5282&k=2").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["force"]["code"], "E23000001");
    assert_eq!(b["force"]["method"], "point_in_polygon");
    assert_eq!(b["nearest_stations"].as_array().unwrap().len(), 2);
    assert_eq!(b["nearest_stations"][0]["crs"], "EUS");
}

#[tokio::test]
async fn locate_on_ryde_pier_says_the_force_was_found_by_tolerance() {
    let (_, b, _) = get("/api/locate?lon=-1.16025&lat=50.73912&k=1").await;
    assert_eq!(b["force"]["code"], "E23000030");
    assert_eq!(b["force"]["method"], "nearest_within_tolerance");
    let (_, b, _) = get("/api/locate?lon=-20&lat=45").await;
    assert_eq!(b["force"], Value::Null);
}

#[tokio::test]
async fn route_returns_a_linestring_feature_with_forces_in_order() {
    let (s, b, ct) = get("/api/route?from=LIV&to=bpn").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(ct, "application/geo+json");
    assert_eq!(b["type"], "Feature");
    assert_eq!(b["geometry"]["type"], "LineString");
    assert!(b["geometry"]["coordinates"].as_array().unwrap().len() > 100);
    let p = &b["properties"];
    let codes: Vec<&str> = p["forces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["E23000004", "E23000003"]);
    // independent: 81,042.6 m (networkx over the track, pyproj geodesics)
    assert!((p["distance_m"].as_f64().unwrap() - 81_042.6).abs() < 40.0);
    assert_eq!(p["stations"][0], "LIV");
    assert_eq!(p["stations"].as_array().unwrap().last().unwrap(), "BPN");
    let (s, b, _) = get("/api/route?from=EUS&to=LIV&via=CRE").await;
    assert_eq!(s, 200);
    assert_eq!(b["properties"]["via"][0], "CRE");
}

#[tokio::test]
async fn station_feature_has_force_and_footfall() {
    let (s, b, _) = get("/api/stations/EUS").await;
    assert_eq!(s, 200);
    assert_eq!(b["id"], "EUS");
    assert_eq!(b["properties"]["force"]["code"], "E23000001");
    // ORR 2019-20 entries and exits for Euston, from stations.csv
    assert!(
        b["properties"]["footfall"]["entries_exits_2019_20"]
            .as_u64()
            .unwrap()
            > 40_000_000
    );
}

#[tokio::test]
async fn bad_input_gets_a_json_4xx_naming_the_problem() {
    let cases: &[(&str, u16, &str, &str)] = &[
        ("/api/locate?lat=51", 400, "missing_parameter", "\"lon\""),
        (
            "/api/locate?lon=abc&lat=51",
            400,
            "invalid_parameter",
            "\"abc\" is not a number",
        ),
        (
            "/api/locate?lon=200&lat=51",
            400,
            "invalid_parameter",
            "outside [-180, 180]",
        ),
        (
            "/api/locate?lon=0&lat=51&k=0",
            400,
            "invalid_parameter",
            "from 1 to 50",
        ),
        (
            "/api/locate?lon=0&lat=51&colour=red",
            400,
            "unknown_parameter",
            "\"colour\"",
        ),
        (
            "/api/locate?lon=0&lon=1&lat=51",
            400,
            "duplicate_parameter",
            "\"lon\"",
        ),
        ("/api/route?from=EUS", 400, "missing_parameter", "\"to\""),
        (
            "/api/route?from=EUS&to=XQZ",
            400,
            "unknown_station",
            "\"XQZ\"",
        ),
        (
            "/api/route?from=EUS&to=TOOLONG",
            400,
            "invalid_parameter",
            "not a station code",
        ),
        (
            "/api/route?from=EUS&to=RYD",
            422,
            "no_route",
            "disconnected",
        ),
        ("/api/stations/XQZ", 404, "not_found", "XQZ"),
        (
            "/api/stations/EUS?x=1",
            400,
            "unknown_parameter",
            "no query parameters",
        ),
        ("/nowhere", 404, "not_found", ""),
    ];
    for (path, status, code, needle) in cases {
        let (s, b, ct) = get(path).await;
        assert_eq!(s, *status, "{path}: {b}");
        assert_eq!(ct, "application/json", "{path}");
        assert_eq!(b["code"], *code, "{path}: {b}");
        assert!(
            b["message"].as_str().unwrap().contains(needle),
            "{path}: {b}"
        );
    }
    let r = warp::test::request()
        .method("POST")
        .path("/api/locate")
        .reply(&routes(state()))
        .await;
    assert_eq!(r.status(), 405);
    let b: Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(b["code"], "method_not_allowed");
}
