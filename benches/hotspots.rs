//! Station hotspots over 100,000 synthetic journeys on the real GB data (issue 16): the
//! permutation test (999 permutations × 2,568 stations) and a station's clock.
//!
//! `LINESMAP_DATA` names the data folder (default the shipped `data/gb`). The journeys are
//! `linesmap generate --reports 100000 --seed 1`, validated and mapped into an in-memory
//! store first (a few seconds, not measured).
//! Run: `cargo bench --bench hotspots`.

use criterion::{Criterion, criterion_group, criterion_main};
use linesmap::config::{DataPaths, load_geography};
use linesmap::journey::clock;
use linesmap::journey::index::JourneyFilter;
use linesmap::layers::hotspots::{Inference, Neighbourhoods, permutation_p, spots};
use linesmap::layers::{Measure, counts_at, station_stats};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

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
    let idx = journeys.index();
    let all: Vec<_> = idx.all().iter().collect();
    assert_eq!(all.len(), 100_000);
    let stats = station_stats(&geo, &all);
    let x: Vec<f64> = stats.iter().map(|s| f64::from(s.stops)).collect();
    let nb = Neighbourhoods::build(&geo);
    let mean_k = nb.neighbours.iter().map(Vec::len).sum::<usize>() as f64 / nb.len() as f64;
    let max_k = nb.neighbours.iter().map(Vec::len).max().unwrap_or(0);
    eprintln!(
        "{} stations, neighbours per station: mean {mean_k:.1}, max {max_k}",
        x.len()
    );
    c.bench_function(
        "p_sim, 999 permutations x 2,568 stations (stops of 100,000 journeys)",
        |b| b.iter(|| black_box(permutation_p(black_box(&x), &nb, 999, 12_345))),
    );
    // a quarter (2024 Q1, the browser test's filter): most stations see no journey, and a
    // station whose neighbours saw none needs no draws
    let day = |y: i32, m: time::Month, d: u8| {
        (time::Date::from_calendar_date(y, m, d).expect("date")
            - time::Date::from_calendar_date(1970, time::Month::January, 1).expect("epoch"))
        .whole_days() as i32
    };
    let quarter = JourneyFilter {
        from_day: Some(day(2024, time::Month::January, 1)),
        to_day: Some(day(2024, time::Month::March, 31)),
        ..JourneyFilter::default()
    };
    let sel = idx.matching(&geo, &quarter);
    let xq: Vec<f64> = station_stats(&geo, &sel)
        .iter()
        .map(|s| f64::from(s.stops))
        .collect();
    let at_zero = nb
        .neighbours
        .iter()
        .filter(|l| l.iter().all(|&j| xq[j as usize] == 0.0))
        .count();
    eprintln!(
        "2024 Q1: {} journeys, {} stations with stops, {at_zero} whose neighbours have none",
        sel.len(),
        xq.iter().filter(|&&v| v > 0.0).count()
    );
    c.bench_function(
        "p_sim, 999 permutations x 2,568 stations (stops of 2024 Q1)",
        |b| b.iter(|| black_box(permutation_p(black_box(&xq), &nb, 999, 12_345))),
    );
    c.bench_function(
        "Gi* + p_sim + Benjamini-Hochberg (the hotspot statistic)",
        |b| b.iter(|| black_box(spots(black_box(&x), &nb, Inference::default()))),
    );
    // the clock of the station with the most stops, as /api/clock?station=..: select the
    // journeys touching it, keep those stopping there, spread them over the 7 x 24 cells
    let busiest = (0..x.len())
        .max_by(|&a, &b| x[a].total_cmp(&x[b]))
        .unwrap_or(0);
    eprintln!(
        "clock station {} with {} stops",
        geo.stations.get(busiest).code,
        x[busiest]
    );
    let f = JourneyFilter {
        station: Some(busiest as u32),
        ..JourneyFilter::default()
    };
    let station_clock = || {
        let sel = idx.matching(&geo, &f);
        let at = sel
            .iter()
            .filter(|j| counts_at(&geo, j, busiest as u32, Measure::Stops))
            .map(|j| &j.report);
        black_box(clock::clock(at))
    };
    c.bench_function("clock of the busiest station (100,000 journeys)", |b| {
        b.iter(station_clock)
    });
    // On a shared machine wall time includes waiting for a core: the CPU time of this thread
    // per call is the cost itself (the clock runs on one thread)
    let reps = 50;
    let t0 = thread_cpu_s();
    for _ in 0..reps {
        station_clock();
    }
    eprintln!(
        "clock of the busiest station: {:.2} ms of CPU per call",
        (thread_cpu_s() - t0) * 1e3 / f64::from(reps)
    );
    let t0 = thread_cpu_s();
    for _ in 0..reps {
        black_box(idx.matching(&geo, &f));
    }
    eprintln!(
        "  of which selecting the journeys: {:.2} ms",
        (thread_cpu_s() - t0) * 1e3 / f64::from(reps)
    );
    let t0 = process_cpu_s();
    for _ in 0..10 {
        black_box(permutation_p(&x, &nb, 999, 12_345));
    }
    eprintln!(
        "p_sim, 999 permutations: {:.1} ms of CPU per call (all threads)",
        (process_cpu_s() - t0) * 1e3 / 10.0
    );
}

fn cpu_s(who: libc::c_int) -> f64 {
    // SAFETY: getrusage only writes the struct it is given
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 * 1e-6;
    t(u.ru_utime) + t(u.ru_stime)
}

fn thread_cpu_s() -> f64 {
    cpu_s(libc::RUSAGE_THREAD)
}

fn process_cpu_s() -> f64 {
    cpu_s(libc::RUSAGE_SELF)
}

criterion_group!(benches, bench);
criterion_main!(benches);
