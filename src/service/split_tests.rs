//! The fake-BTS detector split over the service's stages, in process (no broker):
//! stage ingest's envelopes (data and step markers) to 3 measurements partitions,
//! stage A in two detect workers (one owning partitions 0 and 2, the other 1) fed
//! in interleaved chunks, their forwards and steps merged into one transmitters
//! log in another interleaving, stage B's worker reading it — gives every fake-BTS
//! snapshot of one process, in order; and again with a stretch of the log delivered
//! twice (a stage-A task that forwarded it again after a restart).

use super::hop::Outbox;
use super::metrics::Metrics;
use super::stage::{DetectState, IngestState, OutMessage, SplitA, Stage};
use super::worker::Worker;
use crate::config::Config;
use crate::detect::setup::RunSetup;
use crate::ingest::OriginRef;
use crate::model::{Case, CaseKind, Feed, TimeBounds};
use crate::pipeline::Pipeline;
use crate::test_support::{feed_file, small_scenario};
use crate::validate::{parse_bytes, Checked, SourceValidator};
use std::collections::BTreeMap;
use std::path::Path;

const PARTITIONS: i32 = 3;

/// The scenario's valid measurements through stage ingest: the messages of each
/// internal partition, in order, ending with the idle markers.
fn ingest(dir: &Path, config: &Config, now_ms: i64) -> BTreeMap<i32, Vec<Vec<u8>>> {
    let mut state = IngestState {
        internal: BTreeMap::from([(Feed::Measurements, ("meas".to_string(), PARTITIONS))]),
        pending: Vec::new(),
        step_ms: config.pipeline.watermark_step_ms(),
        marked: BTreeMap::new(),
    };
    let bounds = TimeBounds::at(now_ms);
    let mut validator = SourceValidator::new(
        Feed::Measurements,
        bounds,
        config.pipeline.allowed_lateness_ms(),
    );
    let bytes = std::fs::read(dir.join("measurements.jsonl")).expect("measurements");
    let mut offset = 0i64;
    for line in bytes.split(|&b| b == b'\n') {
        let parsed = parse_bytes(Feed::Measurements, &bounds, 64, line);
        let origin = OriginRef::Kafka {
            topic: "cw.cell-measurements.v1",
            partition: 0,
            offset,
        };
        if let Checked::Valid(event) = validator.admit(parsed, line, origin) {
            let wm = validator.watermark_ms().unwrap_or(i64::MIN);
            state.forward(event, 0, offset, wm);
        }
        offset += 1;
    }
    state.mark_idle(Feed::Measurements, 0, offset, validator.watermark_ms());
    let mut out: BTreeMap<i32, Vec<Vec<u8>>> = BTreeMap::new();
    for OutMessage {
        partition, payload, ..
    } in state.pending
    {
        out.entry(partition).or_default().push(payload);
    }
    out
}

/// A worker of `stage` reading measurements from `topic`.
fn worker(config: &Config, cells: &Path, topic: &str, stage: Stage) -> Worker {
    let feeds = BTreeMap::from([(topic.to_string(), Feed::Measurements)]);
    let (_, stop) = tokio::sync::watch::channel(false);
    Worker::new(
        config.clone(),
        Some(cells.to_path_buf()),
        Metrics::default(),
        TimeBounds::at(0),
        feeds,
        stop,
        stage,
    )
    .expect("worker")
}

/// A stage-detect worker running stage A on `owned` measurements partitions.
fn stage_a(config: &Config, cells: &Path, owned: &[i32]) -> Worker {
    let stage = Stage::Detect(DetectState {
        split: BTreeMap::from([(
            Feed::Measurements,
            SplitA {
                outbox: Outbox::default(),
                topic: "tx".into(),
            },
        )]),
        upstream: vec![(Feed::Measurements, 0)],
        owned: owned.iter().map(|p| (Feed::Measurements, *p)).collect(),
        ..DetectState::default()
    });
    let mut w = worker(config, cells, "meas", stage);
    w.reset_detect();
    w.live = true;
    w
}

/// The transmitters log: each worker's partitions interleaved `chunk` messages at a
/// time, the workers' outputs interleaved as they come.
fn run_stage_a(
    config: &Config,
    cells: &Path,
    by_partition: &BTreeMap<i32, Vec<Vec<u8>>>,
    chunk: usize,
) -> Vec<Vec<u8>> {
    let mut workers = [
        (stage_a(config, cells, &[0, 2]), vec![0, 2]),
        (stage_a(config, cells, &[1]), vec![1]),
    ];
    let mut next: BTreeMap<i32, usize> = BTreeMap::new();
    let mut log = Vec::new();
    let mut none: Vec<Case> = Vec::new();
    loop {
        let mut progressed = false;
        for (w, parts) in workers.iter_mut() {
            for p in parts.iter() {
                let msgs = &by_partition[p];
                let at = next.entry(*p).or_default();
                for payload in msgs.iter().skip(*at).take(chunk) {
                    w.apply_internal(*p, payload, &mut none);
                    *at += 1;
                    progressed = true;
                }
                log.extend(w.take_forwarded().into_iter().map(|m| m.payload));
            }
        }
        if !progressed {
            break;
        }
    }
    assert!(none.is_empty(), "stage A emits no case");
    log
}

/// Stage B's worker over the log: every snapshot it emits, in order.
fn run_stage_b(config: &Config, cells: &Path, log: &[Vec<u8>]) -> Vec<Case> {
    let task = Worker::new_stage_b(config, Some(cells), Feed::Measurements).expect("stage B");
    let mut w = worker(config, cells, "tx", Stage::Cross(task));
    w.live = true;
    let mut cases: Vec<Case> = Vec::new();
    for payload in log {
        w.apply_hop(payload, &mut cases);
    }
    assert!(!w.live, "stage B finished at the end");
    cases
}

/// One process: the whole fake-BTS detector in the replay's pipeline.
fn one_process(dir: &Path, config: &Config, now_ms: i64) -> Vec<Case> {
    let (_, fakebts) = RunSetup::build_split(config, Some(&dir.join("cells.csv"))).expect("setup");
    let mut pipeline = Pipeline::from_config(vec![Box::new(fakebts)], &config.pipeline);
    feed_file(
        &mut pipeline,
        Feed::Measurements,
        &dir.join("measurements.jsonl"),
        now_ms,
        config.pipeline.allowed_lateness_ms(),
    )
}

#[test]
fn stage_a_on_three_partitions_and_stage_b_give_one_process_snapshots() {
    let (dir, truth) = small_scenario("two_blasters", 3);
    let mut config = Config::default();
    config.kafka.measurement_partitions = PARTITIONS;
    let cells = dir.path().join("cells.csv");
    let want = one_process(dir.path(), &config, truth.end_ms);
    assert!(want.iter().filter(|c| c.kind == CaseKind::FakeBts).count() >= 2);
    let by_partition = ingest(dir.path(), &config, truth.end_ms);
    assert_eq!(
        by_partition.len(),
        PARTITIONS as usize,
        "every partition has events"
    );
    for chunk in [1usize, 97, 5_000] {
        let log = run_stage_a(&config, &cells, &by_partition, chunk);
        let got = run_stage_b(&config, &cells, &log);
        assert_eq!(got.len(), want.len(), "chunk {chunk}: as many snapshots");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w, "chunk {chunk}");
        }
        // A stretch forwarded twice (before its end): the same snapshots.
        let (cut, len) = (log.len() / 2, log.len() / 10);
        let mut again = log[..cut + len].to_vec();
        again.extend_from_slice(&log[cut..]);
        assert_eq!(
            run_stage_b(&config, &cells, &again),
            want,
            "chunk {chunk}, redelivered"
        );
    }
}

/// The transmitters log of stage A fed everything but the idle markers (a SIGTERM
/// once the input is accounted for, long before quiescence), each worker then
/// finished as the stop path does: its held reports forwarded and its partitions'
/// `Finished` markers, which give stage B its final snapshots.
fn run_stage_a_then_finish(
    config: &Config,
    cells: &Path,
    by_partition: &BTreeMap<i32, Vec<Vec<u8>>>,
) -> Vec<Vec<u8>> {
    let mut log = Vec::new();
    let mut none: Vec<Case> = Vec::new();
    for owned in [vec![1], vec![0, 2]] {
        let mut w = stage_a(config, cells, &owned);
        for p in &owned {
            let msgs = &by_partition[p];
            for payload in &msgs[..msgs.len() - 1] {
                w.apply_internal(*p, payload, &mut none);
            }
            log.extend(w.take_forwarded().into_iter().map(|m| m.payload));
        }
        assert!(w.live, "not quiescent without the idle markers");
        w.finish(&mut none, "shutdown");
        log.extend(w.take_forwarded().into_iter().map(|m| m.payload));
    }
    assert!(none.is_empty(), "stage A emits no case");
    log
}

#[test]
fn stage_a_finished_at_sigterm_gives_stage_b_the_final_snapshots() {
    let (dir, truth) = small_scenario("two_blasters", 3);
    let mut config = Config::default();
    config.kafka.measurement_partitions = PARTITIONS;
    let cells = dir.path().join("cells.csv");
    let want = one_process(dir.path(), &config, truth.end_ms);
    let by_partition = ingest(dir.path(), &config, truth.end_ms);
    let log = run_stage_a_then_finish(&config, &cells, &by_partition);
    assert_eq!(run_stage_b(&config, &cells, &log), want);
    // Without stage A's finish, stage B never finishes (its run asserts it does).
    let unfinished: Vec<Vec<u8>> = log
        .iter()
        .filter(|m| {
            !matches!(
                super::hop::Hop::<crate::detect::fakebts::forward::Forward>::decode(m),
                Ok(super::hop::Hop::Finished { .. })
            )
        })
        .cloned()
        .collect();
    let task = Worker::new_stage_b(&config, Some(&cells), Feed::Measurements).expect("stage B");
    let mut b = worker(&config, &cells, "tx", Stage::Cross(task));
    b.live = true;
    let mut cases: Vec<Case> = Vec::new();
    for payload in &unfinished {
        b.apply_hop(payload, &mut cases);
    }
    assert!(
        b.live,
        "no final snapshots without every stage-A task's end"
    );
    assert_eq!(b.unfinished_stage_a(), Some(vec![0, 1, 2]));
}

/// Partitions revoked from a stage-A worker leave nothing behind: a later stop
/// finishes no state of theirs, and no `Finished` marker goes to stage B for
/// partitions the worker no longer owns (their new owner is still running them).
#[test]
fn revoked_stage_a_partitions_leave_nothing_to_finish() {
    let (dir, truth) = small_scenario("two_blasters", 3);
    let mut config = Config::default();
    config.kafka.measurement_partitions = PARTITIONS;
    let cells = dir.path().join("cells.csv");
    let by_partition = ingest(dir.path(), &config, truth.end_ms);
    let mut w = stage_a(&config, &cells, &[0, 2]);
    let mut none: Vec<Case> = Vec::new();
    for p in [0, 2] {
        let msgs = &by_partition[&p];
        for payload in &msgs[..msgs.len() / 2] {
            w.apply_internal(p, payload, &mut none);
        }
    }
    assert!(
        w.pipeline.held_events() > 0,
        "reports held before the revocation"
    );
    w.take_forwarded();
    w.release(&[("meas".to_string(), 0), ("meas".to_string(), 2)])
        .expect("release");
    assert_eq!(w.pipeline.held_events(), 0, "the revoked reports forgotten");
    w.finish(&mut none, "shutdown");
    let after: Vec<Vec<u8>> = w.take_forwarded().into_iter().map(|m| m.payload).collect();
    assert!(
        after.is_empty(),
        "{} messages for stage B from partitions no longer owned",
        after.len()
    );
    assert!(none.is_empty());
}
