//! Readers for the reference data in its real upstream formats: force areas as GeoJSON (the ONS
//! boundary files), stations as the ORR-style CSV or an OpenStreetMap PBF, and the rail network
//! as track GeoJSON or an OpenStreetMap PBF. Every error names the file and the feature, line or
//! element that was wrong; a bad file is an error, never a panic.

pub mod forces;
pub mod rail;
pub mod stations;

pub use forces::{parse_forces_geojson, read_forces};
pub use rail::{RailFilter, parse_tracks_geojson, read_rail, read_rail_pbf, read_tracks_geojson};
pub use stations::{parse_stations_csv, read_stations, read_stations_csv, read_stations_pbf};

use std::path::{Path, PathBuf};

/// An error reading reference data.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not valid GeoJSON: {message}")]
    GeoJson { path: PathBuf, message: String },
    #[error("{path}: feature {index}: {message}")]
    Feature {
        path: PathBuf,
        index: usize,
        message: String,
    },
    #[error("{path}: line {line}: {message}")]
    Csv {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{path}: not a readable OSM PBF file: {message}")]
    Pbf { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// What kind of file a path holds, judged by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    GeoJson,
    Csv,
    Pbf,
}

impl FileKind {
    pub fn of(path: &Path) -> Option<FileKind> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        if name.ends_with(".osm.pbf") || name.ends_with(".pbf") {
            Some(FileKind::Pbf)
        } else if name.ends_with(".geojson") || name.ends_with(".json") {
            Some(FileKind::GeoJson)
        } else if name.ends_with(".csv") {
            Some(FileKind::Csv)
        } else {
            None
        }
    }
}

pub(crate) fn read_to_string(path: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.into(),
        source,
    })
}

/// Checks that a position is a finite lon/lat pair; projected coordinates get a pointed message.
pub(crate) fn check_lonlat(p: &[f64]) -> Result<[f64; 2], String> {
    if p.len() < 2 {
        return Err(format!("position {p:?} has fewer than two numbers"));
    }
    let (lon, lat) = (p[0], p[1]);
    if !lon.is_finite() || !lat.is_finite() {
        return Err(format!("position [{lon}, {lat}] is not finite"));
    }
    if lon.abs() > 180.0 || lat.abs() > 90.0 {
        return Err(format!(
            "position [{lon}, {lat}] is not lon/lat: coordinates must be WGS84 degrees \
             (RFC 7946); projected coordinates such as British National Grid must be converted"
        ));
    }
    Ok([lon, lat])
}
