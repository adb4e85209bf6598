//! Station hotspots a BTP planner can deploy on (issue 16): what is counted (`measure`), the
//! permutation test against PySAL's esda, `significant=hot|cold|any`, and rates only above a
//! footfall floor. Expected counts are derived by hand in comments; Gi* z and p_sim come from
//! esda through tests/independent/hotspots_esda.py (its output committed beside it).

use super::common::{data_dir, fresh_state};
use linesmap::http::{AppState, routes};
use linesmap::layers::hotspots::{Neighbourhoods, benjamini_hochberg, gi_star, permutation_p};
use serde_json::{Value, json};
use std::sync::Arc;

async fn post(st: &Arc<AppState>, batch: &Value) {
    let r = warp::test::request()
        .method("POST")
        .path("/api/journeys")
        .header("content-type", "application/json")
        .body(batch.to_string())
        .reply(&routes(st.clone()))
        .await;
    assert_eq!(r.status(), 201, "{}", String::from_utf8_lossy(r.body()));
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

fn journey(id: &str, mode: &str, from: &str, to: &str, extra: Value) -> Value {
    let mut j = json!({"date": "2024-03-06", "mode": mode, "origin": {"station": from}, "destination": {"station": to}});
    if let (Some(j), Value::Object(e)) = (j.as_object_mut(), extra) {
        j.extend(e);
    }
    json!({
        "report_id": id,
        "reported_at": "2024-03-07T10:00:00Z",
        "source_force": "BTP",
        "journey": j,
        "persons": [{"person_id": format!("syn-p-{id}"), "age_band": "15-17", "roles": ["runner"]}],
    })
}

/// Four journeys on the Great Eastern main line (Liverpool Street, Colchester, Ipswich, Diss,
/// Norwich, in that order along the track):
/// - K1 rail LST → NRW via IPS, encounter at COL;
/// - K2 rail LST → NRW, encounter at IPS;
/// - K3 rail NRW → LST;
/// - K4 coach LST → NRW, encounter at DIS (a coach passes no station: its route touches LST
///   and NRW only).
async fn corridor() -> Arc<AppState> {
    let st = fresh_state();
    post(
        &st,
        &json!([
            journey(
                "syn-m-1",
                "rail",
                "LST",
                "NRW",
                json!({"via": ["IPS"], "encounter": {"station": "COL", "type": "stop_search"}})
            ),
            journey(
                "syn-m-2",
                "rail",
                "LST",
                "NRW",
                json!({"encounter": {"station": "IPS", "type": "stop_search"}})
            ),
            journey("syn-m-3", "rail", "NRW", "LST", json!({})),
            journey(
                "syn-m-4",
                "coach",
                "LST",
                "NRW",
                json!({"encounter": {"station": "DIS", "type": "welfare_check"}})
            ),
        ]),
    )
    .await;
    st
}

fn props<'a>(v: &'a Value, crs: &str) -> &'a Value {
    &v["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == crs)
        .unwrap_or_else(|| panic!("no {crs}"))["properties"]
}

#[tokio::test]
async fn each_measure_counts_what_a_journey_did_at_the_station() {
    let st = corridor().await;
    let (s, v) = get(&st, "/api/hotspots?top=10000").await;
    assert_eq!(s, 200, "{v}");
    let row = |crs: &str| {
        let p = props(&v, crs);
        [
            "boardings",
            "alightings",
            "interchanges",
            "encounters",
            "stops",
            "on_route",
            "journeys",
        ]
        .map(|k| p[k].as_u64().unwrap_or_else(|| panic!("{crs} {k}: {p}")))
    };
    // by hand, [boardings, alightings, interchanges, encounters, stops, on_route, all]:
    // LST: K1, K2, K4 board, K3 alights: stops 4, on_route 0, all 4
    assert_eq!(row("LST"), [3, 1, 0, 0, 4, 0, 4]);
    // NRW: the mirror image
    assert_eq!(row("NRW"), [1, 3, 0, 0, 4, 0, 4]);
    // IPS: K1 changes there (via), K2 met there: 2 stops; K3 passes: on_route 1; all three
    // rail journeys touch it
    assert_eq!(row("IPS"), [0, 0, 1, 1, 2, 1, 3]);
    // COL: K1 met there (stop 1); K2 and K3 pass (on_route 2); all 3
    assert_eq!(row("COL"), [0, 0, 0, 1, 1, 2, 3]);
    // DIS: the coach K4 met there, off its route: encounters and stops 1, not in `all`;
    // the three rail journeys pass: on_route 3, all 3
    assert_eq!(row("DIS"), [0, 0, 0, 1, 1, 3, 3]);
    assert_eq!(props(&v, "LST")["measure"], "stops");

    // Gi* is computed on the chosen measure: recomputing it from the answer's own column of
    // that measure over every station gives the same z
    let g = super::common::gb();
    let nb = Neighbourhoods::build(g);
    for m in ["stops", "on_route", "encounters", "all"] {
        let (_, v) = get(
            &st,
            &format!("/api/hotspots?top=10000&measure={m}&inference=analytic"),
        )
        .await;
        let field = if m == "all" { "journeys" } else { m };
        let mut x = vec![0.0; g.stations.len()];
        let mut z = vec![0.0; g.stations.len()];
        for f in v["features"].as_array().unwrap() {
            let code = linesmap::geography::StationCode::parse(f["id"].as_str().unwrap()).unwrap();
            let i = g.stations.index_of(&code).unwrap();
            x[i] = f["properties"][field].as_f64().unwrap();
            z[i] = f["properties"]["gi_z"].as_f64().unwrap();
            assert_eq!(f["properties"]["measure"], m);
        }
        let expect = gi_star(&x, &nb);
        for i in 0..x.len() {
            assert!((z[i] - expect[i]).abs() < 1e-5, "{m}: station {i}");
        }
    }
    // on_route ranks a pass-through station first (passed by the 3 rail journeys, no stop:
    // Bethnal Green first of those by CRS), stops an end
    let (_, v) = get(&st, "/api/hotspots?top=1&measure=on_route&sort=on_route").await;
    let p = &v["features"][0]["properties"];
    assert_eq!(
        (&p["crs"], &p["on_route"], &p["stops"]),
        (&json!("BET"), &json!(3), &json!(0))
    );
    let (_, v) = get(&st, "/api/hotspots?top=2&sort=stops").await;
    let top: Vec<&str> = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(top, ["LST", "NRW"], "4 stops each; ties by CRS");
}

#[tokio::test]
async fn gi_star_and_permutation_p_values_agree_with_esda_on_the_same_weights() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/independent/hotspots_esda.json");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let lists: Vec<Vec<u32>> = r["neighbours"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            l.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u32)
                .collect()
        })
        .collect();
    let nb = Neighbourhoods::from_lists(lists);
    let y: Vec<f64> = r["y"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let esda_z: Vec<f64> = r["z"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let esda_p: Vec<f64> = r["p_sim"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    // the analytic z: equal
    let z = gi_star(&y, &nb);
    for i in 0..y.len() {
        assert!(
            (z[i] - esda_z[i]).abs() < 1e-9,
            "z[{i}] {} vs esda {}",
            z[i],
            esda_z[i]
        );
    }
    // p_sim: both are (folded count + 1) / (P + 1) from P = 9,999 draws of another generator;
    // each folded count is binomial around P q_i, so the two differ by about
    // sqrt(2 q (1 - q) / P): allow 5 of those plus one step (esda stores p_sim as float32)
    let p = r["permutations"].as_u64().unwrap() as usize;
    let ours = permutation_p(&y, &nb, p, 1);
    let mut worst: f64 = 0.0;
    for i in 0..y.len() {
        let q = (ours[i] + esda_p[i]) / 2.0;
        let sd = (2.0 * q * (1.0 - q) / p as f64).sqrt();
        let d = (ours[i] - esda_p[i]).abs();
        assert!(
            d <= 5.0 * sd + 2.0 / p as f64,
            "p_sim[{i}] {} vs esda {} (y {})",
            ours[i],
            esda_p[i],
            y[i]
        );
        worst = worst.max(d / (sd + 1e-12));
    }
    // where the convention decides, both are exactly at the floor 1 / (P + 1): a cell whose
    // neighbours are all 0 has every draw >= it (ties count as larger) and none below
    let floor = 1.0 / (p as f64 + 1.0);
    let mut zero_neighbourhoods = 0;
    for i in 0..y.len() {
        if nb.neighbours[i].iter().all(|&j| y[j as usize] == 0.0) {
            zero_neighbourhoods += 1;
            assert!((ours[i] - floor).abs() < 1e-12, "cell {i}: {}", ours[i]);
            assert!(
                (esda_p[i] - floor).abs() < 1e-7,
                "cell {i}: esda {}",
                esda_p[i]
            );
        }
    }
    assert!(zero_neighbourhoods > 50, "{zero_neighbourhoods}");
    assert!(worst > 0.0, "the two are from different draws");
}

#[test]
fn the_permutation_test_follows_the_draw_probability_worked_by_hand() {
    // a path 0 - 1 - 2 - 3 with x = [0, 4, 0, 0]. Station 0 holds its own 0 and has one
    // neighbour (observed 4); its one draw comes from the other three {4, 0, 0}: at least 4
    // with probability 1/3, so larger ~ P/3 and, folded, p_sim ~ 1/3.
    let nb = Neighbourhoods::from_lists(vec![vec![1], vec![0, 2], vec![1, 3], vec![2]]);
    let x = [0.0, 4.0, 0.0, 0.0];
    let p = permutation_p(&x, &nb, 9_999, 3);
    // binomial sd of the proportion: sqrt(1/3 * 2/3 / 9999) = 0.0047
    assert!((p[0] - 1.0 / 3.0).abs() < 5.0 * 0.0047, "{p:?}");
    // station 3: neighbour 2 (observed 0), draws from {0, 4, 0}: >= 0 always: larger = P,
    // folded to 0: p_sim = 1 / (P + 1), as esda (ties count as larger)
    assert_eq!(p[3], 1.0 / 10_000.0);
    // same seed, same answer; another seed, other draws
    assert_eq!(permutation_p(&x, &nb, 9_999, 3), p);
    assert_ne!(permutation_p(&x, &nb, 9_999, 4)[0], p[0]);
    // a station with no neighbours cannot be randomised: p_sim 1
    let island = Neighbourhoods::from_lists(vec![vec![1], vec![0], vec![]]);
    assert_eq!(permutation_p(&[1.0, 2.0, 5.0], &island, 99, 1)[2], 1.0);
}

#[tokio::test]
async fn permutation_inference_is_the_default_reproducible_and_corrected_by_fdr() {
    let st = corridor().await;
    let (_, a) = get(&st, "/api/hotspots?top=10000&seed=5").await;
    let (_, b) = get(&st, "/api/hotspots?top=10000&seed=5").await;
    assert_eq!(a, b, "same seed, same answer");
    assert_eq!(a["statistic"]["inference"]["method"], "permutation");
    assert_eq!(a["statistic"]["inference"]["permutations"], 999);
    let feats = a["features"].as_array().unwrap();
    let p: Vec<f64> = feats
        .iter()
        .map(|f| f["properties"]["p_sim"].as_f64().unwrap())
        .collect();
    // every p_sim is (k + 1) / 1000 with k at most 499 (folded), but 1 for a station with
    // no neighbour within 10 km along the track (nothing to randomise)
    let g = super::common::gb();
    let nb = Neighbourhoods::build(g);
    for (f, &v) in feats.iter().zip(&p) {
        let code = linesmap::geography::StationCode::parse(f["id"].as_str().unwrap()).unwrap();
        if nb.neighbours[g.stations.index_of(&code).unwrap()].is_empty() {
            assert_eq!(v, 1.0);
            continue;
        }
        let k = v * 1000.0 - 1.0;
        assert!((k - k.round()).abs() < 1e-9 && k.round() <= 499.0, "{v}");
    }
    // significant is Benjamini-Hochberg at 0.05 on p_sim, recomputed here
    let sig = benjamini_hochberg(&p, 0.05);
    for (f, s) in feats.iter().zip(sig) {
        assert_eq!(f["properties"]["significant"], s);
        let z = f["properties"]["gi_z"].as_f64().unwrap();
        let spot = match (s, z) {
            (true, z) if z > 0.0 => json!("hot"),
            (true, z) if z < 0.0 => json!("cold"),
            _ => Value::Null,
        };
        assert_eq!(f["properties"]["spot"], spot);
    }
    let (_, c) = get(&st, "/api/hotspots?top=10000&seed=6").await;
    assert_ne!(a["features"], c["features"], "another seed, other draws");
    // analytic: no p_sim, significance on the normal p-value
    let (_, v) = get(&st, "/api/hotspots?top=3&inference=analytic").await;
    assert_eq!(v["features"][0]["properties"]["p_sim"], Value::Null);
    assert_eq!(v["statistic"]["inference"]["method"], "analytic");
}

#[tokio::test]
async fn significant_hot_cold_and_any_select_the_kind_of_spot() {
    let st = corridor().await;
    let count = |v: &Value| v["numberMatched"].as_u64().unwrap();
    let (_, all) = get(&st, "/api/hotspots?top=10000&measure=all").await;
    let kinds = |k: &str| {
        all["features"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["properties"]["spot"] == k)
            .count() as u64
    };
    let (_, hot) = get(&st, "/api/hotspots?top=10000&measure=all&significant=hot").await;
    let (_, cold) = get(&st, "/api/hotspots?top=10000&measure=all&significant=cold").await;
    let (_, any) = get(&st, "/api/hotspots?top=10000&measure=all&significant=any").await;
    assert_eq!(count(&hot), kinds("hot"));
    assert_eq!(count(&cold), kinds("cold"));
    assert_eq!(count(&any), kinds("hot") + kinds("cold"));
    assert!(count(&hot) > 0, "the corridor is hot");
    for f in hot["features"].as_array().unwrap() {
        assert!(f["properties"]["gi_z"].as_f64().unwrap() > 0.0);
        assert_eq!(f["properties"]["significant"], true);
    }
    for f in cold["features"].as_array().unwrap() {
        assert!(f["properties"]["gi_z"].as_f64().unwrap() < 0.0);
    }
    // the OGC collection and the export take the same parameter
    let (s, v) = get(
        &st,
        "/collections/hotspots/items?limit=10000&measure=all&significant=hot",
    )
    .await;
    assert_eq!((s, count(&v)), (200, count(&hot)));
    for bad in [
        "significant=true",
        "significant=yes",
        "measure=passes",
        "measure=all,stops",
        "inference=bayes",
        "permutations=98",
        "permutations=10000",
        "seed=-1",
        "inference=analytic&seed=1",
        "sort=all",
    ] {
        let (s, e) = get(&st, &format!("/api/hotspots?{bad}")).await;
        assert_eq!(
            (s, e["code"].as_str()),
            (400, Some("invalid_parameter")),
            "{bad}: {e}"
        );
        let (s, _) = get(&st, &format!("/collections/hotspots/items?{bad}")).await;
        assert_eq!(s, 400, "{bad}");
    }
    let (s, e) = get(&st, "/api/export?collection=flows&measure=stops").await;
    assert_eq!(
        (s, e["code"].as_str()),
        (400, Some("invalid_parameter")),
        "{e}"
    );
}

/// ORR entries and exits 2019-20 per CRS, read straight from stations.csv.
fn footfall() -> std::collections::HashMap<String, Option<u64>> {
    let mut r = csv::Reader::from_path(data_dir().join("stations.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    let (c, f) = (
        h.iter().position(|x| x == "crs").unwrap(),
        h.iter().position(|x| x == "entries_exits_2019_20").unwrap(),
    );
    r.records()
        .map(|row| {
            let row = row.unwrap();
            (row[c].to_string(), row[f].trim().parse().ok())
        })
        .collect()
}

#[tokio::test]
async fn rates_are_given_only_above_the_footfall_floor_and_flagged_below_it() {
    let ff = footfall();
    // the quietest station with any footfall, and Norwich
    let (halt, n) = ff
        .iter()
        .filter_map(|(c, n)| n.filter(|&n| n > 0).map(|n| (c.clone(), n)))
        .min_by_key(|(c, n)| (*n, c.clone()))
        .unwrap();
    assert!(n < 10_000, "{halt} {n}");
    let st = fresh_state();
    post(
        &st,
        &json!([
            journey("syn-r-1", "coach", &halt, "NRW", json!({})),
            journey("syn-r-2", "coach", &halt, "NRW", json!({})),
        ]),
    )
    .await;
    let (_, v) = get(
        &st,
        "/api/hotspots?top=10000&sort=rate_per_million&inference=analytic",
    )
    .await;
    let h = props(&v, &halt);
    assert_eq!(
        (&h["stops"], &h["rate_per_million"], &h["low_footfall"]),
        (&json!(2), &Value::Null, &json!(true))
    );
    // Norwich: 2 stops per million of its footfall
    let nrw = props(&v, "NRW");
    let expect = 2.0 * 1e6 / ff["NRW"].unwrap() as f64;
    assert!(
        (nrw["rate_per_million"].as_f64().unwrap() - expect).abs() < 1e-6,
        "{nrw}"
    );
    assert_eq!(nrw["low_footfall"], false);
    // the ranking by rate starts with Norwich, not the halt
    assert_eq!(v["features"][0]["id"], "NRW");
    // the rate is of the chosen measure: no journey was alighting at the halt
    let (_, v) = get(
        &st,
        "/api/hotspots?top=10000&measure=alightings&inference=analytic",
    )
    .await;
    assert!((props(&v, "NRW")["rate_per_million"].as_f64().unwrap() - expect).abs() < 1e-6);
}

#[test]
fn mann_kendall_agrees_with_pymannkendall() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/independent/mann_kendall.json");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for c in r["cases"].as_array().unwrap() {
        let y: Vec<f64> = c["y"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let (s, var, z, p) = linesmap::layers::emerging::mann_kendall(&y);
        let close = |a: f64, b: &Value| (a - b.as_f64().unwrap()).abs() < 1e-9;
        assert!(
            close(s, &c["s"]) && close(var, &c["var_s"]),
            "{c}: s {s} var {var}"
        );
        assert!(close(z, &c["z"]) && close(p, &c["p"]), "{c}: z {z} p {p}");
    }
}

#[tokio::test]
async fn emerging_hot_spots_name_a_new_hot_spot_and_a_steady_one() {
    // Jan-Jun 2024: three rail journeys LST -> NRW every month; in June alone, 20 journeys
    // ending at Inverness (INV). With time_lag 1, INV's bins are not hot until June (its
    // window Apr-May and before hold nothing), then hot: a new hot spot.
    let st = fresh_state();
    let mut batch = Vec::new();
    for m in 1..=6 {
        for k in 0..3 {
            let mut r = journey(&format!("syn-e-{m}-{k}"), "rail", "LST", "NRW", json!({}));
            r["journey"]["date"] = json!(format!("2024-{m:02}-1{k}"));
            batch.push(r);
        }
    }
    for k in 0..20 {
        let mut r = journey(&format!("syn-e-inv-{k}"), "coach", "GLC", "INV", json!({}));
        r["journey"]["date"] = json!(format!("2024-06-{:02}", k + 1));
        batch.push(r);
    }
    post(&st, &Value::Array(batch)).await;
    let (s, v) = get(
        &st,
        "/api/hotspots/emerging?interval=month&measure=alightings",
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["periods"],
        json!([
            "2024-01-01",
            "2024-02-01",
            "2024-03-01",
            "2024-04-01",
            "2024-05-01",
            "2024-06-01"
        ])
    );
    assert_eq!(
        (&v["time_lag"], &v["measure"]),
        (&json!(1), &json!("alightings"))
    );
    let inv = props(&v, "INV");
    assert_eq!(inv["category"], "new_hot_spot", "{inv}");
    assert_eq!(inv["bins"], json!([null, null, null, null, null, "hot"]));
    assert_eq!(inv["gi_z"].as_array().unwrap().len(), 6);
    // Norwich is hot in every month
    let nrw = props(&v, "NRW");
    assert_eq!(
        nrw["bins"],
        json!(["hot", "hot", "hot", "hot", "hot", "hot"]),
        "{nrw}"
    );
    assert!(
        [
            "persistent_hot_spot",
            "intensifying_hot_spot",
            "diminishing_hot_spot"
        ]
        .contains(&nrw["category"].as_str().unwrap()),
        "{nrw}"
    );
    // the trend is Mann-Kendall of the gi_z series
    let z: Vec<f64> = nrw["gi_z"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let (_, _, tz, tp) = linesmap::layers::emerging::mann_kendall(&z);
    assert!(
        (nrw["trend_z"].as_f64().unwrap() - tz).abs() < 1e-6
            && (nrw["trend_p"].as_f64().unwrap() - tp).abs() < 1e-6
    );
    // category selects, listed stations follow force
    let (_, v) = get(
        &st,
        "/api/hotspots/emerging?interval=month&measure=alightings&category=new_hot_spot",
    )
    .await;
    assert!(
        v["features"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["properties"]["category"] == "new_hot_spot")
    );
    for bad in ["interval=day", "category=hot", "time_lag=13", "measure=x"] {
        let (s, e) = get(&st, &format!("/api/hotspots/emerging?{bad}")).await;
        assert_eq!(
            (s, e["code"].as_str()),
            (400, Some("invalid_parameter")),
            "{bad}: {e}"
        );
    }
    // significance is per bin there: no significant filter
    let (s, e) = get(&st, "/api/hotspots/emerging?significant=hot").await;
    assert_eq!(
        (s, e["code"].as_str()),
        (400, Some("unknown_parameter")),
        "{e}"
    );
}
