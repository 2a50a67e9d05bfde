//! A detector split over the service's stages, in process (no broker): stage
//! ingest's envelopes (data and step markers) to 3 internal partitions of its feed,
//! stage A in two detect workers (one owning partitions 0 and 2, the other 1) fed
//! in interleaved chunks, their forwards and steps merged into one stage-B log in
//! another interleaving, stage B's worker reading it — gives every snapshot of one
//! process, in order; and again with a stretch of the log delivered twice (a
//! stage-A task that forwarded it again after a restart). For the fake-BTS detector
//! (measurements) and the spam detector (SMS volume).

use super::hop::{Hop, Outbox};
use super::metrics::Metrics;
use super::outputs::Batch;
use super::stage::{DetectState, IngestState, OutMessage, SplitA, Stage};
use super::worker::Worker;
use crate::config::Config;
use crate::detect::setup::RunSetup;
use crate::detect::stage::Never;
use crate::ingest::OriginRef;
use crate::model::{Case, CaseKind, Feed, TimeBounds};
use crate::pipeline::Pipeline;
use crate::test_support::{feed_file, small_scenario};
use crate::validate::{parse_bytes, Checked, SourceValidator};
use std::collections::BTreeMap;
use std::path::Path;

const PARTITIONS: i32 = 3;
/// Partitions of the feed topic upstream (sources of the internal partitions).
const SOURCES: i32 = 4;

/// The scenario file and the internal topic of each feed.
fn file(feed: Feed) -> &'static str {
    match feed {
        Feed::Measurements => "measurements.jsonl",
        Feed::SmsVolume => "sms_volume.jsonl",
    }
}

fn topic(feed: Feed) -> &'static str {
    match feed {
        Feed::Measurements => "meas",
        Feed::SmsVolume => "sms",
    }
}

/// The configuration with `feed` over [`PARTITIONS`] partitions.
fn split_config(feed: Feed) -> Config {
    let mut config = Config::default();
    match feed {
        Feed::Measurements => config.kafka.measurement_partitions = PARTITIONS,
        Feed::SmsVolume => config.kafka.sms_partitions = PARTITIONS,
    }
    config
}

/// The scenario's valid records of `feed` through stage ingest: the messages of
/// each internal partition, in order, ending with the idle markers.
pub(super) fn ingest(
    dir: &Path,
    config: &Config,
    now_ms: i64,
    feed: Feed,
) -> BTreeMap<i32, Vec<Vec<u8>>> {
    let mut state = IngestState {
        internal: BTreeMap::from([(feed, (topic(feed).to_string(), PARTITIONS))]),
        pending: Vec::new(),
        step_ms: config.pipeline.watermark_step_ms(),
        marked: BTreeMap::new(),
    };
    let bounds = TimeBounds::at(now_ms);
    let lateness = config.pipeline.allowed_lateness_ms();
    let mut validators: Vec<SourceValidator> = (0..SOURCES)
        .map(|_| SourceValidator::new(feed, bounds, lateness))
        .collect();
    let bytes = std::fs::read(dir.join(file(feed))).expect("scenario file");
    let mut offsets = [0i64; SOURCES as usize];
    for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
        // Lines in turn to the feed's partitions, as a producer without keys.
        let source = (n % SOURCES as usize) as i32;
        let (validator, offset) = (&mut validators[source as usize], offsets[source as usize]);
        let parsed = parse_bytes(feed, &bounds, 64, line);
        let origin = OriginRef::Kafka {
            topic: "feed",
            partition: source,
            offset,
        };
        if let Checked::Valid(event) = validator.admit(parsed, line, origin) {
            let wm = validator.watermark_ms().unwrap_or(i64::MIN);
            state.forward(event, source, offset, wm);
        }
        offsets[source as usize] += 1;
    }
    for (source, validator) in validators.iter().enumerate() {
        let next = offsets[source];
        state.mark_idle(feed, source as i32, next, validator.watermark_ms());
    }
    let mut out: BTreeMap<i32, Vec<Vec<u8>>> = BTreeMap::new();
    for OutMessage {
        partition, payload, ..
    } in state.pending
    {
        out.entry(partition).or_default().push(payload);
    }
    out
}

/// A worker of `stage` reading `feed`'s records from `topic`.
fn worker(config: &Config, cells: &Path, (topic, feed): (&str, Feed), stage: Stage) -> Worker {
    let feeds = BTreeMap::from([(topic.to_string(), feed)]);
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

/// A stage-detect worker running `feed`'s stage A on `owned` partitions.
fn stage_a(config: &Config, cells: &Path, owned: &[i32], feed: Feed) -> Worker {
    let stage = Stage::Detect(DetectState {
        split: BTreeMap::from([(
            feed,
            SplitA {
                outbox: Outbox::default(),
                topic: "b".into(),
            },
        )]),
        upstream: (0..SOURCES).map(|s| (feed, s)).collect(),
        owned: owned.iter().map(|p| (feed, *p)).collect(),
        ..DetectState::default()
    });
    let mut w = worker(config, cells, (topic(feed), feed), stage);
    w.reset_detect();
    w.live = true;
    w
}

/// The stage-B log: each worker's partitions interleaved `chunk` messages at a
/// time, the workers' outputs interleaved as they come.
fn run_stage_a(
    config: &Config,
    cells: &Path,
    by_partition: &BTreeMap<i32, Vec<Vec<u8>>>,
    chunk: usize,
    feed: Feed,
) -> Vec<Vec<u8>> {
    let mut workers = [
        (stage_a(config, cells, &[0, 2], feed), vec![0, 2]),
        (stage_a(config, cells, &[1], feed), vec![1]),
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

/// `feed`'s stage-B worker over the log.
fn stage_b(config: &Config, cells: &Path, feed: Feed) -> Worker {
    let task = Worker::new_stage_b(config, Some(cells), feed).expect("stage B");
    worker(config, cells, ("b", feed), Stage::Cross(task))
}

/// Stage B's worker over the log: every snapshot it emits, in order.
fn run_stage_b(config: &Config, cells: &Path, log: &[Vec<u8>], feed: Feed) -> Vec<Case> {
    let mut w = stage_b(config, cells, feed);
    w.live = true;
    let mut cases: Vec<Case> = Vec::new();
    for payload in log {
        w.apply_hop(payload, &mut cases);
    }
    assert!(!w.live, "stage B finished at the end");
    cases
}

/// One process: the whole detector of `feed` in the replay's pipeline.
fn one_process(dir: &Path, config: &Config, now_ms: i64, feed: Feed) -> Vec<Case> {
    let (spam, fakebts) =
        RunSetup::build_split(config, Some(&dir.join("cells.csv"))).expect("setup");
    let detector: Box<dyn crate::detect::Detector> = match feed {
        Feed::Measurements => Box::new(fakebts),
        Feed::SmsVolume => Box::new(spam),
    };
    let mut pipeline = Pipeline::from_config(vec![detector], &config.pipeline);
    feed_file(
        &mut pipeline,
        feed,
        &dir.join(file(feed)),
        now_ms,
        config.pipeline.allowed_lateness_ms(),
    )
}

/// The forwards of a stage-B log (markers decode without the forward's type; a batch
/// holds several), the messages that carry them, and their bytes.
fn forwards_and_bytes(log: &[Vec<u8>]) -> (usize, usize, usize) {
    let carrying: Vec<&Vec<u8>> = log
        .iter()
        .filter(|m| Hop::<Never>::decode(m).is_err())
        .collect();
    let forwards = carrying
        .iter()
        .map(|m| super::hop::frames(m).expect("frames").len())
        .sum();
    let bytes = carrying.iter().map(|m| m.len()).sum();
    (forwards, carrying.len(), bytes)
}

/// Stage A on three partitions over two workers in three interleavings, and a
/// stretch of the log delivered twice: one process's snapshots, in order, with at
/// least `min` cases of `kind`.
fn three_partitions_give_one_process(
    variant: &str,
    seed: u64,
    feed: Feed,
    kind: CaseKind,
    min: usize,
) {
    let (dir, truth) = small_scenario(variant, seed);
    let config = split_config(feed);
    let cells = dir.path().join("cells.csv");
    let want = one_process(dir.path(), &config, truth.end_ms, feed);
    assert!(want.iter().filter(|c| c.kind == kind).count() >= min);
    let by_partition = ingest(dir.path(), &config, truth.end_ms, feed);
    assert_eq!(
        by_partition.len(),
        PARTITIONS as usize,
        "every partition has events"
    );
    for chunk in [1usize, 97, 5_000] {
        let log = run_stage_a(&config, &cells, &by_partition, chunk, feed);
        if chunk == 5_000 {
            let (forwards, carrying, bytes) = forwards_and_bytes(&log);
            eprintln!(
                "{}: {forwards} forwards in {carrying} of {} messages, {} bytes per forward",
                feed.name(),
                log.len(),
                bytes / forwards.max(1)
            );
        }
        let got = run_stage_b(&config, &cells, &log, feed);
        assert_eq!(got.len(), want.len(), "chunk {chunk}: as many snapshots");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w, "chunk {chunk}");
        }
        // A stretch forwarded twice (before its end): the same snapshots.
        let (cut, len) = (log.len() / 2, log.len() / 10);
        let mut again = log[..cut + len].to_vec();
        again.extend_from_slice(&log[cut..]);
        assert_eq!(
            run_stage_b(&config, &cells, &again, feed),
            want,
            "chunk {chunk}, redelivered"
        );
    }
}

#[test]
fn stage_a_on_three_partitions_and_stage_b_give_one_process_snapshots() {
    three_partitions_give_one_process("two_blasters", 3, Feed::Measurements, CaseKind::FakeBts, 2);
}

#[test]
fn spam_stage_a_on_three_partitions_and_stage_b_give_one_process_snapshots() {
    three_partitions_give_one_process("farm_spread", 1, Feed::SmsVolume, CaseKind::SimFarm, 1);
}

/// The stage-B log with every stage-A worker SIGKILLed and restarted: each fed its
/// partitions up to `cut` of their messages (its forwards all produced, though its
/// offsets were committed only up to `committed`), then a fresh worker rebuilt from
/// the partitions' start up to `committed` (what it forwards meanwhile sent again,
/// as the service does) and going on from there to the end.
fn run_stage_a_killed(
    config: &Config,
    cells: &Path,
    by_partition: &BTreeMap<i32, Vec<Vec<u8>>>,
    feed: Feed,
    (committed, cut): (f64, f64),
) -> Vec<Vec<u8>> {
    let mut log = Vec::new();
    let mut none: Vec<Case> = Vec::new();
    let at = |p: &i32, share: f64| (by_partition[p].len() as f64 * share) as usize;
    for owned in [vec![0, 2], vec![1]] {
        let mut w = stage_a(config, cells, &owned, feed);
        for p in &owned {
            for payload in &by_partition[p][..at(p, cut)] {
                w.apply_internal(*p, payload, &mut none);
            }
        }
        log.extend(w.take_forwarded().into_iter().map(|m| m.payload));
        let mut w = stage_a(config, cells, &owned, feed);
        w.live = false;
        for p in &owned {
            for payload in &by_partition[p][..at(p, committed)] {
                w.apply_internal(*p, payload, &mut none);
            }
        }
        w.live = true;
        log.extend(w.take_forwarded().into_iter().map(|m| m.payload));
        for p in &owned {
            for payload in &by_partition[p][at(p, committed)..] {
                w.apply_internal(*p, payload, &mut none);
            }
        }
        log.extend(w.take_forwarded().into_iter().map(|m| m.payload));
    }
    log
}

#[test]
fn spam_stage_a_killed_and_restarted_gives_one_process_snapshots() {
    let feed = Feed::SmsVolume;
    let (dir, truth) = small_scenario("farm_spread", 1);
    let config = split_config(feed);
    let cells = dir.path().join("cells.csv");
    let want = one_process(dir.path(), &config, truth.end_ms, feed);
    let by_partition = ingest(dir.path(), &config, truth.end_ms, feed);
    for cuts in [(0.3, 0.5), (0.5, 0.52)] {
        let log = run_stage_a_killed(&config, &cells, &by_partition, feed, cuts);
        assert_eq!(run_stage_b(&config, &cells, &log, feed), want, "{cuts:?}");
    }
}

/// Feed `w` the messages of `parts` from `from` to `to` (shares of each partition's
/// messages), `chunk` at a time per partition in turn, noting them in `batch` as the
/// service's consumer loop does; what it forwards goes to `log`.
fn feed_range(
    w: &mut Worker,
    by_partition: &BTreeMap<i32, Vec<Vec<u8>>>,
    parts: &[i32],
    (from, to): (f64, f64),
    feed: Feed,
    batch: &mut Batch,
    log: &mut Vec<Vec<u8>>,
) {
    let at = |p: &i32, share: f64| (by_partition[p].len() as f64 * share) as usize;
    let mut next: BTreeMap<i32, usize> = parts.iter().map(|p| (*p, at(p, from))).collect();
    let mut none: Vec<Case> = Vec::new();
    loop {
        let mut progressed = false;
        for p in parts {
            let (start, end) = (next[p], at(p, to));
            for (offset, payload) in by_partition[p]
                .iter()
                .enumerate()
                .take(end)
                .skip(start)
                .take(97)
            {
                w.apply_internal(*p, payload, &mut none);
                batch.note_record(topic(feed), *p, offset as i64);
                *next.get_mut(p).expect("partition") += 1;
                progressed = true;
            }
            log.extend(w.take_forwarded().into_iter().map(|m| m.payload));
        }
        if !progressed {
            break;
        }
    }
    assert!(none.is_empty(), "stage A emits no case");
}

/// A fresh stage-A worker of `owned` rebuilt as the service rebuilds one: each
/// partition re-read from its start to where [`Worker::reread_end`] says, not live
/// meanwhile; what it forwarded goes to stage B again.
fn rebuilt_stage_a(
    config: &Config,
    cells: &Path,
    by_partition: &BTreeMap<i32, Vec<Vec<u8>>>,
    owned: &[i32],
    feed: Feed,
    ends: impl Fn(i32) -> i64,
) -> (Worker, Vec<Vec<u8>>) {
    let mut w = stage_a(config, cells, owned, feed);
    w.live = false;
    let mut none: Vec<Case> = Vec::new();
    for p in owned {
        for payload in &by_partition[p][..ends(*p) as usize] {
            w.apply_internal(*p, payload, &mut none);
        }
    }
    w.live = true;
    let log = w.take_forwarded().into_iter().map(|m| m.payload).collect();
    (w, log)
}

/// The stage-B log of a cooperative rebalance in the middle of the stream: one
/// stage-A worker owns partitions 0, 1 and 2 and has consumed and flushed `cut` of
/// their messages, but the group's committed offsets stayed at `committed` (the
/// commit before the rebuild, inside the rebalance, did not go through). Partition 0
/// moves to a second worker, which rebuilds it up to the committed offset and goes
/// on from there; the first keeps 1 and 2, rebuilds them (a fresh stage A: the moved
/// partition's state must go) up to [`Worker::reread_end`] and goes on from where its
/// consumer stands, `cut`. The two rebuilds' forwards reach stage B in either order
/// (`moved_first`), the rest interleaved.
fn run_stage_a_rebalanced(
    config: &Config,
    cells: &Path,
    by_partition: &BTreeMap<i32, Vec<Vec<u8>>>,
    feed: Feed,
    (committed, cut): (f64, f64),
    moved_first: bool,
) -> Vec<Vec<u8>> {
    let mut log = Vec::new();
    let at = |p: i32, share: f64| (by_partition[&p].len() as f64 * share) as i64;
    let mut a = stage_a(config, cells, &[0, 1, 2], feed);
    let mut batch = Batch::default();
    feed_range(
        &mut a,
        by_partition,
        &[0, 1, 2],
        (0.0, cut),
        feed,
        &mut batch,
        &mut log,
    );
    a.note_flushed(&batch.offsets);
    let kept_end = |p: i32| {
        let key = (topic(feed).to_string(), p);
        let committed = rdkafka::Offset::Offset(at(p, committed));
        a.reread_end(&key, &BTreeMap::new(), committed).unwrap_or(0)
    };
    let (mut kept, kept_log) =
        rebuilt_stage_a(config, cells, by_partition, &[1, 2], feed, kept_end);
    let (mut moved, moved_log) = rebuilt_stage_a(config, cells, by_partition, &[0], feed, |p| {
        at(p, committed)
    });
    if moved_first {
        log.extend(moved_log.into_iter().chain(kept_log));
    } else {
        log.extend(kept_log.into_iter().chain(moved_log));
    }
    let mut batch = Batch::default();
    feed_range(
        &mut moved,
        by_partition,
        &[0],
        (committed, 0.6),
        feed,
        &mut batch,
        &mut log,
    );
    feed_range(
        &mut kept,
        by_partition,
        &[1, 2],
        (cut, 0.6),
        feed,
        &mut batch,
        &mut log,
    );
    feed_range(
        &mut moved,
        by_partition,
        &[0],
        (0.6, 1.0),
        feed,
        &mut batch,
        &mut log,
    );
    feed_range(
        &mut kept,
        by_partition,
        &[1, 2],
        (0.6, 1.0),
        feed,
        &mut batch,
        &mut log,
    );
    log
}

/// A partition moved off a stage-A worker mid-stream while the commit before its
/// rebuild failed: stage B still gets one process's snapshots, whichever rebuild's
/// forwards come first. Seen on the real broker (`tests/service_split.rs`, SIGKILL
/// and restart, 4 of 74 cases differing in `POPULATION_TAIL`): a rebuilt stage A
/// that re-read its kept partitions only up to the committed offsets never saw the
/// records between them and where its consumer went on, so stage B never got their
/// population samples.
#[test]
fn spam_stage_a_keeping_partitions_over_a_failed_commit_gives_one_process_snapshots() {
    let feed = Feed::SmsVolume;
    let (dir, truth) = small_scenario("farm_spread", 1);
    let config = split_config(feed);
    let cells = dir.path().join("cells.csv");
    let want = one_process(dir.path(), &config, truth.end_ms, feed);
    let by_partition = ingest(dir.path(), &config, truth.end_ms, feed);
    for moved_first in [true, false] {
        for cuts in [(0.3, 0.5), (0.45, 0.46)] {
            let log =
                run_stage_a_rebalanced(&config, &cells, &by_partition, feed, cuts, moved_first);
            let got = run_stage_b(&config, &cells, &log, feed);
            let differ = got.iter().zip(&want).filter(|(g, w)| g != w).count();
            assert!(
                got == want,
                "{cuts:?}, moved first {moved_first}: {} snapshots, one process {}, {differ} differ",
                got.len(),
                want.len()
            );
        }
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
    feed: Feed,
) -> Vec<Vec<u8>> {
    let mut log = Vec::new();
    let mut none: Vec<Case> = Vec::new();
    for owned in [vec![1], vec![0, 2]] {
        let mut w = stage_a(config, cells, &owned, feed);
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

/// Stage A finished as at SIGTERM gives stage B the final snapshots of one
/// process; without the `Finished` markers stage B waits for every partition.
fn finished_at_sigterm_gives_final_snapshots(variant: &str, seed: u64, feed: Feed) {
    let (dir, truth) = small_scenario(variant, seed);
    let config = split_config(feed);
    let cells = dir.path().join("cells.csv");
    let want = one_process(dir.path(), &config, truth.end_ms, feed);
    let by_partition = ingest(dir.path(), &config, truth.end_ms, feed);
    let log = run_stage_a_then_finish(&config, &cells, &by_partition, feed);
    assert_eq!(run_stage_b(&config, &cells, &log, feed), want);
    // Without stage A's finish, stage B never finishes (its run asserts it does).
    // Decoded without the forward's type: forwards do not decode, markers do.
    let unfinished: Vec<Vec<u8>> = log
        .iter()
        .filter(|m| !matches!(Hop::<Never>::decode(m), Ok(Hop::Finished { .. })))
        .cloned()
        .collect();
    assert!(unfinished.len() < log.len());
    let mut b = stage_b(&config, &cells, feed);
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

#[test]
fn stage_a_finished_at_sigterm_gives_stage_b_the_final_snapshots() {
    finished_at_sigterm_gives_final_snapshots("two_blasters", 3, Feed::Measurements);
}

#[test]
fn spam_stage_a_finished_at_sigterm_gives_stage_b_the_final_snapshots() {
    finished_at_sigterm_gives_final_snapshots("farm_spread", 1, Feed::SmsVolume);
}

/// Partitions revoked from a stage-A worker leave nothing behind: a later stop
/// finishes no state of theirs, and no `Finished` marker goes to stage B for
/// partitions the worker no longer owns (their new owner is still running them).
#[test]
fn revoked_stage_a_partitions_leave_nothing_to_finish() {
    let (dir, truth) = small_scenario("two_blasters", 3);
    let config = split_config(Feed::Measurements);
    let cells = dir.path().join("cells.csv");
    let by_partition = ingest(dir.path(), &config, truth.end_ms, Feed::Measurements);
    let mut w = stage_a(&config, &cells, &[0, 2], Feed::Measurements);
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
