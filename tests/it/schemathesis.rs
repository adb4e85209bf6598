//! schemathesis (PyPI) fuzzes the whole API from the served OpenAPI document, against the
//! real binary: every check (`--checks all`: no 5xx, responses match the documented status
//! codes, content types and schemas, schema-violating requests are refused, undeclared methods
//! get 405 with `Allow`, …), 50 examples per operation, fixed seed. Its exit code is the
//! verdict. The one setting is in tests/schemathesis/schemathesis.toml (what "accepted" means for
//! schema-valid values wrong in ways OpenAPI 3.0 cannot say: a 400/410/422 naming the problem;
//! the file lists those cases).
//! `scripts/setup --test` installs schemathesis into a virtualenv (`LINESMAP_VENV`).

use super::common::start_server;
use std::path::PathBuf;

fn schemathesis() -> PathBuf {
    let venv = std::env::var_os("LINESMAP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache"));
            cache.join("linesmap/venv")
        });
    let bin = venv.join("bin/schemathesis");
    assert!(
        bin.is_file(),
        "schemathesis not found at {}: run scripts/setup --test (or set LINESMAP_VENV)",
        bin.display()
    );
    bin
}

#[test]
fn schemathesis_finds_no_failure_in_the_openapi_document() {
    let bin = schemathesis();
    let dir = std::env::temp_dir().join(format!("linesmap-st-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (child, addr, token) = start_server(
        &dir.join("s.sqlite"),
        &["--demo-reports", "300", "--rate-limit", "0"],
    );
    let _stop = super::common::StopOnDrop(child);
    let config =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis/schemathesis.toml");
    // run in the temporary folder: schemathesis keeps a cache where it runs
    let out = std::process::Command::new(bin)
        .current_dir(&dir)
        .arg("--config-file")
        .arg(&config)
        .args(["run", &format!("http://{addr}/openapi")])
        .args([
            "--checks",
            "all",
            "--mode",
            "all",
            "--max-examples",
            "50",
            "--seed",
            "1",
        ])
        // an admin token, and a justification for the person-level queries
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args(["-H", "X-Justification: schemathesis conformance run"])
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .expect("schemathesis runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis failed ({}):\n{text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("passed"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
