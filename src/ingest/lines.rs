//! A JSON Lines reader that survives any input: lines longer than a limit are
//! skipped without buffering them whole, and bytes are handed over unchecked
//! (UTF-8 and JSON are checked by validation, so every bad line gets a reason).
//!
//! [`BlockLines`] reads large blocks straight into the caller's buffer and finds the
//! lines in place (the replay's parse stage: one copy of the input, by the kernel).
//! [`LineReader`], a line at a time through a `BufRead`, is the tests' reference: both
//! give the same lines.

use std::io::{self, Read};
use std::ops::Range;

/// The smallest read [`BlockLines`] asks for: a buffer with less room left is full.
pub(crate) const MIN_READ_BYTES: usize = 16 * 1024;

/// A byte buffer whose whole capacity is initialised once (so reads go straight into
/// it without zeroing it again), of which the first [`Block::filled`] bytes are data.
pub(crate) struct Block {
    bytes: Vec<u8>,
    filled: usize,
}

impl Block {
    pub(crate) fn with_capacity(capacity: usize) -> Block {
        Block {
            bytes: vec![0; capacity],
            filled: 0,
        }
    }

    /// The data.
    pub(crate) fn data(&self) -> &[u8] {
        &self.bytes[..self.filled]
    }

    pub(crate) fn clear(&mut self) {
        self.filled = 0;
    }

    fn room(&self) -> usize {
        self.bytes.len() - self.filled
    }

    fn grow(&mut self, extra: usize) {
        self.bytes.resize(self.bytes.len() + extra, 0);
    }

    fn truncate(&mut self, len: usize) {
        self.filled = self.filled.min(len);
    }
}

/// Newline-separated records read in blocks into a caller's [`Block`], with a
/// per-line byte limit: the lines are ranges of that block. The bytes after the last
/// line handed out (the start of the next) stay in the block until
/// [`BlockLines::carry`] moves them to the next one.
pub(crate) struct BlockLines<R> {
    inner: R,
    max_line_bytes: usize,
    line_no: u64,
    /// Bytes of the lines handed out (newlines included), for the read size.
    line_bytes: u64,
    /// Lines handed out from the current block, and how many it should hold.
    in_block: usize,
    block_lines: usize,
    /// Start of the bytes not yet handed out as lines.
    pos: usize,
    /// Where to look for the next newline (the bytes from `pos` to here hold none).
    scan: usize,
    eof: bool,
}

/// What [`BlockLines::next_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// A line (without its newline, and without a `\r` before it) at `range` of the
    /// block, or the head of a too-long one.
    Line(Range<usize>, Appended),
    /// The block holds its lines or has no room for another read: hand it on and
    /// [`BlockLines::carry`] the rest into a fresh one.
    Full,
    /// The end of the input.
    End,
}

impl<R: Read> BlockLines<R> {
    /// Lines of at most `max_line_bytes`, about `block_lines` per block (reads are
    /// sized by the lines' average length so that few bytes are left to carry).
    pub(crate) fn new(inner: R, max_line_bytes: usize, block_lines: usize) -> Self {
        BlockLines {
            inner,
            max_line_bytes,
            line_no: 0,
            line_bytes: 0,
            in_block: 0,
            block_lines: block_lines.max(1),
            pos: 0,
            scan: 0,
            eof: false,
        }
    }

    /// 1-based number of the line last returned.
    pub(crate) fn line_no(&self) -> u64 {
        self.line_no
    }

    /// Move the bytes of `from` not yet handed out (the start of the next line) to
    /// the start of `to`, which must be empty.
    pub(crate) fn carry(&mut self, from: &Block, to: &mut Block) {
        debug_assert_eq!(to.filled, 0);
        let rest = &from.data()[self.pos..];
        if to.bytes.len() < rest.len() + MIN_READ_BYTES {
            to.grow(rest.len() + MIN_READ_BYTES - to.bytes.len());
        }
        to.bytes[..rest.len()].copy_from_slice(rest);
        to.filled = rest.len();
        self.scan -= self.pos;
        self.pos = 0;
        self.in_block = 0;
    }

    /// The next line in `block`, reading more into it as needed.
    pub(crate) fn next_line(&mut self, block: &mut Block) -> io::Result<Next> {
        if self.in_block >= self.block_lines {
            return Ok(Next::Full);
        }
        loop {
            if let Some(p) = memchr::memchr(b'\n', &block.data()[self.scan..]) {
                let (start, end) = (self.pos, self.scan + p);
                self.pos = end + 1;
                self.scan = self.pos;
                self.line_bytes += (end + 1 - start) as u64;
                return Ok(self.finish(block.data(), start, end));
            }
            self.scan = block.filled;
            let pending = block.filled - self.pos;
            if pending > self.max_line_bytes {
                let (range, len) = self.skip_long_line(block)?;
                self.line_no += 1;
                self.in_block += 1;
                return Ok(Next::Line(range, Appended::TooLong { len }));
            }
            if self.eof {
                if pending == 0 {
                    return Ok(Next::End);
                }
                let start = self.pos;
                self.pos = block.filled;
                self.scan = self.pos;
                return Ok(self.finish(block.data(), start, block.filled));
            }
            if block.room() < MIN_READ_BYTES {
                if self.pos > 0 {
                    return Ok(Next::Full);
                }
                // one unfinished line fills the block: let it grow
                block.grow(MIN_READ_BYTES);
            }
            // enough for the lines the block still takes, by their average length
            let average = match self.line_no {
                0 => 512,
                n => (self.line_bytes / n) as usize + 1,
            };
            let want = (self.block_lines - self.in_block) * average - pending.min(average);
            let size = want.clamp(MIN_READ_BYTES, block.room());
            if self.read_more(block, size)? == 0 {
                self.eof = true;
            }
        }
    }

    /// The line `start..end` of `data` (its content, the newline excluded).
    fn finish(&mut self, data: &[u8], start: usize, end: usize) -> Next {
        self.line_no += 1;
        self.in_block += 1;
        let len = end - start;
        if len > self.max_line_bytes {
            let head = start..start + len.min(TOO_LONG_HEAD_BYTES);
            return Next::Line(head, Appended::TooLong { len: len as u64 });
        }
        let end = if len > 0 && data[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        Next::Line(start..end, Appended::Line)
    }

    /// Read once (retrying an interrupted read) up to `size` bytes into the room of
    /// `block`; the number of bytes read, 0 at the end of the input.
    fn read_more(&mut self, block: &mut Block, size: usize) -> io::Result<usize> {
        let at = block.filled;
        let end = at + size.min(block.room());
        loop {
            match self.inner.read(&mut block.bytes[at..end]) {
                Ok(n) => {
                    block.filled += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The unfinished line from `pos` is over the limit: keep its head in `block`,
    /// read and drop the rest up to its newline (or the end of the input), and return
    /// the head's range and the line's length. The bytes after the newline stay.
    fn skip_long_line(&mut self, block: &mut Block) -> io::Result<(Range<usize>, u64)> {
        let start = self.pos;
        let mut total = (block.filled - start) as u64;
        let mut head_end = start + (block.filled - start).min(TOO_LONG_HEAD_BYTES);
        block.truncate(head_end);
        while !self.eof {
            if block.room() < MIN_READ_BYTES {
                block.grow(MIN_READ_BYTES);
            }
            let n = self.read_more(block, block.room())?;
            if n == 0 {
                self.eof = true;
                break;
            }
            let data = head_end..block.filled;
            let newline = memchr::memchr(b'\n', &block.bytes[data.clone()]);
            let content = newline.unwrap_or(n);
            total += content as u64;
            // the head grows in place up to its size
            let keep = (start + TOO_LONG_HEAD_BYTES)
                .saturating_sub(head_end)
                .min(content);
            head_end += keep;
            if let Some(q) = newline {
                // the next lines' bytes follow the head
                let next = data.start + q + 1;
                block.bytes.copy_within(next..data.end, head_end);
                block.filled = head_end + (data.end - next);
                self.line_bytes += total + 1;
                self.pos = head_end;
                self.scan = head_end;
                return Ok((start..head_end, total));
            }
            block.truncate(head_end);
        }
        self.line_bytes += total;
        self.pos = head_end;
        self.scan = head_end;
        Ok((start..head_end, total))
    }
}

/// Reads newline-separated records with a per-line byte limit, a line at a time: the
/// reference [`BlockLines`] is tested against.
#[cfg(test)]
pub(crate) struct LineReader<R> {
    inner: R,
    max_line_bytes: usize,
    line_no: u64,
}

/// How much of an over-long line is kept for the dead letter.
pub const TOO_LONG_HEAD_BYTES: usize = 1024;

#[cfg(test)]
impl<R: io::BufRead> LineReader<R> {
    pub(crate) fn new(inner: R, max_line_bytes: usize) -> Self {
        LineReader {
            inner,
            max_line_bytes,
            line_no: 0,
        }
    }

    /// 1-based number of the line last returned.
    pub(crate) fn line_no(&self) -> u64 {
        self.line_no
    }

    /// Append the next line's bytes (without the newline; only the head of a
    /// too-long line) to `out`, or return `None` at end of input. The caller's buffer
    /// is filled straight from the reader's: one copy per line.
    pub(crate) fn append_line(&mut self, out: &mut Vec<u8>) -> io::Result<Option<Appended>> {
        let start = out.len();
        // content bytes of this line, newline excluded
        let mut total: u64 = 0;
        let mut too_long = false;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                if total == 0 && !too_long {
                    return Ok(None);
                }
                return Ok(Some(self.finish_line(out, start, total, too_long)));
            }
            let (chunk, found_newline) = match memchr::memchr(b'\n', available) {
                Some(i) => (&available[..i], true),
                None => (available, false),
            };
            let chunk_len = chunk.len();
            total += chunk_len as u64;
            if !too_long {
                let kept = out.len() - start;
                if kept + chunk_len > self.max_line_bytes {
                    too_long = true;
                    let keep = TOO_LONG_HEAD_BYTES.saturating_sub(kept).min(chunk_len);
                    out.extend_from_slice(&chunk[..keep]);
                    out.truncate(start + TOO_LONG_HEAD_BYTES);
                } else {
                    out.extend_from_slice(chunk);
                }
            }
            let consumed = chunk_len + usize::from(found_newline);
            self.inner.consume(consumed);
            if found_newline {
                return Ok(Some(self.finish_line(out, start, total, too_long)));
            }
        }
    }

    fn finish_line(
        &mut self,
        out: &mut Vec<u8>,
        start: usize,
        len: u64,
        too_long: bool,
    ) -> Appended {
        self.line_no += 1;
        if too_long {
            return Appended::TooLong { len };
        }
        if out.len() > start && out.last() == Some(&b'\r') {
            out.pop();
        }
        Appended::Line
    }
}

/// What [`LineReader::append_line`] appended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Appended {
    /// The whole line.
    Line,
    /// The head of a line over the limit; `len` is its full length in bytes.
    TooLong { len: u64 },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &[u8], max: usize) -> Vec<String> {
        let mut r = LineReader::new(io::Cursor::new(input.to_vec()), max);
        let (mut out, mut buf) = (Vec::new(), Vec::new());
        while let Some(appended) = r.append_line(&mut buf).unwrap() {
            out.push(match appended {
                Appended::Line => String::from_utf8_lossy(&buf).into_owned(),
                Appended::TooLong { .. } => format!("TOO_LONG:{}", buf.len()),
            });
            buf.clear();
        }
        out
    }

    #[test]
    fn splits_lines_and_keeps_last_without_newline() {
        assert_eq!(collect(b"a\nb\r\n\nc", 100), vec!["a", "b", "", "c"]);
        assert!(collect(b"", 100).is_empty());
    }

    /// A reader that hands out at most `step` bytes a read (and an interruption
    /// now and then), to cut lines anywhere.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        step: usize,
        calls: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls % 7 == 0 {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = out.len().min(self.step).min(self.data.len() - self.at);
            out[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    /// Every line as `(appended, bytes)`, line by line.
    fn reference(input: &[u8], max: usize) -> Vec<(Appended, Vec<u8>)> {
        let mut r = LineReader::new(io::Cursor::new(input.to_vec()), max);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while let Some(appended) = r.append_line(&mut buf).unwrap() {
            out.push((appended, std::mem::take(&mut buf)));
            assert_eq!(r.line_no(), out.len() as u64);
        }
        out
    }

    /// Every line as `(appended, bytes)`, in blocks as the replay's parse stage reads.
    fn in_blocks(
        input: &[u8],
        max: usize,
        step: usize,
        capacity: usize,
        block_lines: usize,
    ) -> Vec<(Appended, Vec<u8>)> {
        let reader = Trickle {
            data: input.to_vec(),
            at: 0,
            step,
            calls: 0,
        };
        let mut r = BlockLines::new(reader, max, block_lines);
        let mut block = Block::with_capacity(capacity);
        let mut out = Vec::new();
        loop {
            match r.next_line(&mut block).unwrap() {
                Next::Line(range, appended) => {
                    out.push((appended, block.data()[range].to_vec()));
                    assert_eq!(r.line_no(), out.len() as u64);
                }
                Next::Full => {
                    let mut next = Block::with_capacity(capacity);
                    r.carry(&block, &mut next);
                    block = next;
                }
                Next::End => return out,
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

        #[test]
        fn blocks_give_the_lines_one_at_a_time_gives(
            lines in proptest::collection::vec(
                (0usize..3000, proptest::prelude::any::<bool>(), 0u8..4),
                0..60,
            ),
            last_newline in proptest::prelude::any::<bool>(),
            max in proptest::prop_oneof![Just(10usize), Just(100), Just(1500), Just(20_000)],
            step in proptest::prop_oneof![Just(1usize), Just(7), Just(1000), Just(1 << 20)],
            capacity in proptest::prop_oneof![Just(100usize), Just(20_000), Just(600_000)],
            block_lines in 1usize..50,
        ) {
            let mut input = Vec::new();
            for (i, (len, cr, fill)) in lines.iter().enumerate() {
                input.extend((0..*len).map(|k| b'a' + ((k + i + usize::from(*fill)) % 26) as u8));
                if *cr {
                    input.push(b'\r');
                }
                if i + 1 < lines.len() || last_newline {
                    input.push(b'\n');
                }
            }
            let want = reference(&input, max);
            let got = in_blocks(&input, max, step, capacity, block_lines);
            proptest::prop_assert_eq!(got, want);
        }
    }

    use proptest::prelude::Just;

    #[test]
    fn long_lines_are_skipped_not_buffered() {
        let mut input = vec![b'x'; 5000];
        input.extend_from_slice(b"\nok\n");
        assert_eq!(collect(&input, 100), vec!["TOO_LONG:1024", "ok"]);
        let small = collect(&[b'y'; 300], 100);
        assert_eq!(small, vec!["TOO_LONG:300"]);
    }
}
