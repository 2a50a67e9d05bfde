//! The ground for the spam detector's split into stages (docs/streaming.md, "The spam
//! detector's two stages"): on simulated scenarios through the replay's pipeline, the
//! cross-SIM part reads only records stage A would forward (the detector's debug
//! assertions check it at every record: rules run and farm candidacy only for a SIM
//! whose forwarded bit is set), and stage A keeps some records to itself.

use super::stats::SpamStats;
use super::{Allowlist, SpamDetector};
use crate::config::Config;
use crate::detect::{CaseSink, Detector};
use crate::ingest::Origin;
use crate::model::{Case, CaseKind, Event, Feed, TimeBounds};
use crate::pipeline::Pipeline;
use crate::simulate::{write_scenario_with, Knobs, Scale, SimConfig, Truth};
use crate::validate::SourceValidator;
use std::sync::{Arc, Mutex};

/// The detector, handing its counters out at the end of input.
struct Probe {
    d: SpamDetector,
    stats: Arc<Mutex<Option<SpamStats>>>,
}

impl Detector for Probe {
    fn name(&self) -> &'static str {
        "spam"
    }

    fn feed(&self) -> Option<Feed> {
        Some(Feed::SmsVolume)
    }

    fn on_event(&mut self, event: &Event, out: &mut dyn CaseSink) {
        self.d.on_event(event, out);
    }

    fn on_watermark(&mut self, watermark_ms: i64, out: &mut dyn CaseSink) {
        self.d.on_watermark(watermark_ms, out);
    }

    fn finish(&mut self, out: &mut dyn CaseSink) {
        self.d.finish(out);
        *self.stats.lock().unwrap() = Some(self.d.stats());
    }
}

/// The cases and counters of the detector over a simulated scenario's SMS-volume
/// records, through the replay's pipeline.
fn run(variant: &str, seed: u64) -> (Vec<Case>, SpamStats) {
    let dir = tempfile::tempdir().expect("temp dir");
    let knobs = Knobs::variant(variant).expect("a known variant");
    let sim = SimConfig {
        seed,
        scale: Scale::Small,
    };
    write_scenario_with(&sim, &knobs, dir.path()).expect("scenario written");
    let truth = Truth::load(dir.path().join("truth.json")).expect("truth");
    let config = Config::default();
    let stats = Arc::new(Mutex::new(None));
    let probe = Probe {
        d: SpamDetector::new(config.spam.clone(), Allowlist::empty()).expect("valid"),
        stats: stats.clone(),
    };
    let mut pipeline = Pipeline::from_config(vec![Box::new(probe)], &config.pipeline);
    let mut validator = SourceValidator::new(
        Feed::SmsVolume,
        TimeBounds::at(truth.end_ms),
        config.pipeline.allowed_lateness_ms(),
    );
    let bytes = std::fs::read(dir.path().join("sms_volume.jsonl")).expect("records");
    let mut cases: Vec<Case> = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let origin = Origin::File {
            file: "sms_volume.jsonl".into(),
            line: i as u64 + 1,
        };
        let _ = pipeline.process(&mut validator, line, origin, &mut cases);
    }
    pipeline.finish(&mut cases);
    let stats = stats.lock().unwrap().take().expect("finished");
    (cases, stats)
}

#[test]
fn the_cross_sim_part_reads_only_forwarded_records() {
    for (variant, kind) in [
        ("baseline", CaseKind::SpamSim),
        ("farm_spread", CaseKind::SimFarm),
    ] {
        let (cases, s) = run(variant, 1);
        assert!(
            cases.iter().any(|c| c.kind == kind),
            "{variant}: the scenario makes {kind:?} cases"
        );
        let pct = |n: u64| 100.0 * n as f64 / s.records as f64;
        eprintln!(
            "{variant}: {} records; forwarded whole {} ({:.1} %), as a sample only {} ({:.1} %), \
             as a refit tick only {}",
            s.records,
            s.records_forwarded,
            pct(s.records_forwarded),
            s.samples_forwarded,
            pct(s.samples_forwarded),
            s.ticks_forwarded,
        );
        assert!(
            s.records_forwarded > 0
                && s.records_forwarded + s.samples_forwarded + s.ticks_forwarded < s.records,
            "{variant}: stage A keeps some records to itself: {s:?}"
        );
    }
}
