//! The `linesmap` command line: `serve`, `import`, `generate`, `check-data` and `review`.

/// mimalloc, made for multi-threaded servers: per-thread free lists without the lock waits of
/// glibc's shared arenas, and freed pages returned to the system, so resident memory stays flat
/// under load (benches/http/soak.sh) where glibc's per-thread arenas crept up and capping them
/// made threads queue on their locks.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use linesmap::access::Role;
use linesmap::config::DataArgs;
use linesmap::ingest::Journeys;
use linesmap::journey::generate;
use linesmap::serve::generator_params;
use linesmap::store::is_postgres;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod import;

#[derive(Parser)]
#[command(
    name = "linesmap",
    version,
    about = "Maps county-lines journeys across police force areas and the GB rail network"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token: printed once, only its SHA-256 is stored (in --tokens).
    Create {
        /// viewer, btp_planner, analyst, force_analyst (with --force) or admin
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Who holds it (shown in the audit log).
        #[arg(long)]
        name: String,
        /// The force (GSS code, e.g. E23000026) a force_analyst is scoped to.
        #[arg(long)]
        force: Option<String>,
        /// Lifetime: a number and s, min, h, d, w or y (e.g. 90d); refused from then on.
        /// Default: no expiry.
        #[arg(long, value_parser = linesmap::access::tokens::parse_period)]
        expires: Option<time::Duration>,
        /// The token file (created if missing, mode 0600).
        #[arg(long, env = "LINESMAP_TOKENS", default_value = "linesmap-tokens.json")]
        tokens: PathBuf,
    },
    /// List the tokens of a token file (ids, holders, roles, forces, expiry, status; never
    /// the tokens).
    List {
        #[arg(long, env = "LINESMAP_TOKENS", default_value = "linesmap-tokens.json")]
        tokens: PathBuf,
    },
    /// Revoke a token by its id (`tok_…`): running servers refuse it at once (they re-read
    /// the file when it changes); its record stays, marked revoked.
    Revoke {
        /// the token's id, as `token list` shows it
        id: String,
        #[arg(long, env = "LINESMAP_TOKENS", default_value = "linesmap-tokens.json")]
        tokens: PathBuf,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| {
        format!("\"{s}\" is not one of viewer, btp_planner, analyst, force_analyst, admin")
    })
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once, at start-up
enum Command {
    /// Serve the HTTP API.
    Serve(linesmap::serve::ServeConfig),
    /// Print the reports due for review (MoPI) from the store, oldest first, for scheduled jobs.
    Review {
        /// List the reports due for review (required: the one listing there is).
        #[arg(long, required = true)]
        due: bool,
        /// Review dates before this day (YYYY-MM-DD); default: tomorrow, so every report due
        /// today or earlier.
        #[arg(long, value_parser = parse_day)]
        before: Option<time::Date>,
        /// The journey store: an SQLite file or a PostgreSQL URL (as `serve --store`).
        #[arg(long, env = "LINESMAP_STORE", default_value = "linesmap.sqlite")]
        store: String,
        /// `csv` (a header line, then one line per report) or `json` (one document, as
        /// `GET /api/review` answers).
        #[arg(long, value_enum, default_value = "csv")]
        format: ReviewFormat,
        /// The review period the servers run with (`serve --review-after`).
        #[arg(long, default_value = "6y", value_parser = linesmap::journey::review::ReviewAfter::parse)]
        review_after: linesmap::journey::review::ReviewAfter,
    },
    /// Bearer tokens for `serve --tokens`.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Validate, map and store journey reports from an NDJSON or CSV file, with a progress bar.
    Import {
        /// The reports: `.ndjson`/`.jsonl` (one report per line) or `.csv` (see the README).
        file: PathBuf,
        #[command(flatten)]
        data: DataArgs,
        /// The journey store: an SQLite file (created if missing) or a PostgreSQL URL
        /// (`postgres://user@host:port/db`, the schema migrated at start-up).
        #[arg(long, env = "LINESMAP_STORE", default_value = "linesmap.sqlite")]
        store: String,
        /// Reports per stored transaction.
        #[arg(long, default_value_t = 5_000)]
        batch: usize,
    },
    /// Write synthetic journey reports (NDJSON): the same bytes for the same seed and data.
    Generate {
        /// How many reports.
        #[arg(long)]
        reports: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Generator parameters (JSON, as data/generator.json).
        #[arg(long)]
        params: Option<PathBuf>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Load the reference data and print a data-quality report.
    CheckData {
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ReviewFormat {
    Csv,
    Json,
}

/// A day, YYYY-MM-DD (from 2000 to 2200).
fn parse_day(s: &str) -> Result<time::Date, String> {
    linesmap::journey::report::parse_date(s.trim())
        .filter(|d| (2000..=2200).contains(&d.year()))
        .ok_or_else(|| format!("\"{s}\" is not a date YYYY-MM-DD from 2000 to 2200"))
}

/// One CSV field, quoted when it must be.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `linesmap review --due`: the queue, as CSV or JSON, on standard output.
fn review_due(
    store: &str,
    before: Option<time::Date>,
    format: ReviewFormat,
    rule: linesmap::journey::review::ReviewAfter,
) -> anyhow::Result<()> {
    if !is_postgres(store) && !Path::new(store).is_file() {
        anyhow::bail!("--store {store}: no such store (an SQLite file or a postgres:// URL)");
    }
    let before = before.unwrap_or_else(|| {
        time::OffsetDateTime::now_utc()
            .date()
            .next_day()
            .unwrap_or(time::Date::MAX)
    });
    let s = linesmap::store::open(store)?;
    let due = linesmap::store::review_queue(s.as_ref(), rule, before)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match format {
        ReviewFormat::Json => {
            serde_json::to_writer(
                &mut out,
                &serde_json::json!({
                    "due_before": linesmap::journey::report::format_date(before),
                    "review_after": rule.to_string(),
                    "numberMatched": due.len(),
                    "reports": due,
                }),
            )?;
            writeln!(out)?;
        }
        ReviewFormat::Csv => {
            writeln!(
                out,
                "report_id,journey_date,review_date,review_date_set,last_decision,last_decision_at,last_decision_by,last_reason"
            )?;
            for d in &due {
                let last = d.last_decision.as_ref();
                let f = |g: fn(&linesmap::store::Decision) -> &str| csv_field(last.map_or("", g));
                writeln!(
                    out,
                    "{},{},{},{},{},{},{},{}",
                    csv_field(&d.report_id),
                    d.journey_date,
                    d.review_date,
                    d.review_date_set,
                    f(|x| &x.decision),
                    f(|x| &x.at),
                    f(|x| &x.actor),
                    f(|x| &x.reason),
                )?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// Prints the manifest check of a data folder; false when a listed file is missing or changed.
/// A folder without a manifest (a user's own downloads) is said and passes.
fn check_manifest(dir: &std::path::Path) -> anyhow::Result<bool> {
    use linesmap::config::{FileCheck, ManifestError, verify_manifest};
    println!("MANIFEST: {}", dir.join("MANIFEST.json").display());
    let checks = match verify_manifest(dir) {
        Ok(c) => c,
        Err(ManifestError::NoManifest(_)) => {
            println!("  no MANIFEST.json: files not verified\n");
            return Ok(true);
        }
        Err(e) => return Err(e.into()),
    };
    let mut ok = true;
    for (e, c) in &checks {
        match c {
            FileCheck::Ok => println!(
                "  ok       {:<22} {:>9} bytes  {}  ({})",
                e.file, e.bytes, e.vintage, e.licence
            ),
            FileCheck::Missing => {
                ok = false;
                println!("  MISSING  {:<22} expected {} bytes", e.file, e.bytes);
            }
            FileCheck::Changed { bytes, sha256 } => {
                ok = false;
                println!(
                    "  CHANGED  {:<22} {} bytes sha256 {} (manifest: {} bytes sha256 {})",
                    e.file, bytes, sha256, e.bytes, e.sha256
                );
            }
        }
    }
    println!(
        "  {} of {} files as listed\n",
        checks.iter().filter(|(_, c)| *c == FileCheck::Ok).count(),
        checks.len()
    );
    Ok(ok)
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LINESMAP_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match Cli::parse().command {
        Command::Token {
            command:
                TokenCommand::Create {
                    role,
                    name,
                    force,
                    expires,
                    tokens,
                },
        } => {
            let (token, rec) = linesmap::access::tokens::create_with(
                &tokens,
                role,
                &name,
                force.as_deref(),
                expires,
            )?;
            eprintln!(
                "created token {} for {} (role {}{}{}) in {}; it is shown once, only its hash is kept:",
                rec.id,
                rec.name,
                rec.role,
                rec.force
                    .as_deref()
                    .map(|f| format!(", force {f}"))
                    .unwrap_or_default(),
                rec.expires
                    .as_deref()
                    .map(|e| format!(", expires {e}"))
                    .unwrap_or_default(),
                tokens.display()
            );
            println!("{token}");
            Ok(())
        }
        Command::Token {
            command: TokenCommand::List { tokens },
        } => {
            let now = time::OffsetDateTime::now_utc();
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "id\tstatus\trole\tforce\tcreated\texpires\trevoked\tname"
            )?;
            for t in linesmap::access::tokens::list(&tokens)? {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.status(now),
                    t.role,
                    t.force.as_deref().unwrap_or("-"),
                    t.created,
                    t.expires.as_deref().unwrap_or("-"),
                    t.revoked.as_deref().unwrap_or("-"),
                    t.name
                )?;
            }
            Ok(())
        }
        Command::Token {
            command: TokenCommand::Revoke { id, tokens },
        } => {
            let t = linesmap::access::tokens::revoke(&tokens, &id)?;
            eprintln!(
                "revoked token {} of {} (role {}) at {} in {}",
                t.id,
                t.name,
                t.role,
                t.revoked.as_deref().unwrap_or(""),
                tokens.display()
            );
            Ok(())
        }
        Command::Review {
            due: _,
            before,
            store,
            format,
            review_after,
        } => review_due(&store, before, format, review_after),
        Command::CheckData { data } => {
            let manifest_ok = match data.dir() {
                Some(dir) => check_manifest(&dir)?,
                None => true,
            };
            let (geo, t) = data.load()?;
            print!("{}", linesmap::check::report(&geo, &t));
            anyhow::ensure!(
                manifest_ok,
                "the data folder does not match its MANIFEST.json (see MANIFEST above)"
            );
            Ok(())
        }
        Command::Generate {
            reports,
            seed,
            out,
            params,
            data,
        } => {
            let (geo, _) = data.load()?;
            let params = generator_params(params.as_deref())?;
            if let Err(m) = params.check_geography(&geo) {
                tracing::warn!("generator parameters name places this data does not have: {m}");
            }
            let t = std::time::Instant::now();
            let n = match &out {
                Some(path) => {
                    let f = std::fs::File::create(path)
                        .with_context(|| format!("cannot create {}", path.display()))?;
                    let mut w = std::io::BufWriter::new(f);
                    let n = generate::generate_ndjson(&geo, &params, reports, seed, &mut w)
                        .map_err(anyhow::Error::msg)?;
                    w.flush()?;
                    n
                }
                None => {
                    let mut w = std::io::BufWriter::new(std::io::stdout().lock());
                    let n = generate::generate_ndjson(&geo, &params, reports, seed, &mut w)
                        .map_err(anyhow::Error::msg)?;
                    w.flush()?;
                    n
                }
            };
            eprintln!(
                "wrote {n} synthetic reports{} in {:.2} s",
                out.as_ref()
                    .map(|p| format!(" to {}", p.display()))
                    .unwrap_or_default(),
                t.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Import {
            file,
            data,
            store,
            batch,
        } => {
            let (geo, _) = data.load()?;
            let store = linesmap::store::open(&store)?;
            let journeys = Journeys::new(Arc::new(geo), store);
            import::run(&journeys, &file, batch.max(1))
        }
        Command::Serve(config) => linesmap::serve::run(config),
    }
}
