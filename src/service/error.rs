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
    #[error("cannot start the metrics endpoint on {listen}: {source}; change [http] listen")]
    Http {
        listen: String,
        #[source]
        source: std::io::Error,
    },
}
