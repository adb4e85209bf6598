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
