//! Pseudonym check: people's identifiers must arrive as HMAC-SHA256 hex, never in clear.

use super::{InvalidReason, ValidationError};

/// Minimum length of a pseudonym in hex characters (docs/contract.md: at least 16).
pub(crate) const MIN_PSEUDONYM_HEX: usize = 16;
/// Upper bound so a huge string cannot pass as an identifier (SHA-256 is 64).
pub(crate) const MAX_PSEUDONYM_HEX: usize = 128;

/// Refuse anything that is not lower-case hex of 16..=128 characters, so a clear
/// MSISDN, IMSI or IMEI (digits, at most 15) is refused as "identifier not pseudonymized".
pub(crate) fn check_pseudonym(field: &str, value: &str) -> Result<(), ValidationError> {
    let ok_chars = value
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !ok_chars || value.len() < MIN_PSEUDONYM_HEX || value.len() > MAX_PSEUDONYM_HEX {
        return Err(ValidationError::new(
            InvalidReason::NotPseudonymized,
            field,
            format!(
                "identifier not pseudonymized: expected lower-case hex of HMAC-SHA256, {}..={} characters, got {} characters",
                MIN_PSEUDONYM_HEX,
                MAX_PSEUDONYM_HEX,
                value.chars().count()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_numbers_are_refused() {
        for v in [
            "84912345678",
            "+84912345678",
            "452041234567890",
            "356938035643809",
        ] {
            let e = check_pseudonym("sim", v).unwrap_err();
            assert_eq!(e.reason, InvalidReason::NotPseudonymized);
            assert!(e.to_string().contains("identifier not pseudonymized"));
        }
    }

    #[test]
    fn hex_pseudonyms_pass() {
        check_pseudonym("sim", "0123456789abcdef").unwrap();
        check_pseudonym("sim", &"a".repeat(64)).unwrap();
        assert!(check_pseudonym("sim", "0123456789ABCDEF").is_err());
    }
}
