//! What every console response goes through: the request-head size limit (431), the
//! visitor's session (a signed cookie for every visitor, see `auth::session`), and
//! the security headers (a Content-Security-Policy allowing only this console and
//! the configured tile server, no framing, no sniffing, no referrer, no caching of
//! API answers). The body limit is axum's `DefaultBodyLimit`, set in `server.rs`.

use super::api::{ApiError, State};
use axum::extract::Request;
use axum::http::header::{self, HeaderValue};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Size of the request line's target and headers, as counted against
/// `[console] max_header_bytes`.
pub(crate) fn head_size(req: &Request) -> usize {
    let uri = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    let headers: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    uri + headers
}

/// Refuse a request head larger than the limit; add the security headers.
pub(crate) async fn limit_and_protect(
    axum::extract::State(state): axum::extract::State<State>,
    req: Request,
    next: Next,
) -> Response {
    let size = head_size(&req);
    if size > state.config.max_header_bytes {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!(
                "request line and headers are {size} bytes, more than the console accepts ({}, [console] max_header_bytes)",
                state.config.max_header_bytes
            ),
        )
        .into_response();
    }
    let is_api = req.uri().path().starts_with("/api/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content_security_policy(&state.config.tile_url)) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if is_api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// Put the visitor (from the session cookie) in the request's extensions and send
/// a new signed cookie to a visitor who had none (or an invalid one).
pub(crate) async fn visitor(
    axum::extract::State(state): axum::extract::State<State>,
    mut req: Request,
    next: Next,
) -> Response {
    let v = state.auth.sessions.visitor(
        req.headers()
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    let (new_cookie, sid) = (v.new_cookie, v.sid.clone());
    req.extensions_mut().insert(v);
    let mut resp = next.run(req).await;
    if new_cookie && !resp.headers().contains_key(header::SET_COOKIE) {
        if let Ok(c) = HeaderValue::from_str(&state.auth.sessions.set_cookie(&sid)) {
            resp.headers_mut().insert(header::SET_COOKIE, c);
        }
    }
    resp
}

/// The Content-Security-Policy: scripts, styles, data and connections from this
/// console only; images also from the tile server's origin when one is configured.
pub(crate) fn content_security_policy(tile_url: &str) -> String {
    let tiles = tile_origin(tile_url)
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:{tiles}; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// `scheme://host[:port]` of a tile URL, with `{s}.` turned into a `*.` wildcard.
fn tile_origin(tile_url: &str) -> Option<String> {
    let (scheme, rest) = tile_url.split_once("://")?;
    let host = rest.split('/').next()?;
    let host = host.replace("{s}.", "*.");
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '*'))
    {
        return None;
    }
    Some(format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_the_tile_server_only() {
        let p = content_security_policy("");
        assert!(p.contains("img-src 'self' data:;"), "{p}");
        let p = content_security_policy("https://{s}.tile.example.org/{z}/{x}/{y}.png");
        assert!(
            p.contains("img-src 'self' data: https://*.tile.example.org;"),
            "{p}"
        );
        let p = content_security_policy("http://127.0.0.1:8000/t/{z}/{x}/{y}.png");
        assert!(p.contains("http://127.0.0.1:8000;"), "{p}");
        assert_eq!(tile_origin("https://x{y}/"), None);
    }
}
