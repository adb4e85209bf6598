//! Filtered OGC API – Features items pages over 100,000 synthetic journeys on the real GB data
//! (issue 19's target: a filtered items page < 20 ms): the whole request through the server's
//! routes (gate, CQL2 parse and check, selection, the page rendered as GeoJSON), signed in as
//! the open test state's admin.
//!
//! - **uncached**: the filtered selection memo is emptied before each request, so every
//!   request compiles the filter and tests the candidate journeys;
//! - **next page (cached)**: the second page of the same filter, its selection kept;
//! - **selection only**: the filtered positions alone (`ogc::filtered_journeys`), uncached;
//! - an unfiltered page, for comparison.
//!
//! The filters: children travelling by rail (`mode = 'rail' AND children >= 1`: the report
//! schema has no `child` age band nor a `train` mode; `children` counts the persons under 18);
//! `S_INTERSECTS` of a 20 km box around Charing Cross (the box of `benches/http`); of a WKT
//! polygon (a hexagon of about the same size round the City); and the children by rail in one
//! quarter (`datetime=2024-01-01/2024-03-31`).
//! `LINESMAP_DATA` names the data folder (default the shipped `data/gb`). The journeys are
//! `linesmap generate --reports 100000 --seed 1`, validated and mapped into an in-memory
//! store first (not measured). Run: `cargo bench --bench filter`.
//!
//! On a shared machine criterion's wall time includes waiting for a core, so each case also
//! prints the process's CPU time per request (every thread: the request runs on the runtime's
//! and the blocking pool's threads), the mean of `CPU_REPS` requests.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use linesmap::config::{DataPaths, load_geography};
use linesmap::http::{AppState, cql2, ogc, routes};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn bench(c: &mut Criterion) {
    let dir = std::env::var_os("LINESMAP_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/gb"));
    let paths = DataPaths::resolve(Some(&dir), None, None, None).expect("LINESMAP_DATA");
    let geo = Arc::new(
        load_geography(&paths, Default::default())
            .expect("data loads")
            .0,
    );
    let store = linesmap::store::SqliteStore::in_memory().expect("store");
    let journeys = linesmap::ingest::Journeys::new(geo.clone(), Arc::new(store));
    let reports = linesmap::journey::generate::generate(
        &geo,
        &linesmap::journey::generate::GeneratorParams::builtin(),
        100_000,
        1,
    );
    let now = time::OffsetDateTime::now_utc();
    for chunk in reports.chunks(10_000) {
        let values: Vec<_> = chunk.iter().cloned().map(Ok).collect();
        journeys.ingest(&values, now).expect("ingest");
    }
    assert_eq!(journeys.index().len(), 100_000);
    // how long the index's updates take (its route R-tree and lists with it): a rebuild of
    // 100,000 journeys (what an erasure or a rectification does) and inserts one by one
    {
        let all: Vec<_> = journeys
            .index()
            .all()
            .iter()
            .map(|j| (**j).clone())
            .collect();
        let t = std::time::Instant::now();
        let mut idx = linesmap::journey::index::JourneyIndex::from_journeys(all[..99_000].to_vec());
        eprintln!(
            "index rebuilt from 99,000 journeys in {:.0} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
        let t = std::time::Instant::now();
        for j in &all[99_000..] {
            idx.insert(j.clone());
        }
        eprintln!(
            "index insert: {:.1} µs per journey (1,000 inserted one by one)",
            t.elapsed().as_secs_f64() * 1e6 / 1e3
        );
    }
    let state = AppState::new(Arc::new(journeys));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let api = routes(state.clone());
    let get = |path: &str| {
        rt.block_on(async {
            let r = warp::test::request()
                .path(path)
                .header("host", "bench.test")
                .reply(&api)
                .await;
            assert_eq!(r.status(), 200, "{path}");
            r.body().len()
        })
    };
    // (name, filter, other parameters)
    let filters = [
        ("children by rail", "mode = 'rail' AND children >= 1", ""),
        (
            "S_INTERSECTS 20 km box",
            "S_INTERSECTS(geometry, BBOX(-0.272, 51.417, 0.017, 51.597))",
            "",
        ),
        (
            "S_INTERSECTS WKT hexagon",
            "S_INTERSECTS(geometry, POLYGON((-0.23 51.507, -0.16 51.42, -0.03 51.42, \
             0.04 51.507, -0.03 51.594, -0.16 51.594, -0.23 51.507)))",
            "",
        ),
        (
            "children by rail, 2024 Q1",
            "mode = 'rail' AND children >= 1",
            "&datetime=2024-01-01/2024-03-31",
        ),
    ];
    let mut g = c.benchmark_group("filtered journeys items, 100,000 journeys, limit=100");
    g.sample_size(30);
    let plain = "/collections/journeys/items?limit=100";
    eprintln!("unfiltered page: {} bytes", get(plain));
    eprintln!(
        "unfiltered page: {:.2} ms of CPU per request",
        cpu_ms(|| {
            get(plain);
        })
    );
    g.bench_function("unfiltered page", |b| b.iter(|| black_box(get(plain))));
    for (name, filter, params) in filters {
        let first = format!(
            "/collections/journeys/items?limit=100{params}&filter={}",
            enc(filter)
        );
        let next = format!("{first}&offset=100");
        let jf = linesmap::journey::index::JourneyFilter {
            from_day: params.contains("2024-01-01").then(|| day("2024-01-01")),
            to_day: params.contains("2024-03-31").then(|| day("2024-03-31")),
            ..Default::default()
        };
        let matched = {
            let e = cql2::parse_text(filter, linesmap::http::crs::Crs::Crs84).expect("parses");
            let idx = state.journeys.index();
            ogc::filtered_journeys(&idx, &state, &jf, &e)
                .expect("filters")
                .len()
        };
        eprintln!(
            "{name}: {matched} journeys match; first page {} bytes",
            get(&first)
        );
        let uncached = cpu_ms(|| {
            state.memos.filtered_journeys.0.clear();
            get(&first);
        });
        get(&first);
        let cached = cpu_ms(|| {
            get(&next);
        });
        let e = cql2::parse_text(filter, linesmap::http::crs::Crs::Crs84).expect("parses");
        let selection = cpu_ms(|| {
            state.memos.filtered_journeys.0.clear();
            let idx = state.journeys.index();
            black_box(ogc::filtered_journeys(&idx, &state, &jf, &e).map(|v| v.len())).ok();
        });
        eprintln!(
            "{name}: ms of CPU per request: uncached page {uncached:.2}, next page (cached) \
             {cached:.2}, selection alone {selection:.2}"
        );
        g.bench_function(format!("{name}: uncached page"), |b| {
            b.iter_batched(
                || state.memos.filtered_journeys.0.clear(),
                |_| black_box(get(&first)),
                BatchSize::PerIteration,
            )
        });
        get(&first);
        g.bench_function(format!("{name}: next page (cached)"), |b| {
            b.iter(|| black_box(get(&next)))
        });
        g.bench_function(format!("{name}: selection only, uncached"), |b| {
            b.iter_batched(
                || state.memos.filtered_journeys.0.clear(),
                |_| {
                    let idx = state.journeys.index();
                    black_box(ogc::filtered_journeys(&idx, &state, &jf, &e).map(|v| v.len()))
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

/// Requests timed for CPU.
const CPU_REPS: u32 = 40;

/// The process's CPU time (user and system, every thread) per call of `f`, ms: the mean of
/// `CPU_REPS` calls after one not counted.
fn cpu_ms(mut f: impl FnMut()) -> f64 {
    f();
    let t0 = process_cpu_s();
    for _ in 0..CPU_REPS {
        f();
    }
    (process_cpu_s() - t0) * 1e3 / f64::from(CPU_REPS)
}

fn process_cpu_s() -> f64 {
    // SAFETY: getrusage only writes the struct it is given
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 * 1e-6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// Days since 1970-01-01 of a date `YYYY-MM-DD`.
fn day(s: &str) -> i32 {
    linesmap::journey::map::day_number(linesmap::journey::report::parse_date(s).expect("date"))
}

criterion_group!(benches, bench);
criterion_main!(benches);
