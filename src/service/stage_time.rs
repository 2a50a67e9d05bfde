//! Where the service's time goes, stage by stage: the consumer loop's waits
//! (for records, for the flush in flight) and its work (parse, admit, order,
//! detect, encode, offsets), the parse helper's work, and each flush step (encode,
//! ClickHouse inserts, Kafka produce) with the time a flush is in flight. Kept
//! apart so that the accounting is one cheap thing: an `Instant` per burst or per
//! flush step, never per record, added to one counter per stage
//! (`cellwatch_stage_seconds_total{thread, stage}`), which `cellwatch bench`
//! reads back for its breakdown.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One accounted stage. The loop thread's stages (waits included) add up to its
/// wall time; the flush stages overlap the loop (they run on the runtime's other
/// threads, waiting on the servers most of the time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Loop: nothing to consume yet (waiting for librdkafka to deliver).
    FetchWait,
    /// Loop: the batch is full and waits for the flush in flight (back-pressure).
    BackpressureWait,
    /// Loop: records taken from librdkafka's local queue into a burst.
    Poll,
    /// Loop: the stateless parse of a burst (JSON, contract rules), its half.
    Parse,
    /// Loop: admission of parsed records (source watermark, lateness, dead
    /// letters, counters, offsets noted in the batch).
    Admit,
    /// Loop: the hold queue's canonical ordering (sorting a released step).
    Order,
    /// Loop: the detectors (events and watermark notifications).
    Detect,
    /// Loop: archive rows encoded (RowBinary), sampled one record in
    /// [`ENCODE_SAMPLE`] and scaled.
    EncodeRecords,
    /// Loop: completing a flush (offsets stored) and starting the next.
    OffsetStore,
    /// Loop: everything else (timers, idleness checks, gauges, rebalances).
    LoopOther,
    /// Loop: CPU time of the thread during bursts (against their wall time).
    BurstCpu,
    /// Parse helper thread: the other half of each large burst.
    ParseHelper,
    /// Flush: case rows, dead-letter rows and topic payloads encoded.
    EncodeCases,
    /// Flush: the archive's rows put in the `records` key order before the insert.
    SortRecords,
    /// Flush: the archive insert into ClickHouse `records` (until acknowledged).
    InsertRecords,
    /// Flush: the case insert into ClickHouse `cases`.
    InsertCases,
    /// Flush: the dead-letter insert into ClickHouse `dead_letters`.
    InsertDeadLetters,
    /// Flush: case snapshots and dead letters produced to their topics, acks awaited.
    ProduceTopics,
    /// Flush: envelopes produced to the internal topics (stage ingest).
    ProduceEnvelopes,
    /// Flush: from start to acknowledgement, per flush (overlapping flushes add up).
    FlushInFlight,
}

/// Archive rows are timed one in this many (an `Instant` costs about a third of an
/// encoded row); the sampled time is scaled by it.
pub(crate) const ENCODE_SAMPLE: u32 = 64;

impl Step {
    pub const ALL: [Step; 20] = [
        Step::FetchWait,
        Step::BackpressureWait,
        Step::Poll,
        Step::Parse,
        Step::Admit,
        Step::Order,
        Step::Detect,
        Step::EncodeRecords,
        Step::OffsetStore,
        Step::LoopOther,
        Step::BurstCpu,
        Step::ParseHelper,
        Step::EncodeCases,
        Step::SortRecords,
        Step::InsertRecords,
        Step::InsertCases,
        Step::InsertDeadLetters,
        Step::ProduceTopics,
        Step::ProduceEnvelopes,
        Step::FlushInFlight,
    ];

    /// The thread (or task) the stage runs on: `loop`, `parse_helper` or `flush`.
    pub fn thread(self) -> &'static str {
        match self {
            Step::ParseHelper => "parse_helper",
            Step::EncodeCases
            | Step::SortRecords
            | Step::InsertRecords
            | Step::InsertCases
            | Step::InsertDeadLetters
            | Step::ProduceTopics
            | Step::ProduceEnvelopes
            | Step::FlushInFlight => "flush",
            _ => "loop",
        }
    }

    /// The stage's label.
    pub fn name(self) -> &'static str {
        match self {
            Step::FetchWait => "fetch_wait",
            Step::BackpressureWait => "backpressure_wait",
            Step::Poll => "poll",
            Step::Parse => "parse",
            Step::Admit => "admit",
            Step::Order => "order",
            Step::Detect => "detect",
            Step::EncodeRecords => "encode_records",
            Step::OffsetStore => "offset_store",
            Step::LoopOther => "other",
            Step::BurstCpu => "burst_cpu",
            Step::ParseHelper => "parse",
            Step::EncodeCases => "encode_cases",
            Step::SortRecords => "sort_records",
            Step::InsertRecords => "insert_records",
            Step::InsertCases => "insert_cases",
            Step::InsertDeadLetters => "insert_dead_letters",
            Step::ProduceTopics => "produce_topics",
            Step::ProduceEnvelopes => "produce_envelopes",
            Step::FlushInFlight => "in_flight",
        }
    }

    /// Whether the stage is waiting rather than working.
    pub fn is_wait(self) -> bool {
        matches!(self, Step::FetchWait | Step::BackpressureWait)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabel {
    thread: &'static str,
    stage: &'static str,
}

/// Seconds per stage, shared by the loop and the flush tasks.
#[derive(Clone)]
pub struct StageClock {
    counters: Arc<[Counter<f64, AtomicU64>]>,
}

impl StageClock {
    /// The counters, registered as `stage_seconds` (one per stage, every stage
    /// present from the start).
    pub(crate) fn register(registry: &mut Registry) -> StageClock {
        let family = Family::<StageLabel, Counter<f64, AtomicU64>>::default();
        registry.register(
            "stage_seconds",
            "Wall time spent per stage of the service path (loop thread: waits and work add up to its wall time; flush: time per sink step)",
            family.clone(),
        );
        let counters = Step::ALL
            .iter()
            .map(|s| {
                family
                    .get_or_create(&StageLabel {
                        thread: s.thread(),
                        stage: s.name(),
                    })
                    .clone()
            })
            .collect();
        StageClock { counters }
    }

    pub(crate) fn add(&self, step: Step, d: Duration) {
        self.counters[step as usize].inc_by(d.as_secs_f64());
    }

    /// Add the time since `since` to `step`; returns now (the next stage's start).
    pub(crate) fn lap(&self, step: Step, since: Instant) -> Instant {
        let now = Instant::now();
        self.add(step, now.saturating_duration_since(since));
        now
    }

    /// Seconds per stage so far, in [`Step::ALL`] order.
    pub fn snapshot(&self) -> Vec<(Step, f64)> {
        Step::ALL
            .iter()
            .map(|s| (*s, self.counters[*s as usize].get()))
            .collect()
    }
}

/// CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`), zero where the
/// clock is unavailable.
pub(crate) fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_has_its_own_counter_and_label() {
        for (i, s) in Step::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i, "{s:?} out of order in Step::ALL");
        }
        let labels: std::collections::BTreeSet<_> =
            Step::ALL.iter().map(|s| (s.thread(), s.name())).collect();
        assert_eq!(labels.len(), Step::ALL.len());
    }

    #[test]
    fn laps_add_up_and_are_exported() {
        let mut registry = Registry::default();
        let clock = StageClock::register(&mut registry);
        let t = Instant::now() - Duration::from_millis(20);
        clock.lap(Step::Detect, t);
        clock.add(Step::Detect, Duration::from_millis(5));
        let detect = clock.snapshot()[Step::Detect as usize].1;
        assert!((0.025..1.0).contains(&detect), "{detect}");
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
        assert!(
            text.contains(r#"stage_seconds_total{thread="loop",stage="detect"}"#),
            "{text}"
        );
        assert!(thread_cpu() > Duration::ZERO);
    }
}
