//! Why the service stops with an error: setup and infrastructure failures only; data
//! problems never stop it (they become dead letters).

/// Why the service stopped with an error (data problems never stop it).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("kafka client setup failed: {0}; check [kafka] brokers and librdkafka settings")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("{0}")]
    Setup(String),
    #[error("flush task failed: {0}; offsets after its batch were not stored")]
    Flush(String),
    #[error(transparent)]
    ClickHouse(#[from] crate::sink::clickhouse::ClickHouseError),
    #[error(transparent)]
    KafkaFailure(#[from] crate::kafka_failure::KafkaFailure),
    /// The group fenced this static member (librdkafka's fatal error): the loop
    /// re-creates its consumer, up to a bound ([`super::run`]).
    #[error("kafka group {group} fenced this instance's static member (group_instance_id {instance}) {times} times within {window_secs} s, the last time: {detail}; give each instance its own [kafka] group_instance_id, and keep broker outages shorter than the group's session timeout (30 s)")]
    Fenced {
        group: String,
        instance: String,
        detail: String,
        times: usize,
        window_secs: u64,
    },
    /// A group consumer stayed out of its group while the brokers answered it
    /// (`[kafka] group_stall_secs`): the loop re-creates it, up to the same bound
    /// as for fences ([`super::run`]).
    #[error("kafka group {group}: the consumer was stuck outside its group and made again {times} times within {window_secs} s, the last time: {detail}; check the brokers' group coordinator (their logs, `kafka-consumer-groups.sh --describe --group {group}`) and restart the instance")]
    GroupStalled {
        group: String,
        detail: String,
        times: usize,
        window_secs: u64,
    },
    #[error("cannot start the metrics endpoint on {listen}: {source}; change [http] listen")]
    Http {
        listen: String,
        #[source]
        source: std::io::Error,
    },
}
