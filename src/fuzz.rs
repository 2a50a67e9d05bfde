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
/// answers is HTTP/1.x responses, none a server error (500). The analyst console's
/// request handling is not on this branch; the metrics endpoint is the HTTP server here.
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

/// Every response in `answer` starts with an HTTP/1.x status line (hyper answers a
/// 1.0 request in 1.0); none is a 500.
fn check_http_answer(answer: &[u8]) {
    if answer.is_empty() {
        return;
    }
    let status_line = |b: &[u8]| b.starts_with(b"HTTP/1.1 ") || b.starts_with(b"HTTP/1.0 ");
    assert!(
        status_line(answer),
        "not an HTTP response: {:?}",
        String::from_utf8_lossy(&answer[..answer.len().min(64)])
    );
    let text = String::from_utf8_lossy(answer);
    for line in text.split("\r\n").filter(|l| status_line(l.as_bytes())) {
        assert!(!line[9..].starts_with("500"), "server error: {line}");
    }
}
