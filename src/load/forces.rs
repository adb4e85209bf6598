//! Force areas from GeoJSON: a FeatureCollection of Polygon / MultiPolygon features (holes
//! allowed) in WGS84 lon/lat. The code is read from `code`, or the ONS field `PFAyyCD` of any
//! vintage (`PFA20CD`, `PFA23CD`…); the name from `name` or `PFAyyNM`; the force's full name from
//! `force_name` when present.

use super::{LoadError, check_lonlat, read_to_string};
use crate::geography::{Bbox, Force, ForceCode};
use geojson::{GeoJson, GeometryValue, JsonObject};
use std::path::Path;

/// Reads force areas from a GeoJSON file.
pub fn read_forces(path: &Path) -> Result<Vec<Force>, LoadError> {
    parse_forces_geojson(&read_to_string(path)?, path)
}

/// Parses force areas from GeoJSON text; `path` is used in error messages.
pub fn parse_forces_geojson(text: &str, path: &Path) -> Result<Vec<Force>, LoadError> {
    let gj: GeoJson = text
        .parse()
        .map_err(|e: geojson::Error| LoadError::GeoJson {
            path: path.into(),
            message: e.to_string(),
        })?;
    let features = match gj {
        GeoJson::FeatureCollection(fc) => fc.features,
        GeoJson::Feature(f) => vec![f],
        GeoJson::Geometry(_) => {
            return Err(LoadError::Invalid {
                path: path.into(),
                message: "expected a FeatureCollection of force areas, found a bare geometry"
                    .into(),
            });
        }
    };
    let mut out = Vec::with_capacity(features.len());
    let mut seen = std::collections::HashSet::new();
    for (index, f) in features.into_iter().enumerate() {
        let err = |message: String| LoadError::Feature {
            path: path.into(),
            index,
            message,
        };
        let props = f.properties.unwrap_or_default();
        let code_raw = prop(&props, "code", "CD")
            .ok_or_else(|| err("no force code: expected a `code` or `PFAyyCD` property".into()))?;
        let code = ForceCode::parse(&code_raw).map_err(err)?;
        if !seen.insert(code.clone()) {
            return Err(err(format!("force code {code} appears more than once")));
        }
        let name = prop(&props, "name", "NM").unwrap_or_else(|| code.to_string());
        let force_name = props
            .get("force_name")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let geometry = f
            .geometry
            .ok_or_else(|| err(format!("force {code} has no geometry")))?;
        let polys = match geometry.value {
            GeometryValue::Polygon { coordinates } => vec![coordinates],
            GeometryValue::MultiPolygon { coordinates } => coordinates,
            other => {
                return Err(err(format!(
                    "force {code}: geometry is {}, expected Polygon or MultiPolygon",
                    other.type_name()
                )));
            }
        };
        let mut bbox = Bbox::EMPTY;
        let mut polygons = Vec::with_capacity(polys.len());
        for (pi, poly) in polys.into_iter().enumerate() {
            let mut rings = Vec::with_capacity(poly.len());
            for (ri, ring) in poly.into_iter().enumerate() {
                let mut pts = Vec::with_capacity(ring.len());
                for pos in &ring {
                    let p = check_lonlat(pos.as_slice())
                        .map_err(|m| err(format!("force {code}, polygon {pi}, ring {ri}: {m}")))?;
                    bbox.extend(p);
                    pts.push(p);
                }
                if pts.len() > 1 && pts.first() == pts.last() {
                    pts.pop();
                }
                if pts.len() < 3 {
                    return Err(err(format!(
                        "force {code}, polygon {pi}, ring {ri}: a ring needs at least 3 distinct positions, found {}",
                        pts.len()
                    )));
                }
                rings.push(pts);
            }
            if !rings.is_empty() {
                polygons.push(rings);
            }
        }
        if polygons.is_empty() {
            return Err(err(format!("force {code} has an empty geometry")));
        }
        out.push(Force {
            code,
            name,
            force_name,
            polygons,
            bbox,
        });
    }
    if out.is_empty() {
        return Err(LoadError::Invalid {
            path: path.into(),
            message: "no force areas in the file".into(),
        });
    }
    Ok(out)
}

/// A string property: `plain` (any case), else an ONS-style `PFAyy<suffix>` field of any vintage.
fn prop(props: &JsonObject, plain: &str, suffix: &str) -> Option<String> {
    let as_string = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    };
    if let Some(v) = props
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(plain))
        .and_then(|(_, v)| as_string(v))
    {
        return Some(v);
    }
    props
        .iter()
        .find(|(k, _)| {
            let k = k.to_ascii_uppercase();
            k.len() == 7
                && k.starts_with("PFA")
                && k[3..5].bytes().all(|c| c.is_ascii_digit())
                && k.ends_with(suffix)
        })
        .and_then(|(_, v)| as_string(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ons_field_names_are_read_and_holes_kept() {
        let text = r#"{"type":"FeatureCollection","features":[{"type":"Feature",
          "properties":{"PFA20CD":"E23000034","PFA20NM":"London, City of"},
          "geometry":{"type":"Polygon","coordinates":[
            [[-0.11,51.50],[-0.07,51.50],[-0.07,51.53],[-0.11,51.53],[-0.11,51.50]],
            [[-0.10,51.51],[-0.09,51.51],[-0.09,51.52],[-0.10,51.51]]]}}]}"#;
        let f = parse_forces_geojson(text, Path::new("t.geojson")).unwrap();
        assert_eq!(f[0].code.as_str(), "E23000034");
        assert_eq!(f[0].name, "London, City of");
        assert_eq!(f[0].polygons[0].len(), 2);
        assert_eq!(f[0].polygons[0][0].len(), 4);
    }

    #[test]
    fn bad_files_name_the_feature_and_the_problem() {
        let cases = [
            (
                r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":null}]}"#,
                "feature 0: no force code",
            ),
            (
                r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"E23000001"},"geometry":{"type":"Point","coordinates":[0,51]}}]}"#,
                "geometry is Point",
            ),
            (
                r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"E23000001"},"geometry":{"type":"Polygon","coordinates":[[[530000,180000],[531000,180000],[531000,181000],[530000,180000]]]}}]}"#,
                "not lon/lat",
            ),
            (
                r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"E23000001"},"geometry":{"type":"Polygon","coordinates":[[[0,51],[1,51],[0,51]]]}}]}"#,
                "at least 3 distinct",
            ),
            (
                r#"{"type":"FeatureCollection","features":[]}"#,
                "no force areas",
            ),
            ("{not json", "not valid GeoJSON"),
        ];
        for (text, want) in cases {
            let e = parse_forces_geojson(text, Path::new("f.geojson"))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(want) && e.starts_with("f.geojson"),
                "{e} should contain {want}"
            );
        }
    }
}
