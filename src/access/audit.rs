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
    /// `read_journeys`, `read_journey`, `read_persons`, `export`, `ingest`, `read_audit`
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
}

/// The append-only log file.
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
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
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one event and syncs it to disk. An error means the access must not go ahead.
    pub fn append(&self, e: &AuditEvent) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(e).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut f = self
            .file
            .lock()
            .map_err(|_| std::io::Error::other("audit log lock poisoned"))?;
        f.write_all(&line)?;
        f.sync_data()
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
        let _guard = self.file.lock();
        let f = File::open(&self.path)?;
        let mut out = Vec::new();
        let mut matched = 0usize;
        for line in std::io::BufReader::new(f).lines() {
            let line = line?;
            let Ok(e) = serde_json::from_str::<AuditEvent>(&line) else {
                continue;
            };
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
