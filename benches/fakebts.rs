//! Criterion benchmarks of the fake-BTS detector (docs/detection.md).
//!
//! - `fakebts/on_event_warm`: one realistic measurement report (the simulator's small
//!   scale, seed 1, replayed lap after lap with shifted event time) through
//!   `FakeBtsDetector::on_event` on the scenario's inventory, after a warm-up lap;
//!   target ≤ 2 µs median.
//! - `fakebts/multilaterate/{100,1000,10000}`: localisation of one transmitter from
//!   n reports (binned as the detector does, then the robust fit); should grow at most
//!   linearly with n.
//! - `fakebts/link/{100,1000,10000}`: n anomalous reports of a blaster that hops to a
//!   new identity every 50 reports, through a detector with an empty inventory (every
//!   report is routed and linked); time per n reports should grow at most linearly.
//!
//! The scenario is generated once into `target/bench-data/fakebts-small-1`.

use cellwatch::config::FakeBtsConfig;
use cellwatch::detect::fakebts::geometry::PathLoss;
use cellwatch::detect::fakebts::locate::{
    bin_observations, multilaterate, Observation, SolverParams,
};
use cellwatch::detect::fakebts::FakeBtsDetector;
use cellwatch::detect::{CaseSink, Detector};
use cellwatch::inventory::Inventory;
use cellwatch::model::{
    parse_record, Case, CellKey, CellMeasurement, Event, Feed, MeasurementEvent, Rat, TimeBounds,
};
use cellwatch::simulate::truth::Truth;
use cellwatch::simulate::{write_scenario, Scale, SimConfig};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::io::BufRead;
use std::path::PathBuf;

/// Counts cases without keeping them.
#[derive(Default)]
struct CountSink(u64);

impl CaseSink for CountSink {
    fn emit(&mut self, case: Case) {
        self.0 += 1;
        black_box(case);
    }
}

fn scenario() -> (PathBuf, Vec<CellMeasurement>, i64) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("bench-data")
        .join("fakebts-small-1");
    if !dir.join("truth.json").exists() {
        write_scenario(
            &SimConfig {
                seed: 1,
                scale: Scale::Small,
            },
            &dir,
        )
        .expect("scenario written");
    }
    let truth = Truth::load(dir.join("truth.json")).expect("truth readable");
    let bounds = TimeBounds::at(truth.end_ms + 86_400_000);
    let file = std::fs::File::open(dir.join("measurements.jsonl")).expect("measurements");
    let mut ms: Vec<CellMeasurement> = std::io::BufReader::new(file)
        .split(b'\n')
        .filter_map(
            |l| match parse_record(Feed::Measurements, &l.ok()?, &bounds) {
                Ok(Event::Measurement(m)) => Some(m),
                _ => None,
            },
        )
        .collect();
    ms.sort_by_key(|m| m.ts_ms);
    (dir, ms, truth.end_ms - truth.start_ms)
}

fn on_event(c: &mut Criterion) {
    let (dir, reports, span_ms) = scenario();
    let (inventory, _) = Inventory::load_csv(dir.join("cells.csv")).expect("cells.csv");
    let mut det =
        FakeBtsDetector::new(FakeBtsConfig::default(), inventory).expect("default config is valid");
    let mut sink = CountSink::default();
    // warm-up lap with watermarks, as the pipeline drives it
    for (i, m) in reports.iter().enumerate() {
        det.on_event(&Event::Measurement(m.clone()), &mut sink);
        if i % 256 == 0 {
            det.on_watermark(m.ts_ms, &mut sink);
        }
    }
    let mut events: Vec<Event> = reports
        .iter()
        .map(|m| Event::Measurement(m.clone()))
        .collect();
    let mut i = 0usize;
    let mut lap = 1i64;
    let mut g = c.benchmark_group("fakebts");
    g.throughput(Throughput::Elements(1));
    g.bench_function("on_event_warm", |b| {
        b.iter(|| {
            if i == events.len() {
                i = 0;
                lap += 1;
                for e in &mut events {
                    if let Event::Measurement(m) = e {
                        m.ts_ms += span_ms + 3_600_000;
                    }
                }
            }
            let e = &events[i];
            det.on_event(black_box(e), &mut sink);
            if i % 256 == 0 {
                if let Event::Measurement(m) = e {
                    det.on_watermark(m.ts_ms, &mut sink);
                }
            }
            i += 1;
        })
    });
    g.finish();
    eprintln!("fakebts on_event: {} case snapshots, {lap} laps", sink.0);
}

/// n reports around a transmitter at the origin, reporters within 2 km.
fn synthetic_observations(n: usize) -> Vec<Observation> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let cfg = FakeBtsConfig::default();
    let model = PathLoss::from_config(&cfg);
    (0..n)
        .map(|i| {
            let (x, y) = (4000.0 * next() - 2000.0, 4000.0 * next() - 2000.0);
            let shadow = 7.0 * (next() + next() + next() - 1.5) * 2.0;
            let rss = model.predicted_rss_dbm(43.0, x.hypot(y)) + shadow;
            Observation::new(i as i64 * 1000, x, y, rss, 10.0)
        })
        .collect()
}

fn localisation(c: &mut Criterion) {
    let cfg = FakeBtsConfig::default();
    let solver = SolverParams::from_config(&cfg);
    let mut g = c.benchmark_group("fakebts/multilaterate");
    for n in [100usize, 1_000, 10_000] {
        let obs = synthetic_observations(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &obs, |b, obs| {
            b.iter(|| {
                let binned = bin_observations(black_box(obs), cfg.locate_bin_m);
                black_box(multilaterate(&binned, &solver))
            })
        });
    }
    g.finish();
}

/// n anomalous reports of a hopping blaster driving east at 10 m/s, one every 200 ms.
fn hopping_reports(n: usize) -> Vec<CellMeasurement> {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|i| {
            let t = i as i64 * 200;
            let tx_lon = 105.80 + 10.0 * (t as f64 / 1000.0) / 104_000.0;
            let lat = 21.03 + (next() - 0.5) * 0.03;
            let lon = tx_lon + (next() - 0.5) * 0.03;
            CellMeasurement {
                source: "app".into(),
                reporter: format!("r{}", i % 400).into(),
                ts_ms: 1_700_000_000_000 + t,
                lat,
                lon,
                accuracy_m: Some(10.0),
                rat: Rat::Gsm,
                cell: CellKey {
                    mcc: 452,
                    mnc: 2,
                    lac: 12_000 + (i / 50) as u32,
                    cid: 40_000 + (i / 50) as u64,
                },
                arfcn: Some(77),
                pci: Some(5),
                signal_dbm: Some(-70.0 - 20.0 * next() as f32),
                ta: None,
                neighbors: Some(0),
                cipher: Some("A5/0".into()),
                event: MeasurementEvent::Camped,
                sms_sender: None,
            }
        })
        .collect()
}

fn linking(c: &mut Criterion) {
    let mut g = c.benchmark_group("fakebts/link");
    g.sample_size(10);
    for n in [100usize, 1_000, 10_000] {
        let reports = hopping_reports(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &reports, |b, reports| {
            b.iter_batched(
                || FakeBtsDetector::new(FakeBtsConfig::default(), Inventory::new()).expect("valid"),
                |mut det| {
                    let mut sink = CountSink::default();
                    for (i, m) in reports.iter().enumerate() {
                        det.on_measurement(m, &mut sink);
                        if i % 256 == 255 {
                            det.advance(m.ts_ms, &mut sink);
                        }
                    }
                    det.finish_all(&mut sink);
                    black_box((det.emitter_count(), sink.0))
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion::criterion_group!(benches, on_event, localisation, linking);
criterion::criterion_main!(benches);
