//! Answers on the real GB data compared with independent computations (shapely, pyproj and
//! networkx; see tests/independent/reference.py and its README).

use super::common::{force_code, gb, reference, station};
use linesmap::geography::{LocateMethod, StationCode};
use serde_json::Value;

#[test]
fn euston_is_in_the_met_and_liverpool_street_in_the_city_of_london() {
    let g = gb();
    let f = |crs| {
        g.station_force(station(g, crs))
            .map(|h| force_code(g, h.force).to_string())
    };
    assert_eq!(f("EUS").as_deref(), Some("E23000001"));
    assert_eq!(f("LST").as_deref(), Some("E23000034"));
    assert_eq!(f("LIV").as_deref(), Some("E23000004"));
    assert_eq!(f("BPN").as_deref(), Some("E23000003"));
}

#[test]
fn every_station_is_in_the_same_force_as_shapely_says() {
    let g = gb();
    let want = reference()["station_forces"].as_object().unwrap();
    assert_eq!(want.len(), g.stations.len());
    let mut checked = 0;
    for (crs, code) in want {
        let i = station(g, crs);
        let hit = g
            .station_force(i)
            .expect("every GB station resolves to a force");
        match code.as_str() {
            Some(c) => {
                assert_eq!(force_code(g, hit.force), c, "{crs}");
                assert_eq!(hit.method, LocateMethod::PointInPolygon, "{crs}");
            }
            None => assert_eq!(hit.method, LocateMethod::NearestWithinTolerance, "{crs}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 2568);
}

#[test]
fn a_pier_station_resolves_to_the_nearest_force_within_tolerance() {
    let g = gb();
    let outside = reference()["outside_stations"].as_array().unwrap();
    assert_eq!(outside.len(), 29);
    for o in outside {
        let crs = o["crs"].as_str().unwrap();
        let hit = g.station_force(station(g, crs)).unwrap();
        assert_eq!(hit.method, LocateMethod::NearestWithinTolerance, "{crs}");
        assert_eq!(
            force_code(g, hit.force),
            o["nearest_force"].as_str().unwrap(),
            "{crs}"
        );
        let d = o["distance_m"].as_f64().unwrap();
        assert!(
            (hit.distance_m - d).abs() < 0.5,
            "{crs}: {} vs {d}",
            hit.distance_m
        );
    }
    // Ryde Pier Head stands 636 m out in the Solent: Hampshire by tolerance
    let ryp = g.station_force(station(g, "RYP")).unwrap();
    assert_eq!(force_code(g, ryp.force), "E23000030");
    assert!((ryp.distance_m - 636.0).abs() < 1.0);
}

#[test]
fn random_points_get_the_independent_force_and_three_nearest_stations() {
    let g = gb();
    for p in reference()["points"].as_array().unwrap() {
        let xy = [p["lon"].as_f64().unwrap(), p["lat"].as_f64().unwrap()];
        let exact = match g.forces.locate_exact(xy) {
            linesmap::geography::Located::Inside(f) => Some(force_code(g, f).to_string()),
            _ => None,
        };
        assert_eq!(exact.as_deref(), p["force"].as_str(), "force at {xy:?}");
        let near = g.stations.k_nearest(xy, 3);
        for (got, want) in near.iter().zip(p["nearest"].as_array().unwrap()) {
            assert_eq!(
                g.stations.get(got.station).code.as_str(),
                want["crs"].as_str().unwrap(),
                "at {xy:?}"
            );
            let d = want["distance_m"].as_f64().unwrap();
            assert!(
                (got.distance_m - d).abs() < 0.01,
                "{} vs {d}",
                got.distance_m
            );
        }
        let one = g.stations.nearest(xy).unwrap();
        assert_eq!(one.station, near[0].station);
        assert!(
            (one.distance_m - near[0].distance_m).abs() <= near[0].distance_m * 2e-5,
            "{} vs {}",
            one.distance_m,
            near[0].distance_m
        );
    }
}

#[test]
fn nearest_station_is_the_truly_nearer_one_where_degrees_mislead() {
    let g = gb();
    let cases = reference()["tricky_nearest"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for c in cases {
        let xy = [c["lon"].as_f64().unwrap(), c["lat"].as_f64().unwrap()];
        let want = c["geodesic_winner"].as_str().unwrap();
        assert_ne!(want, c["naive_winner"].as_str().unwrap());
        let n = g.stations.nearest(xy).unwrap();
        assert_eq!(g.stations.get(n.station).code.as_str(), want, "at {xy:?}");
        let k = g.stations.k_nearest(xy, 1);
        assert_eq!(g.stations.get(k[0].station).code.as_str(), want);
        assert!((k[0].distance_m - c["geodesic_winner_m"].as_f64().unwrap()).abs() < 0.01);
    }
}

fn code_list(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn routes_match_an_independent_shortest_path_on_the_track() {
    let g = gb();
    for r in reference()["routes"].as_array().unwrap() {
        let (from, to) = (r["from"].as_str().unwrap(), r["to"].as_str().unwrap());
        let (route, spans) = g.route(&[station(g, from), station(g, to)]).unwrap();
        let want = r["distance_m"].as_f64().unwrap();
        // networkx measured each edge with pyproj's geodesic; allow 0.05 %
        assert!(
            (route.distance_m - want).abs() <= want * 5e-4,
            "{from}->{to}: {} vs {want}",
            route.distance_m
        );
        let got: Vec<String> = spans
            .iter()
            .map(|s| force_code(g, s.force).to_string())
            .collect();
        assert_eq!(
            got,
            code_list(&r["forces_merged_ignoring_null"]),
            "{from}->{to} forces"
        );
        // each force's share within 300 m, plus whatever the reference left outside every polygon
        // (which the tolerance fallback gives to the nearest force here)
        let slack = 300.0 + r["length_outside_all_polygons_m"].as_f64().unwrap();
        for (s, w) in spans
            .iter()
            .zip(r["forces_merged_ignoring_null"].as_array().unwrap())
        {
            let wd = w["distance_m"].as_f64().unwrap();
            assert!(
                (s.distance_m - wd).abs() <= slack,
                "{from}->{to} {}: {} vs {wd}",
                w["code"],
                s.distance_m
            );
        }
        assert_eq!(route.stations.first(), Some(&station(g, from)));
        assert_eq!(route.stations.last(), Some(&station(g, to)));
    }
}

#[test]
fn liverpool_lime_street_to_blackpool_north_crosses_merseyside_then_lancashire() {
    let g = gb();
    let (route, spans) = g.route(&[station(g, "LIV"), station(g, "BPN")]).unwrap();
    let codes: Vec<&str> = spans.iter().map(|s| force_code(g, s.force)).collect();
    assert_eq!(codes, ["E23000004", "E23000003"]);
    // the route passes Preston (PRE), and the total is the sum of the forces' shares
    assert!(route.stations.contains(&station(g, "PRE")));
    let sum: f64 = spans.iter().map(|s| s.distance_m).sum();
    assert!((sum - route.distance_m).abs() < 1.0);
}

#[test]
fn a_route_via_a_station_passes_it_in_order() {
    let g = gb();
    let (eus, crewe, liv) = (station(g, "EUS"), station(g, "CRE"), station(g, "LIV"));
    let (direct, _) = g.route(&[eus, liv]).unwrap();
    let (via, _) = g.route(&[eus, crewe, liv]).unwrap();
    let pos = |s| via.stations.iter().position(|&x| x == s).unwrap();
    assert!(pos(eus) < pos(crewe) && pos(crewe) < pos(liv));
    assert!(via.distance_m >= direct.distance_m - 1.0);
}

#[test]
fn the_isle_of_wight_is_not_reachable_by_rail() {
    let g = gb();
    let e = g
        .route(&[station(g, "RYD"), station(g, "EUS")])
        .unwrap_err();
    assert!(matches!(
        e,
        linesmap::geography::RouteError::Disconnected(_, _)
    ));
    assert!(StationCode::parse("RYD").is_ok());
}
