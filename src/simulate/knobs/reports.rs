//! Per-source report profiles: which optional fields each kind of reporting device
//! sends in its cell-measurement reports. Real sources differ: a crowd-sourced app
//! cannot read the cipher or the announced neighbour list from the phone's radio
//! API, an operator's MDT record carries signal and position but no cipher, and only
//! the regulator's own probes report everything. The default scenario's reporters
//! send every field; these knobs take fields away so that the fake-BTS rules are
//! tried on the evidence a real deployment has.

use serde::{Deserialize, Serialize};

/// The optional fields of a cell-measurement report (docs/contract.md,
/// "Cell-measurement reports"). `event` is not among them: a report without it
/// means `camped`, so leaving it out would change what the report says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportField {
    AccuracyM,
    Arfcn,
    Pci,
    SignalDbm,
    Ta,
    Neighbors,
    Cipher,
    SmsSender,
}

/// What one kind of reporting device leaves out of every report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportProfile {
    /// Optional fields left out of every report of this kind of device.
    pub omit: Vec<ReportField>,
}

/// The report profile of each kind of reporting device.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reports {
    /// The regulator's fixed and drive-test probes (`source = "probe"`).
    pub probe: ReportProfile,
    /// Crowd-sourced app users (`source = "app"`).
    pub app: ReportProfile,
    /// Operators' MDT reports (`source` = the operator's PLMN code).
    pub mdt: ReportProfile,
}

impl Reports {
    /// The profile of a report whose `source` is `source`.
    pub fn of_source(&self, source: &str) -> &ReportProfile {
        match source {
            "probe" => &self.probe,
            "app" => &self.app,
            _ => &self.mdt,
        }
    }
}
