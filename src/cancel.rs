//! Stopping work that nobody waits for any more.
//!
//! The map drops a filter's requests when a newer change supersedes them (the browser closes
//! their connections, and hyper drops their handlers), but what those handlers started runs on
//! the blocking pool, out of the dropped future's reach: a superseded filter's station counts
//! and permutation test kept both cores busy while the newer filter's requests waited. So each
//! piece of read work runs under a [`Token`] ([`crate::http::offload`] cancels it when its
//! future is dropped or overruns its time), and the long loops call [`check`] every so often.
//!
//! A cancelled [`check`] unwinds out of the work with a [`Cancelled`] payload
//! (`std::panic::resume_unwind`, so the panic hook does not run and nothing is logged as a
//! panic), caught by [`Token::run`]: the work never returns a half-computed value, so none
//! reaches a cache that others read (the layer memos, the rendered pages); a memo's claim on
//! its key is given back by its drop guard, and a request still waiting for that key computes
//! it itself. rust-analyzer's query engine (salsa's `Cancelled::throw`) stops superseded work
//! the same way.
//!
//! Work that changes state (writes) runs without a token: there [`check`] never stops it.
//! Unwinding out of a `check` must leave no lock poisoned, so `check` is only called where
//! the thread holds no `Mutex` (the index's read guard does not poison).

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The unwinding payload of cancelled work, and the error [`Token::run`] returns for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the work was cancelled (nobody waits for its answer)")
    }
}

impl std::error::Error for Cancelled {}

/// A flag shared by a piece of work and whoever may cancel it.
#[derive(Debug, Clone, Default)]
pub struct Token(Arc<AtomicBool>);

thread_local! {
    /// The token of the work this thread is running, if any.
    static CURRENT: RefCell<Option<Token>> = const { RefCell::new(None) };
}

impl Token {
    pub fn new() -> Token {
        Token::default()
    }

    /// Asks the work to stop at its next [`check`].
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// A guard that cancels this token when dropped (held by the future that waits for the
    /// work: dropped with it, or when it gives up waiting).
    pub fn cancel_on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(self.clone())
    }

    /// Runs `f` on this thread as this token's work: `Err(Cancelled)` if a [`check`] in it
    /// found the token cancelled (and unwound out of `f`). Any other panic goes on unwinding.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> Result<R, Cancelled> {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.enter(f))) {
            Ok(v) => Ok(v),
            Err(payload) if payload.is::<Cancelled>() => Err(Cancelled),
            Err(payload) => std::panic::resume_unwind(payload),
        }
    }

    /// Runs `f` with this token as the thread's current one (restored however `f` ends), not
    /// catching the unwinding: for the threads a piece of work spawns, whose cancellation
    /// reaches the spawning thread through `join`.
    pub fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<Token>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                CURRENT.with(|c| *c.borrow_mut() = previous);
            }
        }
        let _restore = Restore(CURRENT.with(|c| c.borrow_mut().replace(self.clone())));
        f()
    }
}

/// Cancels its token when dropped.
#[derive(Debug)]
pub struct CancelOnDrop(Token);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// The token of the work this thread runs (to [`Token::enter`] in the threads it spawns).
pub fn current() -> Option<Token> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Runs `f` under `token` if there is one (see [`Token::enter`]).
pub fn within<R>(token: &Option<Token>, f: impl FnOnce() -> R) -> R {
    match token {
        Some(t) => t.enter(f),
        None => f(),
    }
}

/// Runs `f` on each of `parts` on a scoped thread of its own, each under this thread's token
/// (so a [`check`] in `f` stops with the work that asked), and returns the results in the
/// parts' order. A panic or a cancellation in any part unwinds out of this call, once every
/// part's thread has ended (the scope joins them all).
pub fn on_threads<P, R, F>(parts: impl IntoIterator<Item = P>, f: F) -> Vec<R>
where
    P: Send,
    R: Send,
    F: Fn(P) -> R + Sync,
{
    let token = current();
    std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| {
                let (f, token) = (&f, &token);
                s.spawn(move || within(token, || f(part)))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Whether the work this thread runs has been cancelled (never outside a token's work).
pub fn requested() -> bool {
    CURRENT.with(|c| c.borrow().as_ref().is_some_and(Token::is_cancelled))
}

/// Stops the work this thread runs if it has been cancelled: unwinds to [`Token::run`] with
/// [`Cancelled`]. Call it where no `Mutex` is held, every millisecond or so of work.
pub fn check() {
    if requested() {
        std::panic::resume_unwind(Box::new(Cancelled));
    }
}

/// How many items a loop takes between two [`check`]s ([`check_at`]): a few thousand
/// journeys are well under a millisecond of work.
pub const CHECK_EVERY: usize = 4096;

/// [`check`] at every [`CHECK_EVERY`]th item `i` of a loop.
#[inline]
pub fn check_at(i: usize) {
    if i.is_multiple_of(CHECK_EVERY) {
        check();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_runs_to_its_end_unless_cancelled() {
        let t = Token::new();
        let mut steps = 0;
        let r = t.run(|| {
            for _ in 0..10 {
                check();
                steps += 1;
            }
            steps
        });
        assert_eq!(r, Ok(10));
        // cancelled at the fourth step: the three before it ran, nothing after
        let t = Token::new();
        let mut steps = 0;
        let r = t.run(|| {
            for i in 0..10 {
                if i == 3 {
                    t.cancel();
                }
                check();
                steps += 1;
            }
            steps
        });
        assert_eq!(r, Err(Cancelled));
        assert_eq!(steps, 3);
    }

    #[test]
    fn outside_a_token_check_never_stops_and_the_thread_forgets_the_token_after() {
        check();
        assert!(!requested());
        let t = Token::new();
        t.cancel();
        assert_eq!(t.run(|| 1 + 1), Ok(2)); // no check: it ran
        assert_eq!(t.run(check), Err(Cancelled));
        // the thread (a pool's, reused) runs the next work under no token
        assert!(current().is_none());
        check();
    }

    #[test]
    fn another_panic_goes_on_unwinding() {
        let t = Token::new();
        let r = std::panic::catch_unwind(|| t.run(|| panic!("a bug")));
        let payload = r.expect_err("the panic was swallowed");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"a bug"));
        assert!(current().is_none());
    }

    #[test]
    fn a_spawned_threads_cancellation_reaches_the_spawning_thread() {
        let t = Token::new();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let r = t.run(|| {
            let tok = current();
            std::thread::scope(|s| {
                let hs: Vec<_> = (0..2)
                    .map(|k| {
                        let (tok, done) = (&tok, &done);
                        s.spawn(move || {
                            within(tok, || {
                                for i in 0..1000 {
                                    if k == 1 && i == 10 {
                                        tok.as_ref().unwrap().cancel();
                                    }
                                    check();
                                    std::thread::yield_now();
                                }
                                done.fetch_add(1, Ordering::SeqCst);
                            })
                        })
                    })
                    .collect();
                for h in hs {
                    h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
                }
            });
            check();
            "finished"
        });
        assert_eq!(r, Err(Cancelled));
        // the thread that cancelled stopped at once; the other stopped at a check after it
        // (or, should it have been quicker than the cancel, finished its 1,000 steps)
        assert!(done.load(Ordering::SeqCst) <= 1);
    }

    #[test]
    fn dropping_the_guard_cancels() {
        let t = Token::new();
        let g = t.cancel_on_drop();
        assert!(!t.is_cancelled());
        drop(g);
        assert!(t.is_cancelled());
    }
}
