//! The audit log (DPA 2018 s.62): every consultation of journey-level data, every export and
//! every collection (ingest) is one JSON line appended to a file and synced to disk before the
//! data leaves the server. Nothing is ever rewritten; erased content is never copied in.

use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One audit entry.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AuditEvent {
    /// RFC 3339, UTC, to the microsecond
    pub ts: String,
    /// the token holder's name
    pub actor: String,
    /// the token's public id (`open-demo` in open demo mode)
    pub token_id: String,
    pub role: super::Role,
    /// `read_journeys`, `read_journey`, `read_persons`, `export`, `ingest`, `read_audit`,
    /// `restrict`, `unrestrict`, `erase`, `rectify`, `read_versions`, `read_review`,
    /// `review_retain`, `review_dispose`
    pub action: String,
    /// the path asked for
    pub path: String,
    /// the query string (the filter), as sent
    pub query: String,
    /// records returned (or exported, or created)
    pub records: u64,
    /// the `X-Justification` header, if any
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub justification: Option<String>,
    /// the client's address
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub remote: Option<String>,
    /// for a caller signed in with a JWT: the provider's `sub`
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sso_subject: Option<String>,
    /// and its `iss`
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sso_issuer: Option<String>,
}

/// The append-only log: a file (one instance), or a table in the PostgreSQL database that
/// several instances share (`audit_events`, created by the store's migrations), so that every
/// instance's `/api/audit` shows every instance's entries.
pub struct AuditLog {
    sink: Sink,
}

#[allow(clippy::large_enum_variant)] // one per server
enum Sink {
    File {
        path: PathBuf,
        file: Mutex<File>,
    },
    Database {
        url: String,
        client: Mutex<Option<postgres::Client>>,
    },
}

fn pg_err(e: postgres::Error) -> std::io::Error {
    std::io::Error::other(match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    })
}

impl AuditLog {
    /// Opens (or creates, mode 0600) the log for appending.
    pub fn open(path: &Path) -> anyhow::Result<AuditLog> {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut file = opts
            .open(path)
            .map_err(|e| anyhow::anyhow!("cannot open the audit log {}: {e}", path.display()))?;
        // A crash mid-write leaves a line without its newline: end it, so the next event
        // starts on a line of its own.
        let len = file.metadata()?.len();
        if len > 0 {
            use std::io::{Read, Seek, SeekFrom};
            let mut r = File::open(path)?;
            r.seek(SeekFrom::Start(len - 1))?;
            let mut last = [0u8; 1];
            r.read_exact(&mut last)?;
            if last[0] != b'\n' {
                file.write_all(b"\n")?;
                file.sync_data()?;
            }
        }
        Ok(AuditLog {
            sink: Sink::File {
                path: path.to_path_buf(),
                file: Mutex::new(file),
            },
        })
    }

    /// The `audit_events` table of the PostgreSQL database at `url` (migrated by the store).
    pub fn database(url: &str) -> anyhow::Result<AuditLog> {
        let mut c = postgres::Client::connect(url, postgres::NoTls)
            .map_err(|e| anyhow::anyhow!("audit log database: {}", pg_err(e)))?;
        c.query_one("SELECT count(*) FROM audit_events", &[])
            .map_err(|e| anyhow::anyhow!("audit log table: {}", pg_err(e)))?;
        Ok(AuditLog {
            sink: Sink::Database {
                url: url.to_string(),
                client: Mutex::new(Some(c)),
            },
        })
    }

    /// Where the log is, for messages.
    pub fn describe(&self) -> String {
        match &self.sink {
            Sink::File { path, .. } => path.display().to_string(),
            Sink::Database { .. } => "the database table audit_events".into(),
        }
    }

    fn with_client<T>(
        url: &str,
        client: &Mutex<Option<postgres::Client>>,
        f: impl Fn(&mut postgres::Client) -> Result<T, postgres::Error>,
    ) -> std::io::Result<T> {
        let mut g = client
            .lock()
            .map_err(|_| std::io::Error::other("audit log lock poisoned"))?;
        if g.as_ref().is_none_or(postgres::Client::is_closed) {
            *g = Some(postgres::Client::connect(url, postgres::NoTls).map_err(pg_err)?);
        }
        match f(g.as_mut().expect("connected")) {
            Ok(v) => Ok(v),
            // the server went away since the last use (a restart, a failover): once more on a
            // new connection
            Err(_) if g.as_ref().is_some_and(postgres::Client::is_closed) => {
                *g = Some(postgres::Client::connect(url, postgres::NoTls).map_err(pg_err)?);
                f(g.as_mut().expect("connected")).map_err(pg_err)
            }
            Err(e) => Err(pg_err(e)),
        }
    }

    /// Appends one event, durably (synced to disk, or committed). An error means the access
    /// must not go ahead.
    pub fn append(&self, e: &AuditEvent) -> std::io::Result<()> {
        match &self.sink {
            Sink::File { file, .. } => {
                let mut line = serde_json::to_vec(e).map_err(std::io::Error::other)?;
                line.push(b'\n');
                let mut f = file
                    .lock()
                    .map_err(|_| std::io::Error::other("audit log lock poisoned"))?;
                f.write_all(&line)?;
                f.sync_data()
            }
            Sink::Database { url, client } => Self::with_client(url, client, |c| {
                c.execute(
                    "INSERT INTO audit_events (ts, actor, token_id, role, action, path, query, records, justification, remote, sso_subject, sso_issuer)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                    &[&e.ts, &e.actor, &e.token_id, &e.role.as_str(), &e.action, &e.path, &e.query,
                      &(e.records as i64), &e.justification, &e.remote, &e.sso_subject, &e.sso_issuer],
                )
                .map(|_| ())
            }),
        }
    }

    /// Events in order, those `keep` accepts, skipping `offset` of them and returning at most
    /// `limit`; also the number that matched. A torn last line (a crash mid-write, never
    /// acknowledged) is skipped.
    pub fn read(
        &self,
        keep: impl Fn(&AuditEvent) -> bool,
        offset: usize,
        limit: usize,
    ) -> std::io::Result<(Vec<AuditEvent>, usize)> {
        let all: Vec<AuditEvent> = match &self.sink {
            Sink::File { path, file } => {
                let _guard = file.lock();
                let f = File::open(path)?;
                let mut v = Vec::new();
                for line in std::io::BufReader::new(f).lines() {
                    if let Ok(e) = serde_json::from_str::<AuditEvent>(&line?) {
                        v.push(e);
                    }
                }
                v
            }
            Sink::Database { url, client } => Self::with_client(url, client, |c| {
                c.query(
                    "SELECT ts, actor, token_id, role, action, path, query, records, justification, remote, sso_subject, sso_issuer
                     FROM audit_events ORDER BY id",
                    &[],
                )
            })?
            .into_iter()
            .filter_map(|r| {
                Some(AuditEvent {
                    ts: r.get(0),
                    actor: r.get(1),
                    token_id: r.get(2),
                    role: super::Role::parse(r.get::<_, &str>(3))?,
                    action: r.get(4),
                    path: r.get(5),
                    query: r.get(6),
                    records: r.get::<_, i64>(7).max(0) as u64,
                    justification: r.get(8),
                    remote: r.get(9),
                    sso_subject: r.get(10),
                    sso_issuer: r.get(11),
                })
            })
            .collect(),
        };
        let mut out = Vec::new();
        let mut matched = 0usize;
        for e in all {
            if !keep(&e) {
                continue;
            }
            if matched >= offset && out.len() < limit {
                out.push(e);
            }
            matched += 1;
        }
        Ok((out, matched))
    }
}

/// Now as RFC 3339 UTC with microseconds.
pub fn now() -> String {
    let t = time::OffsetDateTime::now_utc();
    let t = t.replace_nanosecond(t.microsecond() * 1000).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(action: &str, n: u64) -> AuditEvent {
        AuditEvent {
            ts: now(),
            actor: "A".into(),
            token_id: "tok_1".into(),
            role: super::super::Role::Analyst,
            action: action.into(),
            path: "/api/journeys".into(),
            query: "from=2024-01-01".into(),
            records: n,
            justification: Some("op X".into()),
            remote: None,
            sso_subject: None,
            sso_issuer: None,
        }
    }

    #[test]
    fn events_survive_reopening_and_a_torn_line_is_skipped() {
        let dir = std::env::temp_dir().join(format!("lm-audit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("audit.ndjson");
        {
            let log = AuditLog::open(&path).unwrap();
            log.append(&event("read_journeys", 3)).unwrap();
            log.append(&event("export", 7)).unwrap();
        }
        // A crash in the middle of a write leaves a partial line.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"ts\":\"2026")
            .unwrap();
        let log = AuditLog::open(&path).unwrap();
        log.append(&event("ingest", 9)).unwrap();
        let (all, n) = log.read(|_| true, 0, 100).unwrap();
        assert_eq!(n, 3, "the torn line is skipped, the event after it kept");
        assert_eq!(all[2].records, 9);
        assert_eq!(all[1].action, "export");
        assert_eq!(all[1].records, 7);
        let (exports, n) = log.read(|e| e.action == "export", 0, 100).unwrap();
        assert_eq!((exports.len(), n), (1, 1));
        let (page, n) = log.read(|_| true, 1, 1).unwrap();
        assert_eq!((page[0].action.as_str(), n), ("export", 3));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
