//! Journey reports through the HTTP API, in-process: validation, mapping, idempotency, batches
//! and reads. Expected values are hand-checked or from tests/independent/reference.json.

use super::common::{fresh_state, reference};
use linesmap::http::{AppState, routes};
use serde_json::{Value, json};
use std::sync::Arc;

async fn post(state: &Arc<AppState>, ct: &str, body: &str) -> (u16, Value) {
    let r = warp::test::request()
        .method("POST")
        .path("/api/journeys")
        .header("content-type", ct)
        .body(body)
        .reply(&routes(state.clone()))
        .await;
    (
        r.status().as_u16(),
        serde_json::from_slice(r.body()).unwrap_or(Value::Null),
    )
}

async fn get(state: &Arc<AppState>, path: &str) -> (u16, Value) {
    let r = warp::test::request()
        .path(path)
        .reply(&routes(state.clone()))
        .await;
    (
        r.status().as_u16(),
        serde_json::from_slice(r.body()).unwrap_or(Value::Null),
    )
}

fn report(id: &str, from: &str, to: &str) -> Value {
    json!({
        "report_id": id,
        "reported_at": "2024-03-06T10:42:00Z",
        "source_force": "BTP",
        "journey": {"date": "2024-03-06", "mode": "rail", "origin": {"station": from}, "destination": {"station": to}},
        "line": {"line_id": "syn-line-1", "name": "SYN-KESTREL", "exporting_force": "E23000001"},
        "persons": [
            {"person_id": "syn-p-1", "age_band": "15-17", "sex": "male", "roles": ["runner"],
             "victim_status": "potential_victim", "suspect_status": "arrested",
             "vulnerability_flags": ["missing_episode"], "nrm_referred": true, "safeguarding_referred": true},
            {"person_id": "syn-p-2", "age_band": "18-24", "roles": ["runner"]}
        ]
    })
}

fn reference_route(from: &str, to: &str) -> &'static Value {
    reference()["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["from"] == from && r["to"] == to)
        .unwrap()
}

fn force_codes(p: &Value) -> Vec<String> {
    p["forces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn euston_to_norwich_crosses_the_met_essex_suffolk_and_norfolk() {
    let st = fresh_state();
    let (s, f) = post(
        &st,
        "application/json",
        &report("r-eus-nrw", "EUS", "NRW").to_string(),
    )
    .await;
    assert_eq!(s, 201, "{f}");
    assert_eq!(f["geometry"]["type"], "LineString");
    let p = &f["properties"];
    assert_eq!(
        force_codes(p),
        ["E23000001", "E23000028", "E23000025", "E23000024"]
    );
    let want = reference_route("EUS", "NRW");
    assert!(
        (p["distance_m"].as_f64().unwrap() - want["distance_m"].as_f64().unwrap()).abs() < 100.0,
        "{}",
        p["distance_m"]
    );
    assert_eq!(p["origin_station"], "EUS");
    assert_eq!(p["destination_station"], "NRW");
    assert_eq!(p["origin_force"], "E23000001");
    assert_eq!(p["destination_force"], "E23000024");
    assert_eq!(p["exporting_force"], "E23000001");
    assert_eq!(p["importing_force"], "E23000024");
    assert_eq!(p["cross_border"], true);
    // Euston is in the London Travelcard area (urban); Norwich has 4,041,818 entries/exits
    // in 2019-20 and no PTE area (town)
    assert_eq!(p["origin_class"], "urban");
    assert_eq!(p["destination_class"], "town");
    assert_eq!(p["urban_to_rural"], true);
    assert_eq!(p["persons"], 2);
    assert_eq!(p["children"], 1);
    assert_eq!(p["route_method"], "rail");
    assert_eq!(p["stations"][0], "EUS");
    assert_eq!(p["stations"].as_array().unwrap().last().unwrap(), "NRW");
}

#[tokio::test]
async fn liverpool_to_bangor_crosses_into_north_wales() {
    let st = fresh_state();
    let mut r = report("r-liv-bng", "LIV", "BNG");
    r["line"]["exporting_force"] = json!("E23000004");
    let (s, f) = post(&st, "application/json", &r.to_string()).await;
    assert_eq!(s, 201, "{f}");
    let p = &f["properties"];
    assert_eq!(force_codes(p), ["E23000004", "E23000006", "W15000001"]);
    let want = reference_route("LIV", "BNG")["distance_m"]
        .as_f64()
        .unwrap();
    assert!((p["distance_m"].as_f64().unwrap() - want).abs() < 100.0);
    assert_eq!(p["importing_force"], "W15000001");
    // Lime Street is in the Merseyside PTE area; Bangor has 624,926 entries/exits: rural
    assert_eq!(p["origin_class"], "urban");
    assert_eq!(p["destination_class"], "rural");
}

#[tokio::test]
async fn points_snap_to_the_nearest_station_and_other_modes_are_geodesic() {
    let st = fresh_state();
    // 315.46 m from Euston (pyproj geodesic to the station's CSV position)
    let mut r = report("r-snap", "EUS", "NRW");
    r["journey"]["origin"] = json!({"lon": -0.1305, "lat": 51.5300});
    let (s, f) = post(&st, "application/json", &r.to_string()).await;
    assert_eq!(s, 201, "{f}");
    assert_eq!(f["properties"]["origin_station"], "EUS");
    assert!((f["properties"]["origin_snapped_m"].as_f64().unwrap() - 315.46).abs() < 0.01);

    // a coach from beside Victoria to beside Norwich: 159,886.233 m by pyproj between the
    // points given; both ends snap (7.46 m and 1,003.67 m)
    let mut c = report("r-coach", "VIC", "NRW");
    c["journey"]["mode"] = json!("coach");
    c["journey"]["origin"] = json!({"lon": -0.1445, "lat": 51.4952});
    c["journey"]["destination"] = json!({"lon": 1.2920, "lat": 52.6270});
    let (s, f) = post(&st, "application/json", &c.to_string()).await;
    assert_eq!(s, 201, "{f}");
    let p = &f["properties"];
    assert_eq!(p["route_method"], "geodesic");
    assert!(
        (p["distance_m"].as_f64().unwrap() - 159_886.233).abs() < 0.01,
        "{}",
        p["distance_m"]
    );
    assert_eq!(
        (
            p["origin_station"].as_str(),
            p["destination_station"].as_str()
        ),
        (Some("VIC"), Some("NRW"))
    );
    assert!((p["destination_snapped_m"].as_f64().unwrap() - 1_003.67).abs() < 0.01);
    let codes = force_codes(p);
    assert_eq!(codes.first().map(String::as_str), Some("E23000001"));
    assert_eq!(codes.last().map(String::as_str), Some("E23000024"));
    let coords = f["geometry"]["coordinates"].as_array().unwrap();
    assert_eq!(coords[0], json!([-0.1445, 51.4952]));

    // a rail journey from a point with no station within 2 km is refused, naming the field
    let mut far = report("r-far", "EUS", "NRW");
    far["journey"]["origin"] = json!({"lon": -3.6, "lat": 57.3});
    let (s, e) = post(&st, "application/json", &far.to_string()).await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(e["errors"][0]["path"], "journey.origin");
}

#[tokio::test]
async fn the_isle_of_wight_maps_as_a_geodesic_fallback_not_an_error() {
    let st = fresh_state();
    let (s, f) = post(
        &st,
        "application/json",
        &report("r-iow", "RYD", "EUS").to_string(),
    )
    .await;
    assert_eq!(s, 201, "{f}");
    assert_eq!(f["properties"]["route_method"], "geodesic_fallback");
}

#[tokio::test]
async fn the_schema_accepts_and_rejects_as_the_table_says() {
    // (mutation, expected status, path of the first error)
    type Mutation = fn(&mut Value);
    let cases: Vec<(&str, Mutation, u16, &str)> = vec![
        ("valid as sent", |_| {}, 201, ""),
        (
            "no persons, no line",
            |r| {
                r.as_object_mut().unwrap().remove("persons");
                r.as_object_mut().unwrap().remove("line");
            },
            201,
            "",
        ),
        (
            "schema_version 1",
            |r| r["schema_version"] = json!("1"),
            201,
            "",
        ),
        (
            "unknown station",
            |r| r["journey"]["origin"]["station"] = json!("XQZ"),
            422,
            "journey.origin.station",
        ),
        (
            "malformed station",
            |r| r["journey"]["origin"]["station"] = json!("EUST"),
            422,
            "journey.origin.station",
        ),
        (
            "unknown force",
            |r| r["source_force"] = json!("E23000099"),
            422,
            "source_force",
        ),
        (
            "BTP as exporter",
            |r| r["line"]["exporting_force"] = json!("BTP"),
            422,
            "line.exporting_force",
        ),
        (
            "outside the UK",
            |r| r["journey"]["destination"] = json!({"lon": 2.35, "lat": 48.85}),
            422,
            "journey.destination",
        ),
        (
            "future date",
            |r| r["journey"]["date"] = json!("2099-01-01"),
            422,
            "journey.date",
        ),
        (
            "before 2000",
            |r| r["journey"]["date"] = json!("1999-12-31"),
            422,
            "journey.date",
        ),
        (
            "not a date",
            |r| r["journey"]["date"] = json!("06/03/2024"),
            422,
            "journey.date",
        ),
        (
            "future reported_at",
            |r| r["reported_at"] = json!("2099-01-01T00:00:00Z"),
            422,
            "reported_at",
        ),
        (
            "bad RFC 3339",
            |r| r["reported_at"] = json!("yesterday"),
            422,
            "reported_at",
        ),
        (
            "bad mode",
            |r| r["journey"]["mode"] = json!("horse"),
            422,
            "journey.mode",
        ),
        (
            "bad age band",
            |r| r["persons"][0]["age_band"] = json!("16"),
            422,
            "persons[0].age_band",
        ),
        (
            "bad role",
            |r| r["persons"][1]["roles"] = json!(["gang_member"]),
            422,
            "persons[1].roles[0]",
        ),
        (
            "bad flag",
            |r| r["persons"][0]["vulnerability_flags"] = json!(["lazy"]),
            422,
            "persons[0].vulnerability_flags[0]",
        ),
        (
            "missing report_id",
            |r| {
                r.as_object_mut().unwrap().remove("report_id");
            },
            422,
            "report_id",
        ),
        (
            "empty report_id",
            |r| r["report_id"] = json!(""),
            422,
            "report_id",
        ),
        (
            "report_id with spaces",
            |r| r["report_id"] = json!("a b"),
            422,
            "report_id",
        ),
        (
            "missing journey",
            |r| {
                r.as_object_mut().unwrap().remove("journey");
            },
            422,
            "journey",
        ),
        (
            "misspelt field",
            |r| r["journey"]["destinaton"] = json!({"station": "NRW"}),
            422,
            "journey.destinaton",
        ),
        (
            "station and point",
            |r| r["journey"]["origin"]["lon"] = json!(-0.1),
            422,
            "journey.origin",
        ),
        (
            "string for bool",
            |r| r["persons"][0]["nrm_referred"] = json!("yes"),
            422,
            "persons[0].nrm_referred",
        ),
        (
            "via unknown",
            |r| r["journey"]["via"] = json!(["CRE", "XQZ"]),
            422,
            "journey.via[1]",
        ),
        (
            "bad seizure class",
            |r| r["seizures"] = json!({"drugs": [{"class": "D", "type": "heroin"}]}),
            422,
            "seizures.drugs[0].class",
        ),
        (
            "negative cash",
            |r| r["seizures"] = json!({"cash_gbp": -5}),
            422,
            "seizures.cash_gbp",
        ),
        (
            "schema_version 2",
            |r| r["schema_version"] = json!("2"),
            422,
            "schema_version",
        ),
    ];
    for (i, (name, mutate, status, path)) in cases.into_iter().enumerate() {
        let st = fresh_state();
        let mut r = report(&format!("r-table-{i}"), "EUS", "NRW");
        mutate(&mut r);
        let (s, body) = post(&st, "application/json", &r.to_string()).await;
        assert_eq!(s, status, "{name}: {body}");
        if status == 422 {
            assert_eq!(body["code"], "invalid_report", "{name}");
            assert_eq!(body["errors"][0]["path"], path, "{name}: {body}");
            assert!(
                body["message"].as_str().unwrap().contains(path),
                "{name}: {body}"
            );
            let (_, list) = get(&st, "/api/journeys").await;
            assert_eq!(
                list["numberMatched"], 0,
                "{name}: nothing is stored on error"
            );
        }
    }
}

#[tokio::test]
async fn sending_the_same_report_again_is_idempotent_and_a_changed_one_conflicts() {
    let st = fresh_state();
    let r = report("r-idem", "EUS", "NRW");
    assert_eq!(post(&st, "application/json", &r.to_string()).await.0, 201);
    let (s, again) = post(&st, "application/json", &r.to_string()).await;
    assert_eq!(s, 200, "{again}");
    assert_eq!(again["id"], "r-idem");
    let mut changed = r.clone();
    changed["journey"]["destination"]["station"] = json!("BNG");
    let (s, e) = post(&st, "application/json", &changed.to_string()).await;
    assert_eq!((s, e["code"].as_str()), (409, Some("conflict")));
    assert_eq!(st.journeys.store().count().unwrap(), 1);
    let (_, one) = get(&st, "/api/journeys/r-idem").await;
    assert_eq!(one["properties"]["destination_station"], "NRW");
}

#[tokio::test]
async fn a_mixed_batch_answers_per_record_and_stores_only_the_good_ones() {
    let st = fresh_state();
    let mut bad = report("r-b2", "EUS", "NRW");
    bad["journey"]["mode"] = json!("horse");
    let batch = json!([
        report("r-b1", "EUS", "NRW"),
        bad,
        report("r-b3", "LIV", "BPN")
    ]);
    let (s, b) = post(&st, "application/json", &batch.to_string()).await;
    assert_eq!(s, 207, "{b}");
    assert_eq!(
        (b["created"].as_u64(), b["rejected"].as_u64()),
        (Some(2), Some(1))
    );
    let statuses: Vec<&str> = b["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["created", "rejected", "created"]);
    assert_eq!(b["results"][1]["errors"][0]["path"], "journey.mode");
    assert_eq!(
        b["results"][2]["journey"]["properties"]["importing_force"],
        "E23000003"
    );
    assert_eq!(st.journeys.store().count().unwrap(), 2);
    assert_eq!(get(&st, "/api/journeys/r-b2").await.0, 404);

    // NDJSON with a line that is not JSON, a resend and a new one
    let nd = format!(
        "{}\n{{not json\n\n{}\n",
        report("r-b1", "EUS", "NRW"),
        report("r-b4", "EUS", "BNG")
    );
    let (s, b) = post(&st, "application/x-ndjson", &nd).await;
    assert_eq!(s, 207, "{b}");
    let statuses: Vec<&str> = b["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["exists", "rejected", "created"]);
    assert!(
        b["results"][1]["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("line 2: not valid JSON")
    );
    assert_eq!(st.journeys.store().count().unwrap(), 3);

    let all_bad = json!([bad_report()]);
    let (s, _) = post(&st, "application/json", &all_bad.to_string()).await;
    assert_eq!(s, 422);
}

fn bad_report() -> Value {
    let mut r = report("r-bad", "EUS", "NRW");
    r["journey"]["date"] = json!("not a date");
    r
}

#[tokio::test]
async fn malformed_bodies_get_clear_4xx_errors() {
    let st = fresh_state();
    let cases = [
        ("application/json", "{\"report_id\": ", 400, "invalid_json"),
        ("application/json", "", 400, "bad_request"),
        ("application/json", "42", 400, "bad_request"),
        ("application/json", "[]", 400, "bad_request"),
        ("text/plain", "{}", 415, "unsupported_media_type"),
    ];
    for (ct, body, status, code) in cases {
        let (s, b) = post(&st, ct, body).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (status, Some(code)),
            "{ct} {body:?}: {b}"
        );
    }
    let big = "x".repeat(16 * 1024 * 1024 + 1);
    let (s, b) = post(&st, "application/json", &big).await;
    assert_eq!((s, b["code"].as_str()), (413, Some("payload_too_large")));
    let (s, b) = get(&st, "/api/journeys?limit=0").await;
    assert_eq!((s, b["code"].as_str()), (400, Some("invalid_parameter")));
    let (s, b) = get(&st, "/api/journeys?from=2024-13-01").await;
    assert_eq!((s, b["code"].as_str()), (400, Some("invalid_parameter")));
    let (s, _) = get(&st, "/api/journeys?force=E23000099").await;
    assert_eq!(s, 400);
    let (s, _) = get(&st, "/api/journeys?colour=red").await;
    assert_eq!(s, 400);
    assert_eq!(get(&st, "/api/journeys/nope").await.0, 404);
}

#[tokio::test]
async fn journeys_are_filtered_by_bbox_dates_force_and_border_and_paged() {
    let st = fresh_state();
    let mut list = Vec::new();
    for (i, (from, to, date)) in [
        ("EUS", "NRW", "2024-01-10"),
        ("LIV", "BPN", "2024-02-10"),
        ("LIV", "BNG", "2024-03-10"),
        ("EUS", "NRW", "2024-04-10"),
        ("MAN", "YRK", "2024-05-10"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut r = report(&format!("f{i}"), from, to);
        r["journey"]["date"] = json!(date);
        list.push(r);
    }
    assert_eq!(
        post(&st, "application/json", &Value::Array(list).to_string())
            .await
            .0,
        201
    );
    let ids = |v: &Value| -> Vec<String> {
        v["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, all) = get(&st, "/api/journeys").await;
    assert_eq!(all["numberMatched"], 5);
    // a box around Norwich station only holds the two Norwich journeys
    let (_, nrw) = get(&st, "/api/journeys?bbox=1.28,52.61,1.33,52.64").await;
    assert_eq!(ids(&nrw), ["f0", "f3"]);
    let (_, feb_mar) = get(&st, "/api/journeys?from=2024-02-01&to=2024-03-31").await;
    assert_eq!(ids(&feb_mar), ["f1", "f2"]);
    // Cheshire is only crossed by Liverpool -> Bangor
    let (_, ches) = get(&st, "/api/journeys?force=E23000006").await;
    assert_eq!(ids(&ches), ["f2"]);
    let (_, within) = get(&st, "/api/journeys?cross_border=false").await;
    assert_eq!(ids(&within), Vec::<String>::new());
    let (_, page) = get(&st, "/api/journeys?limit=2&offset=2").await;
    assert_eq!(
        (
            page["numberMatched"].as_u64(),
            page["numberReturned"].as_u64()
        ),
        (Some(5), Some(2))
    );
    assert_eq!(ids(&page), ["f2", "f3"]);
    let next = page["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "next")
        .unwrap();
    assert!(next["href"].as_str().unwrap().contains("offset=4"));
}
