//! `[pipeline]`: validation and event-time settings shared by every source, and the
//! order in which events reach the detectors.

use super::check::{at_least, Problems};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Validation and event-time settings shared by every source (docs/streaming.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// How far behind the highest event time seen a record may be before it is
    /// dead-lettered as `late`, seconds. Operators report in 1–15 min intervals and
    /// probes upload in batches, hence 10 minutes.
    pub(crate) allowed_lateness_secs: u64,
    /// Largest accepted record in bytes; longer lines are dead-lettered as `too_large`
    /// without being buffered whole. 1 MiB: a real record is under 4 KiB.
    pub(crate) max_record_bytes: usize,
    /// Deepest accepted nesting of arrays and objects in a record; a deeper record
    /// is dead-lettered as `malformed_json` before it is parsed. Contract records
    /// nest 2 deep; unknown fields may hold anything up to this.
    pub max_json_depth: usize,
    /// Event-time progress between two watermark notifications to the detectors
    /// (window closing, eviction), seconds.
    pub(crate) watermark_step_secs: u64,
    /// How much history a worker re-reads to rebuild detector state when it is
    /// assigned partitions, seconds: the longest detector window plus the allowed
    /// lateness (24 h + 10 min).
    pub(crate) restore_window_secs: u64,
    /// Source idleness (service only), seconds: a partition the worker has consumed to
    /// its end (position = high watermark) and that brought nothing new for this long
    /// stops holding its feed's watermark back; when every partition of every feed is
    /// idle, the held events are released and the detectors emit their final
    /// snapshots, as at the end of a replay. A partition silent for longer while its
    /// producer still has data for it makes the result depend on timing: keep it above
    /// the longest pause of a live feed's partitions.
    pub(crate) idle_timeout_secs: u64,
    /// How events reach the detectors: `event_time` holds them until the watermark
    /// passes and releases them in canonical order, so the same input gives the same
    /// cases, replayed or streamed, at the price of holding events up to the allowed
    /// lateness; `arrival` gives the lowest latency, but cross-key detectors (farms,
    /// identity linking) may then differ with partition interleaving.
    pub(crate) ordering: EventOrder,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            allowed_lateness_secs: 600,
            max_record_bytes: 1 << 20,
            max_json_depth: 32,
            watermark_step_secs: 10,
            restore_window_secs: 87_000,
            idle_timeout_secs: 30,
            ordering: EventOrder::EventTime,
        }
    }
}

impl PipelineConfig {
    pub fn allowed_lateness_ms(&self) -> i64 {
        (self.allowed_lateness_secs as i64).saturating_mul(1000)
    }

    pub(crate) fn restore_window_ms(&self) -> i64 {
        (self.restore_window_secs as i64).saturating_mul(1000)
    }

    /// How long a consumed-to-the-end partition may bring nothing before it is idle.
    pub(crate) fn idle_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.idle_timeout_secs)
    }

    pub(crate) fn watermark_step_ms(&self) -> i64 {
        (self.watermark_step_secs as i64).saturating_mul(1000)
    }

    /// Record what cannot work (keys named in full).
    pub(crate) fn check(&self, p: &mut Problems) {
        at_least(
            p,
            "pipeline.max_record_bytes",
            self.max_record_bytes as u64,
            1,
        );
        at_least(p, "pipeline.max_json_depth", self.max_json_depth as u64, 2);
        at_least(
            p,
            "pipeline.watermark_step_secs",
            self.watermark_step_secs,
            1,
        );
        at_least(p, "pipeline.idle_timeout_secs", self.idle_timeout_secs, 1);
    }
}

/// How events reach the detectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum EventOrder {
    /// Held until the watermark, released in canonical order (deterministic).
    #[default]
    EventTime,
    /// Delivered on arrival: lowest latency; cross-key detectors (farms, identity
    /// linking) may then depend on how partitions interleave.
    Arrival,
}
