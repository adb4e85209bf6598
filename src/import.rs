//! `linesmap import FILE`: NDJSON or CSV into the store, in batches, with a progress bar.

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use linesmap::ingest::{Journeys, Outcome};
use linesmap::journey::csv::csv_to_reports;
use linesmap::journey::report::FieldError;
use serde_json::Value;
use std::path::Path;
use std::time::Instant;

/// How many rejected records are listed in full.
const SHOW_ERRORS: usize = 20;

pub fn run(journeys: &Journeys, file: &Path, batch: usize) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let name = file.to_string_lossy().to_ascii_lowercase();
    let records: Vec<Result<Value, FieldError>> = if name.ends_with(".csv") {
        csv_to_reports(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?
    } else {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(n, l)| {
                serde_json::from_str::<Value>(l).map_err(|e| FieldError {
                    path: String::new(),
                    message: format!("line {}: not valid JSON: {e}", n + 1),
                })
            })
            .collect()
    };
    let started = Instant::now();
    let bar = ProgressBar::new(records.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} reports  {per_sec}  eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut created, mut existing, mut rejected) = (0usize, 0usize, 0usize);
    let mut shown = 0;
    for (b, chunk) in records.chunks(batch).enumerate() {
        let outcomes = journeys.ingest(chunk, time::OffsetDateTime::now_utc())?;
        for (i, o) in outcomes.iter().enumerate() {
            match o {
                Outcome::Created(_) => created += 1,
                Outcome::Exists(_) => existing += 1,
                Outcome::Conflict(id) => {
                    rejected += 1;
                    if shown < SHOW_ERRORS {
                        bar.println(format!("record {}: report_id \"{id}\" is stored with different content", b * batch + i + 1));
                        shown += 1;
                    }
                }
                Outcome::Rejected(errors) => {
                    rejected += 1;
                    if shown < SHOW_ERRORS {
                        let msg: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                        bar.println(format!("record {}: {}", b * batch + i + 1, msg.join("; ")));
                        shown += 1;
                    }
                }
            }
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "imported {} records from {} in {:.2} s ({:.0} records/s): {created} created, {existing} already stored, {rejected} rejected{}",
        records.len(),
        file.display(),
        secs,
        records.len() as f64 / secs.max(1e-9),
        peak_rss().map(|kb| format!("; peak resident memory {:.0} MiB", kb as f64 / 1024.0)).unwrap_or_default()
    );
    if rejected > 0 {
        anyhow::bail!("{rejected} of {} records were rejected (the rest were stored)", records.len());
    }
    Ok(())
}

/// Peak resident set size of this process, KiB (Linux).
pub fn peak_rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}
