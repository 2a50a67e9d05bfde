//! Cases (docs/contract.md, "Cases"): one incident for inspectors, with the evidence
//! that opened it.

use super::cell::{CellKey, Rat};
use super::names::{parse_name, UnknownName};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How far before a case's `first_seen` a record still counts as evidence behind it:
/// the longest detector window that opens a case is 1 h, so what led up to it is included.
pub(crate) const EVIDENCE_LOOKBACK_MS: i64 = 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    SpamSim,
    SimFarm,
    FakeBts,
}

impl CaseKind {
    pub const ALL: [CaseKind; 3] = [CaseKind::SpamSim, CaseKind::SimFarm, CaseKind::FakeBts];

    /// The contract name (`spam_sim`), as serde writes it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CaseKind::SpamSim => "spam_sim",
            CaseKind::SimFarm => "sim_farm",
            CaseKind::FakeBts => "fake_bts",
        }
    }
}

impl FromStr for CaseKind {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, UnknownName> {
        parse_name(s, &Self::ALL, Self::as_str, "case kind")
    }
}

impl fmt::Display for CaseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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

impl CaseStatus {
    pub(crate) const ALL: [CaseStatus; 4] = [
        CaseStatus::Open,
        CaseStatus::HandedOver,
        CaseStatus::Confirmed,
        CaseStatus::Dismissed,
    ];

    /// The contract name (`handed_over`), as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Open => "open",
            CaseStatus::HandedOver => "handed_over",
            CaseStatus::Confirmed => "confirmed",
            CaseStatus::Dismissed => "dismissed",
        }
    }
}

impl FromStr for CaseStatus {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, UnknownName> {
        parse_name(s, &Self::ALL, Self::as_str, "status")
    }
}

impl fmt::Display for CaseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule that fired: its code, what was measured and the threshold it crossed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    pub value: f64,
    pub threshold: f64,
}

impl Reason {
    pub(crate) fn new(code: &str, value: f64, threshold: f64) -> Reason {
        Reason {
            code: code.to_string(),
            value,
            threshold,
        }
    }
}

/// A spam or farm case value (score, reason value, threshold) as written: 4 decimals.
pub(crate) fn round4(v: f64) -> f64 {
    round_to(v, 1e4)
}

/// A fake-BTS case or inventory-finding value (score, share, mean) as written: 3 decimals.
pub(crate) fn round3(v: f64) -> f64 {
    round_to(v, 1e3)
}

/// A latitude or longitude as written: 6 decimals (≈ 0.1 m).
pub fn round6(v: f64) -> f64 {
    round_to(v, 1e6)
}

/// `v` rounded to the nearest multiple of `1 / scale`; non-finite values stay as they are.
#[inline]
fn round_to(v: f64, scale: f64) -> f64 {
    (v * scale).round() / scale
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

impl ClaimedCell {
    /// The `MCC-MNC-LAC-CID` key of the identity (without radio and ARFCN).
    pub(crate) fn key(&self) -> CellKey {
        CellKey {
            mcc: self.mcc,
            mnc: self.mnc,
            lac: self.lac,
            cid: self.cid,
        }
    }
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

impl Case {
    /// Fold a later snapshot of the same case into this one. The newer snapshot wins,
    /// except for the case's time span: the earliest `opened_at` and `first_seen` and
    /// the latest `last_seen` are kept, so an update never moves the moment the
    /// evidence first crossed the threshold, nor forgets evidence already seen.
    pub(crate) fn merge_newer(&mut self, newer: Case) {
        let opened_at = self.opened_at.min(newer.opened_at);
        let first_seen = self.first_seen.min(newer.first_seen);
        let last_seen = self.last_seen.max(newer.last_seen);
        *self = newer;
        self.opened_at = opened_at;
        self.first_seen = first_seen;
        self.last_seen = last_seen;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(opened_at: i64, first_seen: i64, last_seen: i64, score: f64) -> Case {
        Case {
            case_id: "spam-1".into(),
            kind: CaseKind::SpamSim,
            status: CaseStatus::Open,
            opened_at,
            first_seen,
            last_seen,
            score,
            operator: None,
            sims: vec!["s1".into()],
            claimed_cell: None,
            identities: Vec::new(),
            location: None,
            track: Vec::new(),
            reasons: Vec::new(),
            evidence_count: 3,
        }
    }

    #[test]
    fn a_newer_snapshot_wins_but_the_time_span_only_widens() {
        let mut case = snapshot(1_000, 500, 2_000, 0.5);
        let mut newer = snapshot(1_500, 800, 1_800, 0.9);
        newer.evidence_count = 7;
        case.merge_newer(newer);
        assert_eq!(case.score, 0.9);
        assert_eq!(case.evidence_count, 7);
        assert_eq!(
            (case.opened_at, case.first_seen, case.last_seen),
            (1_000, 500, 2_000)
        );
        case.merge_newer(snapshot(900, 400, 3_000, 0.7));
        assert_eq!(
            (case.opened_at, case.first_seen, case.last_seen),
            (900, 400, 3_000)
        );
        assert_eq!(case.score, 0.7);
    }

    #[test]
    fn names_are_serde_names_and_parse_back() {
        for k in CaseKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
            assert_eq!(k.as_str().parse::<CaseKind>(), Ok(k));
        }
        for s in CaseStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(s.as_str().parse::<CaseStatus>(), Ok(s));
        }
        assert_eq!(
            "bts".parse::<CaseKind>().unwrap_err().to_string(),
            "\"bts\" is not a case kind; use spam_sim, sim_farm or fake_bts"
        );
        assert_eq!(
            "closed".parse::<CaseStatus>().unwrap_err().to_string(),
            "\"closed\" is not a status; use open, handed_over, confirmed or dismissed"
        );
        assert!("Open".parse::<CaseStatus>().is_err(), "exact names only");
    }
}
