//! The validation stage: raw bytes → typed event, or a dead letter with a reason.
//!
//! Checks, in order: size, UTF-8, JSON shape and every contract rule (`model`), then
//! event-time lateness against the source's watermark. Nothing invalid gets past
//! here, so detectors only ever see well-formed, on-time events.

use crate::ingest::{Origin, OriginRef};
use crate::model::{parse_record_str, Event, Feed, InvalidReason, TimeBounds, ValidationError};
use crate::window::{Admission, Watermark};
use serde::Serialize;

mod depth;

/// A record refused by the pipeline, kept whole with the reason so nothing is lost.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub reason: InvalidReason,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) field: Option<String>,
    pub(crate) error: String,
    pub(crate) feed: Feed,
    #[serde(flatten)]
    pub(crate) origin: Origin,
    /// The original bytes when they are UTF-8 (possibly cut, see `truncated`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) raw: Option<String>,
    /// The original bytes, base64, when they are not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) raw_base64: Option<String>,
    /// Length of the original record in bytes.
    pub(crate) raw_len: u64,
    /// True when `raw` holds only the head of an over-long record.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl DeadLetter {
    pub(crate) fn new(
        feed: Feed,
        origin: Origin,
        err: ValidationError,
        raw: &[u8],
        raw_len: u64,
    ) -> Self {
        let (raw_text, raw_base64) = match std::str::from_utf8(raw) {
            Ok(s) => (Some(s.to_string()), None),
            Err(_) => {
                use base64::Engine;
                (
                    None,
                    Some(base64::engine::general_purpose::STANDARD.encode(raw)),
                )
            }
        };
        DeadLetter {
            reason: err.reason,
            field: err.field.clone(),
            error: err.to_string(),
            feed,
            origin,
            raw: raw_text,
            raw_base64,
            raw_len,
            truncated: raw_len > raw.len() as u64,
        }
    }
}

/// Validation state of one source: the contract's time bounds and its watermark.
#[derive(Debug)]
pub struct SourceValidator {
    feed: Feed,
    source: i32,
    bounds: TimeBounds,
    max_json_depth: usize,
    watermark: Watermark,
}

/// The outcome for one raw record.
// An event is ≈ 320 bytes (its pseudonyms inline): boxing it would bring back the
// allocation per record that inline pseudonyms removed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Checked {
    Valid(Event),
    Invalid(Box<DeadLetter>),
}

impl SourceValidator {
    pub fn new(feed: Feed, bounds: TimeBounds, allowed_lateness_ms: i64) -> Self {
        SourceValidator {
            feed,
            source: 0,
            bounds,
            max_json_depth: crate::config::PipelineConfig::default().max_json_depth,
            watermark: Watermark::new(allowed_lateness_ms),
        }
    }

    /// Refuse records nested deeper than `max` (`pipeline.max_json_depth`; the
    /// default's otherwise).
    pub fn with_max_json_depth(mut self, max: usize) -> Self {
        self.max_json_depth = max;
        self
    }

    /// Name the source within its feed (the Kafka partition); 0 by default.
    pub fn with_source(mut self, source: i32) -> Self {
        self.source = source;
        self
    }

    pub(crate) fn feed(&self) -> Feed {
        self.feed
    }

    pub(crate) fn source(&self) -> i32 {
        self.source
    }

    /// The source's watermark (highest event time seen minus the allowed lateness).
    pub(crate) fn watermark_ms(&self) -> Option<i64> {
        self.watermark.current()
    }

    /// Highest event time admitted on time so far (what a checkpoint stores).
    pub(crate) fn max_event_ms(&self) -> Option<i64> {
        self.watermark.max_event_ms()
    }

    /// Continue from a checkpoint's highest admitted event time.
    pub(crate) fn resume_at(&mut self, max_event_ms: i64) {
        self.watermark.resume_at(max_event_ms);
    }

    /// Validate one record's bytes.
    pub fn check(&mut self, bytes: &[u8], origin: Origin) -> Checked {
        self.check_ref(bytes, OriginRef::from(&origin))
    }

    /// [`SourceValidator::check`] with a borrowed origin, copied only into a dead
    /// letter: a valid record costs no allocation here.
    pub fn check_ref(&mut self, bytes: &[u8], origin: OriginRef<'_>) -> Checked {
        let parsed = parse_bytes(self.feed, &self.bounds, self.max_json_depth, bytes);
        self.admit(parsed, bytes, origin)
    }

    /// The sequential half of [`SourceValidator::check_ref`]: the outcome of
    /// [`parse_bytes`] (which may run on another thread) against this source's
    /// watermark, in the source's order.
    pub(crate) fn admit(
        &mut self,
        parsed: Result<Event, ValidationError>,
        bytes: &[u8],
        origin: OriginRef<'_>,
    ) -> Checked {
        match parsed {
            Ok(event) => match self.admit_valid(&event, bytes, origin) {
                None => Checked::Valid(event),
                Some(dead) => Checked::Invalid(Box::new(dead)),
            },
            Err(err) => Checked::Invalid(Box::new(DeadLetter::new(
                self.feed,
                origin.to_origin(),
                err,
                bytes,
                bytes.len() as u64,
            ))),
        }
    }

    /// [`SourceValidator::admit`] of a parsed event, taken by reference so a caller
    /// that has it in place moves it once, straight to the pipeline: `None` when it
    /// is on time, else the dead letter of a late record.
    pub(crate) fn admit_valid(
        &mut self,
        event: &Event,
        bytes: &[u8],
        origin: OriginRef<'_>,
    ) -> Option<DeadLetter> {
        let dead = |feed, err| {
            Some(DeadLetter::new(
                feed,
                origin.to_origin(),
                err,
                bytes,
                bytes.len() as u64,
            ))
        };
        match self.watermark.observe(event.event_time_ms()) {
            Admission::OnTime => None,
            Admission::Late {
                watermark_ms,
                lateness_ms,
            } => {
                let err = ValidationError::record(
                    InvalidReason::Late,
                    format!(
                        "event time {} ms is {} ms behind the watermark {} ms (allowed lateness exceeded)",
                        event.event_time_ms(),
                        lateness_ms,
                        watermark_ms
                    ),
                );
                dead(self.feed, err)
            }
        }
    }

    /// A record longer than the line limit: refused without being parsed.
    pub fn too_large(&self, head: &[u8], len: u64, limit: usize, origin: Origin) -> DeadLetter {
        DeadLetter::new(self.feed, origin, too_large(len, limit), head, len)
    }

    /// The dead letter of a record that [`parse_bytes`] refused (or that was too
    /// long to parse), `raw_len` bytes long of which `bytes` are kept.
    pub(crate) fn refuse(
        &self,
        err: ValidationError,
        bytes: &[u8],
        raw_len: u64,
        origin: OriginRef<'_>,
    ) -> DeadLetter {
        DeadLetter::new(self.feed, origin.to_origin(), err, bytes, raw_len)
    }
}

/// Why a record of `len` bytes is refused unparsed under a limit of `limit` bytes.
pub(crate) fn too_large(len: u64, limit: usize) -> ValidationError {
    ValidationError::record(
        InvalidReason::TooLarge,
        format!("record of {len} bytes exceeds the limit of {limit} bytes"),
    )
}

/// The stateless half of validation: UTF-8, nesting depth (at most
/// `max_json_depth`), JSON shape and every contract rule of one record. Pure, so it
/// can run on any thread; [`SourceValidator::admit`] then applies the source's
/// watermark in order.
pub(crate) fn parse_bytes(
    feed: Feed,
    bounds: &TimeBounds,
    max_json_depth: usize,
    bytes: &[u8],
) -> Result<Event, ValidationError> {
    if depth::deeper_than(bytes, max_json_depth) {
        return Err(ValidationError::record(
            InvalidReason::MalformedJson,
            format!("JSON nested deeper than {max_json_depth} levels (pipeline.max_json_depth)"),
        ));
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err(ValidationError::record(
            InvalidReason::InvalidUtf8,
            "record is not valid UTF-8",
        ));
    };
    parse_record_str(feed, without_bom(text), bounds)
}

/// The record without a leading UTF-8 byte-order mark: Windows tools write one at the
/// start of a file (and some producers before every message); it is not part of the JSON.
fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMS: &str = r#"{"operator":"45204","sim":"9F86D081884C7D65","window_start":1793502000000.0,"window_secs":300.0,"sms_out":5.0,"sms_in":null}"#;

    fn parse(bytes: &[u8]) -> Result<Event, ValidationError> {
        parse_bytes(
            Feed::SmsVolume,
            &TimeBounds::at(1_795_824_000_000),
            64,
            bytes,
        )
    }

    #[test]
    fn other_producers_habits_are_read() {
        // upper-case hex, integers written as floats, and a byte-order mark
        let with_bom = format!("\u{feff}{SMS}");
        for line in [SMS, with_bom.as_str()] {
            let Event::Sms(sms) = parse(line.as_bytes()).unwrap() else {
                panic!("not an SMS record")
            };
            assert_eq!(sms.sim, "9f86d081884c7d65");
            assert_eq!((sms.sms_out, sms.window_secs), (5, 300));
            assert_eq!(sms.window_start_ms, 1_793_502_000_000);
        }
    }

    #[test]
    fn fractions_stay_refused() {
        let e = parse(SMS.replace("5.0", "5.5").as_bytes()).unwrap_err();
        assert_eq!(e.reason, InvalidReason::WrongType);
        let e = parse(SMS.replace("000.0", "000.5").as_bytes()).unwrap_err();
        assert_eq!(e.reason, InvalidReason::BadTimestamp);
    }
}
