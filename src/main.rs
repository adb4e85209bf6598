//! The `linesmap` command line: `serve` and `check-data`.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use linesmap::config::{DataPaths, load_geography};
use linesmap::geography::{DEFAULT_TOLERANCE_M, GeographyOptions, RailOptions};
use linesmap::http::{self, AppState};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

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
enum Command {
    /// Serve the HTTP API.
    Serve {
        #[command(flatten)]
        data: DataArgs,
        /// Address to listen on; port 0 picks a free port. The server prints
        /// `listening on http://IP:PORT` once it accepts connections.
        #[arg(long, env = "LINESMAP_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Load the reference data and print a data-quality report.
    CheckData {
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Args)]
struct DataArgs {
    /// Folder with forces.geojson, stations.csv and rail_tracks.geojson (or one *.osm.pbf).
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
    fn load(&self) -> anyhow::Result<(linesmap::Geography, linesmap::config::LoadTimings)> {
        let paths = DataPaths::resolve(
            self.data.as_deref(),
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

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LINESMAP_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match Cli::parse().command {
        Command::CheckData { data } => {
            let (geo, t) = data.load()?;
            print!("{}", linesmap::check::report(&geo, &t));
            Ok(())
        }
        Command::Serve { data, listen } => {
            let (geo, t) = data.load()?;
            tracing::info!(
                forces = geo.forces.forces().len(),
                stations = geo.stations.len(),
                rail_km = (geo.rail.length_m() / 1000.0).round(),
                read_s = t.read.as_secs_f64(),
                index_s = t.index.as_secs_f64(),
                "reference data ready"
            );
            let state = Arc::new(AppState { geo: Arc::new(geo) });
            let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            rt.block_on(async move {
                let (addr, server) = http::bind(state, listen, shutdown_signal())
                    .with_context(|| format!("cannot listen on {listen}"))?;
                println!("listening on http://{addr}");
                std::io::stdout().flush().ok();
                server.await;
                tracing::info!("shut down cleanly");
                Ok(())
            })
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
