//! The console's HTTP side: the routes, the layers every request goes through, and
//! serving them on a listener (`cellwatch console`) or handing the router to the
//! service's HTTP endpoint (`cellwatch run` with `[http] console = true`).

use super::api::{self, Console};
use super::assets;
use super::auth::Auth;
use super::error::ConsoleError;
use super::limits;
use super::live::{run_poller, LiveIndex, StoreSource};
use crate::config::ConsoleConfig;
use crate::inspect::cells::CellSites;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::Router;
use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How to run the console.
pub struct ConsoleOptions {
    pub config: ConsoleConfig,
    pub source: StoreSource,
    /// Registered cells (OpenCellID-order CSV) for the map's cell layer and to place
    /// SIM cases at their serving cells.
    pub cells: Option<PathBuf>,
    /// The console listens on loopback only: reading is then open without a login
    /// (unless `[console] login_to_read`).
    pub loopback: bool,
    /// Turns true to stop the live updates (event streams end, the poller stops).
    pub shutdown: watch::Receiver<bool>,
}

/// The console's routes with their state; starts the live index's poller. Call it
/// inside a tokio runtime.
pub fn router(opts: ConsoleOptions) -> Result<Router, ConsoleError> {
    Ok(routes(start(opts)?))
}

/// The console's state, with the live index's poller started (the fuzz target keeps
/// the state to log its sessions in and to look at the index).
pub(crate) fn start(opts: ConsoleOptions) -> Result<api::State, ConsoleError> {
    let sites = match &opts.cells {
        Some(p) => Some(Arc::new(CellSites::load(p).map_err(ConsoleError::Cells)?)),
        None => None,
    };
    let auth = Auth::open(&opts.config, opts.loopback)?;
    let index = Arc::new(LiveIndex::new());
    let slot = Arc::default();
    let state = Arc::new(Console {
        index: index.clone(),
        slot: Arc::clone(&slot),
        auth,
        sites,
        sites_source: opts.cells.as_ref().map(|p| p.display().to_string()),
        config: opts.config.clone(),
        shutdown: opts.shutdown.clone(),
        records: Default::default(),
        status_lock: tokio::sync::Mutex::new(()),
    });
    tokio::spawn(run_poller(
        index,
        slot,
        opts.source,
        Duration::from_millis(opts.config.poll_ms),
        opts.shutdown,
    ));
    Ok(state)
}

/// The routes over `state`, behind the request limits and the visitor's session.
pub(crate) fn routes(state: api::State) -> Router {
    let max_body = state.config.max_body_bytes;
    Router::new()
        .route("/", get(assets::index))
        .route("/assets/{*path}", get(assets::file))
        .route("/api/session", get(api::auth::session))
        .route("/api/login", post(api::auth::login))
        .route("/api/logout", post(api::auth::logout))
        .route("/api/config", get(api::auth::config))
        .route("/api/users", get(api::auth::users))
        .route("/api/cases", get(api::cases::list))
        .route("/api/cases/{id}", get(api::cases::detail))
        .route("/api/cases/{id}/status", post(api::cases::set_status))
        .route("/api/cases/{id}/evidence", get(api::evidence::evidence))
        .route("/api/cases/{id}/package", get(api::evidence::package))
        .route("/api/cells", get(api::cells::list))
        .route("/api/events", get(api::events::events))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(from_fn_with_state(state.clone(), limits::visitor))
        .layer(from_fn_with_state(state.clone(), limits::limit_and_protect))
        .with_state(state)
}

/// Bind the console's listener.
pub async fn bind(listen: &str) -> Result<TcpListener, ConsoleError> {
    TcpListener::bind(listen)
        .await
        .map_err(|cause| ConsoleError::Listen {
            listen: listen.to_string(),
            cause,
        })
}

/// Whether every address `listen` names is a loopback address.
pub fn listen_is_loopback(listen: &str) -> bool {
    match listen.to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<_> = addrs.collect();
            !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())
        }
        Err(_) => false,
    }
}

/// Serve `router` on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|v| *v).await;
        })
        .await
}
