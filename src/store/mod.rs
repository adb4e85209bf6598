//! Durable storage of journey reports (changed only by an admin: rectified, which keeps every
//! earlier version, or erased, which leaves a tombstone), the restrictions on them and their
//! review (MoPI) dates and decisions.
//!
//! A store keeps each accepted report's canonical JSON under its `report_id`, with a sequence
//! number in order of acceptance. [`JourneyStore::put`] is atomic per call: when it returns,
//! every record it says was created is on disk (a crash right after loses nothing), and a failed
//! call stored nothing. Mapping is not stored: it is recomputed from the report at start-up, so
//! it always agrees with the geography the server runs with.

mod postgres;
mod sqlite;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Whether `spec` names a PostgreSQL database (a `postgres://` or `postgresql://` URL) rather
/// than an SQLite file.
pub fn is_postgres(spec: &str) -> bool {
    spec.starts_with("postgres://") || spec.starts_with("postgresql://")
}

/// Opens the store `spec` names: a `postgres://` or `postgresql://` URL, or an SQLite file
/// (created if missing).
pub fn open(spec: &str) -> Result<std::sync::Arc<dyn JourneyStore>, StoreError> {
    if is_postgres(spec) {
        Ok(std::sync::Arc::new(PostgresStore::open(spec)?))
    } else {
        Ok(std::sync::Arc::new(SqliteStore::open(
            std::path::Path::new(spec),
        )?))
    }
}

/// Refuses an SQLite store whose files (the database, `-wal`, `-shm`) other users can read or
/// write: they hold person fields and statuses. Files that do not exist yet pass (they are
/// created owner-only). Names each offending file and its mode.
pub fn check_private(path: &std::path::Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut open = Vec::new();
        for suffix in ["", "-wal", "-shm"] {
            let p = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            if let Ok(m) = std::fs::metadata(&p) {
                let mode = m.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    open.push(format!("{} (mode {mode:o})", p.display()));
                }
            }
        }
        if !open.is_empty() {
            return Err(StoreError::Open {
                path: path.display().to_string(),
                message: format!(
                    "readable by other users: {}; the store holds person data: `chmod 600` its files, or start with --allow-readable-store",
                    open.join(", ")
                ),
            });
        }
    }
    let _ = path;
    Ok(())
}

/// A report to store: its id and canonical JSON.
#[derive(Clone, Debug)]
pub struct NewReport {
    pub report_id: String,
    pub body: String,
}

/// A stored report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredReport {
    pub seq: i64,
    pub report_id: String,
    pub body: String,
    /// RFC 3339 UTC time the store accepted it
    pub received_at: String,
    /// 1 as posted; each rectification adds one
    pub version: i64,
}

/// A corrected version of a stored report (rectification, DPA 2018 s.46).
#[derive(Clone, Debug)]
pub struct Rectification {
    pub report_id: String,
    /// the corrected report's canonical JSON
    pub body: String,
    /// RFC 3339 UTC
    pub at: String,
    pub actor: String,
    pub reason: String,
}

/// What a rectification did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rectified {
    /// stored as this version; the one before is kept in the report's versions
    Done {
        version: i64,
    },
    /// the report is already this content (a resend): nothing changed
    Unchanged {
        version: i64,
    },
    NoSuchReport,
    Erased,
}

/// One version of a report: the current one, or one a rectification replaced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub version: i64,
    /// when it was stored (RFC 3339 UTC)
    pub at: String,
    /// who stored it and why (none for a version as posted)
    pub actor: Option<String>,
    pub reason: Option<String>,
    pub body: String,
    pub current: bool,
}

/// A review decision (MoPI).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Decision {
    /// `retain` (or `dispose`, which erases: never stored here)
    pub decision: String,
    /// the next review date a `retain` set (YYYY-MM-DD)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_date: Option<String>,
    pub reason: String,
    pub actor: String,
    /// RFC 3339 UTC
    pub at: String,
}

/// A report that may be due for review: its journey date, the review date an admin set (if
/// any) and its decisions, newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewRow {
    pub report_id: String,
    pub journey_date: String,
    pub review_date: Option<String>,
    pub decisions: Vec<Decision>,
}

/// A report due for review.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Due {
    pub report_id: String,
    pub journey_date: String,
    pub review_date: String,
    /// the review date was set by an admin (`retain`), not computed from the journey date
    pub review_date_set: bool,
    pub last_decision: Option<Decision>,
    /// every decision, newest first
    pub decisions: Vec<Decision>,
}

/// The reports due for review before `due_before`, oldest review date first (then by id):
/// each report's review date is the one an admin set, else `rule` applied to its journey date.
pub fn review_queue(
    store: &dyn JourneyStore,
    rule: crate::journey::review::ReviewAfter,
    due_before: time::Date,
) -> Result<Vec<Due>, StoreError> {
    use crate::journey::report::{format_date, parse_date};
    let rows = store.review_candidates(
        &format_date(due_before),
        &format_date(rule.journeys_before(due_before)),
    )?;
    let mut due: Vec<Due> = rows
        .into_iter()
        .filter_map(|r| {
            let set = r.review_date.as_deref().and_then(parse_date);
            let date = match set {
                Some(d) => d,
                None => rule.after(parse_date(&r.journey_date)?),
            };
            (date < due_before).then(|| Due {
                report_id: r.report_id,
                journey_date: r.journey_date,
                review_date: format_date(date),
                review_date_set: set.is_some(),
                last_decision: r.decisions.first().cloned(),
                decisions: r.decisions,
            })
        })
        .collect();
    due.sort_by(|a, b| (&a.review_date, &a.report_id).cmp(&(&b.review_date, &b.report_id)));
    Ok(due)
}

/// The journey date (`journey.date`) of a report's JSON, for the review queue; None when the
/// body is not a report.
pub fn journey_date(body: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Body {
        journey: Journey,
    }
    #[derive(serde::Deserialize)]
    struct Journey {
        date: String,
    }
    serde_json::from_str::<Body>(body)
        .ok()
        .map(|b| b.journey.date)
        .filter(|d| crate::journey::report::parse_date(d).is_some())
}

/// A report kept but withheld from every layer, list, export and read except an admin's
/// (DPA 2018 s.47, restriction of processing).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Restriction {
    pub report_id: String,
    /// why (the admin's `X-Justification`)
    pub reason: String,
    /// who restricted it
    pub actor: String,
    /// RFC 3339 UTC
    pub at: String,
}

/// What is left of an erased report (DPA 2018 s.47): its id, when, who and why; never its
/// content.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Tombstone {
    pub report_id: String,
    /// RFC 3339 UTC
    pub at: String,
    pub actor: String,
    pub reason: String,
}

/// What an erasure did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Erased {
    /// the report's content is gone; its tombstone is stored
    Done,
    NoSuchReport,
    /// erased before
    Already,
}

/// What happened to one record of a [`JourneyStore::put`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// Newly stored.
    Created { seq: i64 },
    /// Already stored with identical content: nothing changed (idempotent resend).
    Exists { seq: i64 },
    /// Already stored with different content: refused, nothing changed.
    Conflict { seq: i64 },
    /// The id was erased: refused, nothing stored.
    Erased,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {message}")]
    Open { path: String, message: String },
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store: integrity check failed: {0}")]
    Corrupt(String),
    #[error("store: {0}")]
    Postgres(String),
    #[error("store: the connection lock was poisoned by an earlier panic")]
    Poisoned,
}

/// The storage interface the server uses; SQLite is the default, PostgreSQL another backend.
pub trait JourneyStore: Send + Sync {
    /// Stores the records in one transaction, in order; returns one outcome per record.
    fn put(&self, records: &[NewReport]) -> Result<Vec<PutOutcome>, StoreError>;
    fn get(&self, report_id: &str) -> Result<Option<StoredReport>, StoreError>;
    /// Calls `f` for every report with `seq > after`, in sequence order.
    fn scan(&self, after: i64, f: &mut dyn FnMut(StoredReport)) -> Result<(), StoreError>;
    fn count(&self) -> Result<u64, StoreError>;
    /// Restricts a stored report (replacing an earlier restriction's reason); false when no
    /// report has that id.
    fn restrict(&self, r: &Restriction) -> Result<bool, StoreError>;
    /// Lifts a restriction; false when the report was not restricted.
    fn unrestrict(&self, report_id: &str) -> Result<bool, StoreError>;
    /// Every restriction in force (few: read by every instance on each poll).
    fn restrictions(&self) -> Result<Vec<Restriction>, StoreError>;
    /// Erases a report in one transaction: its row (and restriction) deleted, a tombstone
    /// stored in its place.
    fn erase(&self, t: &Tombstone) -> Result<Erased, StoreError>;
    /// How many tombstones there are (cheap: instances poll it, and read them when it changes).
    fn tombstone_count(&self) -> Result<u64, StoreError>;
    /// Every tombstone.
    fn tombstones(&self) -> Result<Vec<Tombstone>, StoreError>;
    /// Replaces a report with a corrected version in one transaction: the version before is
    /// kept (its body, when, who, why), the report takes a new sequence number (so that every
    /// instance's follower reads it again) and the next version number.
    fn rectify(&self, r: &Rectification) -> Result<Rectified, StoreError>;
    /// Every version of a report, newest first (the current one first); None when no report
    /// has that id.
    fn versions(&self, report_id: &str) -> Result<Option<Vec<Version>>, StoreError>;
    /// Reports whose set review date is before `review_before`, or with none set, whose
    /// journey date is before `journey_before` (both YYYY-MM-DD), with their decisions.
    fn review_candidates(
        &self,
        review_before: &str,
        journey_before: &str,
    ) -> Result<Vec<ReviewRow>, StoreError>;
    /// Records a `retain` decision: the report's review date becomes the decision's, and the
    /// decision joins its history; false when no report has that id.
    fn retain(&self, report_id: &str, d: &Decision) -> Result<bool, StoreError>;
    /// Checks the store's own consistency (SQLite's `integrity_check`, unique ids).
    fn integrity_check(&self) -> Result<(), StoreError>;
    /// Makes everything committed durable in the main file before the process ends (SQLite:
    /// checkpoint and truncate the WAL). Committed data is safe without it; it only spares the
    /// next start a WAL replay.
    fn checkpoint(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
