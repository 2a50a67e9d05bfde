//! `cellwatch migrate`: creates the database and tables from `schemas/clickhouse/`,
//! choosing column features by server version.

use super::{ClickHouse, ClickHouseError};
use serde::Serialize;

/// The DDL files, in order. Embedded so the binary needs no files at run time.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "001_cases.sql",
        include_str!("../../../schemas/clickhouse/001_cases.sql"),
    ),
    (
        "002_case_status_log.sql",
        include_str!("../../../schemas/clickhouse/002_case_status_log.sql"),
    ),
    (
        "003_dead_letters.sql",
        include_str!("../../../schemas/clickhouse/003_dead_letters.sql"),
    ),
    (
        "004_records.sql",
        include_str!("../../../schemas/clickhouse/004_records.sql"),
    ),
];

/// Which optional column features the server has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct ServerFeatures {
    pub(crate) major: u32,
    pub(crate) minor: u32,
    /// `LowCardinality(String)` without experimental settings (19.3+).
    pub(crate) low_cardinality: bool,
    /// Column compression codecs `CODEC(Delta, ZSTD)` (19.11+ to be safe).
    pub(crate) codecs: bool,
}

impl ServerFeatures {
    pub(crate) fn from_version(version: &str) -> Result<Self, ClickHouseError> {
        let mut parts = version.trim().split('.');
        let major: u32 = parts
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| ClickHouseError::Version(version.into()))?;
        let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let at_least = |ma: u32, mi: u32| (major, minor) >= (ma, mi);
        Ok(ServerFeatures {
            major,
            minor,
            low_cardinality: at_least(19, 3),
            codecs: at_least(19, 11),
        })
    }

    /// Fill the placeholders of a DDL template.
    pub(crate) fn render(&self, template: &str, database: &str) -> String {
        let sql: String = template
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        sql.replace("{db}", database)
            .replace(
                "{lc_string}",
                if self.low_cardinality {
                    "LowCardinality(String)"
                } else {
                    "String"
                },
            )
            .replace(
                "{codec_delta}",
                if self.codecs {
                    "CODEC(Delta, ZSTD)"
                } else {
                    ""
                },
            )
            .replace("{codec_zstd}", if self.codecs { "CODEC(ZSTD)" } else { "" })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MigrationReport {
    pub(crate) server_version: String,
    pub(crate) features: ServerFeatures,
    pub(crate) database: String,
    pub applied: Vec<String>,
}

fn valid_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
}

/// Databases created before dead letters were keyed by origin have a plain
/// `MergeTree` `dead_letters` table, where a re-delivered record's dead letter stays a
/// duplicate: rename it out of the way (its rows are copied into the new table after
/// it is created). Returns the old table's new name.
async fn set_aside_plain_dead_letters(
    ch: &ClickHouse,
    db: &str,
) -> Result<Option<String>, ClickHouseError> {
    let engine: Vec<String> = ch
        .server_client()
        .query("SELECT engine FROM system.tables WHERE database = ? AND name = 'dead_letters'")
        .bind(db)
        .fetch_all()
        .await
        .map_err(|source| {
            ClickHouseError::of_query(ch.config(), "read the dead_letters engine", source)
        })?;
    if engine.first().map(String::as_str) != Some("MergeTree") {
        return Ok(None);
    }
    let old = "dead_letters_mergetree".to_string();
    execute(
        ch,
        &format!("RENAME TABLE {db}.dead_letters TO {db}.{old}"),
        "set the plain dead_letters table aside",
    )
    .await?;
    tracing::info!(database = %db, "dead_letters: moving rows to the table keyed by origin");
    Ok(Some(old))
}

/// The statements `migrate` runs against a server of `server_version` (e.g.
/// `26.1` or `18.16.1`) for `database`, each with its name: the database, then
/// every table. `cellwatch migrate --print-ddl` prints them; the test suite runs
/// the current server's against an embedded current ClickHouse (chDB).
pub fn ddl(server_version: &str, database: &str) -> Result<Vec<(String, String)>, ClickHouseError> {
    let features = ServerFeatures::from_version(server_version)?;
    if !valid_identifier(database) {
        return Err(ClickHouseError::Version(format!(
            "database name {database:?} must be letters, digits and underscores"
        )));
    }
    let mut statements = vec![(
        "create database".to_string(),
        format!("CREATE DATABASE IF NOT EXISTS {database}"),
    )];
    for (name, template) in MIGRATIONS {
        statements.push((
            format!("migration {name}"),
            features.render(template, database).trim().to_string(),
        ));
    }
    Ok(statements)
}

/// Run one statement, naming it in the error.
async fn execute(ch: &ClickHouse, sql: &str, what: &str) -> Result<(), ClickHouseError> {
    ch.server_client()
        .query(sql)
        .execute()
        .await
        .map_err(|source| ClickHouseError::of_query(ch.config(), what, source))
}

/// Create the database and every table (idempotent: `IF NOT EXISTS`).
pub async fn migrate(ch: &ClickHouse) -> Result<MigrationReport, ClickHouseError> {
    let version = ch.version().await?;
    let features = ServerFeatures::from_version(&version)?;
    let db = &ch.config().database;
    let mut applied = Vec::new();
    let mut old_dead_letters = None;
    for (what, sql) in ddl(&version, db)? {
        execute(ch, &sql, &what).await?;
        if what == "create database" {
            old_dead_letters = set_aside_plain_dead_letters(ch, db).await?;
        }
        if let Some(name) = what.strip_prefix("migration ") {
            applied.push(name.to_string());
        }
    }
    if let Some(old) = old_dead_letters {
        execute(
            ch,
            &format!("INSERT INTO {db}.dead_letters SELECT * FROM {db}.{old}"),
            "copy dead letters into the table keyed by origin",
        )
        .await?;
        execute(
            ch,
            &format!("DROP TABLE {db}.{old}"),
            "drop the old dead letters",
        )
        .await?;
        applied.push(
            "dead_letters keyed by origin (rows copied from the plain MergeTree table)".into(),
        );
    }
    tracing::info!(server_version = %version, database = %db, migrations = applied.len(), "clickhouse migrated");
    Ok(MigrationReport {
        server_version: version,
        features,
        database: db.clone(),
        applied,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_follow_the_version() {
        let old = ServerFeatures::from_version("18.16.1").unwrap();
        assert!(!old.low_cardinality && !old.codecs);
        let new = ServerFeatures::from_version("25.3.2.39").unwrap();
        assert!(new.low_cardinality && new.codecs);
        let sql = old.render(MIGRATIONS[0].1, "cw");
        assert!(sql.contains("CREATE TABLE IF NOT EXISTS cw.cases"));
        assert!(!sql.contains('{') && !sql.contains("CODEC") && !sql.contains("LowCardinality"));
        let sql = new.render(MIGRATIONS[0].1, "cw");
        assert!(sql.contains("LowCardinality(String)") && sql.contains("CODEC(Delta, ZSTD)"));
    }
}
