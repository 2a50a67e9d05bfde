//! Settings of the streaming service: `[kafka]`, `[http]`, `[sink]` (with
//! `[clickhouse]` from the sink module), and their environment overrides.

use serde::Deserialize;
use std::collections::BTreeMap;

/// `[kafka]`: where the feeds are and how to reach the brokers.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap servers. Default `127.0.0.1:9092`.
    pub brokers: String,
    /// Consumer group of the detector workers. Default `cellwatch`.
    pub group_id: String,
    pub topics: TopicsConfig,
    /// Passed to librdkafka as they are, for security and tuning, e.g.
    /// `"security.protocol" = "SASL_SSL"`, `"sasl.mechanisms" = "SCRAM-SHA-512"`,
    /// `"sasl.username"`, `"sasl.password"`, `"ssl.ca.location"`. Values are never logged.
    pub librdkafka: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: "127.0.0.1:9092".into(),
            group_id: "cellwatch".into(),
            topics: TopicsConfig::default(),
            librdkafka: BTreeMap::new(),
        }
    }
}

/// Topic names; the defaults are the contract's (FEEDS.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopicsConfig {
    pub sms_volume: String,
    pub measurements: String,
    pub inventory: String,
    pub allowlist: String,
    pub cases: String,
    pub dead_letter: String,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        TopicsConfig {
            sms_volume: "cw.sms-volume.v1".into(),
            measurements: "cw.cell-measurements.v1".into(),
            inventory: "cw.cell-inventory.v1".into(),
            allowlist: "cw.allowlist.v1".into(),
            cases: "cw.cases.v1".into(),
            dead_letter: "cw.dead-letter.v1".into(),
        }
    }
}

/// `[http]`: the metrics and health endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Listen address of `/metrics`, `/healthz`, `/readyz`. Default `127.0.0.1:9464`;
    /// empty disables the endpoint.
    pub listen: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: "127.0.0.1:9464".into(),
        }
    }
}

/// `[sink]`: batching and retries towards ClickHouse and the output topics.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SinkConfig {
    /// Flush when this many records have been consumed since the last flush.
    /// Default 100 000: ClickHouse wants thousands to hundreds of thousands of rows
    /// per insert, about one insert per second per table, and the service drains
    /// ~100 000 records/s on a 2-core machine (issue 6 bench: 150 000-row batches
    /// cost the server a quarter less CPU than 50 000-row ones). Two batches are
    /// in memory at once (one filling, one being flushed), ~35 MB each.
    pub batch_max_records: usize,
    /// Flush at least this often. Default 1000 ms. A batch is also flushed early
    /// when the feed goes quiet (nothing consumed for a tenth of this interval) and,
    /// see `case_flush_ms`, when it holds new case snapshots.
    pub flush_interval_ms: u64,
    /// A batch holding new case snapshots is flushed once it is this old, so that
    /// cases are queryable within the case-latency target (p99 ≤ 2 s, issue 6)
    /// without making every insert small. Default 200 ms.
    pub case_flush_ms: u64,
    /// Attempts of one flush before the service reports not-ready and pauses
    /// consumption (it keeps retrying: nothing is dropped). Default 5.
    pub retry_max: u32,
    /// First retry delay, doubled per attempt up to `retry_backoff_max_ms`. Default 200 ms.
    pub retry_backoff_ms: u64,
    /// Longest delay between two retries. Default 10 000 ms.
    pub retry_backoff_max_ms: u64,
    /// Also store dead letters in ClickHouse (`dead_letters`). Default true.
    pub dead_letters_to_clickhouse: bool,
    /// Archive every valid record in ClickHouse `records` (the evidence behind
    /// cases, for evidence packages and analysts). Default true.
    pub archive_records: bool,
    /// Records taken from the consumer's local queue per wake-up of the service
    /// loop before it looks at its timers and the sinks again. Default 4096
    /// (about 10 ms of work; librdkafka prefetches far more than that).
    pub consume_burst: usize,
    /// A burst of at least this many records is parsed (JSON and contract rules)
    /// on two threads before it goes through the detectors in order; smaller ones on
    /// the service thread. Default 512 (a thread costs tens of µs, parsing 512
    /// records ~1 ms).
    pub parallel_parse_min: usize,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            batch_max_records: 100_000,
            flush_interval_ms: 1000,
            case_flush_ms: 200,
            retry_max: 5,
            retry_backoff_ms: 200,
            retry_backoff_max_ms: 10_000,
            dead_letters_to_clickhouse: true,
            archive_records: true,
            consume_burst: 4096,
            parallel_parse_min: 512,
        }
    }
}
