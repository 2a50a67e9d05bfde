//! `GET /api/session` (who is logged in, and the CSRF token every POST sends back),
//! `POST /api/login`, `POST /api/logout`, `GET /api/config` (what the page needs to
//! draw: base map, registered cells, store) and `GET /api/users` (admins only).

use super::cases::check_post;
use super::{ApiError, State};
use crate::console::auth::session::Visitor;
use crate::console::auth::{Identity, LoginRefusal};
use crate::console::query::parse_login_body;
use axum::body::Bytes;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;

#[derive(Serialize)]
struct UserView {
    name: String,
    role: &'static str,
}

#[derive(Serialize)]
struct SessionView {
    user: Option<UserView>,
    /// Send this in the `X-CSRF-Token` header of every POST.
    csrf: String,
    can_change_status: bool,
    /// Reading needs a login on this console.
    login_to_read: bool,
}

fn session_view(state: &State, sid: &str, id: Option<&Identity>) -> SessionView {
    SessionView {
        user: id.map(|i| UserView {
            name: i.name.clone(),
            role: i.role.as_str(),
        }),
        csrf: state.auth.sessions.csrf(sid),
        can_change_status: id.is_some_and(|i| i.role.can_change_status()),
        login_to_read: state.auth.login_to_read,
    }
}

pub(crate) async fn session(
    axum::extract::State(state): axum::extract::State<State>,
    Extension(visitor): Extension<Visitor>,
) -> Result<Response, ApiError> {
    let id = state.auth.identity(&visitor)?;
    Ok(Json(session_view(&state, &visitor.sid, id.as_ref())).into_response())
}

/// A JSON answer that also sets the session cookie to `sid`.
fn with_cookie(state: &State, sid: &str, body: SessionView) -> Result<Response, ApiError> {
    let mut resp = Json(body).into_response();
    let cookie = HeaderValue::from_str(&state.auth.sessions.set_cookie(sid))
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    resp.headers_mut().insert(SET_COOKIE, cookie);
    Ok(resp)
}

pub(crate) async fn login(
    axum::extract::State(state): axum::extract::State<State>,
    Extension(visitor): Extension<Visitor>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_post(&state, &headers, &visitor)?;
    let req = parse_login_body(&body)?;
    match state.auth.login(req.user.trim(), req.password).await {
        Ok((id, sid)) => {
            state.auth.sessions.logout(&visitor.sid);
            let view = session_view(&state, &sid, Some(&id));
            with_cookie(&state, &sid, view)
        }
        Err(LoginRefusal::Wrong) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong user name or password",
        )),
        Err(LoginRefusal::Locked { minutes }) => Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many failed logins for this user name; try again in {minutes} minute(s)"),
        )),
        Err(LoginRefusal::Unavailable(why)) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("logins are unavailable: {why}"),
        )),
    }
}

pub(crate) async fn logout(
    axum::extract::State(state): axum::extract::State<State>,
    Extension(visitor): Extension<Visitor>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_post(&state, &headers, &visitor)?;
    state.auth.sessions.logout(&visitor.sid);
    if let Some(user) = &visitor.user {
        tracing::info!(user = %user, "console logout");
    }
    let sid = state.auth.sessions.anonymous_id();
    let view = session_view(&state, &sid, None);
    with_cookie(&state, &sid, view)
}

#[derive(Serialize)]
struct ConfigView {
    /// Base map tile URL (`{z}/{x}/{y}`); empty: no base map.
    tile_url: String,
    tile_attribution: String,
    /// Registered cells loaded (`--cells` / `[inventory] csv`); 0 when none.
    registered_cells: usize,
    /// Where cases come from.
    store: String,
    poll_ms: u64,
    max_cases: usize,
    version: &'static str,
}

pub(crate) async fn config(
    axum::extract::State(state): axum::extract::State<State>,
    Extension(visitor): Extension<Visitor>,
) -> Result<Response, ApiError> {
    state.reader(&visitor)?;
    Ok(Json(ConfigView {
        tile_url: state.config.tile_url.clone(),
        tile_attribution: state.config.tile_attribution.clone(),
        registered_cells: state.sites.as_ref().map_or(0, |s| s.count()),
        store: state
            .slot
            .get()
            .map(|s| s.describe())
            .unwrap_or_else(|| "not connected yet".into()),
        poll_ms: state.config.poll_ms,
        max_cases: state.config.max_cases,
        version: env!("CARGO_PKG_VERSION"),
    })
    .into_response())
}

#[derive(Serialize)]
struct UserRow {
    name: String,
    role: &'static str,
    created_at: String,
}

pub(crate) async fn users(
    axum::extract::State(state): axum::extract::State<State>,
    Extension(visitor): Extension<Visitor>,
) -> Result<Response, ApiError> {
    let id = state.auth.identity(&visitor)?;
    match id {
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "log in as an admin to see the users",
        )),
        Some(i) if i.role != crate::console::auth::users::Role::Admin => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "user {} is an {}; the user list needs the admin role",
                i.name,
                i.role.as_str()
            ),
        )),
        Some(_) => {
            let file = state.auth.users.current()?;
            let rows: Vec<UserRow> = file
                .users()
                .iter()
                .map(|u| UserRow {
                    name: u.name.clone(),
                    role: u.role.as_str(),
                    created_at: u.created_at.clone(),
                })
                .collect();
            Ok(Json(serde_json::json!({ "users": rows })).into_response())
        }
    }
}
