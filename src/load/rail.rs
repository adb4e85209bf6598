//! The rail network from track GeoJSON or an OpenStreetMap PBF.
//!
//! GeoJSON: LineString / MultiLineString features in WGS84; lines are connected where they share
//! a vertex with exactly equal coordinates. Features with a null geometry are skipped.
//!
//! PBF: ways tagged `railway=rail`, the running lines of the heavy-rail network. Left out, with
//! the reasons:
//! - other `railway=*` values: lifecycle states (`abandoned`, `disused`, `dismantled`, `razed`,
//!   `proposed`, `construction`), heritage lines (`preserved`), and other systems (`light_rail`,
//!   `subway`, `tram`, `narrow_gauge`, `miniature`, `funicular`, `monorail`);
//! - `railway=rail` ways that are closed or not for passengers: lifecycle tags `disused=yes`,
//!   `abandoned=yes`, `railway:preserved=yes`; `usage=tourism|military|test`;
//!   `service=yard|siding|spur` (sidings and yards are dead ends that would only attach stations to
//!   the wrong track). Crossovers (`service=crossover`) are kept: they join parallel lines.
//!   `usage=main|branch|industrial` and untagged usage are kept (freight-only links are real track).

use super::{LoadError, check_lonlat};
use crate::geography::TrackNetwork;
use geojson::{GeoJson, GeometryValue};
use osmpbf::{Element, IndexedReader};
use std::collections::HashMap;
use std::path::Path;

/// Which OSM ways count as running track; see the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct RailFilter;

impl RailFilter {
    pub fn accepts<'a>(&self, tags: impl Iterator<Item = (&'a str, &'a str)>) -> bool {
        let mut rail = false;
        for (k, v) in tags {
            match (k, v) {
                ("railway", "rail") => rail = true,
                ("railway", _) => return false,
                ("disused" | "abandoned" | "railway:preserved", "yes") => return false,
                ("usage", "tourism" | "military" | "test") => return false,
                ("service", "yard" | "siding" | "spur") => return false,
                _ => {}
            }
        }
        rail
    }
}

/// Reads a rail network from `.geojson` or `.osm.pbf`, chosen by the file name.
pub fn read_rail(path: &Path) -> Result<TrackNetwork, LoadError> {
    match super::FileKind::of(path) {
        Some(super::FileKind::Pbf) => read_rail_pbf(path),
        Some(super::FileKind::GeoJson) => read_tracks_geojson(path),
        _ => Err(LoadError::Invalid {
            path: path.into(),
            message: "the rail network must be a .geojson or .osm.pbf file".into(),
        }),
    }
}

pub fn read_tracks_geojson(path: &Path) -> Result<TrackNetwork, LoadError> {
    parse_tracks_geojson(&super::read_to_string(path)?, path)
}

/// Parses track GeoJSON text; `path` is used in error messages.
pub fn parse_tracks_geojson(text: &str, path: &Path) -> Result<TrackNetwork, LoadError> {
    let gj: GeoJson = text
        .parse()
        .map_err(|e: geojson::Error| LoadError::GeoJson {
            path: path.into(),
            message: e.to_string(),
        })?;
    let features = match gj {
        GeoJson::FeatureCollection(fc) => fc.features,
        GeoJson::Feature(f) => vec![f],
        GeoJson::Geometry(g) => vec![geojson::Feature {
            geometry: Some(g),
            ..Default::default()
        }],
    };
    let mut net = TrackNetwork::default();
    let mut ids: HashMap<(u64, u64), u32> = HashMap::new();
    for (index, f) in features.into_iter().enumerate() {
        let err = |message: String| LoadError::Feature {
            path: path.into(),
            index,
            message,
        };
        let Some(g) = f.geometry else { continue };
        let lines = match g.value {
            GeometryValue::LineString { coordinates } => vec![coordinates],
            GeometryValue::MultiLineString { coordinates } => coordinates,
            other => {
                return Err(err(format!(
                    "geometry is {}, expected LineString or MultiLineString",
                    other.type_name()
                )));
            }
        };
        for (li, line) in lines.into_iter().enumerate() {
            let mut way = Vec::with_capacity(line.len());
            for pos in &line {
                let p = check_lonlat(pos.as_slice()).map_err(|m| err(format!("line {li}: {m}")))?;
                let key = (p[0].to_bits(), p[1].to_bits());
                let id = *ids.entry(key).or_insert_with(|| {
                    net.nodes.push(p);
                    (net.nodes.len() - 1) as u32
                });
                way.push(id);
            }
            if way.len() >= 2 {
                net.ways.push(way);
            }
        }
    }
    if net.ways.is_empty() {
        return Err(LoadError::Invalid {
            path: path.into(),
            message: "no track lines in the file".into(),
        });
    }
    Ok(net)
}

/// Reads `railway=rail` ways (see [`RailFilter`]) and their nodes from an OSM PBF file.
pub fn read_rail_pbf(path: &Path) -> Result<TrackNetwork, LoadError> {
    let pbf_err = |e: osmpbf::Error| LoadError::Pbf {
        path: path.into(),
        message: e.to_string(),
    };
    let mut reader = IndexedReader::from_path(path).map_err(|e| match e.kind() {
        osmpbf::ErrorKind::Io(io) => LoadError::Io {
            path: path.into(),
            source: std::io::Error::new(io.kind(), io.to_string()),
        },
        _ => pbf_err(e),
    })?;
    let filter = RailFilter;
    let mut ways: Vec<(i64, Vec<i64>)> = Vec::new();
    let mut coords: HashMap<i64, [f64; 2]> = HashMap::new();
    reader
        .read_ways_and_deps(
            |w| filter.accepts(w.tags()),
            |el| match el {
                Element::Way(w) => ways.push((w.id(), w.refs().collect())),
                Element::Node(n) => {
                    coords.insert(n.id(), [n.lon(), n.lat()]);
                }
                Element::DenseNode(n) => {
                    coords.insert(n.id(), [n.lon(), n.lat()]);
                }
                Element::Relation(_) => {}
            },
        )
        .map_err(pbf_err)?;
    ways.sort_by_key(|w| w.0);
    let mut net = TrackNetwork::default();
    let mut ids: HashMap<i64, u32> = HashMap::new();
    for (way_id, refs) in ways {
        let mut way = Vec::with_capacity(refs.len());
        for r in refs {
            // a way may reference a node missing from a clipped extract: the line breaks there
            let Some(&p) = coords.get(&r) else {
                if way.len() >= 2 {
                    net.ways.push(std::mem::take(&mut way));
                }
                way.clear();
                continue;
            };
            check_lonlat(&p).map_err(|m| LoadError::Invalid {
                path: path.into(),
                message: format!("way {way_id}, node {r}: {m}"),
            })?;
            let id = *ids.entry(r).or_insert_with(|| {
                net.nodes.push(p);
                (net.nodes.len() - 1) as u32
            });
            way.push(id);
        }
        if way.len() >= 2 {
            net.ways.push(way);
        }
    }
    if net.ways.is_empty() {
        return Err(LoadError::Invalid {
            path: path.into(),
            message: "no railway=rail ways in the file".into(),
        });
    }
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_coordinates_become_shared_vertices() {
        let text = r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{},"geometry":{"type":"LineString","coordinates":[[0,52],[0.1,52]]}},
          {"type":"Feature","properties":{},"geometry":{"type":"MultiLineString","coordinates":[[[0.1,52],[0.2,52]],[[0.2,52],[0.2,52.1]]]}},
          {"type":"Feature","properties":{},"geometry":null}]}"#;
        let net = parse_tracks_geojson(text, Path::new("t.geojson")).unwrap();
        assert_eq!(net.nodes.len(), 4);
        assert_eq!(net.ways, vec![vec![0, 1], vec![1, 2], vec![2, 3]]);
    }

    #[test]
    fn bad_track_files_say_what_is_wrong() {
        let e = parse_tracks_geojson(
            r#"{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[0,52]}}"#,
            Path::new("t.geojson"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("feature 0: geometry is Point"), "{e}");
        let e = parse_tracks_geojson(
            r#"{"type":"FeatureCollection","features":[]}"#,
            Path::new("t.geojson"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("no track lines"), "{e}");
    }

    #[test]
    fn the_rail_filter_keeps_running_lines_only() {
        let f = RailFilter;
        assert!(f.accepts([("railway", "rail"), ("usage", "main")].into_iter()));
        assert!(f.accepts([("railway", "rail"), ("service", "crossover")].into_iter()));
        assert!(!f.accepts([("railway", "rail"), ("service", "siding")].into_iter()));
        assert!(!f.accepts([("railway", "abandoned")].into_iter()));
        assert!(!f.accepts([("railway", "preserved")].into_iter()));
        assert!(!f.accepts([("railway", "rail"), ("usage", "tourism")].into_iter()));
        assert!(!f.accepts([("disused:railway", "rail")].into_iter()));
    }
}
