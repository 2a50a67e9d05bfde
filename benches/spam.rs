//! Criterion benchmarks of the spam-SIM and SIM-farm detector (docs/detection.md).
//!
//! - `spam/on_event_warm`: one realistic SMS-volume record (the simulator's records,
//!   replayed lap after lap with shifted event time) on a detector already holding the
//!   whole population; target ≤ 1 µs median.
//! - `spam/detector_large`: every valid record of the simulator's large scale through a
//!   fresh detector (pre-parsed events, watermark every 256 records); target
//!   ≥ 500 000 records/s.
//! - `spam/replay_large`: the real `cellwatch replay` on the large scale's
//!   `sms_volume.jsonl` (read, validate, watermark, detect, write cases).
//!
//! Before the timed groups, the state bytes per tracked SIM are printed to stderr:
//! `size_of` the state, the detector's own accounting (slab, index, cases, farm,
//! baseline) and the growth of the process's resident set, after one record each for
//! 1,000,000 distinct SIMs (`SPAM_BENCH_MEMORY_SIMS` to change the count).
//!
//! The scenario is generated once into `target/bench-data/` (seed 1). Set
//! `SPAM_BENCH_SCALE=medium` for a quicker run. The detector's memory per tracked SIM
//! after the large replay is printed to stderr.
//!
//! `SPAM_BENCH_CPU=1` measures the benchmark thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`) instead of wall-clock time, under the group name
//! `spam_cpu`: on a shared machine whose cores are busy with other work, wall-clock
//! time counts the waits for a core as well.

use cellwatch::config::{Config, SpamConfig};
use cellwatch::detect::spam::{Allowlist, SpamDetector};
use cellwatch::detect::{CaseSink, Detector};
use cellwatch::model::{
    parse_record, Case, CellKey, ContentFingerprint, Event, Feed, SmsVolume, TimeBounds,
};
use cellwatch::replay::{self, InputPath, ReplayOptions};
use cellwatch::simulate::truth::Truth;
use cellwatch::simulate::{write_scenario, Scale, SimConfig};
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BatchSize, Criterion, Throughput};
use std::hint::black_box;
use std::io::BufRead;
use std::path::PathBuf;
use std::time::Duration;

/// Counts cases without keeping them.
#[derive(Default)]
struct CountSink(u64);

impl CaseSink for CountSink {
    fn emit(&mut self, case: Case) {
        self.0 += 1;
        black_box(case);
    }
}

struct Data {
    dir: PathBuf,
    truth: Truth,
    events: Vec<Event>,
}

fn scale() -> Scale {
    match std::env::var("SPAM_BENCH_SCALE").as_deref() {
        Ok("small") => Scale::Small,
        Ok("medium") => Scale::Medium,
        _ => Scale::Large,
    }
}

/// The scenario (generated once) and its valid SMS-volume records in file order.
fn data() -> Data {
    let scale = scale();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("bench-data")
        .join(format!("spam-{}-1", scale.as_str()));
    if !dir.join("truth.json").exists() {
        eprintln!(
            "generating the {} scenario into {}",
            scale.as_str(),
            dir.display()
        );
        write_scenario(&SimConfig { seed: 1, scale }, &dir).expect("scenario written");
    }
    let truth = Truth::load(dir.join("truth.json")).expect("truth readable");
    let bounds = TimeBounds::at(truth.end_ms);
    let file = std::fs::File::open(dir.join("sms_volume.jsonl")).expect("sms file");
    let events: Vec<Event> = std::io::BufReader::with_capacity(1 << 20, file)
        .split(b'\n')
        .filter_map(|l| parse_record(Feed::SmsVolume, &l.ok()?, &bounds).ok())
        .collect();
    eprintln!("{} valid sms-volume records", events.len());
    Data { dir, truth, events }
}

/// Replay `events` through `det` with a watermark (10 min lateness) every 256 records.
fn replay_events(det: &mut SpamDetector, events: &[Event], shift_ms: i64, sink: &mut CountSink) {
    let mut max_t = i64::MIN;
    for (i, e) in events.iter().enumerate() {
        det.on_event(e, sink);
        max_t = max_t.max(e.event_time_ms() + shift_ms);
        if i % 256 == 255 {
            det.on_watermark(max_t - 600_000, sink);
        }
    }
}

fn shifted(e: &Event, shift_ms: i64) -> Event {
    match e {
        Event::Sms(r) => Event::Sms(SmsVolume {
            window_start_ms: r.window_start_ms + shift_ms,
            ..r.clone()
        }),
        other => other.clone(),
    }
}

/// CPU time of the calling thread.
struct ThreadCpuTime {
    wall: WallTime,
}

fn thread_cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and the clock id is a constant the
    // kernel knows; clock_gettime writes nothing else.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_now()
    }
    fn end(&self, start: Duration) -> Duration {
        thread_cpu_now().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.wall.formatter()
    }
}

/// Resident set of this process, bytes (Linux `/proc/self/statm`).
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// An ordinary subscriber's 5-minute record (SIM `i`, a few SMS, calls, one cell).
fn ordinary_record(i: u64, start_ms: i64) -> SmsVolume {
    SmsVolume {
        operator: ["45201", "45202", "45204"][(i % 3) as usize].into(),
        sim: format!("{:032x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).into(),
        window_start_ms: start_ms,
        window_secs: 300,
        sms_out: 1 + (i % 3) as u32,
        sms_in: Some(1),
        distinct_recipients: Some(1),
        new_recipients: Some(0),
        offnet_out: Some(0),
        calls_out: Some(1),
        calls_in: Some(1),
        device: Some(format!("{:032x}", i ^ 0xdead_beef).into()),
        imei_tac: Some(35_332_510),
        cell: Some(CellKey {
            mcc: 452,
            mnc: 4,
            lac: 100,
            cid: i % 5_000,
        }),
        sim_age_days: Some(700),
        kyc_verified: Some(true),
        content_fps: vec![ContentFingerprint {
            fp: i.wrapping_mul(0xff51_afd7_ed55_8ccd),
            n: 1,
        }],
    }
}

/// State bytes per tracked SIM after one record each for `n` distinct SIMs.
fn report_memory() {
    let n: u64 = std::env::var("SPAM_BENCH_MEMORY_SIMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let before = rss_bytes();
    let mut det = SpamDetector::new(SpamConfig::default(), Allowlist::empty()).expect("valid");
    let mut sink = CountSink::default();
    let t0 = 1_793_600_000_000i64;
    for i in 0..n {
        let r = ordinary_record(i, t0 + (i % 12) as i64 * 300_000);
        det.on_event(&Event::Sms(r), &mut sink);
    }
    let after = rss_bytes();
    let s = det.stats();
    let rss = match (before, after) {
        (Some(b), Some(a)) => format!("{:.1}", a.saturating_sub(b) as f64 / n as f64),
        _ => "-".into(),
    };
    eprintln!(
        "memory: {} tracked sims (state_size {}), size_of state {} bytes, detector accounting {:.1} bytes/sim, rss growth {} bytes/sim",
        s.tracked_sims,
        det.state_size(),
        s.state_bytes_per_sim,
        s.memory_bytes_per_sim,
        rss
    );
    black_box(det);
}

fn benches<M: Measurement>(c: &mut Criterion<M>, group_name: &str) {
    report_memory();
    let data = data();
    let n = data.events.len();
    let lap_ms = data.truth.end_ms - data.truth.start_ms;

    // One record on a warmed detector.
    {
        let mut det = SpamDetector::new(SpamConfig::default(), Allowlist::empty()).expect("valid");
        let mut sink = CountSink::default();
        replay_events(&mut det, &data.events, 0, &mut sink);
        let stats = det.stats();
        eprintln!(
            "warmed: {} tracked sims, {} bytes state/sim, {:.1} bytes/sim measured, {} spam cases, {} farm cases",
            stats.tracked_sims,
            stats.state_bytes_per_sim,
            stats.memory_bytes_per_sim,
            stats.spam_cases_opened,
            stats.farm_cases_opened
        );
        let mut i = 0usize;
        let mut lap = 1i64;
        let mut max_t = i64::MIN;
        let mut k = 0u64;
        let mut group = c.benchmark_group(group_name);
        group.throughput(Throughput::Elements(1));
        group.bench_function("on_event_warm", |b| {
            b.iter_batched_ref(
                || {
                    if i == n {
                        i = 0;
                        lap += 1;
                    }
                    let e = shifted(&data.events[i], lap * lap_ms);
                    i += 1;
                    e
                },
                |e| {
                    det.on_event(e, &mut sink);
                    max_t = max_t.max(e.event_time_ms());
                    k += 1;
                    if k % 256 == 0 {
                        det.on_watermark(max_t - 600_000, &mut sink);
                    }
                },
                BatchSize::SmallInput,
            )
        });
        group.finish();
    }

    // Every record of the scale through a fresh detector.
    {
        let mut group = c.benchmark_group(group_name);
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(30));
        group.throughput(Throughput::Elements(n as u64));
        let mut last_stats = None;
        group.bench_function(format!("detector_{}", scale().as_str()), |b| {
            b.iter_batched(
                || SpamDetector::new(SpamConfig::default(), Allowlist::empty()).expect("valid"),
                |mut det| {
                    let mut sink = CountSink::default();
                    replay_events(&mut det, &data.events, 0, &mut sink);
                    det.finish(&mut sink);
                    last_stats = Some(det.stats());
                    det
                },
                BatchSize::PerIteration,
            )
        });
        group.finish();
        if let Some(s) = last_stats {
            eprintln!(
                "after the replay: {} tracked sims, {} evicted, {:.1} bytes/sim measured ({} bytes state), {} farm candidates",
                s.tracked_sims, s.evicted_sims, s.memory_bytes_per_sim, s.state_bytes_per_sim, s.farm_candidates
            );
        }
    }

    // The real replay command on the file.
    {
        let lines = data.events.len() as u64;
        let out = tempfile::tempdir().expect("temp dir");
        let mut group = c.benchmark_group(group_name);
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(60));
        group.throughput(Throughput::Elements(lines));
        group.bench_function(format!("replay_{}", scale().as_str()), |b| {
            b.iter(|| {
                replay::run(&ReplayOptions {
                    sms_volume: Some(InputPath::File(data.dir.join("sms_volume.jsonl"))),
                    measurements: None,
                    cells: None,
                    out: out.path().to_path_buf(),
                    config: Config::default(),
                    now_ms: Some(data.truth.end_ms),
                })
                .expect("replay runs")
            })
        });
        group.finish();
    }
}

fn main() {
    cellwatch::alloc::tune();
    if std::env::var_os("SPAM_BENCH_CPU").is_some() {
        let mut c = Criterion::default()
            .with_measurement(ThreadCpuTime { wall: WallTime })
            .configure_from_args();
        benches(&mut c, "spam_cpu");
        c.final_summary();
    } else {
        let mut c = Criterion::default().configure_from_args();
        benches(&mut c, "spam");
        c.final_summary();
    }
}
