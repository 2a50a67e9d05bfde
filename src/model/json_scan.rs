//! The primitives of the fast scanners for the common shape of a record line
//! ([`super::sms_scan`], [`super::measurement_scan`]): one flat JSON object with known
//! keys, unescaped strings, plain numbers, booleans and nulls. Every reader answers
//! `None` for anything it is not certain to read exactly as serde would (escapes,
//! exponents, long numbers, `-0`, leading zeros), and the caller then hands the whole
//! line to serde, which reads it or words the refusal.

use super::text::Text;
use super::timestamp::{parse_timestamp_str, RawTs};
use std::borrow::Cow;

/// Whether one of the eight bytes of `word` is a quote, a backslash or below 0x20
/// (exact: no such byte is missed; a word it flags is read byte by byte anyway).
#[inline]
fn special_byte(word: u64) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // nonzero exactly when a byte of `v` is zero
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let quote = zero_byte(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(word ^ (ONES * u64::from(b'\\')));
    // nonzero exactly when a byte of `word` is below 0x20
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    quote | backslash | control != 0
}

pub(super) struct Scanner<'a> {
    pub(super) text: &'a str,
    pub(super) i: usize,
}

/// A member key of a flat record as the scanner expects it next: the 3 to 24 bytes
/// `"name":`, kept as three little-endian words and their masks, so telling whether
/// the line holds it here is three masked compares (no call, no branch per byte).
pub(super) struct Key {
    name: &'static str,
    words: [u64; 3],
    masks: [u64; 3],
    len: usize,
}

impl Key {
    /// The key `name`: at most 21 bytes, none of them a quote, a backslash or a
    /// control character (checked at compile time for the scanners' tables).
    pub(super) const fn new(name: &'static str) -> Key {
        let n = name.as_bytes();
        let len = n.len() + 3;
        assert!(len <= 24, "key too long for the fast path");
        let mut bytes = [0u8; 24];
        let mut mask = [0u8; 24];
        bytes[0] = b'"';
        let mut k = 0;
        while k < n.len() {
            assert!(n[k] >= 0x20 && n[k] != b'"' && n[k] != b'\\');
            bytes[k + 1] = n[k];
            k += 1;
        }
        bytes[n.len() + 1] = b'"';
        bytes[n.len() + 2] = b':';
        let mut k = 0;
        while k < len {
            mask[k] = 0xff;
            k += 1;
        }
        Key {
            name,
            words: [word(&bytes, 0), word(&bytes, 8), word(&bytes, 16)],
            masks: [word(&mask, 0), word(&mask, 8), word(&mask, 16)],
            len,
        }
    }
}

#[cfg(test)]
impl Key {
    pub(super) fn name(&self) -> &'static str {
        self.name
    }
}

/// Eight bytes of `b` from `at`, little-endian.
const fn word(b: &[u8; 24], at: usize) -> u64 {
    let mut w = 0u64;
    let mut k = 0;
    while k < 8 {
        w |= (b[at + k] as u64) << (8 * k);
        k += 1;
    }
    w
}

impl<'a> Scanner<'a> {
    /// A whole line that is one object of a flat record and nothing else
    /// (whitespace after it aside): every member's key is one of `keys` (at most 32)
    /// and `member` reads its value, given the key's index; an unknown or repeated
    /// key, or `None` from `member`, gives up.
    ///
    /// Producers write the keys in one order, so after the member of `keys[k]` the
    /// scanner first asks whether `"keys[k+1]":` follows, compared word by word
    /// ([`Key`]); only when it does not is the key read as a string and looked up.
    /// Both ways read the same bytes to the same effect.
    pub(super) fn record(
        text: &'a str,
        keys: &[Key],
        mut member: impl FnMut(&mut Self, usize) -> Option<()>,
    ) -> Option<()> {
        debug_assert!(keys.len() <= 32);
        let mut s = Scanner { text, i: 0 };
        s.eat(b'{')?;
        let mut seen = 0u32;
        let mut next = 0;
        s.ws();
        if s.peek()? == b'}' {
            s.i += 1;
        } else {
            loop {
                s.ws();
                let index = match keys.get(next) {
                    Some(key) if s.at_key(key) => {
                        s.i += key.len;
                        next
                    }
                    _ => {
                        let name = s.string()?;
                        s.ws();
                        s.eat(b':')?;
                        keys.iter().position(|k| k.name == name)?
                    }
                };
                let bit = 1u32 << index;
                if seen & bit != 0 {
                    return None;
                }
                seen |= bit;
                s.ws();
                member(&mut s, index)?;
                next = index + 1;
                s.ws();
                match s.next()? {
                    b',' => {}
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        s.ws();
        (s.i == text.len()).then_some(())
    }

    /// Whether `"key":` is at the scanner's position (`false` within 24 bytes of the
    /// end, where the caller reads the key the general way).
    #[inline(always)]
    fn at_key(&self, key: &Key) -> bool {
        let Some(b) = self.bytes().get(self.i..self.i + 24) else {
            return false;
        };
        let w = |k: usize| u64::from_le_bytes(b[8 * k..8 * k + 8].try_into().expect("8 bytes"));
        ((w(0) ^ key.words[0]) & key.masks[0])
            | ((w(1) ^ key.words[1]) & key.masks[1])
            | ((w(2) ^ key.words[2]) & key.masks[2])
            == 0
    }

    pub(super) fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.bytes().get(self.i).copied()
    }

    pub(super) fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.i += 1;
        Some(b)
    }

    pub(super) fn eat(&mut self, b: u8) -> Option<()> {
        (self.next()? == b).then_some(())
    }

    /// JSON whitespace, as serde_json skips it.
    pub(super) fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// A string without escapes or control characters, borrowed. One pass: eight
    /// bytes at a time while none of them is a quote, a backslash or a control
    /// character ([`special_byte`]), then byte by byte to the closing quote (keys and
    /// most values are short: a call of `memchr` and a second pass over the body for
    /// escapes cost more than the string).
    pub(super) fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        let bytes = self.bytes();
        let mut j = start;
        while let Some(word) = bytes.get(j..j + 8) {
            let word = u64::from_le_bytes(word.try_into().ok()?);
            if special_byte(word) {
                break;
            }
            j += 8;
        }
        loop {
            match *bytes.get(j)? {
                b'"' => break,
                b'\\' | 0..=0x1f => return None,
                _ => j += 1,
            }
        }
        self.i = j + 1;
        // Both ends are ASCII quotes, so the slice is on character boundaries.
        self.text.get(start..j)
    }

    /// `null` (consumed) or not.
    pub(super) fn null(&mut self) -> bool {
        if self.bytes()[self.i..].starts_with(b"null") {
            self.i += 4;
            return true;
        }
        false
    }

    /// An integer of at most 18 digits, without a fraction or exponent.
    pub(super) fn int(&mut self) -> Option<i64> {
        let negative = self.peek()? == b'-';
        if negative {
            self.i += 1;
        }
        let start = self.i;
        let (len, v) = self.digits();
        // "-0", leading zeros, fractions, exponents and huge values: serde's call
        let plain = len > 0
            && len <= 18
            && !(self.bytes()[start] == b'0' && (len > 1 || negative))
            && !matches!(self.peek(), Some(b'.' | b'e' | b'E'));
        if !plain {
            return None;
        }
        // at most 18 digits: below 10^18 < 2^63, no wrap happened
        let v = v as i64;
        Some(if negative { -v } else { v })
    }

    pub(super) fn opt_int(&mut self) -> Option<Option<i64>> {
        if self.null() {
            return Some(None);
        }
        self.int().map(Some)
    }

    /// A number of at most 15 digits without an exponent, as serde_json reads it into
    /// an `f64`: an integer converts exactly, a decimal fraction is its digits (below
    /// 2^53, so exact) divided by an exact power of ten, one correctly rounded
    /// operation, which is serde_json's own computation for such numbers.
    pub(super) fn float(&mut self) -> Option<f64> {
        const POW10: [f64; 16] = [
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
        ];
        const POW10_INT: [u64; 20] = {
            let mut p = [1u64; 20];
            let mut k = 1;
            while k < 20 {
                p[k] = p[k - 1] * 10;
                k += 1;
            }
            p
        };
        let negative = self.peek()? == b'-';
        if negative {
            self.i += 1;
        }
        let start = self.i;
        let (int_len, int_value) = self.digits();
        let (mut frac_len, mut significand) = (0, int_value);
        if self.peek() == Some(b'.') {
            self.i += 1;
            let frac_value;
            (frac_len, frac_value) = self.digits();
            if frac_len == 0 {
                return None;
            }
            // at most 15 digits in all (checked below) cannot wrap; longer ones are
            // refused whatever this computed
            significand = significand
                .wrapping_mul(POW10_INT[frac_len.min(19)])
                .wrapping_add(frac_value);
        }
        // leading zeros, exponents, `-0` and long numbers: serde's call
        let plain = int_len > 0
            && int_len + frac_len <= 15
            && !(self.bytes()[start] == b'0' && int_len > 1)
            && !matches!(self.peek(), Some(b'e' | b'E'));
        if !plain {
            return None;
        }
        if negative && significand == 0 {
            return None;
        }
        let v = significand as f64 / POW10[frac_len];
        Some(if negative { -v } else { v })
    }

    /// The ASCII digits from here: how many, and their value (wrapped past 19 digits;
    /// every caller refuses that many), in one pass.
    #[inline]
    fn digits(&mut self) -> (usize, u64) {
        let bytes = self.bytes();
        let start = self.i;
        let mut j = start;
        let mut v = 0u64;
        while let Some(&b) = bytes.get(j) {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            v = v.wrapping_mul(10).wrapping_add(u64::from(d));
            j += 1;
        }
        self.i = j;
        (j - start, v)
    }

    pub(super) fn opt_float(&mut self) -> Option<Option<f64>> {
        if self.null() {
            return Some(None);
        }
        self.float().map(Some)
    }

    pub(super) fn opt_text(&mut self) -> Option<Option<Text<'a>>> {
        if self.null() {
            return Some(None);
        }
        self.string().map(|s| Some(Text(Cow::Borrowed(s))))
    }

    pub(super) fn opt_bool(&mut self) -> Option<Option<bool>> {
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

    /// An integer epoch number (its unit told by its size) or an RFC 3339 string
    /// that parses.
    pub(super) fn opt_ts(&mut self) -> Option<Option<RawTs>> {
        if self.null() {
            return Some(None);
        }
        if self.peek()? == b'"' {
            let s = self.string()?;
            return parse_timestamp_str(s).map(|ms| Some(RawTs(ms)));
        }
        self.int()
            .map(|v| Some(RawTs(super::timestamp::epoch_number_ms(v))))
    }

    /// The members of an object whose `{` was just read, up to its `}`: `member` reads
    /// one value and returns its key's bit (`None` gives up); a repeated key gives up.
    pub(super) fn members(
        &mut self,
        mut member: impl FnMut(&mut Self, &'a str) -> Option<u32>,
    ) -> Option<()> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_byte_finds_every_quote_backslash_and_control_byte() {
        let plain = *b"0123abcd";
        assert!(!special_byte(u64::from_le_bytes(plain)));
        let others = [0x20, 0x7f, 0x80, 0xff, b'!', b'#', b'[', b']'];
        assert!(!special_byte(u64::from_le_bytes(others)));
        for at in 0..8 {
            for b in (0u8..0x20).chain([b'"', b'\\']) {
                let mut w = plain;
                w[at] = b;
                assert!(special_byte(u64::from_le_bytes(w)), "{b:#x} at {at}");
                // beside bytes that borrow in the subtraction
                let mut w = [0xffu8; 8];
                w[at] = b;
                assert!(special_byte(u64::from_le_bytes(w)), "{b:#x} at {at}");
            }
        }
    }

    #[test]
    fn strings_end_at_the_first_quote_and_escapes_give_up() {
        let read = |t: &str| {
            let mut s = Scanner { text: t, i: 0 };
            s.string().map(|v| (v.to_string(), s.i))
        };
        assert_eq!(read("\"\""), Some((String::new(), 2)));
        assert_eq!(read("\"abc\","), Some(("abc".into(), 5)));
        let long = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert_eq!(read(&format!("\"{long}\"}}")), Some((long.into(), 66)));
        let utf8 = "h\u{e9}llo w\u{f6}rld \u{1f4e1}";
        assert_eq!(
            read(&format!("\"{utf8}\"")),
            Some((utf8.into(), utf8.len() + 2))
        );
        assert_eq!(read("\"0123456789abc\\\"d\""), None);
        assert_eq!(read("\"0123456789\tabc\""), None);
        assert_eq!(read("\"01234567890123456789"), None);
        assert_eq!(read("\"0123456"), None);
        assert_eq!(read("x\"\""), None);
    }
}

/// What the scanners' property tests share: generated object lines.
#[cfg(test)]
pub(super) mod test_lines {
    use proptest::prelude::*;

    /// Whitespace as producers put it around keys and values.
    pub(crate) fn spacing() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => Just(""),
            1 => Just(" "),
            1 => Just("\n\t "),
            1 => Just("\r"),
        ]
        .prop_map(str::to_string)
    }

    /// One object line of `(key, value, spacing)` members, then `tail`.
    pub(crate) fn object_line(fields: &[(String, String, String)], tail: &str) -> String {
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v, sp)| format!("{sp}\"{k}\"{sp}:{sp}{v}{sp}"))
            .collect();
        format!("{{{}}}{tail}", body.join(","))
    }

    /// The members of `keys` kept by their flag, in the keys' (the producers') order,
    /// with their value and spacing: a line the scanner reads by expected next key.
    pub(crate) fn in_key_order(
        keys: &[super::Key],
        members: Vec<(bool, String, String)>,
    ) -> Vec<(String, String, String)> {
        keys.iter()
            .zip(members)
            .filter(|(_, (keep, _, _))| *keep)
            .map(|(k, (_, v, sp))| (k.name().to_string(), v, sp))
            .collect()
    }
}
