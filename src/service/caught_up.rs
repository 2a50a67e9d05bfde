//! Whether the input is accounted for, asked of the brokers off the loop thread: the
//! final snapshots on SIGTERM and on revocation are the replay's only when every
//! record there is has reached the detectors. For the single stage: every assigned
//! feed partition consumed to its high watermark. For stage detect: every partition
//! of the feed topics committed to its end by stage ingest's group (ingest commits a
//! partition only after its envelopes are acknowledged, see `Outputs::flush`), and
//! then every internal partition it owns consumed to its end. Kept apart because
//! these are blocking broker requests: they run on tokio's blocking threads, never on
//! the service loop's.

use super::consumer::Questions;
use rdkafka::consumer::{Consumer, ConsumerContext};
use rdkafka::{Offset, TopicPartitionList};
use std::time::{Duration, Instant};

/// How long the brokers may take to answer all the requests of one question (off the
/// loop thread, so it may be generous: a loaded broker answers late, not never; but
/// bounded, so that a stop never waits long for it).
pub(crate) const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// The time left before `deadline` for the next request; an error once it is over.
pub(super) fn time_left(deadline: Instant) -> Result<Duration, String> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(format!(
            "the brokers did not answer within {} s",
            ANSWER_WITHIN.as_secs()
        ));
    }
    Ok(left)
}

/// Records not consumed yet: how many partitions hold them, and how many.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Backlog {
    pub(crate) partitions: usize,
    pub(crate) records: i64,
}

impl Backlog {
    pub(crate) fn is_empty(&self) -> bool {
        self.partitions == 0
    }

    fn add(&mut self, position: i64, low: i64, high: i64) {
        let behind = high - position.max(low);
        if high > low && behind > 0 {
            self.partitions += 1;
            self.records += behind;
        }
    }
}

/// A partition and the next offset consumed from it (`None`: nothing consumed and no
/// committed offset, i.e. from its low watermark).
pub(super) type Position = (String, i32, Option<i64>);

/// Run a blocking broker request on tokio's blocking threads; its error, or a
/// failed task, as a message.
pub(super) async fn off_loop<T: Send + 'static>(
    request: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(request)
        .await
        .map_err(|e| format!("broker request task failed: {e}"))?
}

/// What is still to read of `positions` (each partition's next offset against its
/// high watermark, asked with `consumer`, a [`super::consumer::question_client`]).
pub(super) async fn own_backlog(
    consumer: Questions,
    positions: Vec<Position>,
) -> Result<Backlog, String> {
    off_loop(move || {
        let deadline = Instant::now() + ANSWER_WITHIN;
        let mut backlog = Backlog::default();
        for (topic, partition, next) in &positions {
            let (low, high) = consumer
                .fetch_watermarks(topic, *partition, time_left(deadline)?)
                .map_err(|e| format!("high watermark of {topic}/{partition}: {e}"))?;
            backlog.add(next.unwrap_or(low), low, high);
        }
        Ok(backlog)
    })
    .await
}

/// What stage ingest's group has not committed yet of the feed `topics`: every
/// partition the brokers know, empty ones included. `reader` is a
/// [`super::consumer::question_client`] of stage ingest's group (the group's committed
/// offsets are the coordinator's, whichever instance committed them).
pub(super) async fn upstream_backlog(
    reader: Questions,
    topics: Vec<String>,
) -> Result<Backlog, String> {
    if topics.is_empty() {
        return Ok(Backlog::default());
    }
    off_loop(move || {
        committed_backlog(&*reader, &topics, Instant::now() + ANSWER_WITHIN)
            .map_err(|e| format!("stage ingest: {e}"))
    })
    .await
}

/// What the group of `reader` (its `group.id`; `reader` need not be a member) has
/// not committed yet of `topics`, by every partition the brokers know, empty ones
/// included; every request answered before `deadline`. Blocking.
pub(crate) fn committed_backlog<X: ConsumerContext, R: Consumer<X>>(
    reader: &R,
    topics: &[String],
    deadline: Instant,
) -> Result<Backlog, String> {
    let mut tpl = TopicPartitionList::new();
    for topic in topics {
        let md = reader
            .fetch_metadata(Some(topic), time_left(deadline)?)
            .map_err(|e| format!("partitions of {topic}: {e}"))?;
        let n = md.topics().first().map_or(0, |t| t.partitions().len());
        for p in 0..n as i32 {
            tpl.add_partition(topic, p);
        }
    }
    let committed = reader
        .committed_offsets(tpl, time_left(deadline)?)
        .map_err(|e| format!("committed offsets: {e}"))?;
    let mut backlog = Backlog::default();
    for e in committed.elements() {
        let (low, high) = reader
            .fetch_watermarks(e.topic(), e.partition(), time_left(deadline)?)
            .map_err(|err| format!("high watermark of {}/{}: {err}", e.topic(), e.partition()))?;
        let at = match e.offset() {
            Offset::Offset(o) => o,
            _ => low,
        };
        backlog.add(at, low, high);
    }
    Ok(backlog)
}

#[cfg(test)]
mod tests {
    use super::Backlog;

    #[test]
    fn a_partition_is_behind_only_when_records_wait_past_its_position() {
        let mut b = Backlog::default();
        b.add(10, 0, 10); // consumed to its end
        b.add(0, 0, 0); // empty
        b.add(0, 7, 7); // emptied by retention, never consumed
        assert!(b.is_empty());
        b.add(3, 0, 10);
        b.add(0, 5, 8); // nothing consumed: from its low watermark
        assert_eq!(
            b,
            Backlog {
                partitions: 2,
                records: 10
            }
        );
    }
}
