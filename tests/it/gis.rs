//! A real GIS client reads the layers: GDAL's OAPIF driver (the one QGIS uses), installed by
//! `scripts/setup --test` from Debian's gdal-bin.

use super::common::start_server;
use serde_json::Value;
use std::process::Command;

/// Runs a GDAL tool signed in with `token` (GDAL_HTTP_HEADERS, GDAL 3.6+).
fn ogr(token: &str, args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .env(
            "GDAL_HTTP_HEADERS",
            format!("Authorization: Bearer {token}"),
        )
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{} not runnable ({e}): run scripts/setup --test to install gdal-bin",
                args[0]
            )
        });
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn number_matched(addr: &str, token: &str, query: &str) -> u64 {
    let body = super::cli::http_get_body(addr, token, query);
    let v: Value = serde_json::from_str(&body).unwrap();
    v["numberMatched"].as_u64().unwrap()
}

#[test]
fn gdal_lists_and_downloads_every_collection() {
    let dir = std::env::temp_dir().join(format!("linesmap-gdal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("s.sqlite");
    let (child, addr, token) = start_server(&store, &["--demo-reports", "300"]);
    let _stop = super::common::StopOnDrop(child);
    let url = format!("OAPIF:http://{addr}");
    let info = ogr(&token, &["ogrinfo", "-ro", "-so", &url]);
    for layer in [
        "1: stations",
        "2: forces",
        "3: rail",
        "4: journeys",
        "5: hotspots",
        "6: flows",
    ] {
        assert!(info.contains(layer), "{info}");
    }
    let cases: [(&str, &[&str], &str); 6] = [
        (
            "stations",
            &["-spat", "-1.5", "50", "1.5", "53"],
            "/collections/stations/items?bbox=-1.5,50,1.5,53&limit=1",
        ),
        ("forces", &[], "/collections/forces/items?limit=1"),
        ("journeys", &[], "/collections/journeys/items?limit=1"),
        (
            "rail",
            &["-spat", "-3.1", "53.3", "-2.8", "53.5"],
            "/collections/rail/items?bbox=-3.1,53.3,-2.8,53.5&limit=1",
        ),
        ("hotspots", &[], "/collections/hotspots/items?limit=1"),
        ("flows", &[], "/collections/flows/items?limit=1"),
    ];
    for (layer, extra, query) in cases {
        let out = dir.join(format!("{layer}.geojson"));
        let _ = std::fs::remove_file(&out);
        let mut args = vec![
            "ogr2ogr",
            "-f",
            "GeoJSON",
            out.to_str().unwrap(),
            &url,
            layer,
        ];
        args.extend_from_slice(extra);
        ogr(&token, &args);
        let got: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        let n = got["features"].as_array().unwrap().len() as u64;
        assert_eq!(n, number_matched(&addr, &token, query), "{layer}");
        assert!(n > 0, "{layer}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs a GDAL tool with its HTTP debug log on; (stdout, stderr).
fn ogr_debug(token: &str, args: &[&str]) -> (String, String) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .env(
            "GDAL_HTTP_HEADERS",
            format!("Authorization: Bearer {token}"),
        )
        .env("CPL_DEBUG", "ON")
        .output()
        .expect("GDAL runs (scripts/setup --test installs gdal-bin)");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?}: {err}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), err)
}

#[test]
fn gdal_pushes_a_where_clause_to_the_server_as_a_cql_filter_and_gets_exactly_its_count() {
    let dir = std::env::temp_dir().join(format!("linesmap-gdal-where-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("s.sqlite");
    let (child, addr, token) = start_server(&store, &["--demo-reports", "300"]);
    let _stop = super::common::StopOnDrop(child);
    let url = format!("OAPIF:http://{addr}");
    let enc = |s: &str| -> String { form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    // GDAL 3.6 (Debian 12) pushes a comparison only on a property that the OpenAPI document
    // lists as a query parameter of the items (it reads no /queryables); newer GDAL reads the
    // queryables too
    let cases = [
        ("journeys", "mode = 'rail' AND persons >= 2"),
        ("stations", "force = 'E23000001'"),
        ("flows", "origin_force <> 'E23000001'"),
    ];
    for (layer, filter) in cases {
        let out = dir.join(format!("{layer}.geojson"));
        let _ = std::fs::remove_file(&out);
        let (_, log) = ogr_debug(
            &token,
            &[
                "ogr2ogr",
                "-f",
                "GeoJSON",
                out.to_str().unwrap(),
                &url,
                layer,
                "-where",
                filter,
            ],
        );
        // GDAL sent the filter (its own log of what it fetched) rather than filtering locally
        assert!(
            log.lines().any(|l| l.contains("Fetch(")
                && l.contains(&format!("/collections/{layer}/items"))
                && l.contains("filter=")),
            "{layer}: GDAL did not push the filter: {log}"
        );
        let got: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        let n = got["features"].as_array().unwrap().len() as u64;
        let want = number_matched(
            &addr,
            &token,
            &format!("/collections/{layer}/items?limit=1&filter={}", enc(filter)),
        );
        assert_eq!(n, want, "{layer} where {filter}");
        assert!(n > 0, "{layer} where {filter}");
    }
    // and the server saw it: journey reads are audited with their query strings
    let audit = std::fs::read_to_string(store.with_extension("sqlite.audit.ndjson")).unwrap();
    assert!(
        audit.lines().any(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["path"] == "/collections/journeys/items"
                && v["query"]
                    .as_str()
                    .is_some_and(|q| q.contains("filter=") && q.contains("filter-lang=cql-text"))
        }),
        "no filtered journey read in the audit log"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The bytes of a GET over a real socket (a vector tile is binary).
fn get_bytes(addr: &str, token: &str, path: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let end = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&out[..end]).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!head.contains("transfer-encoding: chunked"), "{head}");
    out[end + 4..].to_vec()
}

/// Web Mercator (EPSG:3857) from longitude and latitude, the spherical formulas.
fn mercator(lon: f64, lat: f64) -> (f64, f64) {
    const R: f64 = 6_378_137.0;
    (
        R * lon.to_radians(),
        R * (std::f64::consts::FRAC_PI_4 + lat.to_radians() / 2.0)
            .tan()
            .ln(),
    )
}

#[test]
fn gdal_reads_the_journeys_tiles_and_their_journeys_sum_to_the_items_matched() {
    // Our MVT writer is our own code (src/layers/mvt.rs): GDAL's MVT driver, an independent
    // decoder, reads the tiles. At zoom 0 every journey is in the one tile (300 journeys are far
    // below the size cap), so the journeys on its features sum to numberMatched, filter or not;
    // at zoom 5 the routes drawn alike are one feature with the same id in each tile they cross,
    // so the sum over distinct ids is numberMatched too.
    let dir = std::env::temp_dir().join(format!("linesmap-gdal-mvt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("s.sqlite");
    let (child, addr, token) = start_server(&store, &["--demo-reports", "300"]);
    let _stop = super::common::StopOnDrop(child);
    // GB's extent (the journeys collection's, in degrees) in Web Mercator, widened by two
    // units of a zoom-0 tile's 4096 (9.8 km each) for quantisation
    let (x0, y0) = mercator(-8.650007, 49.8823405149758);
    let (x1, y1) = mercator(1.76357118981522, 60.849759);
    let slack = 2.0 * 2.0 * 20_037_508.342789244 / 4096.0;
    let read = |z: u32, x: u32, y: u32, query: &str| -> Vec<Value> {
        let path = format!("/collections/journeys/tiles/WebMercatorQuad/{z}/{x}/{y}{query}");
        let file = dir.join(format!("{z}-{x}-{y}.mvt"));
        std::fs::write(&file, get_bytes(&addr, &token, &path)).unwrap();
        let out = dir.join(format!("{z}-{x}-{y}.json"));
        let _ = std::fs::remove_file(&out);
        let src = format!("MVT:{}", file.display());
        let (zs, xs, ys) = (format!("Z={z}"), format!("X={x}"), format!("Y={y}"));
        ogr(
            &token,
            &[
                "ogr2ogr",
                "-f",
                "GeoJSON",
                out.to_str().unwrap(),
                &src,
                "-oo",
                &zs,
                "-oo",
                &xs,
                "-oo",
                &ys,
            ],
        );
        let got: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        got["features"].as_array().cloned().unwrap_or_default()
    };
    for (query, items) in [
        ("", "/collections/journeys/items?limit=1"),
        (
            "?mode=rail",
            "/collections/journeys/items?limit=1&mode=rail",
        ),
        (
            "?age_band=15-17&from=2024-01-01",
            "/collections/journeys/items?limit=1&age_band=15-17&datetime=2024-01-01T00:00:00Z/..",
        ),
    ] {
        let expected = number_matched(&addr, &token, items);
        assert!(expected > 0, "{items}");
        let features = read(0, 0, 0, query);
        let sum: u64 = features
            .iter()
            .map(|f| f["properties"]["journeys"].as_u64().unwrap())
            .sum();
        assert_eq!(sum, expected, "zoom 0 {query}");
        for f in &features {
            let g = &f["geometry"];
            let lines: Vec<&Value> = match g["type"].as_str().unwrap() {
                "LineString" => vec![&g["coordinates"]],
                "MultiLineString" => g["coordinates"].as_array().unwrap().iter().collect(),
                other => panic!("a journeys feature is a {other}"),
            };
            for p in lines.iter().flat_map(|l| l.as_array().unwrap()) {
                let (x, y) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
                assert!(
                    x > x0 - slack && x < x1 + slack && y > y0 - slack && y < y1 + slack,
                    "({x}, {y}) is outside GB"
                );
            }
        }
        // zoom 5: GB is columns 15 and 16, rows 9 and 10 (x = (lon + 180) / 360 × 32, y from
        // asinh(tan lat)); one tile more each way
        let mut by_id = std::collections::BTreeMap::new();
        for x in 14..=16 {
            for y in 9..=11 {
                for f in read(5, x, y, query) {
                    let id = f["properties"]["mvt_id"].as_u64().unwrap();
                    let n = f["properties"]["journeys"].as_u64().unwrap();
                    // the same id carries the same count in every tile it crosses
                    assert_eq!(*by_id.entry(id).or_insert(n), n, "feature {id}");
                }
            }
        }
        assert_eq!(by_id.values().sum::<u64>(), expected, "zoom 5 {query}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
