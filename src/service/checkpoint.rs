//! Stage ingest's state in Kafka itself: the highest event time admitted from a feed
//! partition, stored as the metadata of the partition's committed offset.
//!
//! Stage ingest keeps nothing per partition but its lateness watermark (the highest
//! on-time event time, [`crate::window::Watermark`]). Without a checkpoint, a new owner
//! of the partition had to re-read the restore window to learn it: hours of a feed at
//! every assignment. With the value committed next to the offset it covers (the same
//! commit, so they never disagree), the new owner resumes at once and admits exactly
//! the records an uninterrupted run would. An offset committed without metadata (by an
//! older release, or before any valid record) falls back to re-reading.

/// Prefix of the metadata, with a version so the format can change.
const PREFIX: &str = "cellwatch.v1 max_event_ms=";

/// The metadata string for a partition whose highest admitted event time is `ms`.
pub(super) fn encode(max_event_ms: i64) -> String {
    format!("{PREFIX}{max_event_ms}")
}

/// The highest admitted event time in `metadata`, `None` when it is not a checkpoint
/// of this format (empty, another tool's, a future version).
pub(super) fn decode(metadata: &str) -> Option<i64> {
    metadata.strip_prefix(PREFIX)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_foreign_metadata() {
        for ms in [0, 1_793_502_000_000, i64::MAX, -5] {
            assert_eq!(decode(&encode(ms)), Some(ms));
        }
        for other in [
            "",
            "x",
            "cellwatch.v2 max_event_ms=5",
            "cellwatch.v1 max_event_ms=",
        ] {
            assert_eq!(decode(other), None, "{other:?}");
        }
    }
}
