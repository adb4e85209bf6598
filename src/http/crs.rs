//! OGC API – Features Part 2 (CRS by reference): the coordinate reference systems the
//! collections can be served in, and the transformations.
//!
//! - **CRS84** (default): longitude, latitude on WGS 84, the GeoJSON convention.
//! - **EPSG:4326**: the same datum with the EPSG axis order, latitude then longitude.
//! - **EPSG:27700**: British National Grid, easting and northing in metres on OSGB36, the grid
//!   GB analysts use. WGS 84 → OSGB36 is the published 7-parameter Helmert transformation
//!   (OS "A guide to coordinate systems in Great Britain", §6.6; EPSG:1314), then the National
//!   Grid's Transverse Mercator, by `proj4rs`. The Helmert fit is good to a few metres across GB
//!   (OSTN15, the definitive grid shift, is not bundled): enough for maps of stations and force
//!   areas, and documented in the README.

use serde_json::Value;
use std::sync::OnceLock;

pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
pub const EPSG_4326: &str = "http://www.opengis.net/def/crs/EPSG/0/4326";
pub const EPSG_27700: &str = "http://www.opengis.net/def/crs/EPSG/0/27700";
/// Every CRS a collection can be served in, default first.
pub const SUPPORTED: &[&str] = &[CRS84, EPSG_4326, EPSG_27700];

const BNG: &str = "+proj=tmerc +lat_0=49 +lon_0=-2 +k=0.9996012717 +x_0=400000 +y_0=-100000 +ellps=airy +towgs84=446.448,-125.157,542.06,0.15,0.247,0.842,-20.489 +units=m +no_defs +type=crs";
const WGS84: &str = "+proj=longlat +ellps=WGS84 +datum=WGS84 +no_defs +type=crs";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crs {
    Crs84,
    Epsg4326,
    Epsg27700,
}

struct Projs {
    wgs84: proj4rs::proj::Proj,
    bng: proj4rs::proj::Proj,
}

fn projs() -> Option<&'static Projs> {
    static P: OnceLock<Option<Projs>> = OnceLock::new();
    P.get_or_init(|| {
        Some(Projs {
            wgs84: proj4rs::proj::Proj::from_proj_string(WGS84).ok()?,
            bng: proj4rs::proj::Proj::from_proj_string(BNG).ok()?,
        })
    })
    .as_ref()
}

impl Crs {
    /// Parses a CRS URI (or the `[EPSG:27700]` safe CURIE form).
    pub fn parse(s: &str) -> Result<Crs, String> {
        match s.trim() {
            CRS84 | "[OGC:CRS84]" => Ok(Crs::Crs84),
            EPSG_4326 | "[EPSG:4326]" => Ok(Crs::Epsg4326),
            EPSG_27700 | "[EPSG:27700]" => Ok(Crs::Epsg27700),
            other => Err(format!(
                "\"{other}\" is not a supported CRS; supported: {}",
                SUPPORTED.join(", ")
            )),
        }
    }

    pub fn uri(self) -> &'static str {
        match self {
            Crs::Crs84 => CRS84,
            Crs::Epsg4326 => EPSG_4326,
            Crs::Epsg27700 => EPSG_27700,
        }
    }

    /// A lon/lat position in this CRS, in its axis order; `None` where the projection fails.
    pub fn from_lonlat(self, p: [f64; 2]) -> Option<[f64; 2]> {
        match self {
            Crs::Crs84 => Some(p),
            Crs::Epsg4326 => Some([p[1], p[0]]),
            Crs::Epsg27700 => {
                let pr = projs()?;
                let mut pt = (p[0].to_radians(), p[1].to_radians(), 0.0);
                proj4rs::transform::transform(&pr.wgs84, &pr.bng, &mut pt).ok()?;
                (pt.0.is_finite() && pt.1.is_finite()).then(|| {
                    [
                        (pt.0 * 1000.0).round() / 1000.0,
                        (pt.1 * 1000.0).round() / 1000.0,
                    ]
                })
            }
        }
    }

    /// A position in this CRS (its axis order) as lon/lat.
    pub fn to_lonlat(self, p: [f64; 2]) -> Option<[f64; 2]> {
        match self {
            Crs::Crs84 => Some(p),
            Crs::Epsg4326 => Some([p[1], p[0]]),
            Crs::Epsg27700 => {
                let pr = projs()?;
                let mut pt = (p[0], p[1], 0.0);
                proj4rs::transform::transform(&pr.bng, &pr.wgs84, &mut pt).ok()?;
                let q = [pt.0.to_degrees(), pt.1.to_degrees()];
                (q[0].is_finite() && q[1].is_finite()).then_some(q)
            }
        }
    }

    /// The lon/lat box covering a box given in this CRS (`[min x, min y, max x, max y]` in
    /// the CRS's axis order): for the grid, the envelope of its boundary sampled every 1/64
    /// of each side (grid lines are curves in lon/lat).
    pub fn bbox_to_lonlat(self, b: [f64; 4]) -> Option<[f64; 4]> {
        match self {
            Crs::Crs84 => Some(b),
            Crs::Epsg4326 => Some([b[1], b[0], b[3], b[2]]),
            Crs::Epsg27700 => {
                let mut out = [
                    f64::INFINITY,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    f64::NEG_INFINITY,
                ];
                const N: usize = 64;
                for k in 0..=N {
                    let t = k as f64 / N as f64;
                    let x = b[0] + t * (b[2] - b[0]);
                    let y = b[1] + t * (b[3] - b[1]);
                    for p in [[x, b[1]], [x, b[3]], [b[0], y], [b[2], y]] {
                        let q = self.to_lonlat(p)?;
                        out[0] = out[0].min(q[0]);
                        out[1] = out[1].min(q[1]);
                        out[2] = out[2].max(q[0]);
                        out[3] = out[3].max(q[1]);
                    }
                }
                Some(out)
            }
        }
    }

    /// Rewrites every position of a GeoJSON geometry (lon/lat) into this CRS.
    pub fn transform_geometry(self, geometry: &mut Value) {
        if self == Crs::Crs84 {
            return;
        }
        fn walk(v: &mut Value, crs: Crs) {
            let Value::Array(items) = v else { return };
            let is_position = items.len() >= 2 && items.iter().all(Value::is_number);
            if is_position {
                let p = [
                    items[0].as_f64().unwrap_or(f64::NAN),
                    items[1].as_f64().unwrap_or(f64::NAN),
                ];
                match crs.from_lonlat(p) {
                    Some(q) => {
                        items[0] = serde_json::json!(q[0]);
                        items[1] = serde_json::json!(q[1]);
                    }
                    None => {
                        items[0] = Value::Null;
                        items[1] = Value::Null;
                    }
                }
            } else {
                items.iter_mut().for_each(|x| walk(x, crs));
            }
        }
        if let Some(c) = geometry.get_mut("coordinates") {
            walk(c, self);
        }
    }

    /// The `Content-Crs` header value: the URI in angle brackets.
    pub fn header(self) -> String {
        format!("<{}>", self.uri())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_grid_matches_pyproj() {
        // pyproj 3 (PROJ 9) "Inverse of OSGB36 to WGS 84 (6) + British National Grid", the
        // transformation PROJ picks when the OSTN15 grid is not installed:
        // Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
        let cases = [
            ([-0.1276, 51.5072], [530_043.194_981, 180_358.208_620]),
            ([-2.9916, 53.4075], [334_178.005_464, 390_534.240_922]),
            ([-3.1883, 55.9533], [325_897.218_139, 674_001.201_610]),
            ([1.2974, 52.6309], [623_243.560_678, 308_787.534_399]),
            ([-5.0527, 50.2660], [182_539.936_448, 45_128.731_636]),
        ];
        for (p, want) in cases {
            let g = Crs::Epsg27700.from_lonlat(p).unwrap();
            assert!(
                (g[0] - want[0]).abs() < 0.01 && (g[1] - want[1]).abs() < 0.01,
                "{p:?}: {g:?} != {want:?}"
            );
            let back = Crs::Epsg27700.to_lonlat(g).unwrap();
            assert!(
                (back[0] - p[0]).abs() < 1e-7 && (back[1] - p[1]).abs() < 1e-7,
                "{back:?}"
            );
        }
        let p = [-0.1276, 51.5072];
        assert_eq!(Crs::Epsg4326.from_lonlat(p), Some([p[1], p[0]]));
        assert_eq!(Crs::parse(EPSG_27700), Ok(Crs::Epsg27700));
        assert!(Crs::parse("http://www.opengis.net/def/crs/EPSG/0/3857").is_err());
    }

    #[test]
    fn geometries_are_rewritten_position_by_position() {
        let mut g =
            serde_json::json!({"type": "LineString", "coordinates": [[-1.0, 52.0], [-1.5, 52.5]]});
        Crs::Epsg4326.transform_geometry(&mut g);
        assert_eq!(
            g["coordinates"],
            serde_json::json!([[52.0, -1.0], [52.5, -1.5]])
        );
        let mut p = serde_json::json!({"type": "MultiPolygon", "coordinates": [[[[-2.0, 49.0], [-1.0, 50.0], [-2.0, 50.0], [-2.0, 49.0]]]]});
        Crs::Epsg27700.transform_geometry(&mut p);
        // the grid's true origin, 49N 2W on OSGB36, is E 400000 N -100000; WGS 84 differs by
        // about 100 m there
        let e = p["coordinates"][0][0][0][0].as_f64().unwrap();
        let n = p["coordinates"][0][0][0][1].as_f64().unwrap();
        assert!(
            (e - 400_000.0).abs() < 200.0 && (n + 100_000.0).abs() < 200.0,
            "{e} {n}"
        );
    }
}
