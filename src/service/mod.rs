//! The streaming service (`cellwatch run`, and `cellwatch demo` on the mock
//! cluster): Kafka consumer group → the shared pipeline → ClickHouse / topics.

pub mod consumer;
mod flush;
pub mod metrics;
pub mod outputs;
mod rebuild;
pub mod reference;
mod run;
mod worker;

pub use run::{run, ServiceError, ServiceOptions, ServiceReport};
