//! Value types shared by the whole crate: coordinates, bounding boxes and the identifiers of
//! forces and stations. Each is parsed once at the edge (`TryFrom<&str>` / `parse`) so the rest of
//! the code never handles bare strings or tuples.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A WGS84 position, longitude then latitude, in decimal degrees (the GeoJSON / CRS84 order).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LonLat {
    pub lon: f64,
    pub lat: f64,
}

impl LonLat {
    pub const fn new(lon: f64, lat: f64) -> Self {
        LonLat { lon, lat }
    }

    /// Checks that both values are finite and inside [-180, 180] x [-90, 90].
    pub fn parse(lon: f64, lat: f64) -> Result<Self, String> {
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            return Err(format!("longitude {lon} is not a number in [-180, 180]"));
        }
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(format!("latitude {lat} is not a number in [-90, 90]"));
        }
        Ok(LonLat { lon, lat })
    }

    pub fn as_array(self) -> [f64; 2] {
        [self.lon, self.lat]
    }
}

impl From<[f64; 2]> for LonLat {
    fn from(p: [f64; 2]) -> Self {
        LonLat::new(p[0], p[1])
    }
}

/// A distance in metres.
pub type Metres = f64;

/// An axis-aligned box in lon/lat degrees: `[min_lon, min_lat, max_lon, max_lat]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bbox {
    pub min_lon: f64,
    pub min_lat: f64,
    pub max_lon: f64,
    pub max_lat: f64,
}

impl Bbox {
    /// The empty box, which `extend` grows.
    pub const EMPTY: Bbox = Bbox {
        min_lon: f64::INFINITY,
        min_lat: f64::INFINITY,
        max_lon: f64::NEG_INFINITY,
        max_lat: f64::NEG_INFINITY,
    };

    pub fn new(min_lon: f64, min_lat: f64, max_lon: f64, max_lat: f64) -> Result<Self, String> {
        for v in [min_lon, min_lat, max_lon, max_lat] {
            if !v.is_finite() {
                return Err("bbox values must be finite numbers".into());
            }
        }
        if min_lon > max_lon || min_lat > max_lat {
            return Err("bbox must be min_lon,min_lat,max_lon,max_lat with min <= max".into());
        }
        if min_lat < -90.0 || max_lat > 90.0 || min_lon < -180.0 || max_lon > 180.0 {
            return Err("bbox is outside [-180,-90,180,90]".into());
        }
        Ok(Bbox {
            min_lon,
            min_lat,
            max_lon,
            max_lat,
        })
    }

    /// Parses `"minlon,minlat,maxlon,maxlat"`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let parts: Result<Vec<f64>, _> = s.split(',').map(|p| p.trim().parse::<f64>()).collect();
        match parts {
            Ok(v) if v.len() == 4 => Bbox::new(v[0], v[1], v[2], v[3]),
            _ => Err(format!("bbox \"{s}\" is not four comma-separated numbers")),
        }
    }

    pub fn extend(&mut self, p: [f64; 2]) {
        self.min_lon = self.min_lon.min(p[0]);
        self.min_lat = self.min_lat.min(p[1]);
        self.max_lon = self.max_lon.max(p[0]);
        self.max_lat = self.max_lat.max(p[1]);
    }

    pub fn contains(&self, p: [f64; 2]) -> bool {
        p[0] >= self.min_lon && p[0] <= self.max_lon && p[1] >= self.min_lat && p[1] <= self.max_lat
    }

    pub fn intersects(&self, o: &Bbox) -> bool {
        self.min_lon <= o.max_lon
            && o.min_lon <= self.max_lon
            && self.min_lat <= o.max_lat
            && o.min_lat <= self.max_lat
    }

    /// Whether segment `p`-`q` touches the box, edges included (Liang-Barsky clipping).
    pub fn segment_intersects(&self, p: [f64; 2], q: [f64; 2]) -> bool {
        let (dx, dy) = (q[0] - p[0], q[1] - p[1]);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        for (pk, qk) in [
            (-dx, p[0] - self.min_lon),
            (dx, self.max_lon - p[0]),
            (-dy, p[1] - self.min_lat),
            (dy, self.max_lat - p[1]),
        ] {
            if pk == 0.0 {
                if qk < 0.0 {
                    return false;
                }
            } else {
                let r = qk / pk;
                if pk < 0.0 {
                    t0 = t0.max(r);
                } else {
                    t1 = t1.min(r);
                }
                if t0 > t1 {
                    return false;
                }
            }
        }
        true
    }

    pub fn is_empty(&self) -> bool {
        self.min_lon > self.max_lon
    }

    pub fn to_array(self) -> [f64; 4] {
        [self.min_lon, self.min_lat, self.max_lon, self.max_lat]
    }
}

/// An ONS GSS police force area code (`E23000001`, `W15000001`, `S23000009`, `N23000001`), or
/// the pseudo-code `BTP` for British Transport Police, which polices the railway and has no area.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ForceCode(String);

impl ForceCode {
    pub const BTP: &'static str = "BTP";

    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case(Self::BTP) {
            return Ok(ForceCode(Self::BTP.into()));
        }
        let b = s.as_bytes();
        let ok =
            b.len() == 9 && b[0].is_ascii_alphabetic() && b[1..].iter().all(u8::is_ascii_digit);
        if ok {
            Ok(ForceCode(s.to_ascii_uppercase()))
        } else {
            Err(format!(
                "\"{s}\" is not a force code (a GSS code such as E23000001, or BTP)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_btp(&self) -> bool {
        self.0 == Self::BTP
    }
}

impl TryFrom<String> for ForceCode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        ForceCode::parse(&s)
    }
}

impl From<ForceCode> for String {
    fn from(c: ForceCode) -> String {
        c.0
    }
}

impl fmt::Display for ForceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// A station key: the three-letter CRS code (`EUS`), upper case, or `osm:N` for an OpenStreetMap
/// station node that carries no `ref:crs` tag.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StationCode(String);

impl StationCode {
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t.len() == 3 && t.bytes().all(|c| c.is_ascii_alphabetic()) {
            return Ok(StationCode(t.to_ascii_uppercase()));
        }
        if let Some(id) = t.strip_prefix("osm:")
            && !id.is_empty()
            && id.bytes().all(|c| c.is_ascii_digit())
        {
            return Ok(StationCode(t.to_string()));
        }
        Err(format!(
            "\"{s}\" is not a station code (a three-letter CRS code such as EUS, or osm:<node id>)"
        ))
    }

    pub fn from_osm_id(id: i64) -> Self {
        StationCode(format!("osm:{id}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for StationCode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        StationCode::parse(&s)
    }
}

impl From<StationCode> for String {
    fn from(c: StationCode) -> String {
        c.0
    }
}

impl fmt::Display for StationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn force_codes_are_gss_codes_or_btp() {
        assert_eq!(ForceCode::parse("e23000001").unwrap().as_str(), "E23000001");
        assert!(ForceCode::parse("btp").unwrap().is_btp());
        assert!(ForceCode::parse("E2300001").is_err());
        assert!(ForceCode::parse("Met").is_err());
    }

    #[test]
    fn station_codes_are_crs_or_osm_ids() {
        assert_eq!(StationCode::parse(" eus ").unwrap().as_str(), "EUS");
        assert_eq!(StationCode::parse("osm:123").unwrap().as_str(), "osm:123");
        assert!(StationCode::parse("EU5").is_err());
        assert!(StationCode::parse("osm:").is_err());
        assert!(StationCode::parse("EUST").is_err());
    }

    #[test]
    fn bbox_parse_rejects_inverted_and_short_boxes() {
        assert!(Bbox::parse("-1,50,1,52").is_ok());
        assert!(Bbox::parse("1,50,-1,52").is_err());
        assert!(Bbox::parse("1,50,2").is_err());
        assert!(Bbox::parse("a,b,c,d").is_err());
    }
}
