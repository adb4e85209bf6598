//! Reliability: back-pressure answers 503 rather than queueing without bound; concurrent
//! writers survive SIGKILL at random moments with every acknowledged report stored exactly
//! once; SIGTERM lets an in-flight request finish and closes the store cleanly.

use super::common::{fresh_state, post_report as post, report, start_server};
use linesmap::http::{AppState, Limits, routes};
use linesmap::store::JourneyStore;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn state_with(limits: Limits) -> Arc<AppState> {
    let base = fresh_state();
    let store = linesmap::store::SqliteStore::in_memory().unwrap();
    let journeys = Arc::new(linesmap::ingest::Journeys::new(
        base.geo.clone(),
        Arc::new(store),
    ));
    AppState::with_limits(
        journeys,
        None,
        linesmap::access::Security::open_for_tests(),
        limits,
    )
}

async fn get(st: &Arc<AppState>, path: &str) -> (u16, serde_json::Value, bool) {
    let r = warp::test::request()
        .path(path)
        .reply(&routes(st.clone()))
        .await;
    let v = serde_json::from_slice(r.body()).unwrap_or(serde_json::Value::Null);
    (
        r.status().as_u16(),
        v,
        r.headers().contains_key("retry-after"),
    )
}

#[tokio::test]
async fn back_pressure_is_a_503_with_retry_after() {
    // No request slot: refused at the door.
    let st = state_with(Limits::new(0, 4, Duration::from_secs(60)));
    let (s, v, retry) = get(&st, "/health").await;
    assert_eq!(
        (s, v["code"].as_str(), retry),
        (503, Some("busy"), true),
        "{v}"
    );
    // Every worker taken: a computation waits for one, then is refused.
    let mut limits = Limits::new(100, 1, Duration::from_secs(60));
    limits.queue_wait = Duration::from_millis(50);
    let st = state_with(limits);
    let held = st.limits.workers.clone().try_acquire_owned().unwrap();
    let (s, v, retry) = get(&st, "/api/hotspots?top=1").await;
    assert_eq!(
        (s, v["code"].as_str(), retry),
        (503, Some("busy"), true),
        "{v}"
    );
    // Requests that need no worker still answer, and the slots are given back.
    assert_eq!(get(&st, "/health").await.0, 200);
    drop(held);
    assert_eq!(get(&st, "/api/hotspots?top=1").await.0, 200);
    assert_eq!(st.limits.in_flight.load(Ordering::Acquire), 0);
    // A computation over its time: the client gets 503 at the timeout, not when it ends.
    let limits = Arc::new(Limits::new(100, 4, Duration::from_millis(100)));
    let t0 = std::time::Instant::now();
    let r = linesmap::http::offload(limits.clone(), || {
        std::thread::sleep(Duration::from_millis(1500))
    })
    .await;
    let e = r.expect_err("over time");
    assert_eq!(e.code(), "busy");
    assert!(e.to_string().contains("longer than"), "{e}");
    assert!(
        t0.elapsed() < Duration::from_millis(1000),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(linesmap::http::offload(limits, || 7).await.unwrap(), 7);
}

#[test]
fn concurrent_writers_survive_sigkill_at_random_moments() {
    let dir = std::env::temp_dir().join(format!("linesmap-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("journeys.sqlite");
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    const ROUNDS: usize = 5;
    const WRITERS: usize = 4;
    for round in 0..ROUNDS {
        let (mut child, addr, token) = start_server(&store, &["--rate-limit", "0"]);
        let stop = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (addr, token, stop, acked) =
                    (addr.clone(), token.clone(), stop.clone(), acked.clone());
                std::thread::spawn(move || {
                    let mut k = 0usize;
                    while !stop.load(Ordering::Acquire) {
                        // batches of 1 to 4 (one report alone is an object, not an array)
                        let n = 1 + (k + w) % 4;
                        let ids: Vec<String> = (0..n)
                            .map(|i| format!("syn-crash-{round}-{w}-{k}-{i}"))
                            .collect();
                        let bodies: Vec<String> = ids
                            .iter()
                            .enumerate()
                            .map(|(i, id)| report(id, k + i))
                            .collect();
                        let body = if n == 1 {
                            bodies[0].clone()
                        } else {
                            format!("[{}]", bodies.join(","))
                        };
                        match post(&addr, &token, &body) {
                            Some(200 | 201) => acked.lock().unwrap().extend(ids),
                            Some(s) => panic!("a valid batch got {s}"),
                            None => break, // killed: this write was never acknowledged
                        }
                        k += 1;
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.random_range(300..1500)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        stop.store(true, Ordering::Release);
        for h in handles {
            h.join().unwrap();
        }
        // After each crash the store opens, is consistent, and holds every acknowledged report
        // exactly once.
        let s = linesmap::store::SqliteStore::open(&store).unwrap();
        s.integrity_check().unwrap();
        let mut seen: HashMap<String, usize> = HashMap::new();
        s.scan(0, &mut |r| *seen.entry(r.report_id).or_default() += 1)
            .unwrap();
        let acked = acked.lock().unwrap();
        assert!(
            acked.len() > round * 10,
            "round {round}: only {} writes acknowledged",
            acked.len()
        );
        for id in acked.iter() {
            assert_eq!(seen.get(id), Some(&1), "round {round}: {id}");
        }
        assert!(seen.values().all(|&n| n == 1));
        // (a report may be stored without its acknowledgement reaching the writer: fine.)
        assert!(seen.len() >= acked.len());
    }
    // A restarted server serves them all.
    let (mut child, addr, token) = start_server(&store, &[]);
    let body = super::cli::http_get_body(&addr, &token, "/api/journeys?limit=1");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let stored = linesmap::store::SqliteStore::open(&store)
        .unwrap()
        .count()
        .unwrap();
    assert_eq!(v["numberMatched"].as_u64(), Some(stored));
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_then_exits_cleanly() {
    let dir = std::env::temp_dir().join(format!("linesmap-drain-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("journeys.sqlite");
    let (mut child, addr, token) = start_server(&store, &[]);
    // Start a POST and send half its body ...
    let body = report("syn-drain-1", 0);
    let (a, b) = body.split_at(body.len() / 2);
    let mut s = TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "POST /api/journeys HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{a}",
        body.len()
    )
    .unwrap();
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // ... SIGTERM while it is in flight ...
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    std::thread::sleep(Duration::from_millis(300));
    // ... new connections are refused, the request in flight finishes.
    assert!(
        TcpStream::connect(&addr).is_err()
            || post(&addr, &token, &report("syn-drain-2", 1)).is_none(),
        "a new request was taken after SIGTERM"
    );
    s.write_all(b.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 201"), "{out}");
    let status = child.wait().unwrap();
    assert!(status.success(), "exit after SIGTERM: {status:?}");
    // The store was closed cleanly: no WAL left to replay, and the report is there.
    let wal = std::fs::metadata(format!("{}-wal", store.display()))
        .map(|m| m.len())
        .unwrap_or(0);
    assert_eq!(wal, 0, "the WAL was checkpointed on close");
    let s = linesmap::store::SqliteStore::open(&store).unwrap();
    assert!(s.get("syn-drain-1").unwrap().is_some());
    s.integrity_check().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Readers computing layers for ever-new filters while a writer adds reports one at a time: a
/// read guard held while a layer waits for its memo, or taken twice by one thread, deadlocks
/// once the writer queues between (the soak of 2026-11-30 stopped dead within a second at 64
/// connections). Every thread must finish its rounds; a deadlock fails the test at the
/// watchdog instead of hanging it.
#[test]
fn readers_computing_layers_and_a_writer_never_deadlock() {
    use linesmap::http::layers::{force_counts, section_stats, station_counts};
    use linesmap::journey::index::JourneyFilter;
    let st = fresh_state();
    let now = time::OffsetDateTime::now_utc();
    let seed: Vec<Result<serde_json::Value, _>> = (0..200)
        .map(|i| Ok(serde_json::from_str(&report(&format!("syn-dl-{i}"), i)).unwrap()))
        .collect();
    st.journeys.ingest(&seed, now).unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<&'static str>();
    let rounds = 300;
    let mut threads = Vec::new();
    for t in 0..6 {
        let (st, done) = (st.clone(), done_tx.clone());
        threads.push(std::thread::spawn(move || {
            for r in 0..rounds {
                // a filter no other call used: every call computes (a memo miss)
                let f = JourneyFilter {
                    from_day: Some(19_000 + (t * rounds + r) as i32),
                    ..JourneyFilter::default()
                };
                match r % 3 {
                    0 => drop(force_counts(&st, &f)),
                    1 => drop(station_counts(&st, &f)),
                    _ => drop(section_stats(&st, &f)),
                }
            }
            done.send("reader").unwrap();
        }));
    }
    {
        let (st, done) = (st.clone(), done_tx.clone());
        threads.push(std::thread::spawn(move || {
            for i in 0..rounds {
                let v = serde_json::from_str(&report(&format!("syn-dl-w{i}"), i)).unwrap();
                st.journeys.ingest(&[Ok(v)], now).unwrap();
            }
            done.send("writer").unwrap();
        }));
    }
    drop(done_tx);
    for n in 0..threads.len() {
        let who = done_rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("deadlock: {n} of 7 threads finished in 120 s"));
        assert!(who == "reader" || who == "writer");
    }
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(st.journeys.index().len(), 200 + rounds);
}

/// A step of work that records how far it got and, however it ends (to the last step or
/// unwound by a cancel), that it ended.
struct Progress {
    steps: std::sync::atomic::AtomicUsize,
    ended: AtomicBool,
}

impl Progress {
    fn new() -> Arc<Progress> {
        Arc::new(Progress {
            steps: Default::default(),
            ended: AtomicBool::new(false),
        })
    }

    /// `n` steps of 5 ms, each after a [`linesmap::cancel::check`].
    fn work(&self, n: usize, started: tokio::sync::oneshot::Sender<()>) {
        struct End<'a>(&'a AtomicBool);
        impl Drop for End<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let _end = End(&self.ended);
        let _ = started.send(());
        for _ in 0..n {
            linesmap::cancel::check();
            std::thread::sleep(Duration::from_millis(5));
            self.steps.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Waits (up to 5 s) for the work to end; the steps it took.
    async fn ended(&self) -> usize {
        let t0 = std::time::Instant::now();
        while !self.ended.load(Ordering::SeqCst) {
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "the work went on ({} steps)",
                self.steps.load(Ordering::SeqCst)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.steps.load(Ordering::SeqCst)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_nobody_waits_for_stops_and_a_write_runs_to_its_end() {
    use linesmap::http::{offload, offload_write};
    let limits = Arc::new(Limits::new(100, 4, Duration::from_secs(60)));
    // A read whose future is dropped (its client gone): 2,000 steps (10 s) if it ran on.
    let work = Progress::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let w = work.clone();
    let task = tokio::spawn(offload(limits.clone(), move || w.work(2_000, tx)));
    rx.await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    task.abort();
    let steps = work.ended().await;
    assert!(steps < 2_000, "{steps}");
    // its worker is free again
    assert_eq!(limits.workers.available_permits(), 4);
    // A read over its time: the client has its 503 at the timeout, and the work stops too.
    let short = Arc::new(Limits::new(100, 4, Duration::from_millis(100)));
    let work = Progress::new();
    let (tx, _rx) = tokio::sync::oneshot::channel();
    let w = work.clone();
    let e = offload(short.clone(), move || w.work(2_000, tx))
        .await
        .expect_err("over time");
    assert_eq!(e.code(), "busy");
    assert!(work.ended().await < 2_000);
    // A write whose future is dropped runs its 40 steps to the end: what it changes is
    // changed whole.
    let work = Progress::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let w = work.clone();
    let task = tokio::spawn(offload_write(limits.clone(), move || w.work(40, tx)));
    rx.await.unwrap();
    task.abort();
    assert_eq!(work.ended().await, 40);
    // and uncancelled work answers as before
    assert_eq!(offload(limits, || 7).await.unwrap(), 7);
}

/// Through the server's own connection handling: a request whose client closes the connection
/// is dropped at once (hyper reads the connection while the handler runs), so what it was
/// waiting for or computing is given up. With the only worker held, a request for a layer
/// waits for it; the client closes; the request must leave the server (in flight 0) before the
/// worker is free, and compute nothing after.
#[test]
fn a_request_whose_client_closes_the_connection_is_dropped() {
    let mut limits = Limits::new(100, 1, Duration::from_secs(60));
    limits.queue_wait = Duration::from_secs(30);
    let st = state_with(limits);
    let held = st.limits.workers.clone().try_acquire_owned().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let server_state = st.clone();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (addr, fut) = linesmap::http::server::bind(
                server_state,
                "127.0.0.1:0".parse().unwrap(),
                None,
                async move {
                    let _ = stop_rx.await;
                },
            )
            .unwrap();
            addr_tx.send(addr).unwrap();
            fut.await;
        });
    });
    let addr = addr_rx.recv_timeout(Duration::from_secs(20)).unwrap();
    let wait_for = |what: &str, ok: &dyn Fn() -> bool| {
        let t0 = std::time::Instant::now();
        while !ok() {
            assert!(t0.elapsed() < Duration::from_secs(10), "{what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let in_flight = || st.limits.in_flight.load(Ordering::Acquire);
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET /api/hotspots?top=5&from=2024-02-03 HTTP/1.1\r\nHost: {addr}\r\n\r\n"
    )
    .unwrap();
    s.flush().unwrap();
    wait_for("the request reached the server", &|| in_flight() == 1);
    // waiting for the worker; the client goes
    drop(s);
    wait_for("the request was dropped when its client went", &|| {
        in_flight() == 0
    });
    // the worker freed: nobody takes it (the dropped request does not come back for it)
    drop(held);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(st.limits.workers.available_permits(), 1);
    // the server answers the same request to a client that stays
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET /api/hotspots?top=5&from=2024-02-03 HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    stop_tx.send(()).unwrap();
    server.join().unwrap();
}
