//! `linesmap serve` as a library call: [`run`] takes a [`ServeConfig`] (the command line's
//! arguments, or one built in code) and serves until Ctrl-C or SIGTERM. The access arguments
//! ([`AccessArgs`]: sign-in, disclosure, audit, TLS, CORS, rate) and the server's limits
//! ([`LimitArgs`]: connections, requests, computations, timeouts, the page cache) are separate.

use crate::access::{Role, Security};
use crate::http::{self, AppState};
use crate::ingest::Journeys;
use crate::journey::generate::{self, GeneratorParams};
use anyhow::Context;
use clap::Args;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How often a server reads the store for reports other processes added.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);

/// Everything `linesmap serve` is given: the data, the store, the page, access and limits.
#[derive(Args, Debug)]
pub struct ServeConfig {
    #[command(flatten)]
    pub data: crate::config::DataArgs,
    /// Address to listen on; port 0 picks a free port. The server prints
    /// `listening on http://IP:PORT` once it accepts connections.
    #[arg(long, env = "LINESMAP_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The journey store: an SQLite file (created if missing) or a PostgreSQL URL
    /// (`postgres://user@host:port/db`, the schema migrated at start-up).
    #[arg(long, env = "LINESMAP_STORE", default_value = "linesmap.sqlite")]
    pub store: String,
    /// Generate and ingest this many synthetic demo reports at start-up (idempotent: the
    /// same seed gives the same report ids, so a restart adds nothing new).
    #[arg(long, default_value_t = 0)]
    pub demo_reports: usize,
    /// Seed of the demo reports.
    #[arg(long, default_value_t = 1)]
    pub demo_seed: u64,
    /// Generator parameters (JSON, as data/generator.json) for the demo reports.
    #[arg(long)]
    pub generator_params: Option<PathBuf>,
    /// The built map page (`web/dist`, from `npm run build` in `web/`), served at `/` to
    /// browsers; without it `/` is only the OGC landing page.
    #[arg(long, env = "LINESMAP_WEB")]
    pub web: Option<PathBuf>,
    /// The protective marking the map page prints on its briefing (top, bottom and the
    /// image's text chunks) and shows read-only: 1 to 64 printable characters.
    #[arg(long, default_value = crate::access::marking::DEFAULT_MARKING, value_parser = crate::access::marking::Marking::parse)]
    pub marking: crate::access::marking::Marking,
    /// When reports come up for review (MoPI): this long after the journey date (`6y`,
    /// `18m`, `90d`), unless an admin set a date (`POST /api/review/{id}`).
    #[arg(long, default_value = "6y", value_parser = crate::journey::review::ReviewAfter::parse)]
    pub review_after: crate::journey::review::ReviewAfter,
    #[command(flatten)]
    pub access: AccessArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Who may see what, and how it is served.
#[derive(Args, Debug)]
pub struct AccessArgs {
    /// Token file from `linesmap token create`: requests sign in with `Authorization: Bearer`.
    #[arg(long, env = "LINESMAP_TOKENS")]
    pub tokens: Option<PathBuf>,
    /// Open demo mode: no sign-in, every request without a token acts as an analyst. For
    /// synthetic demo data only; said loudly at start-up and on the page.
    #[arg(long)]
    pub open_demo: bool,
    /// Accept bearer JWTs from this OpenID Connect provider (its `iss`, exactly), beside the
    /// token file.
    #[arg(long, requires = "oidc_audience")]
    pub oidc_issuer: Option<String>,
    /// The audience (`aud`) the provider's tokens must name: this server's client id.
    #[arg(long, requires = "oidc_issuer")]
    pub oidc_audience: Option<String>,
    /// The provider's keys (JWKS): a file or an https:// URL. Default: the `jwks_uri` of the
    /// issuer's `/.well-known/openid-configuration`.
    #[arg(long, requires = "oidc_issuer")]
    pub oidc_jwks: Option<String>,
    /// The claim holding the caller's role(s) (a dotted path reaches into objects, e.g.
    /// realm_access.roles).
    #[arg(long, default_value = "roles")]
    pub oidc_role_claim: String,
    /// The claim holding a force_analyst's force (a GSS code).
    #[arg(long, default_value = "force")]
    pub oidc_force_claim: String,
    /// The page's public client id at the provider: the page then signs in through the
    /// provider (authorization code with PKCE), its endpoints read from the issuer's
    /// discovery document at start-up.
    #[arg(long, requires = "oidc_issuer")]
    pub oidc_client_id: Option<String>,
    /// The scopes the page asks the provider for (space-separated; must include openid).
    #[arg(long, requires = "oidc_client_id", default_value = "openid profile")]
    pub oidc_scopes: String,
    /// Viewers see no count below this (suppressed), the rest rounded to base 5.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub suppress_below: u32,
    /// The audit log (JSON lines, appended and synced). Default: the SQLite store's path +
    /// `.audit.ndjson`; with PostgreSQL, the database's `audit_events` table (shared by every
    /// instance).
    #[arg(long, env = "LINESMAP_AUDIT")]
    pub audit: Option<PathBuf>,
    /// The key of person pseudonyms and of disclosure control's rounding (created if missing).
    /// Default: the SQLite store's path + `.key` (with PostgreSQL: `linesmap.key`; give every
    /// instance the same key file, so pseudonyms and rounding agree).
    #[arg(long, env = "LINESMAP_KEY")]
    pub key: Option<PathBuf>,
    /// TLS certificate chain (PEM); with --tls-key, serve HTTPS (rustls).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Allow cross-origin requests from this origin (repeatable). Default: CORS off.
    #[arg(long)]
    pub cors_origin: Vec<String>,
    /// Requests a minute per token (or per address when signed out); 0 turns the limit off.
    #[arg(long, default_value_t = 1200)]
    pub rate_limit: u32,
    /// Start even if the SQLite store's files can be read by other users (they hold person
    /// fields; the server creates them owner-only, mode 0600).
    #[arg(long)]
    pub allow_readable_store: bool,
}

impl AccessArgs {
    /// Who may see what: authentication, pseudonyms, disclosure control, the audit log, the
    /// rate limit and CORS, for the store `store`.
    pub fn security(&self, store: &str) -> anyhow::Result<Security> {
        use crate::access::{
            Authentication, Pseudonyms, RateLimiter, audit::AuditLog, tokens::Tokens,
        };
        let tokens = match &self.tokens {
            Some(p) => Tokens::load(p)?,
            None => Tokens::default(),
        };
        let oidc = match (&self.oidc_issuer, &self.oidc_audience) {
            (Some(issuer), Some(audience)) => Some(crate::access::oidc::Oidc::new(
                crate::access::oidc::OidcConfig {
                    issuer: issuer.clone(),
                    audience: audience.clone(),
                    jwks: self.oidc_jwks.clone(),
                    role_claim: self.oidc_role_claim.clone(),
                    force_claim: self.oidc_force_claim.clone(),
                    refresh_every: crate::access::oidc::REFRESH_EVERY,
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
            let base = if crate::store::is_postgres(store) {
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
        let audit = match (&self.audit, crate::store::is_postgres(store)) {
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
            disclosure: crate::access::disclosure::Disclosure::new(
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

/// How much the server takes on at once, and how long it waits.
#[derive(Args, Debug)]
pub struct LimitArgs {
    /// Requests in the server at once; more are answered 503 with Retry-After.
    #[arg(long, default_value_t = 1024)]
    pub max_in_flight: usize,
    /// Computations (layers, queries, writes) running at once; others wait up to 10 s, then
    /// 503. Default: 4 per CPU core (the work is mostly CPU; each worker thread keeps its own
    /// allocator pages, so many more workers than cores only add memory).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Seconds a computation may take before the client gets 503 (the work is not retried).
    #[arg(long, default_value_t = 60)]
    pub request_timeout: u64,
    /// Milliseconds the map layers (hotspots, flows, counts) may lag new journeys: under a
    /// stream of writes each layer is recomputed at most this often. 0: always current.
    #[arg(long, default_value_t = 500)]
    pub layer_staleness_ms: u64,
    /// MiB of rendered aggregate pages (hotspots, flows, collection pages…) kept in memory
    /// until the journeys change, so a repeated request is served from bytes. 0: none.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(0..=4096))]
    pub page_cache_mib: u64,
    /// Seconds a client has to send a request's headers (from its first byte) and to finish a
    /// TLS handshake; slower connections are closed.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,
    /// Seconds a connection may stay open with no request in progress and no bytes moving
    /// (keep-alive included); then it is closed.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub idle_timeout: u64,
    /// Connections open at once; more are answered 503 and closed (0: no limit).
    #[arg(long, default_value_t = 1024)]
    pub max_connections: usize,
    /// Connections open at once from one address (0: no limit; behind a reverse proxy every
    /// client has the proxy's address: raise it or set 0 there).
    #[arg(long, default_value_t = 128)]
    pub max_connections_per_address: usize,
}

/// Four computations per CPU core: enough to overlap the store's waits with CPU work, few
/// enough that each thread's allocator pages stay warm (the soak: 64 workers on two cores held
/// 1.1 GiB resident, 8 held 0.6 GiB flat, at the same throughput).
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(4, |n| 4 * n.get())
}

impl LimitArgs {
    /// The server's limits (connections, requests, computations, timeouts, the page cache).
    pub fn limits(&self) -> http::Limits {
        let mut limits = http::Limits::new(
            self.max_in_flight,
            self.workers.unwrap_or_else(default_workers),
            Duration::from_secs(self.request_timeout.max(1)),
        );
        limits.layer_staleness = Duration::from_millis(self.layer_staleness_ms);
        limits.page_cache_bytes = (self.page_cache_mib as usize) << 20;
        limits.conn = http::server::ConnLimits {
            header_read_timeout: Duration::from_secs(self.header_timeout),
            idle_timeout: Duration::from_secs(self.idle_timeout),
            max_connections: self.max_connections,
            max_per_address: self.max_connections_per_address,
        };
        limits
    }
}

/// Runs the server until Ctrl-C or SIGTERM: loads the reference data and the journeys, adds
/// the demo reports, follows the store, computes the layers, then serves.
pub fn run(config: ServeConfig) -> anyhow::Result<()> {
    let ServeConfig {
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
        limits,
    } = config;
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
    if !crate::store::is_postgres(&store_spec) && !access.allow_readable_store {
        crate::store::check_private(std::path::Path::new(&store_spec))?;
    }
    let store = crate::store::open(&store_spec)?;
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
    let journeys = Arc::new(Journeys::new(geo.clone(), store).with_review_after(review_after));
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
                    crate::ingest::Outcome::Created(_) => created += 1,
                    crate::ingest::Outcome::Exists(_) => {}
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
    let limits = limits.limits();
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
    state.layers().warm();
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

/// The synthetic generator's parameters: the built-in ones, or a JSON file's.
pub fn generator_params(path: Option<&Path>) -> anyhow::Result<GeneratorParams> {
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
pub async fn shutdown_signal() {
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
