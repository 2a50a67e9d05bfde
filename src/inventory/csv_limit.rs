//! Size limits of an inventory CSV row, enforced while reading so that a corrupt
//! file (an unclosed quote, a line of megabytes) cannot fill memory.
//!
//! [`RowLimitReader`] sits between the file and the CSV parser and counts the bytes
//! it hands over. The parsing loop tells it where each record ends
//! ([`RowLimit::record_done`]); when the parser asks for more bytes while the current
//! record is already longer than the limit, the reader drops the rest of that line
//! (up to the next `\n`, which it keeps so the parser ends the record there) and
//! flags the record as cut. The loop then rejects it like any bad row, so the load
//! goes on with the next line. A record that ends inside the parser's buffer is
//! measured from its positions ([`RowLimit::record_too_long`]).

use csv::ByteRecord;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// The limits of one load (`[inventory] max_row_bytes`, `max_field_bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CsvLimits {
    pub(crate) row_bytes: usize,
    pub(crate) field_bytes: usize,
}

impl CsvLimits {
    pub(crate) fn of(config: &crate::config::InventoryConfig) -> Self {
        CsvLimits {
            row_bytes: config.max_row_bytes,
            field_bytes: config.max_field_bytes,
        }
    }
}

impl Default for CsvLimits {
    fn default() -> Self {
        CsvLimits::of(&crate::config::InventoryConfig::default())
    }
}

/// What the parsing loop and the reader share.
#[derive(Debug)]
pub(crate) struct RowLimit {
    limits: CsvLimits,
    /// Byte offset (in the parser's input) where the current record starts.
    record_start: AtomicU64,
    /// The current record was cut by the reader.
    cut: AtomicBool,
}

impl RowLimit {
    pub(crate) fn new(limits: CsvLimits) -> Arc<Self> {
        Arc::new(RowLimit {
            limits,
            record_start: AtomicU64::new(0),
            cut: AtomicBool::new(false),
        })
    }

    /// A record ended and the next starts at `next_start` (the parser's position):
    /// why the record just read must be rejected, if it must.
    pub(crate) fn record_done(&self, record: &ByteRecord, next_start: u64) -> Option<String> {
        let start = self.record_start.swap(next_start, Ordering::Relaxed);
        let cut = self.cut.swap(false, Ordering::Relaxed);
        let len = next_start.saturating_sub(start);
        if cut || len > self.limits.row_bytes as u64 {
            return Some(format!(
                "row longer than inventory.max_row_bytes ({} bytes){}",
                self.limits.row_bytes,
                if cut {
                    "; the rest of its line was skipped"
                } else {
                    ""
                }
            ));
        }
        record.iter().enumerate().find_map(|(i, f)| {
            (f.len() > self.limits.field_bytes).then(|| {
                format!(
                    "field {} is {} bytes, more than inventory.max_field_bytes ({})",
                    i + 1,
                    f.len(),
                    self.limits.field_bytes
                )
            })
        })
    }
}

/// The reader between the file and the CSV parser (see the module doc).
pub(crate) struct RowLimitReader<R> {
    inner: R,
    shared: Arc<RowLimit>,
    /// Bytes handed to the parser so far.
    emitted: u64,
}

impl<R: Read> RowLimitReader<R> {
    pub(crate) fn new(inner: R, shared: Arc<RowLimit>) -> Self {
        RowLimitReader {
            inner,
            shared,
            emitted: 0,
        }
    }

    /// Drop bytes up to the next `\n`; return the bytes from it on, in `buf`.
    fn skip_line(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.inner.read(buf)?;
            if n == 0 {
                return Ok(0);
            }
            if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
                buf.copy_within(i..n, 0);
                return Ok(n - i);
            }
        }
    }
}

impl<R: Read> Read for RowLimitReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // The parser asks for bytes only when it has used all it had, so every byte
        // handed over since the record started belongs to the current record.
        let start = self.shared.record_start.load(Ordering::Relaxed);
        let n = if self.emitted.saturating_sub(start) > self.shared.limits.row_bytes as u64 {
            self.shared.cut.store(true, Ordering::Relaxed);
            self.skip_line(buf)?
        } else {
            self.inner.read(buf)?
        };
        self.emitted += n as u64;
        Ok(n)
    }
}
