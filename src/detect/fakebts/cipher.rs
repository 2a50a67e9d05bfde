//! Registered identities heard without ciphering in place: is that the cell's
//! configuration or a forgery?
//!
//! A legacy 2G cell that runs without ciphering does so for every phone, and one that
//! ciphers does so for every phone: no ciphering on a registered identity heard in
//! place is the cell's configuration and does not count ([`super::rules`]). Where the
//! inventory lists no channel for the identity, "in place" cannot say whether the
//! report is on the cell's own channel: it is unknown, not a match, and what the
//! identity's own reports show decides instead. Two things betray a rogue cell that
//! copies a nearby real cell's identity and turns ciphering off:
//!
//! - the same identity is heard ciphered by other phones at the same time: such an
//!   unciphered report is the forged side of a duplicated identity, its `NULL_CIPHER`
//!   counts and its transmitter holds `DUPLICATE_IDENTITY`;
//! - nearly every phone heard on it in place was forced down to 2G or rejected
//!   (`fakebts.forced_min_phones` phones or more, at least `catcher_min_share` of
//!   them, over `catcher_horizon_secs`): a real legacy cell serves 2G-only phones and
//!   the odd circuit-switched fallback, a clone drags down every phone it catches.
//!   The reports of those phones, and every unciphered one, hold
//!   `REJECTS_EVERY_PHONE` and keep their `NULL_CIPHER` (a report without the field
//!   takes the identity's: heard unciphered and not ciphered within
//!   `duplicate_window_secs`), so they reach a candidate transmitter.
//!
//! Only identities once heard unciphered, or with a downgrade or reject, in place are
//! remembered (at most [`MAX_IDENTITIES`], each with its last [`MAX_PHONES`] phones),
//! so the common path (a ciphered report of a cell never heard otherwise) is one
//! lookup in an almost always small map.

use super::identity::IdKey;
use super::index::FastMap;
use super::rules::{ReportCheck, Rule};
use crate::config::FakeBtsConfig;
use crate::model::{CellMeasurement, MeasurementEvent};

/// At most this many identities are remembered (the least recently heard make room);
/// a rogue clone is one of a handful.
const MAX_IDENTITIES: usize = 4_096;
/// At most this many phones per identity (the least recently heard make room):
/// enough to judge a share of `catcher_min_share` over `forced_min_phones`.
const MAX_PHONES: usize = 16;

/// What one identity was heard as in place.
#[derive(Debug, Clone)]
struct Heard {
    ciphered_ms: Option<i64>,
    unciphered_ms: Option<i64>,
    last_ms: i64,
    /// Phones heard on it in place: (pseudonym key, last report, downgraded or
    /// rejected), at most [`MAX_PHONES`].
    phones: Vec<(u64, i64, bool)>,
}

impl Heard {
    fn note_phone(&mut self, reporter: u64, ts_ms: i64, forced: bool) -> bool {
        if let Some(p) = self.phones.iter_mut().find(|p| p.0 == reporter) {
            p.1 = p.1.max(ts_ms);
            p.2 |= forced;
            return p.2;
        }
        if self.phones.len() >= MAX_PHONES {
            if let Some(i) = (0..self.phones.len()).min_by_key(|&i| self.phones[i].1) {
                self.phones.swap_remove(i);
            }
        }
        self.phones.push((reporter, ts_ms, forced));
        forced
    }

    /// Phones forced down or rejected, and all phones, heard since `after_ms`.
    fn forced_share(&self, after_ms: i64) -> (usize, usize) {
        self.phones
            .iter()
            .filter(|p| p.1 >= after_ms)
            .fold((0, 0), |(f, n), p| (f + usize::from(p.2), n + 1))
    }
}

/// Per registered identity heard unciphered or forcing phones down in place.
#[derive(Debug, Default)]
pub(crate) struct CipherConflicts {
    heard: FastMap<IdKey, Heard>,
}

impl CipherConflicts {
    /// Note a report of a registered identity heard in place whose configuration
    /// (`NULL_CIPHER`) the rules dropped, on its registered channel or with no
    /// channel to compare. Restores `NULL_CIPHER` in `check` and sets
    /// `REJECTS_EVERY_PHONE` as the module says; returns the event time of the
    /// ciphered report when this unciphered one duplicates it.
    #[inline]
    pub(crate) fn note(
        &mut self,
        key: IdKey,
        m: &CellMeasurement,
        reporter: impl FnOnce() -> u64,
        check: &mut ReportCheck,
        cfg: &FakeBtsConfig,
    ) -> Option<i64> {
        let unciphered = m.null_cipher();
        let forced = matches!(
            m.event,
            MeasurementEvent::RatDowngrade | MeasurementEvent::Reject
        );
        // heard from a transmitter next to the phone while the site is far: not in
        // place (only its ciphering is noted)
        let in_place = !check.has(Rule::KnownCellFarFromSite);
        if self.heard.is_empty() && !(in_place && (unciphered || forced)) {
            return None;
        }
        if !self.heard.contains_key(&key) {
            if !(in_place && (unciphered || forced)) {
                return None;
            }
            if self.heard.len() >= MAX_IDENTITIES {
                self.evict_oldest();
            }
        }
        let h = self.heard.entry(key).or_insert(Heard {
            ciphered_ms: None,
            unciphered_ms: None,
            last_ms: m.ts_ms,
            phones: Vec::new(),
        });
        h.last_ms = h.last_ms.max(m.ts_ms);
        let latest = |t: Option<i64>| Some(t.map_or(m.ts_ms, |t| t.max(m.ts_ms)));
        if unciphered {
            h.unciphered_ms = latest(h.unciphered_ms);
        } else if m.cipher.is_some() {
            h.ciphered_ms = latest(h.ciphered_ms);
        }
        if !in_place {
            return None;
        }
        let window_ms = cfg.duplicate_window_ms();
        let ciphered_recently = h.ciphered_ms.filter(|&t| (m.ts_ms - t).abs() <= window_ms);
        let phone_forced = h.note_phone(reporter(), m.ts_ms, forced);
        if unciphered && ciphered_recently.is_some() {
            check.set(Rule::NullCipher, 1.0, 1.0);
            return ciphered_recently;
        }
        // nearly every phone heard on it forced down or rejected
        let horizon_ms = cfg.catcher_horizon_ms();
        let heard_unciphered = h.unciphered_ms.is_some_and(|t| m.ts_ms - t <= horizon_ms);
        let (forced_phones, phones) = h.forced_share(m.ts_ms - horizon_ms);
        let turns_down = heard_unciphered
            && forced_phones >= cfg.forced_min_phones
            && forced_phones as f64 >= cfg.catcher_min_share * phones as f64;
        let without_cipher = unciphered || m.cipher.is_none();
        if turns_down && without_cipher && (unciphered || phone_forced) {
            check.set(
                Rule::RejectsEveryPhone,
                forced_phones as f64,
                cfg.forced_min_phones as f64,
            );
            if unciphered || ciphered_recently.is_none() {
                check.set(Rule::NullCipher, 1.0, 1.0);
            }
        }
        None
    }

    /// Forget identities neither heard unciphered nor forcing a phone down since
    /// `before_ms` (`catcher_horizon_secs`, or `duplicate_window_secs` if longer, ago).
    pub(crate) fn evict(&mut self, before_ms: i64) {
        self.heard.retain(|_, h| {
            h.unciphered_ms.is_some_and(|t| t >= before_ms)
                || h.phones.iter().any(|p| p.2 && p.1 >= before_ms)
        });
    }

    fn evict_oldest(&mut self) {
        if let Some(key) = self
            .heard
            .iter()
            .min_by_key(|(k, h)| (h.last_ms, **k))
            .map(|(k, _)| *k)
        {
            self.heard.remove(&key);
        }
    }
}
