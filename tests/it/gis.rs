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
    // the server goes down with the test, pass or fail
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _stop = Stop(child);
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
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _stop = Stop(child);
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
