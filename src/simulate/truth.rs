//! Ground truth of a simulated scenario (`truth.json`): which SIMs are spammers or
//! farm members, which heavy senders are legitimate traps, where the rogue
//! transmitters really were, and which lines were deliberately broken or late.
//!
//! Detectors and quality tests score themselves against this file; its field names
//! are part of the team's contract (see the simulator brief), so change them only
//! by adding fields.

use super::SimulateError;
use crate::model::{ClaimedCell, TrackPoint};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Everything injected into one scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    pub seed: u64,
    pub scale: String,
    /// First instant of event time (inclusive), epoch milliseconds.
    pub start_ms: i64,
    /// End of event time (exclusive), epoch milliseconds.
    pub end_ms: i64,
    /// Spam SIMs: `kind` = `"blatant_spam"`, `"ramp_spam"` for a campaign that
    /// starts slowly or `"pulse_spam"` for one that sends in pulses or steadily under
    /// `far_rate_1h` (added by knobs).
    pub spam_sims: Vec<TruthSim>,
    /// Low-and-slow SIM farms; their `sims` are positives too.
    pub farms: Vec<TruthFarm>,
    /// Legitimate heavy senders (false-positive traps): `kind` is one of
    /// `"shop"`, `"school"`, `"tv_vote"`, `"m2m"`, `"new_normal"`, or
    /// `"new_number_announcement"` (added by knobs).
    pub legit_heavy: Vec<TruthSim>,
    /// Rogue transmitters with their true positions.
    pub transmitters: Vec<TruthTransmitter>,
    /// Real, legitimate cells left out of `cells.csv` (keys `MCC-MNC-LAC-CID`).
    pub missing_cells: Vec<String>,
    /// Real cells listed in `cells.csv` at a wrong position.
    pub misplaced_cells: Vec<TruthMisplaced>,
    /// Per file name: lines that are deliberately invalid.
    pub malformed_lines: BTreeMap<String, u64>,
    /// Per file name: valid records emitted at least 2 h (event time) behind the
    /// largest event time already written to that file.
    pub late_records: BTreeMap<String, u64>,
    /// Per file name: number of newline-terminated lines (`wc -l`), malformed and
    /// empty lines included; for `cells.csv` the header counts as one line.
    pub line_counts: BTreeMap<String, u64>,
    /// The knobs of a scenario other than the default one (docs/simulator.md), as
    /// JSON; absent for the default scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knobs: Option<serde_json::Value>,
    /// Legitimate cells a knob made look odd (null cipher, few neighbours, heard far
    /// away, missing from the inventory), with their category.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trap_cells: Vec<TruthTrapCell>,
    /// Per file name: copies of valid records delivered a second time (a feed
    /// profile's `redeliver_share`); absent when there are none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub redelivered_records: BTreeMap<String, u64>,
    /// Per file name: valid records of batches delivered late on purpose (a feed
    /// profile's `late_batch_every_min`); absent when there are none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub delayed_records: BTreeMap<String, u64>,
}

/// One SIM of interest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthSim {
    pub sim: String,
    pub operator: String,
    /// Event time at which the behaviour of interest starts.
    pub active_from_ms: i64,
    pub kind: String,
    /// When the SMS feed first carried the behaviour (spam SIMs only): the end of the
    /// window of the SIM's first record with `sms_out > 0`, or its delivery time when a
    /// batch held back on purpose delivered it later (the earliest such moment over
    /// the SIM's records). A record tells its counts at its end, so no detector can
    /// see the behaviour before this. Absent for look-alikes, for a spam SIM that
    /// never sent, and in truth files written before the field existed (`cellwatch
    /// score` then counts from `active_from_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_carried_ms: Option<i64>,
}

/// One SIM farm (SIM box): members, the gateway devices they rotate through and
/// the single cell they all sit in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthFarm {
    pub farm_id: String,
    pub operator: String,
    pub sims: Vec<String>,
    pub devices: Vec<String>,
    pub imei_tac: String,
    /// `MCC-MNC-LAC-CID` (the first site's, when there are several).
    pub cell: String,
    pub active_from_ms: i64,
    /// Every site's serving cell, when the farm is spread over several.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cells: Vec<String>,
    /// Every gateway model, when the farm uses several.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub imei_tacs: Vec<String>,
    /// Per member SIM: when the SMS feed first carried its sending (as
    /// [`TruthSim::first_carried_ms`]); members that never sent are absent, and so is
    /// the whole map in truth files written before it existed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub first_carried_ms: BTreeMap<String, i64>,
}

/// A change of the identity a transmitter broadcasts, valid from `from_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthIdentityChange {
    pub from_ms: i64,
    pub identity: ClaimedCell,
}

/// One rogue transmitter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthTransmitter {
    pub id: String,
    /// `"stationary"`, `"moving_blaster"` or `"low_power"` (the default three);
    /// `"imsi_catcher"`, `"cloning_blaster"` or `"static_clone"` (added by knobs).
    pub kind: String,
    /// Every distinct identity broadcast, in order of first use.
    pub identities: Vec<ClaimedCell>,
    pub identity_changes: Vec<TruthIdentityChange>,
    /// When it went on air (its first broadcast), epoch milliseconds.
    pub active_from_ms: i64,
    pub active_to_ms: i64,
    /// Event time of the first report in `measurements.jsonl` that this transmitter
    /// caused: a phone it captured reporting its broadcast identity (reports of a
    /// real cell whose identity it copies do not count). Every such report is written
    /// as a valid record, never held back as late. Absent when no phone reported it,
    /// and in truth files written before the field existed (`cellwatch score` then
    /// counts from `active_from_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_heard_ms: Option<i64>,
    pub(crate) eirp_dbm: f64,
    /// True position every 60 s while active.
    pub track: Vec<TrackPoint>,
}

/// A legitimate cell that looks odd on purpose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthTrapCell {
    /// `MCC-MNC-LAC-CID`.
    pub cell: String,
    /// `"gsm_null_cipher"`, `"gsm_few_neighbours"`, `"gsm_overshoot"`, `"new_site"` or
    /// `"cell_on_wheels"` (a cell may be listed under several).
    pub category: String,
    pub rat: String,
    /// True site position.
    pub lat: f64,
    pub lon: f64,
}

/// A registered cell whose listed coordinates are wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthMisplaced {
    pub cell: String,
    pub(crate) true_lat: f64,
    pub(crate) true_lon: f64,
    pub(crate) listed_lat: f64,
    pub(crate) listed_lon: f64,
}

impl Truth {
    /// Read a `truth.json` written by [`super::write_scenario`].
    pub fn load(path: impl AsRef<Path>) -> Result<Truth, SimulateError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| SimulateError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|source| SimulateError::Json {
            path: path.to_path_buf(),
            source,
        })
    }

    /// All positives for spam scoring: spam SIMs (blatant and ramping) and every farm
    /// member.
    pub fn positive_sims(&self) -> std::collections::BTreeSet<&str> {
        self.spam_sims
            .iter()
            .map(|s| s.sim.as_str())
            .chain(
                self.farms
                    .iter()
                    .flat_map(|f| f.sims.iter().map(String::as_str)),
            )
            .collect()
    }
}
