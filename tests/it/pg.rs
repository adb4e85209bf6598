//! PostgreSQL: the store contract on both backends, migrations, the follower across commit
//! order and reconnects, two server instances on one database, and an instance killed
//! mid-write. Each test starts its own private cluster (Debian's `postgresql` server binaries,
//! installed by `scripts/setup --test`) on 127.0.0.1 in a temporary folder; without them the
//! tests fail, naming the fix.

use super::common::{create_token, gb_arc, post_report as post, report, start_server_raw};
use linesmap::store::{JourneyStore, NewReport, PostgresStore, PutOutcome, SqliteStore};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A private PostgreSQL cluster, stopped and removed on drop.
pub struct PgCluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

fn pg_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").is_file() && b.join("pg_ctl").is_file())
        .collect();
    found.sort();
    found.pop().expect(
        "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: run scripts/setup --test (Debian package postgresql)",
    )
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Runs a PostgreSQL tool, as the `postgres` user when we are root (the server refuses root).
fn pg_run(bin: &Path, tool: &str, args: &[&str]) -> std::process::Output {
    let mut c = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(tool));
        c
    } else {
        Command::new(bin.join(tool))
    };
    c.args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

impl PgCluster {
    pub fn start(name: &str) -> PgCluster {
        let bin = pg_bin();
        let dir = std::env::temp_dir().join(format!("linesmap-pg-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            let out = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "chown: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let data = dir.join("data");
        let out = pg_run(
            &bin,
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "linesmap",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let c = PgCluster { bin, dir, port };
        c.pg_ctl_start();
        let mut admin = postgres::Client::connect(&c.url("postgres"), postgres::NoTls).unwrap();
        admin.batch_execute("CREATE DATABASE linesmap").unwrap();
        c
    }

    fn pg_ctl_start(&self) {
        let data = self.dir.join("data");
        let log = self.dir.join("log");
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.display()
        );
        let out = pg_run(
            &self.bin,
            "pg_ctl",
            &[
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &opts,
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {} {}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    fn pg_ctl_stop(&self, mode: &str) {
        let data = self.dir.join("data");
        let _ = pg_run(
            &self.bin,
            "pg_ctl",
            &["stop", "-w", "-m", mode, "-D", data.to_str().unwrap()],
        );
    }

    /// Stops and starts the server (connections drop).
    pub fn restart(&self) {
        self.pg_ctl_stop("fast");
        self.pg_ctl_start();
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://linesmap@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.pg_ctl_stop("immediate");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn rec(id: &str, body: &str) -> NewReport {
    NewReport {
        report_id: id.into(),
        body: body.into(),
    }
}

/// What every store must do.
fn contract(s: &dyn JourneyStore) {
    assert_eq!(s.count().unwrap(), 0);
    let out = s.put(&[rec("a", "{1}"), rec("b", "{2}")]).unwrap();
    let (sa, sb) = match out[..] {
        [
            PutOutcome::Created { seq: a },
            PutOutcome::Created { seq: b },
        ] => (a, b),
        _ => panic!("{out:?}"),
    };
    assert!(sa < sb);
    // idempotent by id; changed content refused; nothing of it changes the store
    let out = s
        .put(&[rec("a", "{1}"), rec("b", "{changed}"), rec("c", "{3}")])
        .unwrap();
    assert_eq!(out[0], PutOutcome::Exists { seq: sa });
    assert_eq!(out[1], PutOutcome::Conflict { seq: sb });
    let sc = match out[2] {
        PutOutcome::Created { seq } => seq,
        ref o => panic!("{o:?}"),
    };
    assert!(sc > sb);
    assert_eq!(s.count().unwrap(), 3);
    let b = s.get("b").unwrap().unwrap();
    assert_eq!((b.seq, b.body.as_str()), (sb, "{2}"));
    assert!(b.received_at.starts_with("20"));
    assert!(s.get("zz").unwrap().is_none());
    let mut ids = Vec::new();
    s.scan(0, &mut |r| ids.push(r.report_id)).unwrap();
    assert_eq!(ids, ["a", "b", "c"]);
    let mut after = Vec::new();
    s.scan(sa, &mut |r| after.push(r.report_id)).unwrap();
    assert_eq!(after, ["b", "c"]);
    // a batch with one bad twin is still one transaction of outcomes
    let out = s.put(&[rec("d", "{4}"), rec("d", "{4}")]).unwrap();
    assert!(
        matches!(out[0], PutOutcome::Created { .. }) && matches!(out[1], PutOutcome::Exists { .. }),
        "{out:?}"
    );
    // unicode and large bodies round-trip
    let big = format!("{{\"x\":\"{}\"}}", "é🚆".repeat(50_000));
    s.put(&[rec("big", &big)]).unwrap();
    assert_eq!(s.get("big").unwrap().unwrap().body, big);
    s.integrity_check().unwrap();
}

/// What every store must do to rectify, keep versions, review and erase them (after
/// [`contract`]: five reports stored, the last sequence number the big one's).
fn rectify_contract(s: &dyn JourneyStore) {
    use linesmap::store::{Decision, Erased, Rectification, Rectified, Tombstone};
    let body = |date: &str, to: &str| {
        format!(r#"{{"report_id":"r","journey":{{"date":"{date}","destination":"{to}"}}}}"#)
    };
    let fix = |body: String, reason: &str| Rectification {
        report_id: "r".into(),
        body,
        at: format!("2026-11-30T10:00:0{}Z", reason.len() % 10),
        actor: "admin (synthetic)".into(),
        reason: reason.into(),
    };
    let first = s.put(&[rec("r", &body("2019-01-15", "BPN"))]).unwrap();
    let PutOutcome::Created { seq: s1 } = first[0] else {
        panic!("{first:?}")
    };
    assert_eq!(
        s.rectify(&fix(body("2019-01-15", "NRW"), "wrong destination"))
            .unwrap(),
        Rectified::Done { version: 2 }
    );
    let now = s.get("r").unwrap().unwrap();
    assert_eq!(
        (now.version, now.body.clone()),
        (2, body("2019-01-15", "NRW"))
    );
    assert!(
        now.seq > s1,
        "a rectified report takes a new sequence number: {} after {s1}",
        now.seq
    );
    let mut after = Vec::new();
    s.scan(s1, &mut |r| after.push((r.report_id, r.version)))
        .unwrap();
    assert_eq!(
        after,
        [("r".to_string(), 2)],
        "a follower past the old number reads it again"
    );
    // the same content: nothing changes
    assert_eq!(
        s.rectify(&fix(body("2019-01-15", "NRW"), "again")).unwrap(),
        Rectified::Unchanged { version: 2 }
    );
    assert_eq!(
        s.rectify(&fix(body("2020-02-29", "NRW"), "wrong date"))
            .unwrap(),
        Rectified::Done { version: 3 }
    );
    let v = s.versions("r").unwrap().unwrap();
    let summary: Vec<(i64, bool, Option<&str>, &str)> = v
        .iter()
        .map(|v| (v.version, v.current, v.reason.as_deref(), v.body.as_str()))
        .collect();
    let (b1, b2, b3) = (
        body("2019-01-15", "BPN"),
        body("2019-01-15", "NRW"),
        body("2020-02-29", "NRW"),
    );
    assert_eq!(
        summary,
        [
            (3, true, Some("wrong date"), b3.as_str()),
            (2, false, Some("wrong destination"), b2.as_str()),
            (1, false, None, b1.as_str())
        ]
    );
    assert_eq!(
        v[2].at,
        s.get("r").unwrap().unwrap().received_at,
        "version 1 is as received"
    );
    assert!(s.versions("nobody").unwrap().is_none());
    let mut nobody = fix(b1.clone(), "x");
    nobody.report_id = "nobody".into();
    assert_eq!(s.rectify(&nobody).unwrap(), Rectified::NoSuchReport);
    // review: the journey date follows the current version (2020-02-29); a retain sets a date
    let rows = s.review_candidates("2027-01-01", "2020-03-01").unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| (r.report_id.as_str(), r.journey_date.as_str()))
            .collect::<Vec<_>>(),
        [("r", "2020-02-29")]
    );
    let d = |date: &str| Decision {
        decision: "retain".into(),
        review_date: Some(date.into()),
        reason: format!("until {date}"),
        actor: "admin (synthetic)".into(),
        at: "2026-11-30T11:00:00Z".into(),
    };
    assert!(s.retain("r", &d("2031-01-01")).unwrap());
    assert!(s.retain("r", &d("2032-01-01")).unwrap());
    assert!(!s.retain("nobody", &d("2031-01-01")).unwrap());
    assert!(
        s.review_candidates("2027-01-01", "2020-03-01")
            .unwrap()
            .is_empty(),
        "a set date overrides the journey date"
    );
    let rows = s.review_candidates("2033-01-01", "2000-01-01").unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].review_date.as_deref(), Some("2032-01-01"));
    assert_eq!(rows[0].decisions, [d("2032-01-01"), d("2031-01-01")]);
    // erasure takes every version and decision; a rectification after it is refused
    let t = Tombstone {
        report_id: "r".into(),
        at: "2026-11-30T12:00:00Z".into(),
        actor: "admin".into(),
        reason: "erase".into(),
    };
    assert_eq!(s.erase(&t).unwrap(), Erased::Done);
    assert!(s.versions("r").unwrap().is_none());
    assert!(
        s.review_candidates("2100-01-01", "2100-01-01")
            .unwrap()
            .iter()
            .all(|r| r.report_id != "r")
    );
    assert_eq!(s.rectify(&fix(b1, "x")).unwrap(), Rectified::Erased);
}

#[test]
fn the_store_contract_holds_on_sqlite_and_postgresql() {
    let dir = std::env::temp_dir().join(format!("linesmap-contract-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let lite = SqliteStore::open(&dir.join("s.sqlite")).unwrap();
    contract(&lite);
    rectify_contract(&lite);
    let pg = PgCluster::start("contract");
    let store = PostgresStore::open(&pg.url("linesmap")).unwrap();
    contract(&store);
    rectify_contract(&store);
    // migrations are versioned and run once; a second instance finds the schema in place
    assert_eq!(store.schema_version().unwrap(), 7);
    let again = PostgresStore::open(&pg.url("linesmap")).unwrap();
    assert_eq!(again.count().unwrap(), store.count().unwrap());
    let mut c = postgres::Client::connect(&pg.url("linesmap"), postgres::NoTls).unwrap();
    let n: i64 = c
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 7, "seven migrations, each recorded once");
    // A newer schema than the build knows is refused, not guessed at.
    c.execute("INSERT INTO schema_migrations (version) VALUES (99)", &[])
        .unwrap();
    let e = PostgresStore::open(&pg.url("linesmap"))
        .err()
        .expect("refused");
    assert!(e.to_string().contains("newer than this build"), "{e}");
    // A store that lost its server reconnects once the server is back.
    c.execute("DELETE FROM schema_migrations WHERE version = 99", &[])
        .unwrap();
    drop(c);
    pg.restart();
    assert_eq!(store.count().unwrap(), 5);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_follower_misses_no_report_committed_out_of_order() {
    let pg = PgCluster::start("follow");
    let url = pg.url("linesmap");
    let store = Arc::new(PostgresStore::open(&url).unwrap());
    let j = linesmap::ingest::Journeys::new(gb_arc().clone(), store.clone());
    j.load().unwrap();
    let canon = |id: &str, k: usize| -> String {
        let v: serde_json::Value = serde_json::from_str(&report(id, k)).unwrap();
        j.prepare(&v, time::OffsetDateTime::now_utc())
            .unwrap()
            .report
            .canonical_json()
    };
    // Transaction 1 takes a sequence number and stays open ...
    let mut c1 = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let mut t1 = c1.transaction().unwrap();
    t1.execute(
        "INSERT INTO reports (report_id, received_at, body) VALUES ($1, 'x', $2)",
        &[&"syn-slow", &canon("syn-slow", 0)],
    )
    .unwrap();
    // ... while another instance stores a later one and commits.
    store
        .put(&[rec("syn-fast", &canon("syn-fast", 1))])
        .unwrap();
    assert_eq!(j.catch_up().unwrap(), 1);
    assert!(j.index().get("syn-fast").is_some() && j.index().get("syn-slow").is_none());
    // The earlier number commits later: the follower still finds it.
    t1.commit().unwrap();
    assert_eq!(j.catch_up().unwrap(), 1);
    assert!(j.index().get("syn-slow").is_some());
    assert_eq!(j.catch_up().unwrap(), 0, "nothing twice");
    assert_eq!(j.index().len(), 2);
}

fn get_json(addr: &str, token: &str, path: &str) -> (u16, serde_json::Value) {
    let resp = super::cli::http_get(addr, token, path);
    let status = resp.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = resp.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

/// Polls until `f` holds, at most `limit`; the time it took.
fn within(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if f() {
            return Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

struct Instance(std::process::Child, String);
impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn instance(url: &str, dir: &Path, tokens: &Path) -> Instance {
    let (child, addr) = start_server_raw(
        Path::new(url),
        tokens,
        &[
            "--key",
            dir.join("shared.key").to_str().unwrap(),
            "--rate-limit",
            "0",
        ],
    );
    Instance(child, addr)
}

#[test]
fn two_instances_on_one_database_are_one_server() {
    let pg = PgCluster::start("two");
    let url = pg.url("linesmap");
    let dir = std::env::temp_dir().join(format!("linesmap-two-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let tokens = dir.join("tokens.json");
    let token = create_token(&tokens, "admin", "two instances (synthetic)");
    let a = instance(&url, &dir, &tokens);
    let b = instance(&url, &dir, &tokens);
    // A report accepted by A shows in B, journey and layers, within a second.
    for i in 0..5 {
        let id = format!("syn-two-{i}");
        assert_eq!(post(&a.1, &token, &report(&id, i)), Some(201));
        let seen = within(Duration::from_secs(1), || {
            get_json(&b.1, &token, &format!("/api/journeys/{id}")).0 == 200
        });
        assert!(seen.is_some(), "{id} not in B within 1 s");
        let counted = within(Duration::from_secs(1), || {
            get_json(&b.1, &token, "/api/trends?interval=month").1["journeys"] == i as u64 + 1
        });
        assert!(counted.is_some(), "B's layers do not count {id} within 1 s");
    }
    // Writes to both; each sees all; a resend to the other instance is idempotent.
    assert_eq!(post(&b.1, &token, &report("syn-two-b", 7)), Some(201));
    assert_eq!(post(&a.1, &token, &report("syn-two-b", 7)), Some(200));
    assert!(
        within(Duration::from_secs(1), || get_json(
            &a.1,
            &token,
            "/api/journeys?limit=1"
        )
        .1["numberMatched"]
            == 6)
        .is_some()
    );
    // One audit log for both: what was read on A is in B's /api/audit.
    let r = super::cli::http_get(&a.1, &token, "/api/journeys?limit=3");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let (_, log) = get_json(&b.1, &token, "/api/audit?action=read_journeys");
    assert!(
        log["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["query"] == "limit=3" && e["records"] == 3),
        "{log}"
    );
    let (_, ingests) = get_json(&b.1, &token, "/api/audit?action=ingest");
    // seven posts, on A and on B: six created a report, the resend none
    let records: Vec<u64> = ingests["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["records"].as_u64().unwrap())
        .collect();
    assert_eq!(records, [1, 1, 1, 1, 1, 1, 0], "{ingests}");
    // The database restarts under them: both reconnect, and go on agreeing.
    pg.restart();
    // The first write after the restart meets the dead connections (store and audit) and is
    // retried on new ones: acknowledged at once.
    assert_eq!(post(&a.1, &token, &report("syn-two-after", 3)), Some(201));
    assert!(
        within(Duration::from_secs(3), || get_json(
            &b.1,
            &token,
            "/api/journeys/syn-two-after"
        )
        .0 == 200)
        .is_some()
    );
    // A new instance started later loads everything.
    let c = instance(&url, &dir, &tokens);
    assert_eq!(
        get_json(&c.1, &token, "/api/journeys?limit=1").1["numberMatched"],
        7
    );
    drop((a, b, c));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_instance_killed_mid_write_loses_nothing_acknowledged() {
    let pg = PgCluster::start("kill");
    let url = pg.url("linesmap");
    let dir = std::env::temp_dir().join(format!("linesmap-pgkill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let tokens = dir.join("tokens.json");
    let token = create_token(&tokens, "admin", "kill test (synthetic)");
    let reader = instance(&url, &dir, &tokens);
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    for round in 0..3 {
        let mut writer = instance(&url, &dir, &tokens);
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..3)
            .map(|w| {
                let (addr, token, stop, acked) =
                    (writer.1.clone(), token.clone(), stop.clone(), acked.clone());
                std::thread::spawn(move || {
                    let mut k = 0;
                    while !stop.load(Ordering::Acquire) {
                        let id = format!("syn-pgkill-{round}-{w}-{k}");
                        match post(&addr, &token, &report(&id, k)) {
                            Some(201) => acked.lock().unwrap().push(id),
                            Some(s) => panic!("{s}"),
                            None => break,
                        }
                        k += 1;
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(400 + 300 * round as u64));
        writer.0.kill().unwrap(); // SIGKILL mid-write
        writer.0.wait().unwrap();
        stop.store(true, Ordering::Release);
        for t in threads {
            t.join().unwrap();
        }
        drop(writer);
    }
    let acked = acked.lock().unwrap();
    assert!(acked.len() > 20, "{}", acked.len());
    let store = PostgresStore::open(&url).unwrap();
    store.integrity_check().unwrap();
    for id in acked.iter() {
        assert!(
            store.get(id).unwrap().is_some(),
            "{id} acknowledged but lost"
        );
    }
    // The surviving instance has followed every stored report.
    let n = store.count().unwrap();
    assert!(
        within(Duration::from_secs(2), || get_json(
            &reader.1,
            &token,
            "/api/journeys?limit=1"
        )
        .1["numberMatched"]
            == n)
        .is_some()
    );
    drop(reader);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_shared_audit_log_keeps_a_jwt_callers_subject_and_issuer() {
    use linesmap::access::audit::{AuditEvent, AuditLog};
    let pg = PgCluster::start("sso-audit");
    let url = pg.url("linesmap");
    // the store migrates the schema (migration 3 adds the two columns)
    drop(PostgresStore::open(&url).unwrap());
    let log = AuditLog::database(&url).unwrap();
    let event = |sso: bool| AuditEvent {
        ts: linesmap::access::audit::now(),
        actor: "SSO Analyst".into(),
        token_id: if sso { "jwt" } else { "tok_1" }.into(),
        role: linesmap::access::Role::ForceAnalyst,
        action: "read_journeys".into(),
        path: "/api/journeys".into(),
        query: "limit=5".into(),
        records: 1,
        justification: None,
        remote: Some("127.0.0.1".into()),
        sso_subject: sso.then(|| "syn-user-1".into()),
        sso_issuer: sso.then(|| "https://idp.syn-force.example/realms/syn".into()),
    };
    log.append(&event(true)).unwrap();
    log.append(&event(false)).unwrap();
    // read back by another connection, as another instance would
    let (all, n) = AuditLog::database(&url)
        .unwrap()
        .read(|_| true, 0, 10)
        .unwrap();
    assert_eq!(n, 2);
    let mut want = event(true);
    want.ts = all[0].ts.clone();
    assert_eq!(all[0], want, "every field, the SSO identity too");
    assert_eq!(all[1].sso_subject, None);
    assert_eq!(all[1].sso_issuer, None);
    assert_eq!(all[0].sso_subject.as_deref(), Some("syn-user-1"));
}

/// A POST with no body and a reason, over a real socket; the status.
fn post_why(addr: &str, token: &str, path: &str, why: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nX-Justification: {why}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.get(9..12).and_then(|x| x.parse().ok()).unwrap_or(0)
}

#[test]
fn a_restriction_set_on_one_instance_holds_on_the_other_within_a_second() {
    let pg = PgCluster::start("restrict");
    let url = pg.url("linesmap");
    let dir = std::env::temp_dir().join(format!("linesmap-pgres-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let tokens = dir.join("tokens.json");
    let admin = create_token(&tokens, "admin", "restriction admin (synthetic)");
    let analyst = create_token(&tokens, "analyst", "restriction analyst (synthetic)");
    let a = instance(&url, &dir, &tokens);
    let b = instance(&url, &dir, &tokens);
    for i in 0..3 {
        assert_eq!(
            post(&a.1, &admin, &report(&format!("syn-pgr-{i}"), i)),
            Some(201)
        );
    }
    let total =
        |addr: &str| get_json(addr, &analyst, "/api/trends?interval=month").1["journeys"].clone();
    assert!(within(Duration::from_secs(1), || total(&b.1) == 3).is_some());
    // Restricted on A: within 1 s B's analyst no longer reads it, lists it or counts it.
    assert_eq!(
        post_why(
            &a.1,
            &admin,
            "/api/journeys/syn-pgr-1/restrict",
            "synthetic test"
        ),
        200
    );
    let gone = within(Duration::from_secs(1), || {
        get_json(&b.1, &analyst, "/api/journeys/syn-pgr-1").0 == 404
            && get_json(&b.1, &analyst, "/api/journeys?limit=10").1["numberMatched"] == 2
            && total(&b.1) == 2
    });
    assert!(
        gone.is_some(),
        "B still shows the restricted report after 1 s"
    );
    assert_eq!(
        get_json(&b.1, &admin, "/api/journeys/syn-pgr-1").0,
        200,
        "admins still read it"
    );
    // A third instance started later loads the restriction with the reports.
    let c = instance(&url, &dir, &tokens);
    assert_eq!(get_json(&c.1, &analyst, "/api/journeys/syn-pgr-1").0, 404);
    // Lifted on B: back on A within 1 s.
    assert_eq!(
        post_why(
            &b.1,
            &admin,
            "/api/journeys/syn-pgr-1/unrestrict",
            "synthetic test"
        ),
        200
    );
    let back = within(Duration::from_secs(1), || {
        get_json(&a.1, &analyst, "/api/journeys/syn-pgr-1").0 == 200 && total(&a.1) == 3
    });
    assert!(
        back.is_some(),
        "A does not show the lifted report after 1 s"
    );
    drop((a, b, c));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_erasure_on_one_instance_reaches_the_other_within_a_second_and_outlives_a_restart() {
    let pg = PgCluster::start("erase");
    let url = pg.url("linesmap");
    let dir = std::env::temp_dir().join(format!("linesmap-pgerase-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let tokens = dir.join("tokens.json");
    let admin = create_token(&tokens, "admin", "erasure admin (synthetic)");
    let a = instance(&url, &dir, &tokens);
    let b = instance(&url, &dir, &tokens);
    for i in 0..3 {
        assert_eq!(
            post(&a.1, &admin, &report(&format!("syn-pge-{i}"), i)),
            Some(201)
        );
    }
    let total =
        |addr: &str| get_json(addr, &admin, "/api/trends?interval=month").1["journeys"].clone();
    assert!(within(Duration::from_secs(1), || total(&b.1) == 3).is_some());
    let mut s = std::net::TcpStream::connect(&a.1).unwrap();
    use std::io::{Read, Write};
    write!(
        s,
        "DELETE /api/journeys/syn-pge-1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\nX-Justification: synthetic test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    // On B within 1 s: not even an admin reads it, lists it or counts it.
    let gone = within(Duration::from_secs(1), || {
        get_json(&b.1, &admin, "/api/journeys/syn-pge-1").0 == 404
            && get_json(&b.1, &admin, "/api/journeys?limit=10").1["numberMatched"] == 2
            && total(&b.1) == 2
    });
    assert!(gone.is_some(), "B still shows the erased report after 1 s");
    // The id stays refused on either instance, and by one started later.
    assert_eq!(post(&b.1, &admin, &report("syn-pge-1", 1)), Some(410));
    let c = instance(&url, &dir, &tokens);
    assert_eq!(get_json(&c.1, &admin, "/api/journeys/syn-pge-1").0, 404);
    assert_eq!(
        get_json(&c.1, &admin, "/api/journeys?limit=10").1["numberMatched"],
        2
    );
    assert_eq!(post(&c.1, &admin, &report("syn-pge-1", 1)), Some(410));
    // The row is gone from the database; the tombstone holds no content.
    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let n: i64 = db
        .query_one(
            "SELECT count(*) FROM reports WHERE report_id = 'syn-pge-1'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    let who: String = db
        .query_one(
            "SELECT actor FROM tombstones WHERE report_id = 'syn-pge-1'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(who, "erasure admin (synthetic)");
    drop((a, b, c));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A request over a real socket with a reason and a JSON body; (status, JSON body or Null).
fn send(addr: &str, token: &str, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nX-Justification: synthetic test\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.get(9..12).and_then(|x| x.parse().ok()).unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

#[test]
fn rectification_and_review_reach_every_instance_within_a_second_and_outlive_a_restart() {
    let pg = PgCluster::start("records");
    let url = pg.url("linesmap");
    let dir = std::env::temp_dir().join(format!("linesmap-pgrec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let tokens = dir.join("tokens.json");
    let admin = create_token(&tokens, "admin", "records admin (synthetic)");
    let analyst = create_token(&tokens, "analyst", "records analyst (synthetic)");
    let a = instance(&url, &dir, &tokens);
    let b = instance(&url, &dir, &tokens);
    // k = 0 Euston → Norwich, 1 Lime Street → Blackpool North, 2 New Street → Swansea, 3 King's
    // Cross → Skegness; journey dates 2018-05-01, 2019-01-15, 2020-02-29, 2023-07-01
    let dates = ["2018-05-01", "2019-01-15", "2020-02-29", "2023-07-01"];
    for (k, d) in dates.iter().enumerate() {
        let body = super::records::report_on(&format!("syn-pgv-{k}"), k, d);
        assert_eq!(post(&a.1, &admin, &body), Some(201));
    }
    let ends = |addr: &str, crs: &str| -> u64 {
        let (_, v) = get_json(addr, &admin, "/api/hotspots?top=10000");
        v["features"]
            .as_array()
            .map(|f| {
                f.iter()
                    .find(|f| f["properties"]["crs"] == crs)
                    .map_or(0, |f| f["properties"]["ends"].as_u64().unwrap_or(0))
            })
            .unwrap_or(u64::MAX)
    };
    // (the setting-up, not what is measured: generous, for a machine running other tests)
    assert!(
        within(Duration::from_secs(10), || ends(&b.1, "BPN") == 1
            && ends(&b.1, "NRW") == 1)
        .is_some()
    );
    // Rectified on A (Lime Street → Norwich, not Blackpool North): on B within 1 s one count
    // has moved from Blackpool North to Norwich.
    let fixed = super::records::report_on("syn-pgv-1", 1, dates[1]).replace("\"BPN\"", "\"NRW\"");
    let (s, v) = send(&a.1, &admin, "PUT", "/api/journeys/syn-pgv-1", &fixed);
    assert_eq!(
        (s, v["version"].clone()),
        (200, serde_json::json!(2)),
        "{v}"
    );
    let moved = within(Duration::from_secs(1), || {
        ends(&b.1, "BPN") == 0
            && ends(&b.1, "NRW") == 2
            && get_json(&b.1, &analyst, "/api/journeys/syn-pgv-1").1["properties"]["destination_station"]
                == "NRW"
    });
    assert!(moved.is_some(), "B still counts the old version after 1 s");
    eprintln!(
        "rectification: the second instance read and counted the new version after {moved:?}"
    );
    let (s, v) = get_json(&b.1, &admin, "/api/journeys/syn-pgv-1/versions");
    assert_eq!(s, 200);
    let versions: Vec<_> = v["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap(),
                v["report"]["journey"]["destination"]["station"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(versions, [(2, "NRW".to_string()), (1, "BPN".to_string())]);
    assert_eq!(
        get_json(&b.1, &analyst, "/api/journeys/syn-pgv-1/versions").0,
        403
    );
    // A third instance, started later (a restart), loads the current version.
    let c = instance(&url, &dir, &tokens);
    assert_eq!((ends(&c.1, "BPN"), ends(&c.1, "NRW")), (0, 2));

    // Review: six years on, 2024-05-01, 2025-01-15, 2026-02-28 and 2029-07-01. Retained on B,
    // listed so on A; disposed on A, gone from B within 1 s and refused from then on.
    let q = |addr: &str, before: &str| -> Vec<(String, String)> {
        let (s, v) = get_json(addr, &admin, &format!("/api/review?due_before={before}"));
        assert_eq!(s, 200, "{v}");
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
    };
    let own = |l: &[(&str, &str)]| {
        l.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        q(&a.1, "2026-03-01"),
        own(&[
            ("syn-pgv-0", "2024-05-01"),
            ("syn-pgv-1", "2025-01-15"),
            ("syn-pgv-2", "2026-02-28")
        ])
    );
    let (s, v) = send(
        &b.1,
        &admin,
        "POST",
        "/api/review/syn-pgv-1",
        r#"{"decision":"retain","review_date":"2030-01-01","reason":"still linked (synthetic)"}"#,
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        q(&a.1, "2031-01-01"),
        own(&[
            ("syn-pgv-0", "2024-05-01"),
            ("syn-pgv-2", "2026-02-28"),
            ("syn-pgv-3", "2029-07-01"),
            ("syn-pgv-1", "2030-01-01")
        ])
    );
    let (s, v) = send(
        &a.1,
        &admin,
        "POST",
        "/api/review/syn-pgv-0",
        r#"{"decision":"dispose","reason":"no longer necessary (synthetic)"}"#,
    );
    assert_eq!(
        (s, v["erased"].clone()),
        (200, serde_json::json!(true)),
        "{v}"
    );
    let gone = within(Duration::from_secs(1), || {
        get_json(&b.1, &admin, "/api/journeys/syn-pgv-0").0 == 404 && ends(&b.1, "NRW") == 1
    });
    assert!(
        gone.is_some(),
        "B still shows the disposed report after 1 s"
    );
    assert_eq!(
        post(
            &b.1,
            &admin,
            &super::records::report_on("syn-pgv-0", 0, dates[0])
        ),
        Some(410)
    );
    assert_eq!(q(&b.1, "2026-03-01"), own(&[("syn-pgv-2", "2026-02-28")]));
    // The command line reads the same queue from the database.
    let out = super::records::review_cli(&[
        "--before",
        "2031-01-01",
        "--format",
        "json",
        "--store",
        &url,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = v["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["report_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["syn-pgv-2", "syn-pgv-3", "syn-pgv-1"]);
    assert_eq!(
        v["reports"][2]["last_decision"]["reason"],
        "still linked (synthetic)"
    );
    // Every action in the shared audit log, whichever instance took it (the versions were
    // read without a reason: none is asked of a read).
    for (action, why) in [
        ("rectify", "synthetic test"),
        ("read_versions", ""),
        ("review_retain", "synthetic test"),
        ("review_dispose", "synthetic test"),
    ] {
        let (_, log) = get_json(&c.1, &admin, &format!("/api/audit?action={action}"));
        assert_eq!(log["numberMatched"], 1, "{action}: {log}");
        assert_eq!(log["events"][0]["actor"], "records admin (synthetic)");
        let got = log["events"][0]["justification"].as_str().unwrap_or("");
        assert_eq!(got, why, "{action}: {log}");
    }
    drop((a, b, c));
    std::fs::remove_dir_all(&dir).unwrap();
}
