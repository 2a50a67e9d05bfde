//! `[kafka]` and `[kafka.topics]`: where the feeds are and how to reach the brokers.

use super::check::{not_empty, Problems};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where the feeds are and how to reach the brokers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap servers, comma-separated `host:port`.
    pub brokers: String,
    /// Consumer group of the detector workers.
    pub group_id: String,
    /// Static group membership (`group.instance.id`): a name unique to this instance
    /// and kept across its restarts (e.g. the host or pod name). A restarted instance
    /// then gets its partitions back at once instead of after the session timeout
    /// (30 s). Empty: dynamic membership.
    pub group_instance_id: String,
    /// How long a command waits at start for the brokers to answer before it stops
    /// with an error, seconds. A refused login or a failed TLS handshake stops it at
    /// once, whatever this says (librdkafka would retry them forever).
    pub connect_timeout_secs: u64,
    /// How `cellwatch run` divides its work. `staged` (the default): stage "ingest"
    /// (parse, validate, archive, dead letters) scales with the feed partitions over
    /// every instance and re-keys valid events to the internal topics; stage "detect"
    /// reads those and runs the detectors, one task per internal partition: any number
    /// of instances give one instance's cases (docs/streaming.md, "Topology").
    /// `single`: every instance validates and detects on the feed partitions it owns,
    /// without internal topics; faster with one instance, but with several the
    /// cross-key results (farms, baselines, transmitters) differ (a warning says so).
    pub topology: Topology,
    /// Must be 1 (kept so that older configuration files still load): the SMS
    /// internal topic's partition count is `sms_partitions`.
    pub internal_partitions: i32,
    /// Partitions of the SMS internal topic (`[kafka.topics] internal_sms`), 1 to
    /// 256. Default 1: stage detect runs the whole spam detector in one task. Above
    /// 1 the detector's per-SIM stage A (windows, features, population samples) runs
    /// as one task per partition (spread over the instances of the detect group),
    /// forwarding to its cross-SIM stage B (baselines, rules, cases, farms), one task
    /// reading `[kafka.topics] internal_cross_sim` (docs/streaming.md, "The spam
    /// detector over N partitions"), with the replay's cases through rebalances,
    /// restarts and SIGTERMs. Set it at the first start: an existing topic with
    /// another count is refused with the commands that make it again, since added
    /// partitions would move SIMs away from their history.
    pub sms_partitions: i32,
    /// Partitions of the measurements internal topic (`[kafka.topics]
    /// internal_measurements`), 1 to 256. Default 1: stage detect runs the whole
    /// fake-BTS detector in one task, which keeps up with about 100 000 records/s
    /// on one core. Above 1 the detector's per-identity stage A runs as one task per
    /// partition (spread over the instances of the detect group), forwarding to its
    /// transmitter stage B, one task reading `[kafka.topics] internal_transmitters`
    /// (docs/streaming.md, "The fake-BTS detector over N partitions"): the same
    /// cases, for about 25 % more CPU in stage detect. Set it at the first start to
    /// the number of instances the measurement feed will need: an existing topic
    /// with another count is refused with the commands that make it again (stage
    /// ingest then re-reads the restore window), since added partitions would move
    /// claimed cells away from their history.
    pub measurement_partitions: i32,
    /// Partitions of the fake-BTS detector's stage-B topic (`[kafka.topics]
    /// internal_transmitters`), 1 to 256; above 1 only with `measurement_partitions`
    /// above 1 (the stage-B topic exists only then). Default 1: stage B is one task.
    /// Above 1, stage B is keyed by region (the tiles of `[fakebts.regions]`): stage
    /// A sends each forward to the partition of every tile it reaches (the tile's
    /// key hashed, modulo this count) and its step and end markers to every
    /// partition, and one stage-B task per partition hosts that partition's tiles,
    /// spread over the instances (docs/streaming.md, "Stage B by region"). Set it
    /// at the first start, as `measurement_partitions`: an existing topic with
    /// another count is refused with the commands that make it again, since tiles
    /// would move away from their history.
    pub transmitter_partitions: i32,
    /// How long a consumer waits before it fetches a partition again once its local
    /// queue is full (librdkafka's `fetch.queue.backoff.ms`), milliseconds, 0 to
    /// 300 000. Default 20. The queue is full at `queued.min.messages` records
    /// (librdkafka's default 100 000), counted over all the partitions of a group
    /// consumer together, so with librdkafka's own 1000 ms every partition stopped
    /// fetching for a second each time the queue reached 100 000 records: a backlog
    /// drained at about 100 000 records/s however fast the service was, its loop
    /// waiting for records most of the time (docs/streaming.md, "Where the service
    /// spends its time"). At 20 ms the queue is topped up before the service can
    /// empty it; the cost is a fetch decision per partition every 20 ms while it is
    /// full. A value in `[kafka.librdkafka]` takes precedence.
    pub fetch_queue_backoff_ms: u64,
    /// How long a group consumer may stay out of a working group while the brokers
    /// answer it before the service makes it again, seconds; 0: never. Default 60.
    /// Out of a working group: librdkafka's group state not `up` (no coordinator
    /// found) or its join state not `steady` (a rebalance that does not end), as its
    /// statistics report every 5 s; time while no broker connection is up (a broker
    /// outage) does not count. After a broker restart librdkafka 2.12 was seen once
    /// in about twenty runs never to find the group coordinator again although it
    /// reached the broker (docs/streaming.md, "A consumer stuck outside its group").
    /// Made again, it rejoins with the same `group_instance_id` and its state is
    /// rebuilt as at a start; the remakes count with the fences (at most 3 within
    /// 10 minutes, then the service stops with the cause).
    pub group_stall_secs: u64,
    pub topics: TopicsConfig,
    /// Settings passed to librdkafka as they are, for security and tuning (e.g.
    /// SASL/SCRAM over TLS below). Values are never logged; keys whose name contains
    /// `password` or `secret` (and `ssl.key.pem`, `sasl.oauthbearer.config`) are
    /// masked by `cellwatch config check`. Set secrets with environment variables,
    /// e.g. CELLWATCH_KAFKA_SASL_PASSWORD.
    #[schemars(example = librdkafka_example())]
    pub(crate) librdkafka: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: "127.0.0.1:9092".into(),
            group_id: "cellwatch".into(),
            group_instance_id: String::new(),
            connect_timeout_secs: 30,
            topology: Topology::default(),
            internal_partitions: 1,
            sms_partitions: 1,
            measurement_partitions: 1,
            transmitter_partitions: 1,
            fetch_queue_backoff_ms: 20,
            group_stall_secs: 60,
            topics: TopicsConfig::default(),
            librdkafka: BTreeMap::new(),
        }
    }
}

/// How `cellwatch run` divides its work over instances (`[kafka] topology`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Topology {
    /// One stage: each instance validates and detects on its own feed partitions.
    Single,
    /// Two stages: ingest on the feed partitions, detect on the internal topics.
    #[default]
    Staged,
}

/// Topic names; the defaults are the contract's (docs/contract.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TopicsConfig {
    /// SMS-volume records (input).
    pub sms_volume: String,
    /// Cell-measurement reports (input).
    pub measurements: String,
    /// Registered-cell inventory updates (compacted, input).
    pub inventory: String,
    /// Allowlist of legitimate bulk senders and M2M lines (compacted, input).
    pub allowlist: String,
    /// Cases (output).
    pub cases: String,
    /// Dead letters: records refused by validation, with the reason (output).
    pub dead_letter: String,
    /// Valid SMS-volume events re-keyed by operator and SIM, from stage ingest to
    /// stage detect (internal, `topology = "staged"`).
    pub internal_sms: String,
    /// Valid measurements re-keyed by radio technology and claimed cell (internal).
    pub internal_measurements: String,
    /// What the fake-BTS detector's per-identity stage A forwards to its transmitter
    /// stage B (internal, `[kafka] transmitter_partitions` partitions; used when
    /// `[kafka] measurement_partitions` is above 1).
    pub internal_transmitters: String,
    /// What the spam detector's per-SIM stage A forwards to its cross-SIM stage B
    /// (internal, 1 partition; used when `[kafka] sms_partitions` is above 1).
    pub internal_cross_sim: String,
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
            internal_sms: "cellwatch.internal.sms-by-sim".into(),
            internal_measurements: "cellwatch.internal.meas-by-cell".into(),
            internal_transmitters: "cellwatch.internal.meas-transmitters".into(),
            internal_cross_sim: "cellwatch.internal.sms-cross-sim".into(),
        }
    }
}

/// The example shown for `[kafka.librdkafka]` in the generated example file.
fn librdkafka_example() -> BTreeMap<String, String> {
    [
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanisms", "SCRAM-SHA-512"),
        ("sasl.username", "cellwatch"),
        ("sasl.password", "set CELLWATCH_KAFKA_SASL_PASSWORD instead"),
        ("ssl.ca.location", "/etc/ssl/certs/ca.pem"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

impl KafkaConfig {
    /// Record what cannot work (keys named in full).
    pub(crate) fn check(&self, p: &mut Problems) {
        not_empty(p, "kafka.brokers", &self.brokers);
        not_empty(p, "kafka.group_id", &self.group_id);
        super::check::at_least(
            p,
            "kafka.connect_timeout_secs",
            self.connect_timeout_secs,
            1,
        );
        if self.fetch_queue_backoff_ms > 300_000 {
            p.push(
                "kafka.fetch_queue_backoff_ms",
                format!(
                    "must be at most 300000 (librdkafka's limit), got {}",
                    self.fetch_queue_backoff_ms
                ),
            );
        }
        if self.group_stall_secs > 3600 {
            p.push(
                "kafka.group_stall_secs",
                format!(
                    "must be at most 3600 (0 turns the check off), got {}",
                    self.group_stall_secs
                ),
            );
        }
        self.topics.check(p);
        if self.internal_partitions != 1 {
            p.push(
                "kafka.internal_partitions",
                format!(
                    "must be 1 (set sms_partitions for the SMS internal topic), got {}",
                    self.internal_partitions
                ),
            );
        }
        if !(1..=256).contains(&self.sms_partitions) {
            p.push(
                "kafka.sms_partitions",
                format!("must be 1 to 256, got {}", self.sms_partitions),
            );
        }
        if !(1..=256).contains(&self.measurement_partitions) {
            p.push(
                "kafka.measurement_partitions",
                format!("must be 1 to 256, got {}", self.measurement_partitions),
            );
        }
        if !(1..=256).contains(&self.transmitter_partitions) {
            p.push(
                "kafka.transmitter_partitions",
                format!("must be 1 to 256, got {}", self.transmitter_partitions),
            );
        } else if self.transmitter_partitions > 1 && self.measurement_partitions < 2 {
            p.push(
                "kafka.transmitter_partitions",
                format!(
                    "{} needs measurement_partitions above 1 (the transmitter topic exists only when the fake-BTS detector is split), got measurement_partitions = {}",
                    self.transmitter_partitions, self.measurement_partitions
                ),
            );
        }
        for name in self.librdkafka.keys() {
            if name.trim().is_empty() {
                p.push("kafka.librdkafka", "setting names must not be empty");
            }
        }
    }
}

impl TopicsConfig {
    /// `(key, topic)` of every topic, in declaration order.
    pub(crate) fn by_key(&self) -> [(&'static str, &str); 10] {
        [
            ("sms_volume", &self.sms_volume),
            ("measurements", &self.measurements),
            ("inventory", &self.inventory),
            ("allowlist", &self.allowlist),
            ("cases", &self.cases),
            ("dead_letter", &self.dead_letter),
            ("internal_sms", &self.internal_sms),
            ("internal_measurements", &self.internal_measurements),
            ("internal_transmitters", &self.internal_transmitters),
            ("internal_cross_sim", &self.internal_cross_sim),
        ]
    }

    /// The contract's six topics (the feeds, reference data, cases, dead letters),
    /// which a deployment creates before the service starts; the internal ones the
    /// service creates itself.
    pub fn contract(&self) -> [&str; 6] {
        [
            &self.sms_volume,
            &self.measurements,
            &self.cases,
            &self.dead_letter,
            &self.inventory,
            &self.allowlist,
        ]
    }

    /// Kafka topic names: 1 to 249 of `[A-Za-z0-9._-]`.
    fn check(&self, p: &mut Problems) {
        for (key, topic) in self.by_key() {
            let legal = !topic.is_empty()
                && topic.len() <= 249
                && topic
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
            if !legal {
                p.push(
                    &format!("kafka.topics.{key}"),
                    format!("must be a Kafka topic name (1 to 249 letters, digits, '.', '_', '-'), got {topic:?}"),
                );
            }
        }
    }
}
