//! The red team's findings (issue 12), each a test: no viewer answer depends on a suppressed
//! count; a `btp_planner` cannot rebuild a journey it may not read from aggregates, and an
//! aggregate over fewer than k journeys is audited; no request can ask for centuries of
//! periods; slow and idle connections are closed; the store is private; `/health` shows no
//! counts to strangers; the journey handlers check the role themselves; HEAD is GET without a
//! body.
//!
//! The differencing test is the red team's method made exhaustive: two stores that differ by
//! one journey in a suppressed cell (0 against 1 journeys Liverpool Lime Street → Bangor, and
//! 3 against 4), every viewer endpoint × every filter, and the whole answer (status, headers,
//! body) must be the same.

use super::access::{MERSEYSIDE, NORFOLK, NORTH_WALES, call, fixture, get_as, json_of, temp};
use linesmap::access::Role;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Filters that select only the suppressed cell's journeys (Liverpool Lime Street → Bangor,
/// February 2024, under-10s, Merseyside's line into North Wales): every count in the answer
/// is over 0–4 journeys.
fn isolating_filters() -> Vec<String> {
    vec![
        "station=BNG".into(),
        "station=LIV".into(),
        "from=2024-02-01&to=2024-02-29".into(),
        "from=2024-02-05&to=2024-02-05".into(),
        "age_band=under_10".into(),
        "role=runner&age_band=under_10".into(),
        format!("exporting_force={MERSEYSIDE}"),
        format!("importing_force={NORTH_WALES}"),
        format!("force={NORTH_WALES}"),
        // a box around Bangor
        "bbox=-4.3,53.1,-4.0,53.3".into(),
    ]
}

/// Filters that select the suppressed cell's journeys with others (the 12 London → Norwich):
/// a total over both may round either way (that is the rounding's protection), but nothing
/// else may change: the same rows, keys and nulls.
fn mixed_filters() -> Vec<String> {
    vec![
        String::new(),
        "mode=rail".into(),
        "cross_border=true".into(),
        "role=runner".into(),
    ]
}

/// Every aggregate path a viewer may call, each with the filters appended.
fn viewer_paths(filters: &[String]) -> Vec<String> {
    let bases = [
        "/api/hotspots?top=10000",
        "/api/hotspots?top=20&sort=journeys",
        "/api/hotspots?top=20&sort=rate_per_million&f=csv",
        "/api/flows",
        "/api/flows?format=matrix",
        "/api/flows?f=csv",
        // the map's lighter request (only what the flows layer draws)
        "/api/flows?properties=origin_name,destination_name,journeys",
        "/api/trends",
        "/api/trends?interval=week",
        "/api/trends?f=csv",
        "/api/export?collection=trends&format=csv",
        "/api/export?collection=hotspots&format=csv",
        "/api/export?collection=hotspots",
        "/api/export?collection=flows",
        "/api/export?collection=flows&format=csv",
        "/api/export?collection=stations&format=csv",
        "/api/export?collection=forces&format=csv",
        "/api/export?collection=rail&format=csv",
        "/collections/stations/items?limit=10000",
        "/collections/forces/items?limit=100",
        "/collections/rail/items?limit=10000",
        "/collections/hotspots/items?limit=10000",
        "/collections/flows/items?limit=10000",
    ];
    let mut out = Vec::new();
    for b in bases {
        for f in filters {
            let sep = if b.contains('?') { '&' } else { '?' };
            out.push(if f.is_empty() {
                b.to_string()
            } else {
                format!("{b}{sep}{f}")
            });
        }
    }
    for p in [
        "/collections",
        "/collections/journeys",
        "/collections/stations",
        "/collections/stations/items/BNG",
        "/collections/hotspots/items/BNG",
        "/collections/hotspots/items/LIV",
        "/collections/forces/items/W15000001",
        "/collections/flows/items/E23000004-W15000001",
        "/api/stations/BNG",
        "/api/whoami",
    ] {
        out.push(p.to_string());
    }
    // OGC collections take `datetime`, not from/to
    out.into_iter()
        .map(|p| {
            if p.starts_with("/collections/") {
                p.replace(
                    "from=2024-02-01&to=2024-02-29",
                    "datetime=2024-02-01/2024-02-29",
                )
                .replace("from=2024-02-05&to=2024-02-05", "datetime=2024-02-05")
            } else {
                p
            }
        })
        .collect()
}

/// The answer with every number replaced by 0 (JSON numbers, or runs of digits in CSV): what
/// is left is its shape.
fn shape(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(mut v) => {
            fn zero(v: &mut Value) {
                match v {
                    Value::Number(_) => *v = Value::from(0),
                    Value::Array(a) => a.iter_mut().for_each(zero),
                    Value::Object(o) => o.values_mut().for_each(zero),
                    _ => {}
                }
            }
            zero(&mut v);
            v.to_string()
        }
        Err(_) => {
            let mut out = String::new();
            let mut digits = false;
            for c in body.chars() {
                let d = c.is_ascii_digit() || (digits && c == '.');
                if d && !digits {
                    out.push('0');
                }
                if !d {
                    out.push(c);
                }
                digits = d;
            }
            out
        }
    }
}

#[tokio::test]
async fn a_viewers_answers_are_the_same_whether_a_suppressed_cell_holds_0_1_3_or_4_journeys() {
    for (a, b) in [(0, 1), (3, 4)] {
        let x = fixture(&format!("red{a}"), a, 0, vec![], false).await;
        let y = fixture(&format!("red{b}"), b, 0, vec![], false).await;
        let mut differs_for_analyst = 0;
        for p in viewer_paths(&isolating_filters()) {
            let (sx, bx, hx) = get_as(&x.st, &p, Role::Viewer).await;
            let (sy, by, hy) = get_as(&y.st, &p, Role::Viewer).await;
            assert_eq!(sx, sy, "{p}: status {a} vs {b} journeys");
            assert_eq!(bx, by, "{p}: body with {a} vs {b} journeys");
            assert_eq!(hx, hy, "{p}: headers with {a} vs {b} journeys");
            assert!(
                hx.get("x-record-count").is_none(),
                "{p}: a viewer is told a record count"
            );
            // the same requests tell an analyst apart, so the test is not vacuous
            let (_, ax, _) = get_as(&x.st, &p, Role::Analyst).await;
            let (_, ay, _) = get_as(&y.st, &p, Role::Analyst).await;
            differs_for_analyst += usize::from(ax != ay);
        }
        assert!(
            differs_for_analyst > 100,
            "only {differs_for_analyst} answers differ for an analyst"
        );
        // with the other journeys in the selection: the same shape (rows, keys, nulls); each
        // number a published one (the access tests check that)
        for p in viewer_paths(&mixed_filters()) {
            let (sx, bx, hx) = get_as(&x.st, &p, Role::Viewer).await;
            let (sy, by, hy) = get_as(&y.st, &p, Role::Viewer).await;
            assert_eq!(sx, sy, "{p}: status {a} vs {b} journeys");
            assert_eq!(
                shape(&bx),
                shape(&by),
                "{p}: shape with {a} vs {b} journeys"
            );
            let names = |h: &warp::http::HeaderMap| {
                let mut v: Vec<String> = h.keys().map(|k| k.to_string()).collect();
                v.sort();
                v
            };
            assert_eq!(names(&hx), names(&hy), "{p}");
            assert!(hx.get("x-record-count").is_none(), "{p}");
        }
    }
}

#[tokio::test]
async fn the_export_record_count_is_the_rows_sent_and_never_reaches_a_viewer() {
    let f = fixture("reccount", 1, 0, vec![], false).await;
    // the red team's request: one journey at Bangor
    let p = "/api/export?collection=trends&format=csv&station=BNG";
    let (s, body, h) = get_as(&f.st, p, Role::Viewer).await;
    assert_eq!(s, 200, "{body}");
    assert!(h.get("x-record-count").is_none(), "{h:?}");
    // an analyst is told the rows of the file (its months), not the journeys selected
    let (s, body, h) = get_as(&f.st, p, Role::Analyst).await;
    assert_eq!(s, 200, "{body}");
    let rows = body.lines().count() - 1;
    assert_eq!(h["x-record-count"], rows.to_string().as_str());
    // an analyst's trends follow the data: one journey, one month (February 2024)
    assert_eq!(rows, 1, "{body}");
    assert!(body.contains("2024-02-01,2024-02-29,1,"), "{body}");
}

#[tokio::test]
async fn a_viewers_trends_cover_a_fixed_window_whatever_the_filter_selects() {
    let f = fixture("window", 1, 0, vec![], false).await;
    // FOG (Forest Gate) has no journeys; BNG one. The red team got [] and one bucket.
    let fog = json_of(&f.st, "/api/trends?interval=week&station=FOG", Role::Viewer).await;
    let bng = json_of(&f.st, "/api/trends?interval=week&station=BNG", Role::Viewer).await;
    assert_eq!(fog, bng);
    let buckets = fog["buckets"].as_array().unwrap();
    // six years of weeks to today: 313 or 314 Monday-to-Sunday weeks
    assert!((313..=314).contains(&buckets.len()), "{}", buckets.len());
    assert!(buckets.iter().all(|b| b["journeys"].is_null()));
    assert!(fog["journeys"].is_null());
    // the window ends with the week holding today (UTC)
    let today = time::OffsetDateTime::now_utc().date();
    let last = &buckets[buckets.len() - 1];
    let start = time::Date::parse(
        last["period_start"].as_str().unwrap(),
        &time::format_description::well_known::Iso8601::DATE,
    )
    .unwrap();
    assert!(start <= today && today - start < time::Duration::days(7));
    assert_eq!(start.weekday(), time::Weekday::Monday);
    // given dates are theirs
    let v = json_of(
        &f.st,
        "/api/trends?interval=month&station=FOG&from=2024-01-01&to=2024-03-31",
        Role::Viewer,
    )
    .await;
    assert_eq!(v["buckets"].as_array().unwrap().len(), 3);
    // and the collections' temporal extent is the schema's range, not the data's
    let c = json_of(&f.st, "/collections/journeys", Role::Viewer).await;
    assert_eq!(
        c["extent"]["temporal"]["interval"],
        json!([["2000-01-01T00:00:00Z", null]])
    );
    let c = json_of(&f.st, "/collections/journeys", Role::Analyst).await;
    assert_eq!(
        c["extent"]["temporal"]["interval"],
        json!([["2024-01-02T00:00:00Z", "2024-02-05T00:00:00Z"]])
    );
}

/// The fixture's journeys plus one Norfolk report (not BTP: a `btp_planner` may not read it)
/// London Liverpool Street → Norwich on 2024-03-10, with a child and a safeguarding referral.
async fn with_one_norfolk_journey(name: &str, add: bool) -> super::access::Fixture {
    let f = fixture(name, 0, 0, vec![], false).await;
    if add {
        let r = call(
            &f.st,
            "POST",
            "/api/journeys",
            Some(Role::Admin),
            &[],
            Some(json!({
                "report_id": "syn-acc-norfolk-1",
                "reported_at": "2024-03-10T20:00:00Z",
                "source_force": NORFOLK,
                "journey": {"date": "2024-03-10", "mode": "rail",
                    "origin": {"station": "LST"}, "destination": {"station": "NRW"}},
                "persons": [
                    {"person_id": "syn-acc-n1", "age_band": "15-17", "roles": ["runner"], "safeguarding_referred": true},
                    {"person_id": "syn-acc-n2", "age_band": "18-24", "roles": ["runner"]}
                ],
            })),
        )
        .await;
        assert_eq!(r.0, 201, "{}", r.1);
    }
    f
}

#[tokio::test]
async fn a_btp_planner_cannot_rebuild_a_journey_it_may_not_read_and_small_selections_are_audited() {
    let without = with_one_norfolk_journey("btp0", false).await;
    let with = with_one_norfolk_journey("btp1", true).await;
    // the journey itself is out of reach
    let (s, _, _) = get_as(
        &with.st,
        "/api/journeys/syn-acc-norfolk-1",
        Role::BtpPlanner,
    )
    .await;
    assert_eq!(s, 404);
    // the red team's one-day aggregates: the same answer as if the journey did not exist
    let day = "from=2024-03-10&to=2024-03-10";
    for p in [
        format!("/api/trends?station=NRW&{day}"),
        format!("/api/trends?interval=week&{day}"),
        format!("/api/hotspots?top=10000&f=csv&{day}"),
        format!("/api/hotspots?top=10000&{day}"),
        format!("/api/flows?format=matrix&{day}"),
        format!("/api/flows?{day}"),
        "/collections/stations/items?limit=10000&datetime=2024-03-10".into(),
        "/collections/rail/items?limit=10000&datetime=2024-03-10".into(),
        "/collections/forces/items?limit=100&datetime=2024-03-10".into(),
        format!("/api/export?collection=trends&format=csv&{day}"),
        format!("/api/export?collection=hotspots&format=csv&{day}"),
        format!("/api/trends?age_band=15-17&{day}"),
    ] {
        let (sa, a, ha) = get_as(&without.st, &p, Role::BtpPlanner).await;
        let (sb, b, hb) = get_as(&with.st, &p, Role::BtpPlanner).await;
        assert_eq!((sa, &a), (sb, &b), "{p}");
        assert_eq!(ha, hb, "{p}");
        assert_eq!(sa, 200, "{p}: {a}");
        assert!(
            ha["x-disclosure-control"]
                .to_str()
                .unwrap()
                .contains("applied-to=journeys-not-reported-or-joined-by-btp"),
            "{p}"
        );
        // an analyst sees it
        let (_, a, _) = get_as(&without.st, &p, Role::Analyst).await;
        let (_, b, _) = get_as(&with.st, &p, Role::Analyst).await;
        assert_ne!(a, b, "{p}");
    }
    // over a wider selection the BTP part is exact and the rest disclosed: January holds the
    // fixture's 6 BTP and 6 Norfolk journeys; 6 publishes as 5 or 10
    let t = json_of(
        &with.st,
        "/api/trends?from=2024-01-01&to=2024-01-31",
        Role::BtpPlanner,
    )
    .await;
    let j = t["buckets"][0]["journeys"].as_u64().unwrap();
    assert!(j == 11 || j == 16, "{t}");
    // a one-day aggregate selecting one journey is a journey-level read in the audit log
    let before = audit_lines(&with);
    let _ = get_as(&with.st, &format!("/api/hotspots?{day}"), Role::BtpPlanner).await;
    let _ = get_as(&with.st, &format!("/api/trends?{day}"), Role::Analyst).await;
    // a selection of k or more is not
    let _ = get_as(&with.st, "/api/hotspots", Role::Analyst).await;
    // nor is a viewer's (disclosure control is its protection)
    let _ = get_as(&with.st, &format!("/api/hotspots?{day}"), Role::Viewer).await;
    let after = audit_lines(&with);
    let new: Vec<&Value> = after[before.len()..].iter().collect();
    assert_eq!(new.len(), 2, "{new:?}");
    assert_eq!(new[0]["action"], "read_journeys");
    assert_eq!(new[0]["role"], "btp_planner");
    assert_eq!(new[0]["path"], "/api/hotspots");
    assert_eq!(new[0]["records"], 1);
    assert_eq!(new[0]["query"], day);
    assert_eq!(new[1]["role"], "analyst");
    assert_eq!(new[1]["path"], "/api/trends");
}

fn audit_lines(f: &super::access::Fixture) -> Vec<Value> {
    std::fs::read_to_string(f.dir.join("audit.ndjson"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn dates_are_bounded_and_no_answer_holds_more_than_600_periods() {
    let f = fixture("range", 0, 0, vec![], false).await;
    for (p, needle) in [
        (
            "/api/trends?interval=week&from=0000-01-01&to=9999-12-31",
            "outside the dates reports may have",
        ),
        ("/api/trends?from=-999-01-01", "outside the dates"),
        ("/api/hotspots?to=2999-01-01", "outside the dates"),
        (
            "/collections/journeys/items?datetime=1066-10-14/..",
            "outside the dates",
        ),
        // 2000 to 2013: 14 years of weeks, 730 > 600
        (
            "/api/trends?interval=week&from=2000-01-01&to=2013-12-31",
            "more than 600 weeks",
        ),
    ] {
        let t = Instant::now();
        let (s, body, _) = get_as(&f.st, p, Role::Analyst).await;
        assert_eq!(s, 400, "{p}: {body}");
        assert!(body.contains(needle), "{p}: {body}");
        assert!(t.elapsed() < Duration::from_secs(1), "{p}");
    }
    // the whole range in months is allowed: 2000-01 to this month, under 600
    let today = time::OffsetDateTime::now_utc().date();
    let (s, body, _) = get_as(
        &f.st,
        &format!("/api/trends?interval=month&from=2000-01-01&to={today}"),
        Role::Analyst,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let months = (today.year() - 2000) * 12 + i32::from(u8::from(today.month()));
    assert_eq!(v["buckets"].as_array().unwrap().len(), months as usize);
}

#[tokio::test]
async fn health_and_the_landing_page_show_no_counts_to_strangers() {
    let f = fixture("health", 3, 0, vec![], false).await;
    let (s, body, _) = call(&f.st, "GET", "/health", None, &[], None).await;
    assert_eq!(s, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"status": "ok"})
    );
    let (s, body, _) = call(&f.st, "GET", "/?f=json", None, &[], None).await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(v.get("journeys").is_none(), "{v}");
    assert!(v["links"].as_array().is_some_and(|l| !l.is_empty()));
    // signed in: counts; 15 journeys, a viewer sees 15 (a multiple of 5 stays)
    assert_eq!(
        json_of(&f.st, "/health", Role::Analyst).await["journeys"],
        15
    );
    assert_eq!(
        json_of(&f.st, "/health", Role::Viewer).await["journeys"],
        15
    );
    let g = fixture("health2", 4, 0, vec![], false).await;
    // 16 journeys: a viewer sees 15 or 20
    let v = json_of(&g.st, "/health", Role::Viewer).await["journeys"]
        .as_u64()
        .unwrap();
    assert!(v == 15 || v == 20, "{v}");
    assert_eq!(
        json_of(&g.st, "/?f=json", Role::BtpPlanner).await["journeys"],
        16
    );
}

#[tokio::test]
async fn journey_handlers_refuse_a_viewer_however_the_path_is_spelt() {
    let f = fixture("dotdot", 0, 0, vec![], false).await;
    for p in [
        "/api/journeys/%2E%2E",
        "/api/journeys/%2e%2E?persons=false",
        "/collections/journeys/items/%2E%2E",
    ] {
        let (s, body, _) = get_as(&f.st, p, Role::Viewer).await;
        assert_eq!(s, 403, "{p}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["code"], "forbidden", "{p}: {body}");
    }
}

// ------------------------------------------------------------------ over a real socket

fn serve(name: &str, extra: &[&str]) -> (std::process::Child, String, String, std::path::PathBuf) {
    let dir = temp(name);
    let store = dir.join("s.sqlite");
    let (child, addr, token) = super::common::start_server(&store, extra);
    (child, addr, token, dir)
}

fn stop(mut child: std::process::Child, dir: std::path::PathBuf) {
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(dir);
}

/// Seconds until the server closes `s` (reads until end of file), at most `limit`.
fn closed_after(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let t = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 4096];
    while t.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) => return Some(t.elapsed()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(t.elapsed()),
        }
    }
    None
}

#[test]
fn slow_headers_and_idle_connections_are_closed_and_connections_are_capped() {
    let (child, addr, token, dir) = serve(
        "conn",
        &[
            "--header-timeout",
            "1",
            "--idle-timeout",
            "2",
            "--max-connections-per-address",
            "4",
        ],
    );
    // a header byte every 300 ms: closed about a second after the first byte
    let mut slow = TcpStream::connect(&addr).unwrap();
    let t = Instant::now();
    let line = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut closed = false;
    for &b in line {
        if slow.write_all(&[b]).is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
        if t.elapsed() > Duration::from_secs(6) {
            break;
        }
    }
    let gone = closed || closed_after(&mut slow, Duration::from_secs(3)).is_some();
    assert!(gone, "a slow header held the connection");
    assert!(t.elapsed() < Duration::from_secs(6), "{:?}", t.elapsed());

    // a connection that sends nothing: closed after the 2 s idle timeout
    // (waiting for a request is bounded by the header timeout too: about 1 s here)
    let mut idle = TcpStream::connect(&addr).unwrap();
    let d = closed_after(&mut idle, Duration::from_secs(6)).expect("an idle connection closed");
    assert!(
        d >= Duration::from_millis(500) && d < Duration::from_secs(4),
        "{d:?}"
    );

    // keep-alive after an answer: closed after the idle timeout too
    let mut ka = TcpStream::connect(&addr).unwrap();
    write!(ka, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut first = [0u8; 12];
    ka.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let d = closed_after(&mut ka, Duration::from_secs(6)).expect("a kept-alive connection closed");
    assert!(d < Duration::from_secs(4), "{d:?}");

    // at most 4 connections from one address: the fifth gets a JSON 503 and is closed
    let held: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut fifth = TcpStream::connect(&addr).unwrap();
    fifth
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut out = String::new();
    let _ = fifth.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 503"), "{out}");
    assert!(out.contains("\"code\":\"busy\""), "{out}");
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    // places free again once they close
    let r = super::cli::http_get(&addr, &token, "/health");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");

    // HEAD is GET without a body: same length header, no bytes after the headers
    let mut h = TcpStream::connect(&addr).unwrap();
    write!(
        h,
        "HEAD /api/hotspots?top=3 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    h.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    let get = super::cli::http_get(&addr, &token, "/api/hotspots?top=3");
    let (head, body) = get.split_once("\r\n\r\n").unwrap();
    let len = |h: &str| {
        h.lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .map(str::to_string)
    };
    assert!(!body.is_empty());
    assert_eq!(len(out.trim_end()), len(head), "{out}");
    assert!(out.ends_with("\r\n\r\n"), "HEAD sent a body: {out}");
    stop(child, dir);
}

#[cfg(unix)]
#[test]
fn the_store_is_private_and_a_readable_store_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let (child, addr, token, dir) = serve("perm", &[]);
    assert_eq!(
        super::common::post_report(&addr, &token, &super::common::report("syn-perm-1", 0)),
        Some(201)
    );
    let store = dir.join("s.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        let p = format!("{}{suffix}", store.display());
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{p}: {mode:o}");
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let mut child = child;
    let _ = child.wait();
    // made readable by others: refused, naming the file; allowed when told to
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_linesmap"))
        .args(["serve", "--open-demo", "--listen", "127.0.0.1:0", "--store"])
        .arg(&store)
        .env("LINESMAP_LOG", "off")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("readable by other users") && err.contains("s.sqlite (mode 644)"),
        "{err}"
    );
    let tokens = store.with_extension("tokens.json");
    let (child, addr) =
        super::common::start_server_raw(&store, &tokens, &["--allow-readable-store"]);
    let r = super::cli::http_get(&addr, &token, "/api/journeys/syn-perm-1");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    stop(child, dir);
    let _ = token;
}

/// Aggregate paths whose answers carry `untimed_excluded` (a body member or the export's
/// `X-Untimed-Excluded` header) when `hours` or `days` is used.
const UNTIMED_PATHS: &[&str] = &[
    "/api/hotspots?top=10000",
    "/api/flows?format=geojson",
    "/api/trends?interval=month",
    "/api/export?collection=hotspots&format=csv",
    "/api/export?collection=hotspots",
    "/api/export?collection=flows",
    "/api/export?collection=trends&format=csv",
    "/api/export?collection=rail&format=csv",
    "/collections/hotspots/items?limit=10000",
    "/collections/flows/items?limit=10000",
    "/collections/stations/items?limit=10000",
];

#[tokio::test]
async fn a_viewers_untimed_count_headers_included_is_the_same_whether_a_suppressed_cell_holds_0_or_1_untimed_journeys()
 {
    // The fixture's reports have no time at all: with `hours=0-23` every journey is left out
    // as untimed, and under-10s select only the suppressed cell (Liverpool → Bangor), whose
    // untimed count is 0 in one store and 1 in the other.
    let x = fixture("untimed0", 0, 0, vec![], false).await;
    let y = fixture("untimed1", 1, 0, vec![], false).await;
    let mut told_analyst = 0;
    for base in UNTIMED_PATHS {
        for filter in [
            "age_band=under_10&hours=0-23",
            "station=BNG&days=mon,tue,wed,thu,fri,sat,sun",
        ] {
            let p = format!("{base}&{filter}");
            let (sx, bx, hx) = get_as(&x.st, &p, Role::Viewer).await;
            let (sy, by, hy) = get_as(&y.st, &p, Role::Viewer).await;
            assert_eq!((sx, sy), (200, 200), "{p}: {bx}");
            assert_eq!(bx, by, "{p}: body");
            assert_eq!(hx, hy, "{p}: headers");
            if p.starts_with("/api/export") {
                assert_eq!(hx["x-untimed-excluded"], "suppressed", "{p}");
            } else if !p.contains("csv") {
                let v: Value = serde_json::from_str(&bx).unwrap();
                assert_eq!(v["untimed_excluded"], Value::Null, "{p}");
                assert!(
                    v.as_object().unwrap().contains_key("untimed_excluded"),
                    "{p}"
                );
            }
            // an analyst is told 0 and 1: the stores do differ there
            let (_, ax, hax) = get_as(&x.st, &p, Role::Analyst).await;
            let (_, ay, hay) = get_as(&y.st, &p, Role::Analyst).await;
            if let (Some(a), Some(b)) =
                (hax.get("x-untimed-excluded"), hay.get("x-untimed-excluded"))
            {
                assert_eq!(
                    (a.to_str().unwrap(), b.to_str().unwrap()),
                    ("0", "1"),
                    "{p}"
                );
                told_analyst += 1;
            } else {
                let n =
                    |s: &str| serde_json::from_str::<Value>(s).unwrap()["untimed_excluded"].clone();
                assert_eq!((n(&ax), n(&ay)), (json!(0), json!(1)), "{p}");
                told_analyst += 1;
            }
        }
    }
    assert_eq!(told_analyst, 2 * UNTIMED_PATHS.len());
}

#[tokio::test]
async fn a_btp_planners_untimed_count_is_the_btp_part_exactly_plus_the_rest_published() {
    // 12 London → Norwich reports, the odd ones BTP's (6) and the even ones Norfolk's (6),
    // plus `small` BTP reports Liverpool → Bangor; none has a time. With `hours=0-23` all are
    // left out as untimed: the BTP part is 6 + small, exactly; Norfolk's 6 are published
    // (5 or 10, the same draw in both stores: the same cell and count).
    let mut seen = Vec::new();
    for small in [0u64, 1] {
        let f = fixture(
            &format!("untimedbtp{small}"),
            small as usize,
            0,
            vec![],
            false,
        )
        .await;
        let mut values = Vec::new();
        for base in UNTIMED_PATHS {
            let p = format!("{base}&hours=0-23");
            let (s, b, h) = get_as(&f.st, &p, Role::BtpPlanner).await;
            assert_eq!(s, 200, "{p}: {b}");
            let n = match h.get("x-untimed-excluded") {
                Some(v) => v.to_str().unwrap().parse::<u64>().unwrap(),
                None => serde_json::from_str::<Value>(&b).unwrap()["untimed_excluded"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{p}: {b}")),
            };
            values.push(n);
            // an analyst gets the exact 12 + small
            let (_, ab, ah) = get_as(&f.st, &p, Role::Analyst).await;
            let exact = match ah.get("x-untimed-excluded") {
                Some(v) => v.to_str().unwrap().parse::<u64>().unwrap(),
                None => serde_json::from_str::<Value>(&ab).unwrap()["untimed_excluded"]
                    .as_u64()
                    .unwrap(),
            };
            assert_eq!(exact, 12 + small, "{p}");
        }
        // every answer says the same
        assert!(values.iter().all(|&v| v == values[0]), "{values:?}");
        let rest = values[0] - (6 + small);
        assert!(rest == 5 || rest == 10, "published rest {rest}");
        seen.push(values[0]);
    }
    assert_eq!(seen[1] - seen[0], 1, "{seen:?}");
}
