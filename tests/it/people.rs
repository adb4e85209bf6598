//! Treatment, distinct persons and people seen again (issue 15), against an independent count:
//! reports generated here (not in the repository) are posted, and a separate script,
//! `tests/independent/people_counts.py` (Python standard library only, written from the
//! issue's definitions), counts the same things from the reports and the forces and stations
//! the server mapped them to. Funnel quantiles against scipy's (`tests/independent/funnel.json`).

use super::common::{fresh_state, gb};
use linesmap::http::{AppState, routes};
use linesmap::journey::generate::{GeneratorParams, generate};
use linesmap::layers::treatment::{By, Group, MEASURES, funnel};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;

/// The server key of `Security::open_for_tests`, which the script needs for the pseudonyms.
const TEST_KEY: &str = "linesmap-test-key-not-secret";

async fn get(st: &Arc<AppState>, path: &str) -> Value {
    let r = warp::test::request()
        .path(path)
        .header("x-justification", "people test: synthetic data")
        .reply(&routes(st.clone()))
        .await;
    assert_eq!(
        r.status(),
        200,
        "{path}: {}",
        String::from_utf8_lossy(r.body())
    );
    serde_json::from_slice(r.body()).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Reports the generator makes with `seed`, plus a few written here so that every branch is
/// met whatever the generator's calibration: a person seen by three forces whose role
/// escalates, unknown ages, a vulnerable adult charged, an NFA.
fn reports(seed: u64) -> Vec<Value> {
    let mut v = generate(gb(), &GeneratorParams::builtin(), 3_000, seed);
    let extra = [
        (
            "2024-01-10",
            "E23000001",
            "EUS",
            "NRW",
            "runner",
            "15-17",
            "arrested",
            vec![],
        ),
        (
            "2024-03-01",
            "BTP",
            "NRW",
            "IPS",
            "runner",
            "15-17",
            "none",
            vec!["missing_episode"],
        ),
        (
            "2024-03-20",
            "E23000024",
            "IPS",
            "CBG",
            "line_holder",
            "18-24",
            "nfa",
            vec!["missing_episode"],
        ),
        (
            "2024-03-22",
            "BTP",
            "CBG",
            "EUS",
            "associate",
            "unknown",
            "charged",
            vec!["debt_bondage"],
        ),
    ];
    for (k, (date, src, from, to, role, age, suspect, flags)) in extra.into_iter().enumerate() {
        v.push(json!({
            "report_id": format!("syn-people-{seed}-{k}"),
            "reported_at": format!("{date}T22:00:00Z"),
            "source_force": src,
            "journey": {"date": date, "mode": "rail", "origin": {"station": from}, "destination": {"station": to}},
            "persons": [
                {"person_id": "syn-people-escalating", "age_band": age, "roles": [role],
                 "suspect_status": suspect, "vulnerability_flags": flags},
                {"person_id": format!("syn-people-other-{}", k % 2), "age_band": if k == 3 { "25-34" } else { "unknown" },
                 "roles": ["associate"], "suspect_status": if k == 3 { "charged" } else { "none" },
                 "vulnerability_flags": if k == 3 { vec!["drug_dependency"] } else { vec![] }}
            ],
        }));
    }
    v
}

struct Fixture {
    st: Arc<AppState>,
    dir: PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Posts the reports and writes the script's two inputs.
async fn fixture(seed: u64) -> Fixture {
    let dir = std::env::temp_dir().join(format!("linesmap-people-{}-{seed}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let st = fresh_state();
    let all = reports(seed);
    for chunk in all.chunks(5_000) {
        let r = warp::test::request()
            .method("POST")
            .path("/api/journeys")
            .header("content-type", "application/json")
            .body(Value::Array(chunk.to_vec()).to_string())
            .reply(&routes(st.clone()))
            .await;
        assert_eq!(r.status(), 201, "{}", String::from_utf8_lossy(r.body()));
    }
    let mut nd = String::new();
    for r in &all {
        nd.push_str(&r.to_string());
        nd.push('\n');
    }
    std::fs::write(dir.join("reports.ndjson"), nd).unwrap();
    let fc = get(&st, "/api/journeys?limit=10000").await;
    assert_eq!(fc["numberMatched"], json!(all.len()));
    let props: Vec<Value> = fc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"].clone())
        .collect();
    std::fs::write(dir.join("journeys.json"), Value::Array(props).to_string()).unwrap();
    Fixture { st, dir }
}

/// The script's counts under `filter` (`from`, `to`, `mode` as query pairs).
fn independent(f: &Fixture, filter: &[(&str, &str)]) -> Value {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/independent/people_counts.py");
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(script)
        .arg(f.dir.join("reports.ndjson"))
        .arg(f.dir.join("journeys.json"))
        .args(["--key", TEST_KEY]);
    for (k, v) in filter {
        cmd.arg(format!("--{k}")).arg(v);
    }
    let out = cmd
        .output()
        .expect("python3 runs (the independent counts need it)");
    assert!(
        out.status.success(),
        "people_counts.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn query(filter: &[(&str, &str)]) -> String {
    filter.iter().map(|(k, v)| format!("&{k}={v}")).collect()
}

async fn compare(f: &Fixture, filter: &[(&str, &str)]) {
    let want = independent(f, filter);
    let q = query(filter);
    assert!(
        want["journeys"].as_u64().unwrap() > 300,
        "{}",
        want["journeys"]
    );
    // 1. the treatment table, every `by` and `group`: counts, distinct persons, funnel positions
    let mut outside = 0;
    for &by in By::ALL {
        for &group in Group::ALL {
            let got = get(&f.st, &format!("/api/treatment?by={by}&group={group}{q}")).await;
            let exp = &want["treatment"][format!("{by}/{group}")];
            let at = format!("{by}/{group}{q}");
            for k in ["encounters", "persons"].iter().chain(&MEASURES) {
                assert_eq!(got["national"][k], exp["national"][k], "{at} national {k}");
            }
            let rows = got["rows"].as_array().unwrap();
            // every force a row, BTP too when by recording force
            assert_eq!(rows.len(), 45 + usize::from(by == "source_force"), "{at}");
            let mut seen = 0;
            for row in rows {
                let key = row["key"].as_str().unwrap();
                let e = &exp["rows"][key];
                if e.is_null() {
                    assert_eq!(row["encounters"], json!(0), "{at} {key}");
                    assert_eq!(row["funnel"]["arrested"]["position"], Value::Null);
                    continue;
                }
                seen += 1;
                for k in ["encounters", "persons"].iter().chain(&MEASURES) {
                    assert_eq!(row[k], e[k], "{at} {key} {k}");
                }
                for m in MEASURES {
                    assert_eq!(
                        row["funnel"][m]["position"], e["positions"][m],
                        "{at} {key} {m}: {row}"
                    );
                }
                outside += MEASURES
                    .iter()
                    .filter(|m| {
                        !matches!(
                            row["funnel"][*m]["position"].as_str(),
                            Some("within") | None
                        )
                    })
                    .count();
            }
            assert_eq!(seen, exp["rows"].as_object().unwrap().len(), "{at}");
        }
    }
    // not a vacuous comparison: forces do differ from the national rates
    assert!(outside > 10, "{outside} positions outside the 95 % limits");
    // 2. recording completeness per recording force
    let got = get(&f.st, &format!("/api/treatment?by=source_force{q}")).await;
    for row in got["completeness"].as_array().unwrap() {
        let e = &want["completeness"][row["key"].as_str().unwrap()];
        for k in [
            "encounters",
            "known_age_band",
            "victim_status_recorded",
            "vulnerability_flagged",
        ] {
            assert_eq!(
                row[k],
                if e.is_null() { json!(0) } else { e[k].clone() },
                "{row}"
            );
        }
    }
    // 3. distinct persons and children: flows, months, forces, stations
    let dk = ["distinct_persons", "distinct_children"];
    // the script counts flows by travel (origin force → destination force)
    let m = get(
        &f.st,
        &format!("/api/flows?format=matrix&direction=travel{q}"),
    )
    .await;
    let rows = m["rows"].as_array().unwrap();
    assert_eq!(rows.len(), want["flows"].as_object().unwrap().len());
    for r in rows {
        let key = format!(
            "{}>{}",
            r["origin_force"].as_str().unwrap(),
            r["destination_force"].as_str().unwrap()
        );
        for k in dk {
            assert_eq!(r[k], want["flows"][&key][k], "flow {key} {k}");
        }
    }
    let t = get(&f.st, &format!("/api/trends?interval=month{q}")).await;
    for b in t["buckets"].as_array().unwrap() {
        let e = &want["months"][b["period_start"].as_str().unwrap()];
        for k in dk {
            let e = if e.is_null() { json!(0) } else { e[k].clone() };
            assert_eq!(b[k], e, "month {} {k}", b["period_start"]);
        }
    }
    let h = get(&f.st, &format!("/api/hotspots?top=10000{q}")).await;
    for s in h["features"].as_array().unwrap() {
        let p = &s["properties"];
        let e = &want["stations"][p["crs"].as_str().unwrap()];
        for k in dk {
            let e = if e.is_null() { json!(0) } else { e[k].clone() };
            assert_eq!(p[k], e, "station {} {k}", p["crs"]);
        }
    }
    let dt = match (
        filter.iter().find(|x| x.0 == "from"),
        filter.iter().find(|x| x.0 == "to"),
    ) {
        (Some(a), Some(b)) => format!("&datetime={}/{}", a.1, b.1),
        _ => String::new(),
    };
    let mode: String = filter
        .iter()
        .filter(|x| x.0 == "mode")
        .map(|x| format!("&mode={}", x.1))
        .collect();
    let fc = get(
        &f.st,
        &format!("/collections/forces/items?limit=100{dt}{mode}"),
    )
    .await;
    for x in fc["features"].as_array().unwrap() {
        let p = &x["properties"];
        let e = &want["forces"][p["code"].as_str().unwrap()];
        for k in dk {
            let e = if e.is_null() { json!(0) } else { e[k].clone() };
            assert_eq!(p[k], e, "force {} {k}", p["code"]);
        }
    }
    // 4. the people list, in order, for two questions: everyone seen twice, and the children
    // moved through at least two force areas
    let people = want["people"].as_array().unwrap();
    for (params, group, min_j, min_f) in [
        ("min_journeys=2", "all", 2, 1),
        (
            "min_journeys=1&min_forces=3&group=children",
            "children",
            1,
            3,
        ),
        ("group=vulnerable_adults", "vulnerable_adults", 2, 1),
    ] {
        let got = get(&f.st, &format!("/api/people?{params}&limit=10000{q}")).await;
        let exp: Vec<Value> = people
            .iter()
            .filter(|p| {
                p["journeys"].as_u64().unwrap() >= min_j
                    && p["forces"].as_array().unwrap().len() >= min_f
                    && p["groups"].as_array().unwrap().contains(&json!(group))
            })
            .map(|p| {
                let mut p = p.clone();
                p.as_object_mut().unwrap().remove("groups");
                p.as_object_mut().unwrap().remove("journey_ids");
                p
            })
            .collect();
        if group == "all" {
            assert!(exp.len() > 20, "{params}{q}: {} people", exp.len());
        }
        assert_eq!(got["numberMatched"], json!(exp.len()), "{params}{q}");
        assert_eq!(got["people"], Value::Array(exp), "{params}{q}");
    }
    // 5. one person's journeys, in order, with the same summary
    let first = &people[0];
    let psn = first["person"].as_str().unwrap();
    let one = get(
        &f.st,
        &format!("/api/people/{psn}?{}", &q.trim_start_matches('&')),
    )
    .await;
    let ids: Vec<Value> = one["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].clone())
        .collect();
    assert_eq!(Value::Array(ids), first["journey_ids"]);
    let mut summary = first.clone();
    summary.as_object_mut().unwrap().remove("groups");
    summary.as_object_mut().unwrap().remove("journey_ids");
    assert_eq!(one["person"], summary);
}

#[tokio::test]
async fn treatment_distinct_counts_and_people_equal_an_independent_count_over_generated_reports() {
    let f = fixture(151).await;
    // the children moved through four or more force areas, in one request: the hand-written
    // one is there, with the areas in the order first seen (Euston: the Met; Norwich:
    // Norfolk; Ipswich: Suffolk; Cambridge: Cambridgeshire)
    let got = get(
        &f.st,
        "/api/people?to=2024-03-31&min_forces=4&group=children",
    )
    .await;
    let psn = linesmap::access::Pseudonyms::new(TEST_KEY.as_bytes().to_vec())
        .person("syn-people-escalating");
    let p = got["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["person"] == json!(psn));
    assert_eq!(
        p.map(|p| p["forces"].clone()),
        Some(json!(["E23000001", "E23000024", "E23000025", "E23000023"])),
        "{got}"
    );
    compare(&f, &[]).await;
    compare(&f, &[("from", "2023-01-01"), ("to", "2025-06-30")]).await;
    compare(&f, &[("mode", "rail")]).await;
    // the hand-written person is found, with every signal the rules give them: seen by the
    // Met (London), then at Norwich, Ipswich and Cambridge (4 areas), missing twice, runner
    // then line holder, arrested (and later charged) and never referred, gaps of 51, 19 and 2
    // days; asked about the first quarter of 2024, Suffolk (Ipswich, 1 March) is new within
    // the last 90 days
    let want = independent(&f, &[("to", "2024-03-31")]);
    let p = want["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["journey_ids"][0] == json!("syn-people-151-0"))
        .unwrap();
    assert_eq!(
        p["signals"],
        json!([
            "new_force_last_90_days",
            "shortening_intervals",
            "role_escalation",
            "repeated_missing_episodes",
            "arrested_never_referred"
        ]),
        "{p}"
    );
}

#[test]
fn funnel_quantiles_and_positions_equal_scipys() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/independent/funnel.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = v["cases"].as_array().unwrap();
    assert!(cases.len() >= 15);
    for c in cases {
        let n = c["n"].as_u64().unwrap();
        let p = c["p"].as_f64().unwrap();
        let q: Vec<u64> = c["quantiles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        assert_eq!(funnel::quantiles(n, p).to_vec(), q, "n {n} p {p}");
        for yp in c["positions"].as_array().unwrap() {
            let y = yp[0].as_u64().unwrap();
            let placed = funnel::place(y, n, p).unwrap();
            assert_eq!(
                placed.position.as_str(),
                yp[1].as_str().unwrap(),
                "n {n} p {p} y {y}"
            );
        }
    }
}
