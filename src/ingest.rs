//! Journeys end to end: validate and map reports, store them durably, keep the in-memory index.
//!
//! [`Journeys::ingest`] takes a batch of parsed JSON values; each record is validated and mapped
//! on its own (a bad one does not spoil the rest), then every good record goes to the store in
//! one transaction, and only once the store has committed are the new journeys added to the
//! index and acknowledged. A record is stored whole or not at all.

use crate::geography::Geography;
use crate::journey::index::JourneyIndex;
use crate::journey::map::{MappedJourney, Mapper};
use crate::journey::report::{FieldError, Report, parse_report};
use crate::store::{JourneyStore, NewReport, PutOutcome, StoreError};
use serde_json::Value;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use time::OffsetDateTime;

/// What happened to one record of a batch.
#[derive(Clone, Debug)]
pub enum Outcome {
    Created(Arc<MappedJourney>),
    /// Sent before with identical content: nothing changed.
    Exists(Arc<MappedJourney>),
    /// The id is stored with different content: refused.
    Conflict(String),
    /// The id was erased: refused.
    Erased(String),
    /// Invalid: every problem found.
    Rejected(Vec<FieldError>),
}

/// Counts from loading the store at start-up.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadStats {
    pub loaded: usize,
    /// stored reports that no longer validate or map against the current geography
    pub skipped: usize,
}

pub struct Journeys {
    mapper: Mapper,
    store: Arc<dyn JourneyStore>,
    index: RwLock<JourneyIndex>,
    /// how far [`Journeys::catch_up`] has read the store
    follow: std::sync::Mutex<Follow>,
    /// erased report ids (never indexed again) and how many tombstones the store had
    erased: RwLock<(u64, std::collections::HashSet<String>)>,
    /// when reports come up for review (MoPI), from the journey date
    review_after: crate::journey::review::ReviewAfter,
}

/// What a rectification did.
#[derive(Clone, Debug)]
pub enum RectifyOutcome {
    /// the corrected report is this version, in the index at once
    Done(Arc<MappedJourney>, i64),
    /// the report already had this content: nothing changed
    Unchanged(Arc<MappedJourney>, i64),
    NoSuchReport,
    Erased,
    /// the corrected report is invalid: every problem found
    Rejected(Vec<FieldError>),
}

/// The follower's place in the store: the highest sequence number read, and the numbers below
/// it not seen yet (a transaction that took them may still commit; given up after
/// [`GAP_WAIT`]).
#[derive(Default)]
struct Follow {
    max_seq: i64,
    gaps: std::collections::BTreeMap<i64, std::time::Instant>,
}

/// How long a hole in the sequence is waited for (a transaction still running on another
/// instance) before it is taken for a rolled-back insert.
pub const GAP_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

impl Journeys {
    pub fn new(geo: Arc<Geography>, store: Arc<dyn JourneyStore>) -> Journeys {
        Journeys {
            mapper: Mapper::new(geo),
            store,
            index: RwLock::new(JourneyIndex::new()),
            follow: std::sync::Mutex::new(Follow::default()),
            erased: RwLock::new((0, std::collections::HashSet::new())),
            review_after: crate::journey::review::ReviewAfter::default(),
        }
    }

    /// The same, with reports coming up for review `review_after` their journey date.
    pub fn with_review_after(mut self, review_after: crate::journey::review::ReviewAfter) -> Self {
        self.review_after = review_after;
        self
    }

    pub fn review_after(&self) -> crate::journey::review::ReviewAfter {
        self.review_after
    }

    /// Replaces a stored report with a corrected version (validated and mapped as a new report
    /// is, its `report_id` the same): durably in the store, the earlier version kept, and at
    /// once in the index (the old version's counts gone, the new one's in); other instances
    /// follow within a poll. A restricted report stays restricted.
    pub fn rectify(
        &self,
        value: &Value,
        at: String,
        actor: String,
        reason: String,
        now: OffsetDateTime,
    ) -> Result<RectifyOutcome, StoreError> {
        let j = match self.prepare(value, now) {
            Ok(j) => j,
            Err(errors) => return Ok(RectifyOutcome::Rejected(errors)),
        };
        let id = j.report.report_id.clone();
        let done = self.store.rectify(&crate::store::Rectification {
            report_id: id.clone(),
            body: j.report.canonical_json(),
            at,
            actor,
            reason,
        })?;
        let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
        let current = |index: &JourneyIndex, j: MappedJourney| {
            index.get(&id).cloned().unwrap_or_else(|| Arc::new(j))
        };
        Ok(match done {
            crate::store::Rectified::Done { version } => {
                index.replace(vec![(j.clone(), version)]);
                RectifyOutcome::Done(current(&index, j), version)
            }
            crate::store::Rectified::Unchanged { version } => {
                RectifyOutcome::Unchanged(current(&index, j), version)
            }
            crate::store::Rectified::NoSuchReport => RectifyOutcome::NoSuchReport,
            crate::store::Rectified::Erased => RectifyOutcome::Erased,
        })
    }

    /// Adds to the index the reports other processes (other server instances on the same
    /// database, or `linesmap import` on the same file) stored since the last call; returns how
    /// many. Reads from the lowest sequence number still missing, so a transaction that
    /// committed after one with a later number is not skipped; ids already indexed are passed
    /// over.
    pub fn catch_up(&self) -> Result<usize, StoreError> {
        let (after, prev_max) = {
            let f = self.follow.lock().unwrap_or_else(|e| e.into_inner());
            let first_gap = f.gaps.keys().next().map(|g| g - 1);
            (first_gap.unwrap_or(f.max_seq).min(f.max_seq), f.max_seq)
        };
        let mut rows = Vec::new();
        self.store.scan(after, &mut |r| rows.push(r))?;
        let seen: std::collections::HashSet<i64> = rows.iter().map(|r| r.seq).collect();
        let new_max = rows
            .iter()
            .map(|r| r.seq)
            .max()
            .unwrap_or(prev_max)
            .max(prev_max);
        {
            let mut f = self.follow.lock().unwrap_or_else(|e| e.into_inner());
            let now = std::time::Instant::now();
            // holes among the new numbers (a bounded count: a huge jump is a sequence reset)
            if new_max - prev_max < 1_000_000 {
                for s in prev_max + 1..new_max {
                    if !seen.contains(&s) {
                        f.gaps.insert(s, now);
                    }
                }
            }
            f.gaps
                .retain(|s, t| !seen.contains(s) && t.elapsed() < GAP_WAIT);
            f.max_seq = f.max_seq.max(new_max);
        }
        self.follow_restrictions()?;
        self.follow_tombstones()?;
        let fresh: Vec<_> = {
            // lock order everywhere: erased, then the index
            let erased = self.erased.read().unwrap_or_else(|e| e.into_inner());
            let index = self.index();
            // new ids, and reports rectified since this instance read them
            rows.into_iter()
                .filter(|r| {
                    !erased.1.contains(&r.report_id)
                        && (index.get(&r.report_id).is_none()
                            || r.version > index.version_of(&r.report_id))
                })
                .collect()
        };
        if fresh.is_empty() {
            return Ok(0);
        }
        let now = OffsetDateTime::now_utc() + time::Duration::days(2);
        let mapped = par_map(&fresh, |r| {
            let v: Value = serde_json::from_str(&r.body).ok()?;
            let report = parse_report(&v, self.geography(), now).ok()?;
            Some((self.mapper.map(report).ok()?, r.version))
        });
        let erased = self.erased.read().unwrap_or_else(|e| e.into_inner());
        let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
        let mut added = 0;
        let mut rectified = Vec::new();
        for (j, version) in mapped.into_iter().flatten() {
            // erased while it was being mapped: not put back
            if erased.1.contains(&j.report.report_id) {
                continue;
            }
            if index.get(&j.report.report_id).is_some() {
                rectified.push((j, version));
                continue;
            }
            let id = j.report.report_id.clone();
            if index.insert(j) {
                index.set_version(&id, version);
                added += 1;
            }
        }
        added += index.replace(rectified);
        Ok(added)
    }

    pub fn geography(&self) -> &Arc<Geography> {
        self.mapper.geography()
    }

    /// Takes the store's restrictions into the index (any instance may have set or lifted
    /// one); a write lock only when they changed.
    fn follow_restrictions(&self) -> Result<(), StoreError> {
        let ids: std::collections::HashSet<String> = self
            .store
            .restrictions()?
            .into_iter()
            .map(|r| r.report_id)
            .collect();
        if self.index().restricted() != &ids {
            self.index
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .set_restricted(ids);
        }
        Ok(())
    }

    /// Takes the store's tombstones into account when their number changed (an erasure on any
    /// instance): the erased journeys leave the index.
    fn follow_tombstones(&self) -> Result<(), StoreError> {
        let n = self.store.tombstone_count()?;
        if self.erased.read().unwrap_or_else(|e| e.into_inner()).0 == n {
            return Ok(());
        }
        let ids: std::collections::HashSet<String> = self
            .store
            .tombstones()?
            .into_iter()
            .map(|t| t.report_id)
            .collect();
        let mut erased = self.erased.write().unwrap_or_else(|e| e.into_inner());
        self.index
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ids);
        *erased = (n, ids);
        Ok(())
    }

    /// Erases a report: its content leaves the store (a tombstone keeps id, when, who and why)
    /// and this instance's index at once; other instances follow within a poll.
    pub fn erase(&self, t: &crate::store::Tombstone) -> Result<crate::store::Erased, StoreError> {
        let done = self.store.erase(t)?;
        self.follow_tombstones()?;
        Ok(done)
    }

    /// Restricts a stored report, in the store (durably, for every instance) and at once in
    /// this instance's index; false when no report has that id.
    pub fn restrict(&self, r: &crate::store::Restriction) -> Result<bool, StoreError> {
        let found = self.store.restrict(r)?;
        self.follow_restrictions()?;
        Ok(found)
    }

    /// Lifts a restriction; false when the report was not restricted.
    pub fn unrestrict(&self, report_id: &str) -> Result<bool, StoreError> {
        let was = self.store.unrestrict(report_id)?;
        self.follow_restrictions()?;
        Ok(was)
    }

    /// The id was erased (as this instance knows: within a poll of any instance's erasure).
    pub fn is_erased(&self, report_id: &str) -> bool {
        self.erased
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .contains(report_id)
    }

    pub fn store(&self) -> &Arc<dyn JourneyStore> {
        &self.store
    }

    /// Read access to the index (a poisoned lock is recovered: the index is append-only).
    pub fn index(&self) -> RwLockReadGuard<'_, JourneyIndex> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Validates and maps one JSON value.
    pub fn prepare(
        &self,
        v: &Value,
        now: OffsetDateTime,
    ) -> Result<MappedJourney, Vec<FieldError>> {
        let report = parse_report(v, self.geography(), now)?;
        self.mapper.map(report).map_err(|e| vec![e])
    }

    /// Validates, maps and stores a batch; see the module docs. `Err` only when the store fails,
    /// in which case nothing of the batch was stored.
    pub fn ingest(
        &self,
        values: &[Result<Value, FieldError>],
        now: OffsetDateTime,
    ) -> Result<Vec<Outcome>, StoreError> {
        let t0 = std::time::Instant::now();
        let prepared: Vec<Result<MappedJourney, Vec<FieldError>>> = par_map(values, |v| match v {
            Ok(v) => self.prepare(v, now),
            Err(e) => Err(vec![e.clone()]),
        });
        let records: Vec<NewReport> = prepared
            .iter()
            .filter_map(|p| p.as_ref().ok())
            .map(|j| NewReport {
                report_id: j.report.report_id.clone(),
                body: j.report.canonical_json(),
            })
            .collect();
        let t1 = std::time::Instant::now();
        let puts = if records.is_empty() {
            Vec::new()
        } else {
            self.store.put(&records)?
        };
        let t2 = std::time::Instant::now();
        let mut puts = puts.into_iter();
        let mut out = Vec::with_capacity(prepared.len());
        let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
        for p in prepared {
            match p {
                Err(errors) => out.push(Outcome::Rejected(errors)),
                Ok(j) => match puts.next() {
                    Some(PutOutcome::Created { .. }) => {
                        let id = j.report.report_id.clone();
                        index.insert(j);
                        out.push(match index.get(&id) {
                            Some(j) => Outcome::Created(j.clone()),
                            None => Outcome::Conflict(id),
                        });
                    }
                    Some(PutOutcome::Exists { .. }) => {
                        let known = index.get(&j.report.report_id).cloned();
                        out.push(Outcome::Exists(known.unwrap_or_else(|| Arc::new(j))));
                    }
                    Some(PutOutcome::Erased) => out.push(Outcome::Erased(j.report.report_id)),
                    Some(PutOutcome::Conflict { .. }) | None => {
                        out.push(Outcome::Conflict(j.report.report_id))
                    }
                },
            }
        }
        tracing::debug!(prepare = ?(t1 - t0), store = ?(t2 - t1), index = ?t2.elapsed(), n = values.len(), "ingest batch");
        Ok(out)
    }

    /// Loads every stored report into the index (at start-up), mapping in parallel.
    pub fn load(&self) -> Result<LoadStats, StoreError> {
        let mut stored = Vec::new();
        self.store.scan(0, &mut |r| stored.push(r))?;
        {
            let mut f = self.follow.lock().unwrap_or_else(|e| e.into_inner());
            f.max_seq = stored.iter().map(|r| r.seq).max().unwrap_or(0);
            f.gaps.clear();
        }
        // stored reports were valid when accepted: allow for a clock that has moved back
        let now = OffsetDateTime::now_utc() + time::Duration::days(2);
        let versions: Vec<(String, i64)> = stored
            .iter()
            .filter(|r| r.version > 1)
            .map(|r| (r.report_id.clone(), r.version))
            .collect();
        let mapped = par_map(&stored, |r| {
            let v: Value = serde_json::from_str(&r.body).map_err(|e| tracing::warn!(report_id = %r.report_id, error = %e, "stored report is not JSON"))?;
            let report: Report = parse_report(&v, self.geography(), now).map_err(|e| {
                tracing::warn!(report_id = %r.report_id, errors = ?e, "stored report no longer validates")
            })?;
            self.mapper.map(report).map_err(|e| tracing::warn!(report_id = %r.report_id, error = %e, "stored report cannot be mapped"))
        });
        let total = mapped.len();
        let ok: Vec<MappedJourney> = mapped.into_iter().filter_map(Result::ok).collect();
        let stats = LoadStats {
            loaded: ok.len(),
            skipped: total - ok.len(),
        };
        let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
        let mut fresh = JourneyIndex::from_journeys(ok);
        for (id, v) in &versions {
            fresh.set_version(id, *v);
        }
        for j in index.all() {
            fresh.insert((**j).clone());
        }
        fresh.continue_from(&index);
        *index = fresh;
        drop(index);
        self.follow_restrictions()?;
        self.follow_tombstones()?;
        Ok(stats)
    }
}

/// Maps `f` over `items` on all cores, keeping order. Small inputs stay on this thread.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    if threads <= 1 || items.len() < 64 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| s.spawn(|| c.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}
