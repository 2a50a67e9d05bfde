//! Scenario simulator: a deterministic synthetic city with SIM traffic, cell
//! measurements, a registered-cell inventory and injected attackers (spam SIMs,
//! SIM farms, fake base stations), plus the ground truth to score detectors.
//!
//! It is the base of the project's tests, demo and benchmarks. Everything depends
//! on the seed only (ChaCha8 streams, no hash-map order, no wall clock): the same
//! `SimConfig` always gives byte-identical files.
//!
//! Files written by [`write_scenario`]: `sms_volume.jsonl` and `measurements.jsonl`
//! (JSON Lines, FEEDS.md §1/§2), `cells.csv` (FEEDS.md §3) and `truth.json`
//! ([`truth::Truth`]).
//!
//! What a scenario contains (event time starts 2026-11-02T00:00Z + [`start_offset_hours`]):
//! - City: Hanoi, 15 × 15 km around 21.0285 N 105.8542 E; operators 45201/45202/45204;
//!   GSM/UMTS/LTE cells on a jittered site grid, LAC/TAC per 5 km block, EIRP 43–60 dBm,
//!   range 0.5–3 km. ~2 % of real cells are missing from `cells.csv`, ~2 % listed 1–5 km off.
//! - Radio: [`RadioConfig`] (log-distance, PL(100 m) = 78 dB, n = 3.2, shadowing σ 7 dB
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
mod malformed;
mod output;
mod pseudonym;
pub mod radio;
mod records;
mod reporters;
mod sims;
pub mod truth;
mod util;

use crate::model::Feed;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use radio::RadioConfig;
pub use truth::Truth;

/// 2026-11-02T00:00:00Z: event time of every scenario starts here plus a
/// seed-dependent number of whole hours.
pub const BASE_START_MS: i64 = 1_793_577_600_000;
const STEP_MS: i64 = 300_000;

pub const SMS_VOLUME_FILE: &str = "sms_volume.jsonl";
pub const MEASUREMENTS_FILE: &str = "measurements.jsonl";
pub const CELLS_FILE: &str = "cells.csv";
pub const TRUTH_FILE: &str = "truth.json";

/// Size of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// ≈ 6 h, 3 000 SIMs, 300 cells, 800 reporters, 100–200 k lines (tests).
    Small,
    /// ≈ 24 h, 30 000 SIMs, 1–2 M lines (demo).
    Medium,
    /// ≈ 24 h, 200 000 SIMs, ≥ 5 M lines (throughput benchmarks).
    Large,
}

impl Scale {
    pub fn as_str(self) -> &'static str {
        match self {
            Scale::Small => "small",
            Scale::Medium => "medium",
            Scale::Large => "large",
        }
    }
}

impl FromStr for Scale {
    type Err = SimulateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "small" => Ok(Scale::Small),
            "medium" => Ok(Scale::Medium),
            "large" => Ok(Scale::Large),
            other => Err(SimulateError::UnknownScale(other.to_string())),
        }
    }
}

impl std::fmt::Display for Scale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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
}

impl SimulateError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        SimulateError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Per-scale sizes (the brief's targets).
struct ScaleParams {
    hours: i64,
    cells: usize,
    reporters: usize,
    sims: sims::SimParams,
    late_per_file: usize,
}

impl ScaleParams {
    fn of(scale: Scale) -> ScaleParams {
        let heavy_share = [0.005, 0.002, 0.003, 0.005, 0.005];
        match scale {
            Scale::Small => ScaleParams {
                hours: 6,
                cells: 300,
                reporters: 800,
                sims: sims::SimParams {
                    count: 3_000,
                    spam_share: 0.01,
                    spam_min: 20,
                    farms: 1,
                    heavy_share,
                    heavy_min: 5,
                },
                late_per_file: 5,
            },
            Scale::Medium => ScaleParams {
                hours: 24,
                cells: 450,
                reporters: 2_000,
                sims: sims::SimParams {
                    count: 30_000,
                    spam_share: 0.005,
                    spam_min: 20,
                    farms: 2,
                    heavy_share,
                    heavy_min: 5,
                },
                late_per_file: 20,
            },
            Scale::Large => ScaleParams {
                hours: 24,
                cells: 600,
                reporters: 8_000,
                sims: sims::SimParams {
                    count: 200_000,
                    spam_share: 0.003,
                    spam_min: 20,
                    farms: 3,
                    heavy_share,
                    heavy_min: 5,
                },
                late_per_file: 50,
            },
        }
    }
}

/// Hours after [`BASE_START_MS`] at which a seed's event time starts: a day of the
/// week (0–6) and a start between 00:00 and 10:00 UTC (07:00–17:00 in Hanoi), so a
/// 6-hour scenario always covers the busy part of the day.
pub fn start_offset_hours(seed: u64) -> i64 {
    (24 * (seed % 7) + (seed / 7) % 11) as i64
}

/// Share of extra malformed lines per feed file (~0.2 %).
const MALFORMED_RATE: f64 = 0.002;

/// Generate the scenario of `cfg` into `out_dir` (created if needed).
pub fn write_scenario(cfg: &SimConfig, out_dir: &Path) -> Result<ScenarioSummary, SimulateError> {
    std::fs::create_dir_all(out_dir).map_err(|e| SimulateError::io(out_dir, e))?;
    let params = ScaleParams::of(cfg.scale);
    let mut master = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut sub_rng = || ChaCha8Rng::seed_from_u64(master.random());
    let start_ms = BASE_START_MS + start_offset_hours(cfg.seed) * 3_600_000;
    let end_ms = start_ms + params.hours * 3_600_000;
    let n_steps = ((end_ms - start_ms) / STEP_MS) as usize;
    let pseudo = pseudonym::Pseudonymizer::for_seed(cfg.seed);

    let mut city_rng = sub_rng();
    let city = city::City::generate(
        &city::CityParams {
            target_cells: params.cells,
            missing_share: 0.02,
            misplaced_share: 0.02,
        },
        &mut city_rng,
    );
    let cells_path = out_dir.join(CELLS_FILE);
    let cell_rows = city.write_csv(&cells_path, &mut city_rng)?;

    let span = util::Span { start_ms, end_ms };
    let fakes = fakes::generate(&city, span, &mut sub_rng());
    let mut population = sims::Sims::generate(&params.sims, &city, span, &pseudo, sub_rng());
    let mut reporters = reporters::Reporters::generate(
        reporters::ReporterParams {
            count: params.reporters,
        },
        start_ms,
        &pseudo,
        sub_rng(),
    );

    let sms_path = out_dir.join(SMS_VOLUME_FILE);
    let meas_path = out_dir.join(MEASUREMENTS_FILE);
    let mut sms_out = output::FeedWriter::create(
        Feed::SmsVolume,
        &sms_path,
        n_steps,
        params.late_per_file,
        MALFORMED_RATE,
        sub_rng(),
    )?;
    let mut meas_out = output::FeedWriter::create(
        Feed::Measurements,
        &meas_path,
        n_steps,
        params.late_per_file,
        MALFORMED_RATE,
        sub_rng(),
    )?;
    for step in 0..n_steps {
        let t = start_ms + step as i64 * STEP_MS;
        population.step(step, t, &mut sms_out)?;
        reporters.step(t, &city, &fakes, &mut meas_out)?;
        sms_out.finish_step()?;
        meas_out.finish_step()?;
    }
    let (sms_lines, sms_malformed, sms_late) = sms_out.finish()?;
    let (meas_lines, meas_malformed, meas_late) = meas_out.finish()?;

    let sim_truth = population.take_truth();
    let truth = Truth {
        seed: cfg.seed,
        scale: cfg.scale.as_str().to_string(),
        start_ms,
        end_ms,
        spam_sims: sim_truth.spam,
        farms: sim_truth.farms,
        legit_heavy: sim_truth.heavy,
        transmitters: fakes.iter().map(fakes::Transmitter::truth).collect(),
        missing_cells: city
            .cells
            .iter()
            .filter(|c| c.listing == city::Listing::Missing)
            .map(|c| c.key.clone())
            .collect(),
        misplaced_cells: city
            .cells
            .iter()
            .filter_map(|c| match c.listing {
                city::Listing::Misplaced { x, y } => {
                    let (tl, tn) = city::to_latlon(c.x, c.y);
                    let (ll, ln) = city::to_latlon(x, y);
                    Some(truth::TruthMisplaced {
                        cell: c.key.clone(),
                        true_lat: city::round6(tl),
                        true_lon: city::round6(tn),
                        listed_lat: city::round6(ll),
                        listed_lon: city::round6(ln),
                    })
                }
                _ => None,
            })
            .collect(),
        malformed_lines: BTreeMap::from([
            (SMS_VOLUME_FILE.to_string(), sms_malformed),
            (MEASUREMENTS_FILE.to_string(), meas_malformed),
        ]),
        late_records: BTreeMap::from([
            (SMS_VOLUME_FILE.to_string(), sms_late),
            (MEASUREMENTS_FILE.to_string(), meas_late),
        ]),
        line_counts: BTreeMap::from([
            (SMS_VOLUME_FILE.to_string(), sms_lines),
            (MEASUREMENTS_FILE.to_string(), meas_lines),
            (CELLS_FILE.to_string(), cell_rows + 1),
        ]),
    };
    let truth_path = out_dir.join(TRUTH_FILE);
    let file = std::fs::File::create(&truth_path).map_err(|e| SimulateError::io(&truth_path, e))?;
    let mut w = std::io::BufWriter::new(file);
    serde_json::to_writer_pretty(&mut w, &truth).map_err(|source| SimulateError::Json {
        path: truth_path.clone(),
        source,
    })?;
    std::io::Write::write_all(&mut w, b"\n").map_err(|e| SimulateError::io(&truth_path, e))?;
    std::io::Write::flush(&mut w).map_err(|e| SimulateError::io(&truth_path, e))?;

    tracing::info!(
        seed = cfg.seed,
        scale = cfg.scale.as_str(),
        sims = population.sim_count(),
        sms_volume_lines = sms_lines,
        measurement_lines = meas_lines,
        cell_rows,
        "scenario written"
    );
    Ok(ScenarioSummary {
        sms_volume_lines: sms_lines,
        measurement_lines: meas_lines,
        cell_rows,
        files: vec![sms_path, meas_path, cells_path, truth_path],
    })
}
