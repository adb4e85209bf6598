//! The loaders on the real files: the GB-scale synthetic PBF, a real OSM extract, the track
//! GeoJSON, and malformed files.

use super::common::{data_dir, gb, rutland_pbf};
use linesmap::config::{DataPaths, load_geography};
use linesmap::geography::{Geography, GeographyOptions};
use linesmap::load;
use std::path::Path;

#[test]
fn the_track_geojson_loads_with_its_documented_size() {
    let net = load::read_tracks_geojson(&data_dir().join("rail_tracks.geojson")).unwrap();
    // the data README: 1,125 MultiLineStrings, 209,917 vertices before shared ones are merged;
    // shared vertices counted once: 207,934 (networkx, tests/independent/reference.json)
    assert_eq!(net.nodes.len(), 207_934);
    let g = gb();
    // 15,888 route-km per the README; networkx with pyproj geodesics: 15,921.7 km
    assert!(
        (g.rail.length_m() / 1000.0 - 15_921.7).abs() < 2.0,
        "{}",
        g.rail.length_m()
    );
}

#[test]
fn the_gb_pbf_loads_stations_and_track() {
    let pbf = data_dir().join("gb_rail.osm.pbf");
    let stations = load::read_stations_pbf(&pbf).unwrap();
    assert_eq!(stations.len(), 2568);
    assert!(
        stations
            .iter()
            .all(|s| !s.code.as_str().starts_with("osm:")),
        "all carry ref:crs"
    );
    let net = load::read_rail_pbf(&pbf).unwrap();
    assert_eq!(net.ways.len(), 1125);
    // the PBF was built from the track GeoJSON with shared junction node ids: same vertex count
    // as the GeoJSON's shared-coordinate vertices
    let via_geojson = load::read_tracks_geojson(&data_dir().join("rail_tracks.geojson")).unwrap();
    assert_eq!(net.nodes.len(), via_geojson.nodes.len());
}

#[test]
fn a_geography_built_from_the_pbf_routes_like_the_geojson_one() {
    let dir = data_dir();
    let paths = DataPaths::resolve(
        Some(&dir),
        None,
        Some(&dir.join("gb_rail.osm.pbf")),
        Some(&dir.join("gb_rail.osm.pbf")),
    )
    .unwrap();
    let (pbf_geo, _) = load_geography(&paths, GeographyOptions::default()).unwrap();
    let route = |g: &Geography, a: &str, b: &str| {
        let ia = super::common::station(g, a);
        let ib = super::common::station(g, b);
        g.route(&[ia, ib]).unwrap().0.distance_m
    };
    let a = route(&pbf_geo, "LIV", "BPN");
    let b = route(gb(), "LIV", "BPN");
    assert!((a - b).abs() < 1.0, "{a} vs {b}");
}

#[test]
fn the_real_rutland_extract_loads_oakham_without_a_crs() {
    let pbf = rutland_pbf();
    let stations = load::read_stations_pbf(&pbf).unwrap();
    // the data README: one railway=station (Oakham), no ref:crs tag
    assert_eq!(stations.len(), 1);
    assert_eq!(stations[0].name, "Oakham");
    assert!(stations[0].code.as_str().starts_with("osm:"));
    let net = load::read_rail_pbf(&pbf).unwrap();
    assert!(
        !net.ways.is_empty() && net.ways.len() <= 99,
        "{} ways",
        net.ways.len()
    );
    // Oakham station is on the Syston–Peterborough line: the track is a few metres away
    let forces = load::read_forces(&data_dir().join("forces.geojson")).unwrap();
    let geo = Geography::build(forces, stations, &net, GeographyOptions::default());
    let a = geo.rail.attachment(0).unwrap();
    assert!(
        a.distance_m < 50.0,
        "Oakham is {} m from the track",
        a.distance_m
    );
    let f = geo.station_force(0).unwrap();
    // Rutland is policed by Leicestershire
    assert_eq!(geo.forces.get(f.force).code.as_str(), "E23000021");
}

fn write_tmp(name: &str, body: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("linesmap-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

#[test]
fn malformed_files_give_errors_naming_file_and_place() {
    let p = write_tmp(
        "bad.geojson",
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"E23000001"},"geometry":{"type":"LineString","coordinates":[[0,51],[1,51]]}}]}"#,
    );
    let e = load::read_forces(&p).unwrap_err().to_string();
    assert!(
        e.contains("bad.geojson: feature 0") && e.contains("expected Polygon"),
        "{e}"
    );
    let p = write_tmp(
        "bad.csv",
        "crs,name,lat,lon\nEUS,Euston,51.5,-0.13\nKGX,King's Cross,fifty,-0.12\n",
    );
    let e = load::read_stations(&p).unwrap_err().to_string();
    assert!(
        e.contains("bad.csv: line 3") && e.contains("lat \"fifty\""),
        "{e}"
    );
    let p = write_tmp("bad.osm.pbf", "this is not a protobuf");
    let e = load::read_rail(&p).unwrap_err().to_string();
    assert!(
        e.contains("bad.osm.pbf") && e.contains("not a readable OSM PBF"),
        "{e}"
    );
    let e = load::read_rail(Path::new("/nonexistent/rail.geojson"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/rail.geojson: cannot read"), "{e}");
    let p = write_tmp("rail.txt", "");
    let e = load::read_rail(&p).unwrap_err().to_string();
    assert!(e.contains("must be a .geojson or .osm.pbf"), "{e}");
}
