//! The embedded SQLite store (rusqlite, SQLite bundled).
//!
//! WAL journal with `synchronous = FULL`: a transaction's commit is fsynced before `put`
//! returns, so an acknowledged write survives a crash of the process or the machine.

use super::{
    Erased, JourneyStore, NewReport, PutOutcome, Restriction, StoreError, StoredReport, Tombstone,
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
];

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
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }
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
                "INSERT INTO reports (report_id, received_at, body) VALUES (?1, ?2, ?3)",
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
                        insert.execute(params![r.report_id, now, r.body])?;
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
                "SELECT seq, report_id, body, received_at FROM reports WHERE report_id = ?1",
                params![report_id],
                |r| {
                    Ok(StoredReport {
                        seq: r.get(0)?,
                        report_id: r.get(1)?,
                        body: r.get(2)?,
                        received_at: r.get(3)?,
                    })
                },
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
        tx.execute(
            "DELETE FROM restrictions WHERE report_id = ?1",
            params![t.report_id],
        )?;
        if tx.execute(
            "DELETE FROM reports WHERE report_id = ?1",
            params![t.report_id],
        )? == 0
        {
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
        let mut stmt = conn.prepare(
            "SELECT seq, report_id, body, received_at FROM reports WHERE seq > ?1 ORDER BY seq",
        )?;
        let rows = stmt.query_map(params![after], |r| {
            Ok(StoredReport {
                seq: r.get(0)?,
                report_id: r.get(1)?,
                body: r.get(2)?,
                received_at: r.get(3)?,
            })
        })?;
        for row in rows {
            f(row?);
        }
        Ok(())
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
