//! `[sink]`: batching and retries towards ClickHouse and the output topics.

use super::check::{at_least, Problems};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Batching and retries towards ClickHouse and the output topics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SinkConfig {
    /// Flush when this many records have been consumed since the last flush.
    /// Default 100 000: ClickHouse wants thousands to hundreds of thousands of rows
    /// per insert, about one insert per second per table, and the service drains
    /// ~100 000 records/s on a 2-core machine (measured: 150 000-row batches cost the
    /// server a quarter less CPU than 50 000-row ones). Two batches are in memory at
    /// once (one filling, one being flushed), ~35 MB each (with `sort_archive`, up
    /// to as much again of spare archive chunks each).
    pub batch_max_records: usize,
    /// Flush at least this often, milliseconds (at least 10). Default 1000. A batch
    /// is also flushed early when the feed goes quiet (nothing consumed for a tenth
    /// of this interval) and, see `case_flush_ms`, when it holds new case snapshots.
    pub flush_interval_ms: u64,
    /// A batch holding new case snapshots is flushed once it is this old,
    /// milliseconds, so that cases are queryable within the case-latency target
    /// (p99 ≤ 2 s) without making every insert small; at most `flush_interval_ms`.
    /// Not while the service drains a backlog (its last burst took a full
    /// `consume_burst`): then the cases wait for the backlog anyway, and the batch
    /// is flushed when full or `flush_interval_ms` old, so inserts stay large.
    /// Default 200.
    pub(crate) case_flush_ms: u64,
    /// Attempts of one flush before the service reports not-ready and pauses
    /// consumption (it keeps retrying: nothing is dropped); at least 1. Default 5.
    pub retry_max: u32,
    /// First retry delay, milliseconds, doubled per attempt up to
    /// `retry_backoff_max_ms`. Default 200.
    pub retry_backoff_ms: u64,
    /// Longest delay between two retries, milliseconds. Default 10 000.
    pub retry_backoff_max_ms: u64,
    /// Also store dead letters in ClickHouse (`dead_letters`). Default true.
    pub(crate) dead_letters_to_clickhouse: bool,
    /// Archive every valid record in ClickHouse `records` (the evidence behind
    /// cases, for evidence packages and analysts). Default true.
    pub(crate) archive_records: bool,
    /// Records taken from the consumer's local queue per wake-up of the service
    /// loop before it looks at its timers and the sinks again. Default 4096
    /// (about 10 ms of work; librdkafka prefetches far more than that).
    pub(crate) consume_burst: usize,
    /// A burst of at least this many records is parsed (JSON and contract rules)
    /// on two threads before it goes through the detectors in order; smaller ones on
    /// the service thread. Default 512 (handing a burst to the worker's parse
    /// helper thread, which lives as long as the worker, costs a few channel
    /// messages; parsing 512 records ~1 ms).
    pub(crate) parallel_parse_min: usize,
    /// Batches being flushed at once, at least 1. Default 2: the archive insert of
    /// the next batch overlaps the current one (ClickHouse takes a large insert in
    /// about the time the service fills the next batch), so consumption waits for
    /// ClickHouse less; the other steps (cases, dead letters, the topics) still run
    /// one batch after the other, and offsets are stored in batch order. Each batch
    /// in flight keeps its memory (~35 MB at `batch_max_records`; with
    /// `sort_archive`, up to twice that).
    pub max_flushes_in_flight: usize,
    /// Send each batch's archive rows already in the `records` table's key order,
    /// so that the ClickHouse server skips its own sort of the insert. Default
    /// false: it moves CPU from the server to the service rather than saving it
    /// (measured with both on one 2-core machine: the server −0.1 to −1.6 µs per
    /// record, the service +0.4 to +0.7 µs). Worth it when a ClickHouse server
    /// shared by several instances is the limit; not when the service's own CPU
    /// is. Costs up to one more batch of archive memory per batch.
    pub sort_archive: bool,
    /// How long `cellwatch run` keeps memory it freed before handing it back to the
    /// OS, milliseconds. Default 1000. Every burst and batch frees and allocates the
    /// same amounts again (parsed records, hold queues, the parse helper's heap);
    /// memory handed back at once, as the replay and the memory measurements do, is
    /// zero-filled again by the kernel at its next use (a page fault per 4 KiB:
    /// a tenth of the service's profile while it drained a backlog; holding it cut
    /// the page faults by a quarter and the service's CPU by about 5 %). 0 hands it
    /// back at once (lowest resident memory between bursts).
    pub free_memory_hold_ms: u64,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            batch_max_records: 100_000,
            flush_interval_ms: 1000,
            case_flush_ms: 200,
            retry_max: 5,
            retry_backoff_ms: 200,
            retry_backoff_max_ms: 10_000,
            dead_letters_to_clickhouse: true,
            archive_records: true,
            consume_burst: 4096,
            parallel_parse_min: 512,
            max_flushes_in_flight: 2,
            sort_archive: false,
            free_memory_hold_ms: 1000,
        }
    }
}

impl SinkConfig {
    /// Record what cannot work (keys named in full).
    pub(crate) fn check(&self, p: &mut Problems) {
        at_least(
            p,
            "sink.batch_max_records",
            self.batch_max_records as u64,
            1,
        );
        at_least(p, "sink.flush_interval_ms", self.flush_interval_ms, 10);
        if self.case_flush_ms > self.flush_interval_ms {
            p.push(
                "sink.case_flush_ms",
                format!(
                    "must not exceed sink.flush_interval_ms ({}), got {}",
                    self.flush_interval_ms, self.case_flush_ms
                ),
            );
        }
        at_least(p, "sink.retry_max", u64::from(self.retry_max), 1);
        at_least(p, "sink.retry_backoff_ms", self.retry_backoff_ms, 1);
        if self.retry_backoff_max_ms < self.retry_backoff_ms {
            p.push(
                "sink.retry_backoff_max_ms",
                format!(
                    "must be at least sink.retry_backoff_ms ({}), got {}",
                    self.retry_backoff_ms, self.retry_backoff_max_ms
                ),
            );
        }
        at_least(p, "sink.consume_burst", self.consume_burst as u64, 1);
        at_least(
            p,
            "sink.max_flushes_in_flight",
            self.max_flushes_in_flight as u64,
            1,
        );
    }
}
