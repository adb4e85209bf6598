//! Rectification (DPA 2018 s.46) and review under the MoPI code, on SQLite (across PostgreSQL
//! instances in `pg.rs`): who may, the versions kept, the layers' counts after a correction,
//! the review queue for reports whose dates are chosen so that their review dates are known,
//! retain and dispose, `linesmap review --due`, the audit entries, a restart, and an SQLite
//! store made by the previous build upgraded in place.
//!
//! The data: synthetic BTP rail reports (`common::report`): k = 0 Euston → Norwich, 1 Liverpool
//! Lime Street → Blackpool North, 2 Birmingham New Street → Swansea, 3 King's Cross →
//! Skegness, each on 2024-03-06 unless a test moves the date.

use super::common::{gb_arc, report, test_security, token_record};
use linesmap::access::Role;
use linesmap::http::{AppState, routes};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const ADMIN: &str = "lm_4444444444444444444444444444444444444444444444444444444444444444";
const ANALYST: &str = "lm_3333333333333333333333333333333333333333333333333333333333333333";
const WHY: &str = "DPA 2018 s.46: the destination was recorded wrongly (synthetic)";

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("linesmap-records-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn state(dir: &Path) -> Arc<AppState> {
    let store = linesmap::store::SqliteStore::open(&dir.join("s.sqlite")).unwrap();
    let journeys = Arc::new(linesmap::ingest::Journeys::new(
        gb_arc().clone(),
        Arc::new(store),
    ));
    journeys.load().unwrap();
    let sec = test_security(
        dir,
        vec![
            token_record("tok_admin", Role::Admin, ADMIN),
            token_record("tok_analyst", Role::Analyst, ANALYST),
        ],
        None,
    );
    AppState::with_security(journeys, None, sec)
}

/// (status, body: JSON when it is, else the text as a JSON string)
async fn call(
    st: &Arc<AppState>,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    why: Option<&str>,
    body: Option<String>,
) -> (u16, Value) {
    let mut r = warp::test::request().method(method).path(path);
    if let Some(b) = bearer {
        r = r.header("authorization", format!("Bearer {b}"));
    }
    if let Some(w) = why {
        r = r.header("x-justification", w);
    }
    if let Some(b) = body {
        r = r.header("content-type", "application/json").body(b);
    }
    let r = r.reply(&routes(st.clone())).await;
    let text = String::from_utf8_lossy(r.body()).into_owned();
    (
        r.status().as_u16(),
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A report `common::report(id, k)` on another date (the journey and the report time).
pub(super) fn report_on(id: &str, k: usize, date: &str) -> String {
    report(id, k).replace("2024-03-06", date)
}

async fn post(st: &Arc<AppState>, bodies: &[String]) {
    let (s, v) = call(
        st,
        "POST",
        "/api/journeys",
        Some(ADMIN),
        None,
        Some(format!("[{}]", bodies.join(","))),
    )
    .await;
    assert_eq!(s, 201, "{v}");
}

/// Journeys starting, ending at a station in the admin's hotspot layer (0 when unlisted).
async fn station_count(st: &Arc<AppState>, crs: &str, what: &str) -> u64 {
    let (s, v) = call(
        st,
        "GET",
        "/api/hotspots?top=10000",
        Some(ADMIN),
        None,
        None,
    )
    .await;
    assert_eq!(s, 200);
    v["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["crs"] == crs)
        .map_or(0, |f| f["properties"][what].as_u64().unwrap())
}

async fn audit_count(st: &Arc<AppState>, action: &str) -> Value {
    let (s, log) = call(
        st,
        "GET",
        &format!("/api/audit?action={action}"),
        Some(ADMIN),
        None,
        None,
    )
    .await;
    assert_eq!(s, 200, "{log}");
    log
}

#[tokio::test]
async fn a_rectified_report_replaces_its_counts_keeps_its_versions_and_survives_a_restart() {
    let dir = temp("rectify");
    let st = state(&dir);
    post(
        &st,
        &(0..4)
            .map(|k| report(&format!("syn-rec-{k}"), k))
            .collect::<Vec<_>>(),
    )
    .await;
    // Before: one journey ends at Norwich (syn-rec-0), one at Blackpool North (syn-rec-1).
    assert_eq!(station_count(&st, "NRW", "ends").await, 1);
    assert_eq!(station_count(&st, "BPN", "ends").await, 1);
    assert_eq!(station_count(&st, "LIV", "starts").await, 1);

    // The correction: syn-rec-1 went from Lime Street to Norwich, not Blackpool North. Sent
    // without its report_id (the path's is taken).
    let mut fixed: Value =
        serde_json::from_str(&report("syn-rec-1", 1).replace("\"BPN\"", "\"NRW\"")).unwrap();
    fixed.as_object_mut().unwrap().remove("report_id");
    let p = "/api/journeys/syn-rec-1";
    let body = || Some(fixed.to_string());
    // Who may, and how.
    assert_eq!(call(&st, "PUT", p, None, Some(WHY), body()).await.0, 401);
    assert_eq!(
        call(&st, "PUT", p, Some(ANALYST), Some(WHY), body())
            .await
            .0,
        403
    );
    let (s, v) = call(&st, "PUT", p, Some(ADMIN), None, body()).await;
    assert_eq!(
        (s, v["code"].clone()),
        (403, json!("justification_required")),
        "{v}"
    );
    let (s, v) = call(
        &st,
        "PUT",
        "/api/journeys/syn-rec-9",
        Some(ADMIN),
        Some(WHY),
        body(),
    )
    .await;
    assert_eq!((s, v["code"].clone()), (404, json!("not_found")), "{v}");
    let (s, v) = call(
        &st,
        "PUT",
        p,
        Some(ADMIN),
        Some(WHY),
        Some(report("syn-rec-2", 1)),
    )
    .await;
    assert_eq!((s, v["code"].clone()), (400, json!("bad_request")), "{v}");
    assert!(v["message"].as_str().unwrap().contains("syn-rec-2"), "{v}");
    let (s, v) = call(
        &st,
        "PUT",
        p,
        Some(ADMIN),
        Some(WHY),
        Some("{\"report_id\":".into()),
    )
    .await;
    assert_eq!((s, v["code"].clone()), (400, json!("invalid_json")), "{v}");
    let bad = report("syn-rec-1", 1).replace("\"rail\"", "\"teleport\"");
    let (s, v) = call(&st, "PUT", p, Some(ADMIN), Some(WHY), Some(bad)).await;
    assert_eq!(
        (s, v["code"].clone()),
        (400, json!("invalid_report")),
        "{v}"
    );
    assert!(
        v["errors"][0]["path"].as_str().unwrap().contains("mode"),
        "{v}"
    );
    // Nothing of the refused requests changed anything.
    assert_eq!(station_count(&st, "BPN", "ends").await, 1);

    let (s, v) = call(&st, "PUT", p, Some(ADMIN), Some(WHY), body()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["version"].clone(), v["changed"].clone()),
        (json!(2), json!(true))
    );
    // At once: one count moved from Blackpool North to Norwich; Lime Street still starts one;
    // still four journeys.
    assert_eq!(station_count(&st, "NRW", "ends").await, 2);
    assert_eq!(station_count(&st, "BPN", "ends").await, 0);
    assert_eq!(station_count(&st, "LIV", "starts").await, 1);
    let (_, t) = call(
        &st,
        "GET",
        "/api/trends?interval=month",
        Some(ANALYST),
        None,
        None,
    )
    .await;
    assert_eq!(t["journeys"], 4);
    let (s, one) = call(&st, "GET", p, Some(ANALYST), None, None).await;
    assert_eq!(s, 200);
    assert_eq!(one["properties"]["destination_station"], "NRW", "{one}");
    // The same content again changes nothing (a retried PUT): no new version.
    let (s, v) = call(&st, "PUT", p, Some(ADMIN), Some(WHY), body()).await;
    assert_eq!(
        (s, v["version"].clone(), v["changed"].clone()),
        (200, json!(2), json!(false))
    );

    // A second correction (the date), then the versions, newest first.
    let later = report("syn-rec-1", 1)
        .replace("\"BPN\"", "\"NRW\"")
        .replace("\"date\":\"2024-03-06\"", "\"date\":\"2024-03-05\"");
    let why3 = "the date was a day out (synthetic)";
    let (s, v) = call(&st, "PUT", p, Some(ADMIN), Some(why3), Some(later)).await;
    assert_eq!((s, v["version"].clone()), (200, json!(3)), "{v}");
    let vp = "/api/journeys/syn-rec-1/versions";
    assert_eq!(call(&st, "GET", vp, Some(ANALYST), None, None).await.0, 403);
    let (s, v) = call(&st, "GET", vp, Some(ADMIN), None, None).await;
    assert_eq!(s, 200, "{v}");
    let list = v["versions"].as_array().unwrap();
    let row = |i: usize| {
        (
            list[i]["version"].clone(),
            list[i]["current"].clone(),
            list[i]["actor"].clone(),
            list[i]["reason"].clone(),
            list[i]["report"]["journey"]["date"].clone(),
            list[i]["report"]["journey"]["destination"]["station"].clone(),
        )
    };
    assert_eq!(list.len(), 3);
    assert_eq!(
        row(0),
        (
            json!(3),
            json!(true),
            json!("admin tester"),
            json!(why3),
            json!("2024-03-05"),
            json!("NRW")
        )
    );
    assert_eq!(
        row(1),
        (
            json!(2),
            json!(false),
            json!("admin tester"),
            json!(WHY),
            json!("2024-03-06"),
            json!("NRW")
        )
    );
    assert_eq!(
        row(2),
        (
            json!(1),
            json!(false),
            Value::Null,
            Value::Null,
            json!("2024-03-06"),
            json!("BPN")
        )
    );
    // person ids only as pseudonyms
    let text = v.to_string();
    assert!(!text.contains("syn-syn-rec-1"), "{text}");
    assert!(
        list[2]["report"]["persons"][0]["pseudonym"]
            .as_str()
            .unwrap()
            .starts_with("psn_")
    );
    assert_eq!(
        call(
            &st,
            "GET",
            "/api/journeys/syn-rec-9/versions",
            Some(ADMIN),
            None,
            None
        )
        .await
        .0,
        404
    );

    // A restricted report may be rectified and stays restricted.
    let r = "/api/journeys/syn-rec-2/restrict";
    assert_eq!(
        call(&st, "POST", r, Some(ADMIN), Some(WHY), None).await.0,
        200
    );
    let moved = report("syn-rec-2", 2).replace("\"SWA\"", "\"NRW\"");
    let (s, v) = call(
        &st,
        "PUT",
        "/api/journeys/syn-rec-2",
        Some(ADMIN),
        Some(WHY),
        Some(moved),
    )
    .await;
    assert_eq!((s, v["version"].clone()), (200, json!(2)), "{v}");
    assert_eq!(
        call(
            &st,
            "GET",
            "/api/journeys/syn-rec-2",
            Some(ANALYST),
            None,
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(
        station_count(&st, "NRW", "ends").await,
        2,
        "a restricted report is not counted"
    );

    // An erased report is 410, its versions too; erasure takes every version's content.
    assert_eq!(
        call(
            &st,
            "DELETE",
            "/api/journeys/syn-rec-3",
            Some(ADMIN),
            Some(WHY),
            None
        )
        .await
        .0,
        200
    );
    let (s, v) = call(
        &st,
        "PUT",
        "/api/journeys/syn-rec-3",
        Some(ADMIN),
        Some(WHY),
        Some(report("syn-rec-3", 0)),
    )
    .await;
    assert_eq!((s, v["code"].clone()), (410, json!("erased")), "{v}");
    assert_eq!(
        call(
            &st,
            "GET",
            "/api/journeys/syn-rec-3/versions",
            Some(ADMIN),
            None,
            None
        )
        .await
        .0,
        410
    );

    // Audited: the four PUTs answered 200 (the unchanged one with 0 records), the versions read.
    let log = audit_count(&st, "rectify").await;
    assert_eq!(log["numberMatched"], 4, "{log}");
    let ev = &log["events"][0];
    assert_eq!(
        (
            ev["path"].clone(),
            ev["justification"].clone(),
            ev["role"].clone(),
            ev["records"].clone()
        ),
        (json!(p), json!(WHY), json!("admin"), json!(1))
    );
    assert_eq!(
        log["events"][1]["records"], 0,
        "the unchanged resend: {log}"
    );
    assert_eq!(audit_count(&st, "read_versions").await["numberMatched"], 1);

    // A restart: the current version is loaded, the versions kept, the restriction too.
    drop(st);
    let st = state(&dir);
    assert_eq!(station_count(&st, "NRW", "ends").await, 2);
    assert_eq!(station_count(&st, "BPN", "ends").await, 0);
    let (_, v) = call(&st, "GET", vp, Some(ADMIN), None, None).await;
    assert_eq!(v["versions"].as_array().unwrap().len(), 3);
    assert_eq!(
        call(
            &st,
            "GET",
            "/api/journeys/syn-rec-2",
            Some(ANALYST),
            None,
            None
        )
        .await
        .0,
        404
    );
    // The index knows the version it holds, so the follower does not read it again.
    assert_eq!(st.journeys.index().version_of("syn-rec-1"), 3);
    assert_eq!(st.journeys.catch_up().unwrap(), 0);

    // Erasing a rectified report erases every version: no row, no byte of any in the file.
    assert_eq!(
        call(&st, "DELETE", p, Some(ADMIN), Some(WHY), None).await.0,
        200
    );
    let store = st.journeys.store().clone();
    assert!(store.versions("syn-rec-1").unwrap().is_none());
    store.checkpoint().unwrap();
    let bytes = std::fs::read(dir.join("s.sqlite")).unwrap();
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(
        !has(b"syn-syn-rec-1"),
        "an erased version's content is in the file"
    );
    assert!(has(b"syn-syn-rec-0"), "the search finds what is there");
    drop((st, store));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The review-queue reports: journey dates chosen so that their review dates, six years on,
/// are known: a 2018-05-01 → 2024-05-01, b 2019-01-15 → 2025-01-15, c 2020-02-29 → 2026-02-28
/// (no 29 February in 2026: the month's last day), d 2023-07-01 → 2029-07-01.
const REVIEW_SET: [(&str, &str); 4] = [
    ("syn-rev-a", "2018-05-01"),
    ("syn-rev-b", "2019-01-15"),
    ("syn-rev-c", "2020-02-29"),
    ("syn-rev-d", "2023-07-01"),
];

async fn queue(st: &Arc<AppState>, query: &str) -> Value {
    let (s, v) = call(
        st,
        "GET",
        &format!("/api/review?{query}"),
        Some(ADMIN),
        None,
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v
}

fn ids_and_dates(v: &Value) -> Vec<(String, String)> {
    v["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["report_id"].as_str().unwrap().to_string(),
                r["review_date"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

async fn decide(st: &Arc<AppState>, id: &str, body: Value) -> (u16, Value) {
    call(
        st,
        "POST",
        &format!("/api/review/{id}"),
        Some(ADMIN),
        Some("MoPI review board (synthetic)"),
        Some(body.to_string()),
    )
    .await
}

#[tokio::test]
async fn the_review_queue_lists_due_reports_oldest_first_and_retain_and_dispose_act_on_it() {
    let dir = temp("review");
    let st = state(&dir);
    post(
        &st,
        &REVIEW_SET
            .iter()
            .enumerate()
            .map(|(k, (id, d))| report_on(id, k, d))
            .collect::<Vec<_>>(),
    )
    .await;
    let v = queue(&st, "due_before=2026-03-01").await;
    assert_eq!(
        ids_and_dates(&v),
        pairs(&[
            ("syn-rev-a", "2024-05-01"),
            ("syn-rev-b", "2025-01-15"),
            ("syn-rev-c", "2026-02-28")
        ])
    );
    assert_eq!(
        (v["numberMatched"].clone(), v["review_after"].clone()),
        (json!(3), json!("6y"))
    );
    assert_eq!(v["reports"][0]["journey_date"], "2018-05-01");
    assert_eq!(v["reports"][0]["last_decision"], Value::Null);
    // "before" is strict: c is due on 2026-02-28 itself
    assert_eq!(
        ids_and_dates(&queue(&st, "due_before=2026-02-28").await),
        pairs(&[("syn-rev-a", "2024-05-01"), ("syn-rev-b", "2025-01-15")])
    );
    let page = queue(&st, "due_before=2026-03-01&limit=1&offset=1").await;
    assert_eq!(ids_and_dates(&page), pairs(&[("syn-rev-b", "2025-01-15")]));
    assert_eq!(
        (
            page["numberMatched"].clone(),
            page["numberReturned"].clone()
        ),
        (json!(3), json!(1))
    );
    for bad in [
        "due_before=2026-02-30",
        "due_before=soon",
        "limit=0",
        "when=2026-01-01",
    ] {
        let (s, v) = call(
            &st,
            "GET",
            &format!("/api/review?{bad}"),
            Some(ADMIN),
            None,
            None,
        )
        .await;
        assert_eq!(s, 400, "{bad}: {v}");
    }
    assert_eq!(
        call(&st, "GET", "/api/review", Some(ANALYST), None, None)
            .await
            .0,
        403
    );

    // Refused decisions, each naming its problem.
    for (body, needle) in [
        (
            json!({"decision": "retain", "review_date": "2020-01-01", "reason": "x"}),
            "not after today",
        ),
        (
            json!({"decision": "retain", "reason": "x"}),
            "needs a review_date",
        ),
        (
            json!({"decision": "dispose", "review_date": "2030-01-01", "reason": "x"}),
            "takes no review_date",
        ),
        (
            json!({"decision": "keep", "reason": "x"}),
            "\"retain\" or \"dispose\"",
        ),
        (
            json!({"decision": "retain", "review_date": "2030-01-01"}),
            "needs a reason",
        ),
        (
            json!({"decision": "retain", "review_date": "2030-01-01", "reason": "x", "by": "me"}),
            "unknown field \"by\"",
        ),
        (
            json!({"decision": "retain", "review_date": "30/01/2030", "reason": "x"}),
            "is not a date",
        ),
    ] {
        let (s, v) = decide(&st, "syn-rev-b", body.clone()).await;
        assert_eq!(s, 400, "{body}: {v}");
        assert!(
            v["message"].as_str().unwrap().contains(needle),
            "{body}: {v}"
        );
    }
    let retain = json!({"decision": "retain", "review_date": "2030-01-01", "reason": "MoPI group 2: still linked to a live line (synthetic)"});
    let (s, v) = call(
        &st,
        "POST",
        "/api/review/syn-rev-b",
        Some(ADMIN),
        None,
        Some(retain.to_string()),
    )
    .await;
    assert_eq!(
        (s, v["code"].clone()),
        (403, json!("justification_required")),
        "{v}"
    );
    assert_eq!(
        call(
            &st,
            "POST",
            "/api/review/syn-rev-b",
            Some(ANALYST),
            Some("x"),
            Some(retain.to_string())
        )
        .await
        .0,
        403
    );
    assert_eq!(decide(&st, "syn-rev-z", retain.clone()).await.0, 404);

    // Retained to 2030-01-01: out of the queue before then, listed with its decision after.
    let (s, v) = decide(&st, "syn-rev-b", retain.clone()).await;
    assert_eq!(
        (s, v["decision"].clone(), v["review_date"].clone()),
        (200, json!("retain"), json!("2030-01-01")),
        "{v}"
    );
    assert_eq!(
        ids_and_dates(&queue(&st, "due_before=2026-03-01").await),
        pairs(&[("syn-rev-a", "2024-05-01"), ("syn-rev-c", "2026-02-28")])
    );
    let all = queue(&st, "due_before=2031-01-01").await;
    assert_eq!(
        ids_and_dates(&all),
        pairs(&[
            ("syn-rev-a", "2024-05-01"),
            ("syn-rev-c", "2026-02-28"),
            ("syn-rev-d", "2029-07-01"),
            ("syn-rev-b", "2030-01-01")
        ])
    );
    let b = &all["reports"][3];
    assert_eq!(b["review_date_set"], true);
    assert_eq!(
        (
            b["last_decision"]["decision"].clone(),
            b["last_decision"]["review_date"].clone(),
            b["last_decision"]["reason"].clone(),
            b["last_decision"]["actor"].clone()
        ),
        (
            json!("retain"),
            json!("2030-01-01"),
            retain["reason"].clone(),
            json!("admin tester")
        )
    );
    // Retained again: the history keeps both, newest first.
    let again = json!({"decision": "retain", "review_date": "2032-06-30", "reason": "MoPI review, group 2 (synthetic)"});
    assert_eq!(decide(&st, "syn-rev-b", again.clone()).await.0, 200);
    let v = queue(&st, "due_before=2033-01-01").await;
    let b = v["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["report_id"] == "syn-rev-b")
        .unwrap();
    assert_eq!(b["review_date"], "2032-06-30");
    let history: Vec<&str> = b["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["review_date"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["2032-06-30", "2030-01-01"]);

    // Disposed: erased as DELETE erases, out of the queue, the id refused from then on.
    let dispose =
        json!({"decision": "dispose", "reason": "MoPI review: no longer necessary (synthetic)"});
    let (s, v) = decide(&st, "syn-rev-a", dispose.clone()).await;
    assert_eq!((s, v["erased"].clone()), (200, json!(true)), "{v}");
    assert_eq!(
        ids_and_dates(&queue(&st, "due_before=2026-03-01").await),
        pairs(&[("syn-rev-c", "2026-02-28")])
    );
    assert_eq!(
        call(
            &st,
            "GET",
            "/api/journeys/syn-rev-a",
            Some(ADMIN),
            None,
            None
        )
        .await
        .0,
        404
    );
    let (s, v) = call(
        &st,
        "POST",
        "/api/journeys",
        Some(ADMIN),
        None,
        Some(report_on("syn-rev-a", 0, "2018-05-01")),
    )
    .await;
    assert_eq!((s, v["code"].clone()), (410, json!("erased")), "{v}");
    assert_eq!(decide(&st, "syn-rev-a", dispose.clone()).await.0, 410);
    assert_eq!(decide(&st, "syn-rev-a", again.clone()).await.0, 410);
    let t = st.journeys.store().tombstones().unwrap();
    assert_eq!(
        (t[0].report_id.as_str(), t[0].reason.as_str()),
        ("syn-rev-a", dispose["reason"].as_str().unwrap())
    );

    // Audited: the reads of the queue, each decision with the caller's justification.
    assert_eq!(audit_count(&st, "review_retain").await["numberMatched"], 2);
    let log = audit_count(&st, "review_dispose").await;
    assert_eq!(log["numberMatched"], 1, "{log}");
    assert_eq!(
        (
            log["events"][0]["path"].clone(),
            log["events"][0]["justification"].clone()
        ),
        (
            json!("/api/review/syn-rev-a"),
            json!("MoPI review board (synthetic)")
        )
    );
    assert_eq!(audit_count(&st, "read_review").await["numberMatched"], 7);

    // A restart keeps the decisions.
    drop(st);
    let st = state(&dir);
    assert_eq!(
        ids_and_dates(&queue(&st, "due_before=2033-01-01").await),
        pairs(&[
            ("syn-rev-c", "2026-02-28"),
            ("syn-rev-d", "2029-07-01"),
            ("syn-rev-b", "2032-06-30")
        ])
    );
    drop(st);

    // The command line prints the same queue for a scheduled job.
    let out = review_cli(&[
        "--before",
        "2033-01-01",
        "--store",
        dir.join("s.sqlite").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(
        lines[0],
        "report_id,journey_date,review_date,review_date_set,last_decision,last_decision_at,last_decision_by,last_reason"
    );
    assert_eq!(lines[1], "syn-rev-c,2020-02-29,2026-02-28,false,,,,");
    assert_eq!(lines[2], "syn-rev-d,2023-07-01,2029-07-01,false,,,,");
    // the reason holds a comma: quoted
    assert!(
        lines[3].starts_with("syn-rev-b,2019-01-15,2032-06-30,true,retain,20"),
        "{}",
        lines[3]
    );
    assert!(
        lines[3].ends_with(",admin tester,\"MoPI review, group 2 (synthetic)\""),
        "{}",
        lines[3]
    );
    // Another period: 18 months from the journey date (c 2021-08-29, d 2025-01-01; b's own date
    // stays 2032-06-30).
    let out = review_cli(&[
        "--before",
        "2025-01-02",
        "--review-after",
        "18m",
        "--format",
        "json",
        "--store",
        dir.join("s.sqlite").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        ids_and_dates(&v),
        pairs(&[("syn-rev-c", "2021-08-29"), ("syn-rev-d", "2025-01-01")])
    );
    assert_eq!(
        (v["numberMatched"].clone(), v["review_after"].clone()),
        (json!(2), json!("18m"))
    );
    // Nothing due: the header alone, exit 0.
    let out = review_cli(&[
        "--before",
        "2021-01-01",
        "--store",
        dir.join("s.sqlite").to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 1);
    // A bad date, a bad period or a missing store: an error naming it.
    for (args, needle) in [
        (
            vec![
                "--before",
                "2026-13-01",
                "--store",
                dir.join("s.sqlite").to_str().unwrap(),
            ],
            "2026-13-01",
        ),
        (
            vec![
                "--review-after",
                "6w",
                "--store",
                dir.join("s.sqlite").to_str().unwrap(),
            ],
            "6w",
        ),
        (
            vec!["--store", dir.join("none.sqlite").to_str().unwrap()],
            "no such store",
        ),
    ] {
        let out = review_cli(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(needle),
            "{args:?}: {err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `linesmap review --due` with `args`.
pub(super) fn review_cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_linesmap"))
        .args(["review", "--due"])
        .args(args)
        .output()
        .expect("linesmap review runs")
}

#[test]
fn an_sqlite_store_of_the_previous_schema_is_upgraded_in_place() {
    use linesmap::store::{JourneyStore, Rectification, Rectified, SqliteStore};
    let dir = temp("upgrade");
    let path = dir.join("old.sqlite");
    // The schema as the previous build left it (migrations 1-3), with one report in it.
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE reports (seq INTEGER PRIMARY KEY AUTOINCREMENT, report_id TEXT NOT NULL UNIQUE, received_at TEXT NOT NULL, body TEXT NOT NULL);
             CREATE TABLE restrictions (report_id TEXT PRIMARY KEY REFERENCES reports (report_id), reason TEXT NOT NULL, actor TEXT NOT NULL, at TEXT NOT NULL);
             CREATE TABLE tombstones (seq INTEGER PRIMARY KEY AUTOINCREMENT, report_id TEXT NOT NULL UNIQUE, at TEXT NOT NULL, actor TEXT NOT NULL, reason TEXT NOT NULL);
             PRAGMA user_version = 3;",
        )
        .unwrap();
        c.execute(
            "INSERT INTO reports (report_id, received_at, body) VALUES ('syn-old-1', '2025-01-01T00:00:00Z', ?1)",
            [report_on("syn-old-1", 0, "2019-01-15")],
        )
        .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    let r = s.get("syn-old-1").unwrap().unwrap();
    assert_eq!((r.seq, r.version), (1, 1));
    // the journey date was filled in: due on 2025-01-15, six years on
    let due =
        linesmap::store::review_queue(&s, Default::default(), time::macros::date!(2026 - 01 - 01))
            .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].journey_date.as_str(), due[0].review_date.as_str()),
        ("2019-01-15", "2025-01-15")
    );
    // and it can be rectified: a new sequence number past the old
    let fixed = report_on("syn-old-1", 1, "2019-01-15");
    let done = s
        .rectify(&Rectification {
            report_id: "syn-old-1".into(),
            body: fixed.clone(),
            at: "2026-11-30T00:00:00Z".into(),
            actor: "t".into(),
            reason: "r".into(),
        })
        .unwrap();
    assert_eq!(done, Rectified::Done { version: 2 });
    let r = s.get("syn-old-1").unwrap().unwrap();
    assert_eq!((r.seq, r.version, r.body.as_str()), (2, 2, fixed.as_str()));
    let user_version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(user_version, 5);
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
