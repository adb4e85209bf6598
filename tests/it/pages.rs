//! Rendered pages (`http::pages`): an aggregate answer is kept as bytes until the journeys
//! change, per caller class, and never when the answer is audited.

use super::access::{WHY, call, fixture, get_as};
use linesmap::access::Role;
use serde_json::{Value, json};

/// Journeys per month of the fixture's trends (12 in January 2024, 3 in February: see
/// `access::reports`).
fn months(body: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(body).unwrap();
    v["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["journeys"].clone())
        .collect()
}

const TRENDS: &str = "/api/trends?interval=month&from=2024-01-01&to=2024-02-29";

#[tokio::test]
async fn a_repeated_aggregate_is_served_from_its_page_until_a_journey_arrives() {
    let f = fixture("pages", 3, 0, vec![], false).await;
    let st = &f.st;
    let (s, first, h1) = get_as(st, TRENDS, Role::Analyst).await;
    assert_eq!(s, 200, "{first}");
    assert_eq!(months(&first), [json!(12), json!(3)]);
    let kept = st.pages.usage();
    assert_eq!(kept.0, 1, "the answer is kept");
    assert!(kept.1 >= first.len(), "{kept:?}");
    let (_, again, h2) = get_as(st, TRENDS, Role::Analyst).await;
    assert_eq!(again, first);
    assert_eq!(h1["etag"], h2["etag"]);
    assert_eq!(
        st.pages.usage().0,
        1,
        "served from the page, not kept twice"
    );
    // a viewer's answer is its own (published counts: 12 → 10 or 15, 3 → suppressed)
    let (_, viewer, _) = get_as(st, TRENDS, Role::Viewer).await;
    let v = months(&viewer);
    assert!(v[0] == json!(10) || v[0] == json!(15), "{viewer}");
    assert_eq!(v[1], Value::Null, "{viewer}");
    assert_eq!(st.pages.usage().0, 2);
    // a new January journey: the kept pages are not served any more
    let one = json!({"report_id": "syn-pages-new", "reported_at": "2024-01-20T10:00:00Z",
        "source_force": "BTP", "journey": {"date": "2024-01-20", "mode": "rail",
        "origin": {"station": "LST"}, "destination": {"station": "NRW"}}});
    let (s, b, _) = call(
        st,
        "POST",
        "/api/journeys",
        Some(Role::Admin),
        &[],
        Some(one),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (_, after, h3) = get_as(st, TRENDS, Role::Analyst).await;
    assert_eq!(months(&after), [json!(13), json!(3)]);
    assert_ne!(h3["etag"], h1["etag"]);
    // If-None-Match with the kept page's tag is a 304
    let tag = h3["etag"].to_str().unwrap().to_string();
    let (s, body, _) = call(
        st,
        "GET",
        TRENDS,
        Some(Role::Analyst),
        &[("if-none-match", &tag)],
        None,
    )
    .await;
    assert_eq!((s, body.as_str()), (304, ""));
    // gzip of a kept page: the same bytes once decompressed, with its own tag
    let wide = "/api/hotspots?top=50";
    let (_, plain, hp) = get_as(st, wide, Role::Analyst).await;
    let r = warp::test::request()
        .path(wide)
        .header(
            "authorization",
            format!("Bearer {}", super::access::token(Role::Analyst)),
        )
        .header("accept-encoding", "gzip")
        .reply(&linesmap::http::routes(st.clone()))
        .await;
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let mut unzipped = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&r.body()[..]),
        &mut unzipped,
    )
    .unwrap();
    assert_eq!(unzipped, plain);
    // the gzip form's strong tag is the plain one with -gzip (cache.rs)
    let plain_tag = hp["etag"].to_str().unwrap();
    assert_eq!(
        r.headers()["etag"].to_str().unwrap(),
        format!("{}-gzip\"", plain_tag.trim_end_matches('"'))
    );
}

#[tokio::test]
async fn an_aggregate_over_fewer_than_k_journeys_is_computed_and_audited_every_time() {
    let f = fixture("pages-small", 3, 0, vec![], false).await;
    let st = &f.st;
    // February holds the three small-cell journeys only (fewer than k = 5)
    let small = "/api/hotspots?from=2024-02-01&to=2024-02-29";
    for _ in 0..2 {
        let (s, b, _) = get_as(st, small, Role::Analyst).await;
        assert_eq!(s, 200, "{b}");
    }
    let (s, log, _) = call(
        st,
        "GET",
        "/api/audit?action=read_journeys",
        Some(Role::Admin),
        &[WHY],
        None,
    )
    .await;
    assert_eq!(s, 200, "{log}");
    let log: Value = serde_json::from_str(&log).unwrap();
    let reads = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"] == "/api/hotspots" && e["query"] == "from=2024-02-01&to=2024-02-29")
        .count();
    assert_eq!(reads, 2, "{log}");
    assert_eq!(st.pages.usage().0, 0, "an audited answer is not kept");
    // a viewer's answer to the same request is not audited, and is kept
    get_as(st, small, Role::Viewer).await;
    assert_eq!(st.pages.usage().0, 1);
}
