//! `summary.json`: what a replay read, refused, found and how fast it went.

use crate::inventory::csv_loader::LoadReport;
use crate::model::{Case, Feed, InvalidReason};
use crate::pipeline::Pipeline;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct InputSummary {
    pub(crate) feed: Feed,
    pub(crate) path: String,
    pub(crate) lines: u64,
}

impl InputSummary {
    pub(crate) fn new(feed: Feed, path: String) -> Self {
        InputSummary {
            feed,
            path,
            lines: 0,
        }
    }
}

/// The replay's `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct ReplaySummary {
    pub records_read: u64,
    pub valid: u64,
    pub invalid: u64,
    pub invalid_by_reason: BTreeMap<InvalidReason, u64>,
    pub late: u64,
    /// Valid records dropped before the detectors as repeats of a natural key.
    pub duplicates: u64,
    pub(crate) cases: usize,
    pub(crate) cases_by_kind: BTreeMap<&'static str, u64>,
    pub(crate) detectors: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) note: Option<String>,
    pub(crate) inputs: Vec<InputSummary>,
    pub(crate) by_feed: BTreeMap<Feed, crate::pipeline::FeedStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) inventory: Option<LoadReport>,
    pub(crate) wall_time_ms: u64,
    pub(crate) records_per_sec: f64,
}

impl ReplaySummary {
    pub(crate) fn new(
        pipeline: &Pipeline,
        cases: &[Case],
        inputs: Vec<InputSummary>,
        inventory: Option<LoadReport>,
        wall: Duration,
    ) -> Self {
        let stats = &pipeline.stats;
        let mut cases_by_kind = BTreeMap::new();
        for c in cases {
            *cases_by_kind.entry(c.kind.as_str()).or_insert(0) += 1;
        }
        let detectors = pipeline.detector_names();
        let note = detectors.is_empty().then(|| {
            "no detector is enabled for these inputs, so cases.jsonl is empty by construction"
                .to_string()
        });
        let secs = wall.as_secs_f64();
        ReplaySummary {
            records_read: stats.records_read,
            valid: stats.valid,
            invalid: stats.invalid,
            invalid_by_reason: stats.invalid_by_reason.clone(),
            late: stats.late,
            duplicates: stats.duplicates,
            cases: cases.len(),
            cases_by_kind,
            detectors,
            note,
            inputs,
            by_feed: stats.by_feed.clone(),
            inventory,
            wall_time_ms: wall.as_millis() as u64,
            records_per_sec: if secs > 0.0 {
                stats.records_read as f64 / secs
            } else {
                0.0
            },
        }
    }
}
