//! Independent signs: when the reports of a candidate transmitter carry enough
//! *independent* kinds of evidence, one phone is enough to open its case.
//!
//! A low-power IMSI catcher or clone is heard by one passer-by every quarter of an
//! hour to two hours, so waiting for the second phone (`min_reporters`) costs that long.
//! Single-device noise is why a second phone is asked for; but a report whose
//! identity is implausible (a LAC or PLMN no registered cell around uses, or a
//! registered identity off its channel), whose channel is foreign too (no cell of the
//! network uses it nearby, or the real cell is on air on its own channel at the same
//! time), and which the transmitter rejected, downgraded or heard from next to the
//! phone while the site is kilometres away, needs several unrelated things to be wrong
//! at once for one faulty phone or stale inventory row to produce it.
//!
//! Each family below counts once, whatever number of its rules hold; the identity
//! family is required (protocol signs alone are ordinary network life: CS fallback,
//! roaming rejects), and `fakebts.single_phone_min_signs` families in all open the
//! case while fewer than `min_reporters` phones heard it in the evidence window (with
//! more, the ordinary threshold decides).

use super::emitter::Assessment;
use super::rules::Rule;
use crate::config::FakeBtsConfig;

/// The identity itself is implausible (required; first).
const IDENTITY: u16 =
    Rule::LacInconsistent.bit() | Rule::PlmnInconsistent.bit() | Rule::ArfcnInconsistent.bit();
/// The channel is foreign: unused by the network around, or the identity is on air
/// on its registered channel at the same time.
const CHANNEL: u16 = Rule::ArfcnUnusedNearby.bit() | Rule::DuplicateIdentity.bit();
/// A registered identity heard from a transmitter next to the phone, not its site.
const PLACEMENT: u16 =
    Rule::KnownCellFarFromSite.bit() | Rule::TaInconsistent.bit() | Rule::SignalTooStrong.bit();
/// The transmitter turned the phone away (reject) or down (downgrade).
const PROTOCOL: u16 = Rule::LuReject.bit() | Rule::RatDowngrade.bit();

/// (No family for the broadcast's configuration: legacy real cells run without
/// ciphering or announce few neighbours, and one heard far beyond its area has a LAC
/// and a channel of no cell around as well: with them it is not three signs.)
const FAMILIES: [u16; 4] = [IDENTITY, CHANNEL, PLACEMENT, PROTOCOL];

/// Whether `rule` is a consistent sign in `a`: it fired on at least
/// `single_phone_min_share` of the window's reports that could evaluate it (a LAC
/// unused around a few of the places a cell is heard from is the edge of its LAC
/// area, not a forged identity); `DUPLICATE_IDENTITY` while it holds.
fn consistent(a: &Assessment, rule: Rule, cfg: &FakeBtsConfig) -> bool {
    if rule == Rule::DuplicateIdentity {
        return a.holds & rule.bit() != 0;
    }
    let (c, n) = (a.counts[rule as usize], a.evaluated[rule as usize]);
    c >= 1 && c as f64 >= cfg.single_phone_min_share * n as f64
}

/// Whether the transmitter turned its phones away: a reject or downgrade on at least
/// `min_event_fraction` of the window's reports, and at least
/// `single_phone_min_share` of the phones heard over the catcher horizon rejected or
/// downgraded (a real cell missing from the inventory accepts nearly every phone and
/// sends the odd one to CS fallback; a catcher rejects them all).
fn turns_phones_away(a: &Assessment, cfg: &FakeBtsConfig) -> bool {
    let n = a.reports_in_window as f64;
    let events = a.counts[Rule::LuReject as usize] + a.counts[Rule::RatDowngrade as usize];
    events >= 1
        && events as f64 >= cfg.min_event_fraction * n
        && a.rejected_phones >= 1
        && a.rejected_phones as f64 >= cfg.single_phone_min_share * a.horizon_phones as f64
}

/// Whether a consistent rule of `family` holds in `a`.
fn family_holds(a: &Assessment, family: u16, cfg: &FakeBtsConfig) -> bool {
    Rule::ALL
        .into_iter()
        .any(|r| family & r.bit() != 0 && consistent(a, r, cfg))
}

/// Whether a registered identity whose row carries no channel (no report in the window
/// could evaluate `ARFCN_INCONSISTENT`) is off its registered channel all the same:
/// `DUPLICATE_IDENTITY` holds (the identity is on air on another channel at the same
/// time; stage A gives it only to the side that does not fit the site,
/// `duplicate_site_fit`) and `TA_INCONSISTENT` is a consistent sign (the timing
/// advance puts this transmitter next to its phones while the site is far; a signal
/// too strong alone does not: real cells are often heard stronger than the model
/// says). With a channel in the row the same reports give `ARFCN_INCONSISTENT`;
/// `fakebts.single_phone_duplicate_identity` turns this off.
fn off_unlisted_channel(a: &Assessment, cfg: &FakeBtsConfig) -> bool {
    cfg.single_phone_duplicate_identity
        && a.evaluated[Rule::ArfcnInconsistent as usize] == 0
        && a.holds & Rule::DuplicateIdentity.bit() != 0
        && consistent(a, Rule::TaInconsistent, cfg)
}

/// Bit per family of [`FAMILIES`] that holds in `a`.
fn family_bits(a: &Assessment, cfg: &FakeBtsConfig) -> u8 {
    let mut bits = 0u8;
    for (i, family) in FAMILIES.iter().enumerate() {
        let holds = match *family {
            PROTOCOL => turns_phones_away(a, cfg),
            IDENTITY => family_holds(a, IDENTITY, cfg) || off_unlisted_channel(a, cfg),
            f => family_holds(a, f, cfg),
        };
        if holds {
            bits |= 1 << i;
        }
    }
    bits
}

/// Bit of the protocol family (the last of [`FAMILIES`]) in [`family_bits`].
const PROTOCOL_BIT: u8 = 1 << 3;

/// Whether the transmitter refused location updates into a location area its network
/// does not have around: `LAC_INCONSISTENT` is a consistent sign, the protocol family
/// holds (in `bits`) and `reject`s (downgrades are CS fallback, ordinary) came on at
/// least `min_event_fraction` of the window's reports. A phone entering an unknown
/// LAC makes a location update that its network accepts and a catcher rejects.
fn refuses_unknown_area(a: &Assessment, bits: u8, cfg: &FakeBtsConfig) -> bool {
    let rejects = a.counts[Rule::LuReject as usize];
    bits & PROTOCOL_BIT != 0
        && rejects >= 1
        && rejects as f64 >= cfg.min_event_fraction * a.reports_in_window as f64
        && consistent(a, Rule::LacInconsistent, cfg)
}

/// How many independent sign families hold in `bits` (0 when the identity family,
/// bit 0, does not: without it no number of other signs counts); the protocol family
/// counts `single_phone_lac_reject_signs` when `refused` ([`refuses_unknown_area`]).
fn counted(bits: u8, refused: bool, cfg: &FakeBtsConfig) -> usize {
    if bits & 1 == 0 {
        return 0;
    }
    let extra = if refused {
        cfg.single_phone_lac_reject_signs.saturating_sub(1)
    } else {
        0
    };
    bits.count_ones() as usize + extra
}

/// The assessment that opens a case on independent signs when `a` does not cross the
/// threshold: `a` with the protocol events that counted as signs added to what holds
/// (so the case lists them), or `None` when too few families hold.
pub(crate) fn opens_on_signs(a: &Assessment, cfg: &FakeBtsConfig) -> Option<Assessment> {
    // with `min_reporters` phones the ordinary threshold decides
    if a.reporters == 0 || a.reporters >= cfg.min_reporters {
        return None;
    }
    let bits = family_bits(a, cfg);
    let refused = refuses_unknown_area(a, bits, cfg);
    if counted(bits, refused, cfg) < cfg.single_phone_min_signs {
        return None;
    }
    let mut opened = *a;
    if bits & PROTOCOL_BIT != 0 {
        for rule in [Rule::LuReject, Rule::RatDowngrade] {
            if a.counts[rule as usize] >= 1 && opened.holds & rule.bit() == 0 {
                opened.holds |= rule.bit();
                opened.points += rule.weight(cfg);
            }
        }
    }
    Some(opened)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn families(a: &Assessment, cfg: &FakeBtsConfig) -> usize {
        let bits = family_bits(a, cfg);
        counted(bits, refuses_unknown_area(a, bits, cfg), cfg)
    }

    /// One phone's `reports` reports: `state` rules fired (and were evaluated) on
    /// every one, `events` happened on one; `rejected` phones of `phones` over the horizon.
    fn assessment(state: &[Rule], events: &[Rule], reports: u64, rejected: usize) -> Assessment {
        let mut a = Assessment {
            reporters: 1,
            reports_in_window: reports,
            rejected_phones: rejected,
            horizon_phones: 1,
            ..Assessment::default()
        };
        for r in state {
            a.holds |= r.bit();
            a.counts[*r as usize] = reports;
            a.evaluated[*r as usize] = reports;
        }
        for r in events {
            a.counts[*r as usize] += 1;
        }
        a
    }

    #[test]
    fn a_duplicated_identity_without_a_listed_channel_is_the_identity_sign() {
        let mut cfg = FakeBtsConfig::default();
        // one report: the identity on air on another channel at the same time, the
        // transmitter next to the phone; the row lists no channel (ARFCN_INCONSISTENT
        // not evaluated)
        let a = assessment(&[Rule::DuplicateIdentity, Rule::TaInconsistent], &[], 1, 0);
        assert_eq!(families(&a, &cfg), 3);
        assert!(opens_on_signs(&a, &cfg).is_some());
        // a listed channel that agrees: the identity is not off it
        let mut listed = a;
        listed.evaluated[Rule::ArfcnInconsistent as usize] = 1;
        assert_eq!(families(&listed, &cfg), 0);
        // no timing advance against the site: nothing says which side is forged (a
        // real cell is often heard stronger than the model says)
        let b = assessment(&[Rule::DuplicateIdentity, Rule::SignalTooStrong], &[], 1, 0);
        assert_eq!(families(&b, &cfg), 0);
        cfg.single_phone_duplicate_identity = false;
        assert_eq!(families(&a, &cfg), 0);
    }

    #[test]
    fn a_catchers_single_reject_opens_a_case() {
        let cfg = FakeBtsConfig::default();
        let a = assessment(
            &[
                Rule::CellNotRegistered,
                Rule::LacInconsistent,
                Rule::ArfcnUnusedNearby,
            ],
            &[Rule::LuReject],
            1,
            1,
        );
        // identity, channel, and a location update into an unknown LAC refused (2)
        assert_eq!(families(&a, &cfg), 4);
        let opened = opens_on_signs(&a, &cfg).expect("opens");
        assert!(opened.holds & Rule::LuReject.bit() != 0);
        assert_eq!(opened.points, a.points + cfg.weights.lu_reject);
    }

    #[test]
    fn a_reject_into_an_unknown_lac_is_the_catchers_whole_signature() {
        let cfg = FakeBtsConfig::default();
        // an app's report (no channel, cipher or neighbours): an unknown cell id in a
        // LAC its network does not use around, the phone rejected
        let a = assessment(
            &[Rule::CellNotRegistered, Rule::LacInconsistent],
            &[Rule::LuReject],
            1,
            1,
        );
        assert_eq!(families(&a, &cfg), 3);
        let opened = opens_on_signs(&a, &cfg).expect("opens on the first phone");
        assert!(opened.holds & Rule::LuReject.bit() != 0);
        // 1 counts the reject once: the second phone decides
        let once = FakeBtsConfig {
            single_phone_lac_reject_signs: 1,
            ..FakeBtsConfig::default()
        };
        assert_eq!(families(&a, &once), 2);
        assert!(opens_on_signs(&a, &once).is_none());
    }

    #[test]
    fn a_downgrade_a_foreign_network_or_an_accepting_cell_is_no_refused_area() {
        let cfg = FakeBtsConfig::default();
        // a downgrade (CS fallback) on a cell in an unknown LAC
        let down = assessment(
            &[Rule::CellNotRegistered, Rule::LacInconsistent],
            &[Rule::RatDowngrade],
            1,
            1,
        );
        assert_eq!(families(&down, &cfg), 2);
        assert!(opens_on_signs(&down, &cfg).is_none());
        // a foreign network's cell (no cell of its PLMN around) rejecting a roamer
        let roam = assessment(
            &[Rule::CellNotRegistered, Rule::PlmnInconsistent],
            &[Rule::LuReject],
            1,
            1,
        );
        assert_eq!(families(&roam, &cfg), 2);
        assert!(opens_on_signs(&roam, &cfg).is_none());
        // a new cell in a LAC missing from the inventory that accepted four phones
        // before rejecting one: not every phone turned away
        let mut new_lac = assessment(
            &[Rule::CellNotRegistered, Rule::LacInconsistent],
            &[Rule::LuReject],
            1,
            1,
        );
        new_lac.horizon_phones = 5;
        assert_eq!(families(&new_lac, &cfg), 1);
        assert!(opens_on_signs(&new_lac, &cfg).is_none());
    }

    #[test]
    fn a_low_power_clone_heard_once_opens_a_case() {
        let cfg = FakeBtsConfig::default();
        let a = assessment(
            &[
                Rule::ArfcnInconsistent,
                Rule::DuplicateIdentity,
                Rule::TaInconsistent,
                Rule::SignalTooStrong,
            ],
            &[],
            2,
            0,
        );
        assert_eq!(families(&a, &cfg), 3);
        assert!(opens_on_signs(&a, &cfg).is_some());
    }

    #[test]
    fn without_an_implausible_identity_no_sign_counts() {
        let cfg = FakeBtsConfig::default();
        // a new cell missing from the inventory (LAC of its area) without ciphering,
        // few neighbours, a channel unused nearby, and one roaming reject
        let a = assessment(
            &[
                Rule::CellNotRegistered,
                Rule::ArfcnUnusedNearby,
                Rule::NullCipher,
                Rule::NoNeighbours,
            ],
            &[Rule::LuReject],
            1,
            1,
        );
        assert_eq!(families(&a, &cfg), 0);
        assert!(opens_on_signs(&a, &cfg).is_none());
        // a stale channel in the inventory: off its channel, nothing else
        let a = assessment(&[Rule::ArfcnInconsistent], &[], 3, 0);
        assert_eq!(families(&a, &cfg), 1);
        assert!(opens_on_signs(&a, &cfg).is_none());
    }

    #[test]
    fn a_cell_at_the_edge_of_its_lac_that_accepts_most_phones_is_no_catcher() {
        let cfg = FakeBtsConfig::default();
        // a new cell heard by ten phones: its LAC unused around 4 of its 10 reports,
        // its channel unused nearby, one phone sent to CS fallback
        let mut a = assessment(
            &[Rule::CellNotRegistered, Rule::ArfcnUnusedNearby],
            &[Rule::RatDowngrade, Rule::RatDowngrade],
            10,
            1,
        );
        a.reporters = 10;
        a.horizon_phones = 10;
        a.counts[Rule::LacInconsistent as usize] = 4;
        a.evaluated[Rule::LacInconsistent as usize] = 10;
        a.holds |= Rule::LacInconsistent.bit();
        assert_eq!(families(&a, &cfg), 0, "the LAC sign is not consistent");
        // even with the LAC unused around every report, one phone in ten turned
        // down is no catcher's protocol
        a.counts[Rule::LacInconsistent as usize] = 10;
        assert_eq!(families(&a, &cfg), 2);
        assert!(opens_on_signs(&a, &cfg).is_none());
        // every phone turned away is three signs (then REJECTS_EVERY_PHONE decides:
        // the path is for fewer than `min_reporters` phones)
        a.rejected_phones = 9;
        assert_eq!(families(&a, &cfg), 3);
        assert!(opens_on_signs(&a, &cfg).is_none());
        a.reporters = 1;
        assert!(opens_on_signs(&a, &cfg).is_some());
    }

    #[test]
    fn a_legacy_cell_heard_far_from_its_area_is_not_three_signs() {
        let cfg = FakeBtsConfig::default();
        // missing from the inventory, heard beyond its area (its LAC and channel used
        // by no cell around), no neighbours announced, no phone rejected
        let a = assessment(
            &[
                Rule::CellNotRegistered,
                Rule::LacInconsistent,
                Rule::ArfcnUnusedNearby,
                Rule::NoNeighbours,
                Rule::NullCipher,
            ],
            &[],
            3,
            0,
        );
        assert_eq!(families(&a, &cfg), 2);
        assert!(opens_on_signs(&a, &cfg).is_none());
    }

    #[test]
    fn a_rare_event_among_many_reports_is_not_a_sign_and_five_turns_it_off() {
        let cfg = FakeBtsConfig::default();
        // one reject among ten reports (below min_event_fraction 0.2)
        let a = assessment(
            &[Rule::LacInconsistent, Rule::ArfcnUnusedNearby],
            &[Rule::LuReject],
            10,
            1,
        );
        assert_eq!(families(&a, &cfg), 2);
        assert!(opens_on_signs(&a, &cfg).is_none());
        let strict = FakeBtsConfig {
            single_phone_min_signs: 5,
            ..FakeBtsConfig::default()
        };
        let all = assessment(
            &[
                Rule::ArfcnInconsistent,
                Rule::DuplicateIdentity,
                Rule::TaInconsistent,
                Rule::NullCipher,
            ],
            &[Rule::LuReject],
            1,
            1,
        );
        assert_eq!(families(&all, &strict), 4, "no ciphering is no family");
        assert!(opens_on_signs(&all, &strict).is_none());
        assert!(opens_on_signs(&all, &cfg).is_some());
        // two phones in the window: the ordinary threshold decides
        let two = Assessment {
            reporters: 2,
            ..all
        };
        assert!(opens_on_signs(&two, &cfg).is_none());
    }
}
