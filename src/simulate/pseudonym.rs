//! Pseudonyms for simulated SIMs, devices and reporters: lower-case hex of
//! HMAC-SHA256 over a synthetic MSISDN / IMEI, with a fixed per-seed key, truncated
//! to 32 hex characters (docs/contract.md: pseudonyms are HMAC-SHA256 hex, >= 16 chars).

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Length of the simulated pseudonyms in hex characters.
pub(crate) const PSEUDONYM_HEX_LEN: usize = 32;

/// Keyed pseudonymizer, one per scenario.
#[derive(Clone)]
pub(crate) struct Pseudonymizer {
    mac: HmacSha256,
}

impl Pseudonymizer {
    /// The simulation key depends only on the seed, so a scenario is reproducible.
    pub(crate) fn for_seed(seed: u64) -> Self {
        let key = format!("cellwatch-simulation-key-v1-{seed}");
        let mac =
            HmacSha256::new_from_slice(key.as_bytes()).expect("hmac accepts keys of any length");
        Pseudonymizer { mac }
    }

    /// Pseudonym of an identifier (e.g. `"msisdn:84981234567"`).
    pub(crate) fn pseudonym(&self, identifier: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(identifier.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut out = String::with_capacity(PSEUDONYM_HEX_LEN);
        for b in digest.iter().take(PSEUDONYM_HEX_LEN / 2) {
            out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789abcdef"[usize::from(b & 0x0f)]));
        }
        out
    }

    /// Pseudonym of the synthetic MSISDN number `index` of an operator.
    pub(crate) fn sim(&self, operator_index: usize, index: usize) -> String {
        let prefix = ["90", "91", "98"][operator_index % 3];
        self.pseudonym(&format!("msisdn:84{prefix}{index:07}"))
    }

    /// Pseudonym of a synthetic IMEI built from a TAC and a serial number.
    pub(crate) fn imei(&self, tac: &str, serial: u32) -> String {
        self.pseudonym(&format!("imei:{}", synthetic_imei(tac, serial)))
    }
}

/// A 15-digit IMEI: TAC, 6-digit serial, Luhn check digit.
pub(crate) fn synthetic_imei(tac: &str, serial: u32) -> String {
    let body = format!("{tac}{:06}", serial % 1_000_000);
    let mut sum = 0u32;
    for (i, c) in body.bytes().enumerate() {
        let mut d = u32::from(c - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    format!("{body}{}", (10 - sum % 10) % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_stable_hex_and_pass_the_contract_check() {
        let p = Pseudonymizer::for_seed(7);
        let a = p.sim(2, 42);
        assert_eq!(a, Pseudonymizer::for_seed(7).sim(2, 42));
        assert_ne!(a, Pseudonymizer::for_seed(8).sim(2, 42));
        assert_eq!(a.len(), PSEUDONYM_HEX_LEN);
        crate::model::check_pseudonym("sim", &a).unwrap();
    }

    #[test]
    fn imei_has_valid_luhn_digit() {
        // 49015420323751 + check digit 8 is the classic example IMEI.
        assert_eq!(synthetic_imei("49015420", 323751), "490154203237518");
    }
}
