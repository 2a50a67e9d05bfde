//! A burst of consumed records through the worker, parse and detection overlapped:
//! the worker's parse helper thread parses the burst chunk by chunk (JSON and the
//! contract's stateless rules) while the worker admits, orders, detects and
//! archives the chunks already parsed, strictly in consumed order. The worker's
//! thread then waits for parsing only on the first chunk (and whenever the helper
//! falls behind), so on two cores the burst costs about its detection time, not
//! parse plus detection.
//!
//! The helper is one long-lived thread per worker ([`ParseHelper`]), not a thread
//! per burst: a fresh thread per burst (a scoped one until stop 31) started with a
//! fresh allocator heap and stack, and the pages it touched were zero-filled by the
//! kernel again every burst (about two fifths of the service's page faults while it
//! drained a backlog).

use super::outputs::Batch;
use super::stage::Stage;
use super::stage_time::Step;
use super::worker::{BurstMark, Worker};
use crate::model::{Event, Feed, TimeBounds, ValidationError};
use crate::validate::parse_bytes;
use rdkafka::message::{BorrowedMessage, Message};
use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{channel, Receiver, Sender};
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

/// One burst handed to the helper: its jobs (borrowed from the burst's messages,
/// see [`ParseHelper::parse`] for why that is sound) and how to parse them.
struct Task {
    jobs: *const Job<'static>,
    len: usize,
    bounds: TimeBounds,
    depth: usize,
    clock: super::stage_time::StageClock,
}

// SAFETY: the pointer is read by the helper only while the burst that sent it
// waits for the helper's `Done` (`Pending`), and `Job` holds only shared
// references to bytes and a `Feed`, which are `Sync`.
unsafe impl Send for Task {}

/// What the helper sends back for a task: each chunk's parse in order (`None`: the
/// parse panicked, and the helper stopped the task), then `Done`.
enum Reply {
    Chunk(Option<Vec<Parsed>>),
    Done,
}

/// The worker's parse helper: a thread that lives as long as the worker (created
/// at its first large burst), so its allocator heap and stack stay warm.
pub(super) struct ParseHelper {
    tasks: Sender<Task>,
    replies: Receiver<Reply>,
}

impl ParseHelper {
    fn start() -> Option<Self> {
        let (tasks, task_rx) = channel::<Task>();
        let (reply_tx, replies) = channel::<Reply>();
        std::thread::Builder::new()
            .name("cw-parse".into())
            .spawn(move || helper_loop(task_rx, reply_tx))
            .ok()?;
        Some(ParseHelper { tasks, replies })
    }
}

fn helper_loop(tasks: Receiver<Task>, replies: Sender<Reply>) {
    while let Ok(task) = tasks.recv() {
        let t = Instant::now();
        // SAFETY: see `Task`: the sender keeps the jobs and the bytes they borrow
        // alive until it has received this task's `Done`.
        let jobs: &[Job<'_>] = unsafe { std::slice::from_raw_parts(task.jobs, task.len) };
        for chunk in jobs.chunks(PARSE_CHUNK) {
            let parsed = std::panic::catch_unwind(AssertUnwindSafe(|| {
                parse_jobs(chunk, &task.bounds, task.depth)
            }))
            .ok();
            let failed = parsed.is_none();
            if replies.send(Reply::Chunk(parsed)).is_err() || failed {
                break;
            }
        }
        task.clock.add(Step::ParseHelper, t.elapsed());
        if replies.send(Reply::Done).is_err() {
            return;
        }
    }
}

/// A task in the helper's hands: dropping it (at the end of the burst, or while
/// unwinding from a panic in detection) waits for the helper's `Done`, so the
/// burst's messages are never freed while the helper reads them.
struct Pending<'h> {
    replies: &'h Receiver<Reply>,
    done: bool,
}

impl Pending<'_> {
    /// The next chunk's parse, `None` once the helper stopped (a panic) or is gone.
    fn next(&mut self) -> Option<Vec<Parsed>> {
        if self.done {
            return None;
        }
        match self.replies.recv() {
            Ok(Reply::Chunk(Some(p))) => Some(p),
            Ok(Reply::Chunk(None)) => {
                self.finish();
                None
            }
            Ok(Reply::Done) | Err(_) => {
                self.done = true;
                None
            }
        }
    }

    fn finish(&mut self) {
        while !self.done {
            match self.replies.recv() {
                Ok(Reply::Chunk(_)) => {}
                Ok(Reply::Done) | Err(_) => self.done = true,
            }
        }
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.finish();
    }
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
        // A large burst goes to the helper (started at the first one); a small one,
        // or one for which no thread is to be had, is parsed here.
        let large = jobs.len() >= self.config.sink.parallel_parse_min.max(2);
        if large && self.parse_helper.is_none() {
            self.parse_helper = ParseHelper::start();
        }
        let Some(helper) = self.parse_helper.take_if(|_| large) else {
            let t = Instant::now();
            let parsed = parse_jobs(&jobs, &bounds, depth);
            parse_wait += t.elapsed();
            for ((m, topic), p) in msgs.iter().zip(topics).zip(parsed) {
                self.consume_one(batch, m, topic, p);
            }
            self.account_burst(mark, polled, parse_wait);
            return;
        };
        let task = Task {
            jobs: jobs.as_ptr().cast::<Job<'static>>(),
            len: jobs.len(),
            bounds,
            depth,
            clock: self.metrics.stages.clone(),
        };
        let mut pending = Pending {
            replies: &helper.replies,
            done: helper.tasks.send(task).is_err(),
        };
        for (i, (chunk, names)) in msgs
            .chunks(PARSE_CHUNK)
            .zip(topics.chunks(PARSE_CHUNK))
            .enumerate()
        {
            let t = Instant::now();
            let parsed = match pending.next() {
                Some(p) => p,
                // The helper panicked (or is gone): parse the chunk here (a panic
                // happens again, as the sequential code would have it).
                None => {
                    let from = i * PARSE_CHUNK;
                    parse_jobs(&jobs[from..from + chunk.len()], &bounds, depth)
                }
            };
            parse_wait += t.elapsed();
            for ((m, topic), p) in chunk.iter().zip(names).zip(parsed) {
                self.consume_one(batch, m, topic, p);
            }
        }
        drop(pending);
        self.parse_helper = Some(helper);
        self.account_burst(mark, polled, parse_wait);
    }
}
