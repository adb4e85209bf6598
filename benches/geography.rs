//! Point → force, nearest station and routing on the real GB data.
//!
//! `LINESMAP_DATA` names the data folder (default the shipped `data/gb`). Inputs are fixed-seed:
//! 1,000,000 points uniform over the forces' bounding box (most of it sea, as "random GB points"
//! are), and 1,000,000 points on land (uniform points kept if inside a force).
//! Run: `cargo bench --bench geography`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use linesmap::config::{DataPaths, load_geography};
use linesmap::geography::{Geography, Located};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

struct Rng(u64);
impl Rng {
    /// splitmix64
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn geography() -> Geography {
    let dir = std::env::var_os("LINESMAP_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/gb"));
    let paths = DataPaths::resolve(Some(&dir), None, None, None).expect("LINESMAP_DATA");
    load_geography(&paths, Default::default())
        .expect("data loads")
        .0
}

fn points(g: &Geography, n: usize, land_only: bool, seed: u64) -> Vec<[f64; 2]> {
    let mut b = linesmap::geography::Bbox::EMPTY;
    for f in g.forces.forces() {
        b.extend([f.bbox.min_lon, f.bbox.min_lat]);
        b.extend([f.bbox.max_lon, f.bbox.max_lat]);
    }
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let p = [
            b.min_lon + rng.next() * (b.max_lon - b.min_lon),
            b.min_lat + rng.next() * (b.max_lat - b.min_lat),
        ];
        if !land_only || matches!(g.forces.locate_exact(p), Located::Inside(_)) {
            out.push(p);
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let g = geography();
    const N: usize = 1_000_000;
    let sets = [
        ("uniform_bbox", points(&g, N, false, 1)),
        ("on_land", points(&g, N, true, 2)),
    ];
    let mut grp = c.benchmark_group("point_to_force");
    grp.throughput(Throughput::Elements(N as u64))
        .sample_size(10);
    for (name, pts) in &sets {
        grp.bench_function(*name, |b| {
            b.iter(|| {
                let mut n = 0usize;
                for p in pts {
                    if g.forces.locate(*p).is_some() {
                        n += 1;
                    }
                }
                black_box(n)
            })
        });
    }
    grp.finish();

    let mut grp = c.benchmark_group("nearest_station");
    grp.throughput(Throughput::Elements(N as u64))
        .sample_size(10);
    for (name, pts) in &sets {
        grp.bench_function(*name, |b| {
            b.iter(|| {
                let mut acc = 0usize;
                for p in pts {
                    acc ^= g.stations.nearest(*p).map_or(0, |s| s.station);
                }
                black_box(acc)
            })
        });
    }
    let few = &sets[1].1[..10_000];
    grp.throughput(Throughput::Elements(few.len() as u64));
    grp.bench_function("k3_geodesic_on_land", |b| {
        b.iter(|| {
            for p in few {
                black_box(g.stations.k_nearest(*p, 3));
            }
        })
    });
    grp.finish();

    // routes between random pairs of stations on the main network
    let main: Vec<usize> = (0..g.stations.len())
        .filter(|&i| g.rail.in_main_component(i))
        .collect();
    let mut rng = Rng(3);
    let mut pick = || main[(rng.next() * main.len() as f64) as usize];
    let pairs: Vec<(usize, usize)> = (0..1000).map(|_| (pick(), pick())).collect();
    let mut times: Vec<f64> = pairs
        .iter()
        .map(|&(a, b)| {
            let t = Instant::now();
            black_box(g.route(&[a, b]).expect("main network is connected"));
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let q = |f: f64| times[((times.len() as f64 - 1.0) * f) as usize];
    eprintln!(
        "route latency over {} random GB station pairs (route + forces crossed): p50 {:.3} ms, p95 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        times.len(),
        q(0.5),
        q(0.95),
        q(0.99),
        q(1.0)
    );
    let mut grp = c.benchmark_group("route");
    grp.throughput(Throughput::Elements(100)).sample_size(10);
    grp.bench_function("100_random_pairs_with_forces", |b| {
        b.iter(|| {
            for &(a, bb) in &pairs[..100] {
                black_box(g.route(&[a, bb]).ok());
            }
        })
    });
    grp.bench_function("100_random_pairs_track_only", |b| {
        b.iter(|| {
            for &(a, bb) in &pairs[..100] {
                black_box(g.rail.route(&[a, bb]).ok());
            }
        })
    });
    grp.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
