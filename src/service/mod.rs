//! The streaming service (`cellwatch run`, and `cellwatch demo` on the mock
//! cluster): Kafka consumer group → the shared pipeline → ClickHouse / topics.

mod burst;
pub(crate) mod caught_up;
mod checkpoint;
pub(crate) mod consumer;
mod cross_sim;
mod envelope;
mod error;
mod flush;
mod group_stall;
mod hop;
pub(crate) mod http_limits;
mod idle;
pub mod metrics;
pub mod outputs;
mod rebuild;
pub mod reference;
mod repartition;
mod report;
mod run;
mod stage;
mod stage_b;
pub mod stage_time;
mod topology;
mod transmitters;
mod worker;

pub use error::ServiceError;
pub use repartition::{repartition, RepartitionReport};
pub use report::ServiceReport;
pub use run::{run, ServiceOptions};

#[cfg(test)]
mod region_tests;
#[cfg(test)]
mod revocation_tests;
#[cfg(test)]
mod split_tests;
