//! A transmitter's radio signature beyond its identity (technology, network, channel,
//! PCI/BSIC, missing encryption, few neighbours): whether two reports can come from the
//! same radio, and whether a transmitter may have switched to another identity.
//!
//! Every field but the technology and network may be absent from a report (the
//! contract makes `arfcn`, `pci`, `cipher` and `neighbors` optional; a phone's radio
//! API gives an app none of them). An absent field is **unknown**, never "no": it
//! agrees with anything, and a transmitter learns each field from the first report
//! that carries it: one heard by probes with a null cipher and by apps without the
//! field is one transmitter, known to run without ciphering.

use super::rules::{ReportCheck, Rule};
use crate::model::CellMeasurement;

/// Two optional fields agree unless both are known and differ (an absent field is
/// unknown, never a disagreement).
pub(super) fn agree<T: PartialEq>(a: Option<T>, b: Option<T>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

/// A broadcast flag (no ciphering, few neighbours) as far as the reports tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Flag {
    /// No report carried the field the flag is read from.
    #[default]
    Unknown,
    /// Known not to hold (or, on a registered cell heard in place, its configuration).
    No,
    /// Known to hold.
    Yes,
}

impl Flag {
    /// The flag of `rule` in a report's check: unknown when the report could not
    /// evaluate the rule (the field was absent).
    pub(crate) fn of(check: &ReportCheck, rule: Rule) -> Flag {
        if check.has(rule) {
            Flag::Yes
        } else if check.evaluated & rule.bit() != 0 {
            Flag::No
        } else {
            Flag::Unknown
        }
    }

    pub(crate) fn yes(self) -> bool {
        self == Flag::Yes
    }

    /// Agree unless both are known and differ.
    pub(crate) fn agrees(self, other: Flag) -> bool {
        self == Flag::Unknown || other == Flag::Unknown || self == other
    }

    /// What a transmitter knows after a report with `other`: the first known value
    /// (as the channel and PCI/BSIC; a known flag is never forgotten for an unknown).
    fn learn(self, other: Flag) -> Flag {
        if self == Flag::Unknown {
            other
        } else {
            self
        }
    }
}

/// What a transmitter's broadcasts look like beyond its identity: used to tell
/// whether two identities can come from the same radio (a blaster keeps its channel,
/// BSIC/PCI, PLMN and its missing encryption when it hops LAC/CID).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Signature {
    pub(crate) rat: crate::model::Rat,
    pub(crate) mcc: u16,
    pub(crate) mnc: u16,
    pub(crate) arfcn: Option<u32>,
    pub(crate) pci: Option<u16>,
    pub(crate) null_cipher: Flag,
    pub(crate) few_neighbours: Flag,
}

impl Signature {
    /// The signature of a report, its broadcast flags as the rules kept them (a
    /// registered cell heard in place keeps neither: that is its configuration; a
    /// report without `cipher` or `neighbors` leaves that flag unknown).
    pub(crate) fn of(m: &CellMeasurement, check: &ReportCheck) -> Self {
        Signature {
            rat: m.rat,
            mcc: m.cell.mcc,
            mnc: m.cell.mnc,
            arfcn: m.arfcn,
            pci: m.pci,
            null_cipher: Flag::of(check, Rule::NullCipher),
            few_neighbours: Flag::of(check, Rule::NoNeighbours),
        }
    }

    /// Only forged-looking broadcasts are linked across identities: a legitimate cell
    /// never changes identity, so clean signatures stay one identity per emitter.
    /// Known to be forged-looking: a null cipher or few neighbours seen.
    pub(crate) fn suspicious(&self) -> bool {
        self.null_cipher.yes() || self.few_neighbours.yes()
    }

    /// Forged-looking, or not known not to be: a flag is still unknown (no report
    /// carried the field). A transmitter whose case opened on other forged signs and
    /// whose flags are unknown is one, and so is a candidate about to open one.
    pub(crate) fn may_be_forged(&self) -> bool {
        self.suspicious() || self.some_unknown()
    }

    /// A broadcast flag no report told yet.
    fn some_unknown(&self) -> bool {
        self.null_cipher == Flag::Unknown || self.few_neighbours == Flag::Unknown
    }

    /// Whether a report with this signature (its check `check`) may be a forged
    /// broadcast's next identity: forged-looking, or with a flag unknown and an
    /// identity that is not a registered cell heard in place on its channel (one of
    /// its own, a registered one on another channel, or one heard far from its site
    /// from nearby). A registered cell heard in place would drop both flags as its
    /// configuration anyway; unknown flags on it say nothing.
    pub(crate) fn may_link(&self, check: &ReportCheck) -> bool {
        if self.suspicious() {
            return true;
        }
        self.some_unknown()
            && (!check.registered
                || check.has(Rule::ArfcnInconsistent)
                || check.has(Rule::KnownCellFarFromSite))
    }

    /// Same radio as far as the reports can tell (unknown fields do not disagree).
    pub(crate) fn compatible(&self, other: &Signature) -> bool {
        self.rat == other.rat
            && self.mcc == other.mcc
            && self.mnc == other.mnc
            && agree(self.arfcn, other.arfcn)
            && agree(self.pci, other.pci)
            && self.null_cipher.agrees(other.null_cipher)
            && self.few_neighbours.agrees(other.few_neighbours)
    }

    /// Whether a transmitter with this signature may have switched to an identity
    /// broadcast as `other`: the same technology and network and the same (missing)
    /// encryption, as far as known. Channel, PCI/BSIC and neighbour list are not
    /// compared: a blaster cloning real cells copies theirs with each identity.
    pub(crate) fn linkable(&self, other: &Signature) -> bool {
        self.rat == other.rat
            && self.mcc == other.mcc
            && self.mnc == other.mnc
            && self.null_cipher.agrees(other.null_cipher)
    }

    /// Learn what a report (or an absorbed candidate) of this transmitter tells: each
    /// field it did not know yet, from the first that carries it. Returns whether the
    /// signature became forged-looking.
    pub(crate) fn learn(&mut self, other: &Signature) -> bool {
        let was = self.suspicious();
        self.arfcn = self.arfcn.or(other.arfcn);
        self.pci = self.pci.or(other.pci);
        self.null_cipher = self.null_cipher.learn(other.null_cipher);
        self.few_neighbours = self.few_neighbours.learn(other.few_neighbours);
        !was && self.suspicious()
    }
}
