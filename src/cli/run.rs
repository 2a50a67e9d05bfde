//! `cellwatch run`: the streaming service until SIGTERM / Ctrl-C.

use anyhow::{Context, Result};
use cellwatch::config::Config;
use cellwatch::console::{self, ConsoleOptions, StoreSource};
use cellwatch::inspect::store::DEFAULT_TIMEOUT;
use cellwatch::service::metrics::Metrics;
use cellwatch::service::outputs::BatchStore;
use cellwatch::service::{self, ServiceOptions};
use cellwatch::sink::clickhouse::ClickHouse;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args)]
pub(crate) struct RunArgs {
    /// Configuration file (TOML); `CELLWATCH_*` environment variables override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Registered-cell inventory CSV loaded at start (else `[inventory] csv`).
    #[arg(long, value_name = "FILE")]
    cells: Option<PathBuf>,
}

pub(crate) fn run(args: RunArgs) -> Result<()> {
    let config = Config::load(args.config.as_deref())?;
    // Before the runtime's threads start.
    cellwatch::alloc::hold_freed_memory(config.sink.free_memory_hold_ms);
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let result = runtime.block_on(async move {
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutdown requested: draining, committing, exiting");
            let _ = tx.send(true);
            stop_anyway_after(STOP_GRACE);
        });
        let store = BatchStore::ClickHouse(Box::new(ClickHouse::new(config.clickhouse.clone())));
        let mut metrics = Metrics::new();
        if config.http.console {
            metrics = metrics.with_routes(console_routes(&config, args.cells.clone(), rx.clone())?);
        }
        let report = service::run(ServiceOptions {
            config,
            cells: args.cells,
            store,
            metrics,
            shutdown: rx,
            now_ms: None,
        })
        .await?;
        println!("{}", serde_json::to_string_pretty(&report)?);
        Ok(())
    });
    // Whatever is still running (a blocking Kafka read) must not keep the process.
    runtime.shutdown_timeout(Duration::from_secs(2));
    result
}

/// How long a clean stop may take after SIGTERM (drain, final snapshots, commit).
const STOP_GRACE: Duration = Duration::from_secs(30);

/// A clean stop that has not ended within `grace` (sinks unreachable, a blocked
/// client) ends the process with an error, so SIGTERM always works.
fn stop_anyway_after(grace: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(grace);
        tracing::error!(
            grace_secs = grace.as_secs(),
            "clean stop did not finish in time: exiting without it (uncommitted records are consumed again at the next start)"
        );
        std::process::exit(2);
    });
}

/// The analyst console for `[http] console = true`: cases from `[clickhouse]`
/// (connected in the background, so the service starts even when it cannot read
/// yet), served on the metrics endpoint.
fn console_routes(
    config: &Config,
    cells: Option<PathBuf>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<axum::Router> {
    let router = console::router(ConsoleOptions {
        config: config.console.clone(),
        source: StoreSource::ClickHouse {
            config: Box::new(config.clickhouse.clone()),
            timeout: DEFAULT_TIMEOUT,
        },
        cells: cells.or_else(|| config.inventory.csv.clone()),
        loopback: console::listen_is_loopback(&config.http.listen),
        shutdown,
    })?;
    tracing::info!(listen = %config.http.listen, "analyst console served on the metrics endpoint");
    Ok(router)
}

pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
