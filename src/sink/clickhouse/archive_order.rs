//! The order of the `records` table's sorting key (`feed, record_key, event_time,
//! topic, partition, offset`) for the rows of an archive, so that a flush can send
//! them sorted. A ClickHouse server checks whether an inserted block is already in
//! its table's order and, when it is, skips its own sort and the copy of every
//! column into that order: on the 18.16 server of the test machines that was a
//! third of the archive insert's CPU (BENCHMARKS.md, "the archive sent sorted").
//!
//! The order is the server's: strings byte by byte (a prefix before its
//! extensions), integers signed. Rows with equal keys keep their arrival order, as
//! the server's own stable sort would. The sort reads a compact reference per row
//! (the first 32 bytes of the record key as two integers, the ranks of the few
//! distinct feeds and topics), so it does not chase the rows' bytes in the chunks.

/// One encoded row: where it is and what it sorts by.
#[derive(Debug, Clone, Copy)]
pub(super) struct RowRef {
    /// The record key's first 32 bytes, zero-padded, big-endian, in two halves
    /// (a SIM pseudonym or a cell's `MCC-MNC-LAC-CID` fits).
    key_head: u128,
    key_tail: u128,
    event_time: i64,
    offset: i64,
    partition: i32,
    /// Rank of the row's feed among the archive's distinct feeds (by bytes).
    feed: u32,
    /// Rank of the row's topic among the archive's distinct topics (by bytes).
    topic: u32,
    /// Chunk index and the row's byte range in it.
    pub(super) chunk: u32,
    pub(super) start: u32,
    pub(super) len: u32,
    /// The record key's bytes in the chunk.
    key_at: u32,
    key_len: u32,
}

/// A RowBinary reader over one chunk (rows as `archive.rs` writes them).
pub(super) struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, at: 0 }
    }

    /// Whether every byte was read.
    pub(super) fn is_done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    /// The bytes read over (the tests turn a string's range into text).
    #[cfg(test)]
    pub(super) fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    fn varint(&mut self) -> usize {
        let (mut v, mut shift) = (0usize, 0);
        loop {
            let b = self.bytes[self.at];
            self.at += 1;
            v |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return v;
            }
            shift += 7;
        }
    }

    /// A length-prefixed string: its start and length.
    pub(super) fn string(&mut self) -> (usize, usize) {
        let len = self.varint();
        let start = self.at;
        self.at += len;
        (start, len)
    }

    pub(super) fn fixed<const N: usize>(&mut self) -> [u8; N] {
        let b: [u8; N] = self.bytes[self.at..self.at + N]
            .try_into()
            .expect("a whole row in the chunk");
        self.at += N;
        b
    }
}

/// Distinct strings (feeds or topics: a handful per batch) and their ranks.
#[derive(Default)]
struct Distinct<'a> {
    values: Vec<&'a [u8]>,
}

impl<'a> Distinct<'a> {
    fn index(&mut self, s: &'a [u8]) -> u32 {
        match self.values.iter().rposition(|v| *v == s) {
            Some(i) => i as u32,
            None => {
                self.values.push(s);
                (self.values.len() - 1) as u32
            }
        }
    }

    /// `rank[index]`: the position of each value in byte order.
    fn ranks(&self) -> Vec<u32> {
        let mut by_bytes: Vec<usize> = (0..self.values.len()).collect();
        by_bytes.sort_by(|&a, &b| self.values[a].cmp(self.values[b]));
        let mut rank = vec![0u32; self.values.len()];
        for (r, &i) in by_bytes.iter().enumerate() {
            rank[i] = r as u32;
        }
        rank
    }
}

/// Bytes `from..from + 16` of `key`, zero-padded, as a big-endian integer.
fn prefix(key: &[u8], from: usize) -> u128 {
    let mut b = [0u8; 16];
    let part = key.get(from..).unwrap_or_default();
    let n = part.len().min(16);
    b[..n].copy_from_slice(&part[..n]);
    u128::from_be_bytes(b)
}

/// Every row of `chunks` (whole rows, in arrival order), in the table's key order.
pub(super) fn sorted_rows(chunks: &[&[u8]]) -> Vec<RowRef> {
    let mut feeds = Distinct::default();
    let mut topics = Distinct::default();
    let mut rows = Vec::new();
    for (c, bytes) in chunks.iter().enumerate() {
        let mut cur = Cursor::new(bytes);
        while !cur.is_done() {
            let start = cur.at;
            let (f, f_len) = cur.string();
            let (key_at, key_len) = cur.string();
            let event_time = i64::from_le_bytes(cur.fixed());
            let (t, t_len) = cur.string();
            let partition = i32::from_le_bytes(cur.fixed());
            let offset = i64::from_le_bytes(cur.fixed());
            cur.string();
            rows.push(RowRef {
                key_head: prefix(&bytes[key_at..key_at + key_len], 0),
                key_tail: prefix(&bytes[key_at..key_at + key_len], 16),
                event_time,
                offset,
                partition,
                feed: feeds.index(&bytes[f..f + f_len]),
                topic: topics.index(&bytes[t..t + t_len]),
                chunk: c as u32,
                start: start as u32,
                len: (cur.at - start) as u32,
                key_at: key_at as u32,
                key_len: key_len as u32,
            });
        }
    }
    let (feed_rank, topic_rank) = (feeds.ranks(), topics.ranks());
    for r in &mut rows {
        r.feed = feed_rank[r.feed as usize];
        r.topic = topic_rank[r.topic as usize];
    }
    let key = |r: &RowRef| {
        let at = r.key_at as usize;
        &chunks[r.chunk as usize][at..at + r.key_len as usize]
    };
    // Every field the order needs is in the reference, apart from keys longer
    // than 32 bytes, so the sort does not read the chunks for the rest.
    rows.sort_unstable_by(|a, b| {
        a.feed
            .cmp(&b.feed)
            .then(a.key_head.cmp(&b.key_head))
            .then(a.key_tail.cmp(&b.key_tail))
            .then_with(|| {
                if a.key_len <= 32 && b.key_len <= 32 {
                    // Equal zero-padded prefixes: one key is the other plus zeros.
                    a.key_len.cmp(&b.key_len)
                } else {
                    key(a).cmp(key(b))
                }
            })
            .then(a.event_time.cmp(&b.event_time))
            .then(a.topic.cmp(&b.topic))
            .then(a.partition.cmp(&b.partition))
            .then(a.offset.cmp(&b.offset))
            .then((a.chunk, a.start).cmp(&(b.chunk, b.start)))
    });
    rows
}
