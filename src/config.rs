//! Where the reference data lives and how the geography is built from it.
//!
//! `--data DIR` names a folder holding `forces.geojson`, `stations.csv` and a rail network
//! (`rail_tracks.geojson`, else the one `*.osm.pbf` in the folder); `--forces`, `--stations` and
//! `--rail` override each file. The environment variable `LINESMAP_DATA` stands in for `--data`;
//! with neither, the data is the `data/gb` the project ships ([`default_data_dir`]).
//!
//! A data folder may hold a `MANIFEST.json` (file, bytes, SHA-256, source, licence, vintage);
//! [`verify_manifest`] checks the folder against it, for `linesmap check-data`.

use crate::geography::{DEFAULT_TOLERANCE_M, Geography, GeographyOptions, RailOptions};
use crate::load::{self, LoadError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The three reference files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataPaths {
    pub forces: PathBuf,
    pub stations: PathBuf,
    pub rail: PathBuf,
}

/// An error finding the data files.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no {what} given: pass --data DIR (or set LINESMAP_DATA) or --{flag} FILE")]
    Missing {
        what: &'static str,
        flag: &'static str,
    },
    #[error(
        "{0}: no rail network found: expected rail_tracks.geojson or one *.osm.pbf file in the folder (or pass --rail FILE)"
    )]
    NoRail(PathBuf),
    #[error("{0}: more than one *.osm.pbf file; pass --rail FILE to choose")]
    AmbiguousRail(PathBuf),
    #[error("{0}: not a folder")]
    NotADir(PathBuf),
}

impl DataPaths {
    /// Resolves the files from a data folder and per-file overrides.
    pub fn resolve(
        data: Option<&Path>,
        forces: Option<&Path>,
        stations: Option<&Path>,
        rail: Option<&Path>,
    ) -> Result<DataPaths, ConfigError> {
        if let Some(d) = data
            && !d.is_dir()
        {
            return Err(ConfigError::NotADir(d.into()));
        }
        let pick = |given: Option<&Path>, name: &str, what, flag| {
            given
                .map(Path::to_path_buf)
                .or_else(|| data.map(|d| d.join(name)))
                .ok_or(ConfigError::Missing { what, flag })
        };
        let forces = pick(forces, "forces.geojson", "force areas", "forces")?;
        let stations = pick(stations, "stations.csv", "stations", "stations")?;
        let rail = match (rail, data) {
            (Some(r), _) => r.to_path_buf(),
            (None, Some(d)) => find_rail(d)?,
            (None, None) => {
                return Err(ConfigError::Missing {
                    what: "rail network",
                    flag: "rail",
                });
            }
        };
        Ok(DataPaths {
            forces,
            stations,
            rail,
        })
    }
}

fn find_rail(dir: &Path) -> Result<PathBuf, ConfigError> {
    let tracks = dir.join("rail_tracks.geojson");
    if tracks.is_file() {
        return Ok(tracks);
    }
    let mut pbfs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|_| ConfigError::NotADir(dir.into()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".osm.pbf"))
        .collect();
    match pbfs.len() {
        0 => Err(ConfigError::NoRail(dir.into())),
        1 => Ok(pbfs.remove(0)),
        _ => Err(ConfigError::AmbiguousRail(dir.into())),
    }
}

/// The reference data the project ships: `data/gb` under the current folder when it is there
/// (a checkout's root, where the scripts run), else the `data/gb` of the checkout this binary
/// was built from. `None` when neither exists (an installed binary far from its source).
pub fn default_data_dir() -> Option<PathBuf> {
    let here = PathBuf::from("data/gb");
    if here.join("forces.geojson").is_file() {
        return Some(here);
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/gb");
    built.join("forces.geojson").is_file().then_some(built)
}

/// One file as `MANIFEST.json` lists it.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
pub struct ManifestEntry {
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
    pub source: String,
    pub licence: String,
    pub vintage: String,
}

#[derive(Debug, serde::Deserialize)]
struct Manifest {
    files: Vec<ManifestEntry>,
}

/// What [`verify_manifest`] found for one listed file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileCheck {
    Ok,
    Missing,
    /// Size or content differ from the manifest.
    Changed {
        bytes: u64,
        sha256: String,
    },
}

/// An error reading the manifest itself.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{0}: no MANIFEST.json in the data folder")]
    NoManifest(PathBuf),
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Checks every file `dir/MANIFEST.json` lists: present, the same size and the same SHA-256.
/// Returns each entry with what was found, in the manifest's order.
pub fn verify_manifest(dir: &Path) -> Result<Vec<(ManifestEntry, FileCheck)>, ManifestError> {
    use sha2::{Digest, Sha256};
    let path = dir.join("MANIFEST.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ManifestError::NoManifest(dir.into()));
        }
        Err(e) => {
            return Err(ManifestError::Invalid {
                path,
                message: e.to_string(),
            });
        }
    };
    let m: Manifest = serde_json::from_str(&text).map_err(|e| ManifestError::Invalid {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let mut out = Vec::with_capacity(m.files.len());
    for e in m.files {
        if e.file.contains('/') || e.file.contains('\\') || e.file.starts_with('.') {
            return Err(ManifestError::Invalid {
                path,
                message: format!(
                    "{:?}: a manifest names files in its own folder only",
                    e.file
                ),
            });
        }
        let check = match std::fs::read(dir.join(&e.file)) {
            Err(_) => FileCheck::Missing,
            Ok(bytes) => {
                let sha: String = Sha256::digest(&bytes)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                if bytes.len() as u64 == e.bytes && sha.eq_ignore_ascii_case(&e.sha256) {
                    FileCheck::Ok
                } else {
                    FileCheck::Changed {
                        bytes: bytes.len() as u64,
                        sha256: sha,
                    }
                }
            }
        };
        out.push((e, check));
    }
    Ok(out)
}

/// How long each step of loading took, for the start-up log and the data report.
#[derive(Clone, Debug, Default)]
pub struct LoadTimings {
    pub read: Duration,
    pub index: Duration,
}

fn join<T>(h: std::thread::ScopedJoinHandle<'_, Result<T, LoadError>>) -> Result<T, LoadError> {
    h.join().unwrap_or_else(|_| {
        Err(LoadError::Invalid {
            path: PathBuf::new(),
            message: "loader thread panicked".into(),
        })
    })
}

/// Reads the three files (in parallel) and builds the geography.
pub fn load_geography(
    paths: &DataPaths,
    options: GeographyOptions,
) -> Result<(Geography, LoadTimings), LoadError> {
    let t0 = Instant::now();
    let (forces, stations, rail) = std::thread::scope(|s| {
        let f = s.spawn(|| load::read_forces(&paths.forces));
        let st = s.spawn(|| load::read_stations(&paths.stations));
        let r = load::read_rail(&paths.rail);
        (join(f), join(st), r)
    });
    let (forces, stations, rail) = (forces?, stations?, rail?);
    let read = t0.elapsed();
    let t1 = Instant::now();
    let geo = Geography::build(forces, stations, &rail, options);
    Ok((
        geo,
        LoadTimings {
            read,
            index: t1.elapsed(),
        },
    ))
}

/// Where the reference data comes from (every command that loads it).
#[derive(clap::Args, Debug)]
pub struct DataArgs {
    /// Folder with forces.geojson, stations.csv and rail_tracks.geojson (or one *.osm.pbf);
    /// default: the data/gb the project ships.
    #[arg(long, env = "LINESMAP_DATA")]
    pub data: Option<PathBuf>,
    /// Force areas GeoJSON (overrides the one in --data).
    #[arg(long)]
    pub forces: Option<PathBuf>,
    /// Stations: ORR-style CSV or OSM PBF (overrides the one in --data).
    #[arg(long)]
    pub stations: Option<PathBuf>,
    /// Rail network: track GeoJSON or OSM PBF (overrides the one in --data).
    #[arg(long)]
    pub rail: Option<PathBuf>,
    /// Metres within which a point outside every force polygon goes to the nearest force.
    #[arg(long, default_value_t = DEFAULT_TOLERANCE_M)]
    pub force_tolerance_m: f64,
    /// Metres within which dead ends of disconnected track pieces are joined (0: never).
    #[arg(long, default_value_t = RailOptions::default().bridge_gaps_m)]
    pub bridge_gaps_m: f64,
}

impl DataArgs {
    /// The data folder: `--data`, `LINESMAP_DATA`, else the shipped `data/gb`.
    pub fn dir(&self) -> Option<std::path::PathBuf> {
        self.data.clone().or_else(default_data_dir)
    }

    pub fn load(&self) -> anyhow::Result<(crate::Geography, LoadTimings)> {
        let dir = self.dir();
        let paths = DataPaths::resolve(
            dir.as_deref(),
            self.forces.as_deref(),
            self.stations.as_deref(),
            self.rail.as_deref(),
        )?;
        anyhow::ensure!(
            self.force_tolerance_m.is_finite() && self.force_tolerance_m >= 0.0,
            "--force-tolerance-m must be a non-negative number of metres"
        );
        anyhow::ensure!(
            self.bridge_gaps_m.is_finite() && self.bridge_gaps_m >= 0.0,
            "--bridge-gaps-m must be a non-negative number of metres"
        );
        let options = GeographyOptions {
            force_tolerance_m: self.force_tolerance_m,
            rail: RailOptions {
                bridge_gaps_m: self.bridge_gaps_m,
                ..RailOptions::default()
            },
        };
        tracing::info!(forces = %paths.forces.display(), stations = %paths.stations.display(), rail = %paths.rail.display(), "loading reference data");
        Ok(load_geography(&paths, options)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_inputs_are_named() {
        let e = DataPaths::resolve(None, None, None, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no force areas given"), "{e}");
        let e = DataPaths::resolve(Some(Path::new("/nonexistent/dir")), None, None, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a folder"), "{e}");
    }

    #[test]
    fn the_manifest_names_a_changed_and_a_missing_file() {
        let dir = std::env::temp_dir().join(format!("lm-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.csv"), b"abc").unwrap();
        std::fs::write(dir.join("b.csv"), b"xyz").unwrap();
        // sha256("abc") from FIPS 180-2, appendix B.1
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let entry = |f: &str, n: u64, sha: &str| {
            format!(
                r#"{{"file":"{f}","bytes":{n},"sha256":"{sha}","source":"s","licence":"l","vintage":"v"}}"#
            )
        };
        let manifest = format!(
            r#"{{"files":[{},{},{}]}}"#,
            entry("a.csv", 3, abc),
            entry("b.csv", 3, abc),
            entry("c.csv", 1, abc)
        );
        std::fs::write(dir.join("MANIFEST.json"), manifest).unwrap();
        let r = verify_manifest(&dir).unwrap();
        assert_eq!(r[0].1, FileCheck::Ok);
        assert!(matches!(&r[1].1, FileCheck::Changed { bytes: 3, sha256 } if sha256 != abc));
        assert_eq!(r[2].1, FileCheck::Missing);
        std::fs::remove_file(dir.join("MANIFEST.json")).unwrap();
        assert!(matches!(
            verify_manifest(&dir),
            Err(ManifestError::NoManifest(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn overrides_win_over_the_folder() {
        let dir = std::env::temp_dir().join(format!("lm-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("x.osm.pbf"), b"").unwrap();
        let p = DataPaths::resolve(Some(&dir), None, Some(Path::new("/s.csv")), None).unwrap();
        assert_eq!(p.forces, dir.join("forces.geojson"));
        assert_eq!(p.stations, PathBuf::from("/s.csv"));
        assert_eq!(p.rail, dir.join("x.osm.pbf"));
        std::fs::write(dir.join("y.osm.pbf"), b"").unwrap();
        assert!(matches!(
            DataPaths::resolve(Some(&dir), None, None, None),
            Err(ConfigError::AmbiguousRail(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
