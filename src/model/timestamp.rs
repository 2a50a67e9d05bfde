//! Contract timestamps: integer milliseconds since the epoch or an RFC 3339 string.

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

/// Parse an RFC 3339 string into epoch milliseconds.
pub(crate) fn parse_timestamp_str(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
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
                Ok(RawTs(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawTs, E> {
                i64::try_from(v).map(RawTs).map_err(|_| {
                    E::custom(super::error::CustomReason::encode(
                        InvalidReason::BadTimestamp,
                        "timestamp too large",
                    ))
                })
            }
            fn visit_f64<E: de::Error>(self, _v: f64) -> Result<RawTs, E> {
                Err(E::custom(super::error::CustomReason::encode(
                    InvalidReason::BadTimestamp,
                    "timestamp must be integer milliseconds, not a fraction",
                )))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawTs, E> {
                parse_timestamp_str(v).map(RawTs).ok_or_else(|| {
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
    }

    #[test]
    fn bounds_are_enforced() {
        let b = TimeBounds::at(MIN_EVENT_TIME_MS + 10 * DAY_MS);
        assert!(b.check("ts", MIN_EVENT_TIME_MS - 1).is_err());
        assert!(b.check("ts", MIN_EVENT_TIME_MS + 11 * DAY_MS).is_ok());
        assert!(b.check("ts", MIN_EVENT_TIME_MS + 11 * DAY_MS + 1).is_err());
    }
}
