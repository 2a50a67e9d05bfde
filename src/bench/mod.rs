//! `cellwatch bench`: the end-to-end benchmark harness. It measures cellwatch against
//! its performance targets on simulator scenarios of growing size and writes the
//! results, with the machine they were measured on, into BENCHMARKS.md.
//!
//! - replay throughput and peak RSS per scenario size ([`replay`], child process);
//! - state bytes per tracked SIM and per tracked cell identity ([`state`], child
//!   processes);
//! - against the real local Kafka broker and ClickHouse server ([`kafka`]): backlog
//!   throughput Kafka → detectors → ClickHouse, consumer lag at a produce rate and
//!   case latency, with both event orderings.
//!
//! Micro-benchmarks of the hot paths are criterion benches in `benches/`.

pub mod kafka;
pub(crate) mod machine;
pub(crate) mod memory;
pub mod replay;
pub mod report;
pub(crate) mod scenario;
pub mod state;

use crate::config::{Config, EventOrder};
use crate::simulate::Scale;
use machine::{Load, Machine};
use serde::Serialize;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The `cellwatch` executable, for the child processes.
    pub exe: PathBuf,
    /// Where scenarios and replay outputs go.
    pub work: PathBuf,
    /// Scenario sizes of the replay measurements, smallest first.
    pub scales: Vec<Scale>,
    pub seed: u64,
    pub config: Config,
    /// The file `config` was loaded from (`None`: the defaults), handed to every child
    /// process with `--config`, so that the children measure the same configuration
    /// (the `CELLWATCH_*` environment variables reach them by inheritance).
    pub config_file: Option<PathBuf>,
    /// Distinct SIMs of the state-per-SIM measurement.
    pub sims: u64,
    /// Kafka broker and ClickHouse server; `None` skips those measurements.
    pub services: Option<kafka::Services>,
    /// Scenario of the Kafka measurements.
    pub kafka_scale: Scale,
    /// Produce rate of the lag and case-latency runs, records/s.
    pub rate: f64,
    /// Keep generated scenarios for the next run instead of deleting them.
    pub keep_scenarios: bool,
    /// Which measurements to take.
    pub parts: Parts,
}

/// The measurements of a run (all by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts {
    pub(crate) replay: bool,
    pub(crate) state: bool,
    pub backlog: bool,
    pub paced: bool,
    /// The staged topology with 1 and 2 instances (not in the default set: it
    /// drains the backlog twice more).
    pub scaling: bool,
}

impl Default for Parts {
    fn default() -> Self {
        Parts {
            replay: true,
            state: true,
            backlog: true,
            paced: true,
            scaling: false,
        }
    }
}

impl Parts {
    /// Whether a measurement needs the real Kafka broker and ClickHouse server.
    pub fn kafka(&self) -> bool {
        self.backlog || self.paced || self.scaling
    }
}

impl std::str::FromStr for Parts {
    type Err = String;
    /// A comma-separated subset of `replay,state,backlog,paced,scaling`.
    fn from_str(s: &str) -> Result<Parts, String> {
        let mut p = Parts {
            replay: false,
            state: false,
            backlog: false,
            paced: false,
            scaling: false,
        };
        for part in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
            match part {
                "replay" => p.replay = true,
                "state" => p.state = true,
                "backlog" => p.backlog = true,
                "paced" => p.paced = true,
                "scaling" => p.scaling = true,
                other => {
                    return Err(format!(
                        "unknown measurement {other:?}: expected replay, state, backlog, paced or scaling"
                    ))
                }
            }
        }
        Ok(p)
    }
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub(crate) machine: Machine,
    pub(crate) date: String,
    pub(crate) load_at_start: Load,
    pub(crate) seed: u64,
    /// The configuration file every measurement ran with (`None`: the defaults).
    pub(crate) config_file: Option<PathBuf>,
    pub(crate) replay: Vec<replay::ReplayRun>,
    pub(crate) sim_state: Option<state::SimStateReport>,
    pub(crate) identity_state: Option<state::IdentityStateReport>,
    pub(crate) backlog: Option<kafka::BacklogRun>,
    pub(crate) paced: Vec<kafka::PacedRun>,
    pub(crate) scaling: Vec<kafka::ScalingRun>,
    /// Measurements that could not be taken, and why.
    pub errors: Vec<String>,
    pub(crate) elapsed_seconds: f64,
}

/// Run every measurement; a failing one is recorded in `errors`, the others go on.
pub fn run(opts: &BenchOptions) -> BenchReport {
    let started = std::time::Instant::now();
    let mut report = BenchReport {
        machine: Machine::describe(),
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        load_at_start: Load::now(),
        seed: opts.seed,
        config_file: opts.config_file.clone(),
        replay: Vec::new(),
        sim_state: None,
        identity_state: None,
        backlog: None,
        paced: Vec::new(),
        scaling: Vec::new(),
        errors: Vec::new(),
        elapsed_seconds: 0.0,
    };
    if let Err(e) = std::fs::create_dir_all(&opts.work) {
        report
            .errors
            .push(format!("cannot create {}: {e}", opts.work.display()));
        return report;
    }
    let mut generated = Vec::new();
    let mut scales = if opts.parts.replay || opts.parts.state {
        opts.scales.clone()
    } else {
        Vec::new()
    };
    let kafka = opts.services.is_some() && opts.parts.kafka();
    if kafka && !scales.contains(&opts.kafka_scale) {
        scales.push(opts.kafka_scale);
    }
    let mut scenarios = Vec::new();
    for scale in scales {
        match scenario::ensure(&opts.work, scale, opts.seed) {
            Ok(s) => {
                if s.generated {
                    generated.push(s.dir.clone());
                }
                scenarios.push(s);
            }
            Err(e) => report.errors.push(format!("scenario {scale}: {e}")),
        }
    }

    let replayed = scenarios
        .iter()
        .filter(|s| opts.parts.replay && opts.scales.contains(&s.scale));
    for s in replayed {
        let out = opts.work.join(format!("replay-out-{}", s.scale));
        match replay::measure(&opts.exe, s, &out, opts.config_file.as_deref()) {
            Ok(r) => report.replay.push(r),
            Err(e) => report.errors.push(format!("replay {}: {e}", s.scale)),
        }
        let _ = std::fs::remove_dir_all(&out);
    }

    if opts.parts.state {
        state_measurements(opts, &scenarios, &mut report);
    }
    if let (Some(services), true) = (&opts.services, kafka) {
        match scenarios.iter().find(|s| s.scale == opts.kafka_scale) {
            Some(s) => kafka_measurements(opts, services, s, &mut report),
            None => report
                .errors
                .push("kafka: no scenario for the kafka scale".into()),
        }
    }

    if !opts.keep_scenarios {
        for dir in generated {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    report.elapsed_seconds = started.elapsed().as_secs_f64();
    report
}

/// Bytes per tracked SIM (synthetic SIMs) and per cell identity (the largest
/// scenario's measurements), each in a child process.
fn state_measurements(
    opts: &BenchOptions,
    scenarios: &[scenario::Scenario],
    report: &mut BenchReport,
) {
    let config = opts.config_file.as_deref();
    let args = child_args(
        vec![
            "child-state-sims".into(),
            "--sims".into(),
            opts.sims.to_string().into(),
        ],
        config,
    );
    match child_json(&opts.exe, &args, &format!("child {args:?}")) {
        Ok(r) => report.sim_state = Some(r),
        Err(e) => report.errors.push(format!("state per SIM: {e}")),
    }
    let largest = scenarios
        .iter()
        .filter(|s| opts.scales.contains(&s.scale))
        .max_by_key(|s| s.lines());
    if let Some(s) = largest {
        let args = child_args(
            vec![
                "child-state-identities".into(),
                "--measurements".into(),
                s.measurements().into(),
                "--cells".into(),
                s.cells().into(),
            ],
            config,
        );
        match child_json(&opts.exe, &args, &format!("child {args:?}")) {
            Ok(r) => report.identity_state = Some(r),
            Err(e) => report.errors.push(format!("state per identity: {e}")),
        }
    }
}

fn kafka_measurements(
    opts: &BenchOptions,
    services: &kafka::Services,
    scenario: &scenario::Scenario,
    report: &mut BenchReport,
) {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            report.errors.push(format!("kafka: no tokio runtime: {e}"));
            return;
        }
    };
    let lines = match kafka::load_lines(scenario) {
        Ok(l) => Arc::new(l),
        Err(e) => {
            report
                .errors
                .push(format!("kafka: cannot read scenario: {e}"));
            return;
        }
    };
    runtime.block_on(async {
        if opts.parts.backlog {
            match kafka::backlog(services, &opts.config, scenario, &lines).await {
                Ok(r) => report.backlog = Some(r),
                Err(e) => report.errors.push(format!("kafka backlog: {e}")),
            }
        }
        if opts.parts.scaling {
            for instances in [1, 2] {
                match kafka::scaling(services, &opts.config, scenario, &lines, instances).await {
                    Ok(r) => report.scaling.push(r),
                    Err(e) => report
                        .errors
                        .push(format!("kafka scaling ({instances} instances): {e}")),
                }
            }
        }
        if !opts.parts.paced {
            return;
        }
        for ordering in [EventOrder::Arrival, EventOrder::EventTime] {
            match kafka::paced(
                services,
                &opts.config,
                scenario,
                &lines,
                opts.rate,
                ordering,
            )
            .await
            {
                Ok(r) => report.paced.push(r),
                Err(e) => report
                    .errors
                    .push(format!("kafka paced ({ordering:?}): {e}")),
            }
        }
    });
}

/// A child command's arguments, with `--config <file>` when the harness was given one.
pub(crate) fn child_args(mut args: Vec<OsString>, config_file: Option<&Path>) -> Vec<OsString> {
    if let Some(file) = config_file {
        args.push("--config".into());
        args.push(file.into());
    }
    args
}

/// Run `exe bench <args>` (logging warnings only) and parse the JSON object it
/// prints on its standard output; `what` names the child in errors.
fn child_json<T: serde::de::DeserializeOwned>(
    exe: &Path,
    args: &[OsString],
    what: &str,
) -> Result<T, String> {
    let output = Command::new(exe)
        .arg("bench")
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{what} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| {
        format!(
            "unreadable {what} report: {e}: {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}
