//! Compact keys for SIMs, devices and cells.
//!
//! Millions of SIMs are tracked at once, so the key of the per-SIM map must be small:
//! a pseudonym of up to 32 hex characters (the usual truncated HMAC) is packed into
//! 16 bytes next to an interned operator index; longer pseudonyms are boxed.
#![allow(clippy::manual_hash_one)]

use std::hash::{BuildHasher, Hash, Hasher};

/// Fast deterministic hasher for the detector's maps (same seed in every run, so
/// iteration order and therefore output never depends on process randomness).
pub(crate) type FastState = foldhash::fast::FixedState;
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, FastState>;

pub(crate) fn fast_map<K, V>() -> FastMap<K, V> {
    FastMap::with_hasher(FastState::default())
}

/// A 64-bit hash of a string (devices, cells): collisions are negligible at the
/// scales involved (2^-64 per pair) and only ever merge two groups of evidence.
pub(crate) fn hash64(parts: &[&[u8]]) -> u64 {
    let mut h = FastState::with_seed(0x6365_6c6c_7761_7463).build_hasher();
    for p in parts {
        h.write(p);
        h.write_u8(0xff);
    }
    h.finish()
}

/// Interned operator index.
pub(crate) type OpIdx = u16;

/// Which SIM: operator and pseudonym, packed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum SimKey {
    /// Pseudonym of at most 32 lower-case hex characters, two per byte.
    Packed {
        op: OpIdx,
        len: u8,
        nibbles: [u8; 16],
    },
    /// Anything longer (or not lower-case hex) kept as text.
    Text { op: OpIdx, sim: Box<str> },
}

/// Value of a lower-case hex digit, `INVALID` otherwise (a table: this runs for every record).
const INVALID: u8 = 0xff;
const NIBBLE: [u8; 256] = {
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

impl SimKey {
    pub(crate) fn new(op: OpIdx, sim: &str) -> SimKey {
        let bytes = sim.as_bytes();
        if bytes.len() <= 32 {
            let mut nibbles = [0u8; 16];
            let mut bad = 0u8;
            let mut pairs = bytes.chunks_exact(2);
            for (out, pair) in nibbles.iter_mut().zip(&mut pairs) {
                let (hi, lo) = (NIBBLE[usize::from(pair[0])], NIBBLE[usize::from(pair[1])]);
                bad |= hi | lo;
                *out = (hi << 4) | (lo & 0x0f);
            }
            if let [last] = pairs.remainder() {
                let hi = NIBBLE[usize::from(*last)];
                bad |= hi;
                nibbles[bytes.len() / 2] = hi << 4;
            }
            if bad & 0xf0 == 0 {
                return SimKey::Packed {
                    op,
                    len: bytes.len() as u8,
                    nibbles,
                };
            }
        }
        SimKey::Text {
            op,
            sim: sim.into(),
        }
    }

    pub(crate) fn op(&self) -> OpIdx {
        match self {
            SimKey::Packed { op, .. } | SimKey::Text { op, .. } => *op,
        }
    }

    /// The pseudonym as it arrived.
    pub(crate) fn sim(&self) -> String {
        match self {
            SimKey::Packed { len, nibbles, .. } => (0..usize::from(*len))
                .map(|i| {
                    let b = nibbles[i / 2];
                    let n = if i % 2 == 0 { b >> 4 } else { b & 0x0f };
                    char::from(HEX[usize::from(n)])
                })
                .collect(),
            SimKey::Text { sim, .. } => sim.to_string(),
        }
    }

    /// Heap bytes owned by this key (for the memory estimate).
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            SimKey::Packed { .. } => 0,
            SimKey::Text { sim, .. } => sim.len(),
        }
    }
}

/// Operator codes seen so far, interned to small indexes (a country has a handful).
///
/// Looked up for every record: codes of up to 7 bytes (MCC+MNC are 5 or 6 digits) are
/// compared as one integer instead of through `memcmp`.
#[derive(Debug, Default, Clone)]
pub(crate) struct Operators {
    names: Vec<String>,
    /// `packed(name)` of each name, same order.
    packed: Vec<Option<u64>>,
}

/// A code of at most 7 bytes as one integer: its bytes, zero-padded, and its length in
/// the last byte (so "45204" and "45204\0" differ).
#[inline]
fn packed(name: &str) -> Option<u64> {
    let b = name.as_bytes();
    if b.len() > 7 {
        return None;
    }
    let mut buf = [0u8; 8];
    buf[..b.len()].copy_from_slice(b);
    buf[7] = b.len() as u8;
    Some(u64::from_le_bytes(buf))
}

impl Operators {
    pub(crate) fn intern(&mut self, name: &str) -> OpIdx {
        if let Some(i) = self.get(name) {
            return i;
        }
        self.names.push(name.to_string());
        self.packed.push(packed(name));
        (self.names.len() - 1) as OpIdx
    }

    #[inline]
    pub(crate) fn get(&self, name: &str) -> Option<OpIdx> {
        let i = match packed(name) {
            Some(p) => self.packed.iter().position(|&q| q == Some(p)),
            None => self.names.iter().position(|n| n == name),
        };
        i.map(|i| i as OpIdx)
    }

    pub(crate) fn name(&self, idx: OpIdx) -> &str {
        self.names
            .get(usize::from(idx))
            .map(String::as_str)
            .unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_keys_round_trip() {
        for s in [
            "9f86d081884c7d65",
            "9f86d081884c7d650",
            "0123456789abcdef0123456789abcdef",
        ] {
            let k = SimKey::new(1, s);
            assert!(matches!(k, SimKey::Packed { .. }), "{s}");
            assert_eq!(k.sim(), s);
            assert_eq!(k.op(), 1);
        }
        let long = "0123456789abcdef0123456789abcdef0";
        let k = SimKey::new(0, long);
        assert!(matches!(k, SimKey::Text { .. }));
        assert_eq!(k.sim(), long);
        // "0a" and "0a0" differ only by length
        assert_ne!(SimKey::new(0, "0a"), SimKey::new(0, "0a0"));
        // upper case and non-hex are kept as text, exactly
        for s in ["ABCDEF0123456789", "0123456789abcdeg", "0123-56789abcdef"] {
            let k = SimKey::new(2, s);
            assert!(matches!(k, SimKey::Text { .. }), "{s}");
            assert_eq!(k.sim(), s);
        }
        assert!(std::mem::size_of::<SimKey>() <= 24);
    }

    #[test]
    fn operators_intern() {
        let mut ops = Operators::default();
        assert_eq!(ops.intern("45204"), 0);
        assert_eq!(ops.intern("45201"), 1);
        assert_eq!(ops.intern("45204"), 0);
        assert_eq!(ops.name(1), "45201");
        // short, long and prefix-sharing codes stay distinct
        assert_eq!(ops.intern("4520"), 2);
        assert_eq!(ops.intern("452040"), 3);
        assert_eq!(ops.intern("45204\0"), 4);
        assert_eq!(ops.intern("452040123"), 5);
        assert_eq!(ops.intern("452040124"), 6);
        assert_eq!(ops.get("452040123"), Some(5));
        assert_eq!(ops.get("45204"), Some(0));
        assert_eq!(ops.get("4520"), Some(2));
        assert_eq!(ops.get(""), None);
    }
}
