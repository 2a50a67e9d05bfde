//! What crosses from the spam detector's per-SIM stage ([`super::sims::SimStage`],
//! stage A, keyed by operator and SIM) to its cross-SIM stage
//! ([`super::cross::CrossSim`], stage B): one message per record at most, and only
//! what stage B reads (docs/streaming.md, "The spam detector's two stages").
//!
//! - every record of a **hot** SIM (one that could open a case or showed a farm
//!   candidate's markers since its state began): its features and what the rules,
//!   the case and farm grouping read of the SIM's state ([`Hot`]);
//! - of any other SIM, its **population sample** (the first record of a medium
//!   window: operator, interval, medium-window count);
//! - a **refit tick**: the task's first record past a refit boundary of the
//!   population baselines;
//! - a **restart** marker: the record restarted a hot SIM's state (idle longer than
//!   the long window), so stage B ends the SIM's incident there.
//!
//! Stage B keys what it keeps per SIM by (operator, SIM) itself; nothing of stage A's
//! slot numbers or flags but the allowlist and forwarded bits crosses.
//!
//! Of the record a forward carries only what stage B reads ([`Seen`]): the natural
//! key (operator, SIM, interval: the baseline's population, the order, the SIM's
//! key); of a hot SIM also the record's TAC (the gateway verdict); and, only when the
//! SIM may be in farm grouping ([`Found::farm`]), its device and content
//! fingerprints. A sample is then 36 bytes instead of the whole record.
//!
//! A forward orders exactly as its record ([`Event::tie_cmp`]): merged from any
//! number of stage-A tasks in canonical order, stage B sees the very sequence one
//! task gives it (`tests_split.rs`).

use super::record::RecordSpan;
use super::rules::SimFeatures;
use crate::detect::stage::Message;
use crate::model::{stable_hash, ContentFingerprint, Pseudonym, ShortName, SmsVolume};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// One message of stage A to stage B: what stage B reads of the record, and what
/// stage A found at it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SimForward {
    /// The record's natural key (operator, SIM, interval).
    pub(super) operator: ShortName,
    #[serde(with = "packed_sim")]
    pub(super) sim: Pseudonym,
    pub(super) window_start_ms: i64,
    pub(super) window_secs: u32,
    pub(super) found: Found,
    /// Of a hot SIM's record: its TAC, and (for farm grouping, [`Found::farm`]) its
    /// device and content fingerprints; `None` otherwise.
    pub(super) content: Option<Content>,
}

/// What stage B reads of a hot SIM's record besides its natural key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Content {
    imei_tac: Option<u32>,
    /// Only when [`Found::farm`]: `None` and empty otherwise.
    #[serde(with = "packed_sim::option")]
    device: Option<Pseudonym>,
    content_fps: Vec<ContentFingerprint>,
}

impl SimForward {
    /// The forward of `r`: its natural key, and of a hot SIM's record what stage B
    /// reads of it.
    pub(super) fn of(r: &SmsVolume, found: Found) -> SimForward {
        let content = found.hot.is_some().then(|| Content {
            imei_tac: r.imei_tac,
            device: if found.farm { r.device.clone() } else { None },
            content_fps: if found.farm {
                r.content_fps.clone()
            } else {
                Vec::new()
            },
        });
        SimForward {
            operator: r.operator.clone(),
            sim: r.sim.clone(),
            window_start_ms: r.window_start_ms,
            window_secs: r.window_secs,
            found,
            content,
        }
    }

    /// What stage B reads of the record.
    pub(super) fn seen(&self) -> Seen<'_> {
        let c = self.content.as_ref();
        Seen {
            operator: &self.operator,
            sim: &self.sim,
            window_start_ms: self.window_start_ms,
            window_secs: self.window_secs,
            imei_tac: c.and_then(|c| c.imei_tac),
            device: c.and_then(|c| c.device.as_deref()),
            content_fps: c.map_or(&[], |c| &c.content_fps),
        }
    }
}

/// What stage B reads of a record: borrowed from the record in one task, from the
/// forward across tasks. `imei_tac` is there for a hot SIM's record, `device` and
/// `content_fps` only when it may be in farm grouping ([`Found::farm`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seen<'a> {
    pub(super) operator: &'a str,
    pub(super) sim: &'a str,
    pub(super) window_start_ms: i64,
    pub(super) window_secs: u32,
    pub(super) imei_tac: Option<u32>,
    pub(super) device: Option<&'a str>,
    pub(super) content_fps: &'a [ContentFingerprint],
}

impl<'a> Seen<'a> {
    #[inline]
    pub(super) fn of(r: &'a SmsVolume) -> Seen<'a> {
        Seen {
            operator: &r.operator,
            sim: &r.sim,
            window_start_ms: r.window_start_ms,
            window_secs: r.window_secs,
            imei_tac: r.imei_tac,
            device: r.device.as_deref(),
            content_fps: &r.content_fps,
        }
    }

    /// The interval the record reports.
    #[inline]
    pub(super) fn span(&self) -> RecordSpan {
        RecordSpan::at(self.window_start_ms, self.window_secs)
    }
}

/// What stage A found at one record that stage B reads (in process, stage B takes it
/// beside the record it already has).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Found {
    /// The record is the SIM's population sample (its first in this medium window).
    pub(super) sample: bool,
    /// The SIM's count over the medium window after the record (the sample's value).
    pub(super) out_medium: u64,
    /// The record restarted the state of a SIM that was hot: its incident ended.
    pub(super) restarted: bool,
    /// The SIM showed a farm candidate's markers (stage A's test: the gateway marker
    /// for any device) at this or an earlier record of its state: stage B may offer
    /// the record to farm grouping, so its device and fingerprints cross.
    pub(super) farm: bool,
    /// The SIM is hot: what stage B reads of the record and the SIM's state.
    pub(super) hot: Option<Hot>,
}
/// What stage B reads of a hot SIM at one record.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Hot {
    /// The SIM's measurements after the record: population evidence and the gateway
    /// verdict not filled in; `active_share` and, when the pace is held, the held
    /// hours measured.
    pub(super) features: SimFeatures,
    /// The SIM could open a case at this record (`may_open_case`).
    pub(super) may_open: bool,
    /// 64-bit digest of the record's serving cell, if it names one.
    pub(super) cell_hash: Option<u64>,
    /// The state's flags after the record (stage B reads `ALLOWLISTED` and
    /// `FORWARDED`).
    pub(super) flags: u8,
    /// Records folded into the SIM's state, and its first and last sighting
    /// (seconds): the case's evidence.
    pub(super) records: u32,
    pub(super) first_seen_s: u32,
    pub(super) last_seen_s: u32,
    /// The SIM's pace now, SMS per hour (`evaluate::pace_per_hour`).
    pub(super) pace_per_hour: f64,
    /// The last TAC the SIM's state saw (0: none), for a record that carries none:
    /// stage B decides whether it is a gateway model.
    pub(super) last_tac: u32,
}

impl Message for SimForward {
    /// The record's end, as [`crate::model::Event::event_time_ms`].
    fn event_time_ms(&self) -> i64 {
        self.window_start_ms + i64::from(self.window_secs) * 1000
    }

    /// As [`crate::model::Event::tie_cmp`] of the records: by the natural key, which
    /// the pipeline keeps one record of, so two forwards that tie are copies of one.
    fn tie_cmp(&self, other: &Self) -> Ordering {
        (
            &self.operator,
            &self.sim,
            self.window_start_ms,
            self.window_secs,
        )
            .cmp(&(
                &other.operator,
                &other.sim,
                other.window_start_ms,
                other.window_secs,
            ))
    }

    /// By operator and SIM, as the record (stage B runs as one task today).
    fn route_key(&self) -> u64 {
        stable_hash(&[self.operator.as_bytes(), self.sim.as_bytes()])
    }
}

/// A SIM pseudonym on the wire: lower-case hex of 32 or 64 characters (the
/// simulator's and the contract's HMAC pseudonyms) as its 16 or 32 bytes, anything
/// else as text.
mod packed_sim {
    use crate::model::Pseudonym;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    enum Packed {
        Hex16([u8; 16]),
        Hex32([u8; 32]),
        Text(Pseudonym),
    }

    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }

    /// The bytes of lower-case hex `text` into `out` (its length twice `out`'s).
    fn unhex(text: &[u8], out: &mut [u8]) -> bool {
        for (o, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
            match (nibble(pair[0]), nibble(pair[1])) {
                (Some(h), Some(l)) => *o = h << 4 | l,
                _ => return false,
            }
        }
        true
    }

    fn hex(bytes: &[u8]) -> Pseudonym {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = Pseudonym::new();
        for b in bytes {
            s.push(char::from(DIGITS[usize::from(b >> 4)]));
            s.push(char::from(DIGITS[usize::from(b & 15)]));
        }
        s
    }

    pub(super) fn serialize<S: Serializer>(sim: &Pseudonym, s: S) -> Result<S::Ok, S::Error> {
        let text = sim.as_bytes();
        match text.len() {
            32 => {
                let mut b = [0u8; 16];
                if unhex(text, &mut b) {
                    return Packed::Hex16(b).serialize(s);
                }
            }
            64 => {
                let mut b = [0u8; 32];
                if unhex(text, &mut b) {
                    return Packed::Hex32(b).serialize(s);
                }
            }
            _ => {}
        }
        Packed::Text(sim.clone()).serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Pseudonym, D::Error> {
        Ok(match Packed::deserialize(d)? {
            Packed::Hex16(b) => hex(&b),
            Packed::Hex32(b) => hex(&b),
            Packed::Text(t) => t,
        })
    }

    /// An optional pseudonym (a device), packed the same way.
    pub(super) mod option {
        use crate::model::Pseudonym;
        use serde::{Deserialize, Deserializer, Serialize, Serializer};

        struct Ref<'a>(&'a Pseudonym);

        impl Serialize for Ref<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                super::serialize(self.0, s)
            }
        }

        struct Owned(Pseudonym);

        impl<'de> Deserialize<'de> for Owned {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                super::deserialize(d).map(Owned)
            }
        }

        pub(crate) fn serialize<S: Serializer>(
            v: &Option<Pseudonym>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            v.as_ref().map(Ref).serialize(s)
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Pseudonym>, D::Error> {
            Ok(Option::<Owned>::deserialize(d)?.map(|o| o.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forward(sim: &str) -> SimForward {
        SimForward {
            operator: "45201".into(),
            sim: sim.into(),
            window_start_ms: 1_793_581_200_000,
            window_secs: 60,
            found: Found {
                sample: true,
                out_medium: 7,
                restarted: false,
                farm: false,
                hot: None,
            },
            content: None,
        }
    }

    #[test]
    fn devices_survive_the_wire() {
        for device in [None, Some("96ed31ce3684361dd30949f1e06c2a9b"), Some("x")] {
            let mut f = forward("dfe69e35e3d34a46eb0adc4766cef09e");
            f.content = Some(Content {
                imei_tac: Some(35_332_510),
                device: device.map(Into::into),
                content_fps: vec![ContentFingerprint { fp: 9, n: 1 }],
            });
            let bytes = postcard::to_allocvec(&f).unwrap();
            assert_eq!(postcard::from_bytes::<SimForward>(&bytes).unwrap(), f);
        }
    }

    #[test]
    fn forwards_survive_the_wire_with_any_sim_and_samples_are_small() {
        for sim in [
            "dfe69e35e3d34a46eb0adc4766cef09e",
            &"0a".repeat(32),
            "DFE69E35E3D34A46EB0ADC4766CEF09E",
            "dfe69e35e3d34a46eb0adc4766cef09g",
            "abc",
            "",
        ] {
            let f = forward(sim);
            let bytes = postcard::to_allocvec(&f).unwrap();
            assert_eq!(
                postcard::from_bytes::<SimForward>(&bytes).unwrap(),
                f,
                "{sim}"
            );
        }
        // operator 6, SIM 17 (not 33), window start 6, interval 1, found 5, content 1
        let sample = postcard::to_allocvec(&forward("dfe69e35e3d34a46eb0adc4766cef09e")).unwrap();
        assert_eq!(sample.len(), 36);
    }
}
