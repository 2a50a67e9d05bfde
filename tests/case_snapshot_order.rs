//! The replay's case merge and ClickHouse's snapshot order agree.
//!
//! The replay folds every snapshot a detector emits into one case per id
//! (`CaseBook::upsert`, `Case::merge_newer`: the newer snapshot wins, the time span only
//! widens). The service instead inserts snapshots into `cases`, a ReplacingMergeTree
//! whose version is derived from the snapshot, in batches of its own choosing, and
//! after a restart it may insert an older batch again (at-least-once). `FINAL` must
//! give the replay's cases whatever the batching and re-deliveries.
//!
//! Property, on real detector output (simulated scenarios through the public
//! pipeline) and a real ClickHouse server: for random splits of the emission sequence
//! into batches — each batch merged per case as the service does before inserting it —
//! with random earlier batches inserted again, `cases FINAL` equals, case by case and
//! as a whole, the `cases.jsonl` that `cellwatch replay` writes for the same files.

mod common;
mod procs;
mod scenario;

use cellwatch::cases::CaseBook;
use cellwatch::config::{ClickHouseConfig, Config};
use cellwatch::detect::setup::RunSetup;
use cellwatch::ingest::Origin;
use cellwatch::model::{Case, Feed, TimeBounds};
use cellwatch::pipeline::Pipeline;
use cellwatch::sink::clickhouse::{migrate, ClickHouse};
use cellwatch::validate::SourceValidator;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::BufRead;
use std::path::Path;

/// Random batchings tried per scenario.
const TRIALS: u64 = 3;

/// Every snapshot the detectors emit for a scenario folder, in emission order.
fn emitted_snapshots(dir: &Path) -> Vec<Case> {
    let config = Config::default();
    let mut setup = RunSetup::build(&config, Some(&dir.join("cells.csv"))).expect("detectors");
    let mut pipeline =
        Pipeline::from_config(std::mem::take(&mut setup.detectors), &config.pipeline);
    let bounds = TimeBounds::from_wall_clock();
    let mut out: Vec<Case> = Vec::new();
    for (feed, file) in [
        (Feed::SmsVolume, "sms_volume.jsonl"),
        (Feed::Measurements, "measurements.jsonl"),
    ] {
        let mut validator =
            SourceValidator::new(feed, bounds, config.pipeline.allowed_lateness_ms());
        let path = dir.join(file);
        let reader = std::io::BufReader::new(std::fs::File::open(&path).expect("scenario file"));
        for (i, line) in reader.split(b'\n').enumerate() {
            let line = line.expect("readable line");
            let origin = Origin::File {
                file: path.display().to_string(),
                line: i as u64 + 1,
            };
            pipeline.process(&mut validator, &line, origin, &mut out);
        }
    }
    pipeline.finish(&mut out);
    out
}

/// Split `snapshots` into random consecutive batches, each merged per case (the
/// service's batch), in order.
fn random_batches(snapshots: &[Case], rng: &mut ChaCha8Rng) -> Vec<Vec<Case>> {
    let mut batches = Vec::new();
    let mut rest = snapshots;
    while !rest.is_empty() {
        let n = rng.random_range(1..=rest.len().min(60));
        let mut book = CaseBook::new();
        for case in &rest[..n] {
            book.upsert(case.clone());
        }
        batches.push(book.into_sorted());
        rest = &rest[n..];
    }
    batches
}

async fn fresh_database(name: &str) -> ClickHouse {
    let ch = ClickHouse::new(ClickHouseConfig {
        url: common::clickhouse_url(),
        database: common::unique_name(name),
        ..Default::default()
    });
    migrate(&ch).await.expect("migrate");
    ch
}

async fn drop_database(ch: &ClickHouse) {
    ch.server_client()
        .query(&format!("DROP DATABASE {}", ch.config().database))
        .execute()
        .await
        .expect("drop test database");
}

/// Every case equal as a whole; the message names the ones that differ.
fn assert_same_cases(got: &[Case], want: &[Case], what: &str) {
    let got = procs::by_id(got);
    let want = procs::by_id(want);
    let differing: Vec<&String> = want
        .keys()
        .chain(got.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|id| got.get(*id) != want.get(*id))
        .collect();
    assert!(
        differing.is_empty(),
        "{what}: {} of {} cases differ, e.g. {:?}\nclickhouse: {}\nreplay:     {}",
        differing.len(),
        want.len(),
        differing.first(),
        differing
            .first()
            .and_then(|id| got.get(*id))
            .map_or("absent".into(), |v| v.to_string()),
        differing
            .first()
            .and_then(|id| want.get(*id))
            .map_or("absent".into(), |v| v.to_string()),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_final_equals_the_replay_merge_for_any_batching_and_redelivery() {
    for seed in [1_u64, 7] {
        let dir = scenario::small(seed).dir;
        let snapshots = emitted_snapshots(dir.path());
        let (replayed, _, _) = procs::replay_files(dir.path(), &dir.path().join("replay"));
        assert!(
            snapshots.len() > replayed.len() && !replayed.is_empty(),
            "seed {seed}: the property needs cases with several snapshots ({} snapshots, {} cases)",
            snapshots.len(),
            replayed.len()
        );
        // The harness is the replay: folding the same sequence gives its cases.
        let mut book = CaseBook::new();
        for case in &snapshots {
            book.upsert(case.clone());
        }
        assert_same_cases(&book.into_sorted(), &replayed, "in-process fold");

        for trial in 0..TRIALS {
            let mut rng = ChaCha8Rng::seed_from_u64(seed * 1_000 + trial);
            let batches = random_batches(&snapshots, &mut rng);
            let ch = fresh_database("cw_snapshot_order").await;
            let mut redelivered = 0;
            for (i, batch) in batches.iter().enumerate() {
                ch.insert_cases(batch).await.expect("insert batch");
                // A restart re-inserts an earlier batch now and then.
                if i > 0 && rng.random_bool(0.2) {
                    let earlier = rng.random_range(0..i);
                    ch.insert_cases(&batches[earlier]).await.expect("re-insert");
                    redelivered += 1;
                }
            }
            let got = ch.fetch_cases().await.expect("fetch cases FINAL");
            let what = format!(
                "seed {seed} trial {trial}: {} snapshots in {} batches, {redelivered} re-deliveries",
                snapshots.len(),
                batches.len()
            );
            assert_same_cases(&got, &replayed, &what);
            drop_database(&ch).await;
        }
    }
}
