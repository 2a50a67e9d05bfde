//! A group consumer stuck outside its group while its broker answers (seen once
//! after a real broker restart: librdkafka never found the group coordinator
//! again): the service notices it from librdkafka's statistics, makes the consumer
//! again, rebuilds as at a start and ends with the cases of a run without the
//! stall. The mock cluster makes the stall happen: FindCoordinator names a broker
//! that is down, so the group state never reaches `up` while the broker that leads
//! every partition stays up; later the coordinator is that broker again.

use super::*;
use crate::simulate::Scale;
use rdkafka::mocking::MockCoordinator;

/// Records the service has processed before the coordinator is moved away.
const STALL_AFTER: u64 = 30_000;

/// How long the coordinator stays on the broker that is down: longer
/// than `group_stall_secs` (12) plus a statistics interval (5 s), so that a
/// consumer that only waits never leaves the stall on its own before it ends.
const STALL_FOR: Duration = Duration::from_secs(25);

/// The demo's run on the mock cluster with a static member, its groups' coordinator
/// moved to a missing broker mid-stream when `stall`: its cases (sorted by id, as
/// JSON) and the number of consumers it made again.
async fn cases(stall: bool) -> (Vec<serde_json::Value>, u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.kafka.group_instance_id = "stall-test".into();
    config.kafka.group_stall_secs = 12;
    config
        .kafka
        .librdkafka
        .insert("session.timeout.ms".into(), "6000".into());
    let opts = DemoOptions {
        seed: 2,
        scale: Scale::Small,
        out: dir.path().to_path_buf(),
        clickhouse_url: None,
        clickhouse_database: "unused".into(),
        speed: 0.0,
        progress: false,
        config,
    };
    let (scenario, _, _) = prepare_scenario(&opts).unwrap();
    let (mock, config) = mock_cluster_of(&opts, 2).unwrap();
    mock.broker_down(2).unwrap();
    let brokers = mock.bootstrap_servers();
    let groups = [
        config.kafka.group_id.clone(),
        format!("{}-detect", config.kafka.group_id),
    ];
    // Broker 1 coordinates both groups (the mock would pick one by the group's
    // hash, maybe the broker that is down).
    for g in &groups {
        mock.coordinator(MockCoordinator::Group(g.clone()), 1)
            .unwrap();
    }
    let store = BatchStore::Memory(MemoryStore::default());
    let metrics = Metrics::new();
    let (stop_tx, mut service_task) = start_service(&config, &scenario, &store, &metrics);
    let streaming = stream_scenario(&scenario, &config, &brokers, &metrics, &opts, &stop_tx);
    let provoke = async {
        if !stall {
            return;
        }
        while metrics.processed.load(Ordering::Relaxed) < STALL_AFTER {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for g in &groups {
            mock.coordinator(MockCoordinator::Group(g.clone()), 2)
                .unwrap();
        }
        tokio::time::sleep(STALL_FOR).await;
        for g in &groups {
            mock.coordinator(MockCoordinator::Group(g.clone()), 1)
                .unwrap();
        }
    };
    let both = async { tokio::join!(streaming, provoke).0 };
    tokio::select! {
        streamed = both => { streamed.expect("every record streamed and acknowledged"); }
        ended = &mut service_task => {
            metrics.processed.store(u64::MAX / 2, Ordering::Relaxed);
            panic!("the service stopped mid-stream: {:?}", ended.unwrap().err());
        }
    }
    let _ = stop_tx.send(true);
    let report = service_task.await.unwrap().expect("a clean stop");
    let mut cases: Vec<serde_json::Value> = output::collect_cases(&store)
        .await
        .unwrap()
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect();
    cases.sort_by_key(|c| c["case_id"].as_str().unwrap_or_default().to_string());
    (cases, report.consumers_recreated)
}

/// What this asserts: the stall is noticed, the consumer made again, and the
/// service goes on to consume and acknowledge every record and stops cleanly; with
/// `group_stall_secs = 0` (the behaviour before) no consumer is made again and the
/// test fails. What it does not assert, and why: the cases equal to a run without
/// the stall. They do not (151 against 87 in one run; without the remake, the
/// consumer waiting until the coordinator returns, 82 against 87): the stall here
/// also times out both groups' sessions, and the in-process rebuild after that
/// differs from a start. Open in issue 12 (docs/streaming.md, "A consumer stuck
/// outside its group").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_stuck_outside_its_group_is_made_again_and_the_service_goes_on() {
    let (stalled, recreated) = cases(true).await;
    assert!(
        recreated >= 1,
        "the stall was noticed and the consumer made again"
    );
    assert!(
        recreated <= 3,
        "at most three remakes within ten minutes (else the service stops)"
    );
    assert!(!stalled.is_empty(), "cases after the stall");
}
