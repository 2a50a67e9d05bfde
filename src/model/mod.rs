//! The feed contract (docs/contract.md) as types.
//!
//! Raw JSON lines are turned into typed events here and nowhere else: every
//! invariant of the contract is checked once, and a refusal names the field and
//! the rule it broke so the dead-letter path can say why.

mod case;
mod cell;
mod error;
mod json_scan;
mod lenient;
mod measurement;
mod measurement_scan;
mod names;
mod order;
mod pseudonym;
mod sms;
mod sms_raw;
mod sms_scan;
mod text;
mod timestamp;

pub(crate) use case::{round3, round4, EVIDENCE_LOOKBACK_MS};
pub use case::{round6, Case, CaseKind, CaseStatus, ClaimedCell, Location, Reason, TrackPoint};
pub(crate) use cell::KeyText;
pub use cell::{BadCellKey, CellKey, Rat};
pub use error::{InvalidReason, ValidationError};
pub use measurement::{CellMeasurement, MeasurementEvent};
pub(crate) use names::name_list;
pub use names::{parse_loosely, UnknownName};
pub use order::stable_hash;
pub(crate) use pseudonym::check_pseudonym;
pub use sms::{ContentFingerprint, SmsVolume};
pub(crate) use timestamp::parse_timestamp_str;
pub use timestamp::TimeBounds;

/// A pseudonym of a person's identifier (SIM, device, reporter): lower-case hex of
/// 16..=128 characters. Kept inline up to 64 bytes (HMAC-SHA256 hex), so parsing a
/// record allocates nothing for it and comparing two is a compare of bytes in place;
/// a longer one (valid by the contract) goes to the heap. Derefs to `&str`, prints,
/// orders, hashes and serializes as the string.
pub type Pseudonym = smallstr::SmallString<[u8; 64]>;

/// A short text field of a record (`operator`, `source`, `cipher`: at most 32
/// characters by the contract, usually a few): inline up to 16 bytes, longer ones on
/// the heap; the same behaviour as [`Pseudonym`]. 32 bytes, so records stay small
/// (every record is moved from parse to hold queue to release).
pub type ShortName = smallstr::SmallString<[u8; 16]>;

/// Which feed a record came from; decides how it is parsed and which detector sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Feed {
    SmsVolume,
    Measurements,
}

impl Feed {
    pub(crate) const ALL: [Feed; 2] = [Feed::SmsVolume, Feed::Measurements];

    /// The contract name (`sms_volume`), as serde writes it: the `feed` of dead
    /// letters, archived records and the replay summary.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Feed::SmsVolume => "sms_volume",
            Feed::Measurements => "measurements",
        }
    }
}

impl std::str::FromStr for Feed {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, UnknownName> {
        names::parse_name(s, &Self::ALL, Self::name, "feed")
    }
}

impl std::fmt::Display for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A validated record of either feed, with its event time in milliseconds.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Event {
    Sms(SmsVolume),
    Measurement(CellMeasurement),
}

impl Event {
    /// Event time used for watermarks and windows.
    pub fn event_time_ms(&self) -> i64 {
        match self {
            Event::Sms(r) => r.window_start_ms + i64::from(r.window_secs) * 1000,
            Event::Measurement(m) => m.ts_ms,
        }
    }

    pub(crate) fn feed(&self) -> Feed {
        match self {
            Event::Sms(_) => Feed::SmsVolume,
            Event::Measurement(_) => Feed::Measurements,
        }
    }
}

/// Parse and validate one raw line of the given feed.
pub fn parse_record(
    feed: Feed,
    bytes: &[u8],
    bounds: &TimeBounds,
) -> Result<Event, ValidationError> {
    match feed {
        Feed::SmsVolume => SmsVolume::parse(bytes, bounds).map(Event::Sms),
        Feed::Measurements => CellMeasurement::parse(bytes, bounds).map(Event::Measurement),
    }
}

/// [`parse_record`] of a line already checked to be UTF-8 (the validation stage
/// checks it first, so the parser does not check every string again).
pub(crate) fn parse_record_str(
    feed: Feed,
    text: &str,
    bounds: &TimeBounds,
) -> Result<Event, ValidationError> {
    match feed {
        Feed::SmsVolume => SmsVolume::parse_event_str(text, bounds),
        Feed::Measurements => CellMeasurement::parse_event_str(text, bounds),
    }
}
