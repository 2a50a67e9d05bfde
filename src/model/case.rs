//! Cases (FEEDS.md §4): one incident for inspectors, with the evidence that opened it.

use super::cell::Rat;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    SpamSim,
    SimFarm,
    FakeBts,
}

impl CaseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseKind::SpamSim => "spam_sim",
            CaseKind::SimFarm => "sim_farm",
            CaseKind::FakeBts => "fake_bts",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    #[default]
    Open,
    HandedOver,
    Confirmed,
    Dismissed,
}

/// One rule that fired: its code, what was measured and the threshold it crossed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    pub value: f64,
    pub threshold: f64,
}

/// A broadcast cell identity as a case reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ClaimedCell {
    pub rat: Rat,
    pub mcc: u16,
    pub mnc: u16,
    pub lac: u32,
    pub cid: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arfcn: Option<u32>,
}

/// Estimated transmitter position with its uncertainty radius.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
    pub radius_m: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrackPoint {
    pub ts: i64,
    pub lat: f64,
    pub lon: f64,
}

/// A case as written to `cases.jsonl`, `cw.cases.v1` and ClickHouse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub case_id: String,
    pub kind: CaseKind,
    #[serde(default)]
    pub status: CaseStatus,
    pub opened_at: i64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub score: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sims: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_cell: Option<ClaimedCell>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<ClaimedCell>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track: Vec<TrackPoint>,
    pub reasons: Vec<Reason>,
    pub evidence_count: u64,
}
