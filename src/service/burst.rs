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

/// The topic of each message of a burst, its name read once per distinct topic:
/// `Message::topic` measures and UTF-8-checks the C string on every call (about 4 %
/// of the service's CPU when called per record), while a burst has a handful of
/// topics, told apart by their librdkafka handle.
pub(super) fn topics_of<'m>(msgs: &'m [BorrowedMessage<'_>]) -> Vec<&'m str> {
    let mut known: Vec<(*mut rdkafka::types::RDKafkaTopic, &'m str)> = Vec::with_capacity(4);
    msgs.iter()
        .map(|m| {
            let handle = m.topic_ptr();
            match known.iter().find(|(h, _)| *h == handle) {
                Some((_, name)) => *name,
                None => {
                    let name = m.topic();
                    known.push((handle, name));
                    name
                }
            }
        })
        .collect()
}

fn parse_jobs(jobs: &[Job<'_>], bounds: &TimeBounds, depth: usize) -> Vec<Parsed> {
    jobs.iter()
        .map(|j| j.map(|(feed, payload)| parse_bytes(feed, bounds, depth, payload)))
        .collect()
}

impl Worker {
    /// What to parse of each record of a burst.
    fn jobs<'m>(&self, msgs: &'m [BorrowedMessage<'_>], topics: &[&str]) -> Vec<Job<'m>> {
        if matches!(self.stage, Stage::Detect(_) | Stage::Cross(_)) {
            return msgs.iter().map(|_| None).collect();
        }
        let limit = self.config.pipeline.max_record_bytes;
        msgs.iter()
            .zip(topics)
            .map(|(m, topic)| {
                let payload = m.payload().unwrap_or(&[]);
                let feed = self.feed_of(topic)?;
                (payload.len() <= limit).then_some((feed, payload))
            })
            .collect()
    }

    /// Take a burst into `batch`, in order: parsed on a helper thread chunk by
    /// chunk when it holds at least `sink.parallel_parse_min` records (here
    /// otherwise), each chunk admitted and detected as soon as it is parsed. The
    /// burst began at `mark`; its records were taken from the consumer by `polled`;
    /// `topics` are theirs ([`topics_of`]).
    pub(super) fn take_burst(
        &mut self,
        batch: &mut Batch,
        msgs: &[BorrowedMessage<'_>],
        topics: &[&str],
        mark: BurstMark,
        polled: Instant,
    ) {
        batch.behind = msgs.len() >= self.config.sink.consume_burst.max(1);
        let jobs = self.jobs(msgs, topics);
        let (bounds, depth) = (self.bounds, self.config.pipeline.max_json_depth);
        let mut parse_wait = Duration::ZERO;
        if jobs.len() < self.config.sink.parallel_parse_min.max(2) {
            let t = Instant::now();
            let parsed = parse_jobs(&jobs, &bounds, depth);
            parse_wait += t.elapsed();
            for ((m, topic), p) in msgs.iter().zip(topics).zip(parsed) {
                self.consume_one(batch, m, topic, p);
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
            for (i, (chunk, names)) in msgs
                .chunks(PARSE_CHUNK)
                .zip(topics.chunks(PARSE_CHUNK))
                .enumerate()
            {
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
                for ((m, topic), p) in chunk.iter().zip(names).zip(parsed) {
                    self.consume_one(batch, m, topic, p);
                }
            }
        });
        self.account_burst(mark, polled, parse_wait);
    }
}
