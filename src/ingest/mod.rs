//! Sources of raw records: JSON Lines files for replay (and the Kafka consumer for
//! the service). A source yields bytes plus where they came from; it never parses.

pub mod lines;

use serde::Serialize;
use std::fmt;

/// Where a raw record came from, kept with dead letters so nothing is anonymous.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Origin {
    /// A line of a file (1-based line number).
    File { file: String, line: u64 },
    /// A Kafka message.
    Kafka {
        topic: String,
        partition: i32,
        offset: i64,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { file, line } => write!(f, "{file}:{line}"),
            Origin::Kafka {
                topic,
                partition,
                offset,
            } => write!(f, "{topic}[{partition}]@{offset}"),
        }
    }
}
