//! `[fakebts.weights]`: the points each fake-BTS rule adds to a candidate
//! transmitter's score when it holds.

use super::check::{non_negative, Problems};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Points of each rule for a candidate transmitter (additive score, as in EFF
/// Crocodile Hunter and SnoopSnitch); each must be 0 or more.
/// Defaults: a forged broadcast (null cipher, identity on a foreign channel or on two)
/// and a placement the registered cell cannot explain (beyond reach, timing advance)
/// weigh 3; protocol events a rogue cell provokes (downgrade, reject, SMS) and a
/// missing neighbour list 2; plain inventory mismatches 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RuleWeights {
    /// `CELL_NOT_REGISTERED`: the identity is not in the inventory.
    pub(crate) cell_not_registered: f64,
    /// `BEYOND_REACH`: a registered identity heard farther from its site than its reach.
    pub(crate) beyond_reach: f64,
    /// `SIGNAL_TOO_STRONG`: signal stronger than the path-loss model allows for the
    /// registered site.
    pub(crate) signal_too_strong: f64,
    /// `TA_INCONSISTENT`: timing advance incompatible with the distance to the
    /// registered site.
    pub(crate) ta_inconsistent: f64,
    /// `PLMN_INCONSISTENT`: no registered cell of this network (PLMN) around the
    /// reporter.
    pub(crate) plmn_inconsistent: f64,
    /// `LAC_INCONSISTENT`: no registered cell of this PLMN uses this LAC/TAC around the
    /// reporter, or the cell id is registered under another one (TAC hopping).
    pub(crate) lac_inconsistent: f64,
    /// `ARFCN_UNUSED_NEARBY`: no registered cell of this PLMN and technology uses this
    /// channel around the reporter.
    pub(crate) arfcn_unused_nearby: f64,
    /// `ARFCN_INCONSISTENT`: a registered identity broadcast on a channel other than its
    /// registered one (a forged broadcast).
    pub(crate) arfcn_inconsistent: f64,
    /// `DUPLICATE_IDENTITY`: the same identity heard on two channels (a forged
    /// broadcast).
    pub(crate) duplicate_identity: f64,
    /// `NO_NEIGHBOURS`: the cell announces at most `fakebts.max_neighbours_suspicious`
    /// neighbours (a forged broadcast).
    pub(crate) no_neighbours: f64,
    /// `NULL_CIPHER`: the cell turned encryption off (A5/0, EEA0; a forged broadcast).
    pub(crate) null_cipher: f64,
    /// `RAT_DOWNGRADE`: the phone was pushed down to an older technology (e.g. LTE to
    /// GSM).
    pub(crate) rat_downgrade: f64,
    /// `LU_REJECT`: a location or tracking area update was rejected.
    pub(crate) lu_reject: f64,
    /// `SMS_WHILE_CAMPED`: an SMS arrived while the phone was camped on the suspect
    /// cell (SMS blaster).
    pub(crate) sms_while_camped: f64,
    /// `KNOWN_CELL_FAR_FROM_SITE`: a registered identity heard far beyond its site from
    /// a transmitter near the reporter (short timing advance or too strong a signal):
    /// a clone, or an inventory row at the wrong place. Not a forged sign on its own.
    pub(crate) known_cell_far_from_site: f64,
    /// `REJECTS_EVERY_PHONE`: the transmitter rejected or downgraded nearly every phone
    /// that reported it over the catcher horizon (an IMSI catcher; a forged sign).
    pub(crate) rejects_every_phone: f64,
    /// `CLONES_DISTANT_CELLS`: one transmitter broadcast, one after the other, at least
    /// `fakebts.far_clone_min_identities` registered identities, each heard from next
    /// to the phones kilometres from its own site (a cloning blaster; a forged sign).
    pub(crate) clones_distant_cells: f64,
}

impl Default for RuleWeights {
    fn default() -> Self {
        RuleWeights {
            cell_not_registered: 1.0,
            beyond_reach: 3.0,
            signal_too_strong: 2.0,
            ta_inconsistent: 3.0,
            plmn_inconsistent: 1.0,
            lac_inconsistent: 1.0,
            arfcn_unused_nearby: 1.0,
            arfcn_inconsistent: 3.0,
            duplicate_identity: 3.0,
            no_neighbours: 2.0,
            null_cipher: 3.0,
            rat_downgrade: 2.0,
            lu_reject: 2.0,
            sms_while_camped: 2.0,
            known_cell_far_from_site: 1.0,
            rejects_every_phone: 3.0,
            clones_distant_cells: 3.0,
        }
    }
}

impl RuleWeights {
    /// `(key, points)` of every rule, in declaration order, then the transmitter's
    /// own signs.
    fn by_key(&self) -> [(&'static str, f64); 17] {
        [
            ("cell_not_registered", self.cell_not_registered),
            ("beyond_reach", self.beyond_reach),
            ("signal_too_strong", self.signal_too_strong),
            ("ta_inconsistent", self.ta_inconsistent),
            ("plmn_inconsistent", self.plmn_inconsistent),
            ("lac_inconsistent", self.lac_inconsistent),
            ("arfcn_unused_nearby", self.arfcn_unused_nearby),
            ("arfcn_inconsistent", self.arfcn_inconsistent),
            ("duplicate_identity", self.duplicate_identity),
            ("no_neighbours", self.no_neighbours),
            ("null_cipher", self.null_cipher),
            ("rat_downgrade", self.rat_downgrade),
            ("lu_reject", self.lu_reject),
            ("sms_while_camped", self.sms_while_camped),
            ("known_cell_far_from_site", self.known_cell_far_from_site),
            ("rejects_every_phone", self.rejects_every_phone),
            ("clones_distant_cells", self.clones_distant_cells),
        ]
    }

    /// Points are never negative.
    pub(crate) fn check(&self, p: &mut Problems) {
        for (key, points) in self.by_key() {
            non_negative(p, &format!("fakebts.weights.{key}"), points);
        }
    }
}
