//! A group consumer stuck outside its group while its broker answers (seen once
//! after a real broker restart: librdkafka never found the group coordinator
//! again): the service notices it from librdkafka's statistics, makes the consumer
//! again, rebuilds at its next assignment and goes on to the end of the input. The
//! mock cluster makes the stall happen: FindCoordinator names a broker
//! that is down, so the group state never reaches `up` while the broker that leads
//! every partition stays up; later the coordinator is that broker again.

use super::mock_run::MockRun;
use super::*;
use rdkafka::mocking::MockCoordinator;

/// Records the service has processed before the coordinator is moved away.
const STALL_AFTER: u64 = 30_000;

/// How long the coordinator stays on the broker that is down: longer than
/// `group_stall_secs` (12) plus a statistics interval (5 s), so that a consumer
/// that only waits never leaves the stall on its own before it ends.
const STALL_FOR: Duration = Duration::from_secs(25);

/// The demo's run on two mock brokers (broker 2 down) with a static member, its
/// groups' coordinator moved to broker 2 for [`STALL_FOR`] mid-stream: its cases
/// and the consumers made again.
async fn stalled_run() -> (Vec<serde_json::Value>, u64) {
    let mut config = Config::default();
    config.kafka.group_instance_id = "stall-test".into();
    config.kafka.group_stall_secs = 12;
    config
        .kafka
        .librdkafka
        .insert("session.timeout.ms".into(), "6000".into());
    let run = MockRun::new(config, 2);
    run.mock.broker_down(2).unwrap();
    let groups = [
        run.config.kafka.group_id.clone(),
        format!("{}-detect", run.config.kafka.group_id),
    ];
    let coordinate = |broker: i32| {
        for g in &groups {
            run.mock
                .coordinator(MockCoordinator::Group(g.clone()), broker)
                .unwrap();
        }
    };
    // Broker 1 first (the mock would pick one by the group's hash, maybe 2).
    coordinate(1);
    let provoke = async {
        run.processed(STALL_AFTER).await;
        coordinate(2);
        tokio::time::sleep(STALL_FOR).await;
        coordinate(1);
    };
    run.cases(provoke).await
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
    let _alone = super::mock_run::ONE_AT_A_TIME.lock().await;
    let (stalled, recreated) = stalled_run().await;
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
