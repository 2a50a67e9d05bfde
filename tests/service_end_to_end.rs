//! The streaming service against the real Kafka broker and ClickHouse server:
//! at-least-once delivery, idempotent cases, dead letters with their origin,
//! restart without duplicates, and back-pressure while ClickHouse is down.

mod common;

use cellwatch::config::{ClickHouseConfig, Config};
use cellwatch::demo::feed;
use cellwatch::replay::{self, InputPath, ReplayOptions};
use cellwatch::service::metrics::Metrics;
use cellwatch::service::outputs::BatchStore;
use cellwatch::service::{self, ServiceOptions, ServiceReport};
use cellwatch::simulate::{write_scenario, Scale, SimConfig};
use cellwatch::sink::clickhouse::{migrate, ClickHouse};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const NOW_MS: i64 = 1_795_824_000_000;

struct Setup {
    _dir: tempfile::TempDir,
    scenario: PathBuf,
    config: Config,
    total: u64,
    ch: ClickHouse,
}

/// The service's log on the test's output when `RUST_LOG` is set (e.g.
/// `RUST_LOG=cellwatch=info cargo test --test service_end_to_end -- --nocapture`):
/// the order of rebalances, rebuilds, stops and final snapshots when a run differs.
fn logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

async fn setup(seed: u64, clickhouse_url: &str) -> Setup {
    logs();
    let brokers = common::kafka_brokers();
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("scenario");
    write_scenario(
        &SimConfig {
            seed,
            scale: Scale::Small,
        },
        &scenario,
    )
    .unwrap();
    let mut config = Config::default();
    config.kafka.brokers = brokers.clone();
    config.kafka.group_id = common::unique_name("cw-e2e-group");
    let t = &mut config.kafka.topics;
    t.sms_volume = common::unique_name("cw-e2e-sms");
    t.measurements = common::unique_name("cw-e2e-meas");
    t.cases = common::unique_name("cw-e2e-cases");
    t.dead_letter = common::unique_name("cw-e2e-dlq");
    t.inventory = common::unique_name("cw-e2e-inv");
    t.allowlist = common::unique_name("cw-e2e-allow");
    // The default topology (staged) with internal topics of this test's own.
    t.internal_sms = common::unique_name("cw-e2e-isms");
    t.internal_measurements = common::unique_name("cw-e2e-imeas");
    config.http.listen = "127.0.0.1:0".into();
    config.sink.flush_interval_ms = 200;
    config.sink.batch_max_records = 5_000;
    config.sink.retry_max = 2;
    config.sink.retry_backoff_ms = 100;
    config.sink.retry_backoff_max_ms = 500;
    config.clickhouse = ClickHouseConfig {
        url: clickhouse_url.to_string(),
        database: common::unique_name("cw_e2e"),
        ..Default::default()
    };
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    let topics: Vec<NewTopic> = [&t.sms_volume, &t.measurements, &t.cases, &t.dead_letter]
        .iter()
        .map(|n| NewTopic::new(n, 4, TopicReplication::Fixed(1)))
        .collect();
    for r in admin
        .create_topics(&topics, &AdminOptions::new())
        .await
        .unwrap()
    {
        r.unwrap();
    }
    let ch = ClickHouse::new(ClickHouseConfig {
        url: common::clickhouse_url(),
        database: config.clickhouse.database.clone(),
        ..Default::default()
    });
    migrate(&ch).await.unwrap();
    let lines = feed::merge(
        feed::read_lines(&scenario.join("sms_volume.jsonl"), 0).unwrap(),
        feed::read_lines(&scenario.join("measurements.jsonl"), 1).unwrap(),
    );
    let total = lines.len() as u64;
    let (b, topics) = (
        brokers.clone(),
        [
            config.kafka.topics.sms_volume.clone(),
            config.kafka.topics.measurements.clone(),
        ],
    );
    tokio::task::spawn_blocking(move || {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &b)
            .set("linger.ms", "20")
            .create()
            .unwrap();
        for l in &lines {
            let mut rec = BaseRecord::to(&topics[l.feed]).payload(l.bytes.as_slice());
            if let Some(k) = &l.key {
                rec = rec.key(k.as_str());
            }
            let mut rec = rec;
            loop {
                match producer.send(rec) {
                    Ok(()) => break,
                    Err((_, back)) => {
                        rec = back;
                        producer.poll(Duration::from_millis(20));
                    }
                }
            }
        }
        producer.flush(Duration::from_secs(60)).unwrap();
    })
    .await
    .unwrap();
    Setup {
        _dir: dir,
        scenario,
        config,
        total,
        ch,
    }
}

fn start(
    s: &Setup,
    metrics: &Metrics,
    store: BatchStore,
) -> (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<Result<ServiceReport, service::ServiceError>>,
) {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let handle = tokio::spawn(service::run(ServiceOptions {
        config: s.config.clone(),
        cells: Some(s.scenario.join("cells.csv")),
        store,
        metrics: metrics.clone(),
        shutdown: rx,
        now_ms: Some(NOW_MS),
    }));
    (tx, handle)
}

async fn wait_for(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Stage detect's progress on its internal topics (one partition each): the
/// offsets its group has committed in all, and how many partitions it has not
/// committed to their end yet. Its offsets are committed only after what it read
/// is in the sinks.
async fn detect_progress(s: &Setup) -> (i64, usize) {
    let kafka = &s.config.kafka;
    let brokers = kafka.brokers.clone();
    let group = format!("{}-detect", kafka.group_id);
    let topics = [
        kafka.topics.internal_sms.clone(),
        kafka.topics.internal_measurements.clone(),
    ];
    tokio::task::spawn_blocking(move || {
        let c: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let timeout = Duration::from_secs(10);
        let mut tpl = TopicPartitionList::new();
        for t in &topics {
            tpl.add_partition(t, 0);
        }
        let committed = c.committed_offsets(tpl, timeout).unwrap();
        let (mut done, mut behind) = (0, 0);
        for e in committed.elements() {
            let (_, high) = c.fetch_watermarks(e.topic(), 0, timeout).unwrap();
            let at = match e.offset() {
                Offset::Offset(o) => o,
                _ => 0,
            };
            done += at;
            behind += usize::from(at < high);
        }
        (done, behind)
    })
    .await
    .unwrap()
}

/// Wait until stage detect has committed something (`to_end` false) or its
/// internal partitions to their end (`to_end`). Stage detect runs behind stage
/// ingest (in a debug build on a loaded machine, by 20 000 – 25 000 envelopes when
/// ingest has acknowledged every record), and a stop only reads on for 10 s: a stop
/// before detect is through leaves the final snapshots to the next start ("records
/// still waiting" in the log), so a test that compares the cases after a stop waits
/// for this first.
async fn wait_for_detect(s: &Setup, secs: u64, to_end: bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let (committed, behind) = detect_progress(s).await;
        if committed > 0 && (!to_end || behind == 0) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for stage detect (committed {committed}, {behind} partitions behind)"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The final cases by id with their members: with canonical event-time ordering
/// they do not depend on how partitions interleave, restarts or outages.
type CaseView = std::collections::BTreeMap<String, Vec<String>>;

fn view(cases: &[cellwatch::model::Case]) -> CaseView {
    cases
        .iter()
        .map(|c| (c.case_id.clone(), c.sims.clone()))
        .collect()
}

/// Asserts two case views are equal, printing only the cases that differ.
fn assert_same_cases(streamed: &CaseView, replayed: &CaseView, what: &str) {
    let differing: Vec<String> = streamed
        .keys()
        .chain(replayed.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|id| streamed.get(*id) != replayed.get(*id))
        .map(|id| {
            format!(
                "{id}: streamed {:?} / replayed {:?}",
                streamed.get(id),
                replayed.get(id)
            )
        })
        .collect();
    assert!(
        differing.is_empty(),
        "{what}: {} of {} streamed / {} replayed cases differ:\n{}",
        differing.len(),
        streamed.len(),
        replayed.len(),
        differing.join("\n")
    );
}

fn replay_view(s: &Setup) -> CaseView {
    let out = s.scenario.join("replay-out");
    replay::run(&ReplayOptions {
        sms_volume: Some(InputPath::File(s.scenario.join("sms_volume.jsonl"))),
        measurements: Some(InputPath::File(s.scenario.join("measurements.jsonl"))),
        cells: Some(s.scenario.join("cells.csv")),
        out: out.clone(),
        config: s.config.clone(),
        now_ms: Some(NOW_MS),
    })
    .unwrap();
    view(&cellwatch::cases::read_jsonl(&out.join("cases.jsonl")).unwrap())
}

fn read_topic(brokers: &str, topic: &str, min: usize) -> Vec<(Option<String>, Vec<u8>)> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", common::unique_name("cw-e2e-reader"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    c.subscribe(&[topic]).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut quiet_since = Instant::now();
    while Instant::now() < deadline {
        match c.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                out.push((
                    m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                    m.payload().unwrap_or(&[]).to_vec(),
                ));
                quiet_since = Instant::now();
            }
            _ => {
                if out.len() >= min && quiet_since.elapsed() > Duration::from_secs(3) {
                    break;
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_delivers_cases_and_dead_letters_at_least_once() {
    let s = setup(5, &common::clickhouse_url()).await;
    let metrics = Metrics::new();
    let (stop, handle) = start(&s, &metrics, BatchStore::ClickHouse(Box::new(s.ch.clone())));
    wait_for("every record acknowledged", 300, || {
        metrics.acknowledged.total() >= s.total
    })
    .await;
    wait_for_detect(&s, 300, true).await;
    stop.send(true).unwrap();
    let report = handle.await.unwrap().unwrap();
    assert_eq!(
        report.records, s.total,
        "each record processed exactly once in a clean run"
    );
    assert!(
        report.invalid > 0,
        "the scenario exercises the dead-letter path"
    );
    assert!(report.finishes >= 1, "final snapshots emitted: {report:?}");

    // ClickHouse: one row per case after FINAL, the same cases as the replay.
    let stored = s.ch.fetch_cases().await.unwrap();
    let ids: BTreeSet<String> = stored.iter().map(|c| c.case_id.clone()).collect();
    assert_eq!(ids.len(), stored.len(), "no duplicate case rows");
    assert!(
        !ids.is_empty(),
        "the scenario has attackers: cases expected"
    );
    assert_same_cases(
        &view(&stored),
        &replay_view(&s),
        "streaming and replay find the same cases",
    );

    // The records behind each case are archived, unaltered, for evidence packages.
    for case in stored.iter().take(5) {
        let evidence = s.ch.evidence_records(case).await.unwrap();
        assert!(
            !evidence.is_empty(),
            "no archived records behind {}",
            case.case_id
        );
        assert!(evidence.iter().all(|r| case.sims.contains(&r.record_key)
            || case.kind == cellwatch::model::CaseKind::FakeBts));
        assert!(evidence
            .iter()
            .all(|r| serde_json::from_str::<serde_json::Value>(&r.record).is_ok()));
    }

    // Cases topic: keyed by case id, covering every stored case.
    let cases_topic = read_topic(
        &s.config.kafka.brokers,
        &s.config.kafka.topics.cases,
        ids.len(),
    );
    let keys: BTreeSet<String> = cases_topic.iter().filter_map(|(k, _)| k.clone()).collect();
    assert_eq!(keys, ids);

    // Dead-letter topic: every refused record with reason, origin and original bytes.
    let expected_dead = (report.invalid + report.late) as usize;
    let dead = read_topic(
        &s.config.kafka.brokers,
        &s.config.kafka.topics.dead_letter,
        expected_dead,
    );
    assert_eq!(dead.len(), expected_dead);
    for (_, payload) in &dead {
        let v: serde_json::Value = serde_json::from_slice(payload).unwrap();
        assert!(
            v["reason"].is_string()
                && v["topic"].is_string()
                && v["partition"].is_i64()
                && v["offset"].is_i64(),
            "{v}"
        );
        assert!(v["raw"].is_string() || v["raw_base64"].is_string(), "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_rebuilds_state_without_duplicates_or_loss() {
    let s = setup(6, &common::clickhouse_url()).await;
    let first = Metrics::new();
    let (stop, handle) = start(&s, &first, BatchStore::ClickHouse(Box::new(s.ch.clone())));
    wait_for("half of the records acknowledged", 300, || {
        first.acknowledged.total() >= s.total / 2
    })
    .await;
    // Something for the second start to rebuild: stage detect has committed offsets.
    wait_for_detect(&s, 300, false).await;
    stop.send(true).unwrap();
    let r1 = handle.await.unwrap().unwrap();
    assert!(r1.records < s.total, "stopped midway: {r1:?}");

    let second = Metrics::new();
    let (stop, handle) = start(&s, &second, BatchStore::ClickHouse(Box::new(s.ch.clone())));
    wait_for("the rest acknowledged", 300, || {
        r1.records + second.acknowledged.total() >= s.total
    })
    .await;
    wait_for_detect(&s, 300, true).await;
    stop.send(true).unwrap();
    let r2 = handle.await.unwrap().unwrap();
    assert!(
        r2.rebuilds >= 1 && r2.rebuilt_records > 0,
        "state rebuilt from the committed history: {r2:?}"
    );
    assert_eq!(
        r1.records + r2.records,
        s.total,
        "committed offsets resume exactly after the acknowledged records"
    );
    assert!(r2.finishes >= 1, "final snapshots emitted: {r2:?}");

    let stored = s.ch.fetch_cases().await.unwrap();
    let ids: BTreeSet<String> = stored.iter().map(|c| c.case_id.clone()).collect();
    assert_eq!(ids.len(), stored.len(), "no duplicate case rows");
    assert_same_cases(
        &view(&stored),
        &replay_view(&s),
        "a restart changes no case",
    );
}

/// A TCP proxy in front of ClickHouse that the test can switch off and on.
async fn proxy(target: String, up: Arc<AtomicBool>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                break;
            };
            if !up.load(Ordering::SeqCst) {
                drop(inbound);
                continue;
            }
            let target = target.clone();
            let up = up.clone();
            tokio::spawn(async move {
                let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    _ = async { while up.load(Ordering::SeqCst) { tokio::time::sleep(Duration::from_millis(20)).await } } => {}
                }
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_outage_pauses_consumption_and_loses_nothing() {
    let real = common::clickhouse_url();
    let target = real
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let up = Arc::new(AtomicBool::new(true));
    let proxied = proxy(target, up.clone()).await;
    let s = setup(7, &proxied).await;
    let metrics = Metrics::new();
    let mut config_store = s.ch.config().clone();
    config_store.url = proxied.clone();
    let (stop, handle) = start(
        &s,
        &metrics,
        BatchStore::ClickHouse(Box::new(ClickHouse::new(config_store))),
    );
    wait_for("some records acknowledged", 300, || {
        metrics.acknowledged.total() > 0
    })
    .await;

    up.store(false, Ordering::SeqCst);
    wait_for("the service to report not ready", 60, || {
        !metrics.ready.load(Ordering::Relaxed)
    })
    .await;
    let acked_during = metrics.acknowledged.total();
    let processed_during = metrics.processed.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        metrics.acknowledged.total(),
        acked_during,
        "nothing acknowledged while ClickHouse is down"
    );
    let consumed_while_down = metrics.processed.load(Ordering::Relaxed) - processed_during;
    assert!(
        consumed_while_down < 50_000,
        "consumption paused (back-pressure): {consumed_while_down} consumed while down"
    );
    assert!(
        metrics.render().contains("cellwatch_sink_retries_total"),
        "retries are counted"
    );

    up.store(true, Ordering::SeqCst);
    wait_for("every record acknowledged after recovery", 300, || {
        metrics.acknowledged.total() >= s.total
    })
    .await;
    assert!(metrics.ready.load(Ordering::Relaxed));
    wait_for_detect(&s, 300, true).await;
    stop.send(true).unwrap();
    let report = handle.await.unwrap().unwrap();
    assert_eq!(report.records, s.total);
    assert!(report.finishes >= 1, "final snapshots emitted: {report:?}");
    let stored = s.ch.fetch_cases().await.unwrap();
    let ids: BTreeSet<String> = stored.iter().map(|c| c.case_id.clone()).collect();
    assert_eq!(ids.len(), stored.len());
    assert_same_cases(&view(&stored), &replay_view(&s), "the outage lost no case");
}
