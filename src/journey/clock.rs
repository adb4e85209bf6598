//! When journeys happen, in UK local time: the hour-of-day and day-of-week filters and the
//! 7 × 24 clock.
//!
//! - **A journey's time** ([`when`]): `journey.departed_at`, else `journey.encounter.at`, else
//!   the window `journey.time_window` (schema v1.1) when the time is known only within it. A
//!   journey with none of them is *untimed*.
//! - **Local time**: Europe/London from the tz database bundled into the binary (jiff), so
//!   the same instant is the same cell whatever the machine's zone: GMT in winter, BST
//!   (UTC+1) from the last Sunday of March 01:00 UTC to the last Sunday of October 01:00 UTC.
//! - **Cells**: Monday first (row 0) × hours 0–23 (column `h` is `h:00` to `h:59`).
//! - **Aoristic weighting** ([`weights`]): an instant puts weight 1 in its cell; a window
//!   `[from, to)` is spread over the local hours it covers in proportion to the time it spends
//!   in each (Ratcliffe 2002), so its weights sum to 1. UK offsets are whole hours, so local
//!   hours begin on UTC hours and the window is cut at UTC hour boundaries.
//! - **Filters** ([`TimeFilter`]): `hours=H-H` (local, both ends included, wrapping past
//!   midnight when the first is larger: `22-02` is 22:00 to 02:59) and `days=mon,tue,…`; a
//!   journey passes when some part of its time (its instant, or a cell its window covers with
//!   positive weight) is in a selected hour of a selected day. Untimed journeys do not pass.

use super::report::Report;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::sync::OnceLock;

/// The zone of the clock.
pub const TIMEZONE: &str = "Europe/London";
/// The longest `time_window` a report may give (7 days): a time known less well than that is
/// no time of day.
pub const MAX_WINDOW_S: i64 = 7 * 24 * 3600;

/// Europe/London from the bundled tz database.
pub fn london() -> &'static TimeZone {
    static TZ: OnceLock<TimeZone> = OnceLock::new();
    // the database is compiled in (jiff's tzdb-bundle-always), so the lookup cannot miss
    TZ.get_or_init(|| TimeZone::get(TIMEZONE).unwrap_or(TimeZone::UTC))
}

/// Seconds since 1970-01-01T00:00Z of an RFC 3339 time (validated reports only).
fn seconds(s: &str) -> Option<i64> {
    s.parse::<Timestamp>().ok().map(Timestamp::as_second)
}

/// A journey's time, as UTC seconds `[from, to]` (equal for an instant), or None (untimed).
pub fn when(r: &Report) -> Option<(i64, i64)> {
    let j = &r.journey;
    if let Some(t) = j.departed_at.as_deref().and_then(seconds) {
        return Some((t, t));
    }
    if let Some(t) = j
        .encounter
        .as_ref()
        .and_then(|e| e.at.as_deref())
        .and_then(seconds)
    {
        return Some((t, t));
    }
    let w = j.time_window.as_ref()?;
    Some((seconds(&w.from)?, seconds(&w.to)?))
}

/// The local (day, hour) cell of an instant: day 0 is Monday.
pub fn cell(t: i64) -> (usize, usize) {
    let dt = Timestamp::from_second(t)
        .map(|ts| london().to_datetime(ts))
        .unwrap_or_default();
    (
        dt.weekday().to_monday_zero_offset() as usize,
        dt.hour() as usize,
    )
}

/// The cells a time covers and the weight in each (summing to 1): see the module notes.
pub fn weights(from: i64, to: i64) -> Vec<((usize, usize), f64)> {
    if to <= from {
        return vec![(cell(from), 1.0)];
    }
    let total = (to - from) as f64;
    let mut out: Vec<((usize, usize), f64)> = Vec::new();
    let mut t = from;
    while t < to {
        let next = ((t.div_euclid(3600)) + 1) * 3600;
        let end = next.min(to);
        let c = cell(t);
        let w = (end - t) as f64 / total;
        match out.iter_mut().find(|(k, _)| *k == c) {
            Some((_, x)) => *x += w,
            None => out.push((c, w)),
        }
        t = end;
    }
    out
}

/// The 7 × 24 clock: weights per (day, hour), Monday first.
pub type Cells = [[f64; 24]; 7];

/// The clock of some journeys: the cells, and how many were timed and untimed.
pub fn clock<'a>(reports: impl Iterator<Item = &'a Report>) -> (Cells, usize, usize) {
    let mut cells = [[0.0; 24]; 7];
    let (mut timed, mut untimed) = (0, 0);
    for r in reports {
        match when(r) {
            Some((a, b)) => {
                timed += 1;
                for ((d, h), w) in weights(a, b) {
                    cells[d][h] += w;
                }
            }
            None => untimed += 1,
        }
    }
    (cells, timed, untimed)
}

/// The `hours` and `days` filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeFilter {
    /// bit h: local hour h is selected
    pub hours: u32,
    /// bit d: day d (Monday 0) is selected
    pub days: u8,
}

/// Day names of `days=`, Monday first.
pub const DAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl TimeFilter {
    /// Every hour of every day.
    pub const ANY: TimeFilter = TimeFilter {
        hours: (1 << 24) - 1,
        days: (1 << 7) - 1,
    };

    /// `H-H`: local hours, both included, wrapping past midnight.
    pub fn parse_hours(s: &str) -> Result<u32, String> {
        let bad = || format!("\"{s}\" is not hours H-H (0 to 23, e.g. 15-19 or 22-02)");
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let h = |x: &str| x.trim().parse::<u32>().ok().filter(|&v| v < 24);
        let (a, b) = (h(a).ok_or_else(bad)?, h(b).ok_or_else(bad)?);
        let mut bits = 0;
        let mut x = a;
        loop {
            bits |= 1 << x;
            if x == b {
                break;
            }
            x = (x + 1) % 24;
        }
        Ok(bits)
    }

    /// `mon,tue,…`.
    pub fn parse_days(s: &str) -> Result<u8, String> {
        s.split(',')
            .map(|d| {
                let d = d.trim().to_ascii_lowercase();
                DAYS.iter()
                    .position(|&x| x == d)
                    .map(|i| 1u8 << i)
                    .ok_or_else(|| format!("\"{d}\" is not one of {}", DAYS.join(", ")))
            })
            .try_fold(0u8, |acc, b| b.map(|b| acc | b))
    }

    fn holds(&self, (d, h): (usize, usize)) -> bool {
        self.days & (1 << d) != 0 && self.hours & (1 << h) != 0
    }

    /// Whether a journey's time is in the selection (untimed: no).
    pub fn passes(&self, r: &Report) -> bool {
        match when(r) {
            None => false,
            Some((a, b)) if b <= a => self.holds(cell(a)),
            Some((a, b)) => weights(a, b)
                .into_iter()
                .any(|(c, w)| w > 0.0 && self.holds(c)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> i64 {
        seconds(s).unwrap()
    }

    #[test]
    fn local_cells_follow_gmt_and_bst() {
        // 2024-03-31 (Sunday) the clocks went forward at 01:00 UTC: 00:30Z is 00:30 GMT,
        // 01:30Z is 02:30 BST
        assert_eq!(cell(t("2024-03-31T00:30:00Z")), (6, 0));
        assert_eq!(cell(t("2024-03-31T01:30:00Z")), (6, 2));
        // 2024-10-27 (Sunday) back at 01:00 UTC: 00:30Z is 01:30 BST, 01:30Z is 01:30 GMT
        assert_eq!(cell(t("2024-10-27T00:30:00Z")), (6, 1));
        assert_eq!(cell(t("2024-10-27T01:30:00Z")), (6, 1));
        // a Monday in summer, late evening UTC, is already Tuesday locally
        assert_eq!(cell(t("2024-07-01T23:15:00Z")), (1, 0));
    }

    #[test]
    fn a_window_is_spread_over_the_hours_it_covers() {
        // 2024-01-08 (Monday, GMT) 14:30 to 16:00: half an hour in 14, an hour in 15
        let w = weights(t("2024-01-08T14:30:00Z"), t("2024-01-08T16:00:00Z"));
        assert_eq!(w, vec![((0, 14), 1.0 / 3.0), ((0, 15), 2.0 / 3.0)]);
        // across the October change 00:00Z to 02:00Z: 01:00-02:00 BST then 01:00-02:00 GMT,
        // both local hour 1; and 00:00Z is 01:00 BST
        let w = weights(t("2024-10-27T00:00:00Z"), t("2024-10-27T02:00:00Z"));
        assert_eq!(w, vec![((6, 1), 1.0)]);
    }

    #[test]
    fn hours_wrap_past_midnight_and_days_are_named() {
        assert_eq!(TimeFilter::parse_hours("15-19"), Ok(0b11111 << 15));
        assert_eq!(
            TimeFilter::parse_hours("22-02"),
            Ok((1 << 22) | (1 << 23) | 0b111)
        );
        assert_eq!(TimeFilter::parse_hours("7-7"), Ok(1 << 7));
        assert!(TimeFilter::parse_hours("24-1").is_err());
        assert!(TimeFilter::parse_hours("5").is_err());
        assert_eq!(TimeFilter::parse_days("mon,SUN"), Ok(0b1000001));
        assert!(TimeFilter::parse_days("mon,xyz").is_err());
    }
}
