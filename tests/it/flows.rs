//! Issue 20: flows counted by line direction, corridors, what the reports carry (seizures,
//! grading, line type, reporting lag) and a snapped end's force; over hand-made reports (every
//! expected number worked out in a comment) and over generated reports counted by a separate
//! script (`tests/independent/line_flows.py`, its output `line_flows.json` committed).

use super::common::{fresh_state, gb, reference};
use linesmap::http::{AppState, routes};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

const MET: &str = "E23000001";
const NORFOLK: &str = "E23000024";
const MERSEYSIDE: &str = "E23000004";
const NORTH_WALES: &str = "W15000001";

fn child(id: &str) -> Value {
    json!({"person_id": id, "age_band": "15-17", "roles": ["runner"]})
}

fn adult(id: &str) -> Value {
    json!({"person_id": id, "age_band": "18-24", "roles": ["runner"]})
}

/// The seven reports of these tests (stations: Euston EUS and Liverpool Lime Street LIV are in
/// the Met and Merseyside; Norwich NRW and King's Lynn KLN in Norfolk; Ipswich IPS in Suffolk;
/// Bangor BNG in North Wales):
/// - R1 rail EUS → NRW via IPS, Met line M1 (external), reported by BTP: a child;
/// - R2 rail NRW → EUS via IPS, line M1, reported by Norfolk with a stop joint with BTP, a
///   return run: a child (13-14) and an adult; 10 wraps of heroin (class A) and a phone;
/// - R3 coach EUS → NRW, Met line M2 (external), reported by the Met: an adult;
/// - R4 rail NRW → KLN, Norfolk line N1 (internal): a child;
/// - R5 rail NRW → EUS, no line (so Norfolk exports it), reported by BTP: an adult;
/// - R6 rail LIV → BNG, Merseyside line P1 (external), BTP: a child; 40 wraps of crack and 20
///   of heroin (class A), cannabis (class B, no wraps), £1,500, 2 phones, a knife; graded 2/B/C;
/// - R7 rail BNG → LIV, line P1, reported by North Wales, a return run: a child; graded 1/A/P.
fn reports() -> Value {
    let line = |id: &str, force: &str, t: &str| json!({"line_id": id, "name": "SYN-FLOW", "exporting_force": force, "line_type": t});
    let base = |id: &str, date: &str, mode: &str, from: &str, to: &str, source: &str| {
        json!({
            "report_id": id,
            "reported_at": format!("{date}T22:00:00Z"),
            "source_force": source,
            "journey": {"date": date, "mode": mode, "origin": {"station": from}, "destination": {"station": to}},
        })
    };
    let mut r1 = base("syn-f-1", "2024-05-06", "rail", "EUS", "NRW", "BTP");
    r1["journey"]["via"] = json!(["IPS"]);
    r1["line"] = line("syn-M1", MET, "external");
    r1["persons"] = json!([child("syn-p1")]);
    let mut r2 = base("syn-f-2", "2024-05-07", "rail", "NRW", "EUS", NORFOLK);
    r2["reported_at"] = json!("2024-05-09T08:00:00Z");
    r2["journey"]["via"] = json!(["IPS"]);
    r2["journey"]["encounter"] =
        json!({"station": "NRW", "type": "stop_search", "joint_with_force": "BTP"});
    r2["line"] = line("syn-M1", MET, "external");
    r2["persons"] = json!([
        {"person_id": "syn-p2", "age_band": "13-14", "roles": ["runner"]},
        adult("syn-p3")
    ]);
    r2["seizures"] = json!({"drugs": [{"class": "A", "type": "heroin", "wraps": 10}], "phones": 1});
    let mut r3 = base("syn-f-3", "2024-05-20", "coach", "EUS", "NRW", MET);
    r3["line"] = line("syn-M2", MET, "external");
    r3["persons"] = json!([adult("syn-p4")]);
    let mut r4 = base("syn-f-4", "2024-06-03", "rail", "NRW", "KLN", NORFOLK);
    r4["line"] = line("syn-N1", NORFOLK, "internal");
    r4["persons"] = json!([child("syn-p5")]);
    let mut r5 = base("syn-f-5", "2024-06-04", "rail", "NRW", "EUS", "BTP");
    r5["persons"] = json!([{"person_id": "syn-p6", "age_band": "25-34", "roles": ["runner"]}]);
    let mut r6 = base("syn-f-6", "2024-06-05", "rail", "LIV", "BNG", "BTP");
    r6["line"] = line("syn-P1", MERSEYSIDE, "external");
    r6["persons"] = json!([child("syn-p7")]);
    r6["seizures"] = json!({
        "drugs": [
            {"class": "A", "type": "crack_cocaine", "wraps": 40, "concealment": "internal"},
            {"class": "A", "type": "heroin", "wraps": 20},
            {"class": "B", "type": "cannabis"}
        ],
        "cash_gbp": 1500, "phones": 2, "weapons": ["knife"]
    });
    r6["grading"] = json!({"source_eval": "2", "intel_assessment": "B", "handling": "C"});
    let mut r7 = base("syn-f-7", "2024-06-06", "rail", "BNG", "LIV", NORTH_WALES);
    r7["line"] = line("syn-P1", MERSEYSIDE, "external");
    r7["persons"] = json!([child("syn-p8")]);
    r7["grading"] = json!({"source_eval": "1", "intel_assessment": "A", "handling": "P"});
    json!([r1, r2, r3, r4, r5, r6, r7])
}

async fn post(st: &Arc<AppState>, body: &Value) {
    let r = warp::test::request()
        .method("POST")
        .path("/api/journeys")
        .header("content-type", "application/json")
        .body(body.to_string())
        .reply(&routes(st.clone()))
        .await;
    assert!(
        r.status() == 201,
        "{}: {}",
        r.status(),
        String::from_utf8_lossy(r.body())
    );
}

async fn state() -> Arc<AppState> {
    let st = fresh_state();
    post(&st, &reports()).await;
    st
}

async fn get_text(st: &Arc<AppState>, path: &str) -> (u16, String) {
    let r = warp::test::request()
        .path(path)
        .reply(&routes(st.clone()))
        .await;
    (
        r.status().as_u16(),
        String::from_utf8_lossy(r.body()).into_owned(),
    )
}

async fn get(st: &Arc<AppState>, path: &str) -> Value {
    let (s, b) = get_text(st, path).await;
    assert_eq!(s, 200, "{path}: {b}");
    serde_json::from_str(&b).unwrap()
}

fn row<'a>(rows: &'a Value, o: &str, d: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["origin_force"] == o && r["destination_force"] == d)
        .unwrap_or_else(|| panic!("no row {o} -> {d} in {rows}"))
}

/// The named fields of a row, as a map (to compare with an expected map in one assert).
fn pick(r: &Value, names: &[&str]) -> BTreeMap<String, Value> {
    names
        .iter()
        .map(|k| (k.to_string(), r[*k].clone()))
        .collect()
}

fn expect(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

const COUNTS: &[&str] = &[
    "journeys",
    "lines",
    "return_runs",
    "internal_lines",
    "external_lines",
    "rail_journeys",
    "btp_reported",
    "btp_joint",
    "persons",
    "children",
];

fn counts(v: [u64; 10]) -> BTreeMap<String, Value> {
    COUNTS
        .iter()
        .zip(v)
        .map(|(k, n)| (k.to_string(), json!(n)))
        .collect()
}

#[tokio::test]
async fn flows_count_lines_from_the_exporting_force_to_the_force_supplied() {
    let st = state().await;
    let v = get(&st, "/api/flows?format=matrix").await;
    assert_eq!(v["direction"], "line", "line is the default");
    let rows = &v["rows"];
    // Met → Norfolk: R1, R2 (M1 coming home, turned round) and R3: 3 journeys, lines M1 and M2
    // (both external), 1 return run (R2), by rail R1 and R2, BTP reported R1, joint R2;
    // persons 1 + 2 + 1, children R1's and R2's 13-14.
    assert_eq!(
        pick(row(rows, MET, NORFOLK), COUNTS),
        counts([3, 2, 1, 0, 2, 2, 1, 1, 4, 2])
    );
    // Norfolk → Norfolk: R4, on the diagonal, an internal line, not a return run.
    assert_eq!(
        pick(row(rows, NORFOLK, NORFOLK), COUNTS),
        counts([1, 1, 0, 1, 0, 1, 0, 0, 1, 1])
    );
    // Norfolk → Met: R5 alone (no line: the origin's force exports it), reported by BTP.
    assert_eq!(
        pick(row(rows, NORFOLK, MET), COUNTS),
        counts([1, 0, 0, 0, 0, 1, 1, 0, 1, 0])
    );
    // Merseyside → North Wales: R6 and R7 (P1 coming home), one line, R6 reported by BTP.
    assert_eq!(
        pick(row(rows, MERSEYSIDE, NORTH_WALES), COUNTS),
        counts([2, 1, 1, 0, 1, 2, 1, 0, 2, 2])
    );
    assert_eq!(rows.as_array().unwrap().len(), 4);
    assert_eq!(v["unplaced"], 0);
    // What the reports carried, on Merseyside → North Wales: R6's seizures and both gradings.
    let mw = row(rows, MERSEYSIDE, NORTH_WALES);
    assert_eq!(
        pick(
            mw,
            &[
                "seizure_journeys",
                "cash_gbp",
                "phones",
                "weapons",
                "drug_seizures",
                "wraps",
                "drugs_class_a",
                "wraps_class_a",
                "drugs_class_b",
                "wraps_class_b",
                "drugs_crack_cocaine",
                "wraps_crack_cocaine",
                "drugs_heroin",
                "wraps_heroin",
                "drugs_cannabis",
                "graded",
                "source_eval_1",
                "source_eval_2",
                "intel_a",
                "intel_b",
                "intel_c",
                "handling_p",
                "handling_c",
            ]
        ),
        expect(&[
            ("seizure_journeys", json!(1)),
            ("cash_gbp", json!(1500.0)),
            ("phones", json!(2)),
            ("weapons", json!(1)),
            // 40 + 20 + 0 wraps in three drug seizures
            ("drug_seizures", json!(3)),
            ("wraps", json!(60)),
            ("drugs_class_a", json!(2)),
            ("wraps_class_a", json!(60)),
            ("drugs_class_b", json!(1)),
            ("wraps_class_b", json!(0)),
            ("drugs_crack_cocaine", json!(1)),
            ("wraps_crack_cocaine", json!(40)),
            ("drugs_heroin", json!(1)),
            ("wraps_heroin", json!(20)),
            ("drugs_cannabis", json!(1)),
            ("graded", json!(2)),
            ("source_eval_1", json!(1)),
            ("source_eval_2", json!(1)),
            ("intel_a", json!(1)),
            ("intel_b", json!(1)),
            ("intel_c", json!(0)),
            ("handling_p", json!(1)),
            ("handling_c", json!(1)),
        ])
    );
    // R2's heroin is on Met → Norfolk
    let mn = row(rows, MET, NORFOLK);
    assert_eq!(
        (&mn["seizure_journeys"], &mn["wraps_heroin"], &mn["phones"]),
        (&json!(1), &json!(10), &json!(1))
    );

    // By travel: today's counting, origin force to destination force.
    let t = get(&st, "/api/flows?format=matrix&direction=travel").await;
    assert_eq!(t["direction"], "travel");
    let trows = &t["rows"];
    // Met → Norfolk: R1 and R3; Norfolk → Met: R2 (a return run) and R5; one each for
    // Norfolk → Norfolk (R4), Merseyside → North Wales (R6), North Wales → Merseyside (R7).
    assert_eq!(row(trows, MET, NORFOLK)["journeys"], 2);
    assert_eq!(
        pick(
            row(trows, NORFOLK, MET),
            &["journeys", "return_runs", "lines"]
        ),
        expect(&[
            ("journeys", json!(2)),
            ("return_runs", json!(1)),
            ("lines", json!(1))
        ])
    );
    assert_eq!(row(trows, NORFOLK, NORFOLK)["journeys"], 1);
    assert_eq!(row(trows, MERSEYSIDE, NORTH_WALES)["journeys"], 1);
    assert_eq!(row(trows, NORTH_WALES, MERSEYSIDE)["journeys"], 1);
    assert_eq!(trows.as_array().unwrap().len(), 5);

    // The GeoJSON, the OGC collection and the CSV say the same.
    let fc = get(&st, "/api/flows").await;
    assert_eq!(fc["features"].as_array().unwrap().len(), 4);
    let ogc = get(
        &st,
        &format!("/collections/flows/items?origin_force={MET}&destination_force={NORFOLK}"),
    )
    .await;
    assert_eq!(ogc["features"][0]["properties"]["return_runs"], 1);
    let ogc = get(
        &st,
        &format!("/collections/flows/items?origin_force={NORFOLK}&destination_force={MET}&direction=travel"),
    )
    .await;
    assert_eq!(ogc["features"][0]["properties"]["journeys"], 2);
    let (_, csv) = get_text(&st, "/api/flows?format=matrix&f=csv").await;
    let mut lines = csv.lines();
    assert!(
        lines.next().unwrap().starts_with(
            "origin_force,destination_force,origin_name,destination_name,journeys,lines,return_runs,internal_lines,external_lines,rail_journeys,btp_reported,btp_joint,persons,children,distinct_persons,distinct_children,seizure_journeys,cash_gbp,"
        ),
        "{csv}"
    );
    assert!(
        csv.contains(&format!(
            // persons p1–p4 once each, children p1 and p2
            "{MET},{NORFOLK},Metropolitan Police,Norfolk,3,2,1,0,2,2,1,1,4,2,4,2,1,"
        )),
        "{csv}"
    );
    let (_, csv) = get_text(
        &st,
        "/api/export?collection=flows&format=csv&direction=travel",
    )
    .await;
    assert!(
        csv.contains(&format!(
            "{NORFOLK},{MET},Norfolk,Metropolitan Police,2,1,1,"
        )),
        "{csv}"
    );
    // A direction that is neither is a 400 naming the parameter.
    let (s, b) = get_text(&st, "/api/flows?direction=sideways").await;
    assert_eq!(s, 400);
    assert!(b.contains("direction"), "{b}");
}

#[tokio::test]
async fn the_force_layer_exports_and_imports_are_the_line_direction_flows_summed() {
    let st = state().await;
    let forces = get(&st, "/collections/forces/items?limit=100").await;
    let flows = get(&st, "/api/flows?format=matrix").await;
    let by_code = |code: &str| {
        forces["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["properties"]["code"] == code)
            .unwrap()["properties"]
            .clone()
    };
    // By hand: Met exports R1, R2, R3 (3) and imports R5 (1); Norfolk exports R5 and imports
    // 3; Merseyside exports R6, R7; North Wales imports them. R4 is internal: neither.
    let want = [
        (MET, 3, 1),
        (NORFOLK, 1, 3),
        (MERSEYSIDE, 2, 0),
        (NORTH_WALES, 0, 2),
    ];
    for (code, e, i) in want {
        let p = by_code(code);
        assert_eq!(
            (&p["exports"], &p["imports"], &p["net"]),
            (&json!(e), &json!(i), &json!(e - i)),
            "{code}"
        );
    }
    // And for every force, the flows off the diagonal sum to the same.
    for f in forces["features"].as_array().unwrap() {
        let code = f["properties"]["code"].as_str().unwrap();
        let sum = |end: &str| -> u64 {
            flows["rows"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r[end] == code && r["origin_force"] != r["destination_force"])
                .map(|r| r["journeys"].as_u64().unwrap())
                .sum()
        };
        assert_eq!(
            (
                f["properties"]["exports"].as_u64(),
                f["properties"]["imports"].as_u64()
            ),
            (Some(sum("origin_force")), Some(sum("destination_force"))),
            "{code}"
        );
    }
    // What was carried into North Wales (the force P1 supplies): R6's seizure, both gradings.
    let nw = by_code(NORTH_WALES);
    assert_eq!(
        (
            &nw["seizure_journeys"],
            &nw["cash_gbp"],
            &nw["graded"],
            &nw["wraps_class_a"]
        ),
        (&json!(1), &json!(1500.0), &json!(2), &json!(60))
    );
    // R2 on a return run supplies Norfolk: its journey says so.
    let j = get(&st, "/api/journeys/syn-f-2").await;
    let p = &j["properties"];
    assert_eq!(
        (
            &p["importing_force"],
            &p["return_run"],
            &p["line_type"],
            &p["reporting_lag_days"]
        ),
        // reported 2024-05-09 for a journey on 2024-05-07: 2 days
        (&json!(NORFOLK), &json!(true), &json!("external"), &json!(2))
    );
    // the importing_force filter follows: Norfolk is supplied by R1, R2, R3 and R4
    let l = get(
        &st,
        &format!("/api/journeys?importing_force={NORFOLK}&limit=100"),
    )
    .await;
    assert_eq!(l["numberMatched"], 4);
}

fn corridor<'a>(fc: &'a Value, hub: &str, market: &str) -> &'a Value {
    fc["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["properties"]["hub_station"] == hub && f["properties"]["market_station"] == market
        })
        .map(|f| &f["properties"])
        .unwrap_or_else(|| panic!("no corridor {hub} -> {market} in {fc}"))
}

#[tokio::test]
async fn corridors_run_from_the_hub_station_to_the_market_with_vias_distance_and_forces() {
    let st = state().await;
    let fc = get(&st, "/api/corridors").await;
    assert_eq!(fc["direction"], "line");
    // By hand: EUS → NRW holds R1, R2 (turned round: its hub is Euston) and R3; LIV → BNG R6
    // and R7 (turned round); NRW → KLN R4; NRW → EUS R5 (no line: Norfolk's, not a return).
    assert_eq!(fc["features"].as_array().unwrap().len(), 4);
    assert_eq!(fc["features"][0]["properties"]["hub_station"], "EUS");
    let c = corridor(&fc, "EUS", "NRW");
    assert_eq!(
        pick(
            c,
            &["journeys", "lines", "return_runs", "children", "persons"]
        ),
        expect(&[
            ("journeys", json!(3)),
            ("lines", json!(2)),
            ("return_runs", json!(1)),
            ("children", json!(2)),
            ("persons", json!(4)),
        ])
    );
    // Ipswich is named by R1 and R2: 2 of 3 journeys
    assert_eq!(
        c["via"],
        json!([{"station": "IPS", "name": "Ipswich", "journeys": 2, "share": 0.6667}])
    );
    assert_eq!(
        (&c["hub_force"], &c["market_force"]),
        (&json!(MET), &json!(NORFOLK))
    );
    // the rail distance and forces are those of the shortest route between the two stations
    let route = get(&st, "/api/route?from=EUS&to=NRW").await;
    assert_eq!(c["distance_m"], route["properties"]["distance_m"]);
    let crossed: Vec<Value> = route["properties"]["forces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].clone())
        .collect();
    assert_eq!(c["forces"], json!(crossed));
    assert_eq!(c["forces"][0], MET);
    assert_eq!(c["forces"].as_array().unwrap().last().unwrap(), NORFOLK);
    let lb = corridor(&fc, "LIV", "BNG");
    assert_eq!(
        pick(
            lb,
            &["journeys", "return_runs", "seizure_journeys", "graded"]
        ),
        expect(&[
            ("journeys", json!(2)),
            ("return_runs", json!(1)),
            ("seizure_journeys", json!(1)),
            ("graded", json!(2)),
        ])
    );
    assert_eq!(corridor(&fc, "NRW", "EUS")["journeys"], 1);
    assert_eq!(corridor(&fc, "NRW", "KLN")["internal_lines"], 1);
    // the geometry follows the track from Euston to Norwich
    let geom = fc["features"][0]["geometry"]["coordinates"]
        .as_array()
        .unwrap();
    assert!(geom.len() > 10, "{}", geom.len());

    // by travel, R2 and R5 share NRW → EUS, R1 and R3 EUS → NRW
    let t = get(&st, "/api/corridors?direction=travel").await;
    assert_eq!(corridor(&t, "NRW", "EUS")["journeys"], 2);
    assert_eq!(corridor(&t, "EUS", "NRW")["journeys"], 2);
    assert_eq!(corridor(&t, "BNG", "LIV")["journeys"], 1);
    // top and filters
    let one = get(&st, "/api/corridors?top=1").await;
    assert_eq!(one["features"].as_array().unwrap().len(), 1);
    let merseyside = get(&st, &format!("/api/corridors?exporting_force={MERSEYSIDE}")).await;
    assert_eq!(merseyside["features"].as_array().unwrap().len(), 1);
    // CSV
    let (s, csv) = get_text(&st, "/api/corridors?f=csv").await;
    assert_eq!(s, 200);
    assert!(
        csv.starts_with(
            "hub_station,market_station,hub_name,market_name,hub_force,market_force,distance_m,forces,via,journeys,"
        ),
        "{csv}"
    );
    assert!(csv.contains(",IPS:2,3,2,1,"), "{csv}");
    // bad parameters are 400s naming them
    for (q, name) in [
        ("top=0", "top"),
        ("direction=up", "direction"),
        ("colour=red", "colour"),
    ] {
        let (s, b) = get_text(&st, &format!("/api/corridors?{q}")).await;
        assert_eq!(s, 400, "{q}: {b}");
        assert!(b.contains(name), "{q}: {b}");
    }
}

#[tokio::test]
async fn trends_and_the_journey_export_carry_seizures_grading_line_type_and_lag() {
    let st = state().await;
    let v = get(&st, "/api/trends?interval=month").await;
    let b = v["buckets"].as_array().unwrap();
    // May: R1–R3, R2's heroin; June: R4–R7, R6's seizure and two gradings
    let may = b
        .iter()
        .find(|b| b["period_start"] == "2024-05-01")
        .unwrap();
    let june = b
        .iter()
        .find(|b| b["period_start"] == "2024-06-01")
        .unwrap();
    assert_eq!(
        (
            &may["seizure_journeys"],
            &may["wraps_heroin"],
            &may["graded"]
        ),
        (&json!(1), &json!(10), &json!(0))
    );
    assert_eq!(
        (
            &june["seizure_journeys"],
            &june["cash_gbp"],
            &june["graded"],
            &june["weapons"]
        ),
        (&json!(1), &json!(1500.0), &json!(2), &json!(1))
    );
    // the journey export: no geometry, every field
    let (s, csv) = get_text(&st, "/api/export?collection=journeys&format=csv").await;
    assert_eq!(s, 200);
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let head: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    for col in [
        "reported_at",
        "reporting_lag_days",
        "line_type",
        "return_run",
        "encounter_joint_with_force",
        "cash_gbp",
        "drugs",
        "intel_assessment",
    ] {
        assert!(head.contains(&col.to_string()), "{col} in {head:?}");
    }
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 7);
    let r6 = rows.iter().find(|x| &x[0] == "syn-f-6").unwrap();
    assert_eq!(&r6[col("cash_gbp")], "1500");
    assert_eq!(&r6[col("weapons")], "knife");
    assert_eq!(
        &r6[col("drugs")],
        "A:crack_cocaine:40:internal;A:heroin:20:;B:cannabis::"
    );
    assert_eq!(&r6[col("intel_assessment")], "B");
    assert_eq!(&r6[col("line_type")], "external");
    // reported the evening of the journey: 0 days
    assert_eq!(&r6[col("reporting_lag_days")], "0");
    let r2 = rows.iter().find(|x| &x[0] == "syn-f-2").unwrap();
    assert_eq!(
        (
            &r2[col("reporting_lag_days")],
            &r2[col("return_run")],
            &r2[col("encounter_joint_with_force")]
        ),
        ("2", "true", "BTP")
    );
}

/// A point `d` metres from `p` on bearing `deg` (flat Earth: fine over 2 km).
fn offset(p: [f64; 2], deg: f64, d: f64) -> [f64; 2] {
    let (s, c) = deg.to_radians().sin_cos();
    let m_per_deg_lat = 111_320.0;
    let m_per_deg_lon = m_per_deg_lat * p[1].to_radians().cos();
    [p[0] + d * s / m_per_deg_lon, p[1] + d * c / m_per_deg_lat]
}

#[tokio::test]
async fn an_end_snapped_to_a_coastal_station_takes_the_stations_force() {
    // Every station outside every (generalised) force polygon, with the force the independent
    // reference (shapely, tests/independent/reference.json) finds nearest to it. For each, a
    // point out to sea more than the 1,000 m force tolerance from any force but snapping to
    // that station (within 2,000 m): the journey's end there is in the station's force.
    let g = gb();
    let outside = reference()["outside_stations"].as_array().unwrap();
    assert_eq!(outside.len(), 29);
    let st = fresh_state();
    let mut batch = Vec::new();
    let mut expected = BTreeMap::new();
    for o in outside {
        let crs = o["crs"].as_str().unwrap();
        let s = [o["lon"].as_f64().unwrap(), o["lat"].as_f64().unwrap()];
        let found = (0..72)
            .flat_map(|b| (0..8).map(move |k| (b, k)))
            .find_map(|(b, k)| {
                let p = offset(s, b as f64 * 5.0, 1_200.0 + 100.0 * k as f64);
                let near = g.stations.nearest(p)?;
                (g.forces.locate(p).is_none()
                    && near.distance_m < 1_950.0
                    && g.stations.get(near.station).code.as_str() == crs)
                    .then_some(p)
            });
        let Some(p) = found else { continue };
        let id = format!("syn-coast-{crs}");
        batch.push(json!({
            "report_id": id, "reported_at": "2024-03-06T10:00:00Z", "source_force": "BTP",
            "journey": {"date": "2024-03-06", "mode": "rail", "origin": {"station": "HUL"},
                "destination": {"lon": p[0], "lat": p[1]}},
        }));
        expected.insert(id, (crs.to_string(), o["nearest_force"].clone()));
    }
    // Cleethorpes, the example, is among them
    assert!(expected.contains_key("syn-coast-CLE"), "{expected:?}");
    assert!(expected.len() >= 5, "{expected:?}");
    post(&st, &Value::Array(batch)).await;
    for (id, (crs, force)) in &expected {
        let j = get(&st, &format!("/api/journeys/{id}")).await;
        let p = &j["properties"];
        assert_eq!(p["destination_station"], crs.as_str(), "{id}");
        assert_eq!(&p["destination_force"], force, "{id}");
    }
    // Hull → Cleethorpes: both in Humberside, so not cross-border, on the Humberside diagonal
    let j = get(&st, "/api/journeys/syn-coast-CLE").await;
    assert_eq!(j["properties"]["destination_force"], "E23000012");
    assert_eq!(j["properties"]["cross_border"], false);
    let f = get(&st, "/api/flows?format=matrix&station=CLE").await;
    assert_eq!(f["unplaced"], 0);
    assert_eq!(row(&f["rows"], "E23000012", "E23000012")["journeys"], 1);
}

/// The fields the separate count (`tests/independent/line_flows.py`) gives for every row.
const SCRIPT_FIELDS: &[&str] = &[
    "journeys",
    "lines",
    "return_runs",
    "internal_lines",
    "external_lines",
    "rail_journeys",
    "btp_reported",
    "btp_joint",
    "persons",
    "children",
    "seizure_journeys",
    "phones",
    "weapons",
    "wraps",
    "graded",
];

fn keyed(rows: &Value, a: &str, b: &str, fields: &[&str]) -> BTreeMap<(String, String), Value> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let p = if r["properties"].is_object() {
                &r["properties"]
            } else {
                r
            };
            let mut m = serde_json::Map::new();
            for f in fields {
                m.insert(f.to_string(), p[*f].clone());
            }
            (
                (
                    p[a].as_str().unwrap().to_string(),
                    p[b].as_str().unwrap().to_string(),
                ),
                Value::Object(m),
            )
        })
        .collect()
}

#[tokio::test]
async fn line_flows_and_corridors_of_generated_reports_match_a_separate_count() {
    use sha2::Digest;
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/independent/line_flows.json");
    let want: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let n = want["meta"]["reports"].as_u64().unwrap() as usize;
    let seed = want["meta"]["seed"].as_u64().unwrap();
    let mut ndjson = Vec::new();
    linesmap::journey::generate::generate_ndjson(
        gb(),
        &linesmap::journey::generate::GeneratorParams::builtin(),
        n,
        seed,
        &mut ndjson,
    )
    .unwrap();
    assert_eq!(
        format!("{:x}", sha2::Sha256::digest(&ndjson)),
        want["meta"]["ndjson_sha256"].as_str().unwrap(),
        "the generator's output changed: regenerate tests/independent/line_flows.json (see its README)"
    );
    let st = fresh_state();
    let r = warp::test::request()
        .method("POST")
        .path("/api/journeys")
        .header("content-type", "application/x-ndjson")
        .body(ndjson)
        .reply(&routes(st.clone()))
        .await;
    assert_eq!(r.status(), 201, "{}", String::from_utf8_lossy(r.body()));
    for (dir, key) in [("line", "flows_line"), ("travel", "flows_travel")] {
        let got = get(&st, &format!("/api/flows?format=matrix&direction={dir}")).await;
        assert_eq!(
            keyed(
                &got["rows"],
                "origin_force",
                "destination_force",
                SCRIPT_FIELDS
            ),
            keyed(
                &want[key],
                "origin_force",
                "destination_force",
                SCRIPT_FIELDS
            ),
            "{dir}"
        );
        assert_eq!(got["unplaced"], want["unplaced"][dir], "{dir}");
    }
    let got = get(&st, "/api/corridors?top=10000").await;
    let got_rows = keyed(
        &got["features"],
        "hub_station",
        "market_station",
        SCRIPT_FIELDS,
    );
    let want_rows = keyed(
        &want["corridors_line"],
        "hub_station",
        "market_station",
        SCRIPT_FIELDS,
    );
    assert_eq!(got_rows.len(), want_rows.len());
    assert_eq!(got_rows, want_rows);
    assert_eq!(got["unplaced"], want["unplaced"]["corridors"]);
    // the via stations and how many journeys name each
    for f in got["features"].as_array().unwrap() {
        let p = &f["properties"];
        let w = want["corridors_line"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| {
                c["hub_station"] == p["hub_station"] && c["market_station"] == p["market_station"]
            })
            .unwrap();
        let via: serde_json::Map<String, Value> = p["via"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["station"].as_str().unwrap().to_string(),
                    v["journeys"].clone(),
                )
            })
            .collect();
        assert_eq!(Value::Object(via), w["via"], "{}", p["hub_station"]);
    }
    // the force layer: exports and imports as the script sums its line-direction flows
    let forces = get(&st, "/collections/forces/items?limit=100").await;
    for f in forces["features"].as_array().unwrap() {
        let p = &f["properties"];
        let w = &want["force_exchange"][p["code"].as_str().unwrap()];
        let (e, i) = if w.is_null() {
            (json!(0), json!(0))
        } else {
            (w[0].clone(), w[1].clone())
        };
        assert_eq!((&p["exports"], &p["imports"]), (&e, &i), "{}", p["code"]);
    }
}

#[tokio::test]
async fn properties_selects_what_each_flow_carries_beside_its_pair() {
    let st = state().await;
    // Met → Norfolk, worked out above: 3 journeys, 2 children (R1's and R2's 13-14).
    let v = get(&st, "/api/flows?format=matrix&properties=journeys,children").await;
    let r = row(&v["rows"], MET, NORFOLK);
    assert_eq!(
        r,
        &json!({"origin_force": MET, "destination_force": NORFOLK, "journeys": 3, "children": 2})
    );
    // The same in the GeoJSON form, which keeps its geometry: Merseyside → North Wales, R6 and
    // R7, 2 journeys (its lines, names and seizures left out).
    let fc = get(&st, "/api/flows?properties=journeys").await;
    let whole = get(&st, "/api/flows").await;
    let pick_feature = |fc: &Value| {
        fc["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| {
                f["properties"]["origin_force"] == MERSEYSIDE
                    && f["properties"]["destination_force"] == NORTH_WALES
            })
            .cloned()
            .unwrap()
    };
    let (f, w) = (pick_feature(&fc), pick_feature(&whole));
    assert_eq!(
        f["properties"],
        json!({"origin_force": MERSEYSIDE, "destination_force": NORTH_WALES, "journeys": 2})
    );
    assert_eq!((&f["geometry"], &f["id"]), (&w["geometry"], &w["id"]));
    assert!(w["properties"].as_object().unwrap().len() > 40, "{w}");
    assert_eq!(fc["numberMatched"], 4);
    // Asking for the pair itself, or a name twice, is allowed.
    let v = get(
        &st,
        "/api/flows?format=matrix&properties=origin_force,journeys,journeys",
    )
    .await;
    assert_eq!(row(&v["rows"], NORFOLK, MET)["journeys"], 1);
}

#[tokio::test]
async fn an_unknown_or_empty_property_name_or_a_csv_selection_is_a_400_naming_it() {
    let st = state().await;
    for (q, says) in [
        (
            "properties=journeys,sizes",
            "\\\"sizes\\\" is not a property of a flow",
        ),
        ("properties=", "\\\"\\\" has an empty name"),
        ("properties=journeys,,children", "has an empty name"),
        ("properties=Journeys", "\\\"Journeys\\\" is not a property"),
        ("properties=journeys&f=csv", "not of CSV"),
    ] {
        let (s, b) = get_text(&st, &format!("/api/flows?{q}")).await;
        assert_eq!(s, 400, "{q}: {b}");
        assert!(
            b.contains("\"invalid_parameter\"") && b.contains("properties") && b.contains(says),
            "{q}: {b}"
        );
    }
}

#[tokio::test]
async fn the_openapi_document_lists_the_flow_properties_that_can_be_selected() {
    let st = state().await;
    let doc = get(&st, "/openapi").await;
    let p = doc["paths"]["/api/flows"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "properties")
        .cloned()
        .expect("a properties parameter");
    assert_eq!(
        (p["style"].as_str(), p["explode"].as_bool()),
        (Some("form"), Some(false))
    );
    let names: Vec<&str> = p["schema"]["items"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // every property a whole flow carries can be named, and nothing else
    let whole = get(&st, "/api/flows?format=matrix").await;
    let mut carried: Vec<&str> = row(&whole["rows"], MET, NORFOLK)
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut listed = names.clone();
    carried.sort_unstable();
    listed.sort_unstable();
    assert_eq!(listed, carried);
}
