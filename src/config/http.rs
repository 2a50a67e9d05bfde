//! `[http]`: the metrics and health endpoint of the service, and whether it serves
//! the analyst console too.

use super::check::{at_least, Problems};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The metrics and health endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Listen address (`host:port`) of `/metrics`, `/healthz` and `/readyz`; empty
    /// disables the endpoint.
    pub listen: String,
    /// Also serve the analyst console (map, case queue, case pages and its JSON API,
    /// docs/console.md) on this endpoint, reading cases from `[clickhouse]`; its
    /// users, sessions, base map and limits are under `[console]`. Default false.
    pub console: bool,
    /// Largest request head (request line and headers) in bytes; a larger one is
    /// answered `431` and the connection closed. At least 8192.
    pub max_header_bytes: usize,
    /// Most header fields in one request; more are answered `431`.
    pub max_headers: usize,
    /// Largest request body in bytes; a larger one is answered `413` before it is
    /// read. The endpoints take no body, hence small.
    pub max_body_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: "127.0.0.1:9464".into(),
            console: false,
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            max_body_bytes: 16 * 1024,
        }
    }
}

impl HttpConfig {
    /// Record what cannot work: `host:port` with a port number, or empty.
    pub(crate) fn check(&self, p: &mut Problems) {
        at_least(
            p,
            "http.max_header_bytes",
            self.max_header_bytes as u64,
            8192,
        );
        at_least(p, "http.max_headers", self.max_headers as u64, 8);
        at_least(p, "http.max_body_bytes", self.max_body_bytes as u64, 0);
        if self.listen.is_empty() {
            if self.console {
                p.push(
                    "http.console",
                    "needs http.listen (the console is served on that endpoint); set a listen address or console = false",
                );
            }
            return;
        }
        if !super::console::is_host_port(&self.listen) {
            p.push(
                "http.listen",
                format!("must be host:port (e.g. 0.0.0.0:9464), or empty to disable the endpoint, got {:?}", self.listen),
            );
        }
    }
}
