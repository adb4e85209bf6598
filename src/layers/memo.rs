//! Layers cached per key (a filter's [`super::key::FilterKey`] and whatever else the value
//! depends on) until the journeys change: the place layers count over every selected journey,
//! and a map pages through them with the same filter.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A cached value: the data version it was computed at, when, and the value.
type Cached<T> = (usize, Instant, Arc<T>);

/// Values of type `T` per key `K` (typed: `Hash + Eq`, never a formatted string).
pub struct Memo<K, T> {
    /// per key
    inner: Mutex<HashMap<K, Cached<T>>>,
    /// held while computing, so that a burst of identical requests computes once
    computing: Mutex<()>,
    /// entries kept before the cache starts again
    cap: usize,
}

/// Entries kept per layer before the cache starts again.
pub const MEMO_MAX: usize = 256;

impl<K, T> Default for Memo<K, T> {
    fn default() -> Self {
        Memo::with_cap(MEMO_MAX)
    }
}

/// Filtered selections kept per kind (each up to a list of every journey's position).
pub const FILTERED_MAX: usize = 32;

/// A [`Memo`] of filtered selections ([`FILTERED_MAX`] entries).
pub struct Filtered<K, T>(pub Memo<K, T>);

impl<K, T> Default for Filtered<K, T> {
    fn default() -> Self {
        Filtered(Memo::with_cap(FILTERED_MAX))
    }
}

impl<K, T> Memo<K, T> {
    /// A memo keeping up to `cap` entries.
    pub fn with_cap(cap: usize) -> Self {
        Memo {
            inner: Mutex::new(HashMap::new()),
            computing: Mutex::new(()),
            cap,
        }
    }

    /// Forgets every value (benchmarks measure the uncached path with it).
    pub fn clear(&self) {
        if let Ok(mut g) = self.inner.lock() {
            g.clear();
        }
    }
}

impl<K: Hash + Eq, T> Memo<K, T> {
    /// The value for `key` at data `version` (the index's, changed by every change),
    /// or one computed at an older version less than `stale_ok` ago; computed by `make` when
    /// neither is there, one computation at a time (the others wait for it and then find it).
    pub fn get(
        &self,
        version: usize,
        stale_ok: Duration,
        key: K,
        make: impl FnOnce() -> T,
    ) -> Arc<T> {
        let cached = |key: &K| {
            self.inner.lock().ok().and_then(|g| {
                g.get(key)
                    .filter(|(v, at, _)| *v == version || at.elapsed() < stale_ok)
                    .map(|(_, _, x)| x.clone())
            })
        };
        if let Some(v) = cached(&key) {
            return v;
        }
        let _one = self.computing.lock();
        if let Some(v) = cached(&key) {
            return v;
        }
        let v = Arc::new(make());
        if let Ok(mut g) = self.inner.lock() {
            if g.len() >= self.cap {
                g.clear();
            }
            g.insert(key, (version, Instant::now(), v.clone()));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_computed_once_per_key_and_version() {
        let m: Memo<(u8, u8), u32> = Memo::with_cap(4);
        let mut calls = 0;
        let mut get = |version, key| {
            *m.get(version, Duration::ZERO, key, || {
                calls += 1;
                calls
            })
        };
        assert_eq!(get(1, (1, 2)), 1);
        assert_eq!(get(1, (1, 2)), 1); // cached
        assert_eq!(get(1, (2, 1)), 2); // another key
        assert_eq!(get(2, (1, 2)), 3); // the journeys changed
        assert_eq!(calls, 3);
    }
}
