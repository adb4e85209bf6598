//! Typed keys of the layers' memos: a journey filter (and the other parts of a key) as a value
//! with `Hash + Eq`, normalised so that filters that select the same journeys however they
//! were spelt (modes, age bands and roles in another order or repeated) are one key, and any
//! two that may select differently are two. Numbers with a fraction (a box's corners) are
//! compared by their bit patterns, `-0.0` as `0.0`.

use crate::geography::Bbox;
use crate::journey::clock::TimeFilter;
use crate::journey::index::JourneyFilter;
use crate::journey::report::{AgeBand, Mode, Role};

/// An `f64` as a key: its bit pattern, with `-0.0` as `0.0` and every NaN as one NaN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct F64Key(u64);

impl F64Key {
    pub fn of(v: f64) -> F64Key {
        if v == 0.0 {
            F64Key(0.0f64.to_bits())
        } else if v.is_nan() {
            F64Key(f64::NAN.to_bits())
        } else {
            F64Key(v.to_bits())
        }
    }
}

/// A box as a key: its corners ([`F64Key`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BboxKey([F64Key; 4]);

impl BboxKey {
    pub fn of(b: &Bbox) -> BboxKey {
        BboxKey(b.to_array().map(F64Key::of))
    }
}

/// A sorted list without repeats: the filters read these lists as sets.
fn set<T: Copy + Ord>(v: &[T]) -> Vec<T> {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

/// A [`JourneyFilter`] as a memo key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FilterKey {
    bbox: Option<BboxKey>,
    from_day: Option<i32>,
    to_day: Option<i32>,
    force: Option<u16>,
    cross_border: Option<bool>,
    exporting_force: Option<u16>,
    importing_force: Option<u16>,
    modes: Vec<Mode>,
    age_bands: Vec<AgeBand>,
    roles: Vec<Role>,
    line: Option<String>,
    station: Option<u32>,
    btp_sourced: bool,
    disclose_non_btp: bool,
    within_force: Option<u16>,
    include_restricted: bool,
    time: Option<TimeFilter>,
}

impl FilterKey {
    pub fn of(f: &JourneyFilter) -> FilterKey {
        // every field named, so that a field added to the filter cannot be left out of its key
        let JourneyFilter {
            bbox,
            from_day,
            to_day,
            force,
            cross_border,
            exporting_force,
            importing_force,
            modes,
            age_bands,
            roles,
            line,
            station,
            btp_sourced,
            disclose_non_btp,
            within_force,
            include_restricted,
            time,
        } = f;
        FilterKey {
            bbox: bbox.as_ref().map(BboxKey::of),
            from_day: *from_day,
            to_day: *to_day,
            force: *force,
            cross_border: *cross_border,
            exporting_force: *exporting_force,
            importing_force: *importing_force,
            modes: set(modes),
            age_bands: set(age_bands),
            roles: set(roles),
            line: line.clone(),
            station: *station,
            btp_sourced: *btp_sourced,
            disclose_non_btp: *disclose_non_btp,
            within_force: *within_force,
            include_restricted: *include_restricted,
            time: *time,
        }
    }
}

impl From<&JourneyFilter> for FilterKey {
    fn from(f: &JourneyFilter) -> FilterKey {
        FilterKey::of(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn b(a: f64, b: f64, c: f64, d: f64) -> Bbox {
        Bbox {
            min_lon: a,
            min_lat: b,
            max_lon: c,
            max_lat: d,
        }
    }

    /// A filter with every field set, and one variant per field with that field alone changed.
    fn base_and_variants() -> (JourneyFilter, Vec<(&'static str, JourneyFilter)>) {
        let base = JourneyFilter {
            bbox: Some(b(-0.5, 51.0, 0.5, 52.0)),
            from_day: Some(19_000),
            to_day: Some(19_100),
            force: Some(3),
            cross_border: Some(true),
            exporting_force: Some(4),
            importing_force: Some(5),
            modes: vec![Mode::Rail],
            age_bands: vec![AgeBand::VARIANTS[0]],
            roles: vec![Role::VARIANTS[0]],
            line: Some("SYN-A".into()),
            station: Some(7),
            btp_sourced: false,
            disclose_non_btp: false,
            within_force: Some(8),
            include_restricted: false,
            time: Some(TimeFilter { hours: 1, days: 1 }),
        };
        let with = |name: &'static str, change: &dyn Fn(&mut JourneyFilter)| {
            let mut f = base.clone();
            change(&mut f);
            (name, f)
        };
        let variants = vec![
            with("bbox", &|f| f.bbox = Some(b(-0.5, 51.0, 0.5, 52.000001))),
            with("bbox none", &|f| f.bbox = None),
            with("from_day", &|f| f.from_day = Some(19_001)),
            with("to_day", &|f| f.to_day = None),
            with("force", &|f| f.force = Some(2)),
            with("cross_border", &|f| f.cross_border = Some(false)),
            with("exporting_force", &|f| f.exporting_force = None),
            with("importing_force", &|f| f.importing_force = Some(6)),
            with("modes", &|f| f.modes = vec![Mode::Rail, Mode::Car]),
            with("age_bands", &|f| f.age_bands = vec![AgeBand::VARIANTS[1]]),
            with("roles", &|f| f.roles = vec![]),
            with("line", &|f| f.line = Some("SYN-B".into())),
            with("station", &|f| f.station = Some(8)),
            with("btp_sourced", &|f| f.btp_sourced = true),
            with("disclose_non_btp", &|f| f.disclose_non_btp = true),
            with("within_force", &|f| f.within_force = None),
            with("include_restricted", &|f| f.include_restricted = true),
            with("time", &|f| f.time = Some(TimeFilter { hours: 1, days: 2 })),
        ];
        (base, variants)
    }

    #[test]
    fn two_filters_differing_in_any_one_field_have_different_keys() {
        let (base, variants) = base_and_variants();
        let mut seen = HashSet::new();
        assert!(seen.insert(FilterKey::of(&base)));
        for (name, f) in &variants {
            assert_ne!(FilterKey::of(f), FilterKey::of(&base), "{name}");
            // and differ from each other too
            assert!(seen.insert(FilterKey::of(f)), "{name}");
        }
        // 17 fields, 18 variants (the box both moved and removed)
        assert_eq!(seen.len(), 19);
    }

    #[test]
    fn the_same_filter_spelt_differently_has_one_key() {
        let mut a = JourneyFilter {
            modes: vec![Mode::Rail, Mode::Car],
            age_bands: vec![AgeBand::VARIANTS[0], AgeBand::VARIANTS[2]],
            roles: vec![Role::VARIANTS[1], Role::VARIANTS[0]],
            bbox: Some(b(-0.0, 51.0, 0.5, 52.0)),
            ..JourneyFilter::default()
        };
        let b2 = JourneyFilter {
            modes: vec![Mode::Car, Mode::Rail, Mode::Car],
            age_bands: vec![AgeBand::VARIANTS[2], AgeBand::VARIANTS[0]],
            roles: vec![Role::VARIANTS[0], Role::VARIANTS[1]],
            bbox: Some(b(0.0, 51.0, 0.5, 52.0)),
            ..JourneyFilter::default()
        };
        assert_eq!(FilterKey::of(&a), FilterKey::of(&b2));
        let hash = |k: &FilterKey| {
            use std::hash::{BuildHasher, RandomState};
            let s = RandomState::new();
            (s.hash_one(k), s.hash_one(FilterKey::of(&b2)))
        };
        let (x, y) = hash(&FilterKey::of(&a));
        assert_eq!(x, y);
        // a 0.0 that is not the -0.0 case stays apart from a nearby number
        a.bbox = Some(b(f64::MIN_POSITIVE, 51.0, 0.5, 52.0));
        assert_ne!(FilterKey::of(&a), FilterKey::of(&b2));
    }
}
