//! ClickHouse sink: migrations from `schemas/clickhouse/`, case rows, batched inserts.
//!
//! Works against the old server Debian installs (18.16: no LowCardinality by
//! default, no codecs, no `RowBinaryWithNamesAndTypes`) and uses modern column
//! features on current servers; [`ServerFeatures`] decides from `version()`.

mod config;
mod migrate;
mod row;

pub use config::ClickHouseConfig;
pub use migrate::{migrate, MigrationReport, ServerFeatures};
pub use row::{CaseRow, DeadLetterRow, RecordRow};

use crate::model::Case;

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
    pub async fn version(&self) -> Result<String, ClickHouseError> {
        self.client
            .query("SELECT version()")
            .fetch_one::<String>()
            .await
            .map_err(|source| ClickHouseError::Unreachable {
                url: self.config.url.clone(),
                source,
            })
    }

    /// Insert case snapshots in one batch; returns when ClickHouse acknowledged it.
    pub async fn insert_cases(&self, cases: &[Case]) -> Result<(), ClickHouseError> {
        if cases.is_empty() {
            return Ok(());
        }
        let q = |source| ClickHouseError::Query {
            what: "insert into cases".into(),
            source,
        };
        let mut insert = self
            .db_client()
            .insert::<CaseRow>("cases")
            .await
            .map_err(q)?;
        for c in cases {
            insert.write(&CaseRow::from_case(c)).await.map_err(q)?;
        }
        insert.end().await.map_err(q)
    }

    /// Insert dead letters in one batch.
    pub async fn insert_dead_letters(&self, rows: &[DeadLetterRow]) -> Result<(), ClickHouseError> {
        if rows.is_empty() {
            return Ok(());
        }
        let q = |source| ClickHouseError::Query {
            what: "insert into dead_letters".into(),
            source,
        };
        let mut insert = self
            .db_client()
            .insert::<DeadLetterRow>("dead_letters")
            .await
            .map_err(q)?;
        for r in rows {
            insert.write(r).await.map_err(q)?;
        }
        insert.end().await.map_err(q)
    }

    /// Archive valid records in one batch.
    pub async fn insert_records(&self, rows: &[RecordRow]) -> Result<(), ClickHouseError> {
        if rows.is_empty() {
            return Ok(());
        }
        let q = |source| ClickHouseError::Query {
            what: "insert into records".into(),
            source,
        };
        let mut insert = self
            .db_client()
            .insert::<RecordRow>("records")
            .await
            .map_err(q)?;
        for r in rows {
            insert.write(r).await.map_err(q)?;
        }
        insert.end().await.map_err(q)
    }

    /// The archived records behind a case: those of its SIMs (SMS cases) or broadcast
    /// identities (fake BTS) from one hour before `first_seen` to `last_seen`.
    pub async fn evidence_records(&self, case: &Case) -> Result<Vec<RecordRow>, ClickHouseError> {
        let (feed, keys): (&str, Vec<String>) = match case.kind {
            crate::model::CaseKind::FakeBts => (
                "measurements",
                case.identities
                    .iter()
                    .map(|c| format!("{}-{}-{}-{}", c.mcc, c.mnc, c.lac, c.cid))
                    .collect(),
            ),
            _ => ("sms_volume", case.sims.clone()),
        };
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.db_client()
            .query(
                "SELECT ?fields FROM records FINAL WHERE feed = ? AND has(?, record_key) \
                 AND event_time BETWEEN ? AND ? ORDER BY event_time, record_key, offset",
            )
            .bind(feed)
            .bind(keys)
            .bind(case.first_seen - 3_600_000)
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
