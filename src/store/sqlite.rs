//! The embedded SQLite store (rusqlite, SQLite bundled).
//!
//! WAL journal with `synchronous = FULL`: a transaction's commit is fsynced before `put`
//! returns, so an acknowledged write survives a crash of the process or the machine.

use super::{
    Decision, Erased, JourneyStore, NewReport, PutOutcome, Rectification, Rectified, Restriction,
    ReviewRow, StoreError, StoredReport, Tombstone, Version,
};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::Mutex;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE reports (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        report_id TEXT NOT NULL UNIQUE,
        received_at TEXT NOT NULL,
        body TEXT NOT NULL
    )",
    "CREATE TABLE restrictions (
        report_id TEXT PRIMARY KEY REFERENCES reports (report_id),
        reason TEXT NOT NULL,
        actor TEXT NOT NULL,
        at TEXT NOT NULL
    )",
    "CREATE TABLE tombstones (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        report_id TEXT NOT NULL UNIQUE,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        reason TEXT NOT NULL
    )",
    // 4: rectification: the current version's number, when, who and why on the report; the
    // versions it replaced in `report_versions`
    "ALTER TABLE reports ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE reports ADD COLUMN version_at TEXT;
    ALTER TABLE reports ADD COLUMN version_actor TEXT;
    ALTER TABLE reports ADD COLUMN version_reason TEXT;
    CREATE TABLE report_versions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        report_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        body TEXT NOT NULL,
        at TEXT NOT NULL,
        actor TEXT,
        reason TEXT,
        UNIQUE (report_id, version)
    )",
    // 5: review (MoPI): the journey date (filled in for stored reports at start-up), a review
    // date an admin set, and the decisions
    "ALTER TABLE reports ADD COLUMN journey_date TEXT;
    ALTER TABLE reports ADD COLUMN review_date TEXT;
    CREATE INDEX reports_journey_date ON reports (journey_date);
    CREATE INDEX reports_review_date ON reports (review_date);
    CREATE TABLE review_decisions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        report_id TEXT NOT NULL,
        decision TEXT NOT NULL,
        review_date TEXT,
        reason TEXT NOT NULL,
        actor TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX review_decisions_report ON review_decisions (report_id)",
];

/// The columns of a [`StoredReport`], in its order (the same on PostgreSQL).
pub(super) const REPORT_COLUMNS: &str = "seq, report_id, body, received_at, version";

/// The reports that may be due for review, with their decisions newest first (the same
/// statement on PostgreSQL): `?1` the due date, `?2` the journey-date bound.
pub(super) const REVIEW_CANDIDATES: &str = "SELECT r.report_id, r.journey_date, r.review_date,
        d.decision, d.review_date, d.reason, d.actor, d.at
     FROM reports r LEFT JOIN review_decisions d ON d.report_id = r.report_id
     WHERE (r.review_date IS NOT NULL AND r.review_date < ?1)
        OR (r.review_date IS NULL AND r.journey_date < ?2)
     ORDER BY r.report_id, d.seq DESC";

/// Every version of a report, the current one first (the same statement on PostgreSQL).
pub(super) const VERSIONS: &str =
    "SELECT version, coalesce(version_at, received_at), version_actor, version_reason, body, 1
     FROM reports WHERE report_id = ?1
     UNION ALL
     SELECT version, at, actor, reason, body, 0 FROM report_versions WHERE report_id = ?1
     ORDER BY 1 DESC";

/// Keeps a report's current version among its versions, before a rectification replaces it.
pub(super) const KEEP_VERSION: &str = "INSERT INTO report_versions (report_id, version, body, at, actor, reason)
     SELECT report_id, version, body, coalesce(version_at, received_at), version_actor, version_reason
     FROM reports WHERE report_id = ?1";

/// Sets a rectified report's content, version and journey date (`?1` the id, `?2` the new
/// sequence number); the same statement on PostgreSQL.
pub(super) const RECTIFY: &str = "UPDATE reports SET seq = ?2, body = ?3, version = version + 1,
        version_at = ?4, version_actor = ?5, version_reason = ?6, journey_date = ?7
     WHERE report_id = ?1";

/// Deletes everything of an erased report but its tombstone (the same statements on
/// PostgreSQL, in this order).
pub(super) const ERASE: [&str; 4] = [
    "DELETE FROM restrictions WHERE report_id = ?1",
    "DELETE FROM report_versions WHERE report_id = ?1",
    "DELETE FROM review_decisions WHERE report_id = ?1",
    "DELETE FROM reports WHERE report_id = ?1",
];

/// Groups [`REVIEW_CANDIDATES`] rows (id, journey date, set review date, then a decision's
/// five columns or nulls) by report.
pub(super) fn review_rows(
    rows: impl IntoIterator<Item = (String, String, Option<String>, Option<Decision>)>,
) -> Vec<ReviewRow> {
    let mut out: Vec<ReviewRow> = Vec::new();
    for (id, journey_date, review_date, d) in rows {
        if out.last().is_none_or(|r| r.report_id != id) {
            out.push(ReviewRow {
                report_id: id,
                journey_date,
                review_date,
                decisions: Vec::new(),
            });
        }
        if let (Some(d), Some(last)) = (d, out.last_mut()) {
            last.decisions.push(d);
        }
    }
    out
}

/// Restricts a report if it is stored (the same statement on PostgreSQL).
pub(super) const RESTRICT: &str = "INSERT INTO restrictions (report_id, reason, actor, at)
     SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM reports WHERE report_id = ?1)
     ON CONFLICT (report_id) DO UPDATE SET reason = excluded.reason, actor = excluded.actor, at = excluded.at";

pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` and runs pending migrations.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let err = |e: rusqlite::Error| StoreError::Open {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        // Owner-only from the start: SQLite gives the -wal and -shm files the database's mode.
        #[cfg(unix)]
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| StoreError::Open {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
        }
        let conn = Connection::open(path).map_err(err)?;
        Self::init(conn).map_err(|e| match e {
            StoreError::Sqlite(s) => err(s),
            other => other,
        })
    }

    /// A private in-memory store (tests).
    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<SqliteStore, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // deleted content (erasure) is overwritten with zeros, not left in free pages
        conn.pragma_update(None, "secure_delete", "ON")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, m) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            conn.execute_batch(&format!(
                "BEGIN; {m}; PRAGMA user_version = {}; COMMIT;",
                i + 1
            ))?;
        }
        backfill_journey_dates(&conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }
}

/// Fills in the journey date of reports stored before migration 5 (once: reports stored since
/// have it; a body that is not a report is left without one).
fn backfill_journey_dates(conn: &Connection) -> Result<(), StoreError> {
    let todo: Vec<(i64, String)> = conn
        .prepare("SELECT seq, body FROM reports WHERE journey_date IS NULL")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    if todo.is_empty() {
        return Ok(());
    }
    conn.execute_batch("BEGIN")?;
    {
        let mut set = conn.prepare("UPDATE reports SET journey_date = ?2 WHERE seq = ?1")?;
        for (seq, body) in &todo {
            if let Some(d) = super::journey_date(body) {
                set.execute(params![seq, d])?;
            }
        }
    }
    conn.execute_batch("COMMIT")?;
    Ok(())
}

fn stored(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredReport> {
    Ok(StoredReport {
        seq: r.get(0)?,
        report_id: r.get(1)?,
        body: r.get(2)?,
        received_at: r.get(3)?,
        version: r.get(4)?,
    })
}

impl JourneyStore for SqliteStore {
    fn put(&self, records: &[NewReport]) -> Result<Vec<PutOutcome>, StoreError> {
        let mut conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        let tx = conn.transaction()?;
        let now = OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(records.len());
        {
            let mut find =
                tx.prepare_cached("SELECT seq, body FROM reports WHERE report_id = ?1")?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO reports (report_id, received_at, body, journey_date) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut erased = tx.prepare_cached("SELECT 1 FROM tombstones WHERE report_id = ?1")?;
            for r in records {
                if erased.exists(params![r.report_id])? {
                    out.push(PutOutcome::Erased);
                    continue;
                }
                let existing: Option<(i64, String)> = find
                    .query_row(params![r.report_id], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()?;
                out.push(match existing {
                    Some((seq, body)) if body == r.body => PutOutcome::Exists { seq },
                    Some((seq, _)) => PutOutcome::Conflict { seq },
                    None => {
                        insert.execute(params![
                            r.report_id,
                            now,
                            r.body,
                            super::journey_date(&r.body)
                        ])?;
                        PutOutcome::Created {
                            seq: tx.last_insert_rowid(),
                        }
                    }
                });
            }
        }
        tx.commit()?;
        Ok(out)
    }

    fn get(&self, report_id: &str) -> Result<Option<StoredReport>, StoreError> {
        let conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        Ok(conn
            .query_row(
                &format!("SELECT {REPORT_COLUMNS} FROM reports WHERE report_id = ?1"),
                params![report_id],
                stored,
            )
            .optional()?)
    }

    fn restrict(&self, r: &Restriction) -> Result<bool, StoreError> {
        let conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        Ok(conn.execute(RESTRICT, params![r.report_id, r.reason, r.actor, r.at])? > 0)
    }

    fn unrestrict(&self, report_id: &str) -> Result<bool, StoreError> {
        let conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        Ok(conn.execute(
            "DELETE FROM restrictions WHERE report_id = ?1",
            params![report_id],
        )? > 0)
    }

    fn erase(&self, t: &Tombstone) -> Result<Erased, StoreError> {
        let mut conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        let tx = conn.transaction()?;
        if tx
            .prepare_cached("SELECT 1 FROM tombstones WHERE report_id = ?1")?
            .exists(params![t.report_id])?
        {
            return Ok(Erased::Already);
        }
        let mut deleted = 0;
        for sql in ERASE {
            deleted = tx.execute(sql, params![t.report_id])?;
        }
        if deleted == 0 {
            return Ok(Erased::NoSuchReport);
        }
        tx.execute(
            "INSERT INTO tombstones (report_id, at, actor, reason) VALUES (?1, ?2, ?3, ?4)",
            params![t.report_id, t.at, t.actor, t.reason],
        )?;
        tx.commit()?;
        Ok(Erased::Done)
    }

    fn tombstone_count(&self) -> Result<u64, StoreError> {
        let conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        Ok(conn.query_row("SELECT count(*) FROM tombstones", [], |r| {
            r.get::<_, i64>(0)
        })? as u64)
    }

    fn tombstones(&self) -> Result<Vec<Tombstone>, StoreError> {
        let conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        let mut stmt = conn
            .prepare_cached("SELECT report_id, at, actor, reason FROM tombstones ORDER BY seq")?;
        let rows = stmt.query_map([], |r| {
            Ok(Tombstone {
                report_id: r.get(0)?,
                at: r.get(1)?,
                actor: r.get(2)?,
                reason: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn restrictions(&self) -> Result<Vec<Restriction>, StoreError> {
        let conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        let mut stmt = conn.prepare_cached(
            "SELECT report_id, reason, actor, at FROM restrictions ORDER BY report_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Restriction {
                report_id: r.get(0)?,
                reason: r.get(1)?,
                actor: r.get(2)?,
                at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn scan(&self, after: i64, f: &mut dyn FnMut(StoredReport)) -> Result<(), StoreError> {
        let conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE seq > ?1 ORDER BY seq"
        ))?;
        let rows = stmt.query_map(params![after], stored)?;
        for row in rows {
            f(row?);
        }
        Ok(())
    }

    fn rectify(&self, r: &Rectification) -> Result<Rectified, StoreError> {
        let mut conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        let tx = conn.transaction()?;
        if tx
            .prepare_cached("SELECT 1 FROM tombstones WHERE report_id = ?1")?
            .exists(params![r.report_id])?
        {
            return Ok(Rectified::Erased);
        }
        let Some((body, version)): Option<(String, i64)> = tx
            .query_row(
                "SELECT body, version FROM reports WHERE report_id = ?1",
                params![r.report_id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?
        else {
            return Ok(Rectified::NoSuchReport);
        };
        if body == r.body {
            return Ok(Rectified::Unchanged { version });
        }
        tx.execute(KEEP_VERSION, params![r.report_id])?;
        // a new sequence number past every one given (AUTOINCREMENT's own counter moves too),
        // so that a follower reading `seq > last` reads the report again
        let seq: i64 = tx.query_row(
            "UPDATE sqlite_sequence SET seq = max(seq, (SELECT max(seq) FROM reports)) + 1
             WHERE name = 'reports' RETURNING seq",
            [],
            |row| row.get(0),
        )?;
        tx.execute(
            RECTIFY,
            params![
                r.report_id,
                seq,
                r.body,
                r.at,
                r.actor,
                r.reason,
                super::journey_date(&r.body)
            ],
        )?;
        tx.commit()?;
        Ok(Rectified::Done {
            version: version + 1,
        })
    }

    fn versions(&self, report_id: &str) -> Result<Option<Vec<Version>>, StoreError> {
        let conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        let mut stmt = conn.prepare_cached(VERSIONS)?;
        let list: Vec<Version> = stmt
            .query_map(params![report_id], |r| {
                Ok(Version {
                    version: r.get(0)?,
                    at: r.get(1)?,
                    actor: r.get(2)?,
                    reason: r.get(3)?,
                    body: r.get(4)?,
                    current: r.get::<_, i64>(5)? == 1,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(list.iter().any(|v| v.current).then_some(list))
    }

    fn review_candidates(
        &self,
        review_before: &str,
        journey_before: &str,
    ) -> Result<Vec<ReviewRow>, StoreError> {
        let conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        let mut stmt = conn.prepare_cached(REVIEW_CANDIDATES)?;
        let rows = stmt
            .query_map(params![review_before, journey_before], |r| {
                let decision: Option<String> = r.get(3)?;
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    match decision {
                        Some(decision) => Some(Decision {
                            decision,
                            review_date: r.get(4)?,
                            reason: r.get(5)?,
                            actor: r.get(6)?,
                            at: r.get(7)?,
                        }),
                        None => None,
                    },
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(review_rows(rows))
    }

    fn retain(&self, report_id: &str, d: &Decision) -> Result<bool, StoreError> {
        let mut conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        let tx = conn.transaction()?;
        if tx.execute(
            "UPDATE reports SET review_date = ?2 WHERE report_id = ?1",
            params![report_id, d.review_date],
        )? == 0
        {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO review_decisions (report_id, decision, review_date, reason, actor, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                report_id,
                d.decision,
                d.review_date,
                d.reason,
                d.actor,
                d.at
            ],
        )?;
        tx.commit()?;
        Ok(true)
    }

    fn checkpoint(&self) -> Result<(), StoreError> {
        let conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    fn count(&self) -> Result<u64, StoreError> {
        let conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        Ok(conn.query_row("SELECT count(*) FROM reports", [], |r| r.get::<_, i64>(0))? as u64)
    }

    fn integrity_check(&self) -> Result<(), StoreError> {
        let conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        let res: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if res != "ok" {
            return Err(StoreError::Corrupt(res));
        }
        let dups: i64 = conn.query_row(
            "SELECT count(*) FROM (SELECT report_id FROM reports GROUP BY report_id HAVING count(*) > 1)",
            [],
            |r| r.get(0),
        )?;
        if dups > 0 {
            return Err(StoreError::Corrupt(format!(
                "{dups} report ids stored more than once"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, body: &str) -> NewReport {
        NewReport {
            report_id: id.into(),
            body: body.into(),
        }
    }

    #[test]
    fn put_is_idempotent_by_id_and_refuses_changed_content() {
        let s = SqliteStore::in_memory().unwrap();
        let out = s.put(&[rec("a", "{1}"), rec("b", "{2}")]).unwrap();
        assert_eq!(
            out,
            vec![
                PutOutcome::Created { seq: 1 },
                PutOutcome::Created { seq: 2 }
            ]
        );
        let out = s
            .put(&[rec("a", "{1}"), rec("b", "{changed}"), rec("c", "{3}")])
            .unwrap();
        assert_eq!(
            out,
            vec![
                PutOutcome::Exists { seq: 1 },
                PutOutcome::Conflict { seq: 2 },
                PutOutcome::Created { seq: 3 }
            ]
        );
        assert_eq!(s.count().unwrap(), 3);
        assert_eq!(s.get("b").unwrap().unwrap().body, "{2}");
        let mut seen = Vec::new();
        s.scan(1, &mut |r| seen.push(r.report_id)).unwrap();
        assert_eq!(seen, vec!["b", "c"]);
        s.integrity_check().unwrap();
    }

    #[test]
    fn a_reopened_file_keeps_everything_and_migrations_run_once() {
        let dir = std::env::temp_dir().join(format!("lm-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sqlite");
        let _ = std::fs::remove_file(&path);
        {
            let s = SqliteStore::open(&path).unwrap();
            s.put(&[rec("x", "{x}")]).unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.get("x").unwrap().unwrap().body, "{x}");
        assert_eq!(
            s.put(&[rec("y", "{y}")]).unwrap(),
            vec![PutOutcome::Created { seq: 2 }]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
