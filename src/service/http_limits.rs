//! The HTTP server of the service's endpoints, with limits on what a client may send
//! (`[http] max_header_bytes`, `max_headers`, `max_body_bytes`): the endpoints are
//! reachable by whoever can reach the port, so a request with megabytes of headers or
//! body is refused before it is buffered. Headers beyond the limits get
//! `431 Request Header Fields Too Large` (from hyper, which stops reading); a body
//! announced larger than the limit gets `413 Payload Too Large` before it is read,
//! and a body without a length is cut at the limit with the same answer.

use crate::config::HttpConfig;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use std::future::Future;

/// The limits of one server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HttpLimits {
    pub(crate) max_header_bytes: usize,
    pub(crate) max_headers: usize,
    pub(crate) max_body_bytes: usize,
}

impl HttpLimits {
    pub(crate) fn of(config: &HttpConfig) -> Self {
        HttpLimits {
            max_header_bytes: config.max_header_bytes,
            max_headers: config.max_headers,
            max_body_bytes: config.max_body_bytes,
        }
    }
}

/// Refuse a body larger than `max` (413): announced by its length, or found while
/// reading one sent without a length.
async fn limit_body(max: usize, request: Request, next: Next) -> Response {
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > max as u64) {
        tracing::warn!(
            path = %request.uri().path(),
            bytes = announced.unwrap_or(0),
            max,
            "http request body too large: refused"
        );
        return too_large(max);
    }
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, max).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(_) => {
            tracing::warn!(path = %parts.uri.path(), max, "http request body too large: refused");
            too_large(max)
        }
    }
}

fn too_large(max: usize) -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body larger than {max} bytes (http.max_body_bytes)\n"),
    )
        .into_response()
}

/// `app` behind the body limit: what [`spawn`] serves.
pub(crate) fn limited(app: Router, limits: HttpLimits) -> Router {
    let max_body = limits.max_body_bytes;
    app.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| limit_body(max_body, req, next),
    ))
}

/// Serve one connection of `app` (already [`limited`]) with the header limits, until
/// the client closes it or breaks the protocol.
pub(crate) async fn serve_connection<I>(io: I, app: Router, limits: HttpLimits) -> hyper::Result<()>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(app);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.max_buf_size(limits.max_header_bytes.max(8192))
        .max_headers(limits.max_headers);
    http.serve_connection(TokioIo::new(io), service).await
}

/// Serve `app` on `listener` with `limits` until `shutdown` resolves (then stop
/// accepting; open connections end with the process).
pub(crate) fn spawn(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let app = limited(app, limits);
    tokio::spawn(async move {
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "http accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let app = app.clone();
            tokio::spawn(async move {
                if let Err(e) = serve_connection(stream, app, limits).await {
                    tracing::debug!(error = %e, %peer, "http connection ended with an error");
                }
            });
        }
    });
}

#[cfg(test)]
#[path = "http_limits_tests.rs"]
mod tests;
