//! A static group member fenced mid-stream (librdkafka's fatal "Static consumer
//! fenced by other consumer with same group.instance.id", as after a broker away for
//! longer than the session timeout, librdkafka issue 3437): the service re-creates
//! that consumer, rebuilds as at a start and ends with the cases of a run without
//! the fence. The mock cluster makes the fence happen: the next Heartbeat request is
//! answered FENCED_INSTANCE_ID, which librdkafka turns into its fatal error.

use super::*;
use crate::simulate::Scale;
use rdkafka::types::RDKafkaApiKey;
use rdkafka::types::RDKafkaRespErr;

/// Records the service has processed before the fence is provoked.
const FENCE_AFTER: u64 = 30_000;

/// The demo's run on the mock cluster with a static member (`group_instance_id`),
/// fenced once mid-stream when `fence`: its cases (sorted by id, as JSON) and the
/// number of consumers it made again.
async fn cases(fence: bool) -> (Vec<serde_json::Value>, u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.kafka.group_instance_id = "fence-test".into();
    // The fenced member's replacement is a new member where the mock does not
    // keep static members: the old one leaves after this.
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
    let (mock, config) = mock_cluster(&opts).unwrap();
    let brokers = mock.bootstrap_servers();
    let store = BatchStore::Memory(MemoryStore::default());
    let metrics = Metrics::new();
    let (stop_tx, mut service_task) = start_service(&config, &scenario, &store, &metrics);
    let streaming = stream_scenario(&scenario, &config, &brokers, &metrics, &opts, &stop_tx);
    let provoke = async {
        while fence && metrics.processed.load(Ordering::Relaxed) < FENCE_AFTER {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if fence {
            mock.request_errors(
                RDKafkaApiKey::Heartbeat,
                &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID],
            );
        }
    };
    let both = async { tokio::join!(streaming, provoke).0 };
    // A service that stops on its own (the fence was fatal) fails the test at once
    // rather than after the demo's acknowledgement timeout.
    tokio::select! {
        streamed = both => { streamed.expect("every record streamed and acknowledged"); }
        ended = &mut service_task => {
            // Release the producer, which paces itself to what the service processed
            // (else the runtime would wait for its thread for ever).
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fenced_static_member_is_made_again_and_changes_no_case() {
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
