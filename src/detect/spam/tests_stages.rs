//! The ground for the spam detector's split into stages (docs/streaming.md, "The spam
//! detector's two stages"): on simulated scenarios through the replay's pipeline,
//! stage A keeps some records to itself (and the detector's debug check holds at
//! every record: every record of a SIM stage B marked is forwarded); and stage A's
//! refit ticks, from any number of tasks, make stage B refit at the records one task
//! refits at. The stages apart: `tests_split.rs`.

use super::sims::SimStage;
use super::state::Specs;
use super::stats::SpamStats;
use super::{Allowlist, SpamDetector};
use crate::config::Config;
use crate::detect::stage::Message;
use crate::detect::{CaseSink, Detector};
use crate::model::SmsVolume;
use crate::model::{Case, CaseKind, Event, Feed};
use crate::pipeline::Pipeline;
use crate::test_support::{feed_file, small_scenario};
use std::sync::{Arc, Mutex};

/// The detector, handing its counters out at the end of input.
struct Probe {
    d: SpamDetector,
    stats: Arc<Mutex<Option<SpamStats>>>,
    /// The records, in the order the detector received them.
    seen: Arc<Mutex<Vec<SmsVolume>>>,
}

impl Detector for Probe {
    fn name(&self) -> &'static str {
        "spam"
    }

    fn feed(&self) -> Option<Feed> {
        Some(Feed::SmsVolume)
    }

    fn on_event(&mut self, event: &Event, out: &mut dyn CaseSink) {
        if let Event::Sms(r) = event {
            self.seen.lock().unwrap().push(r.clone());
        }
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
fn run(variant: &str, seed: u64) -> (Vec<Case>, SpamStats, Vec<SmsVolume>) {
    let (dir, truth) = small_scenario(variant, seed);
    let config = Config::default();
    let stats = Arc::new(Mutex::new(None));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let probe = Probe {
        d: SpamDetector::new(config.spam.clone(), Allowlist::empty()).expect("valid"),
        stats: stats.clone(),
        seen: seen.clone(),
    };
    let mut pipeline = Pipeline::from_config(vec![Box::new(probe)], &config.pipeline);
    let cases = feed_file(
        &mut pipeline,
        Feed::SmsVolume,
        &dir.path().join("sms_volume.jsonl"),
        truth.end_ms,
        config.pipeline.allowed_lateness_ms(),
    );
    let stats = stats.lock().unwrap().take().expect("finished");
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    (cases, stats, seen)
}

#[test]
fn the_cross_sim_part_reads_only_forwarded_records() {
    for (variant, kind) in [
        ("baseline", CaseKind::SpamSim),
        ("farm_spread", CaseKind::SimFarm),
    ] {
        let (cases, s, _) = run(variant, 1);
        assert!(
            cases.iter().any(|c| c.kind == kind),
            "{variant}: the scenario makes {kind:?} cases"
        );
        let pct = |n: u64| 100.0 * n as f64 / s.records as f64;
        eprintln!(
            "{variant}: {} records; forwarded whole {} ({:.1} %), as a sample only {} ({:.1} %), \
             as a refit tick only {}; stage A tracks {} SIMs, stage B marks {} ({} bytes)",
            s.records,
            s.records_forwarded,
            pct(s.records_forwarded),
            s.samples_forwarded,
            pct(s.samples_forwarded),
            s.ticks_forwarded,
            s.tracked_sims,
            s.marked_sims,
            s.stage_b_marked_bytes,
        );
        assert!(
            s.records_forwarded > 0
                && s.records_forwarded + s.samples_forwarded + s.ticks_forwarded < s.records,
            "{variant}: stage A keeps some records to itself: {s:?}"
        );
    }
}

/// The end times at which stage B refits, given the records it sees in order: the
/// first past each refit boundary (`SpamDetector::refresh_baseline`'s rule).
fn refits(ends: impl Iterator<Item = i64>, refresh_ms: i64) -> Vec<i64> {
    let mut next = i64::MIN;
    let mut at = Vec::new();
    for end in ends {
        if end >= next {
            at.push(end);
            next = (end.div_euclid(refresh_ms) + 1) * refresh_ms;
        }
    }
    at
}

/// Also on records moved off the boundaries (the simulated records end on whole
/// minutes, so every refit falls on a boundary there and B would refit at the same
/// times without the ticks): each record's end moved by up to 4 minutes by its key,
/// re-sorted, so that the first record past a boundary ends after it.
#[test]
fn refit_ticks_from_any_number_of_tasks_give_the_one_task_refits() {
    let config = Config::default().spam;
    let (_, _, records) = run("baseline", 2);
    let refresh_ms = i64::from(config.baseline_refresh_secs) * 1000;
    let keyed = |r: &SmsVolume| {
        let e = Event::Sms(r.clone());
        (e.event_time_ms(), e.route_key())
    };
    let aligned: Vec<(i64, u64)> = records.iter().map(keyed).collect();
    let mut moved: Vec<(i64, u64)> = aligned
        .iter()
        .map(|&(end, key)| (end + (key % 240) as i64 * 1000 + 1, key))
        .collect();
    moved.sort_unstable();
    for (feed, records) in [("aligned", aligned), ("moved", moved)] {
        let want = refits(records.iter().map(|r| r.0), refresh_ms);
        assert!(want.len() > 10, "the scenario spans refits: {}", want.len());
        for n in [1usize, 3, 4] {
            let (ticks, others) = ticks_of(&config, n, &records);
            let merged = |with_others: bool| {
                let mut ends: Vec<i64> = ticks.clone();
                if with_others {
                    ends.extend(others.iter().copied());
                    ends.sort_unstable();
                }
                refits(ends.into_iter(), refresh_ms)
            };
            assert_eq!(merged(false), want, "{feed}, {n} tasks: the ticks alone");
            assert_eq!(merged(true), want, "{feed}, {n} tasks: with other forwards");
            let without = refits(others.iter().copied(), refresh_ms);
            if feed == "moved" {
                assert_ne!(
                    without, want,
                    "{feed}: without the ticks B refits elsewhere"
                );
            }
        }
    }
}

/// Stage A as `n` tasks (each record to `route_key mod n`): the end times of their
/// refit ticks, in the records' order, and of every seventh record besides (standing
/// for the other forwards).
fn ticks_of(
    config: &crate::config::SpamConfig,
    n: usize,
    records: &[(i64, u64)],
) -> (Vec<i64>, Vec<i64>) {
    let specs = Specs::new(
        config.short_window_secs,
        config.medium_window_secs,
        config.long_window_secs,
    )
    .expect("valid windows");
    let mut tasks: Vec<SimStage> = (0..n)
        .map(|_| SimStage::new(config, specs, Allowlist::empty()))
        .collect();
    let (mut ticks, mut others) = (Vec::new(), Vec::new());
    for (i, &(end, key)) in records.iter().enumerate() {
        if tasks[(key % n as u64) as usize].refit_tick(end) {
            ticks.push(end);
        } else if i % 7 == 0 {
            others.push(end);
        }
    }
    (ticks, others)
}
