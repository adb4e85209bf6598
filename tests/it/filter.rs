//! OGC API – Features Part 3 (filtering, CQL2), requirements of its abstract test suite that
//! the server implements: conformance, queryables (JSON Schema naming every property the
//! features carry, with its type), `filter`/`filter-lang`/`filter-crs` on items combined with
//! the other parameters and paged, each operator, 400 for a bad filter; and the viewer's
//! filters seeing only published counts. Expected stations are counted straight from
//! `data/gb/stations.csv` (an independent reading of the data), expected journeys by hand from
//! the access fixture's reports (`tests/it/access.rs::reports`).

use super::access::{fixture, get_as, json_of};
use super::common::{data_dir, fresh_state};
use linesmap::access::Role;
use linesmap::http::{AppState, routes};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn get(st: &Arc<AppState>, path: &str) -> (u16, Value) {
    let r = warp::test::request()
        .path(path)
        .header("host", "example.test")
        .reply(&routes(st.clone()))
        .await;
    (
        r.status().as_u16(),
        serde_json::from_slice(r.body()).unwrap_or(Value::Null),
    )
}

/// Every station's features followed through `next` links: the crs codes and numberMatched.
async fn all_pages(st: &Arc<AppState>, first: &str) -> (BTreeSet<String>, u64) {
    let (s, v) = get(st, first).await;
    assert_eq!(s, 200, "{first}: {v}");
    let matched = v["numberMatched"].as_u64().unwrap();
    let mut codes = BTreeSet::new();
    let mut page = v;
    loop {
        for f in page["features"].as_array().unwrap() {
            codes.insert(f["id"].as_str().unwrap_or_default().to_string());
        }
        let next = page["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
            .map(|l| l["href"].as_str().unwrap().to_string());
        let Some(href) = next else { break };
        let path = href
            .strip_prefix("http://example.test")
            .unwrap()
            .to_string();
        assert!(
            path.contains("filter="),
            "the next link keeps the filter: {path}"
        );
        let (s, v) = get(st, &path).await;
        assert_eq!(s, 200, "{path}");
        page = v;
    }
    (codes, matched)
}

struct CsvStation {
    crs: String,
    name: String,
    lon: f64,
    lat: f64,
    entries: Option<u64>,
}

fn csv_stations() -> Vec<CsvStation> {
    let mut rdr = csv::Reader::from_path(data_dir().join("stations.csv")).unwrap();
    let h = rdr.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let (c, n, lo, la, e) = (
        col("crs"),
        col("name"),
        col("lon"),
        col("lat"),
        col("entries_exits_2019_20"),
    );
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            CsvStation {
                crs: r[c].to_string(),
                name: r[n].to_string(),
                lon: r[lo].parse().unwrap(),
                lat: r[la].parse().unwrap(),
                entries: r[e].parse().ok(),
            }
        })
        .collect()
}

/// Inside the triangle a, b, c (same side of each edge).
fn in_triangle(p: (f64, f64), a: (f64, f64), b: (f64, f64), c: (f64, f64)) -> bool {
    let side = |u: (f64, f64), v: (f64, f64)| (v.0 - u.0) * (p.1 - u.1) - (v.1 - u.1) * (p.0 - u.0);
    let (x, y, z) = (side(a, b), side(b, c), side(c, a));
    (x >= 0.0 && y >= 0.0 && z >= 0.0) || (x <= 0.0 && y <= 0.0 && z <= 0.0)
}

#[tokio::test]
async fn conformance_declares_part_3_and_cql2_and_every_collection_links_its_queryables() {
    let st = fresh_state();
    let (_, c) = get(&st, "/conformance").await;
    let classes: Vec<&str> = c["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    for want in [
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
        "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
        "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    ] {
        assert!(classes.contains(&want), "{want}");
    }
    let (_, cs) = get(&st, "/collections").await;
    for c in cs["collections"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        let link = c["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/queryables")
            .unwrap_or_else(|| panic!("{id} links no queryables"));
        assert_eq!(
            link["href"],
            format!("http://example.test/collections/{id}/queryables")
        );
        assert_eq!(link["type"], "application/schema+json");
    }
    // the OpenAPI document declares the parameters (filter-lang with GDAL's older value) and
    // the queryables path
    let (_, doc) = get(&st, "/openapi").await;
    assert!(doc["paths"]["/collections/flows/queryables"]["get"].is_object());
    let ps = doc["paths"]["/collections/stations/items"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let lang = ps.iter().find(|p| p["name"] == "filter-lang").unwrap();
    assert_eq!(lang["schema"]["default"], "cql2-text");
    assert!(
        lang["schema"]["enum"]
            .as_array()
            .unwrap()
            .contains(&"cql-text".into())
    );
    assert!(ps.iter().any(|p| p["name"] == "filter"));
    assert!(ps.iter().any(|p| p["name"] == "filter-crs"));
}

/// The JSON Schema type a value fits.
fn fits(schema: &Value, v: &Value) -> bool {
    if v.is_null() {
        return true;
    }
    let ok = match schema["type"].as_str() {
        Some("integer") => v.is_i64() || v.is_u64(),
        Some("number") => v.is_number(),
        Some("boolean") => v.is_boolean(),
        Some("string") => v.as_str().is_some_and(|s| match schema["format"].as_str() {
            Some("date") => s.len() == 10 && s.as_bytes()[4] == b'-',
            Some("date-time") => s.contains('T'),
            _ => true,
        }),
        _ => false,
    };
    ok && schema["enum"].as_array().is_none_or(|e| e.contains(v))
}

#[tokio::test]
async fn queryables_are_a_json_schema_naming_every_property_the_features_carry_with_its_type() {
    let f = fixture("queryables", 3, 0, vec![], false).await;
    for id in [
        "stations", "forces", "rail", "journeys", "hotspots", "flows",
    ] {
        let r = warp::test::request()
            .path(&format!("/collections/{id}/queryables"))
            .header("host", "example.test")
            .header(
                "authorization",
                format!("Bearer {}", super::access::token(Role::Admin)),
            )
            .reply(&routes(f.st.clone()))
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/schema+json");
        let q: Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(q["$schema"], "https://json-schema.org/draft/2020-12/schema");
        assert_eq!(
            q["$id"],
            format!("http://example.test/collections/{id}/queryables")
        );
        assert_eq!(q["type"], "object");
        assert_eq!(q["additionalProperties"], false);
        let props = q["properties"].as_object().unwrap();
        assert_eq!(props["geometry"]["x-ogc-role"], "primary-geometry");
        assert!(
            props["geometry"]["format"]
                .as_str()
                .unwrap()
                .starts_with("geometry-")
        );
        let items = json_of(
            &f.st,
            &format!("/collections/{id}/items?limit=10000"),
            Role::Admin,
        )
        .await;
        let features = items["features"].as_array().unwrap();
        assert!(!features.is_empty(), "{id}");
        let mut seen = BTreeSet::new();
        for feat in features {
            for (k, v) in feat["properties"].as_object().unwrap() {
                if v.is_array() || v.is_object() {
                    continue; // lists (stations, forces, via) are not queryable
                }
                let s = props
                    .get(k)
                    .unwrap_or_else(|| panic!("{id}: property {k} is not a queryable"));
                assert!(fits(s, v), "{id}.{k}: {v} does not fit {s}");
                seen.insert(k.clone());
            }
        }
        for k in props.keys().filter(|k| *k != "geometry") {
            assert!(seen.contains(k), "{id}: queryable {k} is no property");
        }
    }
    // closed vocabularies list their values
    let q = json_of(&f.st, "/collections/journeys/queryables", Role::Viewer).await;
    assert_eq!(
        q["properties"]["mode"]["enum"],
        serde_json::json!([
            "rail",
            "coach",
            "bus",
            "car",
            "private_hire",
            "taxi",
            "on_foot",
            "unknown"
        ])
    );
    assert_eq!(q["properties"]["date"]["format"], "date");
    assert_eq!(q["properties"]["reported_at"]["format"], "date-time");
    assert_eq!(
        q["properties"]["exporting_force"]["enum"]
            .as_array()
            .unwrap()
            .len(),
        45
    );
}

#[tokio::test]
async fn each_operator_selects_exactly_the_stations_counted_straight_from_stations_csv() {
    let st = fresh_state();
    let csv = csv_stations();
    let bng = csv.iter().find(|s| s.crs == "BNG").unwrap();
    let tri = ((-3.0, 53.0), (-2.0, 53.0), (-2.5, 54.0));
    let e = |s: &CsvStation| s.entries;
    let point = format!("S_INTERSECTS(geometry, POINT({} {}))", bng.lon, bng.lat);
    type Pred = Box<dyn Fn(&CsvStation) -> bool>;
    let cases: Vec<(&str, Pred)> = vec![
        ("crs = 'BNG'", Box::new(|s| s.crs == "BNG")),
        ("crs <> 'BNG'", Box::new(|s| s.crs != "BNG")),
        (
            "name LIKE 'Liverpool%'",
            Box::new(|s| s.name.starts_with("Liverpool")),
        ),
        (
            "name NOT LIKE '%Road%'",
            Box::new(|s| !s.name.contains("Road")),
        ),
        (
            "CASEI(name) LIKE CASEI('LIVERPOOL%')",
            Box::new(|s| s.name.to_lowercase().starts_with("liverpool")),
        ),
        (
            "name LIKE '_ork'",
            Box::new(|s| s.name.chars().count() == 4 && s.name.ends_with("ork")),
        ),
        (
            "crs IN ('LIV', 'BNG', 'EUS', 'ZZZ')",
            Box::new(|s| ["LIV", "BNG", "EUS"].contains(&s.crs.as_str())),
        ),
        ("crs NOT IN ('LIV')", Box::new(|s| s.crs != "LIV")),
        (
            "entries_exits_2019_20 BETWEEN 1000000 AND 2000000",
            Box::new(move |s| e(s).is_some_and(|n| (1_000_000..=2_000_000).contains(&n))),
        ),
        (
            "entries_exits_2019_20 NOT BETWEEN 1000000 AND 2000000",
            Box::new(move |s| e(s).is_some_and(|n| !(1_000_000..=2_000_000).contains(&n))),
        ),
        (
            "entries_exits_2019_20 > 50000000 OR crs = 'BNG'",
            Box::new(move |s| e(s).is_some_and(|n| n > 50_000_000) || s.crs == "BNG"),
        ),
        (
            "entries_exits_2019_20 >= 10000000 AND NOT entries_exits_2019_20 > 20000000",
            Box::new(move |s| e(s).is_some_and(|n| (10_000_000..=20_000_000).contains(&n))),
        ),
        (
            "entries_exits_2019_20 < 100",
            Box::new(move |s| e(s).is_some_and(|n| n < 100)),
        ),
        (
            "entries_exits_2019_20 <= 100",
            Box::new(move |s| e(s).is_some_and(|n| n <= 100)),
        ),
        (
            "entries_exits_2019_20 IS NULL",
            Box::new(move |s| e(s).is_none()),
        ),
        (
            "entries_exits_2019_20 IS NOT NULL",
            Box::new(move |s| e(s).is_some()),
        ),
        // every station's count is 0 in an empty store
        ("journeys = 0 AND crs = 'BNG'", Box::new(|s| s.crs == "BNG")),
        ("FALSE", Box::new(|_| false)),
        (
            "S_INTERSECTS(geometry, BBOX(-1.5, 50, 1.5, 53))",
            Box::new(|s| s.lon >= -1.5 && s.lon <= 1.5 && s.lat >= 50.0 && s.lat <= 53.0),
        ),
        (
            "S_INTERSECTS(geometry, POLYGON((-3 53, -2 53, -2.5 54, -3 53)))",
            Box::new(move |s| in_triangle((s.lon, s.lat), tri.0, tri.1, tri.2)),
        ),
        (&point, Box::new(|s| s.crs == "BNG")),
    ];
    for (filter, pred) in &cases {
        let want: BTreeSet<String> = csv
            .iter()
            .filter(|s| pred(s))
            .map(|s| s.crs.clone())
            .collect();
        let path = format!(
            "/collections/stations/items?limit=10000&filter={}",
            enc(filter)
        );
        let (got, matched) = all_pages(&st, &path).await;
        assert_eq!(got, want, "{filter}");
        assert_eq!(matched as usize, want.len(), "{filter}");
    }
    // the same in CQL2 JSON, and in GDAL's older filter-lang names
    let json_cases = [
        (
            r#"{"op": "like", "args": [{"property": "name"}, "Liverpool%"]}"#,
            "name LIKE 'Liverpool%'",
        ),
        (
            r#"{"op": "and", "args": [{"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [-1.5, 50, 1.5, 53]}]}, {"op": "not", "args": [{"op": "isNull", "args": [{"property": "entries_exits_2019_20"}]}]}]}"#,
            "S_INTERSECTS(geometry, BBOX(-1.5, 50, 1.5, 53)) AND entries_exits_2019_20 IS NOT NULL",
        ),
        (
            r#"{"op": "in", "args": [{"property": "crs"}, ["LIV", "BNG"]]}"#,
            "crs IN ('LIV', 'BNG')",
        ),
    ];
    for (j, t) in json_cases {
        for (lang, text_lang) in [("cql2-json", "cql2-text"), ("cql-json", "cql-text")] {
            let a = format!(
                "/collections/stations/items?limit=10000&filter-lang={lang}&filter={}",
                enc(j)
            );
            let b = format!(
                "/collections/stations/items?limit=10000&filter-lang={text_lang}&filter={}",
                enc(t)
            );
            let (x, y) = (all_pages(&st, &a).await, all_pages(&st, &b).await);
            assert_eq!(x, y, "{j}");
            assert!(x.1 > 0, "{j}");
        }
    }
    // filter-crs: a National Grid box selects what the same box selects as bbox-crs
    let nat = "http://www.opengis.net/def/crs/EPSG/0/27700";
    let a = format!(
        "/collections/stations/items?limit=10000&filter-crs={}&filter={}",
        enc(nat),
        enc("S_INTERSECTS(geometry, BBOX(500000, 150000, 560000, 200000))")
    );
    let b = format!(
        "/collections/stations/items?limit=10000&bbox-crs={}&bbox=500000,150000,560000,200000",
        enc(nat)
    );
    let (x, _) = all_pages(&st, &a).await;
    let (_, vb) = get(&st, &b).await;
    let y: BTreeSet<String> = vb["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    assert!(x.len() > 100, "{}", x.len());
    assert_eq!(x, y);
}

#[tokio::test]
async fn the_filter_is_anded_with_bbox_and_paged_with_next_links_that_carry_it() {
    let st = fresh_state();
    let want: BTreeSet<String> = csv_stations()
        .into_iter()
        .filter(|s| s.lon >= -1.5 && s.lon <= 1.5 && s.lat >= 50.0 && s.lat <= 53.0)
        .filter(|s| s.name.starts_with("London"))
        .map(|s| s.crs)
        .collect();
    assert!(want.len() > 10, "{}", want.len());
    let path = format!(
        "/collections/stations/items?bbox=-1.5,50,1.5,53&limit=5&filter={}",
        enc("name LIKE 'London%'")
    );
    let (got, matched) = all_pages(&st, &path).await;
    assert_eq!(matched as usize, want.len());
    assert_eq!(got, want);
}

#[tokio::test]
async fn journeys_filter_on_text_dates_timestamps_nulls_and_routes_as_counted_by_hand() {
    // 12 London Liverpool Street → Norwich journeys, 2024-01-02 .. 2024-01-13 (i + 2), odd i
    // reported by BTP, all on line syn-acc-line; 3 Liverpool Lime Street → Bangor journeys,
    // 2024-02-05 .. 07, reported by BTP, with no line.
    let f = fixture("filter-journeys", 3, 0, vec![], false).await;
    let cases = [
        ("source_force = 'BTP'", 6 + 3),
        ("origin_station = 'LIV'", 3),
        ("line_id IS NULL", 3),
        ("line_id = 'syn-acc-line' AND source_force <> 'BTP'", 6),
        ("line_name LIKE 'SYN-%'", 12),
        ("mode IN ('rail', 'coach') AND NOT source_force = 'BTP'", 6),
        // days 5, 6, 7, 8 of January: i = 3..6
        ("date BETWEEN DATE('2024-01-05') AND DATE('2024-01-08')", 4),
        ("date >= DATE('2024-02-01')", 3),
        // reported 2024-01-02T20:00Z and 2024-01-03T20:00Z; the offset is honoured
        ("reported_at < TIMESTAMP('2024-01-04T00:00:00Z')", 2),
        ("reported_at < TIMESTAMP('2024-01-03T21:00:00+02:00')", 1),
        // a box around Bangor: the three routes that end there
        ("S_INTERSECTS(geometry, BBOX(-4.3, 53.1, -4.0, 53.3))", 3),
        (
            "NOT S_INTERSECTS(geometry, BBOX(-4.3, 53.1, -4.0, 53.3))",
            12,
        ),
        ("persons = 1 AND children = 1 AND origin_station = 'LIV'", 3),
    ];
    for (filter, want) in cases {
        let v = json_of(
            &f.st,
            &format!(
                "/collections/journeys/items?limit=100&filter={}",
                enc(filter)
            ),
            Role::Admin,
        )
        .await;
        assert_eq!(v["numberMatched"], want, "{filter}");
        assert_eq!(v["features"].as_array().unwrap().len(), want, "{filter}");
    }
    // ANDed with datetime and the journey filters, paged: BTP journeys in January are i = 1,
    // 3, .., 11 (6), pages of 4
    let v = json_of(
        &f.st,
        &format!(
            "/collections/journeys/items?limit=4&datetime=2024-01-01/2024-01-31&mode=rail&filter={}",
            enc("source_force = 'BTP'")
        ),
        Role::Admin,
    )
    .await;
    assert_eq!(v["numberMatched"], 6);
    assert_eq!(v["numberReturned"], 4);
    let next = v["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "next")
        .unwrap()["href"]
        .as_str()
        .unwrap()
        .to_string();
    let path = &next[next.find("/collections").unwrap()..];
    let w = json_of(&f.st, path, Role::Admin).await;
    assert_eq!(w["numberReturned"], 2, "{path}");
    let ids: Vec<&str> = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .chain(w["features"].as_array().unwrap())
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "syn-acc-1",
            "syn-acc-3",
            "syn-acc-5",
            "syn-acc-7",
            "syn-acc-9",
            "syn-acc-11"
        ]
    );
    // a BTP planner's filter runs over the journeys it may read (BTP's): 9, of which LIV 3
    let v = json_of(
        &f.st,
        &format!(
            "/collections/journeys/items?limit=100&filter={}",
            enc("source_force <> 'nobody'")
        ),
        Role::BtpPlanner,
    )
    .await;
    assert_eq!(v["numberMatched"], 9);
}

#[tokio::test]
async fn a_malformed_unknown_or_mistyped_filter_is_a_400_naming_the_position_and_the_problem() {
    let st = fresh_state();
    let deep = format!("{}crs = 'BNG'{}", "(".repeat(100), ")".repeat(100));
    let long = format!("crs = '{}'", "x".repeat(5000));
    let cases: Vec<(String, &str, &[&str])> = vec![
        (
            "crs ==".into(),
            "",
            &["at character 6", "expected a property or a literal"],
        ),
        (
            "crs = 'BNG' AND".into(),
            "",
            &["at character 16", "found the end"],
        ),
        ("name = 'open".into(), "", &["at character 8", "not closed"]),
        (
            "nosuch = 1".into(),
            "",
            &["\"nosuch\" is not a queryable", "entries_exits_2019_20"],
        ),
        (
            "journeys = 'many'".into(),
            "",
            &["is a number", "is a string"],
        ),
        ("name > 3".into(), "", &["is a string", "is a number"]),
        (
            "force = 'X99'".into(),
            "",
            &["'X99' is not one of", "E23000004"],
        ),
        ("name LIKE 3".into(), "", &["LIKE compares strings"]),
        (
            "S_CONTAINS(geometry, POINT(0 0))".into(),
            "",
            &["at character 1", "only S_INTERSECTS"],
        ),
        (
            "S_INTERSECTS(geometry, POLYGON((0 0, 1 0, 1 1)))".into(),
            "",
            &["ring is closed"],
        ),
        (
            "S_INTERSECTS(name, POINT(0 0))".into(),
            "",
            &["not a geometry"],
        ),
        ("date > DATE('2024-13-01')".into(), "", &["not a date"]),
        (deep, "", &["deeper than 64"]),
        (long, "", &["longer than 4096"]),
        (
            "{\"op\": \"=\", \"args\": [1]}".into(),
            "cql2-json",
            &["/args", "takes 2 arguments"],
        ),
        (
            "{\"op\": \"t_after\", \"args\": []}".into(),
            "cql2-json",
            &["/op", "not supported"],
        ),
        (
            "{\"op\": \"and\"".into(),
            "cql2-json",
            &["line 1 column", "not JSON"],
        ),
        ("crs = 'BNG'".into(), "sql", &["filter-lang", "cql2-text"]),
    ];
    for (filter, lang, wants) in cases {
        let lang_q = if lang.is_empty() {
            String::new()
        } else {
            format!("&filter-lang={lang}")
        };
        let path = format!(
            "/collections/stations/items?filter={}{lang_q}",
            enc(&filter)
        );
        let (s, v) = get(&st, &path).await;
        assert_eq!(s, 400, "{filter}: {v}");
        let m = v["message"].as_str().unwrap();
        for w in wants {
            assert!(m.contains(w), "{filter}: {m:?} lacks {w:?}");
        }
    }
    let (s, v) = get(&st, "/collections/stations/items?filter-crs=EPSG:9999").await;
    assert_eq!(s, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("filter-crs"));
}

#[tokio::test]
async fn a_viewers_filter_compares_published_counts_so_a_suppressed_cell_of_0_1_3_or_4_looks_the_same()
 {
    // Two stores that differ by one journey in a suppressed cell (Liverpool Lime Street →
    // Bangor: 0 against 1, and 3 against 4). A filter on a count must not tell them apart: a
    // viewer's filter compares the published values (null below 5), so `journeys > 3` is
    // unknown on a suppressed cell, whatever it holds.
    let filters = [
        ("stations", "journeys > 3"),
        ("stations", "journeys >= 1 AND crs IN ('LIV', 'BNG')"),
        ("stations", "journeys IS NULL AND crs = 'BNG'"),
        ("stations", "starts BETWEEN 1 AND 4"),
        ("stations", "NOT journeys < 1"),
        ("hotspots", "journeys > 3"),
        ("hotspots", "crs = 'BNG' AND stops IS NOT NULL"),
        ("forces", "imports > 2"),
        ("forces", "exports IS NULL"),
        ("rail", "journeys > 0"),
        ("flows", "journeys > 0"),
        ("flows", "journeys IS NOT NULL"),
        ("flows", "persons BETWEEN 1 AND 4"),
    ];
    let mut paths = Vec::new();
    for (c, fl) in filters {
        for extra in ["", "&datetime=2024-02-01/2024-02-29"] {
            paths.push(format!(
                "/collections/{c}/items?limit=10000&filter={}{extra}",
                enc(fl)
            ));
        }
    }
    for (a, b) in [(0, 1), (3, 4)] {
        let x = fixture(&format!("filt{a}"), a, 0, vec![], false).await;
        let y = fixture(&format!("filt{b}"), b, 0, vec![], false).await;
        let mut differs_for_analyst = 0;
        for p in &paths {
            let (sx, bx, hx) = get_as(&x.st, p, Role::Viewer).await;
            let (sy, by, hy) = get_as(&y.st, p, Role::Viewer).await;
            assert_eq!((sx, sx), (200, sy), "{p}: {bx}");
            assert_eq!(bx, by, "{p}: body with {a} vs {b} journeys");
            assert_eq!(hx, hy, "{p}: headers with {a} vs {b} journeys");
            let (_, ax, _) = get_as(&x.st, p, Role::Analyst).await;
            let (_, ay, _) = get_as(&y.st, p, Role::Analyst).await;
            differs_for_analyst += usize::from(ax != ay);
        }
        assert!(
            differs_for_analyst >= 10,
            "only {differs_for_analyst} of {} filtered answers differ for an analyst",
            paths.len()
        );
    }
    // and the filtered answer holds the values a viewer is shown: every count a multiple of 5
    // and at least 5, or null
    let x = fixture("filt-shown", 3, 0, vec![], false).await;
    let v = json_of(
        &x.st,
        &format!(
            "/collections/stations/items?limit=10000&filter={}",
            enc("journeys >= 5")
        ),
        Role::Viewer,
    )
    .await;
    let fs = v["features"].as_array().unwrap();
    // London Liverpool Street and Norwich see the 12 journeys; Bangor and Lime Street 3
    // (suppressed) and are left out
    let ids: BTreeSet<&str> = fs.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert!(ids.contains("LST") && ids.contains("NRW"), "{ids:?}");
    assert!(!ids.contains("BNG") && !ids.contains("LIV"), "{ids:?}");
    for f in fs {
        let n = f["properties"]["journeys"].as_u64().unwrap();
        assert!(n >= 5 && n % 5 == 0, "{n}");
    }
}

// ------------------------------------------------------------------------------------------
// The typed accessor, queryables as query parameters, and the filtered export

/// A state holding `n` generated journeys (seed 7).
fn generated_state(n: usize) -> Arc<AppState> {
    let st = fresh_state();
    let reports = linesmap::journey::generate::generate(
        super::common::gb(),
        &linesmap::journey::generate::GeneratorParams::builtin(),
        n,
        7,
    );
    let values: Vec<_> = reports.into_iter().map(Ok).collect();
    st.journeys
        .ingest(&values, time::OffsetDateTime::now_utc())
        .unwrap();
    assert_eq!(st.journeys.index().len(), n);
    st
}

#[test]
fn the_typed_journey_accessor_reads_each_queryable_as_the_journeys_properties_carry_it() {
    use linesmap::http::cql2::{Row, Val};
    use linesmap::http::queryables::{JourneyProp, JourneyRow};
    let st = generated_state(2_000);
    let g = super::common::gb();
    let names: Vec<&str> = linesmap::http::queryables::names("journeys")
        .iter()
        .copied()
        .filter(|n| *n != "geometry")
        .collect();
    assert_eq!(names.len(), 26);
    for n in ["geometry", "stations", "forces", "via", "age_band"] {
        assert_eq!(JourneyProp::of(n), None, "{n}");
    }
    let idx = st.journeys.index();
    let mut nulls = 0;
    for j in idx.all() {
        // the independent reading: the feature's properties as JSON
        let props = j.properties(g);
        let row = JourneyRow {
            journey: j,
            hot: linesmap::journey::index::Hot::of(j),
            geo: g,
        };
        for n in &names {
            let p = JourneyProp::of(n).unwrap_or_else(|| panic!("{n} has no accessor"));
            let want = props.get(*n).map_or(Val::Null, Val::of_json);
            nulls += usize::from(want == Val::Null);
            assert_eq!(row.get(p), want, "{n} of {}", j.report.report_id);
        }
    }
    // some properties are null on some journeys (no line, no snap), so both kinds were seen
    assert!(nulls > 0);
}

/// Whether the segment a–b meets the box (Liang–Barsky clipping; edges included).
fn segment_meets_box(a: [f64; 2], b: [f64; 2], bx: [f64; 4]) -> bool {
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    let d = [b[0] - a[0], b[1] - a[1]];
    for (p, q) in [
        (-d[0], a[0] - bx[0]),
        (d[0], bx[2] - a[0]),
        (-d[1], a[1] - bx[1]),
        (d[1], bx[3] - a[1]),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return false;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
            if t0 > t1 {
                return false;
            }
        }
    }
    true
}

#[tokio::test]
async fn filtered_journey_pages_over_generated_journeys_hold_the_journeys_whose_properties_pass_it_in_the_test()
 {
    let st = generated_state(1_500);
    // every journey as a feature, unfiltered
    let (s, all) = get(&st, "/collections/journeys/items?limit=10000").await;
    assert_eq!(s, 200);
    let all = all["features"].as_array().unwrap().clone();
    assert_eq!(all.len(), 1_500);
    let p = |f: &Value, k: &str| f["properties"][k].clone();
    let num = |f: &Value, k: &str| f["properties"][k].as_f64();
    let london = [-0.272, 51.417, 0.017, 51.597];
    type Pred = Box<dyn Fn(&Value) -> bool>;
    let cases: Vec<(&str, Pred)> = vec![
        (
            "mode = 'rail' AND children >= 1",
            Box::new(move |f| p(f, "mode") == "rail" && num(f, "children").unwrap() >= 1.0),
        ),
        (
            "cross_border = TRUE AND distance_m > 100000",
            Box::new(move |f| {
                p(f, "cross_border") == true && num(f, "distance_m").unwrap() > 100_000.0
            }),
        ),
        (
            "line_type = 'external' OR origin_class = 'urban'",
            Box::new(move |f| p(f, "line_type") == "external" || p(f, "origin_class") == "urban"),
        ),
        (
            // null line names are unknown, so NOT LIKE keeps only named lines
            "NOT line_name LIKE 'SYN-%' OR CASEI(origin_station) = 'eus'",
            Box::new(move |f| {
                f["properties"]["line_name"]
                    .as_str()
                    .is_some_and(|s| !s.starts_with("SYN-"))
                    || p(f, "origin_station") == "EUS"
            }),
        ),
        (
            "S_INTERSECTS(geometry, BBOX(-0.272, 51.417, 0.017, 51.597)) AND persons >= 2",
            Box::new(move |f| {
                let c = f["geometry"]["coordinates"].as_array().unwrap();
                let pts: Vec<[f64; 2]> = c
                    .iter()
                    .map(|x| [x[0].as_f64().unwrap(), x[1].as_f64().unwrap()])
                    .collect();
                num(f, "persons").unwrap() >= 2.0
                    && pts
                        .windows(2)
                        .any(|w| segment_meets_box(w[0], w[1], london))
            }),
        ),
    ];
    for (filter, pred) in cases {
        let want: Vec<&str> = all
            .iter()
            .filter(|f| pred(f))
            .map(|f| f["id"].as_str().unwrap())
            .collect();
        assert!(!want.is_empty(), "{filter} selects something");
        let path = format!(
            "/collections/journeys/items?limit=10000&filter={}",
            enc(filter)
        );
        let (s, v) = get(&st, &path).await;
        assert_eq!(s, 200, "{filter}: {v}");
        let got: Vec<&str> = v["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap())
            .collect();
        assert_eq!(got, want, "{filter}");
        assert_eq!(v["numberMatched"], want.len(), "{filter}");
        // a later page of the same filter (its selection kept) is the same slice
        let (_, w) = get(
            &st,
            &format!(
                "/collections/journeys/items?limit=3&offset=2&filter={}",
                enc(filter)
            ),
        )
        .await;
        let page: Vec<&str> = w["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap())
            .collect();
        let slice: Vec<&str> = want.iter().skip(2).take(3).copied().collect();
        assert_eq!(page, slice, "{filter}, offset 2");
    }
}

/// The ids of a filtered answer followed through its `next` links, as `role`.
async fn ids_as(st: &Arc<AppState>, first: &str, role: Role) -> (Vec<String>, u64) {
    let v = json_of(st, first, role).await;
    let matched = v["numberMatched"].as_u64().unwrap();
    let mut ids = Vec::new();
    let mut page = v;
    loop {
        for f in page["features"].as_array().unwrap() {
            ids.push(f["id"].as_str().unwrap().to_string());
        }
        let next = page["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
            .map(|l| l["href"].as_str().unwrap().to_string());
        let Some(href) = next else { break };
        let path = href[href.find("/collections").unwrap()..].to_string();
        page = json_of(st, &path, role).await;
    }
    (ids, matched)
}

#[tokio::test]
async fn queryables_as_query_parameters_select_the_journeys_counted_by_hand_anded_with_the_rest() {
    // the access fixture (see journeys_filter_on_text_dates_…): 12 LST → NRW journeys on
    // 2024-01-02 .. 13 (syn-acc-0 .. 11, the odd ones reported by BTP, the rest by Norfolk,
    // line syn-acc-line named SYN-ACC, one person aged 15-17 each), then 3 LIV → BNG on
    // 2024-02-05 .. 07 (syn-acc-small-0 .. 2, BTP, no line, one child under 10 each)
    let f = fixture("filter-params", 3, 0, vec![], false).await;
    let n = |q: String| {
        let st = f.st.clone();
        async move {
            let v = json_of(
                &st,
                &format!("/collections/journeys/items?limit=100&{q}"),
                Role::Admin,
            )
            .await;
            let ids: Vec<String> = v["features"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["id"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(v["numberMatched"], ids.len(), "{q}");
            ids
        }
    };
    let small: Vec<String> = (0..3).map(|i| format!("syn-acc-small-{i}")).collect();
    assert_eq!(n("origin_station=LIV".into()).await, small);
    assert_eq!(n("destination_station=BNG".into()).await, small);
    assert_eq!(n("source_force=BTP".into()).await.len(), 6 + 3);
    assert_eq!(
        n("source_force=BTP&origin_station=LST".into()).await.len(),
        6
    );
    assert_eq!(
        n(format!("source_force={}", super::access::NORFOLK))
            .await
            .len(),
        6
    );
    assert_eq!(n("date=2024-01-05".into()).await, ["syn-acc-3"]);
    assert_eq!(n("line_id=syn-acc-line".into()).await.len(), 12);
    assert_eq!(n("line_name=SYN-ACC".into()).await.len(), 12);
    assert_eq!(n("children=1".into()).await.len(), 15);
    assert!(n("children=2".into()).await.is_empty());
    assert_eq!(
        n("route_method=rail&cross_border=true".into()).await.len(),
        15
    );
    // an instant with an offset: 2024-01-03T22:00+02:00 is 20:00Z, when syn-acc-1 was reported
    assert_eq!(
        n(format!("reported_at={}", enc("2024-01-03T22:00:00+02:00"))).await,
        ["syn-acc-1"]
    );
    // ANDed with filter, datetime and bbox
    assert_eq!(
        n(format!(
            "source_force=BTP&filter={}",
            enc("line_id IS NULL")
        ))
        .await,
        small
    );
    assert_eq!(
        n("destination_station=BNG&datetime=2024-02-06".into()).await,
        ["syn-acc-small-1"]
    );
    assert!(
        n("origin_station=LIV&bbox=1.2,52.5,1.4,52.7".into())
            .await
            .is_empty()
    );
    // a parameter that was a journey filter already keeps its meaning, which is the
    // queryable's: the same rows as the filter
    for (param, filter) in [
        ("mode=rail", "mode = 'rail'"),
        ("cross_border=true", "cross_border = TRUE"),
        ("exporting_force=E23000004", "exporting_force = 'E23000004'"),
        ("importing_force=W15000001", "importing_force = 'W15000001'"),
        ("exporting_force=E23000024", "exporting_force = 'E23000024'"),
    ] {
        let a = n(param.into()).await;
        let b = n(format!("filter={}", enc(filter))).await;
        assert_eq!(a, b, "{param} against {filter}");
    }
    // Merseyside exports the three LIV journeys (no line: the origin's force)
    assert_eq!(n("exporting_force=E23000004".into()).await, small);
    // paged: next links carry the parameter; BTP's in the order they were added
    let (ids, matched) = ids_as(
        &f.st,
        "/collections/journeys/items?limit=4&source_force=BTP",
        Role::Admin,
    )
    .await;
    assert_eq!(matched, 9);
    let mut want: Vec<String> = [1, 3, 5, 7, 9, 11]
        .iter()
        .map(|i| format!("syn-acc-{i}"))
        .collect();
    want.extend(small.iter().cloned());
    assert_eq!(ids, want);
    // `persons` keeps its meaning on journeys (the persons' summaries, true or false): a
    // count is filtered with filter=persons = 1
    let (s, b, _) = get_as(&f.st, "/collections/journeys/items?persons=1", Role::Admin).await;
    assert_eq!(s, 400, "{b}");
    assert!(
        b.contains("persons") && b.contains("not true or false"),
        "{b}"
    );
}

#[tokio::test]
async fn queryables_as_query_parameters_select_the_places_flows_and_sections_the_data_holds() {
    let st = fresh_state();
    // stations: by name, as counted in stations.csv
    for name in ["Norwich", "London Euston", "Bangor (Gwynedd)"] {
        let want: BTreeSet<String> = csv_stations()
            .into_iter()
            .filter(|s| s.name == name)
            .map(|s| s.crs)
            .collect();
        let (got, matched) = all_pages_any(
            &st,
            &format!("/collections/stations/items?limit=5&name={}", enc(name)),
        )
        .await;
        assert_eq!(got, want, "{name}");
        assert_eq!(matched as usize, want.len());
    }
    // entries and exits, a number: the stations with exactly Norwich's
    let nrw = csv_stations().into_iter().find(|s| s.crs == "NRW").unwrap();
    let e = nrw.entries.unwrap();
    let want: BTreeSet<String> = csv_stations()
        .into_iter()
        .filter(|s| s.entries == Some(e))
        .map(|s| s.crs)
        .collect();
    let (got, _) = all_pages_any(
        &st,
        &format!("/collections/stations/items?entries_exits_2019_20={e}"),
    )
    .await;
    assert_eq!(got, want);
    // forces by name, sections by number, flows by name: each the rows of the unfiltered
    // answer with that value (the unfiltered answer read in the test)
    for (c, param, value) in [
        ("forces", "name", "Norfolk"),
        ("rail", "section", "5"),
        ("flows", "origin_name", "Norfolk"),
        ("hotspots", "low_footfall", "true"),
    ] {
        let (_, all) = get(&st, &format!("/collections/{c}/items?limit=10000")).await;
        let want: BTreeSet<String> = all["features"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| {
                // the value as the query string spells it
                let text = match &f["properties"][param] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                text == value
            })
            .map(|f| f["id"].to_string())
            .collect();
        let (s, v) = get(
            &st,
            &format!("/collections/{c}/items?limit=10000&{param}={}", enc(value)),
        )
        .await;
        assert_eq!(s, 200, "{c} {param}: {v}");
        let got: BTreeSet<String> = v["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].to_string())
            .collect();
        assert_eq!(got, want, "{c} {param}={value}");
        if c != "flows" {
            assert!(!want.is_empty(), "{c} {param}={value}");
        }
    }
}

/// Every feature id of a filtered answer followed through its `next` links (any collection).
async fn all_pages_any(st: &Arc<AppState>, first: &str) -> (BTreeSet<String>, u64) {
    let (s, v) = get(st, first).await;
    assert_eq!(s, 200, "{first}: {v}");
    let matched = v["numberMatched"].as_u64().unwrap();
    let mut codes = BTreeSet::new();
    let mut page = v;
    loop {
        for f in page["features"].as_array().unwrap() {
            codes.insert(f["id"].as_str().unwrap_or_default().to_string());
        }
        let next = page["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
            .map(|l| l["href"].as_str().unwrap().to_string());
        let Some(href) = next else { break };
        let path = href[href.find("/collections").unwrap()..].to_string();
        let (s, v) = get(st, &path).await;
        assert_eq!(s, 200, "{path}");
        page = v;
    }
    (codes, matched)
}

#[tokio::test]
async fn a_queryable_parameter_with_a_bad_value_is_a_400_naming_it_and_unknown_parameters_still_are()
 {
    let st = fresh_state();
    let cases: &[(&str, &[&str])] = &[
        (
            "journeys/items?date=2024-13-01",
            &["\"date\"", "not a date"],
        ),
        (
            "journeys/items?date=1999-12-31",
            &["\"date\"", "outside the dates"],
        ),
        (
            "journeys/items?distance_m=far",
            &["\"distance_m\"", "not a number"],
        ),
        (
            "journeys/items?children=1.5",
            &["\"children\"", "not a whole number"],
        ),
        (
            "journeys/items?urban_to_rural=yes",
            &["\"urban_to_rural\"", "not true or false"],
        ),
        (
            "journeys/items?origin_class=big",
            &["\"origin_class\"", "'big' is not one of", "rural"],
        ),
        (
            "journeys/items?origin_force=X99",
            &["\"origin_force\"", "not a force code"],
        ),
        (
            "journeys/items?origin_force=E23000099",
            &["\"origin_force\""],
        ),
        (
            "journeys/items?reported_at=yesterday",
            &["\"reported_at\"", "RFC 3339"],
        ),
        ("journeys/items?geometry=POINT(0%200)", &["geometry"]),
        ("journeys/items?nosuch=1", &["nosuch"]),
        (
            "stations/items?journeys=many",
            &["\"journeys\"", "not a whole number"],
        ),
        (
            "hotspots/items?spot=warm",
            &["\"spot\"", "'warm' is not one of"],
        ),
        ("rail/items?age_band=15-17&section=x", &["\"section\""]),
    ];
    for (path, wants) in cases {
        let (s, v) = get(&st, &format!("/collections/{path}")).await;
        assert_eq!(s, 400, "{path}: {v}");
        let m = v["message"].as_str().unwrap();
        for w in *wants {
            assert!(m.contains(w), "{path}: {m:?} lacks {w:?}");
        }
    }
}

#[tokio::test]
async fn a_viewers_queryable_parameters_compare_published_counts_so_suppressed_cells_look_the_same()
{
    // as the filter test: the stores differ by one journey in a suppressed cell (3 against 4
    // LIV → BNG journeys); a count given as a parameter compares the published value
    let paths = [
        "/collections/stations/items?limit=10000&journeys=5",
        "/collections/stations/items?limit=10000&starts=3",
        "/collections/hotspots/items?limit=10000&journeys=4",
        "/collections/forces/items?limit=10000&imports=5",
        "/collections/rail/items?limit=10000&journeys=3",
        "/collections/flows/items?limit=10000&persons=3",
        "/collections/flows/items?limit=10000&journeys=10",
    ];
    let x = fixture("filtp3", 3, 0, vec![], false).await;
    let y = fixture("filtp4", 4, 0, vec![], false).await;
    for p in paths {
        let (sx, bx, hx) = get_as(&x.st, p, Role::Viewer).await;
        let (sy, by, hy) = get_as(&y.st, p, Role::Viewer).await;
        assert_eq!((sx, sy), (200, 200), "{p}: {bx}");
        assert_eq!(bx, by, "{p}");
        assert_eq!(hx, hy, "{p}");
    }
    // and a parameter is the filter `name = value`: the same features
    for (c, param, filter) in [
        ("stations", "journeys=10", "journeys = 10"),
        ("flows", "journeys=10", "journeys = 10"),
    ] {
        let a = json_of(
            &x.st,
            &format!("/collections/{c}/items?limit=10000&{param}"),
            Role::Viewer,
        )
        .await;
        let b = json_of(
            &x.st,
            &format!("/collections/{c}/items?limit=10000&filter={}", enc(filter)),
            Role::Viewer,
        )
        .await;
        assert_eq!(a["features"], b["features"], "{c} {param}");
        assert_eq!(a["numberMatched"], b["numberMatched"], "{c} {param}");
    }
    // the stations whose published count is 10, as the viewer's unfiltered answer shows them
    // (12 journeys on the LST → NRW route round to 10 or 15 by the cell's key)
    let all = json_of(
        &x.st,
        "/collections/stations/items?limit=10000",
        Role::Viewer,
    )
    .await;
    let want: BTreeSet<&str> = all["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["properties"]["journeys"] == 10)
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(!want.is_empty());
    let a = json_of(
        &x.st,
        "/collections/stations/items?limit=10000&journeys=10",
        Role::Viewer,
    )
    .await;
    let ids: BTreeSet<&str> = a["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, want);
}

#[tokio::test]
async fn the_export_under_a_filter_holds_exactly_the_rows_of_the_items_under_it() {
    let f = fixture("filter-export", 3, 0, vec![], false).await;
    // journeys: BTP's before 6 February, by hand syn-acc-1, 3, 5, 7, 9, 11 and small-0
    let filter = "source_force = 'BTP' AND date < DATE('2024-02-06')";
    let (items, matched) = ids_as(
        &f.st,
        &format!("/collections/journeys/items?limit=3&filter={}", enc(filter)),
        Role::Analyst,
    )
    .await;
    assert_eq!(matched, 7);
    assert_eq!(
        items,
        [
            "syn-acc-1",
            "syn-acc-3",
            "syn-acc-5",
            "syn-acc-7",
            "syn-acc-9",
            "syn-acc-11",
            "syn-acc-small-0"
        ]
    );
    let ex = json_of(
        &f.st,
        &format!("/api/export?collection=journeys&filter={}", enc(filter)),
        Role::Analyst,
    )
    .await;
    let ids: Vec<&str> = ex["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, items);
    assert_eq!(ex["numberMatched"], 7);
    // CSV: the same rows, in the same order; CQL2 JSON reads the same
    let json_filter = r#"{"op": "and", "args": [{"op": "=", "args": [{"property": "source_force"}, "BTP"]}, {"op": "<", "args": [{"property": "date"}, {"date": "2024-02-06"}]}]}"#;
    let (s, csv, h) = get_as(
        &f.st,
        &format!(
            "/api/export?collection=journeys&format=csv&filter-lang=cql2-json&filter={}",
            enc(json_filter)
        ),
        Role::Analyst,
    )
    .await;
    assert_eq!(s, 200, "{csv}");
    let rows: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(rows, items);
    assert_eq!(h["x-record-count"], "7");
    // a btp_planner's export under a filter: the BTP journeys it may read, as its items
    let (items, _) = ids_as(
        &f.st,
        &format!(
            "/collections/journeys/items?limit=100&filter={}",
            enc("date >= DATE('2024-01-10')")
        ),
        Role::BtpPlanner,
    )
    .await;
    let ex = json_of(
        &f.st,
        &format!(
            "/api/export?collection=journeys&filter={}",
            enc("date >= DATE('2024-01-10')")
        ),
        Role::BtpPlanner,
    )
    .await;
    let ids: Vec<&str> = ex["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    // BTP's on or after 10 January: syn-acc-9, 11 and the three LIV → BNG
    assert_eq!(ids, items);
    assert_eq!(
        ids,
        [
            "syn-acc-9",
            "syn-acc-11",
            "syn-acc-small-0",
            "syn-acc-small-1",
            "syn-acc-small-2"
        ]
    );
    // the place layers: the export's features are the items' features, for an analyst and
    // for a viewer (published counts compared)
    for (role, c, filter) in [
        (
            Role::Analyst,
            "stations",
            "journeys >= 3 AND name LIKE 'L%'",
        ),
        (Role::Analyst, "forces", "imports > 0"),
        (Role::Analyst, "rail", "journeys >= 12"),
        (Role::Analyst, "flows", "journeys >= 3"),
        (Role::Analyst, "hotspots", "journeys >= 3"),
        (Role::Viewer, "stations", "journeys >= 5"),
        (Role::Viewer, "hotspots", "journeys >= 5"),
        (Role::Viewer, "flows", "journeys > 0"),
    ] {
        let items = json_of(
            &f.st,
            &format!("/collections/{c}/items?limit=10000&filter={}", enc(filter)),
            role,
        )
        .await;
        let want: Vec<String> = items["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].to_string())
            .collect();
        assert!(!want.is_empty(), "{c} {filter} as {role}");
        let ex = json_of(
            &f.st,
            &format!("/api/export?collection={c}&filter={}", enc(filter)),
            role,
        )
        .await;
        let got: Vec<String> = ex["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].to_string())
            .collect();
        assert_eq!(got, want, "{c} {filter} as {role}");
        assert_eq!(ex["numberMatched"], want.len(), "{c} {filter} as {role}");
        assert_eq!(
            ex["features"], items["features"],
            "{c} {filter} as {role}: the same values"
        );
        // CSV: as many rows
        let (s, csv, _) = get_as(
            &f.st,
            &format!(
                "/api/export?collection={c}&format=csv&filter={}",
                enc(filter)
            ),
            role,
        )
        .await;
        assert_eq!(s, 200, "{csv}");
        assert_eq!(
            csv.lines().count() - 1,
            want.len(),
            "{c} {filter} as {role}: {csv}"
        );
    }
    // the same errors as items
    let (_, items_err, _) = get_as(
        &f.st,
        &format!("/collections/stations/items?filter={}", enc("crs ==")),
        Role::Analyst,
    )
    .await;
    let items_err: Value = serde_json::from_str(&items_err).unwrap();
    let (s, b, _) = get_as(
        &f.st,
        &format!("/api/export?collection=stations&filter={}", enc("crs ==")),
        Role::Analyst,
    )
    .await;
    assert_eq!(s, 400, "{b}");
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["message"], items_err["message"]);
    for q in [
        format!("collection=journeys&filter={}", enc("nosuch = 1")),
        "collection=journeys&filter-lang=sql".to_string(),
        "collection=stations&filter-crs=EPSG:9999".to_string(),
        format!(
            "collection=trends&format=csv&filter={}",
            enc("journeys > 1")
        ),
    ] {
        let (s, b, _) = get_as(&f.st, &format!("/api/export?{q}"), Role::Analyst).await;
        assert_eq!(s, 400, "{q}: {b}");
        assert!(b.contains("filter"), "{q}: {b}");
    }
}

#[tokio::test]
async fn conformance_and_openapi_declare_the_queryables_as_parameters_and_the_exports_filter() {
    let st = fresh_state();
    let (_, c) = get(&st, "/conformance").await;
    assert!(c["conformsTo"].as_array().unwrap().iter().any(|x| x
        == "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters"));
    let (s, doc) = get(&st, "/openapi").await;
    assert_eq!(s, 200);
    let params = |path: &str| -> Vec<Value> {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{path}"))
            .clone()
    };
    let find = |ps: &[Value], n: &str| ps.iter().find(|p| p["name"] == n).cloned();
    let j = params("/collections/journeys/items");
    for (n, t) in [
        ("origin_station", "string"),
        ("date", "string"),
        ("distance_m", "number"),
        ("children", "integer"),
        ("urban_to_rural", "boolean"),
    ] {
        let p = find(&j, n).unwrap_or_else(|| panic!("{n}"));
        assert_eq!(p["schema"]["type"], t, "{n}");
    }
    assert!(find(&j, "geometry").is_none());
    // the closed vocabularies are enumerations; each queryable once
    let oc = find(&j, "origin_class").unwrap();
    assert_eq!(
        oc["schema"]["enum"],
        serde_json::json!(["urban", "town", "rural", "unknown"])
    );
    assert_eq!(j.iter().filter(|p| p["name"] == "mode").count(), 1);
    let s = params("/collections/stations/items");
    assert!(find(&s, "name").is_some() && find(&s, "entries_exits_2019_20").is_some());
    let e = params("/api/export");
    for n in ["filter", "filter-lang", "filter-crs"] {
        assert!(find(&e, n).is_some(), "{n}");
    }
    assert!(
        find(&e, "filter-lang").unwrap()["schema"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == "cql-text")
    );
}

// ------------------------------------------------------------------ the spatial test's fast path

/// geo's own predicate on the route's line as it is drawn (`coords`), built whole: what the
/// route test without the line must answer.
fn geo_predicate(route: &linesmap::journey::map::MappedRoute, g: &geo::Geometry<f64>) -> bool {
    use geo::Intersects;
    let c = route.coords(super::common::gb());
    geo::LineString::from(c.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>()).intersects(g)
}

fn line_route(coords: &[[f64; 2]]) -> linesmap::journey::map::MappedRoute {
    use linesmap::journey::map::{MappedRoute, RouteGeometry, RouteMethod};
    let mut bbox = linesmap::geography::Bbox::EMPTY;
    coords.iter().for_each(|p| bbox.extend(*p));
    MappedRoute {
        geometry: RouteGeometry::Line(coords.to_vec()),
        method: RouteMethod::Geodesic,
        distance_m: 0.0,
        stations: vec![],
        forces: vec![],
        bbox,
    }
}

fn rect(b: [f64; 4]) -> geo::Geometry<f64> {
    geo::Geometry::Rect(geo::Rect::new((b[0], b[1]), (b[2], b[3])))
}

fn polygon(outer: &[(f64, f64)], holes: &[&[(f64, f64)]]) -> geo::Geometry<f64> {
    geo::Geometry::Polygon(geo::Polygon::new(
        outer.to_vec().into(),
        holes.iter().map(|h| h.to_vec().into()).collect(),
    ))
}

#[test]
fn the_route_test_without_the_line_answers_as_geos_predicate_on_hand_made_edge_cases() {
    let g = super::common::gb();
    // a line up from (0,0) to (2,2) and down to (4,0): every answer below follows from y = x
    // on the first segment and y = 4 - x on the second, exactly representable
    let up_down = line_route(&[[0.0, 0.0], [2.0, 2.0], [4.0, 0.0]]);
    let cases: Vec<(&str, geo::Geometry<f64>, bool)> = vec![
        (
            "box touching the apex with its corner",
            rect([2.0, 2.0, 3.0, 3.0]),
            true,
        ),
        (
            "box whose lower edge holds the apex",
            rect([1.5, 2.0, 2.5, 3.0]),
            true,
        ),
        (
            "box whose upper corners (1,1) and (3,1) are on the line, no vertex inside",
            rect([1.0, -1.0, 3.0, 1.0]),
            true,
        ),
        (
            "box met only at its corner (1,1)",
            rect([1.0, 0.0, 2.0, 1.0]),
            true,
        ),
        (
            "box the first segment crosses, no vertex inside",
            rect([0.5, 0.0, 1.5, 0.7]),
            true,
        ),
        (
            "box holding the whole route",
            rect([-1.0, -1.0, 5.0, 3.0]),
            true,
        ),
        (
            "box inside the route's envelope, above the first segment",
            rect([0.5, 1.5, 1.0, 3.0]),
            false,
        ),
        (
            "box just off the corner (1,1)",
            rect([1.000001, 0.0, 2.0, 0.999999]),
            false,
        ),
        (
            "box under the apex, between the segments",
            rect([1.5, 0.0, 2.5, 1.4]),
            false,
        ),
        (
            "triangle holding the whole route",
            polygon(&[(-1.0, -1.0), (5.0, -1.0), (2.0, 5.0)], &[]),
            true,
        ),
        (
            "triangle whose vertex is the apex",
            polygon(&[(2.0, 2.0), (3.0, 4.0), (1.0, 4.0)], &[]),
            true,
        ),
        (
            "triangle in the route's envelope between the segments",
            polygon(&[(1.5, 0.0), (2.5, 0.0), (2.0, 1.5)], &[]),
            false,
        ),
        (
            "the route inside a polygon's hole",
            polygon(
                &[(-5.0, -5.0), (9.0, -5.0), (9.0, 9.0), (-5.0, 9.0)],
                &[&[(-1.0, -1.0), (5.0, -1.0), (5.0, 3.0), (-1.0, 3.0)]],
            ),
            false,
        ),
        (
            "a hole the route crosses out of",
            polygon(
                &[(-5.0, -5.0), (9.0, -5.0), (9.0, 9.0), (-5.0, 9.0)],
                &[&[(-1.0, -1.0), (3.0, -1.0), (3.0, 3.0), (-1.0, 3.0)]],
            ),
            true,
        ),
        (
            "the apex as a point",
            geo::Geometry::Point((2.0, 2.0).into()),
            true,
        ),
        (
            "a point beside the line",
            geo::Geometry::Point((2.0, 1.0).into()),
            false,
        ),
        (
            "a line crossing the second segment",
            geo::Geometry::LineString(vec![(3.0, 0.0), (3.0, 5.0)].into()),
            true,
        ),
    ];
    for (name, geom, want) in &cases {
        assert_eq!(geo_predicate(&up_down, geom), *want, "geo: {name}");
        assert_eq!(up_down.intersects_geometry(g, geom), *want, "fast: {name}");
    }

    // rail pieces: a real chain, whole and a slice either way, against boxes built on its own
    // vertices (a box with a vertex on its corner or edge meets the line there)
    let chains = g.rail.chains();
    let (c, chain) = chains
        .iter()
        .enumerate()
        .filter(|(_, ch)| ch.coords.len() >= 12)
        .max_by(|a, b| a.1.length_m().total_cmp(&b.1.length_m()))
        .expect("a long chain");
    let len = chain.length_m();
    let pieces = |from: f64, to: f64| {
        use linesmap::journey::map::{MappedRoute, RouteGeometry, RouteMethod};
        let b = chain.bbox;
        MappedRoute {
            geometry: RouteGeometry::Pieces(vec![(c as u32, from, to)]),
            method: RouteMethod::Rail,
            distance_m: 0.0,
            stations: vec![],
            forces: vec![],
            bbox: b,
        }
    };
    let v = chain.coords[chain.coords.len() / 2];
    let b = chain.bbox;
    let mut n = [0, 0];
    for route in [
        pieces(0.0, len),
        pieces(len, 0.0),
        pieces(0.3 * len, 0.7 * len),
        pieces(0.7 * len, 0.3 * len),
    ] {
        let mut boxes = vec![
            ([v[0], v[1], v[0] + 0.01, v[1] + 0.01], None),
            ([v[0] - 0.01, v[1] - 0.01, v[0], v[1]], None),
            ([v[0] - 0.01, v[1], v[0] + 0.01, v[1] + 0.01], None),
            (
                [
                    b.min_lon - 0.1,
                    b.min_lat - 0.1,
                    b.max_lon + 0.1,
                    b.max_lat + 0.1,
                ],
                Some(true),
            ),
            (
                [
                    b.max_lon + 0.1,
                    b.max_lat + 0.1,
                    b.max_lon + 0.2,
                    b.max_lat + 0.2,
                ],
                Some(false),
            ),
        ];
        // small boxes on a grid over the chain's envelope: some meet the line, some do not
        let (w, h) = (
            (b.max_lon - b.min_lon) / 10.0,
            (b.max_lat - b.min_lat) / 10.0,
        );
        for i in 0..10 {
            for k in 0..10 {
                let (x, y) = (b.min_lon + w * i as f64, b.min_lat + h * k as f64);
                boxes.push(([x, y, x + w / 3.0, y + h / 3.0], None));
            }
        }
        for (bx, want) in boxes {
            let geom = rect(bx);
            let exact = geo_predicate(&route, &geom);
            if let Some(w) = want {
                assert_eq!(exact, w, "geo on {bx:?}");
            }
            assert_eq!(route.intersects_geometry(g, &geom), exact, "box {bx:?}");
            n[usize::from(exact)] += 1;
            // the same box as a polygon goes through the polygon test
            let poly = polygon(
                &[
                    (bx[0], bx[1]),
                    (bx[2], bx[1]),
                    (bx[2], bx[3]),
                    (bx[0], bx[3]),
                ],
                &[],
            );
            assert_eq!(
                route.intersects_geometry(g, &poly),
                geo_predicate(&route, &poly),
                "polygon {bx:?}"
            );
        }
    }
    // the boxes on the chain's own vertices meet it, and the grid has both answers
    assert!(n[0] > 20 && n[1] > 20, "{n:?}");
}

#[test]
fn the_route_test_without_the_line_answers_as_geos_predicate_for_3000_generated_journeys() {
    use rand::{Rng, SeedableRng};
    let st = generated_state(3_000);
    let g = super::common::gb();
    let idx = st.journeys.index();
    let mut rng = rand::rngs::StdRng::seed_from_u64(19);
    let mut geoms = Vec::new();
    for k in 0..48 {
        // about a point of a random journey's route, 2 to 60 km across
        let j = &idx.all()[rng.random_range(0..idx.len())];
        let c = j.route.coords(g);
        let p = c[rng.random_range(0..c.len())];
        let r = rng.random_range(0.01..0.5);
        let (dx, dy) = (rng.random_range(-r..r), rng.random_range(-r..r));
        let (x, y) = (p[0] + dx, p[1] + dy);
        geoms.push(match k % 4 {
            0 | 1 => rect([x - r, y - r * 0.6, x + r, y + r * 0.6]),
            2 => polygon(
                &(0..7)
                    .map(|i| {
                        let a = i as f64 * std::f64::consts::TAU / 7.0;
                        let s = rng.random_range(0.3..1.0) * r;
                        (x + s * a.cos(), y + s * a.sin() * 0.6)
                    })
                    .collect::<Vec<_>>(),
                &[],
            ),
            _ => polygon(
                &[
                    (x - r, y - r),
                    (x + r, y - r),
                    (x + r, y + r),
                    (x - r, y + r),
                ],
                &[&[
                    (x - r / 2.0, y - r / 2.0),
                    (x + r / 2.0, y - r / 2.0),
                    (x + r / 2.0, y + r / 2.0),
                    (x - r / 2.0, y + r / 2.0),
                ]],
            ),
        });
    }
    let mut seen = [0usize; 2];
    for geom in &geoms {
        for j in idx.all() {
            let exact = geo_predicate(&j.route, geom);
            assert_eq!(
                j.route.intersects_geometry(g, geom),
                exact,
                "{} against {geom:?}",
                j.report.report_id
            );
            seen[usize::from(exact)] += 1;
        }
    }
    assert!(seen[0] > 10_000 && seen[1] > 10_000, "{seen:?}");
    // and through the filter (the R-tree's candidates, each route's answer shared): the
    // journeys geo's predicate keeps, in order
    for geom in geoms.iter().take(8) {
        let text = format!(
            "S_INTERSECTS(geometry, {})",
            linesmap::http::cql2::wkt(geom)
        );
        let e = linesmap::http::cql2::parse_text(&text, linesmap::http::crs::Crs::Crs84).unwrap();
        let got =
            linesmap::http::ogc::filtered_journeys(&idx, &st, &Default::default(), &e).unwrap();
        let want: Vec<u32> = (0..idx.len() as u32)
            .filter(|&i| geo_predicate(&idx.at(i).unwrap().route, geom))
            .collect();
        assert_eq!(*got, want, "{text}");
    }
}

/// A journey's JSON properties as a filter row: the generic CQL2 evaluation, with no typed
/// accessor, side-by-side fields or day lists (the independent reading).
struct PropsRow(serde_json::Map<String, Value>);

impl linesmap::http::cql2::Row for PropsRow {
    type Prop = &'static str;
    fn get(&self, p: &'static str) -> linesmap::http::cql2::Val<'_> {
        self.0.get(p).map_or(
            linesmap::http::cql2::Val::Null,
            linesmap::http::cql2::Val::of_json,
        )
    }
    fn envelope(&self) -> Option<geo::Rect<f64>> {
        None
    }
    fn intersects(&self, _: &geo::Geometry<f64>) -> bool {
        false
    }
}

#[test]
fn filters_read_from_the_side_by_side_fields_and_day_lists_select_what_the_properties_pass() {
    let st = generated_state(3_000);
    let g = super::common::gb();
    let idx = st.journeys.index();
    let props: Vec<_> = idx.all().iter().map(|j| j.properties(g)).collect();
    // the exporting force of the first journey that has one, so that one filter names a force
    let force = props
        .iter()
        .find_map(|p| p["exporting_force"].as_str())
        .unwrap()
        .to_string();
    let day = |y: i32, m: u8, d: u8| {
        let date = time::Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), d).unwrap();
        linesmap::journey::map::day_number(date)
    };
    let filters = [
        "mode = 'rail' AND children >= 1".to_string(),
        "mode = 'rail' AND children >= 1 AND date >= '2024-01-01' AND date < DATE('2024-04-01')"
            .into(),
        "'2024-02-01' <= date AND cross_border = TRUE AND 2 < persons".into(),
        "date BETWEEN '2024-01-10' AND '2024-03-05' AND mode IN ('road', 'rail')".into(),
        "date = '2024-02-14' OR date = '2024-02-15'".into(),
        "date > '2024-02-14' AND date <= '2024-02-15'".into(),
        format!("exporting_force = '{force}' AND return_run = FALSE AND persons > 1"),
        "mode <> 'rail' AND urban_to_rural = TRUE AND date <> '2024-03-01'".into(),
        "date > '2023-12-31' AND line_type = 'external' AND children < 2".into(),
        "date >= '2024-03-01' AND date < '2024-02-01'".into(),
    ];
    // with and without the `datetime` bounds of the request (2024-01-15/2024-06-30)
    let bounds = [
        linesmap::journey::index::JourneyFilter::default(),
        linesmap::journey::index::JourneyFilter {
            from_day: Some(day(2024, 1, 15)),
            to_day: Some(day(2024, 6, 30)),
            ..Default::default()
        },
    ];
    let names = linesmap::http::queryables::names("journeys");
    let mut sizes = Vec::new();
    for text in &filters {
        let e = linesmap::http::cql2::parse_text(text, linesmap::http::crs::Crs::Crs84).unwrap();
        let plan = linesmap::http::cql2::compile(&e, |n| names.iter().find(|x| **x == n).copied())
            .unwrap();
        for (k, f) in bounds.iter().enumerate() {
            let want: Vec<u32> = (0..idx.len() as u32)
                .filter(|&i| {
                    let p = &props[i as usize];
                    let date = p["date"].as_str().unwrap();
                    (k == 0 || ("2024-01-15"..="2024-06-30").contains(&date))
                        && plan.selects(&PropsRow(p.clone()))
                })
                .collect();
            st.memos.filtered_journeys.0.clear();
            let got = linesmap::http::ogc::filtered_journeys(&idx, &st, f, &e).unwrap();
            assert_eq!(*got, want, "{text} (bounds {k})");
            sizes.push(want.len());
        }
    }
    // the filters select some journeys and not all (one selects none by its dates)
    assert!(
        sizes.iter().filter(|&&n| n > 0 && n < 3_000).count() >= 15,
        "{sizes:?}"
    );
}

// ------------------------------------------- the route R-tree and the page written to bytes

/// Random shapes about points of random journeys' routes, 2 to 60 km across: boxes, heptagons
/// and boxes with a square hole (as the test above draws them).
fn random_shapes(
    rng: &mut rand::rngs::StdRng,
    idx: &linesmap::journey::index::JourneyIndex,
    n: usize,
) -> Vec<geo::Geometry<f64>> {
    use rand::Rng;
    let g = super::common::gb();
    (0..n)
        .map(|k| {
            let j = &idx.all()[rng.random_range(0..idx.len())];
            let c = j.route.coords(g);
            let p = c[rng.random_range(0..c.len())];
            let r = rng.random_range(0.01..0.5);
            let (x, y) = (
                p[0] + rng.random_range(-r..r),
                p[1] + rng.random_range(-r..r),
            );
            match k % 3 {
                0 => rect([x - r, y - r * 0.6, x + r, y + r * 0.6]),
                1 => polygon(
                    &(0..7)
                        .map(|i| {
                            let a = i as f64 * std::f64::consts::TAU / 7.0;
                            let s = rng.random_range(0.3..1.0) * r;
                            (x + s * a.cos(), y + s * a.sin() * 0.6)
                        })
                        .collect::<Vec<_>>(),
                    &[],
                ),
                _ => {
                    let h = r / 2.0;
                    polygon(
                        &[
                            (x - r, y - r),
                            (x + r, y - r),
                            (x + r, y + r),
                            (x - r, y + r),
                        ],
                        &[&[
                            (x - h, y - h),
                            (x + h, y - h),
                            (x + h, y + h),
                            (x - h, y + h),
                        ]],
                    )
                }
            }
        })
        .collect()
}

/// The journeys a spatial filter selects through the route R-tree, as `filtered_journeys` runs
/// it (each candidate route tested once, shared by its journeys), with an optional `bbox`.
fn through_route_tree(
    idx: &linesmap::journey::index::JourneyIndex,
    geom: &geo::Geometry<f64>,
    bbox: Option<linesmap::geography::Bbox>,
) -> Vec<u32> {
    use geo::BoundingRect;
    let g = super::common::gb();
    let e = geom.bounding_rect().unwrap();
    let envelope = linesmap::geography::Bbox::new(e.min().x, e.min().y, e.max().x, e.max().y).ok();
    let answers = linesmap::http::queryables::RouteAnswers::new(idx);
    let f = linesmap::journey::index::JourneyFilter {
        bbox,
        ..Default::default()
    };
    idx.positions_on_routes(
        g,
        &f,
        envelope,
        |r, v| answers.meets_view(r, v, g, geom),
        |_, h| answers.meets(h.route, g, geom),
    )
}

/// The unindexed answer: every journey in order, geo's predicate on its drawn line (and on the
/// `bbox`, edges included, by Liang–Barsky clipping of each segment).
fn every_journey(
    idx: &linesmap::journey::index::JourneyIndex,
    geom: &geo::Geometry<f64>,
    bbox: Option<linesmap::geography::Bbox>,
) -> Vec<u32> {
    let g = super::common::gb();
    (0..idx.len() as u32)
        .filter(|&i| {
            let route = &idx.at(i).unwrap().route;
            geo_predicate(route, geom)
                && bbox.is_none_or(|b| {
                    let c = route.coords(g);
                    c.windows(2).any(|w| {
                        segment_meets_box(w[0], w[1], [b.min_lon, b.min_lat, b.max_lon, b.max_lat])
                    })
                })
        })
        .collect()
}

#[test]
fn the_route_r_tree_selects_what_geos_predicate_selects_on_hand_made_routes() {
    use linesmap::journey::index::JourneyIndex;
    let g = super::common::gb();
    let st = generated_state(20);
    let base: Vec<_> = st
        .journeys
        .index()
        .all()
        .iter()
        .map(|j| (**j).clone())
        .collect();
    // the box [1, 1, 3, 3] (degrees; line routes need no rail) and routes drawn against it;
    // whether each meets it follows from the coordinates, exactly representable
    let routes: Vec<(&str, Vec<[f64; 2]>, bool)> = vec![
        (
            "touching the left edge with its end",
            vec![[0.0, 2.0], [1.0, 2.0]],
            true,
        ),
        (
            "touching the top edge mid-segment",
            vec![[0.0, 3.0], [4.0, 3.0]],
            true,
        ),
        (
            "through the corner (1, 1) only: y = 2 - x",
            vec![[0.0, 2.0], [2.0, 0.0]],
            true,
        ),
        (
            "cutting the corner with no vertex inside: x + y = 2.5",
            vec![[0.0, 2.5], [2.5, 0.0]],
            true,
        ),
        (
            "wholly inside",
            vec![[1.5, 1.5], [2.5, 2.5], [2.0, 1.2]],
            true,
        ),
        (
            "touching the corner (3, 3) with its end",
            vec![[3.0, 3.0], [3.5, 3.5]],
            true,
        ),
        (
            "envelope overlapping, the line outside: below then right",
            vec![[0.0, 0.5], [3.5, 0.5], [3.5, 4.0]],
            false,
        ),
        (
            "envelope overlapping, short of the corner: x + y = 1.9",
            vec![[0.0, 1.9], [1.9, 0.0]],
            false,
        ),
        (
            "round the box, never in it",
            vec![[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0], [0.0, 0.0]],
            false,
        ),
        ("far off", vec![[10.0, 10.0], [11.0, 11.0]], false),
    ];
    // two journeys on each route (one shared route each), in turn
    let mut list = Vec::new();
    for (k, (_, c, _)) in routes.iter().enumerate() {
        let route = Arc::new(line_route(c));
        for m in 0..2 {
            let mut j = base[2 * k + m].clone();
            j.route = route.clone();
            list.push(j);
        }
    }
    let idx = JourneyIndex::from_journeys(list);
    assert_eq!(idx.routes(), routes.len());
    let _ = g;
    let want: Vec<u32> = routes
        .iter()
        .enumerate()
        .filter(|(_, (_, _, meets))| *meets)
        .flat_map(|(k, _)| [2 * k as u32, 2 * k as u32 + 1])
        .collect();
    let square = [(1.0, 1.0), (3.0, 1.0), (3.0, 3.0), (1.0, 3.0)];
    for geom in [rect([1.0, 1.0, 3.0, 3.0]), polygon(&square, &[])] {
        // the hand answers are geo's, route by route
        for (name, c, meets) in &routes {
            assert_eq!(geo_predicate(&line_route(c), &geom), *meets, "{name}");
        }
        assert_eq!(through_route_tree(&idx, &geom, None), want, "{geom:?}");
        assert_eq!(every_journey(&idx, &geom, None), want);
        // with a `bbox` too: the left half of the box keeps the routes meeting x <= 2 inside it
        let left = linesmap::geography::Bbox::new(1.0, 1.0, 2.0, 3.0).ok();
        let halves = every_journey(&idx, &geom, left);
        assert_eq!(halves, vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9], "{geom:?}");
        assert_eq!(through_route_tree(&idx, &geom, left), halves);
    }
}

#[test]
fn the_route_r_tree_selects_what_every_journey_scanned_selects_through_ingest_rectify_and_erase() {
    use linesmap::journey::index::JourneyIndex;
    use rand::{Rng, SeedableRng};
    let st = generated_state(3_000);
    let all: Vec<_> = st
        .journeys
        .index()
        .all()
        .iter()
        .map(|j| (**j).clone())
        .collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(21);
    // bulk-loaded with 2,000, then 1,000 inserted one by one (the R-tree's incremental path)
    let mut idx = JourneyIndex::from_journeys(all[..2_000].to_vec());
    for j in &all[2_000..] {
        assert!(idx.insert(j.clone()));
    }
    let shapes = random_shapes(&mut rng, &idx, 36);
    let mut seen = [0usize; 2];
    let mut check = |idx: &JourneyIndex, stage: &str, rng: &mut rand::rngs::StdRng| {
        for (k, geom) in shapes.iter().enumerate() {
            // every third shape also with a `bbox` about a random journey's first point
            let bbox = (k % 3 == 2).then(|| {
                let j = &idx.all()[rng.random_range(0..idx.len())];
                let p = j.route.coords(super::common::gb())[0];
                linesmap::geography::Bbox::new(p[0] - 0.3, p[1] - 0.2, p[0] + 0.3, p[1] + 0.2)
                    .unwrap()
            });
            let want = every_journey(idx, geom, bbox);
            assert_eq!(
                through_route_tree(idx, geom, bbox),
                want,
                "{stage}: {geom:?} {bbox:?}"
            );
            seen[usize::from(want.is_empty())] += 1;
        }
    };
    check(&idx, "inserted", &mut rng);
    // rectified: 300 journeys moved onto another journey's route or a copy of one (a new route)
    let subs: Vec<_> = (0..300)
        .map(|k| {
            let mut j = all[rng.random_range(0..3_000)].clone();
            let other = &all[rng.random_range(0..3_000)].route;
            j.route = if k % 2 == 0 {
                other.clone()
            } else {
                Arc::new((**other).clone())
            };
            (j, 2)
        })
        .collect();
    assert!(idx.replace(subs) > 250);
    check(&idx, "rectified", &mut rng);
    // erased: 700 journeys
    let gone: std::collections::HashSet<String> = (0..700)
        .map(|_| all[rng.random_range(0..3_000)].report.report_id.clone())
        .collect();
    assert_eq!(idx.remove(&gone), gone.len());
    check(&idx, "erased", &mut rng);
    // and journeys inserted after the erasure (new routes among them)
    for j in all
        .iter()
        .filter(|j| gone.contains(&j.report.report_id))
        .take(300)
    {
        let mut j = j.clone();
        j.route = Arc::new((*j.route).clone());
        assert!(idx.insert(j));
    }
    check(&idx, "re-inserted", &mut rng);
    // the shapes select some journeys, and not every shape selects none
    assert!(seen[0] > 100, "{seen:?}");
}

#[tokio::test]
async fn a_spatially_filtered_page_holds_the_journeys_geo_selects_in_order_written_as_serde_writes_it()
 {
    use rand::SeedableRng;
    let st = generated_state(3_000);
    let mut rng = rand::rngs::StdRng::seed_from_u64(1921);
    let shapes = {
        let idx = st.journeys.index();
        random_shapes(&mut rng, &idx, 9)
    };
    let crs_names = [
        "",
        "&crs=http://www.opengis.net/def/crs/EPSG/0/4326",
        "&crs=http://www.opengis.net/def/crs/EPSG/0/27700",
    ];
    let mut pages = 0;
    for (k, geom) in shapes.iter().enumerate() {
        let text = format!(
            "S_INTERSECTS(geometry, {})",
            linesmap::http::cql2::wkt(geom)
        );
        let want = {
            let idx = st.journeys.index();
            every_journey(&idx, geom, None)
                .into_iter()
                .map(|i| idx.at(i).unwrap().report.report_id.clone())
                .collect::<Vec<_>>()
        };
        for offset in [0, 40] {
            let path = format!(
                "/collections/journeys/items?limit=40&offset={offset}&filter={}{}",
                enc(&text),
                crs_names[k % 3]
            );
            let r = warp::test::request()
                .path(&path)
                .header("host", "example.test")
                .reply(&routes(st.clone()))
                .await;
            assert_eq!(r.status(), 200, "{path}");
            let v: Value = serde_json::from_slice(r.body()).unwrap();
            assert_eq!(v["numberMatched"], want.len(), "{text}");
            let ids: Vec<String> = v["features"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["id"].as_str().unwrap().to_string())
                .collect();
            let slice: Vec<String> = want.iter().skip(offset).take(40).cloned().collect();
            assert_eq!(ids, slice, "{text} at {offset}");
            // the bytes are serde_json's for the same features and links
            let idx = st.journeys.index();
            let list: Vec<_> = ids.iter().map(|id| idx.get(id).unwrap().clone()).collect();
            let crs = match k % 3 {
                0 => linesmap::http::crs::Crs::Crs84,
                1 => linesmap::http::crs::Crs::Epsg4326,
                _ => linesmap::http::crs::Crs::Epsg27700,
            };
            let features = list
                .iter()
                .map(|j| linesmap::http::journeys::JourneyFeature {
                    state: &st,
                    journey: j,
                    geometry: true,
                    crs,
                    persons: false,
                })
                .collect();
            let links = v["links"].as_array().unwrap().clone();
            let out =
                linesmap::http::journeys::FeatureCollectionOut::new(features, want.len(), links);
            assert_eq!(
                String::from_utf8_lossy(r.body()),
                String::from_utf8(serde_json::to_vec(&out).unwrap()).unwrap(),
                "{path}"
            );
            pages += usize::from(!ids.is_empty());
        }
    }
    assert!(pages >= 6, "{pages}");
}

#[test]
fn a_journeys_page_written_to_bytes_is_serde_jsons_with_shared_routes_persons_and_no_geometry() {
    let st = generated_state(400);
    let idx = st.journeys.index();
    // journeys in an order that repeats routes: every journey, then the first 50 again
    let list: Vec<_> = idx
        .all()
        .iter()
        .chain(idx.all().iter().take(50))
        .cloned()
        .collect();
    let shared = {
        let mut seen = std::collections::HashSet::new();
        list.iter()
            .filter(|j| !seen.insert(Arc::as_ptr(&j.route)))
            .count()
    };
    assert!(shared >= 50, "{shared}");
    for crs in [
        linesmap::http::crs::Crs::Crs84,
        linesmap::http::crs::Crs::Epsg4326,
        linesmap::http::crs::Crs::Epsg27700,
    ] {
        for (geometry, persons, untimed) in [
            (true, false, None),
            (true, true, Some(7)),
            (false, false, None),
        ] {
            let features = list
                .iter()
                .map(|j| linesmap::http::journeys::JourneyFeature {
                    state: &st,
                    journey: j,
                    geometry,
                    crs,
                    persons,
                })
                .collect();
            let links = vec![serde_json::json!({"rel": "next", "href": "/x?a=\"b\"&offset=2"})];
            let mut out =
                linesmap::http::journeys::FeatureCollectionOut::new(features, 1234, links);
            out.untimed_excluded = untimed;
            assert!(
                out.to_bytes() == serde_json::to_vec(&out).unwrap(),
                "{crs:?} geometry {geometry} persons {persons}"
            );
        }
    }
}

#[test]
fn a_route_written_from_the_chains_text_is_its_coords_written_one_by_one() {
    use linesmap::geography::Bbox;
    use linesmap::journey::map::{MappedRoute, RouteGeometry, RouteMethod};
    use rand::{Rng, SeedableRng};
    let geo = super::common::gb();
    let chains = geo.rail.chains();
    let text = linesmap::http::coords::ChainText::build(&geo.rail);
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    // an offset along chain `c`: an end, a vertex, a point between, or just beside a vertex
    let offset = |rng: &mut rand::rngs::StdRng, c: usize| {
        let cum = &chains[c].cum;
        let len = chains[c].length_m();
        match rng.random_range(0..5) {
            0 => 0.0,
            1 => len,
            2 => cum[rng.random_range(0..cum.len())],
            3 => (cum[rng.random_range(0..cum.len())] + rng.random_range(-1e-9..1e-9))
                .clamp(0.0, len),
            _ => rng.random_range(0.0..=len),
        }
    };
    let mut long = 0;
    for case in 0..20_000 {
        let n = rng.random_range(0..5);
        let mut pieces: Vec<linesmap::geography::rail::Piece> = Vec::new();
        for k in 0..n {
            // a piece on a new chain, or on the last one from where it ended (so that points
            // repeat at the joins), or a single point
            let c = match pieces.last() {
                Some(&(c, ..)) if k > 0 && rng.random_bool(0.3) => c as usize,
                _ => rng.random_range(0..chains.len()),
            };
            let from = match pieces.last() {
                Some(&(pc, _, to)) if pc as usize == c => to,
                _ => offset(&mut rng, c),
            };
            let to = if rng.random_bool(0.1) {
                from
            } else {
                offset(&mut rng, c)
            };
            pieces.push((c as u32, from, to));
        }
        let route = MappedRoute {
            geometry: RouteGeometry::Pieces(pieces.clone()),
            method: RouteMethod::Rail,
            distance_m: 0.0,
            stations: Vec::new(),
            forces: Vec::new(),
            bbox: Bbox {
                min_lon: 0.0,
                min_lat: 0.0,
                max_lon: 0.0,
                max_lat: 0.0,
            },
        };
        let coords = route.coords(geo);
        long += usize::from(coords.len() > 10);
        let mut want = b"prefix".to_vec();
        linesmap::http::coords::write_positions(
            &mut want,
            &coords,
            linesmap::http::crs::Crs::Crs84,
        );
        let mut got = b"prefix".to_vec();
        assert!(text.write_route(&mut got, &geo.rail, &pieces), "{pieces:?}");
        assert_eq!(
            String::from_utf8(got).unwrap(),
            String::from_utf8(want).unwrap(),
            "case {case}: {pieces:?}"
        );
    }
    assert!(long > 5_000, "{long}");
}

#[test]
fn a_journeys_typed_row_is_written_as_its_properties_object() {
    let st = generated_state(3_000);
    let geo = st.journeys.geography();
    let idx = st.journeys.index();
    let (mut lines, mut snapped, mut crossing) = (0, 0, 0);
    for j in idx.all() {
        let mut want = j.properties(geo);
        let mut row = j.row(geo);
        assert_eq!(
            serde_json::to_string(&row).unwrap(),
            serde_json::to_string(&want).unwrap()
        );
        // with the persons' summary an analyst may see
        let summary = serde_json::json!([{"pseudonym": "p-1", "age_band": "15-17"}]);
        want.insert("persons_summary".into(), summary.clone());
        row.persons_summary = Some(summary);
        assert_eq!(
            serde_json::to_string(&row).unwrap(),
            serde_json::to_string(&want).unwrap()
        );
        lines += usize::from(j.report.line.is_some());
        snapped += usize::from(j.origin.snapped_m.is_some());
        crossing += usize::from(j.route.forces.len() > 1);
    }
    // the journeys hold the optional parts
    assert!(
        lines > 100 && snapped > 100 && crossing > 100,
        "{lines} {snapped} {crossing}"
    );
}
