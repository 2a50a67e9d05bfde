//! Writes one JSON Lines feed file step by step: records of a 5-minute step are
//! shuffled by a small delivery delay (≤ 90 s, so out-of-orderness stays bounded),
//! a few deliberately malformed lines are mixed in, and a few valid records are held
//! back and written hours later (late records). Counts go to the truth.

use super::malformed::{corrupt, invalid_utf8, MalformedKind};
use super::util::SimRng;
use super::SimulateError;
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
    scratch: Vec<u8>,
}

impl FeedWriter {
    pub(crate) fn create(
        feed: Feed,
        path: &Path,
        n_steps: usize,
        late_count: usize,
        malformed_rate: f64,
        mut rng: SimRng,
    ) -> Result<FeedWriter, SimulateError> {
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

    /// Write the step's records in delivery order, then the late records due now.
    pub(crate) fn finish_step(&mut self) -> Result<(), SimulateError> {
        self.batch.sort_by_key(|p| p.key);
        let path = &self.path;
        let io = |source| SimulateError::io(path, source);
        for p in self.batch.drain(..) {
            self.out.write_all(&p.bytes).map_err(io)?;
            self.out.write_all(b"\n").map_err(io)?;
            self.lines += 1;
        }
        let step = self.step;
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

    /// Flush the file; late records still queued (none with the planned steps) are
    /// written at the end.
    pub(crate) fn finish(mut self) -> Result<FeedTotals, SimulateError> {
        let path = self.path.clone();
        let io = |source| SimulateError::io(&path, source);
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
        })
    }
}
