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

/// [`Origin`] borrowed from the caller: built per record at no cost, turned into an
/// owned [`Origin`] only for the rare record that becomes a dead letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginRef<'a> {
    File {
        file: &'a str,
        line: u64,
    },
    Kafka {
        topic: &'a str,
        partition: i32,
        offset: i64,
    },
}

impl OriginRef<'_> {
    pub(crate) fn to_origin(self) -> Origin {
        match self {
            OriginRef::File { file, line } => Origin::File {
                file: file.to_string(),
                line,
            },
            OriginRef::Kafka {
                topic,
                partition,
                offset,
            } => Origin::Kafka {
                topic: topic.to_string(),
                partition,
                offset,
            },
        }
    }
}

impl<'a> From<&'a Origin> for OriginRef<'a> {
    fn from(o: &'a Origin) -> Self {
        match o {
            Origin::File { file, line } => OriginRef::File { file, line: *line },
            Origin::Kafka {
                topic,
                partition,
                offset,
            } => OriginRef::Kafka {
                topic,
                partition: *partition,
                offset: *offset,
            },
        }
    }
}
