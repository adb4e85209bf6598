//! The clock in UK local time, the `hours` and `days` filters and aoristic weights (issue 16),
//! against tests/independent/clock.py (Python's zoneinfo, a window walked minute by minute;
//! its output committed as clock.json).

use super::common::fresh_state;
use linesmap::http::{AppState, routes};
use serde_json::{Value, json};
use std::sync::Arc;

fn reference() -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/independent/clock.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

async fn get(st: &Arc<AppState>, path: &str) -> (u16, Value) {
    let r = warp::test::request()
        .path(path)
        .reply(&routes(st.clone()))
        .await;
    (
        r.status().as_u16(),
        serde_json::from_slice(r.body()).unwrap_or(Value::Null),
    )
}

/// The reference journeys as reports: rail LST → NRW, but syn-c-06 NRW → LST; the time as
/// `departed_at`, `encounter.at` or a v1.1 `time_window`, or none.
async fn state(r: &Value) -> Arc<AppState> {
    let st = fresh_state();
    let batch: Vec<Value> = r["journeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            let id = j["id"].as_str().unwrap();
            let (from, to) = if id == "syn-c-06" { ("NRW", "LST") } else { ("LST", "NRW") };
            let date = j["from"].as_str().map_or("2024-03-06", |s| &s[..10]);
            let mut journey = json!({"date": date, "mode": "rail", "origin": {"station": from}, "destination": {"station": to}});
            match j["kind"].as_str().unwrap() {
                "departed_at" => journey["departed_at"] = j["from"].clone(),
                "encounter_at" => {
                    journey["encounter"] = json!({"station": "IPS", "at": j["from"], "type": "stop_search"})
                }
                "time_window" => journey["time_window"] = json!({"from": j["from"], "to": j["to"]}),
                _ => {}
            }
            json!({
                "schema_version": "1.1",
                "report_id": id,
                "reported_at": "2025-01-01T00:00:00Z",
                "source_force": "BTP",
                "journey": journey,
            })
        })
        .collect();
    let res = warp::test::request()
        .method("POST")
        .path("/api/journeys")
        .header("content-type", "application/json")
        .body(Value::Array(batch).to_string())
        .reply(&routes(st.clone()))
        .await;
    assert_eq!(res.status(), 201, "{}", String::from_utf8_lossy(res.body()));
    st
}

fn assert_cells(got: &Value, expect: &[Vec<f64>]) {
    let rows = got.as_array().unwrap();
    assert_eq!(rows.len(), 7);
    for (d, row) in rows.iter().enumerate() {
        let row = row.as_array().unwrap();
        assert_eq!(row.len(), 24);
        for (h, v) in row.iter().enumerate() {
            let v = v.as_f64().unwrap();
            assert!(
                (v - expect[d][h]).abs() < 1e-6,
                "day {d} hour {h}: {v} vs {}",
                expect[d][h]
            );
        }
    }
}

#[tokio::test]
async fn the_clock_is_in_uk_local_time_across_both_clock_changes_with_aoristic_windows() {
    let r = reference();
    let st = state(&r).await;
    let (s, v) = get(&st, "/api/clock").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["timezone"], "Europe/London");
    // 13 timed (10 instants, 3 windows), one untimed
    assert_eq!((&v["timed"], &v["untimed"]), (&json!(13), &json!(1)));
    let expect: Vec<Vec<f64>> = r["clock"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect();
    assert_cells(&v["cells"], &expect);
    let total: f64 = expect.iter().flatten().sum();
    assert!((total - 13.0).abs() < 1e-9, "each timed journey weighs 1");

    // at a station, by measure: only syn-c-06 alights at Liverpool Street (Monday 15:00 GMT)
    let (_, v) = get(&st, "/api/clock?station=LST&measure=alightings").await;
    assert_eq!(
        (&v["timed"], &v["untimed"], &v["measure"]),
        (&json!(1), &json!(0), &json!("alightings"))
    );
    assert_eq!(v["cells"][0][15], 1.0);
    // the one encounter (syn-c-10 at Ipswich, Saturday 02:10 BST) is the only stop there
    let (_, v) = get(&st, "/api/clock?station=IPS").await;
    assert_eq!((&v["timed"], &v["cells"][5][2]), (&json!(1), &json!(1.0)));
    let (_, v) = get(&st, "/api/clock?station=IPS&measure=all").await;
    assert_eq!((&v["timed"], &v["untimed"]), (&json!(13), &json!(1)));
    for bad in [
        "measure=stops",
        "station=IPS&measure=x",
        "hours=5",
        "days=funday",
        "hours=1-24",
    ] {
        let (s, e) = get(&st, &format!("/api/clock?{bad}")).await;
        assert_eq!(
            (s, e["code"].as_str()),
            (400, Some("invalid_parameter")),
            "{bad}: {e}"
        );
    }
}

#[tokio::test]
async fn hours_and_days_filter_every_journey_endpoint_and_say_how_many_had_no_time() {
    let r = reference();
    let st = state(&r).await;
    for (filter, ids) in r["filters"].as_object().unwrap() {
        let expect: Vec<&str> = ids
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        let (s, v) = get(&st, &format!("/api/journeys?limit=100&{filter}")).await;
        assert_eq!(s, 200, "{filter}: {v}");
        let mut got: Vec<&str> = v["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap())
            .collect();
        got.sort_unstable();
        assert_eq!(got, expect, "{filter}");
        assert_eq!(v["untimed_excluded"], 1, "{filter}");
        // the same selection through the layers
        let (_, t) = get(&st, &format!("/api/trends?{filter}")).await;
        assert_eq!(
            (&t["journeys"], &t["untimed_excluded"]),
            (&json!(expect.len()), &json!(1)),
            "{filter}"
        );
        let (_, h) = get(
            &st,
            &format!("/api/hotspots?top=1&sort=journeys&measure=all&{filter}"),
        )
        .await;
        assert_eq!(h["untimed_excluded"], 1);
        let (_, c) = get(
            &st,
            &format!("/collections/journeys/items?limit=100&{filter}"),
        )
        .await;
        assert_eq!(c["numberMatched"], json!(expect.len()), "{filter}");
    }
    // without a time filter nothing is said about untimed journeys
    let (_, v) = get(&st, "/api/journeys?limit=1").await;
    assert_eq!(v["numberMatched"], 14);
    assert!(v.get("untimed_excluded").is_none());
}

#[tokio::test]
async fn a_time_window_must_be_ordered_and_at_most_a_week() {
    let st = fresh_state();
    for (w, path) in [
        (
            json!({"from": "2024-03-02T10:00:00Z", "to": "2024-03-01T10:00:00Z"}),
            "journey.time_window.to",
        ),
        (
            json!({"from": "2024-03-01T10:00:00Z", "to": "2024-03-09T10:00:01Z"}),
            "journey.time_window",
        ),
        (
            json!({"from": "2024-03-01T10:00:00Z"}),
            "journey.time_window.to",
        ),
        (
            json!({"from": "2024-03-01T10:00:00Z", "to": "2024-03-01T11:00:00Z", "at": "x"}),
            "journey.time_window.at",
        ),
    ] {
        let body = json!({"report_id": "syn-w", "reported_at": "2025-01-01T00:00:00Z", "source_force": "BTP",
            "journey": {"date": "2024-03-01", "mode": "coach", "origin": {"station": "LST"}, "destination": {"station": "NRW"}, "time_window": w}});
        let res = warp::test::request()
            .method("POST")
            .path("/api/journeys")
            .header("content-type", "application/json")
            .body(body.to_string())
            .reply(&routes(st.clone()))
            .await;
        let e: Value = serde_json::from_slice(res.body()).unwrap();
        assert_eq!(res.status(), 422, "{e}");
        assert!(
            e["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["path"] == path),
            "{path}: {e}"
        );
    }
}

#[tokio::test]
async fn the_ogc_items_and_every_export_say_how_many_journeys_had_no_time() {
    // clock.json's 14 journeys hold one with no time (syn-c-14), so every hours/days filter
    // leaves out exactly 1 journey for having none; the caller here sees every journey (no
    // disclosure control), so the count is the exact 1 in every answer.
    let r = reference();
    let st = state(&r).await;
    let call = |path: String| {
        let st = st.clone();
        async move {
            let res = warp::test::request().path(&path).reply(&routes(st)).await;
            assert_eq!(res.status(), 200, "{path}");
            let header = res
                .headers()
                .get("x-untimed-excluded")
                .map(|v| v.to_str().unwrap().to_string());
            let body = String::from_utf8_lossy(res.body()).into_owned();
            (header, body)
        }
    };
    for filter in ["hours=22-02", "days=sat,sun", "hours=0-23"] {
        for c in ["journeys", "hotspots", "flows", "stations"] {
            let (_, b) = call(format!("/collections/{c}/items?limit=5000&{filter}")).await;
            let v: Value = serde_json::from_str(&b).unwrap();
            assert_eq!(v["untimed_excluded"], 1, "{c} {filter}");
        }
        for (collection, format) in [
            ("journeys", "geojson"),
            ("hotspots", "geojson"),
            ("flows", "geojson"),
            ("forces", "geojson"),
        ] {
            let (h, b) = call(format!(
                "/api/export?collection={collection}&format={format}&{filter}"
            ))
            .await;
            assert_eq!(h.as_deref(), Some("1"), "{collection} {filter}");
            let v: Value = serde_json::from_str(&b).unwrap();
            assert_eq!(v["untimed_excluded"], 1, "{collection} {filter}");
        }
        for collection in ["journeys", "hotspots", "flows", "rail", "trends"] {
            let (h, b) = call(format!(
                "/api/export?collection={collection}&format=csv&{filter}"
            ))
            .await;
            assert_eq!(h.as_deref(), Some("1"), "{collection} csv {filter}");
            // a CSV has no place for it: the table is unchanged
            assert!(!b.contains("untimed"), "{collection} csv {filter}");
        }
    }
    // without a time filter nothing is said
    for p in [
        "/collections/hotspots/items?limit=5",
        "/api/export?collection=journeys&format=geojson",
        "/api/export?collection=hotspots&format=csv",
    ] {
        let (h, b) = call(p.to_string()).await;
        assert_eq!(h, None, "{p}");
        assert!(!b.contains("untimed_excluded"), "{p}");
    }
}
