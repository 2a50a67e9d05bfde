//! Deterministic case ids: every detector names a case by a digest of what opened it,
//! so the same input always gives the same ids (replay, restart, rebuild).

use sha2::{Digest, Sha256};
use std::fmt::Write;

/// `PREFIX-` + the first 16 hex characters of SHA-256 over `key`.
pub(crate) fn digest_id(prefix: &str, key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut id = String::with_capacity(prefix.len() + 17);
    id.push_str(prefix);
    id.push('-');
    for b in &digest[..8] {
        let _ = write!(id, "{b:02x}");
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_and_sixteen_hex_characters() {
        let id = digest_id("spam", "spam_sim|45204|abc|498222");
        assert!(id.starts_with("spam-"));
        assert_eq!(id.len(), 21);
        assert!(id[5..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(id, digest_id("spam", "spam_sim|45204|abc|498222"));
    }
}
