//! Review and retention under the Management of Police Information code (MoPI): each report
//! comes up for review a fixed period after its journey date (`serve --review-after`, 6 years by
//! default), unless an admin set another date for it (a `retain` decision). Pure date rules;
//! the queue itself is read from the store (`crate::store::review_queue`).

use time::{Date, Duration, Month};

/// A review period: years, months or days (`6y`, `18m`, `90d`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewAfter {
    Months(u32),
    Days(u32),
}

impl Default for ReviewAfter {
    /// Six years (MoPI's group 3 default review period).
    fn default() -> Self {
        ReviewAfter::Months(72)
    }
}

impl std::fmt::Display for ReviewAfter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            ReviewAfter::Months(m) if m % 12 == 0 => write!(f, "{}y", m / 12),
            ReviewAfter::Months(m) => write!(f, "{m}m"),
            ReviewAfter::Days(d) => write!(f, "{d}d"),
        }
    }
}

impl ReviewAfter {
    /// Parses `6y`, `18m` or `90d` (a whole number from 1, at most 100 years).
    pub fn parse(s: &str) -> Result<ReviewAfter, String> {
        let s = s.trim();
        let bad = || format!("\"{s}\" is not a review period such as 6y, 18m or 90d");
        let (num, unit) = s.split_at(s.len().saturating_sub(1));
        let n: u32 = num.parse().map_err(|_| bad())?;
        let r = match unit {
            "y" => ReviewAfter::Months(n.checked_mul(12).ok_or_else(bad)?),
            "m" => ReviewAfter::Months(n),
            "d" => ReviewAfter::Days(n),
            _ => return Err(bad()),
        };
        let days = match r {
            ReviewAfter::Months(m) => i64::from(m) * 31,
            ReviewAfter::Days(d) => i64::from(d),
        };
        if n == 0 || days > 100 * 366 {
            return Err(format!("{s}: a review period is from 1 day to 100 years"));
        }
        Ok(r)
    }

    /// The review date of a journey on `journey`: the same day of the month `n` months on
    /// (the last day of a shorter month: 29 February + 1 year is 28 February), or `n` days on.
    pub fn after(self, journey: Date) -> Date {
        match self {
            ReviewAfter::Days(d) => journey.saturating_add(Duration::days(i64::from(d))),
            ReviewAfter::Months(m) => add_months(journey, m),
        }
    }

    /// A journey date before which every journey is due before `due_before`, give or take the
    /// days a month's end can move a date (a bound for the store's query; the exact test is
    /// [`ReviewAfter::after`]): every journey whose review date is before `due_before` has a
    /// journey date before this one.
    pub fn journeys_before(self, due_before: Date) -> Date {
        let back = match self {
            ReviewAfter::Days(d) => due_before.saturating_sub(Duration::days(i64::from(d))),
            ReviewAfter::Months(m) => sub_months(due_before, m),
        };
        // month ends fold at most 3 days into one: 8 days of slack cover it
        back.saturating_add(Duration::days(8))
    }
}

fn from_months(total: i64, day: u8) -> Date {
    let year = total.div_euclid(12) as i32;
    let month = Month::try_from((total.rem_euclid(12) + 1) as u8).unwrap_or(Month::January);
    let day = day.min(month.length(year));
    Date::from_calendar_date(year, month, day).unwrap_or(Date::MAX)
}

fn add_months(d: Date, m: u32) -> Date {
    let total = i64::from(d.year()) * 12 + i64::from(d.month() as u8 - 1) + i64::from(m);
    from_months(total, d.day())
}

fn sub_months(d: Date, m: u32) -> Date {
    let total = i64::from(d.year()) * 12 + i64::from(d.month() as u8 - 1) - i64::from(m);
    from_months(total, d.day())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn periods_parse_and_print() {
        assert_eq!(ReviewAfter::parse("6y"), Ok(ReviewAfter::Months(72)));
        assert_eq!(ReviewAfter::parse("18m"), Ok(ReviewAfter::Months(18)));
        assert_eq!(ReviewAfter::parse("90d"), Ok(ReviewAfter::Days(90)));
        assert_eq!(ReviewAfter::default().to_string(), "6y");
        assert_eq!(ReviewAfter::Months(18).to_string(), "18m");
        for bad in ["", "y", "6", "6w", "-1y", "0d", "101y", "1.5y", "6 y"] {
            assert!(ReviewAfter::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn review_dates_keep_the_day_or_take_the_months_last() {
        let six = ReviewAfter::Months(72);
        assert_eq!(six.after(date!(2018 - 05 - 01)), date!(2024 - 05 - 01));
        assert_eq!(six.after(date!(2020 - 02 - 29)), date!(2026 - 02 - 28));
        assert_eq!(
            ReviewAfter::Months(18).after(date!(2019 - 08 - 31)),
            date!(2021 - 02 - 28)
        );
        assert_eq!(
            ReviewAfter::Months(1).after(date!(2023 - 12 - 15)),
            date!(2024 - 01 - 15)
        );
        assert_eq!(
            ReviewAfter::Days(90).after(date!(2024 - 01 - 01)),
            date!(2024 - 03 - 31)
        );
    }

    #[test]
    fn the_stores_bound_holds_every_due_journey() {
        // Every journey date over four years, against due dates around month ends: a journey
        // due before the date is always before the bound.
        for rule in [
            ReviewAfter::Months(72),
            ReviewAfter::Months(1),
            ReviewAfter::Months(18),
            ReviewAfter::Days(90),
        ] {
            for due in [
                date!(2026 - 03 - 01),
                date!(2026 - 02 - 28),
                date!(2025 - 03 - 31),
                date!(2025 - 05 - 01),
            ] {
                let bound = rule.journeys_before(due);
                let mut d = date!(2015 - 01 - 01);
                while d < date!(2026 - 06 - 01) {
                    if rule.after(d) < due {
                        assert!(d < bound, "{rule} {d} due before {due}, bound {bound}");
                    }
                    d = d.next_day().unwrap();
                }
            }
        }
    }
}
