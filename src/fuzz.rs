//! Entry points of the fuzz targets (`fuzz/fuzz_targets/`), in the library so that the
//! targets and the corpus replay test (`tests/fuzz_corpus.rs`, stable toolchain) run
//! exactly the same code. Each takes any bytes; a panic is a bug. Each also checks
//! what must hold for every input it accepts (a dead letter serialises, a load report
//! adds up, a masked configuration is still a configuration).

use crate::config::mask::masked_toml;
use crate::config::{Config, Environment};
use crate::ingest::Origin;
use crate::inventory::csv_limit::CsvLimits;
use crate::inventory::Inventory;
use crate::model::{Feed, TimeBounds};
use crate::service::http_limits::{limited, serve_connection, HttpLimits};
use crate::service::metrics::{router, Metrics};
use crate::validate::{Checked, SourceValidator};
use std::path::Path;

mod console;
pub use console::{console_request, PASSWORD as CONSOLE_PASSWORD};

/// One raw record through the validation stage of both feeds: a typed event or a
/// dead letter that serialises, never a panic.
pub fn record(data: &[u8]) {
    let bounds = TimeBounds::at(1_800_000_000_000);
    for feed in [Feed::SmsVolume, Feed::Measurements] {
        let mut v = SourceValidator::new(feed, bounds, 600_000);
        let origin = Origin::File {
            file: "fuzz".into(),
            line: 1,
        };
        if let Checked::Invalid(dead) = v.check(data, origin) {
            serde_json::to_string(&dead).expect("dead letters serialise");
        }
    }
}

/// Any bytes as a cell-inventory CSV file: loaded or refused with an error, and every
/// row read is either loaded or rejected.
pub fn inventory_csv(data: &[u8]) {
    let mut inventory = Inventory::new();
    let limits = CsvLimits::default();
    if let Ok(report) = inventory.extend_from_csv_reader(data, Path::new("fuzz.csv"), limits) {
        assert_eq!(
            report.loaded + report.rejected_total,
            report.rows_read,
            "every row is loaded or rejected"
        );
        assert!(inventory.len() as u64 <= report.loaded);
    }
}

/// Any bytes as a configuration: the TOML file before the first NUL byte, then
/// `NAME=VALUE` lines of `CELLWATCH_*` variables. Loaded or refused with an error;
/// an accepted configuration, masked, is still a configuration.
pub fn config(data: &[u8]) {
    let (file, env) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(file) else {
        return;
    };
    let pairs = String::from_utf8_lossy(env)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect::<Vec<_>>();
    let env = Environment::from_pairs(pairs);
    if let Ok(loaded) = Config::from_layers("fuzz.toml", Some(text), &env) {
        let masked = masked_toml(&loaded.config);
        toml::from_str::<Config>(&masked).expect("a masked configuration parses");
    }
}

/// Limits small enough for a fuzzer to cross them.
const FUZZ_HTTP_LIMITS: HttpLimits = HttpLimits {
    max_header_bytes: 8192,
    max_headers: 8,
    max_body_bytes: 64,
};

thread_local! {
    static HTTP: (tokio::runtime::Runtime, axum::Router) = (
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime"),
        limited(router(Metrics::new()), FUZZ_HTTP_LIMITS),
    );
}

/// Any bytes as what a client sends on one connection to the service's HTTP endpoint
/// (`/metrics`, `/healthz`, `/readyz` behind the request limits), then closes its
/// side: the server ends the connection within a bounded time, and everything it
/// answers is HTTP/1.x responses, none a server error (500). The analyst console has
/// its own target, [`console_request`].
pub fn http_request(data: &[u8]) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    HTTP.with(|(runtime, app)| {
        let answer = runtime.block_on(async {
            let (mut client, server) = tokio::io::duplex(1 << 20);
            let served = tokio::spawn(serve_connection(server, app.clone(), FUZZ_HTTP_LIMITS));
            let io = async {
                // The server may close early (a refused head): the rest is not read.
                let _ = client.write_all(data).await;
                let _ = client.shutdown().await;
                let mut answer = Vec::new();
                let _ = client.read_to_end(&mut answer).await;
                answer
            };
            let answer = tokio::time::timeout(std::time::Duration::from_secs(5), io)
                .await
                .expect("the server ends the connection once the client has sent all");
            served.abort();
            answer
        });
        check_http_answer(&answer);
    });
}

/// `answer` is a sequence of HTTP/1.x responses (hyper answers a 1.0 request in
/// 1.0), none a 500: each head is read, its body skipped by its length (none after a
/// `HEAD`, seen as the next response starting right after the head); a chunked body
/// or an HTTP/1.0 body without a length (an event stream) ends the check, as does a
/// body cut short.
fn check_http_answer(answer: &[u8]) {
    let mut pos = 0;
    while pos < answer.len() {
        let rest = &answer[pos..];
        assert!(
            rest.starts_with(b"HTTP/1.1 ") || rest.starts_with(b"HTTP/1.0 "),
            "not an HTTP response at byte {pos}: {:?}",
            String::from_utf8_lossy(&rest[..rest.len().min(64)])
        );
        assert!(!rest[9..].starts_with(b"500"), "server error: {:?}", {
            let end = rest.iter().position(|&b| b == b'\r').unwrap_or(rest.len());
            String::from_utf8_lossy(&rest[..end])
        });
        let Some(head_len) = rest.windows(4).position(|w| w == b"\r\n\r\n") else {
            return;
        };
        let head = String::from_utf8_lossy(&rest[..head_len]).to_ascii_lowercase();
        let header = |name: &str| {
            head.split("\r\n")
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
        };
        if header("transfer-encoding:").is_some_and(|v| v.contains("chunked")) {
            return;
        }
        let length = header("content-length:").and_then(|v| v.parse::<usize>().ok());
        // An HTTP/1.0 answer without a length (an event stream) ends with the connection.
        if length.is_none() && rest.starts_with(b"HTTP/1.0 ") {
            return;
        }
        let body = length.unwrap_or(0);
        let after_head = pos + head_len + 4;
        let starts_response = |at: usize| answer[at.min(answer.len())..].starts_with(b"HTTP/1.");
        let end = after_head + body;
        pos = if end <= answer.len() && (end == answer.len() || starts_response(end)) {
            end
        } else if starts_response(after_head) {
            after_head
        } else if end > answer.len() {
            return;
        } else {
            end
        };
    }
}

#[cfg(test)]
mod tests {
    use super::check_http_answer;

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi";

    #[test]
    fn answers_are_read_one_response_after_the_other() {
        check_http_answer(b"");
        check_http_answer(&[OK, OK, b"HTTP/1.0 404 Not Found\r\n\r\n"].concat());
        // after a HEAD: a length but no body
        check_http_answer(
            &[
                b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n".as_slice(),
                OK,
            ]
            .concat(),
        );
        // an event stream answered in HTTP/1.0: no length, it ends with the connection
        check_http_answer(
            b"HTTP/1.0 200 OK\r\ncontent-type: text/event-stream\r\n\r\nevent: hello\n",
        );
        // a body that quotes a status line is a body
        check_http_answer(b"HTTP/1.1 400 Bad\r\ncontent-length: 12\r\n\r\nHTTP/1.1 500");
    }

    #[test]
    #[should_panic(expected = "server error")]
    fn a_500_right_after_a_body_is_found() {
        check_http_answer(&[OK, b"HTTP/1.1 500 Internal Server Error\r\n\r\n"].concat());
    }

    #[test]
    #[should_panic(expected = "not an HTTP response")]
    fn bytes_that_are_no_response_are_refused() {
        check_http_answer(&[OK, b"garbage"].concat());
    }
}
