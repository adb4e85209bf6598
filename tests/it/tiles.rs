//! Vector tiles (OGC API – Tiles, issue 19): tiles are decoded here by a small protobuf reader
//! written from the Mapbox Vector Tile 2.1 specification (not the encoder's crate), and their
//! features checked against the items for the same filter; tile positions are computed here
//! from lon/lat with the Web Mercator formula.

use super::access::{fixture, token};
use super::common::{fresh_state, gb};
use linesmap::access::Role;
use linesmap::http::{AppState, routes};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

// ---------------------------------------------------------------- an independent MVT reader

/// A property value as the tile holds it.
#[derive(Clone, Debug, PartialEq)]
enum V {
    Str(String),
    F64(f64),
    I64(i64),
    U64(u64),
    Bool(bool),
}

impl V {
    fn count(&self) -> Option<u64> {
        match self {
            V::U64(u) => Some(*u),
            V::I64(i) => u64::try_from(*i).ok(),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct Feature {
    id: Option<u64>,
    kind: u64,
    /// parts (MoveTo starts one) of absolute tile coordinates
    parts: Vec<Vec<[i64; 2]>>,
    props: BTreeMap<String, V>,
}

#[derive(Debug)]
struct Layer {
    name: String,
    extent: u64,
    features: Vec<Feature>,
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let byte = self.b[self.i];
            self.i += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return v;
            }
            shift += 7;
        }
    }
    fn done(&self) -> bool {
        self.i >= self.b.len()
    }
    /// (field, wire type)
    fn key(&mut self) -> (u64, u64) {
        let k = self.varint();
        (k >> 3, k & 7)
    }
    fn bytes(&mut self) -> &'a [u8] {
        let n = self.varint() as usize;
        let s = &self.b[self.i..self.i + n];
        self.i += n;
        s
    }
    fn skip(&mut self, wire: u64) {
        match wire {
            0 => {
                self.varint();
            }
            1 => self.i += 8,
            2 => {
                self.bytes();
            }
            5 => self.i += 4,
            w => panic!("wire type {w}"),
        }
    }
    fn packed(&mut self) -> Vec<u64> {
        let mut r = Reader {
            b: self.bytes(),
            i: 0,
        };
        let mut out = Vec::new();
        while !r.done() {
            out.push(r.varint());
        }
        out
    }
}

fn zigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn value(b: &[u8]) -> V {
    let mut r = Reader { b, i: 0 };
    let (f, w) = r.key();
    let v = match (f, w) {
        (1, 2) => V::Str(String::from_utf8(r.bytes().to_vec()).unwrap()),
        (2, 5) => {
            let x = f32::from_le_bytes(r.b[r.i..r.i + 4].try_into().unwrap());
            r.i += 4;
            V::F64(f64::from(x))
        }
        (3, 1) => {
            let x = f64::from_le_bytes(r.b[r.i..r.i + 8].try_into().unwrap());
            r.i += 8;
            V::F64(x)
        }
        (4, 0) => V::I64(r.varint() as i64),
        (5, 0) => V::U64(r.varint()),
        (6, 0) => V::I64(zigzag(r.varint())),
        (7, 0) => V::Bool(r.varint() != 0),
        other => panic!("value field {other:?}"),
    };
    assert!(r.done(), "one value per Value message");
    v
}

fn geometry(cmds: &[u64]) -> Vec<Vec<[i64; 2]>> {
    let (mut x, mut y) = (0i64, 0i64);
    let mut parts: Vec<Vec<[i64; 2]>> = Vec::new();
    let mut i = 0;
    while i < cmds.len() {
        let (id, count) = (cmds[i] & 7, cmds[i] >> 3);
        i += 1;
        match id {
            1 | 2 => {
                for _ in 0..count {
                    x += zigzag(cmds[i]);
                    y += zigzag(cmds[i + 1]);
                    i += 2;
                    if id == 1 {
                        parts.push(Vec::new());
                    }
                    parts.last_mut().expect("MoveTo first").push([x, y]);
                }
            }
            7 => {}
            c => panic!("command {c}"),
        }
    }
    parts
}

fn decode(tile: &[u8]) -> Vec<Layer> {
    let mut r = Reader { b: tile, i: 0 };
    let mut layers = Vec::new();
    while !r.done() {
        let (f, w) = r.key();
        if f != 3 {
            r.skip(w);
            continue;
        }
        let mut l = Reader { b: r.bytes(), i: 0 };
        let (mut name, mut extent, mut keys, mut values, mut raw) =
            (String::new(), 4096, Vec::new(), Vec::new(), Vec::new());
        while !l.done() {
            match l.key() {
                (1, 2) => name = String::from_utf8(l.bytes().to_vec()).unwrap(),
                (2, 2) => raw.push(l.bytes()),
                (3, 2) => keys.push(String::from_utf8(l.bytes().to_vec()).unwrap()),
                (4, 2) => values.push(value(l.bytes())),
                (5, 0) => extent = l.varint(),
                (15, 0) => assert_eq!(l.varint(), 2, "MVT version 2"),
                (_, w) => l.skip(w),
            }
        }
        let features = raw
            .into_iter()
            .map(|b| {
                let mut fr = Reader { b, i: 0 };
                let mut feat = Feature {
                    id: None,
                    kind: 0,
                    parts: Vec::new(),
                    props: BTreeMap::new(),
                };
                while !fr.done() {
                    match fr.key() {
                        (1, 0) => feat.id = Some(fr.varint()),
                        (2, 2) => {
                            let tags = fr.packed();
                            for kv in tags.chunks(2) {
                                feat.props.insert(
                                    keys[kv[0] as usize].clone(),
                                    values[kv[1] as usize].clone(),
                                );
                            }
                        }
                        (3, 0) => feat.kind = fr.varint(),
                        (4, 2) => feat.parts = geometry(&fr.packed()),
                        (_, w) => fr.skip(w),
                    }
                }
                feat
            })
            .collect();
        layers.push(Layer {
            name,
            extent,
            features,
        });
    }
    layers
}

// ---------------------------------------------------------------- Web Mercator, by hand

/// lon/lat to the position in tile `z/x/y` in units of 4096 (the formula of the OSM wiki's
/// "Slippy map tilenames": x = (lon + 180) / 360 · 2^z, y = (1 − ln(tan φ + sec φ) / π) / 2 · 2^z).
fn in_tile(lon: f64, lat: f64, z: u32, x: u32, y: u32) -> [f64; 2] {
    let n = f64::from(1u32 << z);
    let phi = lat.to_radians();
    let tx = (lon + 180.0) / 360.0 * n;
    let ty = (1.0 - (phi.tan() + 1.0 / phi.cos()).ln() / std::f64::consts::PI) / 2.0 * n;
    [(tx - f64::from(x)) * 4096.0, (ty - f64::from(y)) * 4096.0]
}

/// The lon/lat box of tile `z/x/y` grown by `pad` of its width (the inverse formulas).
fn tile_box(z: u32, x: u32, y: u32, pad: f64) -> [f64; 4] {
    let n = f64::from(1u32 << z);
    let lon = |t: f64| t / n * 360.0 - 180.0;
    let lat = |t: f64| {
        (std::f64::consts::PI * (1.0 - 2.0 * t / n))
            .sinh()
            .atan()
            .to_degrees()
    };
    let (x0, x1) = (
        (f64::from(x) - pad).max(0.0),
        (f64::from(x) + 1.0 + pad).min(n),
    );
    let (y0, y1) = (
        (f64::from(y) - pad).max(0.0),
        (f64::from(y) + 1.0 + pad).min(n),
    );
    [lon(x0), lat(y1), lon(x1), lat(y0)]
}

fn bbox_param(b: [f64; 4]) -> String {
    format!("{},{},{},{}", b[0], b[1], b[2], b[3])
}

// ---------------------------------------------------------------- requests

/// (status, body bytes, headers); signed in as `role`, or open (the in-process admin) with None.
async fn get(
    st: &Arc<AppState>,
    path: &str,
    role: Option<Role>,
    headers: &[(&str, &str)],
) -> (u16, Vec<u8>, warp::http::HeaderMap) {
    let mut req = warp::test::request().method("GET").path(path);
    if let Some(r) = role {
        req = req.header("authorization", format!("Bearer {}", token(r)));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.reply(&routes(st.clone())).await;
    (r.status().as_u16(), r.body().to_vec(), r.headers().clone())
}

async fn layer(st: &Arc<AppState>, path: &str, role: Option<Role>) -> Layer {
    let (s, b, h) = get(st, path, role, &[]).await;
    assert_eq!(s, 200, "{path}: {}", String::from_utf8_lossy(&b));
    assert_eq!(h["content-type"], "application/vnd.mapbox-vector-tile");
    let mut layers = decode(&b);
    assert_eq!(layers.len(), 1, "{path}: one layer");
    let l = layers.remove(0);
    assert_eq!(l.extent, 4096);
    l
}

async fn json(st: &Arc<AppState>, path: &str, role: Option<Role>) -> Value {
    let (s, b, _) = get(st, path, role, &[]).await;
    assert_eq!(s, 200, "{path}: {}", String::from_utf8_lossy(&b));
    serde_json::from_slice(&b).unwrap()
}

fn sum_journeys(l: &Layer) -> u64 {
    l.features
        .iter()
        .map(|f| {
            f.props["journeys"]
                .count()
                .expect("journeys on every feature")
        })
        .sum()
}

/// A state with `n` synthetic journeys (the generator, seed 19), open as an admin.
fn with_journeys(n: usize) -> Arc<AppState> {
    let st = fresh_state();
    let reports = linesmap::journey::generate::generate(
        gb(),
        &linesmap::journey::generate::GeneratorParams::builtin(),
        n,
        19,
    );
    let values: Vec<_> = reports.into_iter().map(Ok).collect();
    st.journeys
        .ingest(&values, time::OffsetDateTime::now_utc())
        .unwrap();
    st
}

fn shared() -> &'static Arc<AppState> {
    static ST: std::sync::OnceLock<Arc<AppState>> = std::sync::OnceLock::new();
    ST.get_or_init(|| with_journeys(3000))
}

const J: &str = "/collections/journeys/tiles/WebMercatorQuad";

// ---------------------------------------------------------------- journeys

#[tokio::test]
async fn a_journeys_tile_covering_gb_at_zooms_0_to_2_counts_every_journey_the_items_match() {
    let st = shared();
    // the tiles that hold GB: the world at z0; at z1 the north-west quarter (its 4-pixel buffer
    // reaches 2.8°E, past Lowestoft); at z2 the tile from 90°W to 0° (the buffer to 1.4°E), so
    // a route must reach west of 1.4°E to be in it: the items in the same box match exactly
    for (z, x, y) in [(0, 0, 0), (1, 0, 0), (2, 1, 1)] {
        for filter in ["", "mode=rail", "age_band=15-17&from=2024-01-01"] {
            let sep = if filter.is_empty() { "" } else { "?" };
            let l = layer(st, &format!("{J}/{z}/{x}/{y}{sep}{filter}"), None).await;
            assert_eq!(l.name, "journeys");
            let b = bbox_param(tile_box(z, x, y, 64.0 / 4096.0));
            let items_filter = filter.replace("from=2024-01-01", "datetime=2024-01-01/..");
            let items = json(
                st,
                &format!("/collections/journeys/items?limit=1&bbox={b}&{items_filter}"),
                None,
            )
            .await;
            let matched = items["numberMatched"].as_u64().unwrap();
            assert!(matched > 20, "{z}/{x}/{y} {filter}: {matched}");
            assert_eq!(sum_journeys(&l), matched, "{z}/{x}/{y}?{filter}");
            // below zoom 12 a feature is a route: journeys and children, no id property
            assert!(l.features.iter().all(|f| !f.props.contains_key("id")
                && f.props.contains_key("children")
                && f.kind == 2));
        }
    }
    // and the world tile holds every journey
    let all = json(st, "/collections/journeys/items?limit=1", None).await;
    let l = layer(st, &format!("{J}/0/0/0"), None).await;
    assert_eq!(sum_journeys(&l), all["numberMatched"].as_u64().unwrap());
    assert_eq!(sum_journeys(&l), 3000);
}

#[tokio::test]
async fn the_children_of_a_route_feature_are_the_children_on_its_journeys() {
    let st = shared();
    let l = layer(st, &format!("{J}/0/0/0"), None).await;
    let children: u64 = l
        .features
        .iter()
        .map(|f| f.props["children"].count().unwrap())
        .sum();
    // the same total from the items: the `children` property of every journey, paged
    let mut expected = 0u64;
    let mut offset = 0;
    loop {
        let page = json(
            st,
            &format!("/collections/journeys/items?limit=1000&offset={offset}"),
            None,
        )
        .await;
        let fs = page["features"].as_array().unwrap();
        expected += fs
            .iter()
            .map(|f| f["properties"]["children"].as_u64().unwrap())
            .sum::<u64>();
        offset += 1000;
        if fs.len() < 1000 {
            break;
        }
    }
    assert!(expected > 0);
    assert_eq!(children, expected);
}

#[tokio::test]
async fn from_zoom_12_each_journey_is_a_feature_with_its_report_id() {
    let st = shared();
    // the z12 tile holding London Euston (-0.1335, 51.5282)
    let w = in_tile(-0.1335, 51.5282, 12, 0, 0);
    let (x, y) = ((w[0] / 4096.0) as u32, (w[1] / 4096.0) as u32);
    let l = layer(st, &format!("{J}/12/{x}/{y}"), None).await;
    assert!(!l.features.is_empty());
    let ids: BTreeSet<String> = l
        .features
        .iter()
        .map(|f| {
            assert_eq!(f.props["journeys"], V::U64(1));
            match &f.props["id"] {
                V::Str(s) => s.clone(),
                v => panic!("{v:?}"),
            }
        })
        .collect();
    assert_eq!(ids.len(), l.features.len(), "each journey once");
    // exactly the journeys whose route meets the tile's box (with its buffer)
    let b = bbox_param(tile_box(12, x, y, 64.0 / 4096.0));
    let items = json(
        st,
        &format!("/collections/journeys/items?limit=10000&bbox={b}"),
        None,
    )
    .await;
    let expected: BTreeSet<String> = items["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn a_filter_changes_the_journeys_tile() {
    let st = shared();
    let all = layer(st, &format!("{J}/0/0/0"), None).await;
    let rail = layer(st, &format!("{J}/0/0/0?mode=rail"), None).await;
    let coach = layer(st, &format!("{J}/0/0/0?mode=coach"), None).await;
    assert!(sum_journeys(&rail) < sum_journeys(&all));
    assert!(sum_journeys(&coach) > 0);
    assert_eq!(
        sum_journeys(&all),
        sum_journeys(&rail)
            + sum_journeys(&coach)
            + sum_journeys(
                &layer(
                    st,
                    &format!("{J}/0/0/0?mode=bus,car,private_hire,taxi,on_foot,unknown"),
                    None
                )
                .await
            )
    );
}

#[tokio::test]
async fn journey_tiles_follow_journey_level_access_and_are_audited() {
    // 12 London Liverpool Street → Norwich (the odd ones BTP's), 3 Liverpool → Bangor (BTP)
    let f = fixture("tiles-access", 3, 0, vec![], false).await;
    let path = format!("{J}/0/0/0");
    let (s, b, _) = get(&f.st, &path, Some(Role::Viewer), &[]).await;
    assert_eq!(s, 403, "{}", String::from_utf8_lossy(&b));
    for (role, expected) in [
        (Role::BtpPlanner, 6 + 3),
        (Role::Analyst, 12 + 3),
        (Role::Admin, 12 + 3),
        // North Wales's analyst: the Bangor journeys only
        (Role::ForceAnalyst, 3),
    ] {
        let l = layer(&f.st, &path, Some(role)).await;
        assert_eq!(sum_journeys(&l), expected, "{role}");
    }
    let log = std::fs::read_to_string(f.dir.join("audit.ndjson")).unwrap();
    let reads: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["path"].as_str().is_some_and(|p| p.contains("/tiles/")))
        .collect();
    assert_eq!(reads.len(), 4, "{log}");
    assert!(reads.iter().all(|e| e["action"] == "read_journeys"));
    assert_eq!(reads[0]["records"], 9);
}

#[tokio::test]
async fn the_journeys_of_a_gb_tile_equal_the_items_matched_under_each_filter() {
    // the world tile holds every route, so its features' journeys sum to the items'
    // numberMatched for the same filter: the tile counts through its packed filter fields (and
    // the index's own test for the rest), the items through the index's test alone
    let st = shared();
    for (tile_q, items_q) in [
        ("age_band=under_10,10-12,13-14,15-17&mode=rail", None),
        ("role=runner", None),
        ("age_band=18-24&role=runner,line_holder", None),
        (
            "age_band=35_plus&from=2024-02-01&to=2024-04-30",
            Some("age_band=35_plus&datetime=2024-02-01/2024-04-30"),
        ),
        ("cross_border=true", None),
        ("cross_border=false&mode=coach,car", None),
        ("exporting_force=E23000001", None),
        ("importing_force=E23000001&mode=rail", None),
        ("station=EUS", None),
        ("force=E23000004&role=runner", None),
        ("hours=22-02", None),
    ] {
        let l = layer(st, &format!("{J}/0/0/0?{tile_q}"), None).await;
        let items = json(
            st,
            &format!(
                "/collections/journeys/items?limit=1&{}",
                items_q.unwrap_or(tile_q)
            ),
            None,
        )
        .await;
        let matched = items["numberMatched"].as_u64().unwrap();
        assert!(matched > 0, "{tile_q}");
        assert_eq!(sum_journeys(&l), matched, "{tile_q}");
    }
}

/// Posts reports (JSON values) into a fresh state, open as an admin.
fn with_reports(reports: Vec<Value>) -> Arc<AppState> {
    let st = fresh_state();
    let values: Vec<_> = reports.into_iter().map(Ok).collect();
    st.journeys
        .ingest(&values, time::OffsetDateTime::now_utc())
        .unwrap();
    st
}

fn small_report(id: &str, mode: &str, from: &str, to: &str, age: &str) -> Value {
    serde_json::json!({
        "report_id": id,
        "reported_at": "2024-03-06T10:42:00Z",
        "source_force": "BTP",
        "journey": {"date": "2024-03-06", "mode": mode,
            "origin": {"station": from}, "destination": {"station": to}},
        "persons": [{"person_id": format!("syn-p-{id}"), "age_band": age, "roles": ["runner"]}],
    })
}

/// (feature id, journeys, children) of each feature, sorted.
fn features_of(l: &Layer) -> Vec<(u64, u64, u64)> {
    let mut v: Vec<_> = l
        .features
        .iter()
        .map(|f| {
            (
                f.id.expect("a feature id"),
                f.props["journeys"].count().unwrap(),
                f.props["children"].count().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn at_low_zoom_routes_drawn_alike_are_one_feature_with_their_journeys_summed() {
    // 12 rail journeys London Liverpool Street → Norwich, 3 rail Liverpool Lime Street → Bangor
    // (children) and 2 coach Liverpool → Bangor (adults): three routes.
    let mut reports = Vec::new();
    for i in 0..12 {
        reports.push(small_report(
            &format!("syn-co-n{i}"),
            "rail",
            "LST",
            "NRW",
            "15-17",
        ));
    }
    for i in 0..3 {
        reports.push(small_report(
            &format!("syn-co-b{i}"),
            "rail",
            "LIV",
            "BNG",
            "under_10",
        ));
    }
    for i in 0..2 {
        reports.push(small_report(
            &format!("syn-co-c{i}"),
            "coach",
            "LIV",
            "BNG",
            "18-24",
        ));
    }
    let st = with_reports(reports);
    // A route's key at a coalescing zoom is the sequence of cells of 8 pixels its vertices are
    // in (cell = round(Web Mercator x or y · 256 · 2^z / 8)). At zoom 5 (a cell 24 km) the rail
    // line by Chester (cell row round(332.64) = 333) and the coach's straight line from
    // Liverpool (331.64, row 332) to Bangor (332.52, row 333 only at its end) differ: three
    // features, 12, 3 and 2 journeys (children 12, 3, 0). Tile 5/15/10 holds Liverpool
    // (x = (−2.98 + 180) / 360 · 32 = 15.7; y = 10.4) and London (15.99, 10.6).
    let z5 = features_of(&layer(&st, &format!("{J}/5/15/10"), None).await);
    let mut counts: Vec<(u64, u64)> = z5.iter().map(|f| (f.1, f.2)).collect();
    counts.sort();
    assert_eq!(counts, vec![(2, 0), (3, 3), (12, 12)], "{z5:?}");
    // At zoom 0 (a cell 1,250 km) both Bangor lines are in one cell, (16, 10): every vertex
    // between Liverpool and Bangor is at x 125.0 to 126.1 pixels (cell 15.6 to 15.8) and
    // y 82.9 to 83.3 (cell 10.36 to 10.41); London Liverpool Street → Norwich goes from cell row
    // round(85.1 / 8) = 11 to round(83.8 / 8) = 10. So two features: the Norwich route, and
    // the Bangor group of 5 journeys and 3 children, whose id is the smaller of its routes'.
    let z0 = features_of(&layer(&st, &format!("{J}/0/0/0"), None).await);
    let bangor: Vec<u64> = z5.iter().filter(|f| f.1 < 12).map(|f| f.0).collect();
    let norwich = z5.iter().find(|f| f.1 == 12).unwrap().0;
    assert_eq!(
        z0,
        vec![(norwich, 12, 12), (*bangor.iter().min().unwrap(), 5, 3)]
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );
    // a filter counts only the group's journeys it selects (the coach's 2)
    let coach = features_of(&layer(&st, &format!("{J}/0/0/0?mode=coach"), None).await);
    assert_eq!(coach, vec![(*bangor.iter().min().unwrap(), 2, 0)]);
    // from zoom 9 a route is a feature again: tile 9/251/166 holds Rhyl (x = 251.04,
    // y = 166.03), which both Bangor routes pass (the coach's straight line from Liverpool,
    // x 251.77, y 165.82, to Bangor, x 250.12, y 166.26, is at y 166.03 at x 251), and no part of
    // the Norwich route (x from 255.9)
    let z9 = features_of(&layer(&st, &format!("{J}/9/251/166"), None).await);
    let mut counts: Vec<u64> = z9.iter().map(|f| f.1).collect();
    counts.sort();
    assert_eq!(counts, vec![2, 3], "{z9:?}");
}

#[tokio::test]
async fn a_coalesced_feature_has_the_same_id_and_counts_in_every_tile_it_crosses() {
    // every z5 and z7 tile over GB (the force areas: 8.65°W to 1.76°E, 49.88°N to 60.85°N are
    // columns floor((lon + 180) / 360 · 2^z) and rows floor((1 − ln(tan φ + sec φ)/π)/2 · 2^z):
    // at z5 columns 15–16, rows 9–10; at z7 columns 60–64, rows 36–43): the features, each
    // counted once by its id, sum to the items' numberMatched, and a feature in several tiles
    // carries the same counts in each
    let st = shared();
    for (z, cols, rows) in [(5, 15..=16, 9..=10), (7, 60..=64, 36..=43)] {
        for filter in ["", "age_band=under_10,10-12,13-14,15-17&mode=rail"] {
            let mut seen: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
            let mut pieces = 0;
            for x in cols.clone() {
                for y in rows.clone() {
                    let l = layer(st, &format!("{J}/{z}/{x}/{y}?{filter}"), None).await;
                    for f in features_of(&l) {
                        pieces += 1;
                        let before = seen.insert(f.0, (f.1, f.2));
                        assert!(before.is_none_or(|b| b == (f.1, f.2)), "z{z} id {}", f.0);
                    }
                }
            }
            let items = json(
                st,
                &format!("/collections/journeys/items?limit=1&{filter}"),
                None,
            )
            .await;
            let sum: u64 = seen.values().map(|v| v.0).sum();
            assert_eq!(
                sum,
                items["numberMatched"].as_u64().unwrap(),
                "z{z} {filter}"
            );
            assert!(
                pieces > seen.len(),
                "some features cross tiles: {pieces} vs {}",
                seen.len()
            );
        }
    }
}

// ---------------------------------------------------------------- aggregate layers

#[tokio::test]
async fn the_stations_in_a_z10_tile_are_the_stations_items_in_its_box_with_equal_counts() {
    let st = shared();
    // the z10 tile holding London Euston
    let w = in_tile(-0.1335, 51.5282, 10, 0, 0);
    let (x, y) = ((w[0] / 4096.0) as u32, (w[1] / 4096.0) as u32);
    let l = layer(
        st,
        &format!("/collections/stations/tiles/WebMercatorQuad/10/{x}/{y}"),
        None,
    )
    .await;
    assert_eq!(l.name, "stations");
    let b = bbox_param(tile_box(10, x, y, 64.0 / 4096.0));
    let items = json(
        st,
        &format!("/collections/stations/items?limit=10000&bbox={b}"),
        None,
    )
    .await;
    let items: BTreeMap<String, &Value> = items["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["id"].as_str().unwrap().to_string(), f))
        .collect();
    assert!(items.len() > 50, "{}", items.len());
    let mut seen = BTreeSet::new();
    for f in &l.features {
        let V::Str(crs) = &f.props["crs"] else {
            panic!("{f:?}")
        };
        let item = items[crs];
        // the point where the Web Mercator formula puts the station, to the unit
        let c = &item["geometry"]["coordinates"];
        let p = in_tile(c[0].as_f64().unwrap(), c[1].as_f64().unwrap(), 10, x, y);
        assert_eq!(f.kind, 1);
        let q = f.parts[0][0];
        assert!(
            (q[0] as f64 - p[0]).abs() <= 0.5 && (q[1] as f64 - p[1]).abs() <= 0.5,
            "{crs}: {q:?} vs {p:?}"
        );
        for k in ["journeys", "stops", "starts", "ends", "passes", "children"] {
            assert_eq!(
                f.props[k].count(),
                item["properties"][k].as_u64(),
                "{crs} {k}"
            );
        }
        seen.insert(crs.clone());
    }
    assert_eq!(seen, items.keys().cloned().collect::<BTreeSet<_>>());
    // the counts are not all zero
    assert!(
        l.features
            .iter()
            .any(|f| f.props["journeys"].count() > Some(0))
    );
}

#[tokio::test]
async fn rail_and_flow_tiles_hold_the_items_rows_of_their_box() {
    let st = shared();
    let b = bbox_param(tile_box(6, 31, 20, 64.0 / 4096.0));
    // z6 31/20 is the tile from 5.625°W to 0°, 52.48°N to 55.78°N (Liverpool, Manchester,
    // Leeds, Newcastle)
    let rail = layer(
        st,
        "/collections/rail/tiles/WebMercatorQuad/6/31/20?mode=rail",
        None,
    )
    .await;
    let items = json(
        st,
        &format!("/collections/rail/items?limit=10000&bbox={b}&mode=rail"),
        None,
    )
    .await;
    let by_section: BTreeMap<u64, u64> = items["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["properties"]["section"].as_u64().unwrap(),
                f["properties"]["journeys"].as_u64().unwrap(),
            )
        })
        .collect();
    let tiled: BTreeMap<u64, u64> = rail
        .features
        .iter()
        .map(|f| {
            (
                f.props["section"].count().unwrap(),
                f.props["journeys"].count().unwrap(),
            )
        })
        .collect();
    assert!(tiled.len() > 100);
    assert_eq!(tiled, by_section);
    // most journeys first
    let order: Vec<u64> = rail
        .features
        .iter()
        .map(|f| f.props["journeys"].count().unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] >= w[1]));
    let flows = layer(st, "/collections/flows/tiles/WebMercatorQuad/6/31/20", None).await;
    let items = json(
        st,
        &format!("/collections/flows/items?limit=10000&bbox={b}"),
        None,
    )
    .await;
    let pairs = |o: &str, d: &str, j: u64| format!("{o}-{d}:{j}");
    let expected: BTreeSet<String> = items["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = &f["properties"];
            pairs(
                p["origin_force"].as_str().unwrap(),
                p["destination_force"].as_str().unwrap(),
                p["journeys"].as_u64().unwrap(),
            )
        })
        .collect();
    let got: BTreeSet<String> = flows
        .features
        .iter()
        .map(
            |f| match (&f.props["origin_force"], &f.props["destination_force"]) {
                (V::Str(o), V::Str(d)) => pairs(o, d, f.props["journeys"].count().unwrap()),
                other => panic!("{other:?}"),
            },
        )
        .collect();
    assert!(got.len() > 10);
    assert_eq!(got, expected);
}

#[tokio::test]
async fn a_viewer_gets_no_journey_tile_and_no_count_below_5_in_the_others() {
    let f = fixture("tiles-viewer", 3, 0, vec![], false).await;
    for path in [
        "/collections/stations/tiles/WebMercatorQuad/5/15/10",
        "/collections/stations/tiles/WebMercatorQuad/0/0/0",
        "/collections/rail/tiles/WebMercatorQuad/5/15/10",
        "/collections/flows/tiles/WebMercatorQuad/0/0/0",
    ] {
        let l = layer(&f.st, path, Some(Role::Viewer)).await;
        for feat in &l.features {
            for (k, v) in &feat.props {
                // (a flow's `cross_border` is a flag, not a count)
                if linesmap::access::disclosure::is_count(k) && !matches!(v, V::Bool(_)) {
                    let c = v.count().expect("a count is a whole number");
                    assert!(c >= 5 && c % 5 == 0, "{path}: {k} = {c}");
                }
            }
        }
        // an analyst's tile has counts below 5 (the 3 Bangor journeys), so the check bites
        let a = layer(&f.st, path, Some(Role::Analyst)).await;
        let small = a.features.iter().any(|feat| {
            feat.props.iter().any(|(k, v)| {
                linesmap::access::disclosure::is_count(k)
                    && v.count().is_some_and(|c| c > 0 && c < 5)
            })
        });
        assert!(small, "{path}");
    }
    let (s, _, h) = get(
        &f.st,
        "/collections/stations/tiles/WebMercatorQuad/0/0/0",
        Some(Role::Viewer),
        &[],
    )
    .await;
    assert_eq!(s, 200);
    assert!(h.contains_key("x-disclosure-control"));
    assert!(!h.contains_key("x-record-count"));
}

#[tokio::test]
async fn a_viewers_tile_is_the_same_byte_for_byte_whether_a_suppressed_cell_holds_0_1_3_or_4() {
    // the world, England and Wales west of 0° (z5), and the z8 tile holding Bangor
    let tiles = [
        "/collections/stations/tiles/WebMercatorQuad/0/0/0",
        "/collections/stations/tiles/WebMercatorQuad/5/15/10",
        "/collections/stations/tiles/WebMercatorQuad/8/125/83",
        "/collections/rail/tiles/WebMercatorQuad/5/15/10",
        "/collections/rail/tiles/WebMercatorQuad/8/125/83",
        "/collections/flows/tiles/WebMercatorQuad/0/0/0",
        "/collections/flows/tiles/WebMercatorQuad/5/15/10",
    ];
    let filters = [
        "",
        "?station=BNG",
        "?age_band=under_10",
        "?datetime=2024-02-01/2024-02-29",
        "?from=2024-02-05&to=2024-02-05",
        "?mode=rail&role=runner",
    ];
    for (a, b) in [(0, 1), (3, 4)] {
        let x = fixture(&format!("tiles-leak{a}"), a, 0, vec![], false).await;
        let y = fixture(&format!("tiles-leak{b}"), b, 0, vec![], false).await;
        let mut differs_for_analyst = 0;
        for t in tiles {
            for f in filters {
                let p = format!("{t}{f}");
                let (sx, bx, hx) = get(&x.st, &p, Some(Role::Viewer), &[]).await;
                let (sy, by, hy) = get(&y.st, &p, Some(Role::Viewer), &[]).await;
                assert_eq!((sx, sy), (200, 200), "{p}");
                assert_eq!(bx, by, "{p}: {a} vs {b} journeys");
                assert_eq!(hx, hy, "{p}");
                let (_, ax, _) = get(&x.st, &p, Some(Role::Analyst), &[]).await;
                let (_, ay, _) = get(&y.st, &p, Some(Role::Analyst), &[]).await;
                differs_for_analyst += usize::from(ax != ay);
            }
        }
        assert!(differs_for_analyst >= 20, "{differs_for_analyst}");
    }
}

// ---------------------------------------------------------------- the protocol

#[tokio::test]
async fn bad_tile_numbers_and_parameters_are_400_naming_the_problem() {
    let st = shared();
    for (path, name) in [
        ("/collections/stations/tiles/WebMercatorQuad/23/0/0", "z"),
        ("/collections/stations/tiles/WebMercatorQuad/2/4/0", "x"),
        ("/collections/stations/tiles/WebMercatorQuad/2/0/4", "y"),
        ("/collections/journeys/tiles/WebMercatorQuad/a/0/0", "z"),
        ("/collections/journeys/tiles/WebMercatorQuad/1/-1/0", "x"),
        ("/collections/rail/tiles/WebMercatorQuad/1/0/0.5", "y"),
        (
            "/collections/rail/tiles/WebMercatorQuad/1/0/0?bbox=0,0,1,1",
            "bbox",
        ),
        (
            "/collections/rail/tiles/WebMercatorQuad/1/0/0?direction=line",
            "direction",
        ),
        (
            "/collections/flows/tiles/WebMercatorQuad/1/0/0?direction=up",
            "direction",
        ),
        (
            "/collections/journeys/tiles/WebMercatorQuad/1/0/0?mode=teleport",
            "mode",
        ),
        (
            "/collections/journeys/tiles/WebMercatorQuad/1/0/0?datetime=2024-01-01&from=2024-01-01",
            "datetime",
        ),
        (
            "/collections/journeys/tiles/WebMercatorQuad/1/0/0?f=png",
            "f",
        ),
    ] {
        let (s, b, _) = get(st, path, None, &[]).await;
        assert_eq!(s, 400, "{path}");
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert!(v["message"].as_str().unwrap().contains(name), "{path}: {v}");
    }
    // collections without tiles, and other tile matrix sets, do not exist
    for path in [
        "/collections/forces/tiles/WebMercatorQuad/0/0/0",
        "/collections/forces/tiles",
        "/collections/stations/tiles/WorldCRS84Quad/0/0/0",
        "/tileMatrixSets/WorldCRS84Quad",
    ] {
        assert_eq!(get(st, path, None, &[]).await.0, 404, "{path}");
    }
}

#[tokio::test]
async fn a_tile_outside_gb_is_an_empty_tile_with_its_layer() {
    let st = shared();
    // z4 0/0 is the North Pacific
    for c in ["journeys", "stations", "rail", "flows"] {
        let l = layer(
            st,
            &format!("/collections/{c}/tiles/WebMercatorQuad/4/0/0"),
            None,
        )
        .await;
        assert_eq!(l.name, c);
        assert!(l.features.is_empty(), "{c}");
    }
}

#[tokio::test]
async fn tiles_carry_an_etag_answer_304_to_it_and_are_gzipped_on_request() {
    let st = shared();
    let path = format!("{J}/5/15/10");
    let (s, plain, h) = get(st, &path, None, &[]).await;
    assert_eq!(s, 200);
    let tag = h["etag"].to_str().unwrap().to_string();
    let (s, body, _) = get(st, &path, None, &[("if-none-match", &tag)]).await;
    assert_eq!((s, body.len()), (304, 0));
    let (s, gz, h) = get(st, &path, None, &[("accept-encoding", "gzip")]).await;
    assert_eq!(s, 200);
    assert_eq!(h["content-encoding"], "gzip");
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut out).unwrap();
    assert_eq!(out, plain);
    assert!(gz.len() < plain.len());
}

#[tokio::test]
async fn the_tile_metadata_says_where_tiles_are_and_how_their_url_is_filled() {
    let st = shared();
    let c = json(st, "/conformance", None).await;
    for class in [
        "core",
        "tileset",
        "tilesets-list",
        "geodata-tilesets",
        "mvt",
        "oas30",
    ] {
        let uri = format!("http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/{class}");
        assert!(
            c["conformsTo"]
                .as_array()
                .unwrap()
                .contains(&Value::from(uri.clone())),
            "{uri}"
        );
    }
    let landing = json(st, "/?f=json", None).await;
    assert!(landing["links"].as_array().unwrap().iter().any(|l| l["rel"]
        == "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"
        && l["href"].as_str().unwrap().ends_with("/tileMatrixSets")));
    let tms = json(st, "/tileMatrixSets/WebMercatorQuad", None).await;
    assert_eq!(
        tms["uri"],
        "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
    );
    // zoom 10: 1,024 tiles a side; a pixel is 2π · 6,378,137 m / 256 / 1,024 = 152.874 m
    let m = &tms["tileMatrices"][10];
    assert_eq!(
        (m["id"].as_str(), m["matrixWidth"].as_u64()),
        (Some("10"), Some(1024))
    );
    assert!((m["cellSize"].as_f64().unwrap() - 152.874_056_570_353_5).abs() < 1e-6);
    for id in ["journeys", "rail", "stations", "flows"] {
        let col = json(st, &format!("/collections/{id}"), None).await;
        assert!(col["links"].as_array().unwrap().iter().any(|l| {
            l["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
                && l["href"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/collections/{id}/tiles"))
        }));
        let list = json(st, &format!("/collections/{id}/tiles"), None).await;
        assert_eq!(list["tilesets"][0]["dataType"], "vector");
        let ts = json(
            st,
            &format!("/collections/{id}/tiles/WebMercatorQuad"),
            None,
        )
        .await;
        assert_eq!(ts["tileMatrixSetURI"], tms["uri"]);
        assert_eq!(ts["layers"][0]["id"], id);
        let item = ts["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "item")
            .unwrap();
        assert_eq!(item["type"], "application/vnd.mapbox-vector-tile");
        assert!(
            item["href"].as_str().unwrap().ends_with(&format!(
                "/collections/{id}/tiles/WebMercatorQuad/{{tileMatrix}}/{{tileCol}}/{{tileRow}}"
            )),
            "{item}"
        );
        // GB at zoom 6 (the force areas reach 8.65°W, 1.76°E, 60.85°N, 49.88°N): columns
        // floor((lon + 180) / 360 · 64) = 30 to 32, rows floor((1 − ln(tan φ + sec φ)/π)/2 · 64)
        // = floor(18.28) to floor(21.74)
        let z6 = &ts["tileMatrixSetLimits"][6];
        assert_eq!(
            (z6["minTileCol"].as_u64(), z6["maxTileCol"].as_u64()),
            (Some(30), Some(32))
        );
        assert_eq!(
            (z6["minTileRow"].as_u64(), z6["maxTileRow"].as_u64()),
            (Some(18), Some(21))
        );
    }
}
