//! Stations from the ORR-style CSV or an OpenStreetMap PBF.
//!
//! CSV: one row per station with a header. Column names are matched case-insensitively, with
//! the aliases of the upstream files: code `crs` / `tlc` / `crs_code`; `name` / `station_name`;
//! `lat` / `latitude`; `lon` / `long` / `longitude`. Optional: `tiploc`, `operator`,
//! `pte_urban_area`, `london_travelcard`, `interchange_station`, `entries_exits_2019_20`,
//! `entries_exits_2021_22`, `interchanges_2021_22` (numbers may carry thousands separators).
//!
//! PBF: nodes tagged `railway=station` or `railway=halt`, with the CRS from `ref:crs` (stations
//! without one are keyed `osm:<node id>`). Skipped: `station=subway|light_rail|monorail|funicular|miniature`
//! (not National Rail), and heritage or closed stations (`railway:preserved=yes`, `usage=tourism`,
//! `disused=yes`, `abandoned=yes`). Stations mapped only as ways or areas are not read.

use super::{LoadError, check_lonlat};
use crate::geography::{Station, StationCode};
use osmpbf::{Element, ElementReader};
use std::path::Path;

/// Reads stations from a CSV or PBF file, chosen by the file name.
pub fn read_stations(path: &Path) -> Result<Vec<Station>, LoadError> {
    match super::FileKind::of(path) {
        Some(super::FileKind::Pbf) => read_stations_pbf(path),
        Some(super::FileKind::Csv) => read_stations_csv(path),
        _ => Err(LoadError::Invalid {
            path: path.into(),
            message: "stations must be a .csv or .osm.pbf file".into(),
        }),
    }
}

pub fn read_stations_csv(path: &Path) -> Result<Vec<Station>, LoadError> {
    let text = super::read_to_string(path)?;
    parse_stations_csv(&text, path)
}

/// Parses the stations CSV; `path` is used in error messages.
pub fn parse_stations_csv(text: &str, path: &Path) -> Result<Vec<Station>, LoadError> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| LoadError::Csv {
            path: path.into(),
            line: 1,
            message: e.to_string(),
        })?
        .clone();
    let col = |names: &[&str]| {
        headers.iter().position(|h| {
            let h = h
                .trim()
                .trim_start_matches('\u{feff}')
                .to_ascii_lowercase()
                .replace(' ', "_");
            names.contains(&h.as_str())
        })
    };
    let missing = |what: &str| LoadError::Csv {
        path: path.into(),
        line: 1,
        message: format!("no {what} column in the header"),
    };
    let c_code =
        col(&["crs", "tlc", "crs_code", "crscode"]).ok_or_else(|| missing("crs (station code)"))?;
    let c_name = col(&["name", "station_name", "stationname"]).ok_or_else(|| missing("name"))?;
    let c_lat = col(&["lat", "latitude"]).ok_or_else(|| missing("lat (WGS84 latitude)"))?;
    let c_lon = col(&["lon", "long", "lng", "longitude"])
        .ok_or_else(|| missing("lon (WGS84 longitude)"))?;
    let c_tiploc = col(&["tiploc", "tiploc_code"]);
    let c_operator = col(&["operator", "station_facility_owner"]);
    let c_pte = col(&["pte_urban_area"]);
    let c_travelcard = col(&["london_travelcard"]);
    let c_interchange = col(&["interchange_station"]);
    let c_ee1920 = col(&["entries_exits_2019_20", "1920_entries_&_exits"]);
    let c_ee2122 = col(&["entries_exits_2021_22", "2122_entries_&_exits"]);
    let c_ic2122 = col(&["interchanges_2021_22"]);

    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| LoadError::Csv {
            path: path.into(),
            line: e.position().map(|p| p.line()).unwrap_or(0),
            message: e.to_string(),
        })?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let err = |message: String| LoadError::Csv {
            path: path.into(),
            line,
            message,
        };
        let get = |c: Option<usize>| {
            c.and_then(|c| rec.get(c))
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let code_s = get(Some(c_code)).ok_or_else(|| err("empty station code".into()))?;
        let code = StationCode::parse(code_s).map_err(err)?;
        let num = |c: usize, what: &str| -> Result<f64, LoadError> {
            let s = get(Some(c)).ok_or_else(|| err(format!("station {code}: empty {what}")))?;
            s.parse::<f64>()
                .map_err(|_| err(format!("station {code}: {what} \"{s}\" is not a number")))
        };
        let [lon, lat] = check_lonlat(&[num(c_lon, "lon")?, num(c_lat, "lat")?])
            .map_err(|m| err(format!("station {code}: {m}")))?;
        let count = |c: Option<usize>, what: &str| -> Result<Option<u64>, LoadError> {
            match get(c) {
                None => Ok(None),
                Some(s) => s.replace(',', "").parse::<u64>().map(Some).map_err(|_| {
                    err(format!(
                        "station {code}: {what} \"{s}\" is not a whole number"
                    ))
                }),
            }
        };
        let yes_no = |c: Option<usize>| {
            get(c).map(|s| matches!(s.to_ascii_lowercase().as_str(), "yes" | "y" | "true" | "1"))
        };
        out.push(Station {
            name: get(Some(c_name)).unwrap_or(code_s).to_string(),
            tiploc: get(c_tiploc).map(str::to_string),
            lon,
            lat,
            operator: get(c_operator).map(str::to_string),
            pte_urban_area: get(c_pte).map(str::to_string),
            london_travelcard: yes_no(c_travelcard),
            interchange: yes_no(c_interchange),
            entries_exits_2019_20: count(c_ee1920, "entries_exits_2019_20")?,
            entries_exits_2021_22: count(c_ee2122, "entries_exits_2021_22")?,
            interchanges_2021_22: count(c_ic2122, "interchanges_2021_22")?,
            osm_id: None,
            code,
        });
    }
    if out.is_empty() {
        return Err(LoadError::Invalid {
            path: path.into(),
            message: "no stations in the file".into(),
        });
    }
    Ok(out)
}

/// Whether a tagged OSM node is a National Rail station this server should know.
fn is_station<'a>(tags: impl Iterator<Item = (&'a str, &'a str)>) -> bool {
    let mut railway_ok = false;
    for (k, v) in tags {
        match (k, v) {
            ("railway", "station" | "halt") => railway_ok = true,
            ("station", "subway" | "light_rail" | "monorail" | "funicular" | "miniature") => {
                return false;
            }
            ("railway:preserved", "yes")
            | ("usage", "tourism")
            | ("disused", "yes")
            | ("abandoned", "yes") => {
                return false;
            }
            _ => {}
        }
    }
    railway_ok
}

fn station_from_tags<'a>(
    id: i64,
    lon: f64,
    lat: f64,
    tags: impl Iterator<Item = (&'a str, &'a str)>,
) -> Station {
    let mut s = Station {
        lon,
        lat,
        osm_id: Some(id),
        ..Default::default()
    };
    let mut code = None;
    for (k, v) in tags {
        match k {
            "name" => s.name = v.to_string(),
            "ref:crs" => code = StationCode::parse(v).ok(),
            "ref:tiploc" => s.tiploc = Some(v.to_string()),
            "operator" => s.operator = Some(v.to_string()),
            _ => {}
        }
    }
    s.code = code.unwrap_or_else(|| StationCode::from_osm_id(id));
    if s.name.is_empty() {
        s.name = s.code.to_string();
    }
    s
}

/// Reads `railway=station|halt` nodes from an OSM PBF file (in parallel over its blocks).
pub fn read_stations_pbf(path: &Path) -> Result<Vec<Station>, LoadError> {
    let pbf_err = |e: osmpbf::Error| LoadError::Pbf {
        path: path.into(),
        message: e.to_string(),
    };
    let reader = ElementReader::from_path(path).map_err(|e| match e.kind() {
        osmpbf::ErrorKind::Io(_) => LoadError::Io {
            path: path.into(),
            source: std::io::Error::other(e.to_string()),
        },
        _ => pbf_err(e),
    })?;
    let mut out = reader
        .par_map_reduce(
            |el| match el {
                Element::Node(n) if is_station(n.tags()) => {
                    vec![station_from_tags(n.id(), n.lon(), n.lat(), n.tags())]
                }
                Element::DenseNode(n) if is_station(n.tags()) => {
                    vec![station_from_tags(n.id(), n.lon(), n.lat(), n.tags())]
                }
                _ => Vec::new(),
            },
            Vec::new,
            |mut a, b| {
                a.extend(b);
                a
            },
        )
        .map_err(pbf_err)?;
    out.sort_by_key(|s| s.osm_id);
    for s in &out {
        check_lonlat(&[s.lon, s.lat]).map_err(|m| LoadError::Invalid {
            path: path.into(),
            message: format!("node {}: {m}", s.osm_id.unwrap_or(0)),
        })?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_aliases_and_thousands_separators_are_read() {
        let text = "TLC,Station Name,Latitude,Longitude,entries_exits_2019_20\nEUS,London Euston,51.528,-0.134,\"44,669,072\"\n";
        let s = parse_stations_csv(text, Path::new("s.csv")).unwrap();
        assert_eq!(s[0].code.as_str(), "EUS");
        assert_eq!(s[0].entries_exits_2019_20, Some(44_669_072));
    }

    #[test]
    fn bad_rows_name_the_line_and_the_problem() {
        let cases = [
            ("crs,name,lat\nAAA,A,51\n", "line 1: no lon"),
            (
                "crs,name,lat,lon\nAAA,A,51,x\n",
                "line 2: station AAA: lon \"x\" is not a number",
            ),
            (
                "crs,name,lat,lon\nAAA,A,51,0\nBBBB,B,51,0\n",
                "line 3: \"BBBB\" is not a station code",
            ),
            ("crs,name,lat,lon\nAAA,A,530000,180000\n", "not lon/lat"),
            ("crs,name,lat,lon\nAAA,A,51\n", "line 2"),
            ("crs,name,lat,lon\n", "no stations"),
        ];
        for (text, want) in cases {
            let e = parse_stations_csv(text, Path::new("s.csv"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{e:?} should contain {want:?}");
        }
    }

    #[test]
    fn subway_and_heritage_stations_are_not_national_rail() {
        assert!(is_station(
            [("railway", "station"), ("name", "X")].into_iter()
        ));
        assert!(is_station([("railway", "halt")].into_iter()));
        assert!(!is_station(
            [("railway", "station"), ("station", "subway")].into_iter()
        ));
        assert!(!is_station(
            [("railway", "station"), ("railway:preserved", "yes")].into_iter()
        ));
        assert!(!is_station([("public_transport", "station")].into_iter()));
    }
}
