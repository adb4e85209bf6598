//! The PostgreSQL backend: one database shared by several server instances.
//!
//! Same guarantees as SQLite: `put` is one transaction (committed, with PostgreSQL's default
//! `synchronous_commit = on`, before it returns), idempotent by `report_id`, and refuses
//! changed content. Concurrent instances inserting the same new id meet at the unique index:
//! `INSERT … ON CONFLICT DO NOTHING` waits for the other transaction, then the row is compared.
//! The schema is versioned in `schema_migrations` and migrated at start-up under an advisory
//! lock, so instances starting together migrate once. A dropped connection is reopened on the
//! next call.
//!
//! Sequence numbers come from a `bigserial`: unique and increasing in order of insertion, but
//! not of commit (a transaction may commit after one that took a later number) and with holes
//! (rolled-back inserts, `ON CONFLICT` misses). [`crate::ingest::Journeys::catch_up`] allows for
//! both.

use super::sqlite::{
    ERASE, KEEP_VERSION, RECTIFY, REPORT_COLUMNS, REVIEW_CANDIDATES, VERSIONS, review_rows,
};
use super::{
    Decision, Erased, JourneyStore, NewReport, PutOutcome, Rectification, Rectified, Restriction,
    ReviewRow, StoreError, StoredReport, Tombstone, Version,
};
use postgres::{Client, NoTls};
use std::sync::{Mutex, MutexGuard};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The schema, one step per version; never edit a released step, add one.
const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        "CREATE TABLE reports (
            seq bigserial PRIMARY KEY,
            report_id text NOT NULL UNIQUE,
            received_at text NOT NULL,
            body text NOT NULL
        )",
    ),
    (
        2,
        // the audit log every instance appends to (crate::access::audit)
        "CREATE TABLE audit_events (
            id bigserial PRIMARY KEY,
            ts text NOT NULL,
            actor text NOT NULL,
            token_id text NOT NULL,
            role text NOT NULL,
            action text NOT NULL,
            path text NOT NULL,
            query text NOT NULL,
            records bigint NOT NULL,
            justification text,
            remote text
        )",
    ),
    (
        3,
        // the single sign-on identity of a caller signed in with a JWT
        "ALTER TABLE audit_events ADD COLUMN sso_subject text, ADD COLUMN sso_issuer text",
    ),
    (
        4,
        // reports kept but withheld (restriction of processing)
        "CREATE TABLE restrictions (
            report_id text PRIMARY KEY REFERENCES reports (report_id),
            reason text NOT NULL,
            actor text NOT NULL,
            at text NOT NULL
        )",
    ),
    (
        5,
        // what is left of erased reports
        "CREATE TABLE tombstones (
            seq bigserial PRIMARY KEY,
            report_id text NOT NULL UNIQUE,
            at text NOT NULL,
            actor text NOT NULL,
            reason text NOT NULL
        )",
    ),
    (
        6,
        // rectification: the current version's number, when, who and why on the report; the
        // versions it replaced
        "ALTER TABLE reports ADD COLUMN version bigint NOT NULL DEFAULT 1,
            ADD COLUMN version_at text, ADD COLUMN version_actor text, ADD COLUMN version_reason text;
        CREATE TABLE report_versions (
            seq bigserial PRIMARY KEY,
            report_id text NOT NULL,
            version bigint NOT NULL,
            body text NOT NULL,
            at text NOT NULL,
            actor text,
            reason text,
            UNIQUE (report_id, version)
        )",
    ),
    (
        7,
        // review (MoPI): the journey date (filled in for stored reports at start-up), a review
        // date an admin set, and the decisions
        "ALTER TABLE reports ADD COLUMN journey_date text, ADD COLUMN review_date text;
        CREATE INDEX reports_journey_date ON reports (journey_date);
        CREATE INDEX reports_review_date ON reports (review_date);
        CREATE TABLE review_decisions (
            seq bigserial PRIMARY KEY,
            report_id text NOT NULL,
            decision text NOT NULL,
            review_date text,
            reason text NOT NULL,
            actor text NOT NULL,
            at text NOT NULL
        );
        CREATE INDEX review_decisions_report ON review_decisions (report_id)",
    ),
];

/// A statement written for SQLite (`?1` …) with PostgreSQL's placeholders (`$1` …).
fn pg(sql: &str) -> String {
    (1..=9).rev().fold(sql.to_string(), |s, i| {
        s.replace(&format!("?{i}"), &format!("${i}"))
    })
}

fn stored(r: &postgres::Row) -> StoredReport {
    StoredReport {
        seq: r.get(0),
        report_id: r.get(1),
        body: r.get(2),
        received_at: r.get(3),
        version: r.get(4),
    }
}

/// Any 64-bit number, the same in every instance: the advisory lock of migrations.
const MIGRATION_LOCK: i64 = 0x6c69_6e65_736d_6170; // "linesmap"

pub struct PostgresStore {
    url: String,
    client: Mutex<Option<Client>>,
}

fn err(e: postgres::Error) -> StoreError {
    StoreError::Postgres(describe(&e))
}

/// The server's own message when there is one (`db error` alone says nothing).
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {} ({})", db.severity(), db.message(), db.code().code()),
        None => match std::error::Error::source(e) {
            Some(s) => format!("{e}: {s}"),
            None => e.to_string(),
        },
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host:port/db`) and migrates the schema.
    pub fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let mut client = Client::connect(url, NoTls).map_err(|e| StoreError::Open {
            path: redact(url),
            message: describe(&e),
        })?;
        migrate(&mut client)?;
        Ok(PostgresStore {
            url: url.to_string(),
            client: Mutex::new(Some(client)),
        })
    }

    /// The schema version of the database.
    pub fn schema_version(&self) -> Result<i32, StoreError> {
        let mut g = self.conn()?;
        let c = g.as_mut().expect("connected");
        let row = c
            .query_one(
                "SELECT coalesce(max(version), 0) FROM schema_migrations",
                &[],
            )
            .map_err(err)?;
        Ok(row.get(0))
    }

    /// The connection, reopened if it was lost.
    fn conn(&self) -> Result<MutexGuard<'_, Option<Client>>, StoreError> {
        let mut g = self.client.lock().map_err(|_| StoreError::Poisoned)?;
        if g.as_ref().is_none_or(Client::is_closed) {
            *g = None;
            let c = Client::connect(&self.url, NoTls).map_err(|e| StoreError::Open {
                path: redact(&self.url),
                message: describe(&e),
            })?;
            *g = Some(c);
        }
        Ok(g)
    }

    /// Runs `f` on the connection; a failure that closed the connection is retried once on a
    /// new one (reads only: writes are not retried here, the client retries them by id).
    fn read<T>(
        &self,
        f: impl Fn(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        let mut g = self.conn()?;
        match f(g.as_mut().expect("connected")) {
            Ok(v) => Ok(v),
            Err(e) if g.as_ref().is_some_and(Client::is_closed) => {
                drop(g);
                let mut g = self.conn()?;
                f(g.as_mut().expect("connected")).map_err(|_| err(e))
            }
            Err(e) => Err(err(e)),
        }
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s && url[s + 3..at].contains(':') => {
            let user = url[s + 3..at].split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// One transaction: each record inserted, or compared with the stored one.
fn put_on(c: &mut Client, records: &[NewReport]) -> Result<Vec<PutOutcome>, postgres::Error> {
    let now = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default();
    let mut tx = c.transaction()?;
    let insert = tx.prepare(
        "INSERT INTO reports (report_id, received_at, body, journey_date) VALUES ($1, $2, $3, $4)
         ON CONFLICT (report_id) DO NOTHING RETURNING seq",
    )?;
    let find = tx.prepare("SELECT seq, body FROM reports WHERE report_id = $1")?;
    let erased = tx.prepare("SELECT 1 FROM tombstones WHERE report_id = $1")?;
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        if tx.query_opt(&erased, &[&r.report_id])?.is_some() {
            out.push(PutOutcome::Erased);
            continue;
        }
        let date = super::journey_date(&r.body);
        if let Some(row) = tx.query_opt(&insert, &[&r.report_id, &now, &r.body, &date])? {
            out.push(PutOutcome::Created { seq: row.get(0) });
            continue;
        }
        let row = tx.query_one(&find, &[&r.report_id])?;
        let (seq, body): (i64, String) = (row.get(0), row.get(1));
        out.push(if body == r.body {
            PutOutcome::Exists { seq }
        } else {
            PutOutcome::Conflict { seq }
        });
    }
    tx.commit()?;
    Ok(out)
}

fn migrate(c: &mut Client) -> Result<(), StoreError> {
    let mut tx = c.transaction().map_err(err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(err)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version integer PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now()
        )",
    )
    .map_err(err)?;
    let current: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .map_err(err)?
        .get(0);
    let latest = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > latest {
        return Err(StoreError::Open {
            path: "postgres".into(),
            message: format!(
                "the database schema is version {current}, newer than this build knows ({latest}): upgrade linesmap"
            ),
        });
    }
    for (v, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        tx.batch_execute(sql).map_err(err)?;
        tx.execute("INSERT INTO schema_migrations (version) VALUES ($1)", &[v])
            .map_err(err)?;
        tracing::info!(version = v, "database schema migrated");
    }
    tx.commit().map_err(err)?;
    backfill_journey_dates(c).map_err(err)
}

/// Fills in the journey date of reports stored before migration 7 (once: reports stored since
/// have it; a body that is not a report is left without one). In pages; several instances
/// doing it at once write the same values.
fn backfill_journey_dates(c: &mut Client) -> Result<(), postgres::Error> {
    let mut after = 0i64;
    loop {
        let rows = c.query(
            "SELECT seq, body FROM reports WHERE journey_date IS NULL AND seq > $1
             ORDER BY seq LIMIT 5000",
            &[&after],
        )?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.get(0);
        let mut tx = c.transaction()?;
        let set = tx.prepare("UPDATE reports SET journey_date = $2 WHERE seq = $1")?;
        for r in &rows {
            if let Some(d) = super::journey_date(r.get(1)) {
                tx.execute(&set, &[&r.get::<_, i64>(0), &d])?;
            }
        }
        tx.commit()?;
    }
}

impl JourneyStore for PostgresStore {
    fn put(&self, records: &[NewReport]) -> Result<Vec<PutOutcome>, StoreError> {
        let mut g = self.conn()?;
        match put_on(g.as_mut().expect("connected"), records) {
            Ok(out) => Ok(out),
            // The server dropped the connection (a restart, a failover): once more on a new
            // one. Safe: if the first try did commit, the second finds every record "exists".
            Err(e) if g.as_ref().is_some_and(Client::is_closed) => {
                drop(g);
                tracing::warn!(error = %describe(&e), "database connection lost; retrying the write once");
                let mut g = self.conn()?;
                put_on(g.as_mut().expect("connected"), records).map_err(err)
            }
            Err(e) => Err(err(e)),
        }
    }

    fn get(&self, report_id: &str) -> Result<Option<StoredReport>, StoreError> {
        let sql = format!("SELECT {REPORT_COLUMNS} FROM reports WHERE report_id = $1");
        self.read(|c| c.query_opt(sql.as_str(), &[&report_id]))
            .map(|row| row.as_ref().map(stored))
    }

    fn restrict(&self, r: &Restriction) -> Result<bool, StoreError> {
        // an upsert: run again on a new connection if the first was lost, it changes nothing more
        let sql = super::sqlite::RESTRICT
            .replace("?1", "$1")
            .replace("?2", "$2")
            .replace("?3", "$3")
            .replace("?4", "$4");
        self.read(|c| c.execute(sql.as_str(), &[&r.report_id, &r.reason, &r.actor, &r.at]))
            .map(|n| n > 0)
    }

    fn unrestrict(&self, report_id: &str) -> Result<bool, StoreError> {
        self.read(|c| {
            c.execute(
                "DELETE FROM restrictions WHERE report_id = $1",
                &[&report_id],
            )
        })
        .map(|n| n > 0)
    }

    fn erase(&self, t: &Tombstone) -> Result<Erased, StoreError> {
        self.read(|c| {
            let mut tx = c.transaction()?;
            if tx
                .query_opt(
                    "SELECT 1 FROM tombstones WHERE report_id = $1",
                    &[&t.report_id],
                )?
                .is_some()
            {
                return Ok(Erased::Already);
            }
            let mut deleted = 0;
            for sql in ERASE {
                deleted = tx.execute(pg(sql).as_str(), &[&t.report_id])?;
            }
            if deleted == 0 {
                return Ok(Erased::NoSuchReport);
            }
            tx.execute(
                "INSERT INTO tombstones (report_id, at, actor, reason) VALUES ($1, $2, $3, $4)",
                &[&t.report_id, &t.at, &t.actor, &t.reason],
            )?;
            tx.commit()?;
            Ok(Erased::Done)
        })
    }

    fn tombstone_count(&self) -> Result<u64, StoreError> {
        self.read(|c| c.query_one("SELECT count(*) FROM tombstones", &[]))
            .map(|r| r.get::<_, i64>(0).max(0) as u64)
    }

    fn tombstones(&self) -> Result<Vec<Tombstone>, StoreError> {
        self.read(|c| {
            c.query(
                "SELECT report_id, at, actor, reason FROM tombstones ORDER BY seq",
                &[],
            )
        })
        .map(|rows| {
            rows.into_iter()
                .map(|r| Tombstone {
                    report_id: r.get(0),
                    at: r.get(1),
                    actor: r.get(2),
                    reason: r.get(3),
                })
                .collect()
        })
    }

    fn restrictions(&self) -> Result<Vec<Restriction>, StoreError> {
        self.read(|c| {
            c.query(
                "SELECT report_id, reason, actor, at FROM restrictions ORDER BY report_id",
                &[],
            )
        })
        .map(|rows| {
            rows.into_iter()
                .map(|r| Restriction {
                    report_id: r.get(0),
                    reason: r.get(1),
                    actor: r.get(2),
                    at: r.get(3),
                })
                .collect()
        })
    }

    fn scan(&self, after: i64, f: &mut dyn FnMut(StoredReport)) -> Result<(), StoreError> {
        // in pages, so that a large store is not held in memory twice
        let mut last = after;
        let sql =
            format!("SELECT {REPORT_COLUMNS} FROM reports WHERE seq > $1 ORDER BY seq LIMIT 10000");
        loop {
            let rows = self.read(|c| c.query(sql.as_str(), &[&last]))?;
            let n = rows.len();
            for r in rows {
                let s = stored(&r);
                last = s.seq;
                f(s);
            }
            if n < 10000 {
                return Ok(());
            }
        }
    }

    fn rectify(&self, r: &Rectification) -> Result<Rectified, StoreError> {
        // one transaction; if the connection is lost before the commit nothing was stored, and
        // if after, the retry finds the content current ("unchanged")
        let (keep, rectify) = (pg(KEEP_VERSION), pg(RECTIFY));
        self.read(|c| {
            let mut tx = c.transaction()?;
            if tx
                .query_opt(
                    "SELECT 1 FROM tombstones WHERE report_id = $1",
                    &[&r.report_id],
                )?
                .is_some()
            {
                return Ok(Rectified::Erased);
            }
            let Some(row) = tx.query_opt(
                "SELECT body, version FROM reports WHERE report_id = $1 FOR UPDATE",
                &[&r.report_id],
            )?
            else {
                return Ok(Rectified::NoSuchReport);
            };
            let (body, version): (String, i64) = (row.get(0), row.get(1));
            if body == r.body {
                return Ok(Rectified::Unchanged { version });
            }
            tx.execute(keep.as_str(), &[&r.report_id])?;
            // a new sequence number, so that every instance's follower reads the report again
            let seq: i64 = tx
                .query_one(
                    "SELECT nextval(pg_get_serial_sequence('reports', 'seq'))",
                    &[],
                )?
                .get(0);
            let date = super::journey_date(&r.body);
            tx.execute(
                rectify.as_str(),
                &[
                    &r.report_id,
                    &seq,
                    &r.body,
                    &r.at,
                    &r.actor,
                    &r.reason,
                    &date,
                ],
            )?;
            tx.commit()?;
            Ok(Rectified::Done {
                version: version + 1,
            })
        })
    }

    fn versions(&self, report_id: &str) -> Result<Option<Vec<Version>>, StoreError> {
        let sql = pg(VERSIONS);
        let rows = self.read(|c| c.query(sql.as_str(), &[&report_id]))?;
        let list: Vec<Version> = rows
            .iter()
            .map(|r| Version {
                version: r.get(0),
                at: r.get(1),
                actor: r.get(2),
                reason: r.get(3),
                body: r.get(4),
                current: r.get::<_, i32>(5) == 1,
            })
            .collect();
        Ok(list.iter().any(|v| v.current).then_some(list))
    }

    fn review_candidates(
        &self,
        review_before: &str,
        journey_before: &str,
    ) -> Result<Vec<ReviewRow>, StoreError> {
        let sql = pg(REVIEW_CANDIDATES);
        let rows = self.read(|c| c.query(sql.as_str(), &[&review_before, &journey_before]))?;
        Ok(review_rows(rows.iter().map(|r| {
            let decision: Option<String> = r.get(3);
            (
                r.get(0),
                r.get(1),
                r.get(2),
                decision.map(|decision| Decision {
                    decision,
                    review_date: r.get(4),
                    reason: r.get(5),
                    actor: r.get(6),
                    at: r.get(7),
                }),
            )
        })))
    }

    fn retain(&self, report_id: &str, d: &Decision) -> Result<bool, StoreError> {
        self.read(|c| {
            let mut tx = c.transaction()?;
            if tx.execute(
                "UPDATE reports SET review_date = $2 WHERE report_id = $1",
                &[&report_id, &d.review_date],
            )? == 0
            {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO review_decisions (report_id, decision, review_date, reason, actor, at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &report_id,
                    &d.decision,
                    &d.review_date,
                    &d.reason,
                    &d.actor,
                    &d.at,
                ],
            )?;
            tx.commit()?;
            Ok(true)
        })
    }

    fn count(&self) -> Result<u64, StoreError> {
        self.read(|c| c.query_one("SELECT count(*) FROM reports", &[]))
            .map(|r| r.get::<_, i64>(0) as u64)
    }

    fn integrity_check(&self) -> Result<(), StoreError> {
        let row = self.read(|c| {
            c.query_one(
                "SELECT count(*), count(DISTINCT report_id), count(*) FILTER (WHERE body IS NULL OR body = '') FROM reports",
                &[],
            )
        })?;
        let (all, distinct, empty): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
        if all != distinct {
            return Err(StoreError::Corrupt(format!(
                "{} report ids are stored more than once",
                all - distinct
            )));
        }
        if empty > 0 {
            return Err(StoreError::Corrupt(format!("{empty} reports have no body")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redact("postgres://lm:s3cret@db.example:5432/linesmap"),
            "postgres://lm:***@db.example:5432/linesmap"
        );
        assert_eq!(
            redact("postgres://127.0.0.1/linesmap"),
            "postgres://127.0.0.1/linesmap"
        );
        assert_eq!(
            redact("postgres://lm@127.0.0.1/linesmap"),
            "postgres://lm@127.0.0.1/linesmap"
        );
    }
}
