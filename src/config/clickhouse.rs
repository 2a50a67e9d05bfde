//! `[clickhouse]`: where the ClickHouse server is and who cellwatch is there.

use super::check::{not_empty, Problems};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where cases, dead letters and archived records are stored (docs/clickhouse.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ClickHouseConfig {
    /// HTTP interface URL (`http://` or `https://`).
    pub url: String,
    /// Database holding cellwatch's tables (letters, digits and underscores, not
    /// starting with a digit); created by `cellwatch migrate`.
    pub database: String,
    /// User name; the server's default user when left out.
    #[schemars(example = &"cellwatch")]
    pub user: Option<String>,
    /// Password of `user`. A secret: set it with CELLWATCH_CLICKHOUSE_PASSWORD rather
    /// than in the file; never logged, masked by `cellwatch config check`.
    #[schemars(example = &"set CELLWATCH_CLICKHOUSE_PASSWORD instead")]
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

impl ClickHouseConfig {
    /// Record what cannot work (keys named in full).
    pub(crate) fn check(&self, p: &mut Problems) {
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            p.push(
                "clickhouse.url",
                format!(
                    "must be an http:// or https:// URL of the HTTP interface, got {:?}",
                    self.url
                ),
            );
        }
        let db = self.database.as_bytes();
        let identifier = !db.is_empty()
            && !db[0].is_ascii_digit()
            && db.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_');
        if !identifier {
            p.push(
                "clickhouse.database",
                format!(
                    "must be letters, digits and underscores, not starting with a digit, got {:?}",
                    self.database
                ),
            );
        }
        if let Some(user) = &self.user {
            not_empty(p, "clickhouse.user", user);
        }
    }
}
