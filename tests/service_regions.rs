//! The fake-BTS stage B keyed by region with real `cellwatch run` processes on the
//! real broker and ClickHouse: `[kafka] measurement_partitions = 3` (stage A on
//! three `meas-by-cell` partitions) and `transmitter_partitions = 3` (stage B keyed
//! by tile on three partitions of the transmitters topic, a task per partition,
//! spread over the instances), tiles of 8 km with 3 km of margin
//! (`[fakebts.regions]`, set in the instances' configuration and the replay's), so
//! the scenario's city is several tiles on each partition. The scenario is the
//! default one of seed 36, where, before a fake-BTS case id named its tile, two
//! tiles on different partitions emitted one id and the cases topic's last message
//! for it depended on which instance produced last (`service::region_tests`
//! checks in process that no id is shared now). Three instances started in
//! random order on empty topics while a producer writes the scenario; then a
//! stage-B owner SIGKILLed mid-stream and restarted. The result must be exactly
//! the replay's (every final case as a whole, the cases topic, dead letters by
//! origin, every valid record archived). The fixture and comparisons are in
//! `procs/`.

mod common;
mod procs;

use procs::{
    assert_equals_the_replay, detect_partitions, log_fields, wait_any, Fixture, Instance, Setup,
    PARTITIONS,
};
use std::time::{Duration, Instant};

/// Partitions of `meas-by-cell` and of the transmitters topic.
const SPLIT: i32 = 3;
/// `[fakebts.regions]`: tile and margin, km.
const REGIONS: (f64, f64) = (8.0, 3.0);

async fn fixture(seed: u64) -> Fixture {
    let mut setup = Setup::shared(seed, PARTITIONS, true);
    setup.measurement_partitions = SPLIT;
    setup.transmitter_partitions = SPLIT;
    setup.regions = Some(REGIONS);
    Fixture::setup(setup).await
}

/// The transmitter partitions `i` owns now (its last stage-B-group assignment).
fn stage_b_partitions(i: &Instance) -> u64 {
    let mut owned = 0;
    for fields in log_fields(i) {
        let group = fields["group"].as_str().unwrap_or_default();
        if !group.ends_with("-transmitters") {
            continue;
        }
        match fields["message"].as_str() {
            Some("partitions assigned") => owned = fields["partitions"].as_u64().unwrap_or(0),
            Some("partitions revoked") => owned = 0,
            _ => {}
        }
    }
    owned
}

/// Wait until the transmitter partitions are owned, over at least `spread`
/// instances, and stage detect's 1 + 3 partitions are owned.
fn wait_spread(instances: &[Instance], spread: usize, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let b: Vec<u64> = instances.iter().map(stage_b_partitions).collect();
        let detect: u64 = instances.iter().map(detect_partitions).sum();
        if b.iter().sum::<u64>() == SPLIT as u64
            && b.iter().filter(|n| **n > 0).count() >= spread
            && detect == 1 + SPLIT as u64
        {
            eprintln!("transmitter partitions per instance: {b:?}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "stage B not spread over {spread} instances: {b:?}, detect {detect}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Records read again by `i`'s stage-B rebuilds.
fn stage_b_rebuilt(i: &Instance) -> u64 {
    log_fields(i)
        .iter()
        .filter(|f| f["message"] == "detector state rebuilt" && f["stage"] == "transmitters")
        .map(|f| f["records"].as_u64().unwrap_or(0))
        .sum()
}

/// Every stage-B task's final snapshots: each of the three partitions' owners logs
/// `every stage-A partition finished` once its tasks have; then the sinks, then stop.
fn finish(mut instances: Vec<Instance>) {
    let produced = Instant::now();
    wait_any(&mut instances, "every stage-A partition finished", 240);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let finished = instances
            .iter()
            .filter(|i| stage_b_partitions(i) > 0)
            .all(|i| {
                let text = std::fs::read_to_string(&i.log).unwrap_or_default();
                text.contains("every stage-A partition finished")
            });
        if finished {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every stage-B owner finished"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "every stage-B owner finished {:?} after the last record was produced",
        produced.elapsed()
    );
    std::thread::sleep(Duration::from_secs(3));
    for i in instances {
        i.terminate(30);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_with_stage_b_on_three_tile_partitions_give_the_replays_cases() {
    let f = fixture(36).await;
    let (producing, placement) = f.produce(30, None);
    let instances = f.spawn_three_shuffled("cw-regions");
    wait_spread(&instances, 2, 120);
    producing.join().unwrap();
    finish(instances);
    assert_equals_the_replay(&f, &placement).await;
}

/// An instance owning transmitter partitions SIGKILLed mid-stream and restarted at
/// once with its `group_instance_id`: it gets them back and rebuilds each from its
/// partition's history; the cases are the replay's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_b_owner_killed_and_restarted_gives_the_replays_cases() {
    let f = fixture(36).await;
    let (producing, placement) = f.produce(45, None);
    let mut instances = f.spawn_three_shuffled("cw-regions-kill");
    wait_spread(&instances, 2, 120);
    // Let stage B apply and commit some of the stream first.
    std::thread::sleep(Duration::from_secs(4));
    let v = instances
        .iter()
        .position(|i| stage_b_partitions(i) > 0)
        .expect("a stage-B owner");
    let owner = instances.remove(v);
    let id = owner.id.clone();
    eprintln!(
        "killing {id} ({} transmitter partitions) mid-stream, restarting it",
        stage_b_partitions(&owner)
    );
    owner.kill();
    let killed = Instant::now();
    instances.push(f.spawn_as(&format!("{id}-restarted"), &id));
    let deadline = Instant::now() + Duration::from_secs(90);
    while stage_b_rebuilt(instances.last().unwrap()) == 0 {
        assert!(
            Instant::now() < deadline,
            "stage B not rebuilt by the restarted instance"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "stage B rebuilt {} transmitters-topic messages, {:?} after the kill",
        stage_b_rebuilt(instances.last().unwrap()),
        killed.elapsed()
    );
    assert!(
        !producing.is_finished(),
        "the restart should come mid-stream (the producer was done already)"
    );
    producing.join().unwrap();
    finish(instances);
    assert_equals_the_replay(&f, &placement).await;
}
