//! `[clickhouse]` settings: where the server is and who we are.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClickHouseConfig {
    /// HTTP interface URL. Default `http://127.0.0.1:8123`.
    pub url: String,
    /// Database holding cellwatch's tables; created by `cellwatch migrate`. Default `cellwatch`.
    pub database: String,
    pub user: Option<String>,
    /// Never logged.
    pub password: Option<String>,
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        ClickHouseConfig {
            url: "http://127.0.0.1:8123".into(),
            database: "cellwatch".into(),
            user: None,
            password: None,
        }
    }
}
