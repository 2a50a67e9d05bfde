//! A fast path for the common shape of a cell-measurement line, like
//! [`super::sms_scan`] for SMS-volume lines: one flat JSON object with known keys,
//! unescaped strings, plain integers and decimals, and nulls. It builds the same
//! [`RawMeasurement`] serde would and hands it to the same checks; anything it is not
//! certain about (escapes, exponents, long numbers, unknown or repeated keys, odd
//! spacing before the object, trailing bytes) returns `None`, and serde parses the
//! line and words the refusal. serde's generic field matching was most of the
//! measurement parse thread of a replay.

use super::json_scan::{Key, Scanner};
use super::measurement::RawMeasurement;

/// The record's keys in the order producers write them (docs/contract.md's order);
/// [`field`] reads the value of each by its index here.
const KEYS: [Key; 19] = [
    Key::new("source"),
    Key::new("reporter"),
    Key::new("ts"),
    Key::new("lat"),
    Key::new("lon"),
    Key::new("accuracy_m"),
    Key::new("rat"),
    Key::new("mcc"),
    Key::new("mnc"),
    Key::new("lac"),
    Key::new("cid"),
    Key::new("arfcn"),
    Key::new("pci"),
    Key::new("signal_dbm"),
    Key::new("ta"),
    Key::new("neighbors"),
    Key::new("cipher"),
    Key::new("event"),
    Key::new("sms_sender"),
];

/// The raw record of `text`, or `None` when serde must decide.
pub(super) fn scan(text: &str) -> Option<RawMeasurement<'_>> {
    let mut raw = RawMeasurement::default();
    Scanner::record(text, &KEYS, |s, key| field(s, key, &mut raw))?;
    Some(raw)
}

/// Read the value of the member whose key is `KEYS[key]` into `raw`; `None` gives up.
fn field<'a>(s: &mut Scanner<'a>, key: usize, raw: &mut RawMeasurement<'a>) -> Option<()> {
    match key {
        0 => raw.source = s.opt_text()?,       // source
        1 => raw.reporter = s.opt_text()?,     // reporter
        2 => raw.ts = s.opt_ts()?,             // ts
        3 => raw.lat = s.opt_float()?,         // lat
        4 => raw.lon = s.opt_float()?,         // lon
        5 => raw.accuracy_m = s.opt_float()?,  // accuracy_m
        6 => raw.rat = s.opt_text()?,          // rat
        7 => raw.mcc = s.opt_int()?,           // mcc
        8 => raw.mnc = s.opt_int()?,           // mnc
        9 => raw.lac = s.opt_int()?,           // lac
        10 => raw.cid = s.opt_int()?,          // cid
        11 => raw.arfcn = s.opt_int()?,        // arfcn
        12 => raw.pci = s.opt_int()?,          // pci
        13 => raw.signal_dbm = s.opt_float()?, // signal_dbm
        14 => raw.ta = s.opt_int()?,           // ta
        15 => raw.neighbors = s.opt_int()?,    // neighbors
        16 => raw.cipher = s.opt_text()?,      // cipher
        17 => raw.event = s.opt_text()?,       // event
        18 => raw.sms_sender = s.opt_text()?,  // sms_sender
        _ => return None,
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::super::json_scan::test_lines::{in_key_order, object_line, spacing};
    use super::*;
    use crate::model::error::deserialize_object_str;
    use crate::model::{parse_record, parse_record_str, Feed, TimeBounds};
    use proptest::prelude::*;

    /// Whenever the scanner answers, serde gives the same raw record (compared through
    /// `Debug`, which tells every distinct `f64` apart, `-0.0` from `0.0` included).
    fn agrees(line: &str) -> Result<(), TestCaseError> {
        if let Some(fast) = scan(line) {
            let slow: Option<RawMeasurement> = deserialize_object_str(line).ok();
            prop_assert_eq!(
                format!("{:?}", Some(fast)),
                format!("{slow:?}"),
                "line: {}",
                line
            );
        }
        Ok(())
    }

    const TYPICAL: &str = r#"{"source":"probe","reporter":"0cba7b2afff34ba05f1f49202dfb8b07","ts":1793581201000,"lat":20.974521,"lon":105.865814,"accuracy_m":4.2,"rat":"LTE","mcc":452,"mnc":2,"lac":12204,"cid":103929857,"arfcn":1450,"pci":101,"signal_dbm":-84.9,"ta":32,"neighbors":4,"cipher":"EEA1","event":"camped","sms_sender":"BANK"}"#;

    #[test]
    fn takes_the_common_shape() {
        let raw = scan(TYPICAL).expect("the simulator's shape takes the fast path");
        assert_eq!(raw.lat, Some(20.974521));
        assert_eq!(raw.signal_dbm, Some(-84.9));
        assert_eq!(raw.cid, Some(103_929_857));
        agrees(TYPICAL).unwrap();
        let rfc = r#"{"ts":"2026-11-28T01:00:00Z","lat":21,"lon":-0.5,"rat":null}"#;
        assert!(scan(rfc).is_some());
        agrees(rfc).unwrap();
    }

    #[test]
    fn leaves_the_unusual_to_serde() {
        for line in [
            r#"{"lat":1e3}"#,
            r#"{"lat":1.5E2}"#,
            r#"{"lat":-0}"#,
            r#"{"lat":-0.0}"#,
            r#"{"lat":01.5}"#,
            r#"{"lat":1.}"#,
            r#"{"lat":.5}"#,
            r#"{"lat":1234567890.123456}"#,
            r#"{"lat":"21.0"}"#,
            r#"{"mcc":452.0}"#,
            r#"{"source":"a\nb"}"#,
            r#"{"lat":1,"lat":2}"#,
            r#"{"extra":1}"#,
            r#" {"lat":1}"#,
            r#"{"lat":1} x"#,
        ] {
            assert!(scan(line).is_none(), "{line}");
        }
    }

    /// The whole parse (scanner or serde, then every contract check) and serde alone
    /// give the same event or the same refusal: reason, field and message.
    fn same_outcome(line: &str) -> Result<(), TestCaseError> {
        let bounds = TimeBounds::at(1_800_000_000_000);
        let fast = parse_record_str(Feed::Measurements, line, &bounds);
        // parse_record reads bytes with serde alone
        let slow = parse_record(Feed::Measurements, line.as_bytes(), &bounds);
        prop_assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "line: {}", line);
        Ok(())
    }

    #[test]
    fn agrees_on_the_fuzz_corpus() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/parse_record");
        let mut lines = 0;
        for entry in std::fs::read_dir(dir).expect("fuzz corpus") {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            let Ok(text) = std::str::from_utf8(&bytes) else {
                continue;
            };
            for line in std::iter::once(text).chain(text.lines()) {
                agrees(line).unwrap();
                same_outcome(line).unwrap();
                lines += 1;
            }
        }
        assert!(lines > 1000, "{lines} lines");
    }

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("null".to_string()),
            Just("true".to_string()),
            any::<i64>().prop_map(|v| v.to_string()),
            (0u64..100_000).prop_map(|v| v.to_string()),
            any::<f64>().prop_map(|v| v.to_string()),
            any::<f32>().prop_map(|v| v.to_string()),
            (-180.0f64..180.0).prop_map(|v| format!("{v:.6}")),
            (-160.0f64..0.0).prop_map(|v| format!("{v:.1}")),
            "-?(0|[1-9][0-9]{0,9})(\\.[0-9]{0,9})?([eE][+-]?[0-9]{1,3})?",
            "-?0[0-9]{1,3}(\\.[0-9]{1,3})?",
            "-?[1-9][0-9]{14,20}(\\.[0-9]{1,4})?",
            Just("-0".to_string()),
            Just("-0.0".to_string()),
            Just("1793581201000".to_string()),
            "[a-f0-9]{0,40}".prop_map(|s| format!("\"{s}\"")),
            Just("\"2026-11-08T07:00:00.000+07:00\"".to_string()),
            Just("\"2026-11-28T01:00:00Z\"".to_string()),
            Just("\"LTE\"".to_string()),
            Just("\"GSM\"".to_string()),
            Just("\"A5/0\"".to_string()),
            Just("\"reject\"".to_string()),
            Just("\"esc\\\"aped\"".to_string()),
            Just("\"\\u00e9\"".to_string()),
            Just("\"été\"".to_string()),
            Just("[]".to_string()),
            Just("{}".to_string()),
        ]
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("source"),
            Just("reporter"),
            Just("ts"),
            Just("lat"),
            Just("lon"),
            Just("accuracy_m"),
            Just("rat"),
            Just("mcc"),
            Just("mnc"),
            Just("lac"),
            Just("cid"),
            Just("arfcn"),
            Just("pci"),
            Just("signal_dbm"),
            Just("ta"),
            Just("neighbors"),
            Just("cipher"),
            Just("event"),
            Just("sms_sender"),
            Just("unknown"),
        ]
        .prop_map(str::to_string)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn agrees_with_serde_on_generated_records(
            fields in proptest::collection::vec((key(), value(), spacing()), 0..20),
            tail in prop_oneof![Just(""), Just("\n"), Just(" x"), Just("}")],
        ) {
            let line = object_line(&fields, tail);
            agrees(&line)?;
            same_outcome(&line)?;
        }

        /// Keys in the producers' order (a random subset, random values and
        /// spacing): the path that compares the expected next key in one step.
        #[test]
        fn agrees_with_serde_on_records_in_key_order(
            members in proptest::collection::vec((any::<bool>(), value(), spacing()), 19),
            tail in prop_oneof![Just(""), Just("\n"), Just(" x")],
        ) {
            let line = object_line(&in_key_order(&KEYS, members), tail);
            agrees(&line)?;
            same_outcome(&line)?;
        }

        #[test]
        fn agrees_with_serde_on_damaged_typical_lines(cut in 0usize..TYPICAL.len(), byte in any::<u8>()) {
            let mut bytes = TYPICAL.as_bytes().to_vec();
            bytes[cut] = byte;
            if let Ok(line) = std::str::from_utf8(&bytes) {
                agrees(line)?;
                same_outcome(line)?;
            }
            agrees(&TYPICAL[..cut])?;
            same_outcome(&TYPICAL[..cut])?;
        }

        #[test]
        fn reads_plain_decimals_exactly(v in "-?(0|[1-9][0-9]{0,7})\\.[0-9]{1,7}") {
            // `-0.0` is serde's call
            prop_assume!(v.bytes().any(|b| (b'1'..=b'9').contains(&b)) || !v.starts_with('-'));
            let line = format!("{{\"lat\":{v}}}");
            let raw = scan(&line).expect("a plain decimal takes the fast path");
            prop_assert_eq!(raw.lat.map(f64::to_bits), Some(v.parse::<f64>().unwrap().to_bits()));
            agrees(&line)?;
        }
    }
}
