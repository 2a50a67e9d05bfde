//! The streaming service (`cellwatch run`, and `cellwatch demo` on the mock
//! cluster): Kafka consumer group → the shared pipeline → ClickHouse / topics.

pub mod consumer;
pub mod metrics;
pub mod outputs;
pub mod reference;
pub mod worker;

pub use worker::{run, ServiceError, ServiceOptions, ServiceReport};
