//! Bearer tokens: created once by `linesmap token create`, printed once, stored only as their
//! SHA-256. A token is `lm_` and 64 hex digits (256 random bits from the operating system), so
//! an unsalted hash is enough: nothing short enough to guess is ever hashed.

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
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TokenFile {
    tokens: Vec<TokenRecord>,
}

/// The tokens a server accepts, by hash.
#[derive(Debug, Default)]
pub struct Tokens {
    by_hash: HashMap<String, TokenRecord>,
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
    /// Reads a token file; a missing file is an error (the operator named it).
    pub fn load(path: &Path) -> anyhow::Result<Tokens> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read the token file {}: {e}", path.display()))?;
        let file: TokenFile = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{} is not a linesmap token file: {e}", path.display()))?;
        let mut by_hash = HashMap::new();
        for t in file.tokens {
            if t.sha256.len() != 64 || !t.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                anyhow::bail!("{}: token {} has no valid sha256", path.display(), t.id);
            }
            by_hash.insert(t.sha256.to_ascii_lowercase(), t);
        }
        Ok(Tokens { by_hash })
    }

    pub fn from_records(records: Vec<TokenRecord>) -> Tokens {
        Tokens {
            by_hash: records.into_iter().map(|t| (t.sha256.clone(), t)).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The record of a presented token, if it is one of ours.
    pub fn find(&self, token: &str) -> Option<&TokenRecord> {
        if !token.starts_with("lm_") || token.len() > 128 {
            return None;
        }
        self.by_hash.get(&sha256_hex(token.as_bytes()))
    }
}

/// Creates a token for `name` with `role`, appends its hash to `path` (created with mode 0600
/// if missing; replaced atomically) and returns the token and its record. The token itself is
/// not kept anywhere.
pub fn create(path: &Path, role: Role, name: &str) -> anyhow::Result<(String, TokenRecord)> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        anyhow::bail!("--name must be 1 to 200 printable characters");
    }
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
