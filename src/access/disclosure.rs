//! Statistical disclosure control for `viewer`s: every count below `k` is suppressed (`null`,
//! or an empty CSV cell) and every other count is rounded to a multiple of `base` (5).
//!
//! The rounding is random but keyed: a count `c` with remainder `r = c mod 5` rounds up with
//! probability `r / 5` (so published counts are unbiased), and the draw is a keyed hash of the
//! cell (station, force, force pair, track section or period, and the column) and of `c`
//! itself. So the same cell with the same count always gets the same answer, however the query
//! is spelt (asking again, or through another endpoint, averages nothing away), while nobody
//! without the server's key can tell which way a count went. Every published count is a
//! multiple of 5 or suppressed, so no difference of published numbers (overlapping boxes,
//! adjacent date ranges, a total minus its parts) equals a count of 1 to 4. Suppression is
//! decided on the true count, so no published cell ever stands for fewer than `k` journeys,
//! persons or children. Zero is suppressed like any count below `k`, so a suppressed cell does
//! not even say "some". Quantities derived from counts are recomputed from the published ones:
//! `net` from published exports and imports, `rate_per_million` from published journeys, and
//! the Gi* statistic (by the hotspot layer) from published station counts.
//!
//! The server publishes on typed rows ([`Disclosure::publish_cells`], each row type's
//! `publish` in [`crate::layers::rows`]) before anything is written. [`Disclosure::json`] and
//! [`Disclosure::csv`] are the same rule by field name over a written answer: not on the
//! server's path, they are what the tests hold published answers to (an answer published on
//! its rows is their fixed point, and a viewer's answer equals them applied to the exact one
//! wherever the statistic does not depend on the counts).

use super::Pseudonyms;
use serde_json::Value;

/// Count columns: suppressed and rounded wherever they appear (numbers only: `cross_border`
/// is a flag in flow rows and a count in trend buckets).
pub const COUNT_FIELDS: &[&str] = &[
    "journeys",
    "persons",
    "children",
    "starts",
    "ends",
    "passes",
    "rail_journeys",
    "cross_border",
    "rail",
    "lines",
    "nrm_referrals",
    "safeguarding_referrals",
    "imports",
    "exports",
    "unplaced",
    // line-direction flows and corridors
    "return_runs",
    "internal_lines",
    "external_lines",
    "btp_reported",
    "btp_joint",
    // distinct person keys (every layer) and the treatment table (issue 15)
    "distinct_persons",
    "distinct_children",
    "encounters",
    "recognised_as_victim",
    "safeguarding_referred",
    "nrm_referred",
    "arrested",
    "charged",
    "nfa",
    "known_age_band",
    "victim_status_recorded",
    "vulnerability_flagged",
    // station measures (hotspots)
    "stops",
    "boardings",
    "alightings",
    "interchanges",
    "on_route",
    // the clock and the hours/days filters
    "timed",
    "untimed",
    "untimed_excluded",
];

/// Whether `name` is a count column: one of [`COUNT_FIELDS`], or a seizure and grading total
/// ([`crate::journey::carried::Totals::COLUMNS`]) other than money ([`OMITTED_FIELDS`]).
pub fn is_count(name: &str) -> bool {
    COUNT_FIELDS.contains(&name) || seizure_counts().any(|c| c == name)
}

/// The seizure and grading totals that are counts (all but the money).
fn seizure_counts() -> impl Iterator<Item = &'static str> {
    crate::journey::carried::Totals::COLUMNS
        .iter()
        .copied()
        .filter(|c| !OMITTED_FIELDS.contains(c))
}

/// Every count column: [`COUNT_FIELDS`] and the seizure and grading counts.
fn count_columns() -> impl Iterator<Item = &'static str> {
    COUNT_FIELDS.iter().copied().chain(seizure_counts())
}

/// Sums that are not counts (money): never published to viewers (`null`, an empty CSV cell),
/// since one seizure's amount would show through whatever the journey count.
pub const OMITTED_FIELDS: &[&str] = &["cash_gbp"];

/// Objects of derived values (shares, funnel positions) that their endpoint has already
/// computed from the published counts: not walked, as their keys repeat the count names.
const DERIVED_OBJECTS: &[&str] = &["rates", "funnel", "shares"];

/// Columns that are another name for the same count: they share the rounding draw, so the two
/// always publish the same value (two independent roundings of one count would narrow it).
fn draw_column(column: &str) -> &str {
    match column {
        "boardings" => "starts",
        "alightings" => "ends",
        c => c,
    }
}

/// The count a row's `rate_per_million` is computed from: its `measure`'s field (hotspots),
/// else `journeys`.
fn rate_field(measure: Option<&str>) -> &'static str {
    measure
        .and_then(crate::layers::Measure::parse)
        .map_or("journeys", crate::layers::Measure::field)
}

/// Fields naming the cell a row describes (its identity for the rounding draw).
const ID_FIELDS: &[&str] = &[
    "crs",
    "code",
    "section",
    "origin_force",
    "destination_force",
    "period_start",
    "hub_station",
    "market_station",
];

pub struct Disclosure {
    /// counts below this are suppressed
    pub k: u32,
    /// published counts are multiples of this
    pub base: u32,
    keys: Pseudonyms,
}

impl Disclosure {
    pub fn new(k: u32, base: u32, keys: Pseudonyms) -> Disclosure {
        Disclosure {
            k: k.max(1),
            base: base.max(1),
            keys,
        }
    }

    /// The published value of count `c` in `column` of the cell `cell`.
    pub fn publish(&self, cell: &str, column: &str, c: u64) -> Option<u64> {
        if c < u64::from(self.k) {
            return None;
        }
        let base = u64::from(self.base);
        let r = c % base;
        if r == 0 {
            return Some(c);
        }
        let column = draw_column(column);
        let u = self
            .keys
            .uniform(&[cell.as_bytes(), column.as_bytes(), c.to_string().as_bytes()]);
        Some(if u < r as f64 / base as f64 {
            c - r + base
        } else {
            c - r
        })
    }

    /// The cell of a typed row with identifying fields `ids` (name, value): the same string
    /// the rendered row's fields give ([`ID_FIELDS`] order), so a row published on the rows
    /// and the same row published in a rendered answer draw alike.
    pub fn cell(ids: &[(&str, &str)]) -> String {
        identity(|k| {
            ids.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_string())
        })
    }

    /// Publishes a typed row's cells in place (aligned with `columns`): every count column's
    /// count published in `cell` ([`Self::publish`]), money withheld. What is derived from
    /// counts (net, rates, Gi*) the row derives after, from the published cells.
    pub fn publish_cells<'c>(
        &self,
        cell: &str,
        columns: impl Iterator<Item = &'c str>,
        cells: &mut [crate::layers::rows::Cell],
    ) {
        use crate::layers::rows::Cell;
        for (column, c) in columns.zip(cells.iter_mut()) {
            if OMITTED_FIELDS.contains(&column) {
                *c = Cell::Money(None);
            } else if let Cell::Count(Some(n)) = *c
                && is_count(column)
            {
                *c = Cell::Count(self.publish(cell, column, n));
            }
        }
    }

    /// The rate per million entries and exits of a published count (`None` without one, or
    /// without footfall), as a viewer's answers give it wherever it is written.
    pub fn rate_per_million(count: Option<u64>, entries: Option<u64>) -> Option<f64> {
        rate(count, entries)
    }

    /// The note every disclosed response carries.
    pub fn notice(&self) -> Value {
        serde_json::json!({
            "applied": true,
            "suppressed_below": self.k,
            "rounded_to_base": self.base,
            "method": format!(
                "counts below {} are suppressed (null); others are rounded to a multiple of {} (keyed random rounding, the same for the same cell and count); net, rates and Gi* are computed from the published counts",
                self.k, self.base
            ),
        })
    }

    /// The header value saying that disclosure control was applied.
    pub fn header(&self) -> String {
        format!("suppressed-below={}; rounded-to-base={}", self.k, self.base)
    }

    /// Applies disclosure control to a written JSON answer in place, finding the counts by field
    /// name; adds `disclosure` to a top-level object (the tests' reference rule).
    pub fn json(&self, v: &mut Value) {
        self.walk(v);
        if let Value::Object(o) = v {
            o.insert("disclosure".into(), self.notice());
        }
    }

    /// Applies disclosure control to one row or feature in place (what [`Self::json`] does to
    /// each, without the notice): a filter on a viewer's features compares published counts.
    pub fn row(&self, v: &mut Value) {
        self.walk(v);
    }

    fn walk(&self, v: &mut Value) {
        match v {
            Value::Array(a) => a.iter_mut().for_each(|x| self.walk(x)),
            Value::Object(o) => {
                let cell = identity(|k| o.get(k).map(value_text));
                for f in count_columns() {
                    if let Some(Value::Number(n)) = o.get(f) {
                        let c = n.as_u64().or_else(|| n.as_f64().map(|x| x.max(0.0) as u64));
                        let p = c.and_then(|c| self.publish(&cell, f, c));
                        o.insert(f.into(), p.map_or(Value::Null, Value::from));
                    }
                }
                for &f in OMITTED_FIELDS {
                    if let Some(x) = o.get_mut(f) {
                        *x = Value::Null;
                    }
                }
                if o.contains_key("net") {
                    let net = match (o.get("exports"), o.get("imports")) {
                        (Some(Value::Number(e)), Some(Value::Number(i))) => {
                            match (e.as_i64(), i.as_i64()) {
                                (Some(e), Some(i)) => Value::from(e - i),
                                _ => Value::Null,
                            }
                        }
                        _ => Value::Null,
                    };
                    o.insert("net".into(), net);
                }
                if o.contains_key("rate_per_million") {
                    let field = rate_field(o.get("measure").and_then(Value::as_str));
                    let low = o.get("low_footfall") == Some(&Value::Bool(true));
                    let rate = rate(
                        o.get(field).and_then(Value::as_u64).filter(|_| !low),
                        o.get("entries_exits_2019_20").and_then(Value::as_u64),
                    );
                    o.insert(
                        "rate_per_million".into(),
                        rate.map_or(Value::Null, Value::from),
                    );
                }
                for (k, x) in o.iter_mut() {
                    if matches!(x, Value::Object(_) | Value::Array(_))
                        && k != "geometry"
                        && !DERIVED_OBJECTS.contains(&k.as_str())
                    {
                        self.walk(x);
                    }
                }
            }
            _ => {}
        }
    }

    /// Applies disclosure control to a written CSV table (header row first), finding the counts
    /// by column name (the tests' reference rule).
    pub fn csv(&self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        let mut r = csv::ReaderBuilder::new().from_reader(bytes);
        let head: Vec<String> = r
            .headers()
            .map_err(|e| e.to_string())?
            .iter()
            .map(str::to_string)
            .collect();
        let col = |name: &str| head.iter().position(|h| h == name);
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&head).map_err(|e| e.to_string())?;
        for rec in r.records() {
            let rec = rec.map_err(|e| e.to_string())?;
            let mut row: Vec<String> = rec.iter().map(str::to_string).collect();
            let cell = identity(|k| col(k).map(|i| row[i].clone()));
            for f in count_columns() {
                if let Some(i) = col(f)
                    && let Ok(c) = row[i].parse::<u64>()
                {
                    row[i] = self
                        .publish(&cell, f, c)
                        .map_or(String::new(), |p| p.to_string());
                }
            }
            for &f in OMITTED_FIELDS {
                if let Some(i) = col(f) {
                    row[i] = String::new();
                }
            }
            let num =
                |row: &[String], name: &str| col(name).and_then(|i| row[i].parse::<i64>().ok());
            if let Some(i) = col("net") {
                row[i] = match (num(&row, "exports"), num(&row, "imports")) {
                    (Some(e), Some(m)) => (e - m).to_string(),
                    _ => String::new(),
                };
            }
            if let Some(i) = col("rate_per_million") {
                let field = rate_field(col("measure").map(|m| row[m].as_str()));
                let low = col("low_footfall").is_some_and(|l| row[l] == "true");
                let j = num(&row, field).map(|x| x as u64).filter(|_| !low);
                let n = num(&row, "entries_exits_2019_20").map(|x| x as u64);
                row[i] = rate(j, n).map_or(String::new(), |x| x.to_string());
            }
            w.write_record(&row).map_err(|e| e.to_string())?;
        }
        w.into_inner().map_err(|e| e.to_string())
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `crs=ABC|code=…`: the identifying fields a row has, in a fixed order.
fn identity(get: impl Fn(&str) -> Option<String>) -> String {
    let mut s = String::new();
    for k in ID_FIELDS {
        if let Some(v) = get(k) {
            s.push_str(k);
            s.push('=');
            s.push_str(&v);
            s.push('|');
        }
    }
    s
}

/// A count per million annual entries and exits, to 1e-6: from a published count, a rate a
/// viewer may be shown.
fn rate(journeys: Option<u64>, entries: Option<u64>) -> Option<f64> {
    match (journeys, entries) {
        (Some(j), Some(n)) if n > 0 => Some((j as f64 * 1e6 / n as f64 * 1e6).round() / 1e6),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d() -> Disclosure {
        Disclosure::new(5, 5, Pseudonyms::new(b"test key, not a secret".to_vec()))
    }

    #[test]
    fn small_counts_are_suppressed_and_others_rounded_to_base_5() {
        let d = d();
        for c in 0..5 {
            assert_eq!(d.publish("crs=AAA|", "journeys", c), None, "{c}");
        }
        for c in 5..500u64 {
            let p = d.publish("crs=AAA|", "journeys", c).unwrap();
            assert_eq!(p % 5, 0, "{c} -> {p}");
            assert!(p.abs_diff(c) < 5, "{c} -> {p}");
            assert!(p >= 5, "{c} -> {p}");
            // Consistent: the same cell and count give the same answer every time.
            assert_eq!(d.publish("crs=AAA|", "journeys", c), Some(p));
        }
        assert_eq!(d.publish("x", "journeys", 10), Some(10));
    }

    #[test]
    fn rounding_is_unbiased_over_many_cells() {
        // Count 7 rounds up (to 10) with probability 2/5 and down (to 5) with 3/5.
        let d = d();
        let n = 20_000;
        let up = (0..n)
            .filter(|i| d.publish(&format!("crs={i}|"), "journeys", 7) == Some(10))
            .count();
        let share = up as f64 / n as f64;
        // Binomial(20000, 0.4): sd 0.0035; 5 sd either side.
        assert!((share - 0.4).abs() < 0.018, "{share}");
    }

    #[test]
    fn json_rows_lose_small_counts_and_derived_values_follow() {
        let d = d();
        let mut v = json!({
            "features": [{"type": "Feature", "id": "E1", "geometry": {"type": "Point", "coordinates": [1, 2]},
                "properties": {"code": "E1", "exports": 3, "imports": 40, "net": -37}},
                {"properties": {"crs": "AAA", "journeys": 20, "children": 2, "entries_exits_2019_20": 1000000, "rate_per_million": 20.0}}],
            "numberMatched": 2,
        });
        d.json(&mut v);
        let p = &v["features"][0]["properties"];
        assert_eq!(p["exports"], Value::Null);
        assert_eq!(p["imports"], json!(40));
        assert_eq!(
            p["net"],
            Value::Null,
            "net of a suppressed count is suppressed"
        );
        let q = &v["features"][1]["properties"];
        assert_eq!(q["journeys"], json!(20));
        assert_eq!(q["children"], Value::Null);
        assert_eq!(q["rate_per_million"], json!(20.0));
        assert_eq!(
            v["numberMatched"],
            json!(2),
            "feature counts are not journey counts"
        );
        assert_eq!(v["features"][0]["geometry"]["coordinates"], json!([1, 2]));
        assert_eq!(v["disclosure"]["suppressed_below"], json!(5));
    }

    #[test]
    fn csv_and_json_publish_the_same_value_for_the_same_cell() {
        let d = d();
        let csv = b"crs,name,journeys,children\nAAA,\"A, station\",13,4\nBBB,B,7,0\n";
        let out = String::from_utf8(d.csv(csv).unwrap()).unwrap();
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("crs,name,journeys,children"));
        let j13 = d.publish("crs=AAA|", "journeys", 13).unwrap();
        let j7 = d.publish("crs=BBB|", "journeys", 7).unwrap();
        assert_eq!(
            lines.next(),
            Some(format!("AAA,\"A, station\",{j13},").as_str())
        );
        assert_eq!(lines.next(), Some(format!("BBB,B,{j7},").as_str()));
        let mut v = json!({"crs": "AAA", "journeys": 13});
        d.json(&mut v);
        assert_eq!(v["journeys"], json!(j13));
    }
}
