//! Registered identities heard both with and without ciphering on their own channel.
//!
//! A legacy 2G cell that runs without ciphering does so for every phone, and one that
//! ciphers does so for every phone: no ciphering on a registered identity heard in
//! place is the cell's configuration and does not count ([`super::rules`]). A rogue
//! cell that copies a nearby real cell's whole identity (channel and neighbour list
//! included) and turns ciphering off is heard in place too; what betrays it is that
//! the same identity is heard ciphered by other phones at the same time. Such an
//! unciphered report is the forged side of a duplicated identity: its `NULL_CIPHER`
//! counts and its transmitter holds `DUPLICATE_IDENTITY`.
//!
//! Only identities once heard unciphered in place are remembered, so the common path
//! (a ciphered report of a cell never heard otherwise) is one lookup in an almost
//! always small map.

use super::identity::IdKey;
use super::index::FastMap;
use super::rules::{ReportCheck, Rule};
use crate::model::CellMeasurement;

/// At most this many identities are remembered (the least recently heard unciphered
/// make room); a rogue clone is one of a handful.
const MAX_IDENTITIES: usize = 4_096;

/// When an identity was last heard ciphered and unciphered on its channel.
#[derive(Debug, Clone, Copy)]
struct Heard {
    ciphered_ms: Option<i64>,
    unciphered_ms: i64,
}

/// Per registered identity heard unciphered in place: when it was last heard each way.
#[derive(Debug, Default)]
pub(crate) struct CipherConflicts {
    heard: FastMap<IdKey, Heard>,
}

impl CipherConflicts {
    /// Note a report of a registered identity on its registered channel (its cipher
    /// known). For an unciphered one heard ciphered within `window_ms` before, the
    /// forged side of a duplicated identity: its `NULL_CIPHER` is restored in `check`
    /// and the event time of the ciphered report is returned.
    #[inline]
    pub(crate) fn note(
        &mut self,
        key: IdKey,
        m: &CellMeasurement,
        check: &mut ReportCheck,
        window_ms: i64,
    ) -> Option<i64> {
        if !m.null_cipher() {
            if self.heard.is_empty() {
                return None;
            }
            if let Some(h) = self.heard.get_mut(&key) {
                h.ciphered_ms = Some(h.ciphered_ms.map_or(m.ts_ms, |t| t.max(m.ts_ms)));
            }
            return None;
        }
        if self.heard.len() >= MAX_IDENTITIES && !self.heard.contains_key(&key) {
            self.evict_oldest();
        }
        let h = self.heard.entry(key).or_insert(Heard {
            ciphered_ms: None,
            unciphered_ms: m.ts_ms,
        });
        h.unciphered_ms = h.unciphered_ms.max(m.ts_ms);
        let ciphered = h
            .ciphered_ms
            .filter(|&t| (m.ts_ms - t).abs() <= window_ms)?;
        check.set(Rule::NullCipher, 1.0, 1.0);
        Some(ciphered)
    }

    /// Forget identities not heard unciphered since `before_ms`.
    pub(crate) fn evict(&mut self, before_ms: i64) {
        self.heard.retain(|_, h| h.unciphered_ms >= before_ms);
    }

    fn evict_oldest(&mut self) {
        if let Some(key) = self
            .heard
            .iter()
            .min_by_key(|(k, h)| (h.unciphered_ms, **k))
            .map(|(k, _)| *k)
        {
            self.heard.remove(&key);
        }
    }
}
