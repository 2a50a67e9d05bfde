//! Cell identities: radio technology and the `MCC-MNC-LAC-CID` key.

use super::names::{parse_name, UnknownName};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

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
    pub(crate) const ALL: [Rat; 4] = [Rat::Gsm, Rat::Umts, Rat::Lte, Rat::Nr];

    /// The contract name (`LTE`), as serde writes it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Rat::Gsm => "GSM",
            Rat::Umts => "UMTS",
            Rat::Lte => "LTE",
            Rat::Nr => "NR",
        }
    }

    /// Largest cell id the technology can carry (CI 16 bit, UTRAN 28, ECI 28, NCI 36).
    pub(crate) fn max_cid(self) -> u64 {
        match self {
            Rat::Gsm => 0xFFFF,
            Rat::Umts | Rat::Lte => (1 << 28) - 1,
            Rat::Nr => (1 << 36) - 1,
        }
    }

    /// Largest LAC / TAC (16 bit, 24 bit for NR).
    pub(crate) fn max_lac(self) -> u32 {
        match self {
            Rat::Nr => (1 << 24) - 1,
            _ => 0xFFFF,
        }
    }
}

impl Rat {
    /// The technology a feed names: the contract's names in any letter case, and the
    /// generation and radio names apps and probe exports use for them (`2G`, `3G`,
    /// `WCDMA`, `4G`, `5G`). `None` for anything else.
    pub(crate) fn from_feed(text: &str) -> Option<Rat> {
        if let Ok(rat) = text.parse() {
            return Some(rat);
        }
        match text.trim().to_ascii_uppercase().as_str() {
            "GSM" | "2G" => Some(Rat::Gsm),
            "UMTS" | "3G" | "WCDMA" => Some(Rat::Umts),
            "LTE" | "4G" => Some(Rat::Lte),
            "NR" | "5G" => Some(Rat::Nr),
            _ => None,
        }
    }
}

impl FromStr for Rat {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, UnknownName> {
        parse_name(s, &Self::ALL, Self::as_str, "radio technology")
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
    /// Parse `MCC-MNC-LAC-CID` (decimal parts); [`FromStr`] without the error.
    pub(crate) fn parse(s: &str) -> Option<CellKey> {
        s.parse().ok()
    }
}

/// Text that is not an `MCC-MNC-LAC-CID` cell key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a cell key; use MCC-MNC-LAC-CID with decimal parts, e.g. 452-4-10231-5501")]
pub struct BadCellKey(pub(crate) String);

impl FromStr for CellKey {
    type Err = BadCellKey;

    fn from_str(s: &str) -> Result<Self, BadCellKey> {
        let parts = || -> Option<CellKey> {
            let mut it = s.split('-');
            let mcc = it.next()?.parse().ok()?;
            let mnc = it.next()?.parse().ok()?;
            let lac = it.next()?.parse().ok()?;
            let cid = it.next()?.parse().ok()?;
            if it.next().is_some() || mcc > 999 || mnc > 999 {
                return None;
            }
            Some(CellKey { mcc, mnc, lac, cid })
        };
        parts().ok_or_else(|| BadCellKey(s.to_string()))
    }
}

impl fmt::Display for CellKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        KeyText([self.mcc.into(), self.mnc.into(), self.lac.into(), self.cid]).fmt(f)
    }
}

/// `MCC-MNC-LAC-CID` of four parts that need not fit a [`CellKey`] (an inventory row
/// before its checks, a record's JSON numbers): the one place the key's text is made.
pub(crate) struct KeyText<T>(pub(crate) [T; 4]);

impl<T: fmt::Display> fmt::Display for KeyText<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [mcc, mnc, lac, cid] = &self.0;
        write!(f, "{mcc}-{mnc}-{lac}-{cid}")
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
        assert_eq!("452-4-10231-56789".parse::<CellKey>(), Ok(k));
        assert!("1000-1-1-1"
            .parse::<CellKey>()
            .unwrap_err()
            .to_string()
            .contains("MCC-MNC-LAC-CID"));
        assert_eq!(KeyText([452u64, 4, 70_000, 1]).to_string(), "452-4-70000-1");
    }
}
