//! What stage "ingest" writes to the internal topics and stage "detect" reads
//! (`[kafka] topology = "staged"`): a validated event with its origin and its source's
//! watermark, or a watermark marker of a source. Compact binary (postcard), so the
//! detect stage does not parse JSON again. Kept apart because it is the contract
//! between the two stages: an instance of one version reads what another wrote.

use crate::model::{Event, Feed};
use serde::{Deserialize, Serialize};

/// Version byte in front of every envelope: a reader refuses what it does not know.
const VERSION: u8 = 1;

/// One message of an internal topic.
// Events are large (pseudonyms inline) and not boxed: no allocation per record.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Envelope {
    /// A valid, on-time event of feed partition `source`, at `offset` there;
    /// `watermark_ms` is that source's watermark once the event was taken.
    Data {
        source: i32,
        offset: i64,
        watermark_ms: i64,
        event: Event,
    },
    /// A source's progress, broadcast to every partition of the feed's internal
    /// topic: its watermark (when it has one) and whether it is idle (consumed to its
    /// end and silent, see the idle timeout), as of its offset `next` (exclusive).
    Mark {
        feed: u8,
        source: i32,
        next: i64,
        watermark_ms: Option<i64>,
        idle: bool,
    },
}

/// An internal-topic message that cannot be read (another version, corrupted).
#[derive(Debug, thiserror::Error)]
#[error("unreadable internal-topic message: {0}")]
pub(crate) struct EnvelopeError(String);

pub(crate) fn feed_tag(feed: Feed) -> u8 {
    match feed {
        Feed::SmsVolume => 0,
        Feed::Measurements => 1,
    }
}

pub(crate) fn feed_of_tag(tag: u8) -> Feed {
    if tag == 0 {
        Feed::SmsVolume
    } else {
        Feed::Measurements
    }
}

impl Envelope {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        // Serialising these plain types into a Vec cannot fail.
        out.extend(postcard::to_allocvec(self).unwrap_or_default());
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
        match bytes.split_first() {
            Some((&VERSION, rest)) => {
                postcard::from_bytes(rest).map_err(|e| EnvelopeError(e.to_string()))
            }
            Some((v, _)) => Err(EnvelopeError(format!("version {v}, expected {VERSION}"))),
            None => Err(EnvelopeError("empty".into())),
        }
    }
}

/// The key that groups an event for its detector: operator and SIM for SMS volume,
/// radio technology and claimed cell for measurements.
pub(crate) fn detector_key(event: &Event) -> String {
    match event {
        Event::Sms(s) => format!("{}/{}", s.operator, s.sim),
        Event::Measurement(m) => format!(
            "{:?}/{}-{}-{}-{}",
            m.rat, m.cell.mcc, m.cell.mnc, m.cell.lac, m.cell.cid
        ),
    }
}

/// The internal partition of a key among `partitions` (FNV-1a: the same in every
/// instance and version).
pub(crate) fn partition_of(key: &str, partitions: i32) -> i32 {
    let h = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (h % partitions.max(1) as u64) as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TimeBounds;

    #[test]
    fn envelopes_survive_the_round_trip_and_foreign_bytes_are_refused() {
        let line = br#"{"operator":"VT","sim":"a1b2c3d4e5f60718","window_start":"2026-03-01T00:00:00Z","window_secs":300,"sms_out":12}"#;
        let event =
            crate::model::parse_record(Feed::SmsVolume, line, &TimeBounds::at(1_900_000_000_000));
        let event = event.expect("a valid record");
        let data = Envelope::Data {
            source: 3,
            offset: 77,
            watermark_ms: 1_000,
            event,
        };
        assert_eq!(Envelope::decode(&data.encode()).unwrap(), data);
        let mark = Envelope::Mark {
            feed: 1,
            source: 0,
            next: 5,
            watermark_ms: None,
            idle: true,
        };
        assert_eq!(Envelope::decode(&mark.encode()).unwrap(), mark);
        assert!(Envelope::decode(b"{\"json\":1}").is_err());
        assert!(Envelope::decode(&[]).is_err());
    }

    #[test]
    fn partitions_are_stable_and_in_range() {
        assert_eq!(partition_of("VT/abc", 1), 0);
        let p = partition_of("VT/abc", 7);
        assert!((0..7).contains(&p));
        assert_eq!(p, partition_of("VT/abc", 7));
    }
}
