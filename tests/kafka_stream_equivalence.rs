//! Streaming a scenario through a real Kafka broker gives the same cases and the
//! same dead letters as replaying its files (docs/contract.md, "Replay"). Needs the broker that
//! `scripts/services.sh up` starts; fails (never skips) when it cannot be reached.

mod common;

use cellwatch::cases::CaseBook;
use cellwatch::config::Config;
use cellwatch::detect::setup::RunSetup;
use cellwatch::ingest::Origin;
use cellwatch::model::{Feed, TimeBounds};
use cellwatch::pipeline::Pipeline;
use cellwatch::replay::{self, InputPath, ReplayOptions};
use cellwatch::simulate::{write_scenario, Scale, SimConfig};
use cellwatch::validate::SourceValidator;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Message};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

// Fixed "now" so the contract's `now + 1 day` bound does not depend on the test day.
const NOW_MS: i64 = 1_795_824_000_000;

fn lines(path: &std::path::Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let mut v: Vec<Vec<u8>> = bytes.split(|b| *b == b'\n').map(|l| l.to_vec()).collect();
    if v.last().is_some_and(|l| l.is_empty()) {
        v.pop();
    }
    v
}

async fn create_topics(brokers: &str, topics: &[&str]) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("admin client");
    let new: Vec<NewTopic> = topics
        .iter()
        .map(|t| NewTopic::new(t, 1, TopicReplication::Fixed(1)))
        .collect();
    for r in admin
        .create_topics(&new, &AdminOptions::new())
        .await
        .expect("create topics")
    {
        r.unwrap_or_else(|(t, e)| panic!("cannot create topic {t}: {e}"));
    }
}

fn produce(brokers: &str, topic: &str, records: &[Vec<u8>]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "20")
        .set("message.max.bytes", "2000000")
        .create()
        .expect("producer");
    for r in records {
        let mut rec = BaseRecord::<(), [u8]>::to(topic).payload(r.as_slice());
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((e, back)) => {
                    assert!(
                        matches!(
                            e.rdkafka_error_code(),
                            Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                        ),
                        "produce failed: {e}"
                    );
                    rec = back;
                    producer.poll(Duration::from_millis(50));
                }
            }
        }
    }
    producer
        .flush(Duration::from_secs(60))
        .expect("all records delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_through_kafka_equals_replaying_the_files() {
    let brokers = common::kafka_brokers();
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("scenario");
    write_scenario(
        &SimConfig {
            seed: 11,
            scale: Scale::Small,
        },
        &scenario,
    )
    .unwrap();
    let config = Config::default();

    // 1. Replay the files.
    let out = dir.path().join("replay");
    let summary = replay::run(&ReplayOptions {
        sms_volume: Some(InputPath::File(scenario.join("sms_volume.jsonl"))),
        measurements: Some(InputPath::File(scenario.join("measurements.jsonl"))),
        cells: Some(scenario.join("cells.csv")),
        out: out.clone(),
        config: config.clone(),
        now_ms: Some(NOW_MS),
    })
    .unwrap();
    let replay_cases = cellwatch::cases::read_jsonl(&out.join("cases.jsonl")).unwrap();

    // 2. Stream the same lines through the broker, one partition per feed.
    let sms_topic = common::unique_name("cw-test-sms");
    let meas_topic = common::unique_name("cw-test-meas");
    create_topics(&brokers, &[&sms_topic, &meas_topic]).await;
    let sms_lines = lines(&scenario.join("sms_volume.jsonl"));
    let meas_lines = lines(&scenario.join("measurements.jsonl"));
    let total = (sms_lines.len() + meas_lines.len()) as u64;
    {
        let (b, t, l) = (brokers.clone(), sms_topic.clone(), sms_lines);
        let (b2, t2, l2) = (brokers.clone(), meas_topic.clone(), meas_lines);
        tokio::task::spawn_blocking(move || produce(&b, &t, &l))
            .await
            .unwrap();
        tokio::task::spawn_blocking(move || produce(&b2, &t2, &l2))
            .await
            .unwrap();
    }

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", common::unique_name("cw-test-group"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&[&sms_topic, &meas_topic]).unwrap();

    let mut setup = RunSetup::build(&config, Some(&scenario.join("cells.csv"))).unwrap();
    let mut pipeline =
        Pipeline::from_config(std::mem::take(&mut setup.detectors), &config.pipeline);
    let mut book = CaseBook::new();
    let bounds = TimeBounds::at(NOW_MS);
    let lateness = config.pipeline.allowed_lateness_ms();
    let mut validators = BTreeMap::new();
    let mut dead_by_reason: BTreeMap<String, u64> = BTreeMap::new();
    let mut seen = 0u64;
    let deadline = Instant::now() + Duration::from_secs(120);
    while seen < total {
        assert!(
            Instant::now() < deadline,
            "only {seen} of {total} records consumed within 120 s"
        );
        let Some(msg) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        let msg = msg.expect("consume");
        let feed = if msg.topic() == sms_topic {
            Feed::SmsVolume
        } else {
            Feed::Measurements
        };
        let validator = validators
            .entry((feed, msg.partition()))
            .or_insert_with(|| SourceValidator::new(feed, bounds, lateness));
        let origin = Origin::Kafka {
            topic: msg.topic().to_string(),
            partition: msg.partition(),
            offset: msg.offset(),
        };
        if let Some(dead) =
            pipeline.process(validator, msg.payload().unwrap_or(&[]), origin, &mut book)
        {
            *dead_by_reason.entry(dead.reason.to_string()).or_default() += 1;
        }
        seen += 1;
    }
    pipeline.finish(&mut book);
    let streamed_cases = book.into_sorted();

    assert_eq!(pipeline.stats.records_read, summary.records_read);
    assert_eq!(pipeline.stats.valid, summary.valid);
    assert_eq!(pipeline.stats.late, summary.late);
    let replay_reasons: BTreeMap<String, u64> = summary
        .invalid_by_reason
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    assert_eq!(dead_by_reason, replay_reasons);
    assert!(
        summary.invalid > 0,
        "the scenario must exercise the dead-letter path"
    );
    assert_eq!(
        streamed_cases, replay_cases,
        "streamed and replayed cases differ"
    );
}
