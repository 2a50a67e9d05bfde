//! `[http]`: the metrics and health endpoint of the service.

use super::check::Problems;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The metrics and health endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Listen address (`host:port`) of `/metrics`, `/healthz` and `/readyz`; empty
    /// disables the endpoint.
    pub listen: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: "127.0.0.1:9464".into(),
        }
    }
}

impl HttpConfig {
    /// Record what cannot work: `host:port` with a port number, or empty.
    pub(crate) fn check(&self, p: &mut Problems) {
        if self.listen.is_empty() {
            return;
        }
        let port_ok = self
            .listen
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !port_ok {
            p.push(
                "http.listen",
                format!("must be host:port (e.g. 0.0.0.0:9464), or empty to disable the endpoint, got {:?}", self.listen),
            );
        }
    }
}
