//! Restriction and erasure (DPA 2018 s.47): a restricted report is kept, but withheld from
//! every layer, list, export and read except an admin's; an erased one is gone from the store
//! and everything built on it, a tombstone keeping its id, when, who and why. Both are done by
//! admins with a reason, audited, and kept across a restart (SQLite here; across PostgreSQL
//! instances in `pg.rs`).
//!
//! The data: four synthetic BTP rail reports (`common::report`): Euston → Norwich, Liverpool
//! Lime Street → Blackpool North, Birmingham New Street → Swansea, King's Cross → Skegness.

use super::common::{gb_arc, report, test_security, token_record};
use linesmap::access::Role;
use linesmap::http::{AppState, routes};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;

const ADMIN: &str = "lm_4444444444444444444444444444444444444444444444444444444444444444";
const ANALYST: &str = "lm_3333333333333333333333333333333333333333333333333333333333333333";
const WHY: &str = "DPA 2018 s.47: accuracy contested by the reporting force (synthetic)";

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
    bearer: &str,
    why: Option<&str>,
    body: Option<String>,
) -> (u16, Value) {
    let mut r = warp::test::request()
        .method(method)
        .path(path)
        .header("authorization", format!("Bearer {bearer}"));
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

async fn post_batch(st: &Arc<AppState>, prefix: &str) {
    let batch = format!(
        "[{}]",
        (0..4)
            .map(|k| report(&format!("{prefix}-{k}"), k))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert_eq!(
        call(st, "POST", "/api/journeys", ADMIN, None, Some(batch))
            .await
            .0,
        201
    );
}

async fn ids(st: &Arc<AppState>, bearer: &str) -> Vec<String> {
    let (s, v) = call(st, "GET", "/api/journeys?limit=100", bearer, None, None).await;
    assert_eq!(s, 200, "{v}");
    v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

async fn trend_total(st: &Arc<AppState>, bearer: &str) -> Value {
    call(st, "GET", "/api/trends?interval=month", bearer, None, None)
        .await
        .1["journeys"]
        .clone()
}

async fn export_rows(st: &Arc<AppState>, bearer: &str) -> usize {
    let (s, v) = call(
        st,
        "GET",
        "/api/export?collection=journeys&format=csv",
        bearer,
        None,
        None,
    )
    .await;
    assert_eq!(s, 200);
    v.as_str().unwrap().lines().count() - 1
}

/// Journeys starting at Liverpool Lime Street in the admin's hotspot layer (0 if unlisted).
async fn starts_at_liv(st: &Arc<AppState>) -> u64 {
    let (s, v) = call(st, "GET", "/api/hotspots?top=10000", ADMIN, None, None).await;
    assert_eq!(s, 200);
    v["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["crs"] == "LIV")
        .map_or(0, |f| f["properties"]["starts"].as_u64().unwrap())
}

#[tokio::test]
async fn a_restricted_report_is_withheld_from_all_but_admins_audited_and_kept_across_a_restart() {
    let dir = std::env::temp_dir().join(format!("linesmap-restrict-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let st = state(&dir);
    let batch = format!(
        "[{}]",
        (0..4)
            .map(|k| report(&format!("syn-res-{k}"), k))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert_eq!(
        call(&st, "POST", "/api/journeys", ADMIN, None, Some(batch))
            .await
            .0,
        201
    );
    let all = ["syn-res-0", "syn-res-1", "syn-res-2", "syn-res-3"];
    assert_eq!(ids(&st, ANALYST).await, all);
    assert_eq!(trend_total(&st, ADMIN).await, 4);
    assert_eq!(
        starts_at_liv(&st).await,
        1,
        "syn-res-1 starts at Lime Street"
    );

    // Who may restrict, and how.
    let p = "/api/journeys/syn-res-1/restrict";
    assert_eq!(call(&st, "POST", p, ANALYST, Some(WHY), None).await.0, 403);
    let (s, v) = call(&st, "POST", p, ADMIN, None, None).await;
    assert_eq!(
        (s, v["code"].clone()),
        (403, json!("justification_required")),
        "{v}"
    );
    let (s, v) = call(
        &st,
        "POST",
        "/api/journeys/syn-res-9/restrict",
        ADMIN,
        Some(WHY),
        None,
    )
    .await;
    assert_eq!((s, v["code"].clone()), (404, json!("not_found")), "{v}");
    let (s, v) = call(&st, "GET", p, ADMIN, None, None).await;
    assert_eq!(s, 405, "{v}");
    let (s, v) = call(&st, "POST", p, ADMIN, Some(WHY), None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (
            v["report_id"].clone(),
            v["restricted"].clone(),
            v["reason"].clone()
        ),
        (json!("syn-res-1"), json!(true), json!(WHY))
    );

    // Withheld from the analyst's list, read, OGC item and export; kept for the admin's.
    let rest = ["syn-res-0", "syn-res-2", "syn-res-3"];
    assert_eq!(ids(&st, ANALYST).await, rest);
    assert_eq!(ids(&st, ADMIN).await, all);
    assert_eq!(
        call(&st, "GET", "/api/journeys/syn-res-1", ANALYST, None, None)
            .await
            .0,
        404
    );
    assert_eq!(
        call(
            &st,
            "GET",
            "/collections/journeys/items/syn-res-1",
            ANALYST,
            None,
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(
        call(&st, "GET", "/api/journeys/syn-res-1", ADMIN, None, None)
            .await
            .0,
        200
    );
    assert_eq!(export_rows(&st, ANALYST).await, 3);
    assert_eq!(export_rows(&st, ADMIN).await, 4);
    // Every layer leaves it out, for every role: 3 journeys; Lime Street no longer starts one.
    assert_eq!(trend_total(&st, ADMIN).await, 3);
    assert_eq!(trend_total(&st, ANALYST).await, 3);
    assert_eq!(starts_at_liv(&st).await, 0);
    // Audited with its reason.
    let (_, log) = call(&st, "GET", "/api/audit?action=restrict", ADMIN, None, None).await;
    let ev = &log["events"][0];
    assert_eq!(log["numberMatched"], 1, "{log}");
    assert_eq!(
        (
            ev["path"].clone(),
            ev["justification"].clone(),
            ev["records"].clone(),
            ev["role"].clone()
        ),
        (json!(p), json!(WHY), json!(1), json!("admin"))
    );

    // A restart (the store reopened, the index rebuilt) keeps the restriction.
    drop(st);
    let st = state(&dir);
    assert_eq!(ids(&st, ANALYST).await, rest);
    assert_eq!(trend_total(&st, ADMIN).await, 3);

    // Lifted: back everywhere. Lifting it again is a conflict.
    let u = "/api/journeys/syn-res-1/unrestrict";
    let (s, v) = call(
        &st,
        "POST",
        u,
        ADMIN,
        Some("restriction reviewed (synthetic)"),
        None,
    )
    .await;
    assert_eq!((s, v["restricted"].clone()), (200, json!(false)), "{v}");
    assert_eq!(ids(&st, ANALYST).await, all);
    assert_eq!(trend_total(&st, ANALYST).await, 4);
    let (s, v) = call(&st, "POST", u, ADMIN, Some("again"), None).await;
    assert_eq!((s, v["code"].clone()), (409, json!("conflict")), "{v}");
    let (_, log) = call(
        &st,
        "GET",
        "/api/audit?action=unrestrict",
        ADMIN,
        None,
        None,
    )
    .await;
    assert_eq!(
        log["numberMatched"], 1,
        "the refused second lift is not an action taken: {log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_erased_report_leaves_the_store_and_every_answer_and_its_id_stays_refused() {
    let dir = std::env::temp_dir().join(format!("linesmap-erase-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let st = state(&dir);
    post_batch(&st, "syn-era").await;
    let p = "/api/journeys/syn-era-2";
    assert_eq!(
        call(&st, "DELETE", p, ANALYST, Some(WHY), None).await.0,
        403
    );
    let (s, v) = call(&st, "DELETE", p, ADMIN, None, None).await;
    assert_eq!(
        (s, v["code"].clone()),
        (403, json!("justification_required")),
        "{v}"
    );
    let (s, v) = call(
        &st,
        "DELETE",
        "/api/journeys/syn-era-9",
        ADMIN,
        Some(WHY),
        None,
    )
    .await;
    assert_eq!((s, v["code"].clone()), (404, json!("not_found")), "{v}");
    let (s, v) = call(&st, "DELETE", p, ADMIN, Some(WHY), None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["report_id"].clone(), v["erased"].clone()),
        (json!("syn-era-2"), json!(true))
    );
    // A restricted report can be erased too: its restriction goes with it.
    let r = "/api/journeys/syn-era-1/restrict";
    assert_eq!(call(&st, "POST", r, ADMIN, Some(WHY), None).await.0, 200);
    assert_eq!(
        call(
            &st,
            "DELETE",
            "/api/journeys/syn-era-1",
            ADMIN,
            Some(WHY),
            None
        )
        .await
        .0,
        200
    );
    let store = st.journeys.store().clone();
    assert!(store.restrictions().unwrap().is_empty());

    // Gone for everyone, admins included: reads, lists, exports, layers.
    let left = ["syn-era-0", "syn-era-3"];
    assert_eq!(ids(&st, ADMIN).await, left);
    assert_eq!(call(&st, "GET", p, ADMIN, None, None).await.0, 404);
    assert_eq!(export_rows(&st, ADMIN).await, 2);
    assert_eq!(trend_total(&st, ADMIN).await, 2);
    assert_eq!(
        starts_at_liv(&st).await,
        0,
        "syn-era-1 started at Lime Street"
    );
    // Gone from the store: no row, and (secure_delete, WAL checkpointed) not a byte of the
    // report left in the file; the person id below was only in the erased report.
    assert!(store.get("syn-era-2").unwrap().is_none());
    store.checkpoint().unwrap();
    let bytes = std::fs::read(dir.join("s.sqlite")).unwrap();
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(
        !has(b"syn-syn-era-2") && !has(b"syn-syn-era-1"),
        "erased content is in the file"
    );
    assert!(has(b"syn-syn-era-3"), "the search finds what is there");
    // The tombstone: id, when, who, why.
    let t = store.tombstones().unwrap();
    assert_eq!(
        t.iter().map(|t| t.report_id.as_str()).collect::<Vec<_>>(),
        ["syn-era-2", "syn-era-1"]
    );
    assert_eq!(
        (t[0].actor.as_str(), t[0].reason.as_str()),
        ("admin tester", WHY)
    );

    // The id stays refused: a resend is 410, in a batch "erased"; a second erasure 410.
    let (s, v) = call(
        &st,
        "POST",
        "/api/journeys",
        ADMIN,
        None,
        Some(report("syn-era-2", 2)),
    )
    .await;
    assert_eq!((s, v["code"].clone()), (410, json!("erased")), "{v}");
    let batch = format!("[{},{}]", report("syn-era-2", 2), report("syn-era-4", 0));
    let (s, v) = call(&st, "POST", "/api/journeys", ADMIN, None, Some(batch)).await;
    assert_eq!(s, 207, "{v}");
    assert_eq!(
        (
            v["results"][0]["status"].clone(),
            v["results"][1]["status"].clone()
        ),
        (json!("erased"), json!("created"))
    );
    let (s, v) = call(&st, "DELETE", p, ADMIN, Some(WHY), None).await;
    assert_eq!((s, v["code"].clone()), (410, json!("erased")), "{v}");
    // Audited: the two erasures that happened, with the reason.
    let (_, log) = call(&st, "GET", "/api/audit?action=erase", ADMIN, None, None).await;
    assert_eq!(log["numberMatched"], 2, "{log}");
    assert_eq!(
        (
            log["events"][0]["path"].clone(),
            log["events"][0]["justification"].clone()
        ),
        (json!(p), json!(WHY))
    );

    // A restart: still gone, still refused.
    drop((st, store));
    let st = state(&dir);
    assert_eq!(
        ids(&st, ADMIN).await,
        ["syn-era-0", "syn-era-3", "syn-era-4"]
    );
    let (s, _) = call(
        &st,
        "POST",
        "/api/journeys",
        ADMIN,
        None,
        Some(report("syn-era-1", 1)),
    )
    .await;
    assert_eq!(s, 410);
    let _ = std::fs::remove_dir_all(&dir);
}
