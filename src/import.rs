//! `linesmap import FILE`: NDJSON or CSV into the store, in batches, with a progress bar.
//! NDJSON is streamed: only one batch of parsed reports is held at a time.

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use linesmap::ingest::{Journeys, Outcome, par_map};
use linesmap::journey::csv::csv_to_reports;
use linesmap::journey::report::FieldError;
use serde_json::Value;
use std::io::BufRead;
use std::path::Path;
use std::time::Instant;

/// How many rejected records are listed in full.
const SHOW_ERRORS: usize = 20;

#[derive(Default)]
struct Tally {
    records: usize,
    created: usize,
    existing: usize,
    rejected: usize,
    shown: usize,
}

impl Tally {
    fn add(&mut self, first: usize, outcomes: &[Outcome], bar: &ProgressBar) {
        for (i, o) in outcomes.iter().enumerate() {
            self.records += 1;
            let problem = match o {
                Outcome::Created(_) => {
                    self.created += 1;
                    None
                }
                Outcome::Exists(_) => {
                    self.existing += 1;
                    None
                }
                Outcome::Conflict(id) => Some(format!(
                    "report_id \"{id}\" is stored with different content"
                )),
                Outcome::Erased(id) => Some(format!("report_id \"{id}\" was erased")),
                Outcome::Rejected(errors) => Some(
                    errors
                        .iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
            };
            if let Some(p) = problem {
                self.rejected += 1;
                if self.shown < SHOW_ERRORS {
                    bar.println(format!("record {}: {p}", first + i + 1));
                    self.shown += 1;
                }
            }
        }
        bar.inc(outcomes.len() as u64);
    }
}

pub fn run(journeys: &Journeys, file: &Path, batch: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes}  {msg}  eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut tally = Tally::default();
    let now = time::OffsetDateTime::now_utc();
    if file
        .to_string_lossy()
        .to_ascii_lowercase()
        .ends_with(".csv")
    {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let records =
            csv_to_reports(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        bar.set_length(records.len() as u64);
        for chunk in records.chunks(batch) {
            let outcomes = journeys.ingest(chunk, now)?;
            tally.add(tally.records, &outcomes, &bar);
        }
    } else {
        let f =
            std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
        let mut lines = std::io::BufReader::with_capacity(1 << 20, f)
            .lines()
            .enumerate();
        loop {
            let mut raw: Vec<(usize, String)> = Vec::with_capacity(batch);
            let mut bytes = 0;
            for (n, line) in lines.by_ref() {
                let line = line.with_context(|| format!("{}: line {}", file.display(), n + 1))?;
                bytes += line.len() + 1;
                if line.trim().is_empty() {
                    continue;
                }
                raw.push((n + 1, line));
                if raw.len() == batch {
                    break;
                }
            }
            // JSON parsing is a good share of the work: spread it over the cores too
            let chunk: Vec<Result<Value, FieldError>> = par_map(&raw, |(n, line)| {
                serde_json::from_str::<Value>(line).map_err(|e| FieldError {
                    path: String::new(),
                    message: format!("line {n}: not valid JSON: {e}"),
                })
            });
            if chunk.is_empty() {
                break;
            }
            let outcomes = journeys.ingest(&chunk, now)?;
            tally.add(tally.records, &outcomes, &bar);
            bar.set_message(format!("{} reports", tally.records));
            bar.inc(bytes as u64 - outcomes.len() as u64);
        }
    }
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "imported {} records from {} in {:.2} s ({:.0} records/s): {} created, {} already stored, {} rejected{}",
        tally.records,
        file.display(),
        secs,
        tally.records as f64 / secs.max(1e-9),
        tally.created,
        tally.existing,
        tally.rejected,
        peak_rss()
            .map(|kb| format!("; peak resident memory {:.0} MiB", kb as f64 / 1024.0))
            .unwrap_or_default()
    );
    if tally.rejected > 0 {
        anyhow::bail!(
            "{} of {} records were rejected (the rest were stored)",
            tally.rejected,
            tally.records
        );
    }
    Ok(())
}

/// Peak resident set size of this process, KiB (Linux).
pub fn peak_rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
