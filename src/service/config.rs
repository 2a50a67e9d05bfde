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
    /// Default 50 000 (ClickHouse wants thousands to hundreds of thousands of rows
    /// per insert, about one insert per second).
    pub batch_max_records: usize,
    /// Flush at least this often. Default 1000 ms.
    pub flush_interval_ms: u64,
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
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            batch_max_records: 50_000,
            flush_interval_ms: 1000,
            retry_max: 5,
            retry_backoff_ms: 200,
            retry_backoff_max_ms: 10_000,
            dead_letters_to_clickhouse: true,
            archive_records: true,
        }
    }
}
