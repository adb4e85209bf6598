//! Hotspots, flows, trends, track usage and exports over a handful of hand-written reports,
//! against counts worked out by hand (each expected number is derived in a comment).

use super::common::{data_dir, fresh_state, gb, station};
use linesmap::http::{AppState, routes};
use serde_json::{Value, json};
use std::sync::Arc;

const MET: &str = "E23000001";
const CITY: &str = "E23000034"; // City of London: Liverpool Street is inside it
const NORFOLK: &str = "E23000024";
const MERSEYSIDE: &str = "E23000004";
const NORTH_WALES: &str = "W15000001";

fn person(id: &str, age: &str, role: &str, nrm: bool) -> Value {
    json!({"person_id": id, "age_band": age, "roles": [role], "nrm_referred": nrm})
}

fn report(
    id: &str,
    date: &str,
    mode: &str,
    from: &str,
    to: &str,
    line: &str,
    persons: Vec<Value>,
) -> Value {
    json!({
        "report_id": id,
        "reported_at": format!("{date}T23:00:00Z"),
        "source_force": "BTP",
        "journey": {"date": date, "mode": mode, "origin": {"station": from}, "destination": {"station": to}},
        "line": {"line_id": line, "name": "SYN-TEST"},
        "persons": persons,
    })
}

/// The five journeys every test here reads:
/// - J1 2024-03-04 (Mon) rail LST → NRW, line L1: a 15-17 runner (NRM) and an 18-24 runner;
/// - J2 2024-03-06 rail LST → NRW, line L1: a 13-14 runner;
/// - J3 2024-03-12 rail LIV → BNG, line L2: a 25-34 line holder;
/// - J4 2024-04-02 coach LST → NRW, line L1: J1's 18-24 runner again (the same person key);
/// - J5 2024-04-15 rail NRW → LST, line L1: a 15-17 runner (NRM).
async fn state() -> Arc<AppState> {
    let st = fresh_state();
    let batch = json!([
        report(
            "syn-l-1",
            "2024-03-04",
            "rail",
            "LST",
            "NRW",
            "syn-L1",
            vec![
                person("syn-a", "15-17", "runner", true),
                person("syn-b", "18-24", "runner", false)
            ]
        ),
        report(
            "syn-l-2",
            "2024-03-06",
            "rail",
            "LST",
            "NRW",
            "syn-L1",
            vec![person("syn-c", "13-14", "runner", false)]
        ),
        report(
            "syn-l-3",
            "2024-03-12",
            "rail",
            "LIV",
            "BNG",
            "syn-L2",
            vec![person("syn-d", "25-34", "line_holder", false)]
        ),
        report(
            "syn-l-4",
            "2024-04-02",
            "coach",
            "LST",
            "NRW",
            "syn-L1",
            vec![person("syn-b", "18-24", "runner", false)]
        ),
        report(
            "syn-l-5",
            "2024-04-15",
            "rail",
            "NRW",
            "LST",
            "syn-L1",
            vec![person("syn-f", "15-17", "runner", true)]
        ),
    ]);
    let r = warp::test::request()
        .method("POST")
        .path("/api/journeys")
        .header("content-type", "application/json")
        .body(batch.to_string())
        .reply(&routes(st.clone()))
        .await;
    assert_eq!(r.status(), 201, "{}", String::from_utf8_lossy(r.body()));
    st
}

async fn get_raw(st: &Arc<AppState>, path: &str) -> warp::http::Response<warp::hyper::body::Bytes> {
    warp::test::request()
        .path(path)
        .reply(&routes(st.clone()))
        .await
}

async fn get(st: &Arc<AppState>, path: &str) -> (u16, Value) {
    let r = get_raw(st, path).await;
    (
        r.status().as_u16(),
        serde_json::from_slice(r.body()).unwrap_or(Value::Null),
    )
}

fn row<'a>(rows: &'a Value, o: &str, d: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["origin_force"] == o && r["destination_force"] == d)
        .unwrap_or_else(|| panic!("no row {o} -> {d} in {rows}"))
}

#[tokio::test]
async fn flows_count_journeys_persons_children_and_rail_per_force_pair() {
    let st = state().await;
    let (s, v) = get(&st, "/api/flows?format=matrix").await;
    assert_eq!(s, 200, "{v}");
    let rows = &v["rows"];
    // City → Norfolk: J1, J2 (rail) and J4 (coach): 3 journeys, 2 + 1 + 1 persons, children
    // 1 (15-17) + 1 (13-14), by rail 2; distinct persons 3 (syn-b is on J1 and J4), of them
    // children 2 (syn-a, syn-c)
    let c = row(rows, CITY, NORFOLK);
    assert_eq!(
        (&c["distinct_persons"], &c["distinct_children"]),
        (&json!(3), &json!(2))
    );
    assert_eq!(
        (
            &c["journeys"],
            &c["persons"],
            &c["children"],
            &c["rail_journeys"]
        ),
        (&json!(3), &json!(4), &json!(2), &json!(2))
    );
    // Norfolk → City: J5 only
    let c = row(rows, NORFOLK, CITY);
    assert_eq!(
        (
            &c["journeys"],
            &c["persons"],
            &c["children"],
            &c["rail_journeys"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(1))
    );
    // Merseyside → North Wales: J3, one adult by rail
    let c = row(rows, MERSEYSIDE, NORTH_WALES);
    assert_eq!(
        (
            &c["journeys"],
            &c["persons"],
            &c["children"],
            &c["rail_journeys"]
        ),
        (&json!(1), &json!(1), &json!(0), &json!(1))
    );
    assert_eq!(rows.as_array().unwrap().len(), 3);
    // largest first
    assert_eq!(rows[0]["origin_force"], CITY);

    // filters: children 13-14 only keeps J2; rail only drops J4; a date range keeps March
    let (_, v) = get(&st, "/api/flows?format=matrix&age_band=13-14").await;
    assert_eq!(v["rows"].as_array().unwrap().len(), 1);
    assert_eq!(v["rows"][0]["journeys"], 1);
    assert_eq!(v["rows"][0]["persons"], 1);
    let (_, v) = get(&st, "/api/flows?format=matrix&mode=rail").await;
    assert_eq!(row(&v["rows"], CITY, NORFOLK)["journeys"], 2);
    let (_, v) = get(
        &st,
        "/api/flows?format=matrix&from=2024-03-01&to=2024-03-31",
    )
    .await;
    assert_eq!(row(&v["rows"], CITY, NORFOLK)["journeys"], 2);
    assert_eq!(v["rows"].as_array().unwrap().len(), 2);
    let (_, v) = get(&st, "/api/flows?format=matrix&role=line_holder").await;
    assert_eq!(v["rows"].as_array().unwrap().len(), 1);
    assert_eq!(v["rows"][0]["origin_force"], MERSEYSIDE);

    // the GeoJSON: one line per pair, between points inside the two areas
    let (s, v) = get(&st, "/api/flows").await;
    assert_eq!(s, 200);
    assert_eq!(v["features"].as_array().unwrap().len(), 3);
    let g = gb();
    for f in v["features"].as_array().unwrap() {
        let c = f["geometry"]["coordinates"].as_array().unwrap();
        for (end, key) in [(&c[0], "origin_force"), (&c[1], "destination_force")] {
            let p = [end[0].as_f64().unwrap(), end[1].as_f64().unwrap()];
            let hit = g.forces.locate(p).expect("inside a force");
            assert_eq!(g.forces.get(hit.force).code.as_str(), f["properties"][key]);
        }
    }

    // CSV: header and the same numbers
    let r = get_raw(&st, "/api/flows?format=matrix&f=csv").await;
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let text = String::from_utf8(r.body().to_vec()).unwrap();
    let mut lines = text.lines();
    assert!(
        lines.next().unwrap().starts_with(
            "origin_force,destination_force,origin_name,destination_name,journeys,lines,return_runs,internal_lines,external_lines,rail_journeys,btp_reported,btp_joint,persons,children,distinct_persons,distinct_children,"
        ),
        "{text}"
    );
    // journeys 3, one line (L1), no return run, no line type, 2 by rail, all three BTP's
    assert!(
        text.contains(&format!(
            "{CITY},{NORFOLK},\"London, City of\",Norfolk,3,1,0,0,0,2,3,0,4,2,3,2,"
        )),
        "{text}"
    );
    // a bad format is a 400 naming it
    let (s, v) = get(&st, "/api/flows?format=pivot").await;
    assert_eq!((s, v["code"].as_str()), (400, Some("invalid_parameter")));
    let (s, _) = get(&st, &format!("/api/flows?format=matrix&origin_force={MET}")).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn trends_bucket_by_month_and_iso_week() {
    let st = state().await;
    let (s, v) = get(&st, "/api/trends?interval=month").await;
    assert_eq!(s, 200, "{v}");
    // the counts below; the seizure and grading totals (all 0 here) are tested in flows.rs
    let b: Vec<Value> = v["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let mut b = b.clone();
            let o = b.as_object_mut().unwrap();
            for k in linesmap::journey::carried::Totals::COLUMNS {
                o.remove(*k);
            }
            b
        })
        .collect();
    assert_eq!(b.len(), 2);
    // March: J1, J2, J3 — persons 2 + 1 + 1, children 2, three cross-border, three by rail,
    // lines L1 and L2, one NRM referral (J1's 15-17); four distinct people, two of them children
    assert_eq!(
        b[0],
        json!({"period_start": "2024-03-01", "period_end": "2024-03-31", "journeys": 3,
               "persons": 4, "children": 2, "cross_border": 3, "rail": 3, "lines": 2,
               "nrm_referrals": 1, "safeguarding_referrals": 0,
               "distinct_persons": 4, "distinct_children": 2})
    );
    // April: J4 (coach) and J5 — one line (L1), one child, one NRM referral; syn-b (seen in
    // March too) and syn-f: two distinct people, one child
    assert_eq!(
        b[1],
        json!({"period_start": "2024-04-01", "period_end": "2024-04-30", "journeys": 2,
               "persons": 2, "children": 1, "cross_border": 2, "rail": 1, "lines": 1,
               "nrm_referrals": 1, "safeguarding_referrals": 0,
               "distinct_persons": 2, "distinct_children": 1})
    );
    // over both months syn-b counts once: 5 distinct people of 6 person-journeys
    let (_, all) = get(
        &st,
        "/api/trends?interval=month&from=2024-03-01&to=2024-04-30",
    )
    .await;
    let sum: u64 = all["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["distinct_persons"].as_u64().unwrap())
        .sum();
    assert_eq!(
        sum, 6,
        "distinct counts per bucket are not additive over the period"
    );
    // while over the period there are 5 (syn-a, -b, -c, -d, -f) in 6 encounters
    let (_, t) = get(&st, "/api/treatment?from=2024-03-01&to=2024-04-30").await;
    assert_eq!(
        (&t["national"]["persons"], &t["national"]["encounters"]),
        (&json!(5), &json!(6))
    );
    let (_, hs) = get(&st, "/api/hotspots?top=10000&sort=journeys").await;
    let nrw = hs["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "NRW")
        .unwrap();
    // Norwich: J1, J2, J4 end there, J5 starts there: syn-a, syn-b (twice), syn-c, syn-f
    assert_eq!(
        (
            &nrw["properties"]["persons"],
            &nrw["properties"]["distinct_persons"],
            &nrw["properties"]["distinct_children"]
        ),
        (&json!(5), &json!(4), &json!(3))
    );
    // weeks from Friday 1 March to Wednesday 20 March: the weeks of Mondays 26 Feb, 4, 11 and
    // 18 March, empty ones included: 0, 2 (J1, J2), 1 (J3), 0
    let (_, v) = get(
        &st,
        "/api/trends?interval=week&from=2024-03-01&to=2024-03-20",
    )
    .await;
    let weeks: Vec<(&str, u64)> = v["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["period_start"].as_str().unwrap(),
                b["journeys"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        weeks,
        vec![
            ("2024-02-26", 0),
            ("2024-03-04", 2),
            ("2024-03-11", 1),
            ("2024-03-18", 0)
        ]
    );
    let (s, v) = get(&st, "/api/trends?interval=day").await;
    assert_eq!((s, v["code"].as_str()), (400, Some("invalid_parameter")));
    let r = get_raw(&st, "/api/trends?f=csv").await;
    let text = String::from_utf8(r.body().to_vec()).unwrap();
    assert!(
        text.starts_with("period_start,period_end,journeys,"),
        "{text}"
    );
    assert!(
        text.contains("2024-04-01,2024-04-30,2,2,1,2,1,1,1,0"),
        "{text}"
    );
}

/// ORR entries and exits 2019-20 of a station, read straight from stations.csv.
fn footfall(crs: &str) -> f64 {
    let mut rdr = csv::Reader::from_path(data_dir().join("stations.csv")).unwrap();
    let header = rdr.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (icrs, ifoot) = (col("crs"), col("entries_exits_2019_20"));
    rdr.records()
        .map(|r| r.unwrap())
        .find(|r| &r[icrs] == crs)
        .map(|r| r[ifoot].parse().unwrap())
        .unwrap()
}

#[tokio::test]
async fn hotspots_count_starts_ends_and_passes_separately() {
    let st = state().await;
    // measure=all: every journey starting, ending or passing (the rate below is of it)
    let (s, v) = get(&st, "/api/hotspots?top=10000&sort=journeys&measure=all").await;
    assert_eq!(s, 200, "{v}");
    let f = |crs: &str| -> Value {
        v["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == crs)
            .map(|f| f["properties"].clone())
            .unwrap_or_else(|| panic!("{crs} not in hotspots"))
    };
    // Norwich: ends J1, J2, J4 (the coach ends at the station too); starts J5; 4 journeys with
    // 2 + 1 + 1 + 1 persons, children 1 + 1 + 1
    let nrw = f("NRW");
    assert_eq!(
        (
            &nrw["starts"],
            &nrw["ends"],
            &nrw["passes"],
            &nrw["journeys"],
            &nrw["persons"],
            &nrw["children"]
        ),
        (
            &json!(1),
            &json!(3),
            &json!(0),
            &json!(4),
            &json!(5),
            &json!(3)
        )
    );
    assert_eq!(nrw["force"], NORFOLK);
    // Ipswich, on the only line from Liverpool Street to Norwich: passed by the rail journeys
    // J1, J2, J5 (not the coach): 3 journeys, 2 + 1 + 1 persons, 3 children
    let ips = f("IPS");
    assert_eq!(
        (
            &ips["starts"],
            &ips["ends"],
            &ips["passes"],
            &ips["journeys"],
            &ips["persons"],
            &ips["children"]
        ),
        (
            &json!(0),
            &json!(0),
            &json!(3),
            &json!(3),
            &json!(4),
            &json!(3)
        )
    );
    let rate = 3.0 * 1e6 / footfall("IPS");
    assert!(
        (ips["rate_per_million"].as_f64().unwrap() - rate).abs() < 1e-5,
        "{ips}"
    );
    // Liverpool Lime Street: J3 starts; a station far from all of it has none
    assert_eq!(f("LIV")["starts"], 1);
    assert_eq!(f("INV")["journeys"], 0);
    // sorted by journeys: 4, 4 first (LST, NRW), then the 3s
    let top: Vec<u64> = v["features"].as_array().unwrap()[..3]
        .iter()
        .map(|f| f["properties"]["journeys"].as_u64().unwrap())
        .collect();
    assert_eq!(top, vec![4, 4, 3]);

    // Gi* of every journey (measure=all) with the normal approximation: the corridor is hot,
    // p-values are two-sided normal, FDR marks only small p
    let (_, v) = get(
        &st,
        "/api/hotspots?top=10000&measure=all&inference=analytic",
    )
    .await;
    let feats = v["features"].as_array().unwrap();
    assert_eq!(feats.len(), gb().stations.len());
    let z: Vec<f64> = feats
        .iter()
        .map(|f| f["properties"]["gi_z"].as_f64().unwrap())
        .collect();
    assert!(z.windows(2).all(|w| w[0] >= w[1]), "sorted by gi_z");
    let first = &feats[0]["properties"];
    assert!(first["gi_z"].as_f64().unwrap() > 3.0, "{first}");
    let p = first["p_value"].as_f64().unwrap();
    let zz = first["gi_z"].as_f64().unwrap();
    assert!((p - libm::erfc(zz / std::f64::consts::SQRT_2)).abs() < 1e-12);
    // Benjamini-Hochberg over all n: the k-th smallest significant p is at most k q / n
    let n = feats.len() as f64;
    let mut ps: Vec<(f64, bool)> = feats
        .iter()
        .map(|f| {
            (
                f["properties"]["p_value"].as_f64().unwrap(),
                f["properties"]["significant"].as_bool().unwrap(),
            )
        })
        .collect();
    ps.sort_by(|a, b| a.0.total_cmp(&b.0));
    let cutoff = ps
        .iter()
        .enumerate()
        .filter(|(i, (p, _))| *p <= (*i as f64 + 1.0) * 0.05 / n)
        .map(|(_, (p, _))| *p)
        .fold(f64::NEG_INFINITY, f64::max);
    for (p, sig) in &ps {
        assert_eq!(*sig, *p <= cutoff, "p {p} cutoff {cutoff}");
    }
    assert!(
        ps.iter().any(|(_, s)| *s),
        "the corridor has significant stations"
    );

    // place filters: force selects the stations listed, not the journeys counted
    let (_, v) = get(
        &st,
        &format!("/api/hotspots?force={NORFOLK}&top=10000&sort=journeys"),
    )
    .await;
    let feats = v["features"].as_array().unwrap();
    assert!(feats.iter().all(|f| f["properties"]["force"] == NORFOLK));
    assert_eq!(feats[0]["id"], "NRW");
    assert_eq!(feats[0]["properties"]["journeys"], 4);
    // top and bad input
    let (_, v) = get(&st, "/api/hotspots?top=5").await;
    assert_eq!(v["features"].as_array().unwrap().len(), 5);
    for bad in [
        "top=0",
        "sort=name",
        "age_band=12-15",
        "role=boss",
        "force=X1",
        "from=2024-13-01",
    ] {
        let (s, e) = get(&st, &format!("/api/hotspots?{bad}")).await;
        assert_eq!(
            (s, e["code"].as_str()),
            (400, Some("invalid_parameter")),
            "{bad}: {e}"
        );
    }
    let (s, _) = get(&st, "/api/hotspots?colour=red").await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn network_neighbours_agree_with_routes_along_the_track() {
    let g = gb();
    let lists = g.rail.network_neighbours(g.stations.len(), 10_000.0);
    let ips = station(g, "IPS");
    assert!(!lists[ips].is_empty());
    for &(t, d) in &lists[ips] {
        let r = g.rail.route(&[ips, t as usize]).unwrap();
        assert!(
            (r.distance_m - d).abs() < 1.0,
            "IPS to {}: {d} vs route {}",
            t,
            r.distance_m
        );
        assert!(d <= 10_000.0);
    }
    // stations within 10 km as the crow flies but not listed are farther along the track
    for near in g.stations.within_m(g.stations.get(ips).pos(), 10_000.0) {
        let t = near.station;
        if t == ips || lists[ips].iter().any(|&(x, _)| x as usize == t) {
            continue;
        }
        if let Ok(r) = g.rail.route(&[ips, t]) {
            assert!(r.distance_m > 10_000.0 - 1.0, "{} at {} m", t, r.distance_m);
        }
    }
}

#[tokio::test]
async fn ogc_layers_serve_hotspots_flows_and_track_usage() {
    let st = state().await;
    let (s, v) = get(&st, "/collections").await;
    assert_eq!(s, 200);
    let ids: Vec<&str> = v["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![
            "stations", "forces", "rail", "journeys", "hotspots", "flows"
        ]
    );
    let (s, v) = get(&st, "/collections/flows/items?limit=100").await;
    assert_eq!((s, v["numberMatched"].as_u64()), (200, Some(3)));
    let (s, v) = get(&st, &format!("/collections/flows/items/{CITY}-{NORFOLK}")).await;
    assert_eq!((s, &v["properties"]["journeys"]), (200, &json!(3)));
    // track sections: the sections J3 runs along carry it once; the total over sections of
    // journeys is the number of (journey, section) pairs
    let (s, v) = get(
        &st,
        "/collections/rail/items?limit=10000&bbox=-3.0,53.38,-2.9,53.42",
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let used: Vec<&Value> = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["properties"]["journeys"] != 0)
        .collect();
    assert!(!used.is_empty(), "J3 leaves Liverpool along the track");
    assert!(
        used.iter()
            .all(|f| f["properties"]["journeys"] == 1 && f["properties"]["persons"] == 1)
    );
    let (s, v) = get(&st, "/collections/hotspots/items?limit=1").await;
    assert_eq!(s, 200);
    assert_eq!(
        v["numberMatched"].as_u64(),
        Some(gb().stations.len() as u64)
    );
    let (s, v) = get(&st, "/collections/hotspots/items/IPS").await;
    assert_eq!((s, &v["properties"]["passes"]), (200, &json!(3)));
    let (s, v) = get(&st, "/collections/stations/items/NRW").await;
    assert_eq!((s, &v["properties"]["ends"]), (200, &json!(3)));
    // forces: exports by the line's exporting force (none given here: the origin's), imports
    // by the destination's; J5 is from Norfolk to the City
    let (_, v) = get(&st, &format!("/collections/forces/items/{NORFOLK}")).await;
    assert_eq!(
        (&v["properties"]["exports"], &v["properties"]["imports"]),
        (&json!(1), &json!(3))
    );
}

#[tokio::test]
async fn exports_stream_every_collection_as_an_attachment() {
    let st = state().await;
    let r = get_raw(&st, "/api/export?collection=journeys&mode=rail").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"linesmap-journeys.geojson\""
    );
    let v: Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(v["type"], "FeatureCollection");
    let ids: Vec<&str> = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["syn-l-1", "syn-l-2", "syn-l-3", "syn-l-5"]);
    assert_eq!(v["numberMatched"], 4);
    let r = get_raw(
        &st,
        "/api/export?collection=journeys&format=csv&to=2024-03-06",
    )
    .await;
    let text = String::from_utf8(r.body().to_vec()).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    // report_id, reported_at, reporting_lag_days (reported the same evening: 0), source_force,
    // date, departed_at (none), mode, stations
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .starts_with("syn-l-1,2024-03-04T23:00:00Z,0,BTP,2024-03-04,,rail,LST,NRW,"),
        "{text}"
    );
    for c in ["stations", "forces", "rail", "hotspots", "flows"] {
        let r = get_raw(&st, &format!("/api/export?collection={c}")).await;
        assert_eq!(r.status(), 200, "{c}");
        let v: Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(v["type"], "FeatureCollection", "{c}");
        let r = get_raw(&st, &format!("/api/export?collection={c}&format=csv")).await;
        assert_eq!(r.status(), 200, "{c}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
    }
    // forces as a table: no geometry, one row per force; Norfolk imports J1, J2, J4 and exports J5
    let r = get_raw(&st, "/api/export?collection=forces&format=csv").await;
    let text = String::from_utf8(r.body().to_vec()).unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let header = rows.headers().unwrap().clone();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let recs: Vec<csv::StringRecord> = rows.records().map(|r| r.unwrap()).collect();
    assert_eq!(recs.len(), gb().forces.forces().len());
    let nfk = recs.iter().find(|r| &r[col("code")] == NORFOLK).unwrap();
    assert_eq!(
        (&nfk[col("exports")], &nfk[col("imports")], &nfk[col("net")]),
        ("1", "3", "-2")
    );
    let r = get_raw(&st, "/api/export?collection=trends&format=csv").await;
    assert!(String::from_utf8_lossy(r.body()).contains("2024-03-01,2024-03-31,3,4,2,3,3,2,1,0"));
    let (s, e) = get(&st, "/api/export?collection=people").await;
    assert_eq!((s, e["code"].as_str()), (400, Some("invalid_parameter")));
    let (s, _) = get(&st, "/api/export").await;
    assert_eq!(s, 400);
}

/// 30,000 synthetic journeys (the parallel path of the counts): every station count, flow and
/// monthly trend against a plain recount written here from the journeys' own properties.
#[tokio::test]
async fn at_scale_the_layers_equal_a_plain_recount() {
    use linesmap::journey::generate::{GeneratorParams, generate};
    use std::collections::{HashMap, HashSet};
    let st = fresh_state();
    let g = gb();
    let reports = generate(g, &GeneratorParams::builtin(), 30_000, 7);
    let values: Vec<Result<Value, _>> = reports.into_iter().map(Ok).collect();
    let now = time::OffsetDateTime::now_utc();
    st.journeys.ingest(&values, now).unwrap();
    let idx = st.journeys.index();
    let all: Vec<_> = idx.all().iter().collect();
    assert!(all.len() > 29_000);
    let stats = linesmap::layers::station_stats(g, &all);
    // recount: per journey, the set of stations it touches
    let mut journeys = vec![0u32; g.stations.len()];
    let mut passes = vec![0u32; g.stations.len()];
    let mut children = vec![0u32; g.stations.len()];
    let mut flows: HashMap<(u16, u16), (u32, u32, u32, u32)> = HashMap::new();
    let mut months: HashMap<(i32, u8), u32> = HashMap::new();
    for j in &all {
        let mut set: HashSet<u32> = j.route.stations.iter().copied().collect();
        set.extend(j.origin.station);
        set.extend(j.destination.station);
        for &s in &set {
            journeys[s as usize] += 1;
            children[s as usize] += u32::from(j.children);
            if Some(s) != j.origin.station && Some(s) != j.destination.station {
                passes[s as usize] += 1;
            }
        }
        if let (Some(o), Some(d)) = (j.origin.force, j.destination.force) {
            let e = flows.entry((o, d)).or_default();
            e.0 += 1;
            e.1 += u32::from(j.persons);
            e.2 += u32::from(j.children);
            e.3 += u32::from(j.report.journey.mode == linesmap::journey::report::Mode::Rail);
        }
        let date = j.report.journey.date;
        *months.entry((date.year(), date.month() as u8)).or_default() += 1;
    }
    // the measures, recounted from the report fields: origin, destination, via, encounter
    let code_of = |c: &linesmap::geography::StationCode| g.stations.index_of(c).map(|i| i as u32);
    let mut per = vec![[0u32; 5]; g.stations.len()]; // stops, interchanges, encounters, on_route, boardings
    for j in &all {
        let via: HashSet<u32> = j.report.journey.via.iter().filter_map(code_of).collect();
        let enc = j
            .report
            .journey
            .encounter
            .as_ref()
            .and_then(|e| e.station.as_ref())
            .and_then(code_of);
        let mut stops: HashSet<u32> = via.clone();
        stops.extend(j.origin.station);
        stops.extend(j.destination.station);
        stops.extend(enc);
        for &s in &stops {
            per[s as usize][0] += 1;
        }
        for &s in &via {
            per[s as usize][1] += 1;
        }
        if let Some(e) = enc {
            per[e as usize][2] += 1;
        }
        let mut touched: HashSet<u32> = j.route.stations.iter().copied().collect();
        touched.extend(j.origin.station);
        touched.extend(j.destination.station);
        for s in touched.difference(&stops) {
            per[*s as usize][3] += 1;
        }
        if let Some(o) = j.origin.station {
            per[o as usize][4] += 1;
        }
    }
    let (mut any_via, mut any_enc) = (false, false);
    for i in 0..g.stations.len() {
        let s = &stats[i];
        assert_eq!(
            [s.stops, s.interchanges, s.encounters, s.on_route, s.starts],
            per[i],
            "station {}",
            g.stations.get(i).code
        );
        any_via |= s.interchanges > 0;
        any_enc |= s.encounters > 0;
    }
    assert!(
        any_via && any_enc,
        "the generator writes via and encounter stations"
    );
    // the station filter (answered from the index's per-station lists) selects exactly the
    // journeys starting, ending or passing there, in the order added
    for s in (0..g.stations.len() as u32).step_by(97) {
        let f = linesmap::journey::index::JourneyFilter {
            station: Some(s),
            ..Default::default()
        };
        let got: Vec<&str> = idx
            .matching(g, &f)
            .iter()
            .map(|j| j.report.report_id.as_str())
            .collect();
        let want: Vec<&str> = all
            .iter()
            .filter(|j| {
                j.origin.station == Some(s)
                    || j.destination.station == Some(s)
                    || j.route.stations.contains(&s)
            })
            .map(|j| j.report.report_id.as_str())
            .collect();
        assert_eq!(got, want, "station {s}");
    }
    for i in 0..g.stations.len() {
        assert_eq!(
            (stats[i].journeys, stats[i].passes, stats[i].children),
            (journeys[i], passes[i], children[i]),
            "station {}",
            g.stations.get(i).code
        );
    }
    let f = linesmap::layers::flows(&all, linesmap::layers::Direction::Travel);
    assert_eq!(f.rows.len(), flows.len());
    for r in &f.rows {
        let c = &r.counts;
        assert_eq!(
            flows[&(r.origin, r.destination)],
            (c.journeys, c.persons, c.children, c.rail_journeys)
        );
    }
    let t = linesmap::layers::trends(&all, linesmap::layers::Interval::Month, None, None);
    let total: u32 = t.iter().map(|b| b.journeys).sum();
    assert_eq!(total as usize, all.len());
    for b in &t {
        let d = linesmap::layers::date_of(b.start);
        assert_eq!(
            b.journeys,
            months
                .get(&(d.year(), d.month() as u8))
                .copied()
                .unwrap_or(0)
        );
    }
}

#[tokio::test]
async fn station_and_line_filters_select_the_journeys_touching_them() {
    let st = state().await;
    // Ipswich is passed by J1, J2 and J5 (rail), not by the coach J4 nor by J3
    let (_, v) = get(&st, "/api/trends?station=IPS").await;
    assert_eq!(v["journeys"], 3);
    // Norwich: J1, J2, J4 end there, J5 starts there
    let (_, v) = get(&st, "/api/flows?format=matrix&station=NRW").await;
    let total: u64 = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["journeys"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 4);
    // line L2 is J3 only
    let (_, v) = get(&st, "/api/journeys?line=syn-L2").await;
    assert_eq!(v["numberMatched"], 1);
    assert_eq!(v["features"][0]["id"], "syn-l-3");
    let (_, v) = get(&st, "/collections/journeys/items?line=syn-L1&station=LST").await;
    assert_eq!(v["numberMatched"], 4);
    let (s, e) = get(&st, "/api/trends?station=XQZ").await;
    assert_eq!((s, e["code"].as_str()), (400, Some("invalid_parameter")));
}

#[tokio::test]
async fn browsers_get_the_map_page_and_gis_clients_the_landing_page() {
    let dir = std::env::temp_dir().join(format!("linesmap-web-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><title>map</title>").unwrap();
    std::fs::write(dir.join("assets/app-1234.js"), "console.log(1)").unwrap();
    // a glyph range as the map's build writes it: assets/glyphs/{fontstack}/{range}.pbf
    std::fs::create_dir_all(dir.join("assets/glyphs/NotoSans-Regular")).unwrap();
    std::fs::write(
        dir.join("assets/glyphs/NotoSans-Regular/0-255.pbf"),
        [0x0a_u8, 0x00],
    )
    .unwrap();
    let store = linesmap::store::SqliteStore::in_memory().unwrap();
    let journeys =
        linesmap::ingest::Journeys::new(super::common::gb_arc().clone(), Arc::new(store));
    let st = AppState::with_web(Arc::new(journeys), Some(dir.clone()));
    let api = routes(st.clone());
    let req = |path: &str, accept: &str| {
        warp::test::request()
            .path(path)
            .header("accept", accept)
            .reply(&api)
    };
    let r = req("/", "text/html,application/xhtml+xml,*/*;q=0.8").await;
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    assert!(String::from_utf8_lossy(r.body()).contains("<title>map</title>"));
    let r = req("/", "application/json").await;
    assert_eq!(r.headers()["content-type"], "application/json");
    let r = req("/?f=json", "text/html").await;
    assert_eq!(r.headers()["content-type"], "application/json");
    // a shared link with the page's state in the query string opens the page
    let r = req("/?from=2024-01-01&age_band=15-17&line=syn-L1", "text/html").await;
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    // the JSON landing page still refuses what it does not know
    let r = req("/?colour=red", "application/json").await;
    assert_eq!(r.status(), 400);
    let r = req("/assets/app-1234.js", "*/*").await;
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["content-type"].to_str().unwrap()
        ),
        (200, "text/javascript; charset=utf-8")
    );
    let r = req("/assets/glyphs/NotoSans-Regular/0-255.pbf", "*/*").await;
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["content-type"].to_str().unwrap(),
            r.body().as_ref()
        ),
        (200, "application/x-protobuf", &[0x0a_u8, 0x00][..])
    );
    for bad in [
        "/assets/../index.html",
        "/assets/%2e%2e/index.html",
        "/assets/nope.js",
    ] {
        let r = req(bad, "*/*").await;
        assert_eq!(r.status(), 404, "{bad}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The layers' memo key of the journey filter a query string gives, as the layer endpoints
/// parse it.
fn memo_key(st: &AppState, q: &str) -> linesmap::layers::key::FilterKey {
    let p = linesmap::http::params::Params::parse(q, linesmap::http::journeys::JOURNEY_FILTERS)
        .expect("the parameters parse");
    let f = linesmap::http::journeys::filter_from(&p, st).expect("the filter parses");
    linesmap::layers::key::FilterKey::of(&f)
}

#[test]
fn a_filter_spelt_in_another_order_shares_its_memo_key_and_one_changed_parameter_does_not() {
    let st = fresh_state();
    // the same journeys: parameters in another order, list values in another order (and one
    // repeated), the box's 0 written as -0.0
    let a = "mode=rail,car&age_band=15-17,13-14&role=runner&from=2024-01-01&bbox=-0.0,51,0.5,52&hours=22-2";
    let b = "hours=22-2&bbox=0,51,0.5,52&role=runner&from=2024-01-01&age_band=13-14,15-17,13-14&mode=car,rail";
    assert_eq!(memo_key(&st, a), memo_key(&st, b));
    // each journey filter changed alone (or added alone) is another key, and no two of them share one
    let changed = [
        "mode=rail&age_band=15-17,13-14&role=runner&from=2024-01-01&bbox=-0.0,51,0.5,52&hours=22-2",
        "mode=rail,car&age_band=15-17&role=runner&from=2024-01-01&bbox=-0.0,51,0.5,52&hours=22-2",
        "mode=rail,car&age_band=15-17,13-14&role=customer&from=2024-01-01&bbox=-0.0,51,0.5,52&hours=22-2",
        "mode=rail,car&age_band=15-17,13-14&role=runner&from=2024-01-02&bbox=-0.0,51,0.5,52&hours=22-2",
        "mode=rail,car&age_band=15-17,13-14&role=runner&from=2024-01-01&bbox=-0.0,51,0.5,52.0001&hours=22-2",
        "mode=rail,car&age_band=15-17,13-14&role=runner&from=2024-01-01&bbox=-0.0,51,0.5,52&hours=22-3",
        &format!("{a}&to=2024-12-31"),
        &format!("{a}&force=E23000001"),
        &format!("{a}&cross_border=true"),
        &format!("{a}&exporting_force=E23000001"),
        &format!("{a}&importing_force=E23000001"),
        &format!("{a}&line=SYN-LINE-1"),
        &format!("{a}&station=EUS"),
        &format!("{a}&days=mon"),
    ];
    let mut keys = std::collections::HashSet::new();
    keys.insert(memo_key(&st, a));
    for q in changed {
        assert!(keys.insert(memo_key(&st, q)), "{q} shares a key");
    }
    assert_eq!(keys.len(), 15);
}
