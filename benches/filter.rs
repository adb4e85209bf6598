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
//! schema has no `child` age band nor a `train` mode; `children` counts the persons under 18)
//! and `S_INTERSECTS` of a 20 km box around Charing Cross (the box of `benches/http`).
//! `LINESMAP_DATA` names the data folder (default the shipped `data/gb`). The journeys are
//! `linesmap generate --reports 100000 --seed 1`, validated and mapped into an in-memory
//! store first (not measured). Run: `cargo bench --bench filter`.

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
    let filters = [
        ("children by rail", "mode = 'rail' AND children >= 1"),
        (
            "S_INTERSECTS 20 km box",
            "S_INTERSECTS(geometry, BBOX(-0.272, 51.417, 0.017, 51.597))",
        ),
    ];
    let mut g = c.benchmark_group("filtered journeys items, 100,000 journeys, limit=100");
    g.sample_size(30);
    let plain = "/collections/journeys/items?limit=100";
    eprintln!("unfiltered page: {} bytes", get(plain));
    g.bench_function("unfiltered page", |b| b.iter(|| black_box(get(plain))));
    for (name, filter) in filters {
        let first = format!(
            "/collections/journeys/items?limit=100&filter={}",
            enc(filter)
        );
        let next = format!("{first}&offset=100");
        let matched = {
            let e = cql2::parse_text(filter, linesmap::http::crs::Crs::Crs84).expect("parses");
            let idx = state.journeys.index();
            ogc::filtered_journeys(&idx, &state, &Default::default(), &e)
                .expect("filters")
                .len()
        };
        eprintln!(
            "{name}: {matched} journeys match; first page {} bytes",
            get(&first)
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
        let e = cql2::parse_text(filter, linesmap::http::crs::Crs::Crs84).expect("parses");
        g.bench_function(format!("{name}: selection only, uncached"), |b| {
            b.iter_batched(
                || state.memos.filtered_journeys.0.clear(),
                |_| {
                    let idx = state.journeys.index();
                    black_box(
                        ogc::filtered_journeys(&idx, &state, &Default::default(), &e)
                            .map(|v| v.len()),
                    )
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
