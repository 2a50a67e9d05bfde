//! A fast path for the common shape of an SMS-volume line: one flat JSON object
//! with known keys, unescaped strings, integers, booleans and nulls. It builds the
//! same [`RawSms`] serde would and hands it to the same checks; anything it is not
//! certain about (escapes, floats, unknown or repeated keys, odd spacing before the
//! object, trailing bytes) returns `None`, and serde parses the line and words the
//! refusal. Parsing is the largest cost of a replay, and serde's generic field
//! matching about half of it.

use super::json_scan::{Key, Scanner};
use super::sms_raw::{RawFp, RawSms};

/// The record's keys in the order producers write them (docs/contract.md's order);
/// [`Scanner::field`] reads the value of each by its index here.
const KEYS: [Key; 17] = [
    Key::new("operator"),
    Key::new("sim"),
    Key::new("window_start"),
    Key::new("window_secs"),
    Key::new("sms_out"),
    Key::new("sms_in"),
    Key::new("distinct_recipients"),
    Key::new("new_recipients"),
    Key::new("offnet_out"),
    Key::new("calls_out"),
    Key::new("calls_in"),
    Key::new("device"),
    Key::new("imei_tac"),
    Key::new("cell"),
    Key::new("sim_age_days"),
    Key::new("kyc_verified"),
    Key::new("content_fps"),
];

/// The raw record of `text`, or `None` when serde must decide.
pub(crate) fn scan(text: &str) -> Option<RawSms<'_>> {
    let mut raw = RawSms::default();
    Scanner::record(text, &KEYS, |s, key| s.field(key, &mut raw))?;
    Some(raw)
}

impl<'a> Scanner<'a> {
    fn opt_fps(&mut self) -> Option<Option<Vec<RawFp<'a>>>> {
        if self.null() {
            return Some(None);
        }
        self.eat(b'[')?;
        let mut fps = Vec::new();
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(Some(fps));
        }
        loop {
            self.ws();
            fps.push(self.fp()?);
            self.ws();
            match self.next()? {
                b',' => continue,
                b']' => return Some(Some(fps)),
                _ => return None,
            }
        }
    }

    fn fp(&mut self) -> Option<RawFp<'a>> {
        self.eat(b'{')?;
        let mut fp = RawFp { fp: None, n: None };
        self.members(|s, key| match key {
            "fp" => {
                fp.fp = s.opt_text()?;
                Some(1)
            }
            "n" => {
                fp.n = s.opt_int()?;
                Some(2)
            }
            _ => None,
        })?;
        Some(fp)
    }

    /// Read the value of the member whose key is `KEYS[key]` into `raw`; `None` gives up.
    fn field(&mut self, key: usize, raw: &mut RawSms<'a>) -> Option<()> {
        match key {
            0 => raw.operator = self.opt_text()?,           // operator
            1 => raw.sim = self.opt_text()?,                // sim
            2 => raw.window_start = self.opt_ts()?,         // window_start
            3 => raw.window_secs = self.opt_int()?,         // window_secs
            4 => raw.sms_out = self.opt_int()?,             // sms_out
            5 => raw.sms_in = self.opt_int()?,              // sms_in
            6 => raw.distinct_recipients = self.opt_int()?, // distinct_recipients
            7 => raw.new_recipients = self.opt_int()?,      // new_recipients
            8 => raw.offnet_out = self.opt_int()?,          // offnet_out
            9 => raw.calls_out = self.opt_int()?,           // calls_out
            10 => raw.calls_in = self.opt_int()?,           // calls_in
            11 => raw.device = self.opt_text()?,            // device
            12 => raw.imei_tac = self.opt_text()?,          // imei_tac
            13 => raw.cell = self.opt_text()?,              // cell
            14 => raw.sim_age_days = self.opt_int()?,       // sim_age_days
            15 => raw.kyc_verified = self.opt_bool()?,      // kyc_verified
            16 => raw.content_fps = self.opt_fps()?,        // content_fps
            _ => return None,
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::json_scan::test_lines::{in_key_order, object_line, spacing};
    use super::*;
    use crate::model::error::deserialize_object_str;
    use proptest::prelude::*;

    /// Whenever the scanner answers, serde gives the same raw record.
    fn agrees(line: &str) -> Result<(), TestCaseError> {
        if let Some(fast) = scan(line) {
            let slow: Result<RawSms, _> = deserialize_object_str(line);
            prop_assert_eq!(Some(fast), slow.ok(), "line: {}", line);
        }
        Ok(())
    }

    const TYPICAL: &str = r#"{"operator":"45202","sim":"140e6c79e096e7217160d0901a7d5ad4","window_start":"2026-11-08T07:00:00.000+07:00","window_secs":60,"sms_out":3,"sms_in":0,"distinct_recipients":2,"new_recipients":1,"offnet_out":0,"calls_out":0,"calls_in":1,"device":"95b1e712f6d378ce8c6b89f11820fa56","imei_tac":"86928705","cell":"452-2-12002-16844","sim_age_days":125,"kyc_verified":true,"content_fps":[{"fp":"00ff00ff00ff00ff","n":3}]}"#;

    #[test]
    fn takes_the_common_shape() {
        let raw = scan(TYPICAL).expect("the simulator's shape takes the fast path");
        assert_eq!(raw.sim.as_deref(), Some("140e6c79e096e7217160d0901a7d5ad4"));
        assert_eq!(raw.content_fps.as_ref().map(Vec::len), Some(1));
        agrees(TYPICAL).unwrap();
        let spaced = " { \"sim\" : null , \"sms_out\" : -5 }\n";
        assert!(scan(spaced).is_none(), "leading space: serde's path");
        let spaced = "{ \"sim\" : null , \"sms_out\" : -5 , \"kyc_verified\": false }\r\n";
        assert!(scan(spaced).is_some());
        agrees(spaced).unwrap();
    }

    #[test]
    fn leaves_the_unusual_to_serde() {
        for line in [
            r#"{"sim":"a\"b"}"#,
            r#"{"sim":"a\u0041"}"#,
            r#"{"sms_out":1.0}"#,
            r#"{"sms_out":1e3}"#,
            r#"{"sms_out":01}"#,
            r#"{"sms_out":-0}"#,
            r#"{"sms_out":12345678901234567890}"#,
            r#"{"sms_out":1,"sms_out":2}"#,
            r#"{"extra":1}"#,
            r#"{"sim":"x"} trailing"#,
            r#"{"sim":"x",}"#,
            r#"{"window_start":"yesterday"}"#,
            r#"{"content_fps":[{"fp":"a","n":1,"x":2}]}"#,
            r#"{"kyc_verified":"yes"}"#,
            "{\"sim\":\"tab\there\"}",
            r#"{"sim":"x""#,
        ] {
            assert!(scan(line).is_none(), "{line}");
        }
    }

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("null".to_string()),
            Just("true".to_string()),
            Just("false".to_string()),
            any::<i64>().prop_map(|v| v.to_string()),
            (0u64..100_000).prop_map(|v| v.to_string()),
            "-?[1-9][0-9]{16,20}".prop_map(|s| s.to_string()),
            Just("1.5".to_string()),
            Just("-0".to_string()),
            Just("007".to_string()),
            Just("1e2".to_string()),
            "[a-f0-9]{0,40}".prop_map(|s| format!("\"{s}\"")),
            Just("\"2026-11-08T07:00:00.000+07:00\"".to_string()),
            Just("\"2026-11-08T00:00:00Z\"".to_string()),
            Just("\"452-2-12002-16844\"".to_string()),
            Just("\"esc\\\"aped\"".to_string()),
            Just("\"\\u00e9\"".to_string()),
            Just("\"été\"".to_string()),
            Just("[]".to_string()),
            Just("[{\"fp\":\"00ff00ff00ff00ff\",\"n\":3},{}]".to_string()),
            Just("[{\"fp\":null,\"n\":null}]".to_string()),
            Just("[1,2]".to_string()),
            Just("{}".to_string()),
        ]
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("operator"),
            Just("sim"),
            Just("window_start"),
            Just("window_secs"),
            Just("sms_out"),
            Just("sms_in"),
            Just("distinct_recipients"),
            Just("new_recipients"),
            Just("offnet_out"),
            Just("calls_out"),
            Just("calls_in"),
            Just("device"),
            Just("imei_tac"),
            Just("cell"),
            Just("sim_age_days"),
            Just("kyc_verified"),
            Just("content_fps"),
            Just("unknown"),
        ]
        .prop_map(str::to_string)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn agrees_with_serde_on_generated_records(
            fields in proptest::collection::vec((key(), value(), spacing()), 0..12),
            tail in prop_oneof![Just(""), Just("\n"), Just(" x"), Just("}")],
        ) {
            let line = object_line(&fields, tail);
            agrees(&line)?;
        }

        /// Keys in the producers' order (a random subset, random values and
        /// spacing): the path that compares the expected next key in one step.
        #[test]
        fn agrees_with_serde_on_records_in_key_order(
            members in proptest::collection::vec((any::<bool>(), value(), spacing()), 17),
            tail in prop_oneof![Just(""), Just("\n"), Just(" x")],
        ) {
            let line = object_line(&in_key_order(&KEYS, members), tail);
            agrees(&line)?;
        }

        #[test]
        fn agrees_with_serde_on_damaged_typical_lines(cut in 0usize..TYPICAL.len(), byte in any::<u8>()) {
            let mut bytes = TYPICAL.as_bytes().to_vec();
            bytes[cut] = byte;
            if let Ok(line) = std::str::from_utf8(&bytes) {
                agrees(line)?;
            }
            agrees(&TYPICAL[..cut])?;
        }
    }
}
