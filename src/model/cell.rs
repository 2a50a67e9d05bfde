//! Cell identities: radio technology and the `MCC-MNC-LAC-CID` key.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Radio access technology of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Rat {
    #[serde(rename = "GSM")]
    Gsm,
    #[serde(rename = "UMTS")]
    Umts,
    #[serde(rename = "LTE")]
    Lte,
    #[serde(rename = "NR")]
    Nr,
}

impl Rat {
    pub fn parse(s: &str) -> Option<Rat> {
        match s {
            "GSM" => Some(Rat::Gsm),
            "UMTS" => Some(Rat::Umts),
            "LTE" => Some(Rat::Lte),
            "NR" => Some(Rat::Nr),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Rat::Gsm => "GSM",
            Rat::Umts => "UMTS",
            Rat::Lte => "LTE",
            Rat::Nr => "NR",
        }
    }

    /// Largest cell id the technology can carry (CI 16 bit, UTRAN 28, ECI 28, NCI 36).
    pub fn max_cid(self) -> u64 {
        match self {
            Rat::Gsm => 0xFFFF,
            Rat::Umts | Rat::Lte => (1 << 28) - 1,
            Rat::Nr => (1 << 36) - 1,
        }
    }

    /// Largest LAC / TAC (16 bit, 24 bit for NR).
    pub fn max_lac(self) -> u32 {
        match self {
            Rat::Nr => (1 << 24) - 1,
            _ => 0xFFFF,
        }
    }
}

impl fmt::Display for Rat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The broadcast identity of a cell, `MCC-MNC-LAC-CID` (the inventory topic's key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CellKey {
    pub mcc: u16,
    pub mnc: u16,
    pub lac: u32,
    pub cid: u64,
}

impl CellKey {
    /// Parse `MCC-MNC-LAC-CID` (decimal parts).
    pub fn parse(s: &str) -> Option<CellKey> {
        let mut it = s.split('-');
        let mcc = it.next()?.parse().ok()?;
        let mnc = it.next()?.parse().ok()?;
        let lac = it.next()?.parse().ok()?;
        let cid = it.next()?.parse().ok()?;
        if it.next().is_some() || mcc > 999 || mnc > 999 {
            return None;
        }
        Some(CellKey { mcc, mnc, lac, cid })
    }
}

impl fmt::Display for CellKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}-{}", self.mcc, self.mnc, self.lac, self.cid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_key_round_trip() {
        let k = CellKey::parse("452-4-10231-56789").unwrap();
        assert_eq!(k.to_string(), "452-4-10231-56789");
        assert!(CellKey::parse("452-4-10231").is_none());
        assert!(CellKey::parse("452-4-x-1").is_none());
    }
}
