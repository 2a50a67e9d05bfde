//! The proof that the split into stages is exact: stage A run as N separate tasks
//! (each report to task `route_key mod N`), their forwards merged in canonical order
//! before each watermark reaches stage B, gives exactly the cases (every snapshot, in
//! order) and findings of the detector running both stages as one task, on a
//! simulated scenario through the real pipeline; and that a normal report reaches
//! stage B as a marker when a transmitter carries its identity on another channel.

use super::forward::Forward;
use super::identities::IdentityStage;
use super::index::{CellIndex, Site};
use super::regional::Regions;
use super::FakeBtsDetector;
use crate::config::Config;
use crate::detect::stage::{canonical_cmp, Emit, Message, Stage};
use crate::detect::{CaseSink, Detector};
use crate::inventory::Inventory;
use crate::model::{Case, CaseKind, Event, Feed};
use crate::pipeline::Pipeline;
use crate::test_support::{feed_file, small_scenario};
use std::sync::{Arc, Mutex};

/// Stage A as `n` tasks and stage B fed with their merged forwards.
struct Sharded {
    tasks: Vec<IdentityStage>,
    /// Forwards of each task since the last watermark, in the order produced.
    pending: Vec<Vec<Forward>>,
    b: Regions,
    /// Reports each task was given, and forwards stage B received.
    counts: Arc<Mutex<(Vec<u64>, u64)>>,
}

impl Sharded {
    fn new(n: usize, config: &Config, inventory: &Inventory) -> Self {
        let index = || CellIndex::from_sites(inventory.iter_sorted().map(Site::from));
        Sharded {
            tasks: (0..n)
                .map(|_| IdentityStage::new(config.fakebts.clone(), index()))
                .collect(),
            pending: vec![Vec::new(); n],
            b: Regions::new(config.fakebts.clone(), &index()),
            counts: Arc::new(Mutex::new((vec![0; n], 0))),
        }
    }

    /// Stage B takes every pending forward, in canonical order: the tasks' lists are
    /// each in order; a stable sort of their concatenation is their merge.
    fn drain(&mut self, out: &mut dyn CaseSink) {
        let mut merged: Vec<Forward> = self.pending.iter_mut().flat_map(std::mem::take).collect();
        merged.sort_by(canonical_cmp);
        self.counts.lock().unwrap().1 += merged.len() as u64;
        for f in &merged {
            self.b.on_forward(f, out);
        }
    }
}

impl Detector for Sharded {
    fn name(&self) -> &'static str {
        "fake_bts"
    }

    fn feed(&self) -> Option<Feed> {
        Some(Feed::Measurements)
    }

    fn on_event(&mut self, event: &Event, _out: &mut dyn CaseSink) {
        let k = (event.route_key() % self.tasks.len() as u64) as usize;
        self.counts.lock().unwrap().0[k] += 1;
        let mut none: Vec<Case> = Vec::new();
        let mut emit = Emit::new(&mut none, &mut self.pending[k]);
        self.tasks[k].on_message(event, &mut emit);
        assert!(none.is_empty(), "stage A emits no case");
    }

    /// Every task hears the watermark (each forwards what it has first); stage B's
    /// watermark is the minimum over the tasks, the same here.
    fn on_watermark(&mut self, watermark_ms: i64, out: &mut dyn CaseSink) {
        self.drain(out);
        let mut none: Vec<Case> = Vec::new();
        for (task, pending) in self.tasks.iter_mut().zip(self.pending.iter_mut()) {
            task.on_watermark(watermark_ms, &mut Emit::new(&mut none, pending));
        }
        self.drain(out);
        self.b.advance(watermark_ms, out);
    }

    fn finish(&mut self, out: &mut dyn CaseSink) {
        self.drain(out);
        self.b.finish_all(out);
        for task in &mut self.tasks {
            task.finish_all();
        }
    }

    fn findings(&self) -> Vec<serde_json::Value> {
        self.tasks
            .iter()
            .flat_map(Stage::findings)
            .chain(Stage::findings(&self.b))
            .collect()
    }
}

/// Every snapshot a detector emits, in order, and its findings (sorted), over the
/// scenario's measurements through the replay's pipeline.
fn run(
    detector: Box<dyn Detector>,
    dir: &std::path::Path,
    now_ms: i64,
) -> (Vec<Case>, Vec<String>) {
    let config = Config::default();
    let mut pipeline = Pipeline::from_config(vec![detector], &config.pipeline);
    let cases = feed_file(
        &mut pipeline,
        Feed::Measurements,
        &dir.join("measurements.jsonl"),
        now_ms,
        config.pipeline.allowed_lateness_ms(),
    );
    let mut findings: Vec<String> = pipeline.detectors()[0]
        .findings()
        .iter()
        .map(|f| f.to_string())
        .collect();
    findings.sort();
    (cases, findings)
}

#[test]
fn stage_a_on_n_tasks_gives_the_one_task_cases_exactly() {
    let (dir, truth) = small_scenario("two_blasters", 3);
    let config = Config::default();
    let (inventory, _) =
        Inventory::load_csv_with(dir.path().join("cells.csv"), &config.inventory).expect("cells");
    let one = FakeBtsDetector::new(config.fakebts.clone(), inventory.clone()).expect("valid");
    let (want, want_findings) = run(Box::new(one), dir.path(), truth.end_ms);
    let opened = want.iter().filter(|c| c.kind == CaseKind::FakeBts).count();
    assert!(opened >= 2, "the scenario's blasters make cases: {opened}");
    for n in [1usize, 3, 4] {
        let sharded = Sharded::new(n, &config, &inventory);
        let counts = sharded.counts.clone();
        let (got, got_findings) = run(Box::new(sharded), dir.path(), truth.end_ms);
        let (per_task, forwarded) = counts.lock().unwrap().clone();
        assert!(
            per_task.iter().all(|&c| c > 0),
            "every task has reports: {per_task:?}"
        );
        let reports: u64 = per_task.iter().sum();
        assert!(
            forwarded > 0 && forwarded < reports,
            "{forwarded} of {reports}"
        );
        assert_eq!(got.len(), want.len(), "{n} tasks: as many snapshots");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w, "{n} tasks");
        }
        assert!(!want_findings.is_empty());
        assert_eq!(got_findings, want_findings, "{n} tasks: the same findings");
    }
}

/// A blaster copying a registered cell off its channel, then the real cell heard
/// normally on its own: the normal report reaches stage B as a marker and flags the
/// blaster's transmitter as having duplicated the identity at that report's time.
#[test]
fn a_normal_report_after_a_copy_off_channel_marks_the_copy_duplicated() {
    use super::tests::{city, report, T0};
    use crate::config::FakeBtsConfig;
    let real = city()[60];
    let registered = real.arfcn.expect("a channel");
    let mut d =
        FakeBtsDetector::with_index(FakeBtsConfig::default(), CellIndex::from_sites(city()))
            .expect("valid");
    let mut out: Vec<Case> = Vec::new();
    for p in 0..5u32 {
        let mut m = report(
            p,
            i64::from(p) * 10,
            8_000.0,
            0.0,
            real.key,
            registered + 30,
        );
        m.cipher = Some("A5/0".into());
        m.neighbors = Some(0);
        d.on_measurement(&m, &mut out);
    }
    let copy = |d: &FakeBtsDetector| {
        let e = d
            .transmitters
            .first()
            .emitters
            .values()
            .next()
            .expect("a transmitter");
        (d.transmitters.first().emitters.len(), e.duplicate_seen_ms)
    };
    assert_eq!(
        copy(&d),
        (1, None),
        "one transmitter, nothing heard on another channel"
    );
    let normal = report(9, 100, 50.0, 0.0, real.key, registered);
    d.on_measurement(&normal, &mut out);
    assert_eq!(copy(&d), (1, Some(T0 + 100_000)));
}

/// Stage B's `flush` emits the snapshot each open case's retirement would, on
/// copies: twice in a row the same, and the end of input then emits it again.
#[test]
fn flush_emits_the_final_snapshots_without_changing_state() {
    use super::tests::cloning_blaster;
    use crate::config::FakeBtsConfig;
    let (mut v, _) = cloning_blaster(40);
    v.sort_by_key(|m| m.ts_ms);
    let mut d = FakeBtsDetector::with_index(
        FakeBtsConfig::default(),
        CellIndex::from_sites(super::tests::city()),
    )
    .expect("valid");
    let mut out: Vec<Case> = Vec::new();
    for m in &v {
        d.on_measurement(m, &mut out);
    }
    let flush = |d: &mut FakeBtsDetector| {
        let (mut cases, mut none): (Vec<Case>, Vec<crate::detect::stage::Never>) =
            (Vec::new(), Vec::new());
        Stage::flush(&mut d.transmitters, &mut Emit::new(&mut cases, &mut none));
        cases
    };
    let first = flush(&mut d);
    assert!(!first.is_empty(), "the blaster has a case");
    assert_eq!(flush(&mut d), first, "flush changes nothing");
    let mut finals: Vec<Case> = Vec::new();
    d.finish_all(&mut finals);
    assert_eq!(finals, first);
}
