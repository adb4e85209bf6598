//! GeoJSON coordinates written straight to bytes: the text serde_json writes for a position
//! rounded to 1e-7 degrees (`round7`), without a float formatter per number.
//!
//! Why the text is the same: `round7(v)` is `r / 1e7` for the whole number `r = round(v·1e7)`,
//! the double nearest the decimal `D = r/10⁷` (the division is correctly rounded). serde_json
//! prints a double with ryu: the shortest decimal that reads back as the same double. `D`
//! reads back as it, and no other decimal as short or shorter does while |D| < 10⁸: such a
//! decimal would also be a multiple of 10⁻⁷ (it has no more significant digits and about the
//! same magnitude), so it would differ from `D` by at least 10⁻⁷, while every decimal that
//! reads back as the double lies within one unit in the last place of it (under 1.5·10⁻⁸).
//! So the digits are `D`'s, trailing zeros dropped; ryu lays them out as `D` is written here
//! (`51.5`, `52.0`, `-0.0001`) except for magnitudes under 10⁻⁵, which it writes with an
//! exponent (`1.2e-6`): those (|r| < 100), zeros' signs aside, and anything non-finite or
//! large are handed to serde_json itself. Tested against serde_json below and in
//! `tests/it/filter.rs` (whole pages).

/// Writes `round7(v)` as serde_json writes it.
pub fn write_round7(out: &mut Vec<u8>, v: f64) {
    let r = (v * 1e7).round();
    if r == 0.0 {
        // 0.0 and -0.0 (a negative value rounded to zero keeps its sign)
        out.extend_from_slice(if r.is_sign_negative() {
            b"-0.0"
        } else {
            b"0.0"
        });
        return;
    }
    let a = r.abs();
    if !(100.0..1e15).contains(&a) {
        // an exponent in ryu's layout, or not a number: serde_json's own text
        write_serde(out, r / 1e7);
        return;
    }
    if r < 0.0 {
        out.push(b'-');
    }
    let a = a as u64;
    write_u64(out, a / 10_000_000);
    out.push(b'.');
    let frac = a % 10_000_000;
    if frac == 0 {
        out.push(b'0');
        return;
    }
    // seven digits, zero-padded, trailing zeros dropped
    let mut digits = [b'0'; 7];
    let mut f = frac;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (f % 10) as u8;
        f /= 10;
    }
    let mut n = 7;
    while digits[n - 1] == b'0' {
        n -= 1;
    }
    out.extend_from_slice(&digits[..n]);
}

/// A number as serde_json writes it (`null` when not finite).
pub fn write_serde(out: &mut Vec<u8>, v: f64) {
    // writing to a Vec cannot fail, nor can serialising a number
    let _ = serde_json::to_writer(&mut *out, &v);
}

/// Writes a whole number in decimal.
fn write_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Writes a LineString's positions (lon/lat) as serde_json writes `[[round7(x), round7(y)],
/// …]` in `crs` (CRS84 as given, EPSG:4326 with latitude first, EPSG:27700 projected and not
/// rounded, written by serde_json).
pub fn write_positions(out: &mut Vec<u8>, coords: &[[f64; 2]], crs: super::crs::Crs) {
    use super::crs::Crs;
    out.push(b'[');
    for (k, p) in coords.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        let (a, b) = match crs {
            Crs::Crs84 => (p[0], p[1]),
            Crs::Epsg4326 => (p[1], p[0]),
            Crs::Epsg27700 => {
                let _ = serde_json::to_writer(&mut *out, &crs.from_lonlat(*p));
                continue;
            }
        };
        write_pair(out, [a, b]);
    }
    out.push(b']');
}

/// The rail chains' vertices as CRS84 text, written once: a route along the track is written
/// by copying the runs of vertices it follows rather than formatting each number again (a page
/// of 100 rail journeys is about 100,000 positions). The text is what [`write_positions`]
/// writes for the same points, so a route written from it is byte for byte the same.
pub struct ChainText {
    /// per chain: its vertices' text `[x,y],[x,y],…` and where each vertex's `[` starts (one
    /// more entry, one past the end, as if a comma followed the last); `None` for a chain the
    /// copies cannot stand for (fewer than two vertices, or a vertex equal to the one before
    /// it, which [`crate::geography::rail::Chain::append_slice`] would not repeat)
    chains: Vec<Option<VertexText>>,
}

/// A chain's vertices as text, and where each vertex's `[` starts (see [`ChainText`]).
type VertexText = (Box<[u8]>, Box<[u32]>);

impl ChainText {
    pub fn build(rail: &crate::geography::rail::RailGraph) -> ChainText {
        let chains = rail
            .chains()
            .iter()
            .map(|c| {
                let clean = c.coords.len() >= 2 && c.coords.windows(2).all(|w| w[0] != w[1]);
                if !clean {
                    return None;
                }
                let mut text = Vec::with_capacity(c.coords.len() * 24);
                let mut at = Vec::with_capacity(c.coords.len() + 1);
                for (k, p) in c.coords.iter().enumerate() {
                    if k > 0 {
                        text.push(b',');
                    }
                    at.push(u32::try_from(text.len()).ok()?);
                    write_pair(&mut text, *p);
                }
                at.push(u32::try_from(text.len() + 1).ok()?);
                Some((text.into_boxed_slice(), at.into_boxed_slice()))
            })
            .collect();
        ChainText { chains }
    }

    /// Writes the positions of a route made of rail pieces (`(chain, from, to)` offsets, as
    /// [`crate::journey::map::MappedRoute::coords`] reads them) in CRS84, as
    /// [`write_positions`] writes those coords. False (nothing written) when a piece's chain
    /// has no text: the caller writes the coords.
    pub fn write_route(
        &self,
        out: &mut Vec<u8>,
        rail: &crate::geography::rail::RailGraph,
        pieces: &[crate::geography::rail::Piece],
    ) -> bool {
        let chains = rail.chains();
        if !pieces.iter().all(|&(c, ..)| {
            chains.get(c as usize).is_some()
                && self.chains.get(c as usize).is_some_and(Option::is_some)
        }) {
            return false;
        }
        out.push(b'[');
        let mut w = RunWriter {
            out,
            last: None,
            count: 0,
            first: (0, 0),
        };
        for &(c, from, to) in pieces {
            let (chain, Some((text, at))) = (&chains[c as usize], &self.chains[c as usize]) else {
                // checked above
                continue;
            };
            let (i, j) = (chain.segment_at(from), chain.segment_at(to));
            w.point(chain.point_at(from));
            if from <= to {
                // vertices i+1..=j, in order: the first may equal the point before it; the
                // rest differ from their neighbours (a clean chain)
                let mut a = i + 1;
                if a <= j && w.last == Some(chain.coords[a]) {
                    a += 1;
                }
                if a <= j {
                    let from_byte = at[a] as usize;
                    let to_byte = at[j + 1] as usize - 1;
                    w.copied(&text[from_byte..to_byte], j + 1 - a, chain.coords[j]);
                }
            } else {
                for k in (j + 1..=i).rev() {
                    let p = chain.coords[k];
                    if w.last != Some(p) {
                        w.copied(&text[at[k] as usize..at[k + 1] as usize - 1], 1, p);
                    }
                }
            }
            w.point(chain.point_at(to));
        }
        if w.count == 1 {
            // a route of one point is written as two (as `coords` gives it)
            let (a, b) = w.first;
            w.out.push(b',');
            w.out.extend_from_within(a..b);
        }
        out.push(b']');
        true
    }
}

/// Positions written one after another, each not equal to the one before it.
struct RunWriter<'a> {
    out: &'a mut Vec<u8>,
    last: Option<[f64; 2]>,
    /// positions written
    count: usize,
    /// the first position's bytes in `out`
    first: (usize, usize),
}

impl RunWriter<'_> {
    fn separator(&mut self) {
        if self.count > 0 {
            self.out.push(b',');
        }
    }

    /// A point, formatted, unless it equals the last.
    fn point(&mut self, p: [f64; 2]) {
        if self.last == Some(p) {
            return;
        }
        self.separator();
        let a = self.out.len();
        write_pair(self.out, p);
        if self.count == 0 {
            self.first = (a, self.out.len());
        }
        self.count += 1;
        self.last = Some(p);
    }

    /// `n` positions already formatted (joined by commas), the last of them `last`; the first
    /// differs from the point before it.
    fn copied(&mut self, text: &[u8], n: usize, last: [f64; 2]) {
        self.separator();
        let a = self.out.len();
        self.out.extend_from_slice(text);
        if self.count == 0 {
            // the first position's text runs to the first comma
            let end = text
                .iter()
                .position(|&b| b == b']')
                .map_or(text.len(), |e| e + 1);
            self.first = (a, a + end);
        }
        self.count += n;
        self.last = Some(last);
    }
}

/// `[round7(x),round7(y)]`.
fn write_pair(out: &mut Vec<u8>, p: [f64; 2]) {
    out.push(b'[');
    write_round7(out, p[0]);
    out.push(b',');
    write_round7(out, p[1]);
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde_text(v: f64) -> String {
        serde_json::to_string(&crate::http::round7(v)).unwrap_or_default()
    }

    fn ours(v: f64) -> String {
        let mut out = Vec::new();
        write_round7(&mut out, v);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn a_rounded_coordinate_is_written_as_serde_json_writes_it() {
        let mut cases = vec![
            0.0,
            -0.0,
            1e-9,
            -1e-9,
            5e-8,
            -5e-8,
            4.9999999e-8,
            1e-7,
            -1e-7,
            1.5e-7,
            9.9e-6,
            9.94e-6,
            9.96e-6,
            1e-5,
            -1e-5,
            1.00000001e-5,
            0.0001,
            0.1,
            -0.1,
            0.3,
            1.0,
            -1.0,
            52.0,
            -52.0,
            100.0,
            180.0,
            -180.0,
            90.0,
            51.5,
            -0.1276,
            51.5072,
            -3.1883,
            53.4084,
            1.23456785,
            1.23456775,
            -1.23456785,
            0.00000015,
            0.00000025,
            59.99999995,
            59.999999949,
            -2.99999995,
            123456.1234567,
            9_999_999.9999999,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
        ];
        // every value near each multiple of 1e-7 in a few stretches (boundaries of rounding
        // and of the layouts) and random ones over GB and the world
        for base in [
            0i64,
            99,
            100,
            9_990,
            10_000_000,
            515_072_000,
            -1_276_000,
            -100,
        ] {
            for k in -60i64..60 {
                let r = base + k;
                let x = r as f64 / 1e7;
                for d in [
                    -5.000001e-8,
                    -5e-8,
                    -4.99999e-8,
                    0.0,
                    4.99999e-8,
                    5e-8,
                    5.000001e-8,
                ] {
                    cases.push(x + d);
                }
                cases.push(x);
                cases.push(f64::from_bits(x.to_bits() + 1));
                cases.push(f64::from_bits(x.to_bits().saturating_sub(1)));
            }
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..200_000 {
            cases.push(-8.7 + next() * 10.6);
            cases.push(49.8 + next() * 11.0);
            cases.push((next() - 0.5) * 360.0);
            cases.push((next() - 0.5) * 2e-4);
            cases.push(((next() - 0.5) * 3.6e9).round() / 1e7);
        }
        for v in cases {
            assert_eq!(ours(v), serde_text(v), "{v:e} ({:#x})", v.to_bits());
        }
    }

    #[test]
    fn positions_are_written_as_serde_json_writes_the_rounded_pairs_in_each_crs() {
        use crate::http::crs::Crs;
        let coords = [
            [-0.1276, 51.5072],
            [-0.00000004, 51.49999996],
            [0.0, 52.0],
            [1e-6, -1e-6],
            [-3.18830001, 55.95325],
        ];
        for crs in [Crs::Crs84, Crs::Epsg4326, Crs::Epsg27700] {
            let want: Vec<serde_json::Value> = coords
                .iter()
                .map(|p| {
                    let q = [crate::http::round7(p[0]), crate::http::round7(p[1])];
                    match crs {
                        Crs::Crs84 => serde_json::json!(q),
                        Crs::Epsg4326 => serde_json::json!([q[1], q[0]]),
                        Crs::Epsg27700 => serde_json::json!(crs.from_lonlat(*p)),
                    }
                })
                .collect();
            let mut out = Vec::new();
            write_positions(&mut out, &coords, crs);
            assert_eq!(
                String::from_utf8(out).unwrap_or_default(),
                serde_json::to_string(&want).unwrap_or_default()
            );
            let mut empty = Vec::new();
            write_positions(&mut empty, &[], crs);
            assert_eq!(empty, b"[]");
        }
    }
}
