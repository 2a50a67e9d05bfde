//! A JSON Lines reader that survives any input: lines longer than a limit are
//! skipped without buffering them whole, and bytes are handed over unchecked
//! (UTF-8 and JSON are checked by validation, so every bad line gets a reason).

use std::io::{self, BufRead};

/// Reads newline-separated records with a per-line byte limit.
pub(crate) struct LineReader<R> {
    inner: R,
    max_line_bytes: usize,
    line_no: u64,
}

/// How much of an over-long line is kept for the dead letter.
pub const TOO_LONG_HEAD_BYTES: usize = 1024;

impl<R: BufRead> LineReader<R> {
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

    #[test]
    fn long_lines_are_skipped_not_buffered() {
        let mut input = vec![b'x'; 5000];
        input.extend_from_slice(b"\nok\n");
        assert_eq!(collect(&input, 100), vec!["TOO_LONG:1024", "ok"]);
        let small = collect(&[b'y'; 300], 100);
        assert_eq!(small, vec!["TOO_LONG:300"]);
    }
}
