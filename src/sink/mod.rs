//! Sinks: where cases and dead letters go (ClickHouse, files; Kafka topics in the service).

pub mod clickhouse;
