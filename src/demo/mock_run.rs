//! The demo's run on the mock cluster with something provoked mid-stream (a fence, a
//! stalled group): the harness of the tests that compare its cases with a plain run.

use super::*;
use crate::simulate::Scale;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use std::future::Future;

/// Held by each test that provokes something mid-stream, for its whole run: the
/// fence test, run beside the stall test, ended with other cases than its plain run
/// (its in-process remake is timing-sensitive: docs/streaming.md, "A consumer stuck
/// outside its group"); alone it passed in every run.
pub(super) static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A prepared demo run: the small scenario (seed 2) and a mock cluster of its own.
pub(super) struct MockRun {
    _dir: tempfile::TempDir,
    opts: DemoOptions,
    scenario: PathBuf,
    pub(super) mock: MockCluster<'static, DefaultProducerContext>,
    pub(super) config: Config,
    pub(super) metrics: Metrics,
}

impl MockRun {
    /// With `config` (the demo fills in brokers and topics) on `brokers` mock
    /// brokers, every partition led by broker 1.
    pub(super) fn new(config: Config, brokers: i32) -> MockRun {
        let dir = tempfile::tempdir().unwrap();
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
        let (mock, config) = mock_cluster_of(&opts, brokers).unwrap();
        MockRun {
            _dir: dir,
            opts,
            scenario,
            mock,
            config,
            metrics: Metrics::new(),
        }
    }

    /// Stream the scenario through the service while `provoke` runs; its cases
    /// (sorted by id, as JSON) and the number of consumers it made again. A service
    /// that stops on its own fails the test at once, not after the demo's
    /// acknowledgement timeout.
    pub(super) async fn cases(
        &self,
        provoke: impl Future<Output = ()>,
    ) -> (Vec<serde_json::Value>, u64) {
        let store = BatchStore::Memory(MemoryStore::default());
        let metrics = &self.metrics;
        let (stop_tx, mut service_task) =
            start_service(&self.config, &self.scenario, &store, metrics);
        let brokers = self.mock.bootstrap_servers();
        let streaming = stream_scenario(
            &self.scenario,
            &self.config,
            &brokers,
            metrics,
            &self.opts,
            &stop_tx,
        );
        let both = async { tokio::join!(streaming, provoke).0 };
        tokio::select! {
            streamed = both => { streamed.expect("every record streamed and acknowledged"); }
            ended = &mut service_task => {
                // Release the producer, which paces itself to what the service
                // processed (else the runtime would wait for its thread for ever).
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

    /// Wait until the service has processed `records` feed records.
    pub(super) async fn processed(&self, records: u64) {
        while self.metrics.processed.load(Ordering::Relaxed) < records {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
