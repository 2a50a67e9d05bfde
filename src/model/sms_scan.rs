//! A fast path for the common shape of an SMS-volume line: one flat JSON object
//! with known keys, unescaped strings, integers, booleans and nulls. It builds the
//! same [`RawSms`] serde would and hands it to the same checks; anything it is not
//! certain about (escapes, floats, unknown or repeated keys, odd spacing before the
//! object, trailing bytes) returns `None`, and serde parses the line and words the
//! refusal. Parsing is the largest cost of a replay, and serde's generic field
//! matching about half of it.

use super::sms_raw::{RawFp, RawSms};
use super::text::Text;
use super::timestamp::{parse_timestamp_str, RawTs};
use std::borrow::Cow;

/// The raw record of `text`, or `None` when serde must decide.
pub(crate) fn scan(text: &str) -> Option<RawSms<'_>> {
    let mut s = Scanner { text, i: 0 };
    s.eat(b'{')?;
    let mut raw = RawSms::default();
    s.members(|s, key| s.field(key, &mut raw))?;
    s.ws();
    (s.i == text.len()).then_some(raw)
}

struct Scanner<'a> {
    text: &'a str,
    i: usize,
}

impl<'a> Scanner<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.i += 1;
        Some(b)
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.next()? == b).then_some(())
    }

    /// JSON whitespace, as serde_json skips it.
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// A string without escapes or control characters, borrowed.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        let len = memchr::memchr(b'"', &self.bytes()[start..])?;
        let body = &self.bytes()[start..start + len];
        if body.iter().any(|&b| b == b'\\' || b < 0x20) {
            return None;
        }
        self.i = start + len + 1;
        // Both ends are ASCII quotes, so the slice is on character boundaries.
        self.text.get(start..start + len)
    }

    /// `null` (consumed) or not.
    fn null(&mut self) -> bool {
        if self.bytes()[self.i..].starts_with(b"null") {
            self.i += 4;
            return true;
        }
        false
    }

    /// An integer of at most 18 digits, without a fraction or exponent.
    fn int(&mut self) -> Option<i64> {
        let negative = self.peek()? == b'-';
        if negative {
            self.i += 1;
        }
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        let digits = &self.bytes()[start..self.i];
        // "-0", leading zeros, fractions, exponents and huge values: serde's call
        let plain = !digits.is_empty()
            && digits.len() <= 18
            && !(digits[0] == b'0' && (digits.len() > 1 || negative))
            && !matches!(self.peek(), Some(b'.' | b'e' | b'E'));
        if !plain {
            return None;
        }
        let v = digits
            .iter()
            .fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0'));
        Some(if negative { -v } else { v })
    }

    fn opt_int(&mut self) -> Option<Option<i64>> {
        if self.null() {
            return Some(None);
        }
        self.int().map(Some)
    }

    fn opt_text(&mut self) -> Option<Option<Text<'a>>> {
        if self.null() {
            return Some(None);
        }
        self.string().map(|s| Some(Text(Cow::Borrowed(s))))
    }

    fn opt_bool(&mut self) -> Option<Option<bool>> {
        let rest = &self.bytes()[self.i..];
        let (v, n) = if rest.starts_with(b"true") {
            (Some(true), 4)
        } else if rest.starts_with(b"false") {
            (Some(false), 5)
        } else if rest.starts_with(b"null") {
            (None, 4)
        } else {
            return None;
        };
        self.i += n;
        Some(v)
    }

    /// Integer milliseconds or an RFC 3339 string that parses.
    fn opt_ts(&mut self) -> Option<Option<RawTs>> {
        if self.null() {
            return Some(None);
        }
        if self.peek()? == b'"' {
            let s = self.string()?;
            return parse_timestamp_str(s).map(|ms| Some(RawTs(ms)));
        }
        self.int().map(|ms| Some(RawTs(ms)))
    }

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

    /// The members of an object whose `{` was just read, up to its `}`: `member` reads
    /// one value and returns its key's bit (`None` gives up); a repeated key gives up.
    fn members(&mut self, mut member: impl FnMut(&mut Self, &'a str) -> Option<u32>) -> Option<()> {
        let mut seen = 0u32;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            self.ws();
            let key = self.string()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            let bit = member(self, key)?;
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            self.ws();
            match self.next()? {
                b',' => {}
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    /// Read the value of `key` into `raw`; the key's bit, or `None` to give up.
    fn field(&mut self, key: &str, raw: &mut RawSms<'a>) -> Option<u32> {
        let bit = match key {
            "operator" => {
                raw.operator = self.opt_text()?;
                0
            }
            "sim" => {
                raw.sim = self.opt_text()?;
                1
            }
            "window_start" => {
                raw.window_start = self.opt_ts()?;
                2
            }
            "window_secs" => {
                raw.window_secs = self.opt_int()?;
                3
            }
            "sms_out" => {
                raw.sms_out = self.opt_int()?;
                4
            }
            "sms_in" => {
                raw.sms_in = self.opt_int()?;
                5
            }
            "distinct_recipients" => {
                raw.distinct_recipients = self.opt_int()?;
                6
            }
            "new_recipients" => {
                raw.new_recipients = self.opt_int()?;
                7
            }
            "offnet_out" => {
                raw.offnet_out = self.opt_int()?;
                8
            }
            "calls_out" => {
                raw.calls_out = self.opt_int()?;
                9
            }
            "calls_in" => {
                raw.calls_in = self.opt_int()?;
                10
            }
            "device" => {
                raw.device = self.opt_text()?;
                11
            }
            "imei_tac" => {
                raw.imei_tac = self.opt_text()?;
                12
            }
            "cell" => {
                raw.cell = self.opt_text()?;
                13
            }
            "sim_age_days" => {
                raw.sim_age_days = self.opt_int()?;
                14
            }
            "kyc_verified" => {
                raw.kyc_verified = self.opt_bool()?;
                15
            }
            "content_fps" => {
                raw.content_fps = self.opt_fps()?;
                16
            }
            _ => return None,
        };
        Some(1 << bit)
    }
}

#[cfg(test)]
mod tests {
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

    fn spacing() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => Just(""),
            1 => Just(" "),
            1 => Just("\n\t "),
            1 => Just("\r"),
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
            let body: Vec<String> = fields
                .iter()
                .map(|(k, v, sp)| format!("{sp}\"{k}\"{sp}:{sp}{v}{sp}"))
                .collect();
            let line = format!("{{{}}}{tail}", body.join(","));
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
