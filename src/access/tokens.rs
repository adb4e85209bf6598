//! Bearer tokens: created once by `linesmap token create`, printed once, stored only as their
//! SHA-256. A token is `lm_` and 64 hex digits (256 random bits from the operating system), so
//! an unsalted hash is enough: nothing short enough to guess is ever hashed.
//!
//! A token may expire (`token create --expires 90d`) and is revoked by `token revoke ID`, which
//! keeps its record with the time of revocation. A server re-reads the file when it changes
//! (checked on every request: one `stat`), so a revoked or expired token is refused at once,
//! without a restart.

use super::Role;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One stored token: who holds it and its hash, never the token itself.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TokenRecord {
    /// a short public id for logs and the audit trail (`tok_` and 8 hex digits)
    pub id: String,
    pub name: String,
    pub role: Role,
    /// hex SHA-256 of the token
    pub sha256: String,
    /// RFC 3339, UTC
    pub created: String,
    /// the force (GSS code) a `force_analyst` is scoped to
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<String>,
    /// RFC 3339, UTC: refused from then on
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// RFC 3339, UTC: when `token revoke` revoked it
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<String>,
}

impl TokenRecord {
    /// Why the token is refused at `now`, if it is: revoked, or expired (an expiry that does
    /// not parse counts as expired).
    pub fn refusal(&self, now: time::OffsetDateTime) -> Option<String> {
        if let Some(r) = &self.revoked {
            return Some(format!("the token {} was revoked at {r}", self.id));
        }
        let e = self.expires.as_ref()?;
        match time::OffsetDateTime::parse(e, &time::format_description::well_known::Rfc3339) {
            Ok(t) if t > now => None,
            _ => Some(format!("the token {} expired at {e}", self.id)),
        }
    }

    /// `active`, `expired` or `revoked` at `now`.
    pub fn status(&self, now: time::OffsetDateTime) -> &'static str {
        match self.refusal(now) {
            None => "active",
            Some(_) if self.revoked.is_some() => "revoked",
            Some(_) => "expired",
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TokenFile {
    tokens: Vec<TokenRecord>,
}

/// What identifies one version of the token file: a replaced file (rename) has another inode,
/// an edited one another modification time or length.
type Stamp = (Option<std::time::SystemTime>, u64, u64);

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let ino = 0;
    Some((m.modified().ok(), m.len(), ino))
}

/// The tokens a server accepts, by hash; re-read from their file when it changes.
#[derive(Debug, Default)]
pub struct Tokens {
    path: Option<PathBuf>,
    state: std::sync::RwLock<(Option<Stamp>, HashMap<String, TokenRecord>)>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `n` random bytes from the operating system.
pub fn random_bytes(n: usize) -> anyhow::Result<Vec<u8>> {
    let mut v = vec![0u8; n];
    getrandom::fill(&mut v).map_err(|e| anyhow::anyhow!("no randomness from the system: {e}"))?;
    Ok(v)
}

impl Tokens {
    /// Reads a token file; a missing file is an error (the operator named it). The server
    /// re-reads it when it changes ([`Tokens::find`]).
    pub fn load(path: &Path) -> anyhow::Result<Tokens> {
        let st = stamp(path);
        let by_hash = read_hashes(path)?;
        Ok(Tokens {
            path: Some(path.to_path_buf()),
            state: std::sync::RwLock::new((st, by_hash)),
        })
    }

    pub fn from_records(records: Vec<TokenRecord>) -> Tokens {
        Tokens {
            path: None,
            state: std::sync::RwLock::new((
                None,
                records.into_iter().map(|t| (t.sha256.clone(), t)).collect(),
            )),
        }
    }

    pub fn len(&self) -> usize {
        self.state.read().unwrap_or_else(|e| e.into_inner()).1.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Re-reads the file if it changed since it was last read. A file that cannot be read or
    /// parsed (an operator's mistake) leaves the tokens as they were, with an error logged,
    /// and is tried again on the next request.
    pub fn refresh(&self) {
        let Some(path) = &self.path else { return };
        let now = stamp(path);
        if self.state.read().unwrap_or_else(|e| e.into_inner()).0 == now {
            return;
        }
        match read_hashes(path) {
            Ok(by_hash) => {
                let mut g = self.state.write().unwrap_or_else(|e| e.into_inner());
                tracing::info!(tokens = by_hash.len(), file = %path.display(), "token file re-read");
                *g = (now, by_hash);
            }
            Err(e) => tracing::error!("{e:#}; keeping the tokens read before"),
        }
    }

    /// The record of a presented token, if it is one of ours (whether or not it is still
    /// valid: see [`TokenRecord::refusal`]). Re-reads the file first if it changed.
    pub fn find(&self, token: &str) -> Option<TokenRecord> {
        if !token.starts_with("lm_") || token.len() > 128 {
            return None;
        }
        self.refresh();
        self.state
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .get(&sha256_hex(token.as_bytes()))
            .cloned()
    }
}

fn read_file(path: &Path) -> anyhow::Result<TokenFile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read the token file {}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{} is not a linesmap token file: {e}", path.display()))
}

fn read_hashes(path: &Path) -> anyhow::Result<HashMap<String, TokenRecord>> {
    let mut by_hash = HashMap::new();
    for t in read_file(path)?.tokens {
        if t.sha256.len() != 64 || !t.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            anyhow::bail!("{}: token {} has no valid sha256", path.display(), t.id);
        }
        by_hash.insert(t.sha256.to_ascii_lowercase(), t);
    }
    Ok(by_hash)
}

/// Every record of a token file, in the order created.
pub fn list(path: &Path) -> anyhow::Result<Vec<TokenRecord>> {
    Ok(read_file(path)?.tokens)
}

/// Marks token `id` revoked now (the record stays, for the audit trail); replaces the file
/// atomically. Revoking a revoked token is an error naming when it was revoked.
pub fn revoke(path: &Path, id: &str) -> anyhow::Result<TokenRecord> {
    let mut file = read_file(path)?;
    let Some(t) = file.tokens.iter_mut().find(|t| t.id == id) else {
        anyhow::bail!("no token {id} in {}", path.display());
    };
    if let Some(r) = &t.revoked {
        anyhow::bail!("token {id} was already revoked at {r}");
    }
    t.revoked = Some(now_rfc3339());
    let out = t.clone();
    write_private(path, &serde_json::to_vec_pretty(&file)?)?;
    Ok(out)
}

/// A period: a whole number and a unit, `s`, `min`, `h`, `d`, `w` or `y` (365 days), e.g.
/// `90d`, `6y`, `12h`.
pub fn parse_period(s: &str) -> Result<time::Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: i64 = n
        .parse()
        .ok()
        .filter(|n| (1..=100_000).contains(n))
        .ok_or_else(|| format!("\"{s}\" is not a period like 90d, 12h or 6y (a number from 1 to 100000, then s, min, h, d, w or y)"))?;
    let secs = match unit {
        "s" => 1,
        "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "y" => 365 * 86_400,
        _ => {
            return Err(format!(
                "\"{s}\": the unit must be s, min, h, d, w or y (y is 365 days)"
            ));
        }
    };
    Ok(time::Duration::seconds(n * secs))
}

/// Creates a token for `name` with `role`, appends its hash to `path` (created with mode 0600
/// if missing; replaced atomically) and returns the token and its record. The token itself is
/// not kept anywhere.
pub fn create(path: &Path, role: Role, name: &str) -> anyhow::Result<(String, TokenRecord)> {
    create_with(path, role, name, None, None)
}

/// [`create`], with the force of a `force_analyst` (required for that role, refused for the
/// others) and a lifetime (`None`: no expiry).
pub fn create_with(
    path: &Path,
    role: Role,
    name: &str,
    force: Option<&str>,
    expires_in: Option<time::Duration>,
) -> anyhow::Result<(String, TokenRecord)> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        anyhow::bail!("--name must be 1 to 200 printable characters");
    }
    let force = super::check_force(role, force).map_err(|e| anyhow::anyhow!("{e}"))?;
    let expires = expires_in
        .map(|d| {
            (time::OffsetDateTime::now_utc() + d)
                .replace_nanosecond(0)
                .map_err(|e| anyhow::anyhow!("{e}"))
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .map_err(|e| anyhow::anyhow!("--expires is too far ahead: {e}"))
                })
        })
        .transpose()?;
    let mut file = if path.exists() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str::<TokenFile>(&text)
            .map_err(|e| anyhow::anyhow!("{} is not a linesmap token file: {e}", path.display()))?
    } else {
        TokenFile::default()
    };
    let token = format!("lm_{}", hex(&random_bytes(32)?));
    let record = TokenRecord {
        id: format!("tok_{}", hex(&random_bytes(4)?)),
        name: name.to_string(),
        role,
        sha256: sha256_hex(token.as_bytes()),
        created: now_rfc3339(),
        force,
        expires,
        revoked: None,
    };
    file.tokens.push(record.clone());
    write_private(path, &serde_json::to_vec_pretty(&file)?)?;
    Ok((token, record))
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Writes `bytes` to `path` through a temporary file in the same folder (fsync, rename, fsync
/// the folder), readable by the owner only.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("tokens")
    ));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(&tmp)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
        .map_err(|e| anyhow::anyhow!("cannot replace {}: {e}", path.display()))?;
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_token_is_found_by_its_hash_only() {
        let dir = std::env::temp_dir().join(format!("lm-tokens-{}", std::process::id()));
        let path = dir.join("tokens.json");
        let _ = std::fs::remove_file(&path);
        let (token, rec) = create(&path, Role::Analyst, "A. Analyst").unwrap();
        assert!(token.starts_with("lm_") && token.len() == 67);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&token), "the token itself is never stored");
        assert!(text.contains(&rec.sha256));
        let (t2, _) = create(&path, Role::Viewer, "V").unwrap();
        let tokens = Tokens::load(&path).unwrap();
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens.find(&token).unwrap().role, Role::Analyst);
        assert_eq!(tokens.find(&t2).unwrap().role, Role::Viewer);
        assert!(tokens.find("lm_0000").is_none());
        // One changed digit is another token.
        let mut wrong = token.clone();
        wrong.replace_range(10..11, if &token[10..11] == "a" { "b" } else { "a" });
        assert!(tokens.find(&wrong).is_none());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sha256_of_a_known_string() {
        // FIPS 180-2 example "abc".
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
