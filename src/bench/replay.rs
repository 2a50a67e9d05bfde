//! Replay throughput and peak memory: `cellwatch replay`'s code run on a scenario in
//! a child process (`cellwatch bench child-replay`), so its peak RSS (`VmHWM`) is its
//! own and not the harness's.

use super::machine::Load;
use super::memory::{self, Rss};
use super::scenario::Scenario;
use crate::config::Config;
use crate::replay::{self, InputPath, ReplayOptions};
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What the child reports on its standard output (one JSON object).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChildReplay {
    pub(crate) records: u64,
    pub(crate) valid: u64,
    pub(crate) cases: usize,
    pub(crate) detectors: Vec<String>,
    /// Wall time of `replay::run`, seconds.
    pub(crate) seconds: f64,
    /// User + system CPU time of the child, seconds.
    pub(crate) cpu_seconds: f64,
    pub(crate) rss: Rss,
}

/// One replay measurement.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReplayRun {
    pub(crate) scale: String,
    pub(crate) records: u64,
    pub(crate) input_bytes: u64,
    pub(crate) sims: u64,
    pub(crate) seconds: f64,
    pub(crate) records_per_sec: f64,
    pub(crate) cpu_seconds: f64,
    pub(crate) peak_rss_bytes: u64,
    pub(crate) cases: usize,
    pub(crate) detectors: Vec<String>,
    pub(crate) load_before: Load,
    pub(crate) load_after: Load,
}

/// Run the replay of `scenario` in a child process of `exe` (with the configuration
/// file `config`, if any) and read its report.
pub(crate) fn measure(
    exe: &Path,
    scenario: &Scenario,
    out: &Path,
    config: Option<&Path>,
) -> Result<ReplayRun, String> {
    let load_before = Load::now();
    let started = Instant::now();
    let args: Vec<OsString> = vec![
        "child-replay".into(),
        "--sms-volume".into(),
        scenario.sms().into(),
        "--measurements".into(),
        scenario.measurements().into(),
        "--cells".into(),
        scenario.cells().into(),
        "--out".into(),
        out.into(),
    ];
    let args = super::child_args(args, config);
    let child: ChildReplay = super::child_json(exe, &args, "replay child")?;
    tracing::info!(
        scale = %scenario.scale,
        records = child.records,
        secs = child.seconds,
        total_secs = started.elapsed().as_secs_f64(),
        "replay measured"
    );
    Ok(ReplayRun {
        scale: scenario.scale.to_string(),
        records: child.records,
        input_bytes: scenario.bytes,
        sims: scenario.sims(),
        seconds: child.seconds,
        records_per_sec: child.records as f64 / child.seconds.max(1e-9),
        cpu_seconds: child.cpu_seconds,
        peak_rss_bytes: child.rss.peak,
        cases: child.cases,
        detectors: child.detectors,
        load_before,
        load_after: Load::now(),
    })
}

/// The child's side: the replay exactly as `cellwatch replay` runs it.
pub fn child(
    sms_volume: PathBuf,
    measurements: PathBuf,
    cells: PathBuf,
    out: PathBuf,
    config: Config,
) -> Result<ChildReplay, String> {
    let started = Instant::now();
    let summary = replay::run(&ReplayOptions {
        sms_volume: Some(InputPath::File(sms_volume)),
        measurements: Some(InputPath::File(measurements)),
        cells: Some(cells),
        out,
        config,
        now_ms: None,
    })
    .map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(ChildReplay {
        records: summary.records_read,
        valid: summary.valid,
        cases: summary.cases,
        detectors: summary.detectors.iter().map(|d| d.to_string()).collect(),
        seconds,
        cpu_seconds: cpu_seconds(),
        rss: memory::own(),
    })
}

/// User + system CPU time of this process so far, seconds.
pub(crate) fn cpu_seconds() -> f64 {
    super::machine::stat_cpu_seconds(
        &std::fs::read_to_string("/proc/self/stat").unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    #[test]
    fn cpu_time_grows_with_work() {
        let before = super::cpu_seconds();
        let started = Instant::now();
        let mut x = 0u64;
        // Burn until the tick counter shows 50 ms more CPU (10 s of wall time at most:
        // the machine may be busy).
        while super::cpu_seconds() < before + 0.05 && started.elapsed() < Duration::from_secs(10) {
            for i in 0..1_000_000u64 {
                x = x.wrapping_add(i * i);
            }
            std::hint::black_box(x);
        }
        let used = super::cpu_seconds() - before;
        assert!(used >= 0.05, "cpu time after burning: {used} s more");
    }
}
