//! State bytes per tracked key, measured in a child process so its resident memory
//! belongs to the detector alone:
//!
//! - `child-state-sims`: N distinct SIMs, each with a few ordinary SMS-volume records
//!   spread over a day, straight into `SpamDetector::on_sms` (no JSON, no hold
//!   queue); bytes per SIM = RSS growth / tracked SIMs, next to the detector's own
//!   accounting ([`SpamDetector::stats`]);
//! - `child-state-identities`: a scenario's measurements into
//!   [`FakeBtsDetector::on_measurement`]; bytes per identity from
//!   `FakeBtsDetector::stats` and the RSS growth.

use super::memory::{self, Rss};
use crate::config::Config;
use crate::detect::fakebts::index::{CellIndex, Site};
use crate::detect::fakebts::stats::StateParts;
use crate::detect::fakebts::FakeBtsDetector;
use crate::detect::spam::{Allowlist, SpamDetector};
use crate::detect::{CaseSink, Detector};
use crate::inventory::Inventory;
use crate::model::{parse_record, CellKey, Event, Feed, SmsVolume, TimeBounds};
use crate::simulate::{mix64, BASE_START_MS};
use serde::{Deserialize, Serialize};
use std::io::BufRead;
use std::path::Path;
use std::time::Instant;

/// Counts cases without keeping them: the measurement is about state, not output.
#[derive(Default)]
struct CountCases(u64);

impl CaseSink for CountCases {
    fn emit(&mut self, _case: crate::model::Case) {
        self.0 += 1;
    }
}

/// What `child-state-sims` reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimStateReport {
    pub(crate) sims: u64,
    pub(crate) records: u64,
    pub(crate) tracked_sims: u64,
    pub(crate) rss_before: Rss,
    pub(crate) rss_after: Rss,
    /// (RSS after − RSS before) / tracked SIMs.
    pub(crate) rss_bytes_per_sim: f64,
    /// The detector's `size_of` one SIM state.
    pub(crate) state_bytes_per_sim: u64,
    /// The detector's accounting of all its structures / tracked SIMs.
    pub(crate) detector_bytes_per_sim: f64,
    pub(crate) seconds: f64,
    pub(crate) cases: u64,
}

/// Feed `sims` distinct SIMs, `records_per_sim` ordinary 5-minute records each,
/// spread over 23 hours of event time in order, with watermarks every 10 s.
pub fn child_sims(
    sims: u64,
    records_per_sim: u64,
    config: &Config,
) -> Result<SimStateReport, String> {
    let mut detector =
        SpamDetector::new(config.spam.clone(), Allowlist::empty()).map_err(|e| e.to_string())?;
    let mut out = CountCases::default();
    // the code is the binary's, not state: resident before the baseline
    memory::files_resident();
    let rss_before = memory::own();
    let started = Instant::now();
    let total = sims * records_per_sim.max(1);
    let span_ms: i64 = 23 * 3_600_000;
    let t0 = BASE_START_MS;
    let mut next_wm = t0;
    let operators = ["45201", "45202", "45204"];
    for i in 0..total {
        // SIM order shuffled inside each pass, passes in event-time order
        let pass = i / sims;
        let sim_ix = mix64((i % sims) ^ (pass << 40)) % sims;
        let h = mix64(sim_ix);
        let end_ms = t0 + (i as i64 * span_ms / total as i64);
        let window_start_ms = (end_ms / 300_000) * 300_000 - 300_000;
        let sms_out = (h % 4) as u32;
        let record = SmsVolume {
            operator: operators[(h % 3) as usize].into(),
            sim: format!("{:016x}", mix64(sim_ix ^ 0x5151)).into(),
            window_start_ms,
            window_secs: 300,
            sms_out,
            sms_in: Some(((h >> 8) % 4) as u32),
            distinct_recipients: Some(sms_out.min(1 + ((h >> 12) % 3) as u32)),
            new_recipients: Some(0),
            offnet_out: Some(sms_out / 2),
            calls_out: Some(((h >> 16) % 3) as u32),
            calls_in: Some(((h >> 20) % 3) as u32),
            device: Some(format!("{:016x}", mix64(sim_ix ^ 0xdede)).into()),
            imei_tac: Some(35_000_000 + ((h >> 24) % 5_000) as u32),
            cell: Some(CellKey {
                mcc: 452,
                mnc: 4,
                lac: 100 + ((h >> 32) % 50) as u32,
                cid: 2_000 + ((h >> 40) % 600),
            }),
            sim_age_days: Some(30 + ((h >> 48) % 2_000) as u32),
            kyc_verified: Some(true),
            content_fps: Vec::new(),
        };
        detector.on_sms(&record, &mut out);
        let event_ms = window_start_ms + 300_000;
        while next_wm + 10_000 <= event_ms - 600_000 {
            next_wm += 10_000;
            detector.on_watermark(next_wm, &mut out);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let rss_after = memory::own();
    let stats = detector.stats();
    let tracked = stats.tracked_sims.max(1);
    let report = SimStateReport {
        sims,
        records: total,
        tracked_sims: stats.tracked_sims,
        rss_before,
        rss_after,
        rss_bytes_per_sim: rss_after.current.saturating_sub(rss_before.current) as f64
            / tracked as f64,
        state_bytes_per_sim: stats.state_bytes_per_sim,
        detector_bytes_per_sim: stats.memory_bytes_per_sim,
        seconds,
        cases: out.0,
    };
    drop(detector);
    Ok(report)
}

/// What `child-state-identities` reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdentityStateReport {
    pub(crate) measurements: u64,
    pub(crate) identities_tracked: usize,
    pub(crate) emitters_tracked: usize,
    pub(crate) rss_before: Rss,
    pub(crate) rss_after: Rss,
    pub(crate) rss_bytes_per_identity: f64,
    /// The anonymous part of the RSS growth (heap), without the code pages that first
    /// ran after the baseline.
    #[serde(default)]
    pub(crate) rss_anon_bytes_per_identity: f64,
    pub(crate) detector_bytes_per_identity: f64,
    /// The allocator's view before and after: bytes in blocks, bytes committed.
    #[serde(default)]
    pub(crate) heap_before: memory::HeapUse,
    #[serde(default)]
    pub(crate) heap_after: memory::HeapUse,
    /// The detector's accounting by part, bytes per identity.
    #[serde(default)]
    pub(crate) detector_bytes_by_part: StateParts,
    pub(crate) seconds: f64,
    pub(crate) cases: u64,
}

fn sites(cells: &Path) -> Result<Vec<Site>, String> {
    let (inventory, _) = Inventory::load_csv(cells).map_err(|e| e.to_string())?;
    Ok(inventory
        .iter()
        .map(|c| Site {
            rat: c.radio,
            key: c.key,
            lat: c.lat,
            lon: c.lon,
            range_m: c.range_m,
            arfcn: c.arfcn,
            pci: c.pci,
            eirp_dbm: c.eirp_dbm,
        })
        .collect())
}

/// Feed a scenario's measurements (valid ones, file order) to the fake-BTS detector.
pub fn child_identities(
    measurements: &Path,
    cells: &Path,
    config: &Config,
) -> Result<IdentityStateReport, String> {
    let index = CellIndex::from_sites(sites(cells)?);
    let mut detector =
        FakeBtsDetector::with_index(config.fakebts.clone(), index).map_err(|e| e.to_string())?;
    let mut out = CountCases::default();
    let bounds = TimeBounds::from_wall_clock();
    let file = std::fs::File::open(measurements)
        .map_err(|e| format!("cannot read {}: {e}", measurements.display()))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 18, file);
    let mut line = Vec::with_capacity(1 << 12);
    // the reader's buffer (256 KiB, touched by its first fill) is the bench's, not
    // the detector's: resident before the baseline is taken
    reader.fill_buf().map_err(|e| e.to_string())?;
    // and so is the code (the binary's and the libraries' pages, ≈ 1 MB first run
    // after the baseline otherwise: the parser, the detector, localisation)
    memory::files_resident();
    let heap_before = memory::heap_use();
    memory::print_heap_classes("before the identities");
    let rss_before = memory::own();
    let started = Instant::now();
    let mut count = 0u64;
    let mut next_wm: Option<i64> = None;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        let Ok(Event::Measurement(m)) =
            parse_record(Feed::Measurements, line.trim_ascii_end(), &bounds)
        else {
            continue;
        };
        count += 1;
        detector.on_measurement(&m, &mut out);
        let wm = m.ts_ms - 600_000;
        let next = next_wm.get_or_insert(wm);
        while *next + 10_000 <= wm {
            *next += 10_000;
            detector.on_watermark(*next, &mut out);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let rss_after = memory::own();
    let heap_after = memory::heap_use();
    memory::print_heap_classes("after the identities");
    let stats = detector.stats();
    let ids = stats.identities_tracked.max(1);
    Ok(IdentityStateReport {
        measurements: count,
        identities_tracked: stats.identities_tracked,
        emitters_tracked: stats.emitters_tracked,
        rss_before,
        rss_after,
        rss_bytes_per_identity: rss_after.current.saturating_sub(rss_before.current) as f64
            / ids as f64,
        rss_anon_bytes_per_identity: rss_after.anon.saturating_sub(rss_before.anon) as f64
            / ids as f64,
        detector_bytes_per_identity: stats.state_bytes_per_identity,
        heap_before,
        heap_after,
        detector_bytes_by_part: stats.state_parts,
        seconds,
        cases: out.0,
    })
}
