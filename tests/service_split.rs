//! The fake-BTS detector distributed over Kafka (`[kafka] measurement_partitions`
//! above 1, experimental) with real `cellwatch run` processes on the real broker and
//! ClickHouse: three instances started in random order on empty topics while a
//! producer writes the scenario, the measurements internal topic in 3 partitions
//! (stage A, per claimed identity, spread over the instances' stage detect), stage B
//! on the transmitters topic in one of them. The result must be exactly the replay's
//! (every final case as a whole, the cases topic, dead letters by origin, every valid
//! record archived) — also with the instance running stage B SIGKILLed mid-stream
//! and not restarted. The fixture and comparisons are in `procs/`.

mod common;
mod procs;

use procs::{
    assert_equals_the_replay, detect_partitions, log_fields, wait_any, Fixture, Instance, Setup,
    PARTITIONS,
};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Partitions of the measurements internal topic.
const MEASUREMENT_PARTITIONS: i32 = 3;

/// Whether `i` runs stage B now (its last transmitters-group event assigned it).
fn owns_stage_b(i: &Instance) -> bool {
    let mut owned = false;
    for fields in log_fields(i) {
        if !fields["group"]
            .as_str()
            .unwrap_or_default()
            .ends_with("-transmitters")
        {
            continue;
        }
        match fields["message"].as_str() {
            Some("partitions assigned") => owned = fields["partitions"].as_u64() > Some(0),
            Some("partitions revoked") => owned = false,
            _ => {}
        }
    }
    owned
}

/// Wait until stage detect's 1 + 3 internal partitions are owned, over at least
/// `spread` instances.
fn wait_detect_spread(instances: &[Instance], spread: usize, secs: u64) {
    let want = 1 + MEASUREMENT_PARTITIONS as u64;
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let owned: Vec<u64> = instances.iter().map(detect_partitions).collect();
        if owned.iter().sum::<u64>() == want && owned.iter().filter(|n| **n > 0).count() >= spread {
            eprintln!("stage detect's partitions per instance: {owned:?}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "stage detect not spread over {spread} instances: {owned:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Wait for stage B's final snapshots (every stage-A partition finished), let them
/// reach the sinks, stop every instance.
fn finish(mut instances: Vec<Instance>) {
    let produced = Instant::now();
    wait_any(&mut instances, "every stage-A partition finished", 240);
    eprintln!(
        "stage B finished {:?} after the last record was produced",
        produced.elapsed()
    );
    std::thread::sleep(Duration::from_secs(3));
    for i in instances {
        i.terminate(30);
    }
}

/// Three instances, started in random order (said in the output).
async fn three(
    seed: u64,
) -> (
    Fixture,
    Vec<Instance>,
    std::thread::JoinHandle<()>,
    procs::Placement,
) {
    let mut setup = Setup::shared(seed, PARTITIONS, true);
    setup.measurement_partitions = MEASUREMENT_PARTITIONS;
    let f = Fixture::setup(setup).await;
    let (producing, placement) = f.produce(30, None);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as usize;
    let mut names = vec!["a", "b", "c"];
    let first = names.remove(nanos % 3);
    let second = names.remove((nanos / 3) % 2);
    let order = [first, second, names[0]];
    eprintln!("start order {order:?}");
    let mut instances = Vec::new();
    for (k, name) in order.iter().enumerate() {
        instances.push(f.spawn_as(name, &format!("cw-split-{name}")));
        std::thread::sleep(Duration::from_millis(500 + 700 * ((nanos >> k) % 3) as u64));
    }
    (f, instances, producing, placement)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage_a_on_three_partitions_over_three_instances_gives_the_replays_cases() {
    let (f, instances, producing, placement) = three(36).await;
    wait_detect_spread(&instances, 3, 90);
    producing.join().unwrap();
    finish(instances);
    assert_equals_the_replay(&f, &placement).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instance_running_stage_b_killed_mid_stream_changes_nothing() {
    let (f, mut instances, producing, placement) = three(37).await;
    wait_detect_spread(&instances, 2, 90);
    let deadline = Instant::now() + Duration::from_secs(60);
    let victim = loop {
        if let Some(v) = instances.iter().position(owns_stage_b) {
            break v;
        }
        assert!(Instant::now() < deadline, "no instance runs stage B");
        std::thread::sleep(Duration::from_millis(200));
    };
    let victim = instances.remove(victim);
    eprintln!(
        "killing {} (stage B, {} detect partitions) mid-stream",
        victim.log.display(),
        detect_partitions(&victim)
    );
    victim.kill();
    // The survivors take its part over once the groups notice (session timeout);
    // stage B rebuilds from the transmitters topic.
    wait_detect_spread(&instances, 1, 120);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !instances.iter().any(owns_stage_b) {
        assert!(Instant::now() < deadline, "no survivor took stage B over");
        std::thread::sleep(Duration::from_millis(200));
    }
    producing.join().unwrap();
    finish(instances);
    assert_equals_the_replay(&f, &placement).await;
}
