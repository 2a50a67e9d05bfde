//! The validation stage: raw bytes → typed event, or a dead letter with a reason.
//!
//! Checks, in order: size, UTF-8, JSON shape and every contract rule (`model`), then
//! event-time lateness against the source's watermark. Nothing invalid gets past
//! here, so detectors only ever see well-formed, on-time events.

use crate::ingest::Origin;
use crate::model::{parse_record, Event, Feed, InvalidReason, TimeBounds, ValidationError};
use crate::window::{Admission, Watermark};
use serde::Serialize;

/// A record refused by the pipeline, kept whole with the reason so nothing is lost.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub reason: InvalidReason,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub error: String,
    pub feed: Feed,
    #[serde(flatten)]
    pub origin: Origin,
    /// The original bytes when they are UTF-8 (possibly cut, see `truncated`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    /// The original bytes, base64, when they are not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_base64: Option<String>,
    /// Length of the original record in bytes.
    pub raw_len: u64,
    /// True when `raw` holds only the head of an over-long record.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl DeadLetter {
    pub fn new(feed: Feed, origin: Origin, err: ValidationError, raw: &[u8], raw_len: u64) -> Self {
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
    watermark: Watermark,
}

/// The outcome for one raw record.
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
            watermark: Watermark::new(allowed_lateness_ms),
        }
    }

    /// Name the source within its feed (the Kafka partition); 0 by default.
    pub fn with_source(mut self, source: i32) -> Self {
        self.source = source;
        self
    }

    pub fn feed(&self) -> Feed {
        self.feed
    }

    pub fn source(&self) -> i32 {
        self.source
    }

    /// The source's watermark (highest event time seen minus the allowed lateness).
    pub fn watermark_ms(&self) -> Option<i64> {
        self.watermark.current()
    }

    /// Validate one record's bytes.
    pub fn check(&mut self, bytes: &[u8], origin: Origin) -> Checked {
        if std::str::from_utf8(bytes).is_err() {
            let err =
                ValidationError::record(InvalidReason::InvalidUtf8, "record is not valid UTF-8");
            return Checked::Invalid(Box::new(DeadLetter::new(
                self.feed,
                origin,
                err,
                bytes,
                bytes.len() as u64,
            )));
        }
        let event = match parse_record(self.feed, bytes, &self.bounds) {
            Ok(e) => e,
            Err(err) => {
                return Checked::Invalid(Box::new(DeadLetter::new(
                    self.feed,
                    origin,
                    err,
                    bytes,
                    bytes.len() as u64,
                )))
            }
        };
        match self.watermark.observe(event.event_time_ms()) {
            Admission::OnTime => Checked::Valid(event),
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
                Checked::Invalid(Box::new(DeadLetter::new(
                    self.feed,
                    origin,
                    err,
                    bytes,
                    bytes.len() as u64,
                )))
            }
        }
    }

    /// A record longer than the line limit: refused without being parsed.
    pub fn too_large(&self, head: &[u8], len: u64, limit: usize, origin: Origin) -> DeadLetter {
        let err = ValidationError::record(
            InvalidReason::TooLarge,
            format!("record of {len} bytes exceeds the limit of {limit} bytes"),
        );
        DeadLetter::new(self.feed, origin, err, head, len)
    }
}
