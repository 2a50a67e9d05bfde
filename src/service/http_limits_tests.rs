//! The request limits of the HTTP endpoint, over a real socket: a normal request is
//! served; too many or too large headers get 431; a body announced or found larger
//! than the limit gets 413.

use super::{spawn, HttpLimits};
use crate::service::metrics::{router, Metrics};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIMITS: HttpLimits = HttpLimits {
    max_header_bytes: 8192,
    max_headers: 16,
    max_body_bytes: 100,
};

/// Serve the endpoint's routes on a free port; returns its address.
async fn server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    spawn(
        listener,
        router(Metrics::new()),
        LIMITS,
        std::future::pending(),
    );
    addr
}

/// Send `request` on a new connection; the status line of the answer.
async fn status_of(addr: std::net::SocketAddr, request: Vec<u8>) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before it read everything.
    let _ = stream.write_all(&request).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await;
    assert!(read.is_ok(), "the server answers and closes in time");
    let text = String::from_utf8_lossy(&answer);
    text.lines().next().unwrap_or_default().to_string()
}

fn get(path: &str, extra: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n{extra}\r\n").into_bytes()
}

#[tokio::test]
async fn requests_within_the_limits_are_served() {
    let addr = server().await;
    assert_eq!(
        status_of(addr, get("/healthz", "")).await,
        "HTTP/1.1 200 OK"
    );
    let body = "x".repeat(100);
    let post = format!(
        "POST /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 100\r\n\r\n{body}"
    );
    // A body at the limit passes the limit (the route then refuses the method).
    assert_eq!(
        status_of(addr, post.into_bytes()).await,
        "HTTP/1.1 405 Method Not Allowed"
    );
}

#[tokio::test]
async fn too_many_or_too_large_headers_get_431() {
    let addr = server().await;
    let many: String = (0..40).map(|i| format!("X-H{i}: v\r\n")).collect();
    assert_eq!(
        status_of(addr, get("/healthz", &many)).await,
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    let large = format!("X-Big: {}\r\n", "a".repeat(64 * 1024));
    assert_eq!(
        status_of(addr, get("/healthz", &large)).await,
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_announced_or_not() {
    let addr = server().await;
    let announced = "POST /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\
                     Content-Length: 1000000\r\n\r\nsome";
    assert_eq!(
        status_of(addr, announced.as_bytes().to_vec()).await,
        "HTTP/1.1 413 Payload Too Large"
    );
    let mut chunked = b"POST /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\
                        Transfer-Encoding: chunked\r\n\r\n"
        .to_vec();
    for _ in 0..4 {
        chunked.extend_from_slice(b"40\r\n");
        chunked.extend_from_slice(&[b'y'; 64]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(
        status_of(addr, chunked).await,
        "HTTP/1.1 413 Payload Too Large"
    );
}
