//! Scenario simulator: a deterministic synthetic city with SIM traffic, cell
//! measurements, a registered-cell inventory and injected attackers (spam SIMs,
//! SIM farms, fake base stations), plus the ground truth to score detectors.
//!
//! It is the base of the project's tests, demo and benchmarks. Everything depends
//! on the seed only (ChaCha8 streams, no hash-map order, no wall clock): the same
//! `SimConfig` always gives byte-identical files.
//!
//! Files written by [`write_scenario`]: `sms_volume.jsonl` and `measurements.jsonl`
//! (JSON Lines; docs/contract.md, "SMS-volume records" and "Cell-measurement
//! reports"), `cells.csv` (docs/contract.md, "Registered-cell inventory") and
//! `truth.json` ([`truth::Truth`]).
//!
//! What a scenario contains (event time starts 2026-11-02T00:00Z + `start_offset_hours`):
//! - City: Hanoi, 15 × 15 km around 21.0285 N 105.8542 E; operators 45201/45202/45204;
//!   GSM/UMTS/LTE cells on a jittered site grid, LAC/TAC per 5 km block, EIRP 43–60 dBm,
//!   range 0.5–3 km. ~2 % of real cells are missing from `cells.csv`, ~2 % listed 1–5 km off.
//! - Radio: `RadioConfig` (log-distance, PL(100 m) = 78 dB, n = 3.2, shadowing σ 7 dB
//!   on a 50 m grid, fast fading σ 2 dB); `signal_dbm` is RxLev / RSCP (−10 dB) /
//!   RSRP (−30.8 dB); TA in 553.5 m (GSM) and 78.12 m (LTE) steps.
//! - Reporters: fixed probes and drive-test probes (60 s), app users (2–5 min, fewer
//!   at night) and operator MDT (`source` = PLMN, 1–5 min), random-waypoint walkers
//!   and vehicles, camping on the strongest cell of their network (LTE preferred,
//!   4 dB hysteresis). Background events: reselect, CSFB `rat_downgrade` to GSM,
//!   rare `reject`, legitimate `sms_received` from brands (OTP, operator notices).
//! - Fake base stations (GSM, phones of the target network only, capture when the
//!   fake is within a margin of the best real cell): a stationary one (43 dBm, A5/0,
//!   0 neighbours, unregistered or cloned far-away identity, downgrade + phishing
//!   SMS + rejects), a moving blaster (47 dBm, car at 20–40 km/h on a street grid,
//!   new LAC/CID every 3–10 min with LACs in the operator's own numbering, capture →
//!   downgrade → SMS → optional reject within ~10 s), and a low-power one (30 dBm,
//!   clones a registered cell 2–4 km away on another ARFCN, A5/1, 2 neighbours,
//!   no SMS, few reporters).
//! - SIMs: operators report 900 s (45201, no `offnet_out`), 60 s (45202, 30 % RFC 3339
//!   timestamps) and 300 s (45204) windows, a record only when the SIM did something.
//!   Ordinary users are log-normal heavy-tailed with a diurnal profile; blatant spam
//!   (30–200 SMS per 5 min, ~91 % new recipients, young unverified SIMs, campaign
//!   SimHash ± 3 bits); farms (20–60 SIMs in gateway modems with one gateway TAC,
//!   8–32 SIMs per device, rotated, one cell, 5–15 SMS per 5 min, SimHash ± 4 bits);
//!   legitimate heavy senders: shops, schools, TV votes, M2M, new normal SIMs.
//! - Robustness: ~0.2 % malformed lines per feed file (every kind of
//!   `malformed::MalformedKind` plus one invalid-UTF-8 and one empty line), a few
//!   valid records written ≥ 2 h behind the newest event time (late), otherwise
//!   out-of-order by at most 90 s.

mod city;
mod fakes;
pub mod knobs;
mod malformed;
mod output;
mod pseudonym;
pub(crate) mod radio;
mod records;
mod reporters;
mod scale;
mod scenario;
mod sims;
pub mod truth;
mod util;

use serde::Serialize;
use std::path::{Path, PathBuf};

pub use knobs::{Knobs, KnobsBuilder, KnobsError};
pub use scale::Scale;
pub use scenario::{write_scenario, write_scenario_with};
pub use truth::Truth;
/// A well-mixed 64-bit hash (SplitMix64), for synthetic data outside the simulator.
pub(crate) use util::mix64;

/// 2026-11-02T00:00:00Z: event time of every scenario starts here plus a
/// seed-dependent number of whole hours.
pub(crate) const BASE_START_MS: i64 = 1_793_577_600_000;
const STEP_MS: i64 = 300_000;

pub(crate) const SMS_VOLUME_FILE: &str = "sms_volume.jsonl";
pub(crate) const MEASUREMENTS_FILE: &str = "measurements.jsonl";
pub(crate) const CELLS_FILE: &str = "cells.csv";
pub(crate) const TRUTH_FILE: &str = "truth.json";

/// What to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimConfig {
    pub seed: u64,
    pub scale: Scale,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScenarioSummary {
    pub sms_volume_lines: u64,
    pub measurement_lines: u64,
    /// Data rows of `cells.csv` (header excluded).
    pub cell_rows: u64,
    pub files: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error("cannot write or read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("json error in {path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("unknown scale {0:?}: expected small, medium or large")]
    UnknownScale(String),
    #[error("invalid scenario knobs: {0}")]
    Knobs(String),
}

impl SimulateError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        SimulateError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Hours after [`BASE_START_MS`] at which a seed's event time starts: a day of the
/// week (0–6) and a start between 00:00 and 10:00 UTC (07:00–17:00 in Hanoi), so a
/// 6-hour scenario always covers the busy part of the day.
pub(crate) fn start_offset_hours(seed: u64) -> i64 {
    (24 * (seed % 7) + (seed / 7) % 11) as i64
}
