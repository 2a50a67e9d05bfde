//! Pseudonym check: people's identifiers must arrive as HMAC-SHA256 hex, never in clear.
//!
//! Feeds may write the hex in upper case (some operators' HMAC tools do); it is the
//! same value, so feed records are lower-cased on input ([`pseudonym`]) and every
//! output, key and comparison sees one spelling.

use super::text::Text;
use super::{InvalidReason, Pseudonym, ValidationError};

/// Minimum length of a pseudonym in hex characters (docs/contract.md: at least 16).
pub(crate) const MIN_PSEUDONYM_HEX: usize = 16;
/// Upper bound so a huge string cannot pass as an identifier (SHA-256 is 64).
pub(crate) const MAX_PSEUDONYM_HEX: usize = 128;

/// Refuse anything that is not lower-case hex of 16..=128 characters, so a clear
/// MSISDN, IMSI or IMEI (digits, at most 15) is refused as "identifier not pseudonymized".
pub(crate) fn check_pseudonym(field: &str, value: &str) -> Result<(), ValidationError> {
    if is_pseudonym(value) {
        return Ok(());
    }
    let problem = if value.bytes().all(|b| b.is_ascii_hexdigit()) {
        if (MIN_PSEUDONYM_HEX..=MAX_PSEUDONYM_HEX).contains(&value.len()) {
            "hex in upper case; write it in lower case".to_string()
        } else {
            format!("got {} hex characters", value.len())
        }
    } else {
        format!(
            "got {} characters that are not all hex digits",
            value.chars().count()
        )
    };
    Err(ValidationError::new(
        InvalidReason::NotPseudonymized,
        field,
        format!(
            "identifier not pseudonymized: expected lower-case hex of HMAC-SHA256, {MIN_PSEUDONYM_HEX}..={MAX_PSEUDONYM_HEX} characters, {problem}"
        ),
    ))
}

/// Lower-case hex of 16..=128 characters: a pseudonym as the contract spells it.
#[inline]
fn is_pseudonym(value: &str) -> bool {
    (MIN_PSEUDONYM_HEX..=MAX_PSEUDONYM_HEX).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A pseudonym field of a feed record: hex of either case, returned in lower case
/// (inline up to 64 bytes: no allocation for an HMAC-SHA256 pseudonym).
pub(crate) fn pseudonym(field: &str, value: Text<'_>) -> Result<Pseudonym, ValidationError> {
    // nearly every record: lower-case hex of a valid length, checked in one pass
    if is_pseudonym(&value) {
        return Ok(Pseudonym::from(&*value));
    }
    if value.bytes().any(|b| b.is_ascii_uppercase()) {
        let mut lower = Pseudonym::from(&*value);
        lower.make_ascii_lowercase();
        check_pseudonym(field, &lower)?;
        return Ok(lower);
    }
    check_pseudonym(field, &value)?;
    Ok(Pseudonym::from(&*value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

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
            let e = pseudonym("sim", Text(Cow::Borrowed(v))).unwrap_err();
            assert_eq!(e.reason, InvalidReason::NotPseudonymized);
        }
    }

    #[test]
    fn hex_pseudonyms_pass() {
        check_pseudonym("sim", "0123456789abcdef").unwrap();
        check_pseudonym("sim", &"a".repeat(64)).unwrap();
        let e = check_pseudonym("sim", "0123456789ABCDEF").unwrap_err();
        assert!(e.to_string().contains("upper case"), "{e}");
    }

    #[test]
    fn feed_pseudonyms_are_lower_cased() {
        let got = pseudonym("sim", Text(Cow::Borrowed("0123456789ABCDEF"))).unwrap();
        assert_eq!(got, "0123456789abcdef");
        let got = pseudonym("sim", Text(Cow::Borrowed("0123456789abcdef"))).unwrap();
        assert_eq!(got, "0123456789abcdef");
        assert!(pseudonym("sim", Text(Cow::Borrowed("0123456789ABCDEG"))).is_err());
    }
}
