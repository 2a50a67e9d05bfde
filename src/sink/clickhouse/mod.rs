//! ClickHouse sink: migrations from `schemas/clickhouse/`, case rows, batched inserts.
//!
//! Works against the old server Debian installs (18.16: no LowCardinality by
//! default, no codecs, no `RowBinaryWithNamesAndTypes`) and uses modern column
//! features on current servers; `ServerFeatures` decides from `version()`.

mod archive;
mod archive_order;
mod migrate;
mod row;

pub use archive::RecordArchive;
pub(crate) use archive::RECORD_COLUMNS;
pub use migrate::{ddl, migrate, MigrationReport};
pub use row::{CaseRow, DeadLetterRow, RecordRow};

use crate::config::ClickHouseConfig;
use crate::model::{Case, CaseKind, Feed, EVIDENCE_LOOKBACK_MS};

/// Errors talking to ClickHouse; each says what to check.
#[derive(Debug, thiserror::Error)]
pub enum ClickHouseError {
    #[error("clickhouse at {url} did not answer: {source}; check that the server runs and --clickhouse-url / [clickhouse] url is right")]
    Unreachable {
        url: String,
        #[source]
        source: clickhouse::error::Error,
    },
    #[error("clickhouse query failed ({what}): {source}")]
    Query {
        what: String,
        #[source]
        source: clickhouse::error::Error,
    },
    #[error("unparsable clickhouse version {0:?}")]
    Version(String),
    #[error("clickhouse at {url} refused user {user:?} ({detail}); check [clickhouse] user and its password (set it with CELLWATCH_CLICKHOUSE_PASSWORD), and that the user exists on the server and may connect from this host")]
    Authentication {
        url: String,
        user: String,
        detail: String,
    },
}

/// ClickHouse's error codes for a refused login: 192 UNKNOWN_USER, 193
/// WRONG_PASSWORD, 194 REQUIRED_PASSWORD, 195 IP_ADDRESS_NOT_ALLOWED (servers up to
/// 20.x), 516 AUTHENTICATION_FAILED (current servers).
const LOGIN_REFUSED: [u32; 5] = [192, 193, 194, 195, 516];

/// The code in a ClickHouse error text (`Code: 516. DB::Exception: …` or, from old
/// servers, `Code: 193, e.displayText() = …`).
pub(crate) fn error_code(text: &str) -> Option<u32> {
    let rest = &text[text.find("Code: ")? + 6..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

impl ClickHouseError {
    /// A failed call, classified: a refused login is [`ClickHouseError::Authentication`]
    /// (never worth retrying), anything else a `Query` error about `what`.
    pub(crate) fn of_query(
        config: &ClickHouseConfig,
        what: &str,
        source: clickhouse::error::Error,
    ) -> ClickHouseError {
        match Self::refused_login(config, &source) {
            Some(e) => e,
            None => ClickHouseError::Query {
                what: what.to_string(),
                source,
            },
        }
    }

    /// [`ClickHouseError::Authentication`] when `source` is a refused login.
    pub(crate) fn refused_login(
        config: &ClickHouseConfig,
        source: &clickhouse::error::Error,
    ) -> Option<ClickHouseError> {
        let text = source.to_string();
        let code = error_code(&text).filter(|c| LOGIN_REFUSED.contains(c))?;
        let first = text.lines().next().unwrap_or_default();
        // The server's own words, cut before its stack trace; never the password
        // (servers do not echo it).
        let detail = first.split(", Stack trace").next().unwrap_or(first);
        Some(ClickHouseError::Authentication {
            url: config.url.clone(),
            user: config.user.clone().unwrap_or_else(|| "default".into()),
            detail: format!("code {code}: {}", detail.trim()),
        })
    }

    /// Whether retrying cannot help: the server refuses cellwatch's login.
    pub(crate) fn is_fatal(&self) -> bool {
        matches!(self, ClickHouseError::Authentication { .. })
    }
}

/// A connected ClickHouse client for cellwatch's database.
#[derive(Clone)]
pub struct ClickHouse {
    client: clickhouse::Client,
    config: ClickHouseConfig,
}

impl ClickHouse {
    /// Build a client (no I/O yet). Validation is off: old servers lack
    /// `RowBinaryWithNamesAndTypes`; `tests/clickhouse_sink.rs` checks rows match the DDL.
    pub fn new(config: ClickHouseConfig) -> Self {
        let mut client = clickhouse::Client::default()
            .with_url(&config.url)
            .with_validation(false)
            .with_compression(clickhouse::Compression::None);
        if let Some(u) = &config.user {
            client = client.with_user(u);
        }
        if let Some(p) = &config.password {
            client = client.with_password(p);
        }
        ClickHouse { client, config }
    }

    pub fn config(&self) -> &ClickHouseConfig {
        &self.config
    }

    /// The client bound to cellwatch's database.
    pub fn db_client(&self) -> clickhouse::Client {
        self.client.clone().with_database(&self.config.database)
    }

    /// The client without a database (for `CREATE DATABASE`, `version()`).
    pub fn server_client(&self) -> &clickhouse::Client {
        &self.client
    }

    /// `SELECT version()`: also the liveness probe.
    pub(crate) async fn version(&self) -> Result<String, ClickHouseError> {
        self.client
            .query("SELECT version()")
            .fetch_one::<String>()
            .await
            .map_err(|source| {
                ClickHouseError::refused_login(&self.config, &source).unwrap_or_else(|| {
                    ClickHouseError::Unreachable {
                        url: self.config.url.clone(),
                        source,
                    }
                })
            })
    }

    /// Insert rows of `table` in one batch (one `INSERT … FORMAT RowBinary`); returns
    /// when ClickHouse acknowledged it. Nothing is sent for no rows.
    pub(crate) async fn insert_rows<T>(
        &self,
        table: &str,
        rows: &[T],
    ) -> Result<(), ClickHouseError>
    where
        T: clickhouse::RowOwned + clickhouse::RowWrite,
    {
        if rows.is_empty() {
            return Ok(());
        }
        let what = format!("insert into {table}");
        let q = |source| ClickHouseError::of_query(&self.config, &what, source);
        let mut insert = self.db_client().insert::<T>(table).await.map_err(q)?;
        for r in rows {
            insert.write(r).await.map_err(q)?;
        }
        insert.end().await.map_err(q)
    }

    /// Insert case snapshots in one batch.
    pub async fn insert_cases(&self, cases: &[Case]) -> Result<(), ClickHouseError> {
        let rows: Vec<CaseRow> = cases.iter().map(CaseRow::from_case).collect();
        self.insert_rows("cases", &rows).await
    }

    /// Insert dead letters in one batch.
    pub async fn insert_dead_letters(&self, rows: &[DeadLetterRow]) -> Result<(), ClickHouseError> {
        self.insert_rows("dead_letters", rows).await
    }

    /// Archive valid records in one batch.
    pub async fn insert_records(&self, rows: &[RecordRow]) -> Result<(), ClickHouseError> {
        self.insert_rows("records", rows).await
    }

    /// Archive a batch of RowBinary-encoded records in one insert (the service's
    /// path: no row struct per record; sealed chunks are sent without a copy).
    pub async fn insert_archive(&self, archive: &RecordArchive) -> Result<(), ClickHouseError> {
        if archive.is_empty() {
            return Ok(());
        }
        let q = |source| ClickHouseError::of_query(&self.config, "insert into records", source);
        let mut insert = self.db_client().insert_formatted_with(format!(
            "INSERT INTO records ({RECORD_COLUMNS}) FORMAT RowBinary"
        ));
        // The archive's chunks go to the body as they are (no copy).
        for chunk in archive.body() {
            insert.send(chunk).await.map_err(q)?;
        }
        insert.end().await.map_err(q)
    }

    /// The archived records behind a case: those of its SIMs (SMS cases) or broadcast
    /// identities (fake BTS) from `EVIDENCE_LOOKBACK_MS` before `first_seen` to `last_seen`.
    pub async fn evidence_records(&self, case: &Case) -> Result<Vec<RecordRow>, ClickHouseError> {
        let (feed, keys): (Feed, Vec<String>) = match case.kind {
            CaseKind::FakeBts => (
                Feed::Measurements,
                case.identities
                    .iter()
                    .map(|c| c.key().to_string())
                    .collect(),
            ),
            _ => (Feed::SmsVolume, case.sims.clone()),
        };
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.db_client()
            .query(
                "SELECT ?fields FROM records FINAL WHERE feed = ? AND has(?, record_key) \
                 AND event_time BETWEEN ? AND ? ORDER BY event_time, record_key, offset",
            )
            .bind(feed.name())
            .bind(keys)
            .bind(case.first_seen - EVIDENCE_LOOKBACK_MS)
            .bind(case.last_seen)
            .fetch_all::<RecordRow>()
            .await
            .map_err(|source| ClickHouseError::Query {
                what: "select evidence records".into(),
                source,
            })
    }

    /// The latest snapshot of every case (ReplacingMergeTree `FINAL`), by `opened_at`.
    pub async fn fetch_cases(&self) -> Result<Vec<Case>, ClickHouseError> {
        let rows = self
            .db_client()
            .query("SELECT ?fields FROM cases FINAL ORDER BY opened_at, case_id")
            .fetch_all::<CaseRow>()
            .await
            .map_err(|source| ClickHouseError::Query {
                what: "select cases".into(),
                source,
            })?;
        Ok(rows.into_iter().filter_map(|r| r.to_case()).collect())
    }
}
