//! The `linesmap` command line: `serve`, `import`, `generate`, `check-data` and `review`.

/// mimalloc, made for multi-threaded servers: per-thread free lists without the lock waits of
/// glibc's shared arenas, and freed pages returned to the system, so resident memory stays flat
/// under load (benches/http/soak.sh) where glibc's per-thread arenas crept up and capping them
/// made threads queue on their locks.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use linesmap::access::{Role, Security};
use linesmap::config::{DataPaths, load_geography};
use linesmap::geography::{DEFAULT_TOLERANCE_M, GeographyOptions, RailOptions};
use linesmap::http::{self, AppState};
use linesmap::ingest::Journeys;
use linesmap::journey::generate::{self, GeneratorParams};
use std::io::Write;
use std::net::SocketAddr;
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

/// Who may see what, and how it is served.
#[derive(Args)]
struct AccessArgs {
    /// Token file from `linesmap token create`: requests sign in with `Authorization: Bearer`.
    #[arg(long, env = "LINESMAP_TOKENS")]
    tokens: Option<PathBuf>,
    /// Open demo mode: no sign-in, every request without a token acts as an analyst. For
    /// synthetic demo data only; said loudly at start-up and on the page.
    #[arg(long)]
    open_demo: bool,
    /// Accept bearer JWTs from this OpenID Connect provider (its `iss`, exactly), beside the
    /// token file.
    #[arg(long, requires = "oidc_audience")]
    oidc_issuer: Option<String>,
    /// The audience (`aud`) the provider's tokens must name: this server's client id.
    #[arg(long, requires = "oidc_issuer")]
    oidc_audience: Option<String>,
    /// The provider's keys (JWKS): a file or an https:// URL. Default: the `jwks_uri` of the
    /// issuer's `/.well-known/openid-configuration`.
    #[arg(long, requires = "oidc_issuer")]
    oidc_jwks: Option<String>,
    /// The claim holding the caller's role(s) (a dotted path reaches into objects, e.g.
    /// realm_access.roles).
    #[arg(long, default_value = "roles")]
    oidc_role_claim: String,
    /// The claim holding a force_analyst's force (a GSS code).
    #[arg(long, default_value = "force")]
    oidc_force_claim: String,
    /// The page's public client id at the provider: the page then signs in through the
    /// provider (authorization code with PKCE), its endpoints read from the issuer's
    /// discovery document at start-up.
    #[arg(long, requires = "oidc_issuer")]
    oidc_client_id: Option<String>,
    /// The scopes the page asks the provider for (space-separated; must include openid).
    #[arg(long, requires = "oidc_client_id", default_value = "openid profile")]
    oidc_scopes: String,
    /// Viewers see no count below this (suppressed), the rest rounded to base 5.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    suppress_below: u32,
    /// The audit log (JSON lines, appended and synced). Default: the SQLite store's path +
    /// `.audit.ndjson`; with PostgreSQL, the database's `audit_events` table (shared by every
    /// instance).
    #[arg(long, env = "LINESMAP_AUDIT")]
    audit: Option<PathBuf>,
    /// The key of person pseudonyms and of disclosure control's rounding (created if missing).
    /// Default: the SQLite store's path + `.key` (with PostgreSQL: `linesmap.key`; give every
    /// instance the same key file, so pseudonyms and rounding agree).
    #[arg(long, env = "LINESMAP_KEY")]
    key: Option<PathBuf>,
    /// TLS certificate chain (PEM); with --tls-key, serve HTTPS (rustls).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Allow cross-origin requests from this origin (repeatable). Default: CORS off.
    #[arg(long)]
    cors_origin: Vec<String>,
    /// Requests a minute per token (or per address when signed out); 0 turns the limit off.
    #[arg(long, default_value_t = 1200)]
    rate_limit: u32,
    /// Requests in the server at once; more are answered 503 with Retry-After.
    #[arg(long, default_value_t = 1024)]
    max_in_flight: usize,
    /// Computations (layers, queries, writes) running at once; others wait up to 10 s, then 503.
    #[arg(long, default_value_t = 64)]
    workers: usize,
    /// Seconds a computation may take before the client gets 503 (the work is not retried).
    #[arg(long, default_value_t = 60)]
    request_timeout: u64,
    /// Milliseconds the map layers (hotspots, flows, counts) may lag new journeys: under a
    /// stream of writes each layer is recomputed at most this often. 0: always current.
    #[arg(long, default_value_t = 500)]
    layer_staleness_ms: u64,
    /// MiB of rendered aggregate pages (hotspots, flows, collection pages…) kept in memory
    /// until the journeys change, so a repeated request is served from bytes. 0: none.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(0..=4096))]
    page_cache_mib: u64,
    /// Seconds a client has to send a request's headers (from its first byte) and to finish a
    /// TLS handshake; slower connections are closed.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout: u64,
    /// Seconds a connection may stay open with no request in progress and no bytes moving
    /// (keep-alive included); then it is closed.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86400))]
    idle_timeout: u64,
    /// Connections open at once; more are answered 503 and closed (0: no limit).
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Connections open at once from one address (0: no limit; behind a reverse proxy every
    /// client has the proxy's address: raise it or set 0 there).
    #[arg(long, default_value_t = 128)]
    max_connections_per_address: usize,
    /// Start even if the SQLite store's files can be read by other users (they hold person
    /// fields; the server creates them owner-only, mode 0600).
    #[arg(long)]
    allow_readable_store: bool,
}

impl AccessArgs {
    fn security(&self, store: &str) -> anyhow::Result<Security> {
        use linesmap::access::{
            Authentication, Pseudonyms, RateLimiter, audit::AuditLog, tokens::Tokens,
        };
        let tokens = match &self.tokens {
            Some(p) => Tokens::load(p)?,
            None => Tokens::default(),
        };
        let oidc = match (&self.oidc_issuer, &self.oidc_audience) {
            (Some(issuer), Some(audience)) => Some(linesmap::access::oidc::Oidc::new(
                linesmap::access::oidc::OidcConfig {
                    issuer: issuer.clone(),
                    audience: audience.clone(),
                    jwks: self.oidc_jwks.clone(),
                    role_claim: self.oidc_role_claim.clone(),
                    force_claim: self.oidc_force_claim.clone(),
                    refresh_every: linesmap::access::oidc::REFRESH_EVERY,
                },
            )?),
            _ => None,
        };
        let oidc = match (oidc, &self.oidc_client_id) {
            (Some(o), Some(client)) => Some(o.with_page_sign_in(client, &self.oidc_scopes)?),
            (o, _) => o,
        };
        let auth = match (self.open_demo, &self.tokens) {
            (true, _) => Authentication::OpenDemo(Role::Analyst, tokens),
            (false, Some(_)) => Authentication::Tokens(tokens),
            // single sign-on alone: no token file
            (false, None) if oidc.is_some() => Authentication::Tokens(Tokens::default()),
            (false, None) => anyhow::bail!(
                "give --tokens FILE (create tokens with `linesmap token create --role ROLE --name NAME`), --oidc-issuer URL --oidc-audience AUD, or, for synthetic demo data only, --open-demo"
            ),
        };
        let with_suffix = |suffix: &str| {
            let base = if is_postgres(store) {
                "linesmap"
            } else {
                store
            };
            let mut s = std::ffi::OsString::from(base);
            s.push(suffix);
            PathBuf::from(s)
        };
        let key_path = self.key.clone().unwrap_or_else(|| with_suffix(".key"));
        // With PostgreSQL the log is a table every instance shares, unless --audit names a file.
        let audit = match (&self.audit, is_postgres(store)) {
            (Some(p), _) => AuditLog::open(p)?,
            (None, true) => AuditLog::database(store)?,
            (None, false) => AuditLog::open(&with_suffix(".audit.ndjson"))?,
        };
        // One secret, two uses kept apart inside (person pseudonyms, rounding draws).
        let pseudonyms = Pseudonyms::load_or_create(&key_path)?;
        let rounding = pseudonyms.clone();
        Ok(Security {
            auth,
            oidc,
            pseudonyms,
            disclosure: linesmap::access::disclosure::Disclosure::new(
                self.suppress_below,
                5,
                rounding,
            ),
            audit: Some(audit),
            rate: RateLimiter::new(self.rate_limit),
            cors_origins: self.cors_origin.clone(),
            tls: self.tls_cert.is_some(),
        })
    }
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once, at start-up
enum Command {
    /// Serve the HTTP API.
    Serve {
        #[command(flatten)]
        data: DataArgs,
        /// Address to listen on; port 0 picks a free port. The server prints
        /// `listening on http://IP:PORT` once it accepts connections.
        #[arg(long, env = "LINESMAP_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The journey store: an SQLite file (created if missing) or a PostgreSQL URL
        /// (`postgres://user@host:port/db`, the schema migrated at start-up).
        #[arg(long, env = "LINESMAP_STORE", default_value = "linesmap.sqlite")]
        store: String,
        /// Generate and ingest this many synthetic demo reports at start-up (idempotent: the
        /// same seed gives the same report ids, so a restart adds nothing new).
        #[arg(long, default_value_t = 0)]
        demo_reports: usize,
        /// Seed of the demo reports.
        #[arg(long, default_value_t = 1)]
        demo_seed: u64,
        /// Generator parameters (JSON, as data/generator.json) for the demo reports.
        #[arg(long)]
        generator_params: Option<PathBuf>,
        /// The built map page (`web/dist`, from `npm run build` in `web/`), served at `/` to
        /// browsers; without it `/` is only the OGC landing page.
        #[arg(long, env = "LINESMAP_WEB")]
        web: Option<PathBuf>,
        /// The protective marking the map page prints on its briefing (top, bottom and the
        /// image's text chunks) and shows read-only: 1 to 64 printable characters.
        #[arg(long, default_value = linesmap::access::marking::DEFAULT_MARKING, value_parser = linesmap::access::marking::Marking::parse)]
        marking: linesmap::access::marking::Marking,
        /// When reports come up for review (MoPI): this long after the journey date (`6y`,
        /// `18m`, `90d`), unless an admin set a date (`POST /api/review/{id}`).
        #[arg(long, default_value = "6y", value_parser = linesmap::journey::review::ReviewAfter::parse)]
        review_after: linesmap::journey::review::ReviewAfter,
        #[command(flatten)]
        access: AccessArgs,
    },
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

#[derive(Args)]
struct DataArgs {
    /// Folder with forces.geojson, stations.csv and rail_tracks.geojson (or one *.osm.pbf);
    /// default: the data/gb the project ships.
    #[arg(long, env = "LINESMAP_DATA")]
    data: Option<PathBuf>,
    /// Force areas GeoJSON (overrides the one in --data).
    #[arg(long)]
    forces: Option<PathBuf>,
    /// Stations: ORR-style CSV or OSM PBF (overrides the one in --data).
    #[arg(long)]
    stations: Option<PathBuf>,
    /// Rail network: track GeoJSON or OSM PBF (overrides the one in --data).
    #[arg(long)]
    rail: Option<PathBuf>,
    /// Metres within which a point outside every force polygon goes to the nearest force.
    #[arg(long, default_value_t = DEFAULT_TOLERANCE_M)]
    force_tolerance_m: f64,
    /// Metres within which dead ends of disconnected track pieces are joined (0: never).
    #[arg(long, default_value_t = RailOptions::default().bridge_gaps_m)]
    bridge_gaps_m: f64,
}

impl DataArgs {
    /// The data folder: `--data`, `LINESMAP_DATA`, else the shipped `data/gb`.
    fn dir(&self) -> Option<std::path::PathBuf> {
        self.data
            .clone()
            .or_else(linesmap::config::default_data_dir)
    }

    fn load(&self) -> anyhow::Result<(linesmap::Geography, linesmap::config::LoadTimings)> {
        let dir = self.dir();
        let paths = DataPaths::resolve(
            dir.as_deref(),
            self.forces.as_deref(),
            self.stations.as_deref(),
            self.rail.as_deref(),
        )?;
        anyhow::ensure!(
            self.force_tolerance_m.is_finite() && self.force_tolerance_m >= 0.0,
            "--force-tolerance-m must be a non-negative number of metres"
        );
        anyhow::ensure!(
            self.bridge_gaps_m.is_finite() && self.bridge_gaps_m >= 0.0,
            "--bridge-gaps-m must be a non-negative number of metres"
        );
        let options = GeographyOptions {
            force_tolerance_m: self.force_tolerance_m,
            rail: RailOptions {
                bridge_gaps_m: self.bridge_gaps_m,
                ..RailOptions::default()
            },
        };
        tracing::info!(forces = %paths.forces.display(), stations = %paths.stations.display(), rail = %paths.rail.display(), "loading reference data");
        Ok(load_geography(&paths, options)?)
    }
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

/// How often a server reads the store for reports other processes added.
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

fn is_postgres(store: &str) -> bool {
    store.starts_with("postgres://") || store.starts_with("postgresql://")
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
        Command::Serve {
            data,
            listen,
            store,
            demo_reports,
            demo_seed,
            generator_params: gp,
            web,
            marking,
            review_after,
            access,
        } => {
            let (geo, t) = data.load()?;
            tracing::info!(
                forces = geo.forces.forces().len(),
                stations = geo.stations.len(),
                rail_km = (geo.rail.length_m() / 1000.0).round(),
                read_s = t.read.as_secs_f64(),
                index_s = t.index.as_secs_f64(),
                "reference data ready"
            );
            let geo = Arc::new(geo);
            // the store first: with PostgreSQL its migrations create the audit table
            let store_spec = store;
            if !is_postgres(&store_spec) && !access.allow_readable_store {
                linesmap::store::check_private(std::path::Path::new(&store_spec))?;
            }
            let store = linesmap::store::open(&store_spec)?;
            let security = access.security(&store_spec)?;
            if let Some(role) = security.open_demo() {
                let banner = "=".repeat(78);
                eprintln!(
                    "{banner}\n  OPEN DEMO MODE: no sign-in. Anyone who can reach this server acts as \"{role}\"\n  and sees journey-level data. Use it with SYNTHETIC demo data only;\n  real deployments: --tokens FILE (see `linesmap token create`).\n{banner}"
                );
                tracing::warn!(role = %role, "open demo mode: no sign-in");
            }
            let audit_log = security.audit.as_ref().map(|a| a.describe());
            tracing::info!(audit = ?audit_log, suppress_below = access.suppress_below, rate_limit = access.rate_limit, "access control ready");
            let journeys =
                Arc::new(Journeys::new(geo.clone(), store).with_review_after(review_after));
            let t0 = std::time::Instant::now();
            let stats = journeys.load()?;
            tracing::info!(
                loaded = stats.loaded,
                skipped = stats.skipped,
                secs = t0.elapsed().as_secs_f64(),
                "journeys loaded from the store"
            );
            if demo_reports > 0 {
                let params = generator_params(gp.as_deref())?;
                let t0 = std::time::Instant::now();
                let list = generate::try_generate(&geo, &params, demo_reports, demo_seed)
                    .map_err(anyhow::Error::msg)?;
                let values: Vec<Result<serde_json::Value, _>> = list.into_iter().map(Ok).collect();
                let (mut created, mut rejected) = (0usize, 0usize);
                for chunk in values.chunks(5_000) {
                    for o in journeys.ingest(chunk, time::OffsetDateTime::now_utc())? {
                        match o {
                            linesmap::ingest::Outcome::Created(_) => created += 1,
                            linesmap::ingest::Outcome::Exists(_) => {}
                            _ => rejected += 1,
                        }
                    }
                }
                tracing::info!(
                    requested = demo_reports,
                    created,
                    rejected,
                    secs = t0.elapsed().as_secs_f64(),
                    "synthetic demo reports ingested (SYNTHETIC DATA, not real people)"
                );
            }
            if let Some(w) = &web
                && !w.join("index.html").is_file()
            {
                anyhow::bail!(
                    "--web {}: no index.html there (build it: cd web && npm ci && npm run build)",
                    w.display()
                );
            }
            let mut limits = http::Limits::new(
                access.max_in_flight,
                access.workers,
                std::time::Duration::from_secs(access.request_timeout.max(1)),
            );
            limits.layer_staleness = std::time::Duration::from_millis(access.layer_staleness_ms);
            limits.page_cache_bytes = (access.page_cache_mib as usize) << 20;
            limits.conn = http::server::ConnLimits {
                header_read_timeout: std::time::Duration::from_secs(access.header_timeout),
                idle_timeout: std::time::Duration::from_secs(access.idle_timeout),
                max_connections: access.max_connections,
                max_per_address: access.max_connections_per_address,
            };
            // Follow the store: reports other instances (or `linesmap import`) store appear in
            // this one's index and layers within a poll.
            {
                let j = journeys.clone();
                std::thread::Builder::new()
                    .name("follow-store".into())
                    .spawn(move || {
                        let mut failing = false;
                        loop {
                            std::thread::sleep(FOLLOW_EVERY);
                            match j.catch_up() {
                                Ok(n) => {
                                    if n > 0 {
                                        tracing::debug!(added = n, "journeys from the store");
                                    }
                                    if failing {
                                        tracing::info!("following the store again");
                                    }
                                    failing = false;
                                }
                                Err(e) if !failing => {
                                    tracing::warn!(error = %e, "cannot follow the store; retrying");
                                    failing = true;
                                }
                                Err(_) => {}
                            }
                        }
                    })
                    .context("cannot start the store follower")?;
            }
            let closing = journeys.clone();
            let state = AppState::with_marking(journeys, web, security, limits, marking);
            let t0 = std::time::Instant::now();
            http::layers::Memos::warm(&state);
            // the journeys' route index and the rail chains per zoom band, for vector tiles
            state.tiles.get(&state.journeys.index());
            state.tiles.shapes(state.journeys.geography());
            tracing::info!(
                seconds = t0.elapsed().as_secs_f64(),
                "layers computed (station counts, hotspots, flows, track usage)"
            );
            let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            rt.block_on(async move {
                let tls = access.tls_cert.clone().zip(access.tls_key.clone());
                let (addr, server) = http::bind(state, listen, tls, shutdown_signal())
                    .with_context(|| format!("cannot listen on {listen}"))?;
                let scheme = if access.tls_cert.is_some() {
                    "https"
                } else {
                    "http"
                };
                println!("listening on {scheme}://{addr}");
                std::io::stdout().flush().ok();
                server.await;
                match closing.store().checkpoint() {
                    Ok(()) => tracing::info!("store closed; shut down cleanly"),
                    Err(e) => tracing::warn!(error = %e, "store checkpoint at shutdown failed (committed data is safe)"),
                }
                Ok(())
            })
        }
    }
}

fn generator_params(path: Option<&Path>) -> anyhow::Result<GeneratorParams> {
    match path {
        None => Ok(GeneratorParams::builtin()),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            GeneratorParams::from_json(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received, draining connections");
}
