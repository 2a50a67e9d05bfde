//! A burst of consumed records through the worker, parse and detection overlapped:
//! a scoped helper thread parses the burst chunk by chunk (JSON and the contract's
//! stateless rules) while the worker admits, orders, detects and archives the
//! chunks already parsed, strictly in consumed order. The worker's thread then
//! waits for parsing only on the first chunk (and whenever the helper falls
//! behind), so on two cores the burst costs about its detection time, not parse
//! plus detection.

use super::outputs::Batch;
use super::stage::Stage;
use super::stage_time::Step;
use super::worker::{BurstMark, Worker};
use crate::model::{Event, Feed, TimeBounds, ValidationError};
use crate::validate::parse_bytes;
use rdkafka::message::{BorrowedMessage, Message};
use std::time::{Duration, Instant};

/// Records the helper parses before handing them over: small enough that the
/// worker starts detecting early, large enough that the hand-over (one channel
/// message) costs nothing per record.
const PARSE_CHUNK: usize = 256;

/// A record's stateless parse, `None` for what [`Worker::consume_one`] handles
/// itself (not a feed topic, too large, stage detect's envelopes).
type Parsed = Option<Result<Event, ValidationError>>;
type Job<'a> = Option<(Feed, &'a [u8])>;

fn parse_jobs(jobs: &[Job<'_>], bounds: &TimeBounds, depth: usize) -> Vec<Parsed> {
    jobs.iter()
        .map(|j| j.map(|(feed, payload)| parse_bytes(feed, bounds, depth, payload)))
        .collect()
}

impl Worker {
    /// What to parse of each record of a burst.
    fn jobs<'m>(&self, msgs: &'m [BorrowedMessage<'_>]) -> Vec<Job<'m>> {
        if matches!(self.stage, Stage::Detect(_) | Stage::Cross(_)) {
            return msgs.iter().map(|_| None).collect();
        }
        let limit = self.config.pipeline.max_record_bytes;
        msgs.iter()
            .map(|m| {
                let payload = m.payload().unwrap_or(&[]);
                let feed = self.feed_of(m.topic())?;
                (payload.len() <= limit).then_some((feed, payload))
            })
            .collect()
    }

    /// Take a burst into `batch`, in order: parsed on a helper thread chunk by
    /// chunk when it holds at least `sink.parallel_parse_min` records (here
    /// otherwise), each chunk admitted and detected as soon as it is parsed. The
    /// burst began at `mark`; its records were taken from the consumer by `polled`.
    pub(super) fn take_burst(
        &mut self,
        batch: &mut Batch,
        msgs: &[BorrowedMessage<'_>],
        mark: BurstMark,
        polled: Instant,
    ) {
        batch.behind = msgs.len() >= self.config.sink.consume_burst.max(1);
        let jobs = self.jobs(msgs);
        let (bounds, depth) = (self.bounds, self.config.pipeline.max_json_depth);
        let mut parse_wait = Duration::ZERO;
        if jobs.len() < self.config.sink.parallel_parse_min.max(2) {
            let t = Instant::now();
            let parsed = parse_jobs(&jobs, &bounds, depth);
            parse_wait += t.elapsed();
            for (m, p) in msgs.iter().zip(parsed) {
                self.consume_one(batch, m, p);
            }
            self.account_burst(mark, polled, parse_wait);
            return;
        }
        let clock = self.metrics.stages.clone();
        let jobs = &jobs;
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::channel::<Vec<Parsed>>();
            scope.spawn(move || {
                let t = Instant::now();
                for chunk in jobs.chunks(PARSE_CHUNK) {
                    if tx.send(parse_jobs(chunk, &bounds, depth)).is_err() {
                        break;
                    }
                }
                clock.add(Step::ParseHelper, t.elapsed());
            });
            for (i, chunk) in msgs.chunks(PARSE_CHUNK).enumerate() {
                let t = Instant::now();
                let parsed = match rx.recv() {
                    Ok(p) => p,
                    // The helper panicked: parse the chunk here (it panics again, as
                    // the sequential code would).
                    Err(_) => {
                        let from = i * PARSE_CHUNK;
                        parse_jobs(&jobs[from..from + chunk.len()], &bounds, depth)
                    }
                };
                parse_wait += t.elapsed();
                for (m, p) in chunk.iter().zip(parsed) {
                    self.consume_one(batch, m, p);
                }
            }
        });
        self.account_burst(mark, polled, parse_wait);
    }
}
