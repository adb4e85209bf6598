//! Distances on the WGS84 ellipsoid.
//!
//! Three tools, from exact to fast:
//! - [`geodesic_m`]: the true ellipsoidal geodesic (Karney's algorithm via `geo::Geodesic`), about
//!   a microsecond a call. Every distance this server reports comes from it or from [`LocalPlane`]
//!   over short (< 1 km) spans.
//! - [`LocalPlane`]: a tangent plane at a latitude, using the ellipsoid's meridional (M) and
//!   prime-vertical (N) radii of curvature. Over tens of kilometres its relative error is below
//!   1e-4; over a 100 m track segment it is exact for every purpose. Used for ranking candidates
//!   and for point-to-segment distances.
//! - [`to_xyz`]: a point on a sphere in 3-D metres (Earth-centred), where straight-line (chord)
//!   distance is monotone in great-circle distance. R-trees built on it are truly metric, unlike
//!   trees in raw degrees (a degree of longitude is ~0.6 of a degree of latitude in Britain).

use geo::{Distance, Geodesic, Point};
use geographiclib_rs::InverseGeodesic;
use std::sync::LazyLock;

static WGS84: LazyLock<geographiclib_rs::Geodesic> =
    LazyLock::new(geographiclib_rs::Geodesic::wgs84);

/// WGS84 semi-major axis, metres.
pub const WGS84_A: f64 = 6_378_137.0;
/// WGS84 flattening.
pub const WGS84_F: f64 = 1.0 / 298.257_223_563;
/// WGS84 first eccentricity squared.
pub const WGS84_E2: f64 = WGS84_F * (2.0 - WGS84_F);
/// Mean Earth radius (IUGG), metres; the sphere behind [`to_xyz`].
pub const MEAN_RADIUS: f64 = 6_371_008.8;
/// The ellipsoidal geodesic and the great circle on the mean sphere differ by less than this
/// relative amount anywhere between latitudes 45 and 65 degrees (meridional and prime-vertical
/// radii there lie within 6,367-6,395 km against 6,371 km); bounds derived from the sphere widen by it.
pub const SPHERE_TOLERANCE: f64 = 0.01;

/// True geodesic distance on the WGS84 ellipsoid between two lon/lat points, in metres.
pub fn geodesic_m(a: [f64; 2], b: [f64; 2]) -> f64 {
    Geodesic.distance(Point::new(a[0], a[1]), Point::new(b[0], b[1]))
}

/// Geodesic distance by Andoyer-Lambert: the great circle between reduced latitudes with a
/// first-order flattening correction. Within 2e-6 of Karney's geodesic up to 1,000 km
/// (tested below), at a tenth of the cost; used where many long distances are ranked.
pub fn andoyer_lambert_m(a: [f64; 2], b: [f64; 2]) -> f64 {
    let beta = |lat: f64| ((1.0 - WGS84_F) * lat.to_radians().tan()).atan();
    let (b1, b2) = (beta(a[1]), beta(b[1]));
    let dl = (b[0] - a[0]).to_radians();
    let h = ((b2 - b1) / 2.0).sin().powi(2) + b1.cos() * b2.cos() * (dl / 2.0).sin().powi(2);
    let sigma = 2.0 * h.sqrt().min(1.0).asin();
    if sigma < 1e-12 {
        return 0.0;
    }
    let p = (b1 + b2) / 2.0;
    let q = (b2 - b1) / 2.0;
    let (sp, cp, sq, cq) = (p.sin(), p.cos(), q.sin(), q.cos());
    let half = sigma / 2.0;
    let x = (sigma - sigma.sin()) * (sp * cq).powi(2) / half.cos().powi(2);
    let y = (sigma + sigma.sin()) * (cp * sq).powi(2) / half.sin().powi(2);
    WGS84_A * (sigma - WGS84_F / 2.0 * (x + y))
}

/// Azimuthal equidistant coordinates of `p` about `origin` on the WGS84 ellipsoid, metres east
/// and north: the geodesic distance and azimuth from the origin, exactly (Karney's inverse).
pub fn aeqd(origin: [f64; 2], p: [f64; 2]) -> [f64; 2] {
    let (s, azi, _, _): (f64, f64, f64, f64) = WGS84.inverse(origin[1], origin[0], p[1], p[0]);
    let (sin, cos) = azi.to_radians().sin_cos();
    [s * sin, s * cos]
}

/// Distance in metres from `p` to the nearest point of segment `a`-`b`, the segment taken as
/// straight in the azimuthal equidistant projection centred on `p` (as a GIS measuring in a
/// local projection does), with that point (lon/lat) and its fraction along the segment.
pub fn distance_to_segment_m(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> (f64, [f64; 2], f64) {
    let (c, t) = closest_on_segment([0.0, 0.0], aeqd(p, a), aeqd(p, b));
    (c[0].hypot(c[1]), lerp(a, b, t), t)
}

/// Radii of curvature (M meridional, N prime vertical) at latitude `lat_rad`, metres.
pub fn radii(lat_rad: f64) -> (f64, f64) {
    let s = lat_rad.sin();
    let w2 = 1.0 - WGS84_E2 * s * s;
    let w = w2.sqrt();
    (WGS84_A * (1.0 - WGS84_E2) / (w2 * w), WGS84_A / w)
}

/// A tangent plane at one point: maps lon/lat to local metres east (x) and north (y).
///
/// [`project`](Self::project) evaluates the radii of curvature at the *mid-latitude* of origin
/// and point (to first order), so the distance from the origin to a point 50 km away is within
/// ~2e-5 of the geodesic. Only distances from the origin are right: directions to far points
/// are not (no meridian convergence term), so edges are measured with [`distance_to_segment_m`].
#[derive(Clone, Copy, Debug)]
pub struct LocalPlane {
    lon0: f64,
    lat0: f64,
    /// metres per radian of longitude at lat0 (N cos lat0)
    kx: f64,
    /// half the derivative of kx with latitude
    dkx: f64,
    /// metres per radian of latitude at lat0 (M)
    ky: f64,
    /// half the derivative of ky with latitude
    dky: f64,
}

impl LocalPlane {
    pub fn at(origin: [f64; 2]) -> Self {
        let lat0 = origin[1].to_radians();
        let (m, n) = radii(lat0);
        let (s, c) = lat0.sin_cos();
        let w2 = 1.0 - WGS84_E2 * s * s;
        // dN/dlat = N e2 s c / w2; dM/dlat = 3 M e2 s c / w2
        let dn = n * WGS84_E2 * s * c / w2;
        let dm = 3.0 * m * WGS84_E2 * s * c / w2;
        LocalPlane {
            lon0: origin[0].to_radians(),
            lat0,
            kx: n * c,
            dkx: 0.5 * (dn * c - n * s),
            ky: m,
            dky: 0.5 * dm,
        }
    }

    /// Local metres (east, north) of a lon/lat point, for distances from the origin.
    #[inline]
    pub fn project(&self, p: [f64; 2]) -> [f64; 2] {
        self.project_rad(p[0].to_radians(), p[1].to_radians())
    }

    /// As [`project`](Self::project) for a point already in radians.
    #[inline]
    pub fn project_rad(&self, lon: f64, lat: f64) -> [f64; 2] {
        let dlat = lat - self.lat0;
        let dlon = lon - self.lon0;
        [
            dlon * (self.kx + self.dkx * dlat),
            dlat * (self.ky + self.dky * dlat),
        ]
    }

    /// Distance from the plane's origin to a point, metres.
    #[inline]
    pub fn distance_m(&self, p: [f64; 2]) -> f64 {
        let [x, y] = self.project(p);
        x.hypot(y)
    }
}

/// Squared distance between two plane points.
#[inline]
pub fn dist2(a: [f64; 2], b: [f64; 2]) -> f64 {
    let dx = a[0] - b[0];
    let dy = a[1] - b[1];
    dx * dx + dy * dy
}

/// The closest point to `p` on segment `a`-`b` (plane coordinates), with its fraction along the
/// segment in [0, 1].
#[inline]
pub fn closest_on_segment(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> ([f64; 2], f64) {
    let d = [b[0] - a[0], b[1] - a[1]];
    let len2 = d[0] * d[0] + d[1] * d[1];
    let t = if len2 > 0.0 {
        (((p[0] - a[0]) * d[0] + (p[1] - a[1]) * d[1]) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    ([a[0] + t * d[0], a[1] + t * d[1]], t)
}

/// Length of a lon/lat polyline in metres, summing local-plane segment lengths (each track
/// segment is short, so each is measured on the plane at its own start).
pub fn polyline_length_m(coords: &[[f64; 2]]) -> f64 {
    coords
        .windows(2)
        .map(|w| segment_length_m(w[0], w[1]))
        .sum()
}

/// Length of one segment: the local plane for spans under 1 km, the geodesic above.
#[inline]
pub fn segment_length_m(a: [f64; 2], b: [f64; 2]) -> f64 {
    let d = LocalPlane::at(a).distance_m(b);
    if d < 1_000.0 { d } else { geodesic_m(a, b) }
}

/// A lon/lat point on the mean sphere as Earth-centred x, y, z metres.
#[inline]
pub fn to_xyz(p: [f64; 2]) -> [f64; 3] {
    let (lon, lat) = (p[0].to_radians(), p[1].to_radians());
    let c = lat.cos();
    [
        MEAN_RADIUS * c * lon.cos(),
        MEAN_RADIUS * c * lon.sin(),
        MEAN_RADIUS * lat.sin(),
    ]
}

/// Great-circle distance on the mean sphere for a chord length, metres.
#[inline]
pub fn chord_to_arc(chord: f64) -> f64 {
    2.0 * MEAN_RADIUS * (chord / (2.0 * MEAN_RADIUS)).min(1.0).asin()
}

/// Chord length for a great-circle distance on the mean sphere, metres.
#[inline]
pub fn arc_to_chord(arc: f64) -> f64 {
    2.0 * MEAN_RADIUS
        * (arc / (2.0 * MEAN_RADIUS))
            .min(std::f64::consts::FRAC_PI_2)
            .sin()
}

/// Linear interpolation between two lon/lat points (fine for the short spans it is used on).
#[inline]
pub fn lerp(a: [f64; 2], b: [f64; 2], t: f64) -> [f64; 2] {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn geodesic_matches_a_published_value() {
        // (-0.133898, 51.528136) to (-2.230924, 53.477398): 259,448.512 m by
        // pyproj.Geod(ellps="WGS84").inv, an independent implementation (PROJ).
        let d = geodesic_m([-0.133898, 51.528136], [-2.230924, 53.477398]);
        assert!((d - 259_448.512).abs() < 0.01, "got {d}");
    }

    #[test]
    fn one_degree_of_latitude_at_54n_is_about_111_3_km() {
        // Meridian arc 53.5..54.5 N: 111,304.994 m by pyproj.Geod(ellps="WGS84").inv.
        let d = geodesic_m([-2.0, 53.5], [-2.0, 54.5]);
        assert!((d - 111_304.994).abs() < 0.01, "got {d}");
        // and the radius of curvature agrees: M(54 N) * 1 degree
        let (m, _) = radii(54f64.to_radians());
        assert_relative_eq!(m * 1f64.to_radians(), 111_304.994, max_relative = 1e-5);
    }

    #[test]
    fn local_plane_agrees_with_the_geodesic_to_2e5_over_50_km() {
        for o in [[-1.5, 55.0], [0.5, 50.5], [-4.0, 58.5]] {
            let p = LocalPlane::at(o);
            for (dx, dy) in [
                (0.5, 0.3),
                (-0.7, 0.1),
                (0.1, -0.4),
                (0.0, 0.45),
                (0.8, 0.0),
                (-0.4, -0.35),
            ] {
                let q = [o[0] + dx, o[1] + dy];
                assert_relative_eq!(p.distance_m(q), geodesic_m(o, q), max_relative = 2e-5);
            }
        }
    }

    #[test]
    fn distance_to_a_long_edge_matches_a_projected_gis_measurement() {
        // a 20 km east-west edge at 55 N and a point ~500 m north of its middle. Independent:
        // shapely distance in pyproj's AEQD centred on the point = 488.170 m (the edge, straight
        // in the projection, bows 11.8 m north of the parallel).
        let (a, b) = ([-2.16, 55.0], [-1.84, 55.0]);
        let p = [-2.0, 55.0 + 500.0 / 111_350.0];
        let (d, _, t) = distance_to_segment_m(p, a, b);
        assert_relative_eq!(t, 0.5, epsilon = 1e-6);
        assert!((d - 488.170).abs() < 0.001, "{d}");
        let q = aeqd(p, [-2.0, 55.0]);
        assert_relative_eq!(
            q[0].hypot(q[1]),
            geodesic_m(p, [-2.0, 55.0]),
            max_relative = 1e-9
        );
    }

    #[test]
    fn andoyer_lambert_is_within_2e6_of_karney_up_to_1000_km() {
        let mut worst: f64 = 0.0;
        for (a, b) in [
            ([-0.13, 51.53], [-2.23, 53.48]),
            ([-6.0, 50.0], [1.8, 58.5]),
            ([-3.0, 55.0], [-3.0, 55.2]),
            ([-3.0, 55.0], [-2.6, 55.0]),
            ([1.2, 52.6], [-4.2, 57.5]),
            ([-1.0, 50.7], [-0.99, 50.71]),
        ] {
            let k = geodesic_m(a, b);
            worst = worst.max((andoyer_lambert_m(a, b) - k).abs() / k);
        }
        assert!(worst < 2e-6, "{worst}");
    }

    #[test]
    fn chord_and_arc_are_inverse() {
        for a in [1.0, 1_000.0, 250_000.0] {
            assert_relative_eq!(chord_to_arc(arc_to_chord(a)), a, max_relative = 1e-12);
        }
    }

    #[test]
    fn closest_point_is_clamped_to_the_segment() {
        let (c, t) = closest_on_segment([5.0, 5.0], [0.0, 0.0], [10.0, 0.0]);
        assert_eq!((c, t), ([5.0, 0.0], 0.5));
        let (c, t) = closest_on_segment([-3.0, 1.0], [0.0, 0.0], [10.0, 0.0]);
        assert_eq!((c, t), ([0.0, 0.0], 0.0));
    }
}
