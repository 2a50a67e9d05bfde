//! Contract timestamps: integer milliseconds since the epoch or an RFC 3339 string
//! (and epoch numbers in other units, told by their size).

use super::{InvalidReason, ValidationError};
use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// 2000-01-01T00:00:00Z in milliseconds: the earliest event time the contract accepts.
pub(crate) const MIN_EVENT_TIME_MS: i64 = 946_684_800_000;
const DAY_MS: i64 = 86_400_000;

/// The accepted event-time range: 2000-01-01 .. `now + 1 day`.
///
/// `now` is fixed once per run (replay start or service start) and passed in, so a
/// record's validity never changes in the middle of a run.
#[derive(Debug, Clone, Copy)]
pub struct TimeBounds {
    pub(crate) min_ms: i64,
    pub(crate) max_ms: i64,
}

impl TimeBounds {
    pub fn at(now_ms: i64) -> Self {
        TimeBounds {
            min_ms: MIN_EVENT_TIME_MS,
            max_ms: now_ms + DAY_MS,
        }
    }

    pub fn from_wall_clock() -> Self {
        Self::at(chrono::Utc::now().timestamp_millis())
    }

    pub(crate) fn check(&self, field: &str, ms: i64) -> Result<i64, ValidationError> {
        if ms < self.min_ms || ms > self.max_ms {
            return Err(ValidationError::new(
                InvalidReason::BadTimestamp,
                field,
                format!("timestamp {ms} ms is outside 2000-01-01 .. now + 1 day"),
            ));
        }
        Ok(ms)
    }
}

/// 2000-01-01T00:00:00Z in seconds.
const MIN_EVENT_TIME_S: i64 = MIN_EVENT_TIME_MS / 1000;
/// The first value of each unit's range that no other unit's accepted range reaches:
/// seconds from 2000 up to 1e11 (year 5138), milliseconds from 2000 up to 1e14,
/// microseconds up to 1e17, nanoseconds beyond.
const SECONDS_END: i64 = 100_000_000_000;
const MICROS_START: i64 = MIN_EVENT_TIME_MS * 1000;
const MICROS_END: i64 = 100_000_000_000_000_000;
const NANOS_START: i64 = MIN_EVENT_TIME_MS * 1_000_000;

/// An epoch number in milliseconds, its unit told by its size. The contract says
/// milliseconds; producers also send seconds (Unix time, `time.time()`), micro- or
/// nanoseconds. The ranges of the four units after 2000-01-01 do not overlap (seconds
/// read as milliseconds would be January 1970, and microseconds far beyond the year
/// 5000), so a value in another unit's range can only mean that unit. Anything else
/// is returned as it is, for the bounds check to refuse.
pub(crate) fn epoch_number_ms(v: i64) -> i64 {
    if (MIN_EVENT_TIME_S..SECONDS_END).contains(&v) {
        v * 1000
    } else if (MICROS_START..MICROS_END).contains(&v) {
        v / 1000
    } else if v >= NANOS_START {
        v / 1_000_000
    } else {
        v
    }
}

/// A JSON number as a timestamp: an integer (in any unit [`epoch_number_ms`] tells),
/// or fractional seconds (`1793502000.25`, Python's `time.time()`), rounded to the
/// millisecond. `None` for a fraction of anything but seconds.
pub(crate) fn epoch_float_ms(v: f64) -> Option<i64> {
    if let Some(i) = super::lenient::integral(v) {
        return Some(epoch_number_ms(i));
    }
    let seconds = (MIN_EVENT_TIME_S as f64..SECONDS_END as f64).contains(&v);
    seconds.then(|| (v * 1000.0).round() as i64)
}

/// Parse an RFC 3339 string into epoch milliseconds.
pub(crate) fn parse_timestamp_str(s: &str) -> Option<i64> {
    if let Some(ms) = parse_common_rfc3339(s.as_bytes()) {
        return Some(ms);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
}

/// The common shape `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM)` with every part in range
/// (no leap second), read without chrono's general parser: `None` for anything else,
/// which chrono then reads or refuses. Every SMS-volume line carries one.
fn parse_common_rfc3339(b: &[u8]) -> Option<i64> {
    fn num(b: &[u8]) -> Option<i64> {
        b.iter().try_fold(0i64, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
        })
    }
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(&b[0..4])?, num(&b[5..7])?, num(&b[8..10])?);
    let (hour, minute, second) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut i = 19;
    let mut millis = 0;
    if b[i] == b'.' {
        let digits = b[i + 1..].iter().take_while(|d| d.is_ascii_digit()).count();
        if !(1..=9).contains(&digits) {
            return None;
        }
        let first3 = &b[i + 1..i + 1 + digits.min(3)];
        millis = num(first3)? * [100, 10, 1][first3.len() - 1];
        i += 1 + digits;
    }
    let offset_secs = match &b[i..] {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (oh, om) = (num(&[*h1, *h2])?, num(&[*m1, *m2])?);
            if oh > 23 || om > 59 {
                return None;
            }
            let secs = oh * 3600 + om * 60;
            if *sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        _ => return None,
    };
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_secs;
    Some(secs * 1000 + millis)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A timestamp as it arrives: already converted to milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawTs(pub(crate) i64);

impl<'de> serde::Deserialize<'de> for RawTs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawTs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("integer milliseconds or an RFC 3339 string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawTs, E> {
                Ok(RawTs(epoch_number_ms(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawTs, E> {
                i64::try_from(v)
                    .map(|v| RawTs(epoch_number_ms(v)))
                    .map_err(|_| {
                        E::custom(super::error::CustomReason::encode(
                            InvalidReason::BadTimestamp,
                            "timestamp too large",
                        ))
                    })
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawTs, E> {
                // `1793502000000.0` is integer milliseconds written as a float,
                // `1793502000.25` seconds with a fraction.
                epoch_float_ms(v).map(RawTs).ok_or_else(|| {
                    E::custom(super::error::CustomReason::encode(
                        InvalidReason::BadTimestamp,
                        "timestamp must be integer milliseconds (or seconds), not a fraction of a millisecond",
                    ))
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawTs, E> {
                // `"1793502000000"`: integer milliseconds quoted, as CSV exports do.
                let quoted_ms = || {
                    let t = v.trim();
                    let digits =
                        !t.is_empty() && t.len() <= 16 && t.bytes().all(|b| b.is_ascii_digit());
                    digits
                        .then(|| t.parse::<i64>().ok())
                        .flatten()
                        .map(epoch_number_ms)
                };
                parse_timestamp_str(v)
                    .or_else(quoted_ms)
                    .map(RawTs)
                    .ok_or_else(|| {
                        E::custom(super::error::CustomReason::encode(
                            InvalidReason::BadTimestamp,
                            "not an RFC 3339 timestamp",
                        ))
                    })
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_and_ms_agree() {
        assert_eq!(
            parse_timestamp_str("2000-01-01T00:00:00Z"),
            Some(MIN_EVENT_TIME_MS)
        );
        assert_eq!(
            parse_timestamp_str("2026-11-28T07:00:00+07:00"),
            parse_timestamp_str("2026-11-28T00:00:00Z")
        );
        assert_eq!(parse_timestamp_str("yesterday"), None);
        let raw = |json: &str| serde_json::from_str::<RawTs>(json).map(|t| t.0).ok();
        assert_eq!(raw(r#""1793502000000""#), Some(1_793_502_000_000));
        assert_eq!(
            raw(r#""2026-11-28T00:00:00Z""#),
            parse_timestamp_str("2026-11-28T00:00:00Z")
        );
        assert_eq!(raw(r#""17935O2000000""#), None);
        assert_eq!(raw(r#""-1793502000000""#), None);
        // seconds, micro- and nanoseconds are told by their size
        assert_eq!(raw("1793502000"), Some(1_793_502_000_000));
        assert_eq!(raw("1793502000.25"), Some(1_793_502_000_250));
        assert_eq!(raw(r#""1793502000""#), Some(1_793_502_000_000));
        assert_eq!(raw("1793502000123456"), Some(1_793_502_000_123));
        assert_eq!(raw("1793502000123456789"), Some(1_793_502_000_123));
        assert_eq!(raw("1793502000000"), Some(1_793_502_000_000));
        assert_eq!(raw("1793502000000.5"), None);
        // below 2000 in every unit: left as it is for the bounds check
        assert_eq!(raw("86400000"), Some(86_400_000));
        assert_eq!(raw("-5"), Some(-5));
        assert_eq!(
            parse_common_rfc3339(b"2026-11-08T07:00:00.000+07:00"),
            parse_timestamp_str("2026-11-08T00:00:00Z")
        );
    }

    fn chrono_ms(s: &str) -> Option<i64> {
        chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| d.timestamp_millis())
    }

    #[test]
    fn leaves_the_unusual_to_chrono() {
        for s in [
            "2026-11-08t07:00:00Z",
            "2026-11-08 07:00:00Z",
            "2026-11-08T07:00:00z",
            "2016-12-31T23:59:60Z",
            "2026-11-08T07:00:00.1234567890Z",
            "2026-11-08T07:00:00.Z",
            "2026-11-08T07:00:00+0700",
            "2026-11-08T07:00:00+24:00",
            "2026-02-29T00:00:00Z",
            "+2026-11-08T07:00:00Z",
        ] {
            assert_eq!(parse_common_rfc3339(s.as_bytes()), None, "{s}");
            assert_eq!(parse_timestamp_str(s), chrono_ms(s), "{s}");
        }
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        /// Whenever the fast path answers, chrono gives the same instant.
        #[test]
        fn agrees_with_chrono(
            y in prop_oneof![0u32..10_000, 1995u32..2035],
            mo in 0u32..14, d in 0u32..33, h in 0u32..26, mi in 0u32..62, se in 0u32..62,
            frac in prop_oneof![Just(String::new()), "\\.[0-9]{0,11}"],
            off in prop_oneof![Just("Z".to_string()), "[+-][0-2][0-9]:[0-6][0-9]", Just("+07:00".to_string())],
            sep in prop_oneof![8 => Just('T'), 1 => Just('t'), 1 => Just(' ')],
        ) {
            let s = format!("{y:04}-{mo:02}-{d:02}{sep}{h:02}:{mi:02}:{se:02}{frac}{off}");
            if let Some(fast) = parse_common_rfc3339(s.as_bytes()) {
                prop_assert_eq!(Some(fast), chrono_ms(&s), "{}", s);
            }
            prop_assert_eq!(parse_timestamp_str(&s), chrono_ms(&s), "{}", s);
        }

        #[test]
        fn agrees_with_chrono_on_damaged_strings(cut in 0usize..29, byte in any::<u8>()) {
            let mut b = b"2026-11-08T07:00:00.000+07:00".to_vec();
            b[cut] = byte;
            if let Ok(s) = std::str::from_utf8(&b) {
                prop_assert_eq!(parse_timestamp_str(s), chrono_ms(s), "{}", s);
            }
        }
    }

    #[test]
    fn bounds_are_enforced() {
        let b = TimeBounds::at(MIN_EVENT_TIME_MS + 10 * DAY_MS);
        assert!(b.check("ts", MIN_EVENT_TIME_MS - 1).is_err());
        assert!(b.check("ts", MIN_EVENT_TIME_MS + 11 * DAY_MS).is_ok());
        assert!(b.check("ts", MIN_EVENT_TIME_MS + 11 * DAY_MS + 1).is_err());
    }
}
