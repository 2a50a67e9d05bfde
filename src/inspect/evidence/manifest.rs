//! The SHA-256 manifest of an evidence package: one `HASH  PATH` line per file, in the
//! format of GNU `sha256sum`, so `sha256sum -c manifest.sha256` inside the folder
//! checks it without cellwatch; [`verify`] also reports files added after the fact.

use crate::inspect::error::InspectError;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

/// File name of the manifest inside a package.
pub const MANIFEST_FILE: &str = "manifest.sha256";

/// Lower-case hex SHA-256 of a file, streamed.
pub(crate) fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 0x0f)]));
    }
    s
}

/// Write the manifest of `files` (names relative to `dir`, sorted) and return its lines.
pub(crate) fn write_manifest(
    dir: &Path,
    files: &[String],
) -> Result<Vec<(String, String)>, InspectError> {
    let mut names: Vec<&String> = files.iter().collect();
    names.sort();
    let mut entries = Vec::new();
    let mut text = String::new();
    for name in names {
        let p = dir.join(name);
        let h = sha256_file(&p).map_err(|e| {
            InspectError::read(&p, e, "the package was changed while it was written")
        })?;
        text.push_str(&format!("{h}  {name}\n"));
        entries.push((name.clone(), h));
    }
    let mp = dir.join(MANIFEST_FILE);
    std::fs::write(&mp, text).map_err(|e| InspectError::write(&mp, e))?;
    Ok(entries)
}

/// What a verification found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Verification {
    pub intact: Vec<String>,
    /// Listed files whose content no longer matches.
    pub modified: Vec<String>,
    /// Listed files that are gone.
    pub missing: Vec<String>,
    /// Files in the folder the manifest does not list (added afterwards).
    pub unlisted: Vec<String>,
}

impl Verification {
    pub fn is_intact(&self) -> bool {
        self.modified.is_empty() && self.missing.is_empty() && self.unlisted.is_empty()
    }
}

/// Check every file of a package against its manifest.
pub fn verify(dir: &Path) -> Result<Verification, InspectError> {
    let mp = dir.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&mp).map_err(|e| {
        InspectError::read(
            &mp,
            e,
            "give the folder written by `cellwatch cases export --evidence DIR`",
        )
    })?;
    let mut v = Verification::default();
    let mut listed = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (hash, name) = line
            .split_once("  ")
            .filter(|(h, n)| h.len() == 64 && !n.is_empty())
            .ok_or_else(|| InspectError::Parse {
                path: mp.display().to_string(),
                line: i + 1,
                message: "not a `SHA256  FILE` line; the manifest itself was altered".into(),
            })?;
        if name.contains("..") || name.starts_with('/') {
            return Err(InspectError::Parse {
                path: mp.display().to_string(),
                line: i + 1,
                message: format!(
                    "path {name:?} leaves the package; the manifest itself was altered"
                ),
            });
        }
        listed.insert(name.to_string());
        match sha256_file(&dir.join(name)) {
            Ok(h) if h == hash => v.intact.push(name.to_string()),
            Ok(_) => v.modified.push(name.to_string()),
            Err(_) => v.missing.push(name.to_string()),
        }
    }
    let rd = std::fs::read_dir(dir).map_err(|e| InspectError::read(dir, e, "check the folder"))?;
    for entry in rd.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name != MANIFEST_FILE && !listed.contains(&name) {
            v.unlisted.push(name);
        }
    }
    v.unlisted.sort();
    Ok(v)
}
