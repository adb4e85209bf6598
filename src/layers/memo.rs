//! Layers cached per key (a filter's [`super::key::FilterKey`] and whatever else the value
//! depends on) until the journeys change: the place layers count over every selected journey,
//! and a map pages through them with the same filter.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A cached value: the data version it was computed at, when, and the value.
type Cached<T> = (usize, Instant, Arc<T>);

/// Values of type `T` per key `K` (typed: `Hash + Eq`, never a formatted string).
pub struct Memo<K, T> {
    /// per key
    inner: Mutex<HashMap<K, Cached<T>>>,
    /// the keys being computed, so that a burst of identical requests computes once (the others
    /// wait for it on `done`) while another key computes beside it: a filter superseded in the
    /// page (its requests dropped, its computations still running) does not hold up the next
    computing: Mutex<HashSet<K>>,
    done: Condvar,
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
            computing: Mutex::new(HashSet::new()),
            done: Condvar::new(),
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

impl<K: Hash + Eq + Clone, T> Memo<K, T> {
    /// The value for `key` at data `version` (the index's, changed by every change),
    /// or one computed at an older version less than `stale_ok` ago; computed by `make` when
    /// neither is there, one computation per key at a time (the others asking for that key wait
    /// for it and then find it; other keys compute meanwhile).
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
        // nobody waits for this answer any more: neither wait for it nor compute it
        crate::cancel::check();
        // claim the key, or wait while another thread computes it
        let claimed = match self.computing.lock() {
            Ok(mut busy) => {
                while busy.contains(&key) {
                    busy = match self.done.wait(busy) {
                        Ok(b) => b,
                        Err(e) => e.into_inner(),
                    };
                }
                if let Some(v) = cached(&key) {
                    return v;
                }
                busy.insert(key.clone());
                true
            }
            // a thread panicked holding the set: compute without claiming
            Err(_) => false,
        };
        // the claim is given back however `make` ends (a panic included), waking the waiters
        let _release = Release {
            memo: self,
            key: claimed.then(|| key.clone()),
        };
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

/// Gives a claimed key back and wakes the threads waiting for it.
struct Release<'a, K: Hash + Eq, T> {
    memo: &'a Memo<K, T>,
    key: Option<K>,
}

impl<K: Hash + Eq, T> Drop for Release<'_, K, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let mut busy = match self.memo.computing.lock() {
                Ok(b) => b,
                Err(e) => e.into_inner(),
            };
            busy.remove(&key);
            drop(busy);
            self.memo.done.notify_all();
        }
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

    #[test]
    fn another_key_computes_while_one_is_computing() {
        use std::sync::mpsc::channel;
        let m: Memo<u8, u8> = Memo::with_cap(4);
        let (started_tx, started_rx) = channel();
        let (finish_tx, finish_rx) = channel::<()>();
        let finish_rx = Mutex::new(finish_rx);
        std::thread::scope(|s| {
            // key 1 computes until told to finish
            let slow = s.spawn(|| {
                *m.get(1, Duration::ZERO, 1, || {
                    started_tx.send(()).unwrap();
                    let rx = finish_rx.lock().unwrap();
                    rx.recv_timeout(Duration::from_secs(20)).unwrap();
                    10
                })
            });
            started_rx.recv_timeout(Duration::from_secs(20)).unwrap();
            // key 2 is computed and answered meanwhile (one lock for every key would wait
            // for key 1, which waits for this thread: the slow thread's wait would time out)
            assert_eq!(*m.get(1, Duration::ZERO, 2, || 20), 20);
            finish_tx.send(()).unwrap();
            assert_eq!(slow.join().unwrap(), 10);
        });
    }

    #[test]
    fn a_burst_for_one_key_computes_it_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let m: Memo<u8, usize> = Memo::with_cap(4);
        let calls = AtomicUsize::new(0);
        let answers: Vec<usize> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        *m.get(1, Duration::ZERO, 7, || {
                            std::thread::sleep(Duration::from_millis(50));
                            calls.fetch_add(1, Ordering::SeqCst) + 100
                        })
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(answers, vec![100; 8]);
    }

    #[test]
    fn a_cancelled_computation_leaves_nothing_and_a_waiter_computes_the_key_itself() {
        use crate::cancel::{Cancelled, Token, check};
        use std::sync::mpsc::channel;
        let m: Memo<u8, u32> = Memo::with_cap(4);
        let t = Token::new();
        let (started_tx, started_rx) = channel();
        let (go_tx, go_rx) = channel::<()>();
        let go_rx = Mutex::new(go_rx);
        let (waiting_tx, waiting_rx) = channel();
        std::thread::scope(|s| {
            let first = s.spawn(|| {
                t.run(|| {
                    *m.get(1, Duration::ZERO, 1, || {
                        started_tx.send(()).unwrap();
                        let rx = go_rx.lock().unwrap();
                        rx.recv_timeout(Duration::from_secs(20)).unwrap();
                        check(); // cancelled meanwhile: unwinds out of `make` and `get`
                        10
                    })
                })
            });
            started_rx.recv_timeout(Duration::from_secs(20)).unwrap();
            // the same key asked for meanwhile: it waits for the first, which never gives it
            let waiter = s.spawn(|| {
                waiting_tx.send(()).unwrap();
                *m.get(1, Duration::ZERO, 1, || 20)
            });
            waiting_rx.recv_timeout(Duration::from_secs(20)).unwrap();
            t.cancel();
            go_tx.send(()).unwrap();
            assert_eq!(first.join().unwrap(), Err(Cancelled));
            // (the claim was given back by the unwinding: the waiter woke and computed it)
            assert_eq!(waiter.join().unwrap(), 20);
        });
        // what is kept is the waiter's whole value, never a cancelled one
        assert_eq!(*m.get(1, Duration::ZERO, 1, || 30), 20);
        // a cancelled request asks for nothing, not even a kept value
        assert_eq!(
            t.run(|| *m.get(1, Duration::ZERO, 2, || 40)),
            Err(Cancelled)
        );
        assert_eq!(*m.get(1, Duration::ZERO, 2, || 50), 50);
    }
}
