//! `GET /api/cases` (the list, filtered like `cases list`, from the live index),
//! `GET /api/cases/{id}` (one case with its audit trail, reasons explained and the
//! next statuses) and `POST /api/cases/{id}/status` (a status change by the
//! logged-in user, with a note).

use super::{ApiError, CaseView, State};
use crate::console::auth::session::{Visitor, CSRF_HEADER};
use crate::console::query::{parse_case_query, parse_status_body};
use crate::inspect::filter::case_order;
use crate::inspect::lifecycle::allowed_next;
use crate::inspect::reasons::describe;
use crate::inspect::StatusChange;
use crate::model::Case;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;

/// The time span of every case in the index (for the page's time slider).
#[derive(Serialize)]
struct Span {
    first_seen: i64,
    last_seen: i64,
}

#[derive(Serialize)]
struct CaseList<'a> {
    cases: Vec<CaseView<'a>>,
    /// Cases that pass the filter.
    total: usize,
    /// More passed than were returned (`limit`, `[console] max_cases`).
    truncated: bool,
    /// The index's revision: it grows with every change announced on `/api/events`.
    revision: u64,
    /// The store has been read at least once.
    loaded: bool,
    /// The last error reading the store, when the last attempt failed.
    error: Option<String>,
    span: Option<Span>,
}

pub(crate) async fn list(
    axum::extract::State(state): axum::extract::State<State>,
    Extension(visitor): Extension<Visitor>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    state.reader(&visitor)?;
    let now = chrono::Utc::now().timestamp_millis();
    let q = parse_case_query(query.as_deref().unwrap_or(""), now, state.config.max_cases)?;
    let revision = state.index.revision();
    let mut span: Option<Span> = None;
    let mut hits: Vec<(Case, Vec<super::Place>)> = Vec::new();
    for e in state.index.cases.iter() {
        let c = &e.case;
        span = Some(match span {
            None => Span {
                first_seen: c.first_seen,
                last_seen: c.last_seen,
            },
            Some(s) => Span {
                first_seen: s.first_seen.min(c.first_seen),
                last_seen: s.last_seen.max(c.last_seen),
            },
        });
        let places = state.places(&e.serving);
        let points: Vec<(f64, f64)> = places.iter().map(|p| (p.lat, p.lon)).collect();
        if q.filter.matches_placed(c, &points) {
            hits.push((c.clone(), places));
        }
    }
    hits.sort_by(|a, b| case_order(&a.0, &b.0));
    let total = hits.len();
    hits.truncate(q.limit);
    let health = state.index.health();
    let body = CaseList {
        cases: hits
            .iter()
            .map(|(case, places)| CaseView {
                case,
                places: places.clone(),
            })
            .collect(),
        total,
        truncated: total > hits.len(),
        revision,
        loaded: health.loaded,
        error: health.error,
        span,
    };
    Ok(Json(body).into_response())
}

#[derive(Serialize)]
struct ReasonView<'a> {
    code: &'a str,
    value: f64,
    threshold: f64,
    meaning: Option<&'static str>,
}

#[derive(Serialize)]
struct CaseDetail<'a> {
    case: CaseView<'a>,
    history: Vec<StatusChange>,
    reasons: Vec<ReasonView<'a>>,
    allowed_next: Vec<&'static str>,
}

/// The case from the index, else from the store (a case the poller has not seen yet).
async fn find_case(state: &State, id: &str) -> Result<(Case, Vec<super::Place>), ApiError> {
    if let Some(e) = state.index.cases.get(id) {
        return Ok((e.case.clone(), state.places(&e.serving)));
    }
    let case = state.store()?.get(id.to_string()).await?;
    Ok((case, Vec::new()))
}

pub(crate) async fn detail(
    axum::extract::State(state): axum::extract::State<State>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    state.reader(&visitor)?;
    let (mut case, places) = find_case(&state, &id).await?;
    let history = state.store()?.history(id.clone()).await?;
    let status = crate::inspect::lifecycle::current_status(case.status, &history);
    case.status = status;
    let body = CaseDetail {
        case: CaseView {
            case: &case,
            places,
        },
        reasons: case
            .reasons
            .iter()
            .map(|r| ReasonView {
                code: &r.code,
                value: r.value,
                threshold: r.threshold,
                meaning: describe(&r.code),
            })
            .collect(),
        allowed_next: allowed_next(status).iter().map(|s| s.as_str()).collect(),
        history,
    };
    Ok(Json(body).into_response())
}

#[derive(Serialize)]
struct Changed<'a> {
    change: &'a StatusChange,
}

/// The checks of every POST besides authentication: a same-origin request (when the
/// browser says where it comes from) carrying the session's CSRF token.
pub(crate) fn check_post(
    state: &State,
    headers: &HeaderMap,
    visitor: &Visitor,
) -> Result<(), ApiError> {
    if let Some(origin) = headers.get("origin").and_then(|v| v.to_str().ok()) {
        let host = headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(origin);
        if origin_host != host {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "cross-site request refused: the Origin is not this console",
            ));
        }
    }
    let token = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    if !state.auth.sessions.csrf_ok(&visitor.sid, token) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "missing or wrong CSRF token: send the token from GET /api/session in the X-CSRF-Token header (reload the page)",
        ));
    }
    Ok(())
}

pub(crate) async fn set_status(
    axum::extract::State(state): axum::extract::State<State>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Some(user) = state.auth.identity(&visitor)? else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "log in to change a case's status (POST /api/login)",
        ));
    };
    check_post(&state, &headers, &visitor)?;
    if !user.role.can_change_status() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "user {} is an {}; changing a status needs the inspector or admin role",
                user.name,
                user.role.as_str()
            ),
        ));
    }
    let req = parse_status_body(&body)?;
    if req.note.trim().is_empty() {
        return Err(ApiError::bad_request(
            "the note is empty: say why (it is kept in the audit trail)",
        ));
    }
    let store = state.store()?.clone();
    let change = {
        let _one_at_a_time = state.status_lock.lock().await;
        let now = chrono::Utc::now().timestamp_millis();
        store
            .set_status(id.clone(), req.status, user.name.clone(), req.note, now)
            .await?
    };
    state.index.set_status(&id, change.to_status);
    Ok(Json(Changed { change: &change }).into_response())
}
