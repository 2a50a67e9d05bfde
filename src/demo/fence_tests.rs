//! A static group member fenced mid-stream (librdkafka's fatal "Static consumer
//! fenced by other consumer with same group.instance.id", as after a broker away for
//! longer than the session timeout, librdkafka issue 3437): the service re-creates
//! that consumer, rebuilds as at a start and ends with the cases of a run without
//! the fence. The mock cluster makes the fence happen: the next Heartbeat request is
//! answered FENCED_INSTANCE_ID, which librdkafka turns into its fatal error.

use super::mock_run::MockRun;
use super::*;
use rdkafka::types::RDKafkaApiKey;
use rdkafka::types::RDKafkaRespErr;

/// Records the service has processed before the fence is provoked.
const FENCE_AFTER: u64 = 30_000;

/// The demo's run on the mock cluster with a static member (`group_instance_id`),
/// fenced once mid-stream when `fence`: its cases and the consumers made again.
async fn cases(fence: bool) -> (Vec<serde_json::Value>, u64) {
    let mut config = Config::default();
    config.kafka.group_instance_id = "fence-test".into();
    // The fenced member's replacement is a new member where the mock does not
    // keep static members: the old one leaves after this.
    config
        .kafka
        .librdkafka
        .insert("session.timeout.ms".into(), "6000".into());
    let run = MockRun::new(config, 1);
    let provoke = async {
        if fence {
            run.processed(FENCE_AFTER).await;
            run.mock.request_errors(
                RDKafkaApiKey::Heartbeat,
                &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID],
            );
        }
    };
    run.cases(provoke).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fenced_static_member_is_made_again_and_changes_no_case() {
    let _alone = super::mock_run::ONE_AT_A_TIME.lock().await;
    let (fenced, recreated) = cases(true).await;
    assert!(recreated >= 1, "the fence happened and was recovered from");
    let (plain, none) = cases(false).await;
    assert_eq!(none, 0);
    assert!(!plain.is_empty());
    assert_eq!(fenced.len(), plain.len(), "case count");
    for (a, b) in fenced.iter().zip(&plain) {
        assert_eq!(a, b, "a case differs after the fence");
    }
}
