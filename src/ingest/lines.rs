//! A JSON Lines reader that survives any input: lines longer than a limit are
//! skipped without buffering them whole, and bytes are handed over unchecked
//! (UTF-8 and JSON are checked by validation, so every bad line gets a reason).

use std::io::{self, BufRead};

/// One line as read: its bytes (without the newline) or the fact that it was too long.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line<'a> {
    Bytes(&'a [u8]),
    /// The line exceeded the limit; `len` is its full length in bytes, `head` its first bytes.
    TooLong {
        len: u64,
        head: &'a [u8],
    },
}

/// Reads newline-separated records with a per-line byte limit.
pub(crate) struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    max_line_bytes: usize,
    line_no: u64,
}

/// How much of an over-long line is kept for the dead letter.
pub const TOO_LONG_HEAD_BYTES: usize = 1024;

impl<R: BufRead> LineReader<R> {
    pub(crate) fn new(inner: R, max_line_bytes: usize) -> Self {
        LineReader {
            inner,
            buf: Vec::with_capacity(4096),
            max_line_bytes,
            line_no: 0,
        }
    }

    /// 1-based number of the line last returned.
    pub(crate) fn line_no(&self) -> u64 {
        self.line_no
    }

    /// The next line, or `None` at end of input. A final line without a newline counts.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let appended = self.append_line(&mut buf);
        self.buf = buf;
        Ok(appended?.map(|a| match a {
            Appended::Line => Line::Bytes(&self.buf),
            Appended::TooLong { len } => Line::TooLong {
                len,
                head: &self.buf,
            },
        }))
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
        let mut out = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            out.push(match l {
                Line::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
                Line::TooLong { head, .. } => format!("TOO_LONG:{}", head.len()),
            });
        }
        out
    }

    #[test]
    fn splits_lines_and_keeps_last_without_newline() {
        assert_eq!(collect(b"a\nb\r\n\nc", 100), vec!["a", "b", "", "c"]);
        assert!(collect(b"", 100).is_empty());
    }

    #[test]
    fn long_lines_are_skipped_not_buffered() {
        let mut input = vec![b'x'; 5000];
        input.extend_from_slice(b"\nok\n");
        assert_eq!(collect(&input, 100), vec!["TOO_LONG:1024", "ok"]);
        let small = collect(&[b'y'; 300], 100);
        assert_eq!(small, vec!["TOO_LONG:300"]);
    }
}
