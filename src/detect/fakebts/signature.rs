//! A transmitter's radio signature beyond its identity (technology, network, channel,
//! PCI/BSIC, missing encryption, few neighbours): whether two reports can come from the
//! same radio, and whether a transmitter may have switched to another identity.

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
    pub(crate) null_cipher: bool,
    pub(crate) few_neighbours: bool,
}

impl Signature {
    /// The signature of a report, its broadcast flags as the rules kept them (a
    /// registered cell heard in place keeps neither: that is its configuration).
    pub(crate) fn of(m: &CellMeasurement, check: &ReportCheck) -> Self {
        Signature {
            rat: m.rat,
            mcc: m.cell.mcc,
            mnc: m.cell.mnc,
            arfcn: m.arfcn,
            pci: m.pci,
            null_cipher: check.has(Rule::NullCipher),
            few_neighbours: check.has(Rule::NoNeighbours),
        }
    }

    /// Only forged-looking broadcasts are linked across identities: a legitimate cell
    /// never changes identity, so clean signatures stay one identity per emitter.
    pub(crate) fn suspicious(&self) -> bool {
        self.null_cipher || self.few_neighbours
    }

    /// Same radio as far as the reports can tell (unknown fields do not disagree).
    pub(crate) fn compatible(&self, other: &Signature) -> bool {
        self.rat == other.rat
            && self.mcc == other.mcc
            && self.mnc == other.mnc
            && agree(self.arfcn, other.arfcn)
            && agree(self.pci, other.pci)
            && self.null_cipher == other.null_cipher
            && self.few_neighbours == other.few_neighbours
    }

    /// Whether a transmitter with this signature may have switched to an identity
    /// broadcast as `other`: the same technology and network and the same (missing)
    /// encryption. Channel, PCI/BSIC and neighbour list are not compared: a blaster
    /// cloning real cells copies theirs with each identity.
    pub(crate) fn linkable(&self, other: &Signature) -> bool {
        self.rat == other.rat
            && self.mcc == other.mcc
            && self.mnc == other.mnc
            && self.null_cipher == other.null_cipher
    }
}
