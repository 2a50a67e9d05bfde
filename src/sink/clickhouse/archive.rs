//! The `records` archive as one growing RowBinary buffer: each valid record is
//! encoded straight from the consumed bytes into it (no row struct, no `String` per
//! field), and a flush sends the buffer as the body of one `INSERT … FORMAT
//! RowBinary`. The buffer is cleared, not freed, so steady-state archiving does not
//! allocate per record.
//!
//! Column order and types are those of `schemas/clickhouse/004_records.sql` and of
//! [`super::RecordRow`] (`tests/clickhouse_sink.rs` inserts both against the server
//! and compares); `LowCardinality(String)` is a plain string in RowBinary.

use crate::ingest::OriginRef;
use crate::model::{CellKey, Event};

/// The columns an archive buffer fills, in order.
pub(crate) const RECORD_COLUMNS: &str =
    "feed, record_key, event_time, topic, partition, offset, record";

/// Archive rows of one batch, RowBinary-encoded.
#[derive(Debug, Default)]
pub struct RecordArchive {
    bytes: Vec<u8>,
    rows: usize,
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
    pub fn with_capacity(bytes: usize) -> Self {
        RecordArchive {
            bytes: Vec::with_capacity(bytes),
            rows: 0,
        }
    }

    /// Append the row of a valid event and its original bytes (the same values as
    /// [`super::RecordRow::from_event`]).
    pub fn push(&mut self, event: &Event, origin: OriginRef<'_>, raw: &[u8]) {
        let out = &mut self.bytes;
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
        let (topic, partition, offset) = match origin {
            OriginRef::Kafka {
                topic,
                partition,
                offset,
            } => (topic, partition, offset),
            OriginRef::File { file, line } => (file, -1, line as i64),
        };
        put_str(out, topic.as_bytes());
        out.extend_from_slice(&partition.to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
        match std::str::from_utf8(raw) {
            Ok(_) => put_str(out, raw),
            Err(_) => put_str(out, String::from_utf8_lossy(raw).as_bytes()),
        }
        self.rows += 1;
    }

    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The encoded rows.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Forget the rows, keep the buffer.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.rows = 0;
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

    /// Minimal RowBinary reader of the archive's columns.
    struct Reader<'a>(&'a [u8]);

    impl Reader<'_> {
        fn varint(&mut self) -> u64 {
            let (mut v, mut shift) = (0u64, 0);
            loop {
                let b = self.0[0];
                self.0 = &self.0[1..];
                v |= u64::from(b & 0x7f) << shift;
                if b & 0x80 == 0 {
                    return v;
                }
                shift += 7;
            }
        }
        fn string(&mut self) -> String {
            let n = self.varint() as usize;
            let s = String::from_utf8(self.0[..n].to_vec()).expect("utf-8");
            self.0 = &self.0[n..];
            s
        }
        fn fixed<const N: usize>(&mut self) -> [u8; N] {
            let b: [u8; N] = self.0[..N].try_into().expect("length");
            self.0 = &self.0[N..];
            b
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
        let mut archive = RecordArchive::with_capacity(16);
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
        let mut r = Reader(archive.bytes());
        let got = vec![r.row(), r.row()];
        assert!(r.0.is_empty(), "trailing bytes");
        assert_eq!(got, expected);
        assert_eq!(got[1].record_key, "452-2-12204-103929857");
        archive.clear();
        assert!(archive.is_empty() && archive.bytes().is_empty());
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
