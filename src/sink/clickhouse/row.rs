//! Rows of the ClickHouse tables, converted from and to contract types.

use crate::model::{Case, CaseKind, Location, Reason};
use serde::{Deserialize, Serialize};

/// One snapshot of a case, as stored in `cases` (see schemas/clickhouse/001_cases.sql).
#[derive(Debug, Clone, PartialEq, clickhouse::Row, Serialize, Deserialize)]
pub struct CaseRow {
    pub(crate) case_id: String,
    pub(crate) kind: String,
    pub(crate) status: String,
    pub(crate) opened_at: i64,
    pub(crate) first_seen: i64,
    pub(crate) last_seen: i64,
    pub(crate) score: f64,
    pub(crate) operator: String,
    pub(crate) sims: Vec<String>,
    pub(crate) claimed_cell: String,
    pub(crate) identities: String,
    pub(crate) location_lat: Option<f64>,
    pub(crate) location_lon: Option<f64>,
    pub(crate) location_radius_m: Option<f64>,
    pub(crate) track: String,
    pub(crate) reason_codes: Vec<String>,
    pub(crate) reason_values: Vec<f64>,
    pub(crate) reason_thresholds: Vec<f64>,
    pub(crate) evidence_count: u64,
    pub(crate) case_json: String,
    pub(crate) version: u64,
}

/// Version of a snapshot for ReplacingMergeTree: later evidence wins, and for the
/// same `last_seen` the snapshot with more evidence. Event time only, so a snapshot
/// re-emitted after a restart never overrides a newer one.
pub(crate) fn snapshot_version(case: &Case) -> u64 {
    (case.last_seen.max(0) as u64)
        .saturating_mul(1_000_000)
        .saturating_add(case.evidence_count.min(999_999))
}

impl CaseRow {
    pub fn from_case(c: &Case) -> CaseRow {
        CaseRow {
            case_id: c.case_id.clone(),
            kind: c.kind.as_str().to_string(),
            status: c.status.as_str().to_string(),
            opened_at: c.opened_at,
            first_seen: c.first_seen,
            last_seen: c.last_seen,
            score: c.score,
            operator: c.operator.clone().unwrap_or_default(),
            sims: c.sims.clone(),
            claimed_cell: c.claimed_cell.as_ref().map(to_json).unwrap_or_default(),
            identities: if c.identities.is_empty() {
                String::new()
            } else {
                to_json(&c.identities)
            },
            location_lat: c.location.map(|l| l.lat),
            location_lon: c.location.map(|l| l.lon),
            location_radius_m: c.location.map(|l| l.radius_m),
            track: if c.track.is_empty() {
                String::new()
            } else {
                to_json(&c.track)
            },
            reason_codes: c.reasons.iter().map(|r| r.code.clone()).collect(),
            reason_values: c.reasons.iter().map(|r| r.value).collect(),
            reason_thresholds: c.reasons.iter().map(|r| r.threshold).collect(),
            evidence_count: c.evidence_count,
            case_json: serde_json::to_string(c).unwrap_or_default(),
            version: snapshot_version(c),
        }
    }

    /// Back to the contract type; the full case is kept in `case_json`, the
    /// columns exist for analysts' queries.
    pub(crate) fn to_case(&self) -> Option<Case> {
        if let Ok(c) = serde_json::from_str::<Case>(&self.case_json) {
            return Some(c);
        }
        let kind: CaseKind = self.kind.parse().ok()?;
        Some(Case {
            case_id: self.case_id.clone(),
            kind,
            status: self.status.parse().unwrap_or_default(),
            opened_at: self.opened_at,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            score: self.score,
            operator: (!self.operator.is_empty()).then(|| self.operator.clone()),
            sims: self.sims.clone(),
            claimed_cell: serde_json::from_str(&self.claimed_cell).ok(),
            identities: serde_json::from_str(&self.identities).unwrap_or_default(),
            location: match (self.location_lat, self.location_lon, self.location_radius_m) {
                (Some(lat), Some(lon), Some(radius_m)) => Some(Location { lat, lon, radius_m }),
                _ => None,
            },
            track: serde_json::from_str(&self.track).unwrap_or_default(),
            reasons: self
                .reason_codes
                .iter()
                .zip(&self.reason_values)
                .zip(&self.reason_thresholds)
                .map(|((code, value), threshold)| Reason {
                    code: code.clone(),
                    value: *value,
                    threshold: *threshold,
                })
                .collect(),
            evidence_count: self.evidence_count,
        })
    }
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// One dead letter, as stored in `dead_letters`.
#[derive(Debug, Clone, PartialEq, clickhouse::Row, Serialize, Deserialize)]
pub struct DeadLetterRow {
    pub received_at: i64,
    pub feed: String,
    pub reason: String,
    pub field: String,
    pub error: String,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub raw: String,
}

/// One archived record, as stored in `records`.
#[derive(Debug, Clone, PartialEq, clickhouse::Row, Serialize, Deserialize)]
pub struct RecordRow {
    pub feed: String,
    pub record_key: String,
    pub event_time: i64,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub record: String,
}

impl RecordRow {
    /// The archive row of a valid event and its original bytes.
    pub fn from_event(
        event: &crate::model::Event,
        origin: &crate::ingest::Origin,
        raw: &[u8],
    ) -> RecordRow {
        use crate::model::Event;
        let (record_key, event_time) = match event {
            Event::Sms(r) => (r.sim.to_string(), r.window_start_ms),
            Event::Measurement(m) => (m.cell.to_string(), m.ts_ms),
        };
        let (topic, partition, offset) = match origin {
            crate::ingest::Origin::Kafka {
                topic,
                partition,
                offset,
            } => (topic.clone(), *partition, *offset),
            crate::ingest::Origin::File { file, line } => (file.clone(), -1, *line as i64),
        };
        RecordRow {
            feed: event.feed().name().to_string(),
            record_key,
            event_time,
            topic,
            partition,
            offset,
            record: String::from_utf8_lossy(raw).into_owned(),
        }
    }
}
