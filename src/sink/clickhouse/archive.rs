//! The `records` archive as a list of RowBinary chunks: each valid record is
//! encoded straight from the consumed bytes into the current chunk (no row struct,
//! no `String` per field), and a flush sends the chunks as the body of one
//! `INSERT … FORMAT RowBinary`. Chunks are fixed-size (`CHUNK_BYTES`), so a growing
//! batch never reallocates and copies its archive, and sealed chunks go to the HTTP
//! body as they are (shared, not copied). After the insert the chunks come back,
//! are cleared and kept, so steady-state archiving neither allocates nor touches
//! fresh memory per record.
//!
//! Column order and types are those of `schemas/clickhouse/004_records.sql` and of
//! [`super::RecordRow`] (`tests/clickhouse_sink.rs` inserts both against the server
//! and compares); `LowCardinality(String)` is a plain string in RowBinary.

use super::archive_order;
use crate::ingest::OriginRef;
use crate::model::{CellKey, Event};
use bytes::Bytes;
use std::sync::Arc;

/// The columns an archive buffer fills, in order.
pub(crate) const RECORD_COLUMNS: &str =
    "feed, record_key, event_time, topic, partition, offset, record";

/// Bytes of one archive chunk: large enough that sending a chunk costs nothing per
/// row, small enough that a half-empty last chunk wastes little.
pub(crate) const CHUNK_BYTES: usize = 1 << 20;

/// A row's bytes beyond its record and topic, at most: the feed name, the record
/// key (a pseudonym or `MCC-MNC-LAC-CID`), four varint lengths and 20 fixed bytes.
const ROW_OVERHEAD: usize = 128;

/// A sealed chunk, shared between the archive and an insert's HTTP body.
#[derive(Debug, Clone)]
struct Chunk(Arc<Vec<u8>>);

impl AsRef<[u8]> for Chunk {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Archive rows of one batch, RowBinary-encoded, in chunks.
#[derive(Debug)]
pub struct RecordArchive {
    /// Full chunks, in row order.
    sealed: Vec<Chunk>,
    /// The chunk being filled (after `sealed`).
    current: Vec<u8>,
    /// Cleared chunks kept for reuse.
    spare: Vec<Vec<u8>>,
    chunk_bytes: usize,
    bytes: usize,
    rows: usize,
    /// The rows are in the table's key order ([`RecordArchive::sort_by_key`]).
    sorted: bool,
    /// The most chunks a batch has used: the spares kept for reuse, at most.
    most_chunks: usize,
}

impl Default for RecordArchive {
    fn default() -> Self {
        Self::with_chunk_bytes(CHUNK_BYTES)
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Append the decimal digits of `v` to `buf` at `*len`.
fn put_decimal(buf: &mut [u8; 64], len: &mut usize, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut n = 0;
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for d in digits[..n].iter().rev() {
        buf[*len] = *d;
        *len += 1;
    }
}

/// The text of a cell identity as its `Display` writes it (`MCC-MNC-LAC-CID`),
/// without the formatting machinery (at most 5+1+5+1+10+1+20 bytes).
fn put_cell_key(out: &mut Vec<u8>, cell: &CellKey) {
    let mut buf = [0u8; 64];
    let mut len = 0;
    put_decimal(&mut buf, &mut len, u64::from(cell.mcc));
    buf[len] = b'-';
    len += 1;
    put_decimal(&mut buf, &mut len, u64::from(cell.mnc));
    buf[len] = b'-';
    len += 1;
    put_decimal(&mut buf, &mut len, u64::from(cell.lac));
    buf[len] = b'-';
    len += 1;
    put_decimal(&mut buf, &mut len, cell.cid);
    put_str(out, &buf[..len]);
}

impl RecordArchive {
    /// An empty archive whose chunks hold `chunk_bytes` bytes (at least 1 KiB; a
    /// row larger than a chunk gets a chunk of its own). Allocates nothing yet.
    pub fn with_chunk_bytes(chunk_bytes: usize) -> Self {
        RecordArchive {
            sealed: Vec::new(),
            current: Vec::new(),
            spare: Vec::new(),
            chunk_bytes: chunk_bytes.max(1024),
            bytes: 0,
            rows: 0,
            sorted: false,
            most_chunks: 0,
        }
    }

    /// The chunk a row of `need` bytes at most goes to: the current one, or a
    /// fresh (or spare) one when the current one has no room for it.
    fn room_for(&mut self, need: usize) -> &mut Vec<u8> {
        if self.current.capacity() - self.current.len() < need {
            if !self.current.is_empty() {
                self.seal();
            }
            if self.current.capacity() == 0 {
                self.current = self
                    .spare
                    .pop()
                    .unwrap_or_else(|| Vec::with_capacity(self.chunk_bytes));
            }
            self.current.reserve(need);
        }
        &mut self.current
    }

    /// Append the row of a valid event and its original bytes (the same values as
    /// [`super::RecordRow::from_event`]).
    pub fn push(&mut self, event: &Event, origin: OriginRef<'_>, raw: &[u8]) {
        self.push_row(event, origin, raw, false);
    }

    /// [`RecordArchive::push`] for bytes already known to be UTF-8: the service's
    /// validation parsed them as text (`validate::parse_bytes` refuses anything
    /// else), so they are not checked a second time (2 % of the service's CPU).
    /// Bytes that were not UTF-8 after all would be stored as they are.
    pub(crate) fn push_utf8(&mut self, event: &Event, origin: OriginRef<'_>, raw: &[u8]) {
        self.push_row(event, origin, raw, true);
    }

    fn push_row(&mut self, event: &Event, origin: OriginRef<'_>, raw: &[u8], utf8: bool) {
        let (topic, partition, offset) = match origin {
            OriginRef::Kafka {
                topic,
                partition,
                offset,
            } => (topic, partition, offset),
            OriginRef::File { file, line } => (file, -1, line as i64),
        };
        // Invalid UTF-8 is replaced (at most 3 bytes for each bad byte).
        let raw_max = raw.len() * 3;
        let out = self.room_for(raw_max + topic.len() + ROW_OVERHEAD);
        let before = out.len();
        put_str(out, event.feed().name().as_bytes());
        let event_time = match event {
            Event::Sms(r) => {
                put_str(out, r.sim.as_bytes());
                r.window_start_ms
            }
            Event::Measurement(m) => {
                put_cell_key(out, &m.cell);
                m.ts_ms
            }
        };
        out.extend_from_slice(&event_time.to_le_bytes());
        put_str(out, topic.as_bytes());
        out.extend_from_slice(&partition.to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
        if utf8 || std::str::from_utf8(raw).is_ok() {
            put_str(out, raw);
        } else {
            put_str(out, String::from_utf8_lossy(raw).as_bytes());
        }
        self.bytes += out.len() - before;
        self.rows += 1;
        self.sorted = false;
    }

    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Bytes of the encoded rows.
    pub fn byte_len(&self) -> usize {
        self.bytes
    }

    /// Seal the chunk being filled, so that [`RecordArchive::body`] shares every
    /// chunk instead of copying the last one (the service seals a batch's archive
    /// when its flush starts).
    pub fn seal(&mut self) {
        if !self.current.is_empty() {
            let full = std::mem::take(&mut self.current);
            self.sealed.push(Chunk(Arc::new(full)));
        }
    }

    /// Put the rows in the `records` table's key order, so that the server finds
    /// the insert already sorted and skips its own sort (`archive_order`); seals
    /// the current chunk. The rows are copied into fresh (or spare) chunks; the
    /// unsorted ones become spares. Sorting again without a new row does nothing.
    pub fn sort_by_key(&mut self) {
        self.seal();
        if self.sorted {
            return;
        }
        let unsorted = std::mem::take(&mut self.sealed);
        let views: Vec<&[u8]> = unsorted.iter().map(|c| c.0.as_slice()).collect();
        let mut out: Vec<u8> = Vec::new();
        for r in archive_order::sorted_rows(&views) {
            let start = r.start as usize;
            let row = &views[r.chunk as usize][start..start + r.len as usize];
            if out.capacity() - out.len() < row.len() {
                if !out.is_empty() {
                    self.sealed.push(Chunk(Arc::new(std::mem::take(&mut out))));
                }
                if out.capacity() == 0 {
                    out = self
                        .spare
                        .pop()
                        .unwrap_or_else(|| Vec::with_capacity(self.chunk_bytes));
                }
                out.reserve(row.len());
            }
            out.extend_from_slice(row);
        }
        if !out.is_empty() {
            self.sealed.push(Chunk(Arc::new(out)));
        }
        drop(views);
        self.reuse(unsorted);
        self.sorted = true;
    }

    /// Keep the chunks of `done` that nothing else holds as spares, at most twice
    /// as many as a batch has needed (the unsorted rows and their sorted copy; the
    /// rest are freed): reused chunks cost no fresh memory.
    fn reuse(&mut self, done: Vec<Chunk>) {
        self.most_chunks = self.most_chunks.max(done.len());
        for Chunk(shared) in done {
            if self.spare.len() >= 2 * self.most_chunks {
                break;
            }
            if let Ok(mut chunk) = Arc::try_unwrap(shared) {
                chunk.clear();
                self.spare.push(chunk);
            }
        }
    }

    /// The encoded rows as the pieces of an HTTP body, in order: the sealed chunks
    /// shared (no copy), the unsealed rest copied.
    pub(crate) fn body(&self) -> impl Iterator<Item = Bytes> + '_ {
        let rest = (!self.current.is_empty()).then(|| Bytes::copy_from_slice(&self.current));
        self.sealed
            .iter()
            .map(|c| Bytes::from_owner(c.clone()))
            .chain(rest)
    }

    /// Forget the rows, keep the chunks (those no insert holds any more).
    pub fn clear(&mut self) {
        let done = std::mem::take(&mut self.sealed);
        self.reuse(done);
        self.current.clear();
        self.bytes = 0;
        self.rows = 0;
        self.sorted = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Origin;
    use crate::model::{parse_record, Feed, TimeBounds};
    use crate::sink::clickhouse::RecordRow;

    #[test]
    fn varints_and_strings() {
        let mut v = Vec::new();
        put_varint(&mut v, 300);
        assert_eq!(v, [0xac, 0x02]);
        let mut v = Vec::new();
        put_varint(&mut v, 127);
        assert_eq!(v, [0x7f]);
        let mut v = Vec::new();
        put_str(&mut v, b"ab");
        assert_eq!(v, [2, b'a', b'b']);
    }

    const SMS: &str = r#"{"operator":"45202","sim":"dfe69e35e3d34a46eb0adc4766cef09e","window_start":1793581200000,"window_secs":60,"sms_out":1,"sms_in":0,"distinct_recipients":1,"new_recipients":0,"offnet_out":0,"calls_out":0,"calls_in":0,"device":"96ed31ce3684361dd30949f1e06c2a9b","imei_tac":"35332510","cell":"452-2-12009-14017","sim_age_days":923,"kyc_verified":true,"content_fps":[{"fp":"9575a2388040e97a","n":1}]}"#;
    const MEAS: &str = r#"{"source":"probe","reporter":"0cba7b2afff34ba05f1f49202dfb8b07","ts":1793581201000,"lat":20.974521,"lon":105.865814,"accuracy_m":4.2,"rat":"LTE","mcc":452,"mnc":2,"lac":12204,"cid":103929857,"arfcn":1450,"pci":101,"signal_dbm":-84.9,"ta":32,"neighbors":4,"cipher":"EEA1","event":"camped"}"#;

    /// The whole body an insert sends.
    fn joined(archive: &RecordArchive) -> Vec<u8> {
        archive.body().flat_map(|b| b.to_vec()).collect()
    }

    /// The archive's rows read back with the flush's own RowBinary reader.
    struct Reader<'a>(archive_order::Cursor<'a>);

    impl Reader<'_> {
        fn string(&mut self) -> String {
            let (at, n) = self.0.string();
            String::from_utf8(self.0.bytes()[at..at + n].to_vec()).expect("utf-8")
        }
        fn fixed<const N: usize>(&mut self) -> [u8; N] {
            self.0.fixed()
        }
        fn row(&mut self) -> RecordRow {
            RecordRow {
                feed: self.string(),
                record_key: self.string(),
                event_time: i64::from_le_bytes(self.fixed()),
                topic: self.string(),
                partition: i32::from_le_bytes(self.fixed()),
                offset: i64::from_le_bytes(self.fixed()),
                record: self.string(),
            }
        }
    }

    /// Every archived row decodes to what [`RecordRow::from_event`] makes of it.
    #[test]
    fn archive_rows_decode_to_the_row_struct() {
        let bounds = TimeBounds::at(1_793_581_200_000 + 86_400_000);
        let mut archive = RecordArchive::with_chunk_bytes(16);
        let mut expected = Vec::new();
        for (i, (feed, line)) in [(Feed::SmsVolume, SMS), (Feed::Measurements, MEAS)]
            .into_iter()
            .enumerate()
        {
            let event = parse_record(feed, line.as_bytes(), &bounds).expect("valid sample");
            let origin = Origin::Kafka {
                topic: format!("topic-{i}"),
                partition: 3,
                offset: 1_234_567 + i as i64,
            };
            archive.push(&event, OriginRef::from(&origin), line.as_bytes());
            expected.push(RecordRow::from_event(&event, &origin, line.as_bytes()));
        }
        assert_eq!(archive.rows(), 2);
        let body = joined(&archive);
        assert_eq!(body.len(), archive.byte_len());
        let mut r = Reader(archive_order::Cursor::new(&body));
        let got = vec![r.row(), r.row()];
        assert!(r.0.is_done(), "trailing bytes");
        assert_eq!(got, expected);
        assert_eq!(got[1].record_key, "452-2-12204-103929857");
        archive.clear();
        assert!(archive.is_empty() && archive.byte_len() == 0 && joined(&archive).is_empty());
    }

    /// 200 rows alternating between `events`, at offsets 0..200 of partition 1.
    fn push_rows(archive: &mut RecordArchive, events: &[(Event, &str)]) {
        for i in 0..200i64 {
            let (event, line) = &events[(i % 2) as usize];
            let origin = Origin::Kafka {
                topic: "t".into(),
                partition: 1,
                offset: i,
            };
            archive.push(event, OriginRef::from(&origin), line.as_bytes());
        }
    }

    /// Rows spread over many small chunks make the same body as one large chunk;
    /// sealed chunks are shared with the body, and come back for reuse once the
    /// body is dropped.
    #[test]
    fn chunks_concatenate_and_are_reused() {
        let bounds = TimeBounds::at(1_793_581_200_000 + 86_400_000);
        let events: Vec<(Event, &str)> = [(Feed::SmsVolume, SMS), (Feed::Measurements, MEAS)]
            .into_iter()
            .map(|(feed, line)| (parse_record(feed, line.as_bytes(), &bounds).unwrap(), line))
            .collect();
        let mut small = RecordArchive::with_chunk_bytes(2048);
        let mut large = RecordArchive::with_chunk_bytes(1 << 20);
        push_rows(&mut small, &events);
        push_rows(&mut large, &events);
        assert!(small.sealed.len() > 10, "{} chunks", small.sealed.len());
        assert!(small.sealed.iter().all(|c| c.0.len() <= 2048));
        assert_eq!(joined(&small), joined(&large));
        assert_eq!(small.byte_len(), large.byte_len());
        small.seal();
        let chunks = small.sealed.len();
        let body: Vec<Bytes> = small.body().collect();
        assert_eq!(body.len(), chunks, "all sealed: nothing copied");
        assert_eq!(
            body[0].as_ptr(),
            small.sealed[0].0.as_ptr(),
            "shared, not copied"
        );
        // Still held by the body: not reused.
        small.clear();
        assert!(small.spare.is_empty());
        drop(body);
        let mut again = RecordArchive::with_chunk_bytes(2048);
        push_rows(&mut again, &events);
        again.seal();
        let body: Vec<Bytes> = again.body().collect();
        drop(body);
        let chunks = again.sealed.len();
        again.clear();
        assert_eq!(again.spare.len(), chunks, "every chunk back for reuse");
        assert!(again
            .spare
            .iter()
            .all(|c| c.is_empty() && c.capacity() >= 2048));
    }

    /// The table's sorting key of a row, as ClickHouse compares it (strings byte
    /// by byte, integers signed).
    fn table_key(r: &RecordRow) -> (Vec<u8>, Vec<u8>, i64, Vec<u8>, i32, i64) {
        (
            r.feed.clone().into_bytes(),
            r.record_key.clone().into_bytes(),
            r.event_time,
            r.topic.clone().into_bytes(),
            r.partition,
            r.offset,
        )
    }

    fn decoded(archive: &RecordArchive) -> Vec<RecordRow> {
        let body = joined(archive);
        let mut r = Reader(archive_order::Cursor::new(&body));
        let mut rows = Vec::new();
        while !r.0.is_done() {
            rows.push(r.row());
        }
        rows
    }

    /// Sorted, the archive holds the same rows in the table's key order (keys
    /// longer than the 16-byte prefix, prefixes of each other, several topics and
    /// chunks), rows with equal keys in arrival order; a second sort changes
    /// nothing, a new row makes it sort again.
    #[test]
    fn sorted_rows_follow_the_table_key() {
        let bounds = TimeBounds::at(1_793_581_200_000 + 86_400_000);
        let sims = [
            "dfe69e35e3d34a46eb0adc4766cef09e",
            "dfe69e35e3d34a46eb0adc4766cef09d",
            "dfe69e35e3d34a46",
            "dfe69e35e3d34a460",
            "dfe69e35e3d34a46eb0adc4766cef09e0",
            "dfe69e35e3d34a46eb0adc4766cef09e00ff",
            "0000000000000001",
        ];
        let mut events = Vec::new();
        for (i, sim) in sims.iter().enumerate() {
            let line = SMS
                .replace("dfe69e35e3d34a46eb0adc4766cef09e", sim)
                .replace(
                    "1793581200000",
                    &(1_793_581_200_000 - (i as i64 % 3) * 60_000).to_string(),
                );
            let event = parse_record(Feed::SmsVolume, line.as_bytes(), &bounds).expect("valid");
            events.push((event, line));
        }
        // Cell keys that are prefixes of each other.
        for (lac, cid) in [
            (12204u64, 103929857u64),
            (12204, 7),
            (12204, 268435455),
            (12204, 7),
            (65535, 26843545),
            (65535, 2684354),
            (6553, 268435455),
        ] {
            let line = MEAS
                .replace("12204", &lac.to_string())
                .replace("103929857", &cid.to_string());
            let event = parse_record(Feed::Measurements, line.as_bytes(), &bounds).expect("valid");
            events.push((event, line));
        }
        let mut archive = RecordArchive::with_chunk_bytes(1024);
        let mut arrival = Vec::new();
        for i in 0..300usize {
            // Pairs of rows with equal keys, told apart by a trailing space.
            let (event, line) = &events[(i / 2 * 5) % events.len()];
            let raw = format!("{line}{}", " ".repeat(i % 2));
            let j = i / 2;
            let origin = Origin::Kafka {
                topic: ["t-b", "t-a", "t-ab"][j % 3].into(),
                partition: (j % 4) as i32 - 1,
                offset: (j % 37) as i64 - 5,
            };
            archive.push(event, OriginRef::from(&origin), raw.as_bytes());
            arrival.push(RecordRow::from_event(event, &origin, raw.as_bytes()));
        }
        archive.sort_by_key();
        assert!(archive.sealed.len() > 10, "{} chunks", archive.sealed.len());
        assert_eq!(archive.rows(), 300);
        assert_eq!(archive.byte_len(), joined(&archive).len());
        let mut expected = arrival.clone();
        // Stable: rows with equal keys keep their arrival order.
        expected.sort_by_key(table_key);
        assert_eq!(decoded(&archive), expected);
        let keys: std::collections::HashSet<_> = arrival.iter().map(table_key).collect();
        assert!(keys.len() < 300, "the test has rows with equal keys");
        assert!(
            keys.iter().any(|k| k.1.len() > 32),
            "and keys past 32 bytes"
        );
        let body = joined(&archive);
        archive.sort_by_key();
        assert_eq!(
            joined(&archive),
            body,
            "sorting sorted rows changes nothing"
        );
        let (event, line) = &events[0];
        let origin = Origin::Kafka {
            topic: "a".into(),
            partition: 0,
            offset: 0,
        };
        archive.push(event, OriginRef::from(&origin), line.as_bytes());
        archive.sort_by_key();
        let got = decoded(&archive);
        assert_eq!(got.len(), 301);
        assert!(got.windows(2).all(|w| table_key(&w[0]) <= table_key(&w[1])));
        // Spares: at most twice the chunks of one batch.
        let chunks = archive.sealed.len();
        archive.clear();
        assert!(archive.spare.len() <= 2 * archive.most_chunks && archive.most_chunks >= chunks);
    }

    #[test]
    fn cell_keys_are_written_as_displayed() {
        for cell in [
            CellKey {
                mcc: 452,
                mnc: 4,
                lac: 10231,
                cid: 56789,
            },
            CellKey {
                mcc: 0,
                mnc: 0,
                lac: 0,
                cid: 0,
            },
            CellKey {
                mcc: u16::MAX,
                mnc: u16::MAX,
                lac: u32::MAX,
                cid: u64::MAX,
            },
        ] {
            let mut out = Vec::new();
            put_cell_key(&mut out, &cell);
            let text = cell.to_string();
            let mut expected = Vec::new();
            put_str(&mut expected, text.as_bytes());
            assert_eq!(out, expected, "{text}");
        }
    }
}
