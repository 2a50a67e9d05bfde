//! The replay's parse stage: one thread per input reads lines and runs the stateless
//! half of validation ([`parse_bytes`]: UTF-8, JSON, every contract rule) on them,
//! handing chunks of results in file order to the thread that admits them against
//! the watermark and runs the detectors. Parsing is the largest per-record cost, so
//! this keeps both cores busy even when one feed is much larger than the other.

use crate::ingest::lines::{Appended, LineReader};
use crate::model::{Event, Feed, TimeBounds, ValidationError};
use crate::validate::parse_bytes;
use std::io::{self, BufRead};
use std::ops::Range;
use std::sync::mpsc::{Receiver, SyncSender};

/// Lines per chunk: large enough to make the hand-over cost negligible, small enough
/// to keep both threads busy.
const CHUNK_LINES: usize = 1024;
/// Chunks in flight between the two threads.
const CHUNKS_IN_FLIGHT: usize = 32;

/// The parse outcome of one line.
// Events are large (pseudonyms inline) and not boxed: no allocation per record.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Parsed {
    Valid(Event),
    Invalid(ValidationError),
    /// Longer than the line limit: not parsed; the chunk keeps its head.
    TooLong {
        len: u64,
    },
}

/// Consecutive lines of one input: their bytes (kept for dead letters) and outcomes.
#[derive(Default)]
pub(crate) struct Chunk {
    bytes: Vec<u8>,
    lines: Vec<(Range<usize>, Parsed)>,
}

impl Chunk {
    /// The lines in file order: raw bytes (the head of a too-long one) and outcome.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = (&[u8], Parsed)> + '_ {
        let bytes = &self.bytes;
        self.lines.drain(..).map(move |(r, p)| (&bytes[r], p))
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
    reader: Box<dyn BufRead + Send>,
    max_line_bytes: usize,
    max_json_depth: usize,
    out: Producer,
) {
    let Producer { tx, spare } = out;
    let mut lines = LineReader::new(reader, max_line_bytes);
    let mut chunk = Chunk::default();
    loop {
        let start = chunk.bytes.len();
        let parsed = match lines.append_line(&mut chunk.bytes) {
            Ok(Some(Appended::Line)) => {
                match parse_bytes(feed, &bounds, max_json_depth, &chunk.bytes[start..]) {
                    Ok(event) => Parsed::Valid(event),
                    Err(e) => Parsed::Invalid(e),
                }
            }
            Ok(Some(Appended::TooLong { len })) => Parsed::TooLong { len },
            Ok(None) => break,
            Err(error) => {
                let line = lines.line_no() + 1;
                if !chunk.lines.is_empty() && tx.send(Message::Chunk(chunk)).is_err() {
                    return;
                }
                let _ = tx.send(Message::ReadError { line, error });
                return;
            }
        };
        chunk.lines.push((start..chunk.bytes.len(), parsed));
        if chunk.lines.len() >= CHUNK_LINES {
            let next = spare.try_recv().unwrap_or_default();
            let full = std::mem::replace(&mut chunk, next);
            if tx.send(Message::Chunk(full)).is_err() {
                return;
            }
        }
    }
    if !chunk.lines.is_empty() {
        let _ = tx.send(Message::Chunk(chunk));
    }
}
