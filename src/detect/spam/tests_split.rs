//! The spam detector's stages apart (docs/streaming.md, "The spam detector's two
//! stages"): stage A ([`SimStage`]) as 1, 3 and 4 tasks, each record to the task of
//! its key, their forwards ([`SimForward`]) merged in canonical order before each
//! watermark into one stage B ([`CrossSim`]), give every case snapshot of the one-task
//! detector, in order; merged without the sort they do not.

use super::cross::CrossSim;
use super::forward::SimForward;
use super::sims::SimStage;
use super::state::Specs;
use super::{Allowlist, SpamDetector};
use crate::config::{Config, SpamConfig};
use crate::detect::stage::{canonical_cmp, Emit, Message, Never, Stage};
use crate::detect::{CaseSink, Detector};
use crate::model::{Case, CaseKind, Event, Feed};
use crate::pipeline::Pipeline;
use crate::test_support::{feed_file, small_scenario};
use std::sync::{Arc, Mutex};

/// What the pipeline handed the detector, in order.
#[derive(Clone)]
enum Step {
    Record(Box<Event>),
    Watermark(i64),
}

/// The one-task detector, noting its input and its cases.
struct Recorder {
    d: SpamDetector,
    steps: Arc<Mutex<Vec<Step>>>,
    cases: Arc<Mutex<Vec<Case>>>,
}

impl Recorder {
    fn pass(&self, mine: Vec<Case>, out: &mut dyn CaseSink) {
        let mut cases = self.cases.lock().unwrap();
        for c in mine {
            cases.push(c.clone());
            out.emit(c);
        }
    }
}

impl Detector for Recorder {
    fn name(&self) -> &'static str {
        "spam"
    }

    fn feed(&self) -> Option<Feed> {
        Some(Feed::SmsVolume)
    }

    fn on_event(&mut self, event: &Event, out: &mut dyn CaseSink) {
        self.steps
            .lock()
            .unwrap()
            .push(Step::Record(Box::new(event.clone())));
        let mut mine = Vec::new();
        self.d.on_event(event, &mut mine);
        self.pass(mine, out);
    }

    fn on_watermark(&mut self, watermark_ms: i64, out: &mut dyn CaseSink) {
        self.steps
            .lock()
            .unwrap()
            .push(Step::Watermark(watermark_ms));
        let mut mine = Vec::new();
        self.d.on_watermark(watermark_ms, &mut mine);
        self.pass(mine, out);
    }

    fn finish(&mut self, out: &mut dyn CaseSink) {
        let mut mine = Vec::new();
        self.d.finish(&mut mine);
        self.pass(mine, out);
    }
}

/// The one-task detector's input and cases over a simulated scenario's SMS-volume
/// records, through the replay's pipeline.
fn one_task(variant: &str, seed: u64) -> (Vec<Step>, Vec<Case>) {
    let (dir, truth) = small_scenario(variant, seed);
    let config = Config::default();
    let steps = Arc::new(Mutex::new(Vec::new()));
    let cases = Arc::new(Mutex::new(Vec::new()));
    let recorder = Recorder {
        d: SpamDetector::new(config.spam.clone(), Allowlist::empty()).expect("valid"),
        steps: steps.clone(),
        cases: cases.clone(),
    };
    let mut pipeline = Pipeline::from_config(vec![Box::new(recorder)], &config.pipeline);
    feed_file(
        &mut pipeline,
        Feed::SmsVolume,
        &dir.path().join("sms_volume.jsonl"),
        truth.end_ms,
        config.pipeline.allowed_lateness_ms(),
    );
    let steps = std::mem::take(&mut *steps.lock().unwrap());
    let cases = std::mem::take(&mut *cases.lock().unwrap());
    (steps, cases)
}

/// Stage B fed the tasks' pending forwards: merged in canonical order (`sorted`), or
/// task after task.
fn deliver(b: &mut CrossSim, pending: &mut [Vec<SimForward>], sorted: bool, cases: &mut Vec<Case>) {
    let mut merged: Vec<SimForward> = pending.iter_mut().flat_map(std::mem::take).collect();
    if sorted {
        merged.sort_by(canonical_cmp);
    }
    let mut none: Vec<Never> = Vec::new();
    for m in &merged {
        b.on_message(m, &mut Emit::new(cases, &mut none));
    }
}

/// Stage A as `n` tasks and one stage B over the one-task detector's input: B's
/// cases, and B's flush (twice) before its end of input.
fn split(config: &SpamConfig, steps: &[Step], n: usize, sorted: bool) -> Vec<Case> {
    let specs = Specs::new(
        config.short_window_secs,
        config.medium_window_secs,
        config.long_window_secs,
    )
    .expect("valid windows");
    let mut tasks: Vec<SimStage> = (0..n)
        .map(|_| SimStage::new(config, specs, Allowlist::empty()))
        .collect();
    let mut b = CrossSim::new(config);
    let mut pending: Vec<Vec<SimForward>> = vec![Vec::new(); n];
    let (mut cases, mut none_a) = (Vec::new(), Vec::new());
    for step in steps {
        match step {
            Step::Record(e) => {
                let t = (e.route_key() % n as u64) as usize;
                tasks[t].on_message(e, &mut Emit::new(&mut none_a, &mut pending[t]));
            }
            Step::Watermark(w) => {
                for (task, p) in tasks.iter_mut().zip(pending.iter_mut()) {
                    Stage::on_watermark(task, *w, &mut Emit::new(&mut none_a, p));
                }
                deliver(&mut b, &mut pending, sorted, &mut cases);
                let mut none: Vec<Never> = Vec::new();
                Stage::on_watermark(&mut b, *w, &mut Emit::new(&mut cases, &mut none));
            }
        }
    }
    deliver(&mut b, &mut pending, sorted, &mut cases);
    assert!(none_a.is_empty(), "stage A emits no case");
    let flushed = [(); 2].map(|_| {
        let (mut out, mut none) = (Vec::new(), Vec::<Never>::new());
        Stage::flush(&mut b, &mut Emit::new(&mut out, &mut none));
        out
    });
    let before = cases.len();
    b.finish(&mut cases);
    eprintln!(
        "{n} tasks: {} snapshots at the end of input",
        cases.len() - before
    );
    assert_eq!(flushed[0], flushed[1], "a flush changes nothing");
    assert_eq!(
        flushed[0],
        cases[before..],
        "a flush gives the end of input's snapshots"
    );
    cases
}

#[test]
fn stage_a_as_several_tasks_merged_in_canonical_order_gives_the_one_task_cases() {
    let config = Config::default().spam;
    for (variant, seed, kind) in [
        ("baseline", 1, CaseKind::SpamSim),
        ("farm_spread", 1, CaseKind::SimFarm),
    ] {
        let (steps, want) = one_task(variant, seed);
        eprintln!(
            "{variant}: {} case snapshots, {} records",
            want.len(),
            steps
                .iter()
                .filter(|s| matches!(s, Step::Record(_)))
                .count()
        );
        assert!(
            want.iter().filter(|c| c.kind == kind).count() >= 2,
            "{variant}: the scenario makes {kind:?} cases"
        );
        for n in [1usize, 3, 4] {
            let got = split(&config, &steps, n, true);
            assert_eq!(
                got.len(),
                want.len(),
                "{variant}, {n} tasks: as many snapshots"
            );
            assert!(
                got == want,
                "{variant}, {n} tasks: the one-task snapshots, in order"
            );
        }
        let unsorted = split(&config, &steps, 3, false);
        assert!(
            unsorted != want,
            "{variant}: without the merge's sort stage B sees another sequence"
        );
    }
}
