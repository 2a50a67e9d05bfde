//! Writes one JSON Lines feed file step by step: records of a 5-minute step are
//! shuffled by a small delivery delay (≤ 90 s, so out-of-orderness stays bounded),
//! a few deliberately malformed lines are mixed in, and a few valid records are held
//! back and written hours later (late records). Counts go to the truth.
//!
//! Records of knob-driven features go through [`FeedWriter::push_extra`]: their
//! delivery delay comes from a stream of their own (the default records keep their
//! order and their malformed and late companions), and they may be delivered later on
//! purpose (re-sent copies, batches held back).

use super::malformed::{corrupt, invalid_utf8, MalformedKind};
use super::util::SimRng;
use super::{SimulateError, STEP_MS};
use crate::model::Feed;
use rand::Rng;
use serde::Serialize;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Largest delivery delay added to a record's event time to order the file, ms.
pub(crate) const MAX_DELIVERY_JITTER_MS: i64 = 90_000;
/// A late record is written this many steps (of 5 min) after its own step, at least:
/// 26 steps = 130 min, so it is ≥ 2 h behind the newest event time already written.
const LATE_MIN_STEPS: usize = 26;
const LATE_MAX_STEPS: usize = 40;

/// What one feed file got.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FeedTotals {
    /// Newline-terminated lines, malformed and empty ones included.
    pub(crate) lines: u64,
    pub(crate) malformed: u64,
    pub(crate) late: u64,
    /// Copies of records delivered a second time.
    pub(crate) redelivered: u64,
    /// Records of batches delivered late on purpose.
    pub(crate) delayed: u64,
}

/// When a record of a knob-driven feature is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// With the other records of its step.
    OnTime,
    /// A second copy, this long after its event time.
    Redelivered { delay_ms: i64 },
    /// Part of a batch held back this long.
    Delayed { delay_ms: i64 },
}

struct Pending {
    key: i64,
    bytes: Vec<u8>,
}

/// Writer of one feed file.
pub(crate) struct FeedWriter {
    feed: Feed,
    path: PathBuf,
    out: BufWriter<std::fs::File>,
    rng: SimRng,
    batch: Vec<Pending>,
    /// Steps at which one late record is taken out of the batch.
    late_take_steps: Vec<usize>,
    taken_this_step: bool,
    late_queue: Vec<(usize, Vec<u8>)>,
    /// Records delivered in a later step on purpose: (step, delivery key, bytes).
    deferred: Vec<(usize, i64, Vec<u8>)>,
    /// Delivery delays of knob-driven records.
    extra_rng: SimRng,
    start_ms: i64,
    malformed_rate: f64,
    malformed_cycle: usize,
    /// Steps at which the invalid-UTF-8 line and the empty line are written.
    utf8_step: usize,
    empty_step: usize,
    utf8_done: bool,
    empty_done: bool,
    step: usize,
    pub(crate) lines: u64,
    pub(crate) malformed: u64,
    pub(crate) late: u64,
    redelivered: u64,
    delayed: u64,
    scratch: Vec<u8>,
}

/// Where and when a feed file's steps are.
pub(crate) struct FeedPlan {
    pub(crate) n_steps: usize,
    pub(crate) start_ms: i64,
    pub(crate) late_count: usize,
    pub(crate) malformed_rate: f64,
}

impl FeedWriter {
    /// A writer of `path`: `rng` draws the default records' delivery, `extra_rng`
    /// that of knob-driven ones.
    pub(crate) fn create(
        feed: Feed,
        path: &Path,
        plan: &FeedPlan,
        mut rng: SimRng,
        extra_rng: SimRng,
    ) -> Result<FeedWriter, SimulateError> {
        let FeedPlan {
            n_steps,
            late_count,
            malformed_rate,
            start_ms,
        } = *plan;
        let file = std::fs::File::create(path).map_err(|source| SimulateError::io(path, source))?;
        let mut late_take_steps = Vec::new();
        if n_steps > LATE_MAX_STEPS + 2 {
            for _ in 0..late_count {
                late_take_steps.push(rng.random_range(1..n_steps - LATE_MAX_STEPS - 1));
            }
        }
        late_take_steps.sort_unstable();
        late_take_steps.dedup();
        let utf8_step = rng.random_range(0..n_steps.max(1));
        let empty_step = rng.random_range(0..n_steps.max(1));
        Ok(FeedWriter {
            feed,
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 20, file),
            rng,
            batch: Vec::with_capacity(4096),
            late_take_steps,
            taken_this_step: false,
            late_queue: Vec::new(),
            deferred: Vec::new(),
            extra_rng,
            start_ms,
            malformed_rate,
            malformed_cycle: 0,
            utf8_step,
            empty_step,
            utf8_done: false,
            empty_done: false,
            step: 0,
            lines: 0,
            malformed: 0,
            late: 0,
            redelivered: 0,
            delayed: 0,
            scratch: Vec::with_capacity(1024),
        })
    }

    /// Add one valid record with its event time. `late_eligible` marks records of
    /// ordinary subjects that may be held back as late records.
    pub(crate) fn push<T: Serialize>(
        &mut self,
        record: &T,
        event_ms: i64,
        late_eligible: bool,
    ) -> Result<(), SimulateError> {
        let mut bytes = Vec::with_capacity(512);
        serde_json::to_writer(&mut bytes, record).map_err(|source| SimulateError::Json {
            path: self.path.clone(),
            source,
        })?;
        if late_eligible
            && !self.taken_this_step
            && self.late_take_steps.binary_search(&self.step).is_ok()
        {
            self.taken_this_step = true;
            let due = self.step + self.rng.random_range(LATE_MIN_STEPS..=LATE_MAX_STEPS);
            self.late_queue.push((due, bytes));
            return Ok(());
        }
        let key = event_ms + self.rng.random_range(0..=MAX_DELIVERY_JITTER_MS);
        if self.rng.random::<f64>() < self.malformed_rate {
            let kind = MalformedKind::cycle(self.feed, self.malformed_cycle);
            self.malformed_cycle += 1;
            let broken = corrupt(self.feed, kind, &bytes, &mut self.rng);
            self.batch.push(Pending {
                key: key + 1,
                bytes: broken,
            });
            self.malformed += 1;
        }
        if !self.utf8_done && self.step >= self.utf8_step && self.batch.len() >= 3 {
            self.utf8_done = true;
            self.batch.push(Pending {
                key,
                bytes: invalid_utf8(&bytes),
            });
            self.malformed += 1;
        }
        if !self.empty_done && self.step >= self.empty_step && self.batch.len() >= 5 {
            self.empty_done = true;
            self.batch.push(Pending {
                key,
                bytes: Vec::new(),
            });
            self.malformed += 1;
        }
        self.batch.push(Pending { key, bytes });
        Ok(())
    }

    /// Add one valid record of a knob-driven feature, delivered as `delivery` says;
    /// never turned into a malformed or a late record.
    pub(crate) fn push_extra<T: Serialize>(
        &mut self,
        record: &T,
        event_ms: i64,
        delivery: Delivery,
    ) -> Result<(), SimulateError> {
        let mut bytes = Vec::with_capacity(512);
        serde_json::to_writer(&mut bytes, record).map_err(|source| SimulateError::Json {
            path: self.path.clone(),
            source,
        })?;
        let jitter = self.extra_rng.random_range(0..=MAX_DELIVERY_JITTER_MS);
        let delay = match delivery {
            Delivery::OnTime => 0,
            Delivery::Redelivered { delay_ms } => {
                self.redelivered += 1;
                delay_ms
            }
            Delivery::Delayed { delay_ms } => {
                self.delayed += 1;
                delay_ms
            }
        };
        let key = event_ms + delay + jitter;
        let due = usize::try_from((event_ms + delay - self.start_ms) / STEP_MS).unwrap_or(0);
        if delay == 0 || due <= self.step {
            self.batch.push(Pending { key, bytes });
        } else {
            self.deferred.push((due, key, bytes));
        }
        Ok(())
    }

    /// Write the step's records in delivery order, then the late records due now.
    pub(crate) fn finish_step(&mut self) -> Result<(), SimulateError> {
        let step = self.step;
        if self.deferred.iter().any(|d| d.0 <= step) {
            let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.deferred)
                .into_iter()
                .partition(|d| d.0 <= step);
            self.deferred = later;
            self.batch.extend(
                due.into_iter()
                    .map(|(_, key, bytes)| Pending { key, bytes }),
            );
        }
        self.batch.sort_by_key(|p| p.key);
        let path = &self.path;
        let io = |source| SimulateError::io(path, source);
        for p in self.batch.drain(..) {
            self.out.write_all(&p.bytes).map_err(io)?;
            self.out.write_all(b"\n").map_err(io)?;
            self.lines += 1;
        }
        let mut i = 0;
        while i < self.late_queue.len() {
            if self.late_queue[i].0 == step {
                let (_, bytes) = self.late_queue.remove(i);
                self.scratch.clear();
                self.scratch.extend_from_slice(&bytes);
                self.scratch.push(b'\n');
                self.out.write_all(&self.scratch).map_err(io)?;
                self.lines += 1;
                self.late += 1;
            } else {
                i += 1;
            }
        }
        self.step += 1;
        self.taken_this_step = false;
        Ok(())
    }

    /// Flush the file; records still deferred and late records still queued (none
    /// with the planned steps) are written at the end.
    pub(crate) fn finish(mut self) -> Result<FeedTotals, SimulateError> {
        let path = self.path.clone();
        let io = |source| SimulateError::io(&path, source);
        let mut deferred = std::mem::take(&mut self.deferred);
        deferred.sort_by_key(|d| d.1);
        for (_, _, bytes) in deferred {
            self.out.write_all(&bytes).map_err(io)?;
            self.out.write_all(b"\n").map_err(io)?;
            self.lines += 1;
        }
        for (_, bytes) in std::mem::take(&mut self.late_queue) {
            self.out.write_all(&bytes).map_err(io)?;
            self.out.write_all(b"\n").map_err(io)?;
            self.lines += 1;
            self.late += 1;
        }
        self.out.flush().map_err(io)?;
        Ok(FeedTotals {
            lines: self.lines,
            malformed: self.malformed,
            late: self.late,
            redelivered: self.redelivered,
            delayed: self.delayed,
        })
    }
}
