//! The operator's key and the keyed hash. The key bytes live only inside the HMAC
//! state; `Debug` shows nothing of them.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::Path;

type HmacSha256 = Hmac<Sha256>;

/// A key file larger than this is not a key (a mistaken path to a data file).
pub(crate) const MAX_KEY_BYTES: u64 = 64 * 1024;

/// Why the key could not be used. Messages name the file, never its content.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {path}: {source}; give the operator's HMAC key file with --key-file (readable by this user)")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("key file {path} is empty; put the operator's secret key in it (e.g. `openssl rand -hex 32 > {path}`)")]
    Empty { path: String },
    #[error(
        "key file {path} is larger than {max} bytes; it does not look like a key, check --key-file"
    )]
    TooLarge { path: String, max: u64 },
    #[error("--length must be an even number from 16 to 64 hex characters (the contract needs at least 16)")]
    Length,
}

/// HMAC-SHA256 pseudonyms with the operator's key.
#[derive(Clone)]
pub struct Pseudonymizer {
    mac: HmacSha256,
    hex_len: usize,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pseudonymizer")
            .field("key", &"<redacted>")
            .field("hex_len", &self.hex_len)
            .finish()
    }
}

impl Pseudonymizer {
    /// A pseudonymizer from key bytes; `hex_len` characters of the digest are kept.
    pub(crate) fn new(key: &[u8], hex_len: usize) -> Result<Pseudonymizer, KeyError> {
        if !(16..=64).contains(&hex_len) || hex_len % 2 != 0 {
            return Err(KeyError::Length);
        }
        let mac = HmacSha256::new_from_slice(key).expect("hmac accepts keys of any length");
        Ok(Pseudonymizer { mac, hex_len })
    }

    /// Read the key from a file: its bytes, without trailing line breaks (so a key
    /// written by `echo` or `openssl rand -hex 32 >` works as expected).
    pub fn from_key_file(path: &Path, hex_len: usize) -> Result<Pseudonymizer, KeyError> {
        let shown = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|source| KeyError::Read {
            path: shown.clone(),
            source,
        })?;
        if meta.len() > MAX_KEY_BYTES {
            return Err(KeyError::TooLarge {
                path: shown,
                max: MAX_KEY_BYTES,
            });
        }
        let mut bytes = std::fs::read(path).map_err(|source| KeyError::Read {
            path: shown.clone(),
            source,
        })?;
        while matches!(bytes.last(), Some(b'\n' | b'\r')) {
            bytes.pop();
        }
        if bytes.is_empty() {
            return Err(KeyError::Empty { path: shown });
        }
        warn_if_shared(path, &meta);
        let p = Pseudonymizer::new(&bytes, hex_len);
        bytes.iter_mut().for_each(|b| *b = 0);
        p
    }

    /// The pseudonym of an already normalized identifier.
    pub(crate) fn pseudonym(&self, identifier: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(identifier.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut out = String::with_capacity(self.hex_len);
        for b in digest.iter().take(self.hex_len / 2) {
            out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789abcdef"[usize::from(b & 0x0f)]));
        }
        out
    }
}

#[cfg(unix)]
fn warn_if_shared(path: &Path, meta: &std::fs::Metadata) {
    use std::os::unix::fs::PermissionsExt;
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(path = %path.display(), "key file is readable by other users; restrict it with chmod 600");
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_path: &Path, _meta: &std::fs::Metadata) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), a
        // widely published test value.
        let p = Pseudonymizer::new(b"key", 64).unwrap();
        assert_eq!(
            p.pseudonym("The quick brown fox jumps over the lazy dog"),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        let short = Pseudonymizer::new(b"key", 32).unwrap();
        assert_eq!(
            short.pseudonym("The quick brown fox jumps over the lazy dog"),
            "f7bc83f430538424b13298e6aa6fb143"
        );
        assert!(Pseudonymizer::new(b"key", 15).is_err());
        assert!(Pseudonymizer::new(b"key", 66).is_err());
        assert!(!format!("{p:?}").contains("key\""));
    }

    #[test]
    fn key_file_rules() {
        let dir = tempfile::tempdir().unwrap();
        let k = dir.path().join("k");
        std::fs::write(&k, "key\r\n").unwrap();
        let p = Pseudonymizer::from_key_file(&k, 64).unwrap();
        assert_eq!(
            p.pseudonym("x"),
            Pseudonymizer::new(b"key", 64).unwrap().pseudonym("x")
        );
        std::fs::write(&k, "\n").unwrap();
        assert!(matches!(
            Pseudonymizer::from_key_file(&k, 64),
            Err(KeyError::Empty { .. })
        ));
        let e = Pseudonymizer::from_key_file(&dir.path().join("none"), 64).unwrap_err();
        assert!(e.to_string().contains("--key-file"));
    }
}
