//! The replay's parse stage: one thread per input reads lines and runs the stateless
//! half of validation ([`parse_bytes`]: UTF-8, JSON, every contract rule) on them,
//! handing chunks of results in file order to the thread that admits them against
//! the watermark and runs the detectors. Parsing is the largest per-record cost, so
//! this keeps both cores busy even when one feed is much larger than the other.

use crate::ingest::lines::{Appended, Block, BlockLines, Next};
use crate::model::{Event, Feed, TimeBounds, ValidationError};
use crate::validate::{parse_bytes, too_large};
use std::io::{self, Read};
use std::ops::Range;
use std::sync::mpsc::{Receiver, SyncSender};

/// Lines per chunk: large enough to make the hand-over cost negligible, small enough
/// to keep both threads busy.
const CHUNK_LINES: usize = 1024;
/// The bytes a chunk's block starts with: 1024 lines of the simulator's ≈ 390 bytes
/// and a read's room. The input is read straight into the block (no copy per line).
const CHUNK_BYTES: usize = 512 * 1024;
/// Chunks in flight between the two threads: enough for the parser to run on
/// through a detector burst (with 4 it stalled behind the eviction sweep), few
/// enough to bound the memory they hold (a chunk of parsed measurement lines is
/// ≈ 0.5 MB with its bytes). 32 raised the medium replay's peak RSS to 94 MB; at
/// 16 it is ≈ 66 MB with the same CPU (A/B, 2026-12-06).
const CHUNKS_IN_FLIGHT: usize = 16;

/// One parsed line. The outcome is exactly what [`parse_bytes`] returns, so the
/// event is built in its place here and moved once more only, into the hold queue
/// (events are ≈ 300 bytes with their pseudonyms inline, and each move of one is a
/// copy: wrapping the outcome in another type cost a copy per layer).
pub(crate) struct Line {
    /// The line's bytes in [`Chunk::bytes`] (the head of a too-long one).
    pub(crate) range: Range<usize>,
    /// The record's length in bytes (more than `range` holds when it is too long).
    pub(crate) raw_len: u64,
    /// The event, or why the record is refused (a too-long one unparsed).
    pub(crate) parsed: Result<Event, ValidationError>,
}

/// Consecutive lines of one input: their bytes (kept for dead letters) and outcomes.
pub(crate) struct Chunk {
    pub(crate) bytes: Block,
    pub(crate) lines: Vec<Line>,
}

impl Default for Chunk {
    fn default() -> Self {
        Chunk {
            bytes: Block::with_capacity(CHUNK_BYTES),
            lines: Vec::with_capacity(CHUNK_LINES),
        }
    }
}

/// What the parse thread sends: chunks, then possibly the read error that stopped it
/// (with the 1-based number of the line that could not be read).
pub(crate) enum Message {
    Chunk(Chunk),
    ReadError { line: u64, error: io::Error },
}

/// The parse thread's end of a stage: chunks go out, emptied ones come back.
pub(crate) struct Producer {
    tx: SyncSender<Message>,
    spare: Receiver<Chunk>,
}

/// The admitting thread's end: chunks in file order; [`Consumer::recycle`] hands a
/// drained chunk back so its buffers are reused (no regrowth, no large frees).
pub(crate) struct Consumer {
    rx: Receiver<Message>,
    spare: SyncSender<Chunk>,
}

impl Consumer {
    /// The next message; `None` when the parse thread is done.
    pub(crate) fn recv(&self) -> Option<Message> {
        self.rx.recv().ok()
    }

    pub(crate) fn recycle(&self, mut chunk: Chunk) {
        chunk.bytes.clear();
        chunk.lines.clear();
        // A full return queue just drops the chunk.
        let _ = self.spare.try_send(chunk);
    }
}

/// Channel of one input's parse stage.
pub(crate) fn channel() -> (Producer, Consumer) {
    let (tx, rx) = std::sync::mpsc::sync_channel(CHUNKS_IN_FLIGHT);
    let (spare_tx, spare_rx) = std::sync::mpsc::sync_channel(CHUNKS_IN_FLIGHT + 2);
    (
        Producer {
            tx,
            spare: spare_rx,
        },
        Consumer {
            rx,
            spare: spare_tx,
        },
    )
}

/// Read and parse `reader` to the end (or to a read error), sending chunks. Stops
/// early, without error, when the consumer is gone.
pub(crate) fn run(
    feed: Feed,
    bounds: TimeBounds,
    reader: Box<dyn Read + Send>,
    max_line_bytes: usize,
    max_json_depth: usize,
    out: Producer,
) {
    let Producer { tx, spare } = out;
    let mut lines = BlockLines::new(reader, max_line_bytes, CHUNK_LINES);
    let mut chunk = Chunk::default();
    loop {
        let line = match lines.next_line(&mut chunk.bytes) {
            Ok(Next::Line(range, Appended::Line)) => Line {
                raw_len: range.len() as u64,
                parsed: parse_bytes(
                    feed,
                    &bounds,
                    max_json_depth,
                    &chunk.bytes.data()[range.clone()],
                ),
                range,
            },
            Ok(Next::Line(range, Appended::TooLong { len })) => Line {
                range,
                raw_len: len,
                parsed: Err(too_large(len, max_line_bytes)),
            },
            Ok(Next::Full) => {
                let mut next = spare.try_recv().unwrap_or_default();
                lines.carry(&chunk.bytes, &mut next.bytes);
                let full = std::mem::replace(&mut chunk, next);
                if tx.send(Message::Chunk(full)).is_err() {
                    return;
                }
                continue;
            }
            Ok(Next::End) => break,
            Err(error) => {
                let line = lines.line_no() + 1;
                if !chunk.lines.is_empty() && tx.send(Message::Chunk(chunk)).is_err() {
                    return;
                }
                let _ = tx.send(Message::ReadError { line, error });
                return;
            }
        };
        chunk.lines.push(line);
    }
    if !chunk.lines.is_empty() {
        let _ = tx.send(Message::Chunk(chunk));
    }
}
