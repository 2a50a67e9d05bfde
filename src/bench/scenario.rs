//! Simulator scenarios for the benchmarks, generated once into a work folder and
//! reused by later runs (a `done` marker says a folder is complete).

use crate::simulate::{
    write_scenario, Scale, SimConfig, CELLS_FILE, MEASUREMENTS_FILE, SMS_VOLUME_FILE,
};
use std::path::{Path, PathBuf};

/// A scenario on disk.
#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    pub(crate) scale: Scale,
    pub(crate) dir: PathBuf,
    pub(crate) sms_lines: u64,
    pub(crate) measurement_lines: u64,
    pub(crate) bytes: u64,
    /// Whether this run generated it (and so may delete it at the end).
    pub(crate) generated: bool,
}

impl Scenario {
    pub(crate) fn lines(&self) -> u64 {
        self.sms_lines + self.measurement_lines
    }

    pub(crate) fn sms(&self) -> PathBuf {
        self.dir.join(SMS_VOLUME_FILE)
    }

    pub(crate) fn measurements(&self) -> PathBuf {
        self.dir.join(MEASUREMENTS_FILE)
    }

    pub(crate) fn cells(&self) -> PathBuf {
        self.dir.join(CELLS_FILE)
    }

    /// SIMs the simulator creates at this scale (see `simulate::ScaleParams`).
    pub(crate) fn sims(&self) -> u64 {
        match self.scale {
            Scale::Small => 3_000,
            Scale::Medium => 30_000,
            Scale::Large => 200_000,
        }
    }
}

const DONE: &str = "done";

/// The scenario of `scale` and `seed` under `work`, generated if missing.
pub(crate) fn ensure(work: &Path, scale: Scale, seed: u64) -> Result<Scenario, String> {
    let dir = work.join(format!("{scale}-seed{seed}"));
    let mut generated = false;
    if !dir.join(DONE).is_file() {
        let started = std::time::Instant::now();
        tracing::info!(scale = %scale, dir = %dir.display(), "generating scenario");
        write_scenario(&SimConfig { seed, scale }, &dir).map_err(|e| e.to_string())?;
        std::fs::write(dir.join(DONE), b"").map_err(|e| format!("{}: {e}", dir.display()))?;
        tracing::info!(scale = %scale, secs = started.elapsed().as_secs_f64(), "scenario generated");
        generated = true;
    }
    let count = |p: &Path| -> Result<(u64, u64), String> {
        use std::io::Read;
        let err = |e: std::io::Error| format!("cannot read {}: {e}", p.display());
        let mut f = std::fs::File::open(p).map_err(err)?;
        let mut buf = vec![0u8; 1 << 20];
        let (mut lines, mut bytes) = (0u64, 0u64);
        loop {
            let n = f.read(&mut buf).map_err(err)?;
            if n == 0 {
                break;
            }
            lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
            bytes += n as u64;
        }
        Ok((lines, bytes))
    };
    let (sms_lines, sms_bytes) = count(&dir.join(SMS_VOLUME_FILE))?;
    let (measurement_lines, m_bytes) = count(&dir.join(MEASUREMENTS_FILE))?;
    Ok(Scenario {
        scale,
        dir,
        sms_lines,
        measurement_lines,
        bytes: sms_bytes + m_bytes,
        generated,
    })
}
