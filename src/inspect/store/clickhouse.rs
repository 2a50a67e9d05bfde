//! ClickHouse as a case store: `cases FINAL` for the latest snapshot of each case,
//! `case_status_log` for the audit trail, `records` (the archive the service writes) for the records behind a case.
//!
//! Works on 18.16: only `?` binds of the clickhouse crate (no server-side query
//! parameters), no `DateTime64`. Every call has a deadline, so a server that accepts
//! connections but never answers gives a clear error instead of a hang.

use super::{apply_statuses, CaseStore};
use crate::config::ClickHouseConfig;
use crate::inspect::error::InspectError;
use crate::inspect::filter::CaseFilter;
use crate::inspect::lifecycle::{sort_history, StatusChange};
use crate::inspect::records::{no_records, EvidenceRecord};
use crate::model::{parse_loosely, Case};
use crate::sink::clickhouse::{CaseRow, ClickHouse, ClickHouseError, RecordRow};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

/// Deadline of one ClickHouse call when none is given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// One row of `case_status_log`.
#[derive(Debug, Clone, PartialEq, clickhouse::Row, Serialize, Deserialize)]
struct StatusLogRow {
    case_id: String,
    from_status: String,
    to_status: String,
    actor: String,
    note: String,
    changed_at: i64,
}

impl StatusLogRow {
    fn from_change(c: &StatusChange) -> StatusLogRow {
        StatusLogRow {
            case_id: c.case_id.clone(),
            from_status: c.from_status.as_str().into(),
            to_status: c.to_status.as_str().into(),
            actor: c.actor.clone(),
            note: c.note.clone(),
            changed_at: c.changed_at,
        }
    }

    fn to_change(&self) -> Option<StatusChange> {
        Some(StatusChange {
            case_id: self.case_id.clone(),
            from_status: parse_loosely(&self.from_status).ok()?,
            to_status: parse_loosely(&self.to_status).ok()?,
            actor: self.actor.clone(),
            note: self.note.clone(),
            changed_at: self.changed_at,
        })
    }
}

/// Cases in cellwatch's ClickHouse database.
#[derive(Clone)]
pub struct ClickHouseStore {
    ch: ClickHouse,
    timeout: Duration,
}

impl ClickHouseStore {
    /// Connect and check that the server answers and the tables exist.
    pub async fn connect(
        config: ClickHouseConfig,
        timeout: Duration,
    ) -> Result<ClickHouseStore, InspectError> {
        let store = ClickHouseStore {
            ch: ClickHouse::new(config),
            timeout,
        };
        store
            .timed(store.ch.version())
            .await?
            .map_err(|e| match e {
                ClickHouseError::Authentication { .. } => InspectError::ClickHouse(e),
                e => InspectError::Unreachable {
                    url: store.ch.config().url.clone(),
                    detail: crate::inspect::error::root_cause(&e),
                },
            })?;
        let tables: Vec<String> = store
            .timed(
                store
                    .ch
                    .server_client()
                    .query("SELECT name FROM system.tables WHERE database = ?")
                    .bind(&store.ch.config().database)
                    .fetch_all::<String>(),
            )
            .await?
            .map_err(|e| store.query_error("list tables", e))?;
        let missing: Vec<&str> = ["cases", "case_status_log", "records"]
            .into_iter()
            .filter(|t| !tables.iter().any(|n| n == t))
            .collect();
        if !missing.is_empty() {
            return Err(InspectError::NotMigrated {
                database: store.ch.config().database.clone(),
                detail: format!("missing {}", missing.join(", ")),
            });
        }
        Ok(store)
    }

    async fn timed<T>(&self, fut: impl Future<Output = T>) -> Result<T, InspectError> {
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| InspectError::Timeout {
                url: self.ch.config().url.clone(),
                secs: self.timeout.as_secs().max(1),
            })
    }

    fn query_error(&self, what: &str, e: clickhouse::error::Error) -> InspectError {
        let text = e.to_string();
        // 60 UNKNOWN_TABLE, 81 UNKNOWN_DATABASE
        if text.contains("Code: 60") || text.contains("Code: 81") {
            return InspectError::NotMigrated {
                database: self.ch.config().database.clone(),
                detail: text.lines().next().unwrap_or_default().to_string(),
            };
        }
        InspectError::ClickHouse(ClickHouseError::of_query(self.ch.config(), what, e))
    }

    async fn fetch_log(
        &self,
        case_ids: Option<&[String]>,
    ) -> Result<Vec<StatusChange>, InspectError> {
        let client = self.ch.db_client();
        let q = match case_ids {
            Some(ids) => client
                .query("SELECT ?fields FROM case_status_log WHERE has(?, case_id) ORDER BY case_id, changed_at")
                .bind(ids),
            None => client.query("SELECT ?fields FROM case_status_log ORDER BY case_id, changed_at"),
        };
        let rows = self
            .timed(q.fetch_all::<StatusLogRow>())
            .await?
            .map_err(|e| self.query_error("select case_status_log", e))?;
        Ok(rows.iter().filter_map(StatusLogRow::to_change).collect())
    }
}

impl CaseStore for ClickHouseStore {
    fn describe(&self) -> String {
        format!(
            "clickhouse {} database {}",
            self.ch.config().url,
            self.ch.config().database
        )
    }

    async fn list(&self, filter: &CaseFilter) -> Result<Vec<Case>, InspectError> {
        // Kind, time and score are pushed down; status, operator and bbox need the
        // audit trail or the full case, so `filter.apply` finishes the job.
        let mut sql = String::from("SELECT ?fields FROM cases FINAL WHERE 1 = 1");
        if !filter.kinds.is_empty() {
            sql.push_str(" AND has(?, kind)");
        }
        if filter.since_ms.is_some() {
            sql.push_str(" AND last_seen >= ?");
        }
        if filter.until_ms.is_some() {
            sql.push_str(" AND first_seen < ?");
        }
        if filter.min_score.is_some() {
            sql.push_str(" AND score >= ?");
        }
        sql.push_str(" ORDER BY opened_at, case_id");
        let mut q = self.ch.db_client().query(&sql);
        if !filter.kinds.is_empty() {
            let kinds: Vec<&str> = filter.kinds.iter().map(|k| k.as_str()).collect();
            q = q.bind(kinds);
        }
        if let Some(s) = filter.since_ms {
            q = q.bind(s);
        }
        if let Some(u) = filter.until_ms {
            q = q.bind(u);
        }
        if let Some(m) = filter.min_score {
            q = q.bind(m);
        }
        let rows = self
            .timed(q.fetch_all::<CaseRow>())
            .await?
            .map_err(|e| self.query_error("select cases", e))?;
        let mut cases: Vec<Case> = rows.iter().filter_map(CaseRow::to_case).collect();
        let log = self.fetch_log(None).await?;
        apply_statuses(&mut cases, &log);
        Ok(filter.apply(cases))
    }

    async fn get(&self, case_id: &str) -> Result<Case, InspectError> {
        let rows = self
            .timed(
                self.ch
                    .db_client()
                    .query("SELECT ?fields FROM cases FINAL WHERE case_id = ? LIMIT 1")
                    .bind(case_id)
                    .fetch_all::<CaseRow>(),
            )
            .await?
            .map_err(|e| self.query_error("select case", e))?;
        let mut case =
            rows.first()
                .and_then(CaseRow::to_case)
                .ok_or_else(|| InspectError::UnknownCase {
                    id: case_id.to_string(),
                    store: self.describe(),
                })?;
        let log = self.fetch_log(Some(&[case_id.to_string()])).await?;
        apply_statuses(std::slice::from_mut(&mut case), &log);
        Ok(case)
    }

    async fn history(&self, case_id: &str) -> Result<Vec<StatusChange>, InspectError> {
        let mut h = self.fetch_log(Some(&[case_id.to_string()])).await?;
        sort_history(&mut h);
        Ok(h)
    }

    async fn append_status(&self, change: &StatusChange) -> Result<(), InspectError> {
        let row = StatusLogRow::from_change(change);
        let client = self.ch.db_client();
        let fut = async {
            let mut ins = client.insert::<StatusLogRow>("case_status_log").await?;
            ins.write(&row).await?;
            ins.end().await
        };
        self.timed(fut)
            .await?
            .map_err(|e| self.query_error("insert into case_status_log", e))
    }

    async fn evidence(
        &self,
        cases: &[Case],
    ) -> Result<BTreeMap<String, Vec<EvidenceRecord>>, InspectError> {
        let mut out = no_records(cases);
        if cases.is_empty() {
            return Ok(out);
        }
        for case in cases {
            let rows = self
                .timed(self.ch.evidence_records(case))
                .await?
                .map_err(|e| match e {
                    crate::sink::clickhouse::ClickHouseError::Query { source, .. } => {
                        self.query_error("select evidence records", source)
                    }
                    other => InspectError::Unreachable {
                        url: self.ch.config().url.clone(),
                        detail: other.to_string(),
                    },
                })?;
            out.entry(case.case_id.clone())
                .or_default()
                .extend(rows.into_iter().map(evidence_record));
        }
        Ok(out)
    }

    async fn fingerprint(&self) -> Result<String, InspectError> {
        self.counts().await
    }
}

impl ClickHouseStore {
    /// Rows and highest version of `cases`, rows and latest change of `case_status_log`.
    async fn counts(&self) -> Result<String, InspectError> {
        let client = self.ch.db_client();
        let (cases, version) = self
            .timed(
                client
                    .query("SELECT count(), max(version) FROM cases")
                    .fetch_one::<(u64, u64)>(),
            )
            .await?
            .map_err(|e| self.query_error("count cases", e))?;
        let (changes, latest) = self
            .timed(
                client
                    .query("SELECT count(), max(changed_at) FROM case_status_log")
                    .fetch_one::<(u64, i64)>(),
            )
            .await?
            .map_err(|e| self.query_error("count case_status_log", e))?;
        Ok(format!("{cases}:{version};{changes}:{latest}"))
    }
}

/// An archived record as evidence; its source is `topic/partition/offset`.
fn evidence_record(r: RecordRow) -> EvidenceRecord {
    let record =
        serde_json::from_str(&r.record).unwrap_or(serde_json::Value::String(r.record.clone()));
    EvidenceRecord {
        feed: r.feed,
        event_time: r.event_time,
        record_key: r.record_key,
        record,
        source: format!("{}/{}/{}", r.topic, r.partition, r.offset),
    }
}
