//! The JSON API (docs/console.md, schemas under `schemas/console/`): what the page
//! itself calls and scripts may call. One file per group of endpoints; this one has
//! what they share: the state, the error answer, the read check and the case view
//! (a case with the places it is drawn at).

pub(crate) mod auth;
pub(crate) mod cases;
pub(crate) mod cells;
pub(crate) mod events;
pub(crate) mod evidence;

use super::auth::session::Visitor;
use super::auth::{Auth, Identity};
use super::live::{LiveIndex, StoreSlot};
use super::store::ConsoleStore;
use crate::config::ConsoleConfig;
use crate::inspect::cells::CellSites;
use crate::inspect::InspectError;
use crate::model::{Case, CellKey};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::watch;

/// Everything the handlers share.
pub(crate) struct Console {
    pub(crate) index: Arc<LiveIndex>,
    pub(crate) slot: StoreSlot,
    pub(crate) auth: Auth,
    pub(crate) sites: Option<Arc<CellSites>>,
    /// Where the registered cells came from, for the evidence package.
    pub(crate) sites_source: Option<String>,
    pub(crate) config: ConsoleConfig,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// The evidence records of the last cases opened.
    pub(crate) records: super::records::RecordsCache,
    /// Status changes one at a time (read the status, check the step, append).
    pub(crate) status_lock: tokio::sync::Mutex<()>,
}

pub(crate) type State = Arc<Console>;

/// An error answer: `{"error": "…"}` with its HTTP status.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<InspectError> for ApiError {
    fn from(e: InspectError) -> ApiError {
        let status = match &e {
            InspectError::UnknownCase { .. } => StatusCode::NOT_FOUND,
            InspectError::Transition(_) => StatusCode::CONFLICT,
            InspectError::Filter { .. } | InspectError::Invalid { .. } => StatusCode::BAD_REQUEST,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        };
        if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(error = %e, "console: the case store failed");
        }
        ApiError::new(status, e.to_string())
    }
}

impl From<super::query::BadRequest> for ApiError {
    fn from(e: super::query::BadRequest) -> ApiError {
        ApiError::bad_request(e.0)
    }
}

impl From<super::error::ConsoleError> for ApiError {
    fn from(e: super::error::ConsoleError) -> ApiError {
        tracing::error!(error = %e, "console: cannot read the users file");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(ErrorBody {
                error: &self.message,
            }),
        )
            .into_response()
    }
}

impl Console {
    /// The store, or 503 while it is not reachable yet.
    pub(crate) fn store(&self) -> Result<&ConsoleStore, ApiError> {
        self.slot.get().ok_or_else(|| {
            let why = self
                .index
                .health()
                .error
                .unwrap_or_else(|| "not connected yet".into());
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the case store is not reachable yet: {why}"),
            )
        })
    }

    /// Who is reading: 401 when reading needs a login and there is none.
    pub(crate) fn reader(&self, visitor: &Visitor) -> Result<Option<Identity>, ApiError> {
        let id = self.auth.identity(visitor)?;
        if id.is_none() && self.auth.login_to_read {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "log in to read cases (this console requires a login for reading)",
            ));
        }
        Ok(id)
    }

    /// The places a case is drawn at: the registered sites of its serving cells.
    pub(crate) fn places(&self, serving: &[(String, u64)]) -> Vec<Place> {
        let Some(sites) = &self.sites else {
            return Vec::new();
        };
        serving
            .iter()
            .filter_map(|(cell, records)| {
                let s = sites.get(&CellKey::parse(cell)?)?;
                Some(Place {
                    cell: cell.clone(),
                    lat: s.lat,
                    lon: s.lon,
                    range_m: s.range_m,
                    records: *records,
                })
            })
            .collect()
    }
}

/// A serving cell of a SIM case at its registered site.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Place {
    pub(crate) cell: String,
    pub(crate) lat: f64,
    pub(crate) lon: f64,
    pub(crate) range_m: f64,
    pub(crate) records: u64,
}

/// A case as the API shows it: the contract's fields and where it is drawn.
#[derive(Serialize)]
pub(crate) struct CaseView<'a> {
    #[serde(flatten)]
    pub(crate) case: &'a Case,
    pub(crate) places: Vec<Place>,
}
