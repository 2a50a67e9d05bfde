//! Editing an allowlist file in place, in the spam detector's format, keeping the
//! comments and the entries that are not touched. A change is written to a temporary
//! file, parsed back with the detector's own loader, then renamed over the original:
//! a failed edit leaves the file as it was, and what is written always loads.

use super::{validate_entry, AllowlistAdminError};
use crate::detect::spam::{AllowEntry, Allowlist};
use std::path::{Path, PathBuf};

/// Which of the loader's two formats a file uses (by extension, as the loader decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileFormat {
    Toml,
    Text,
}

impl FileFormat {
    pub(crate) fn of(path: &Path) -> FileFormat {
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
        {
            FileFormat::Toml
        } else {
            FileFormat::Text
        }
    }
}

/// An allowlist file (it need not exist yet: `add` creates it).
#[derive(Debug, Clone)]
pub struct AllowlistFile {
    path: PathBuf,
    format: FileFormat,
}

/// A change prepared in a temporary file next to the original, not yet in place.
pub struct PendingEdit {
    tmp: PathBuf,
    target: PathBuf,
}

impl PendingEdit {
    /// Put the change in place (atomic rename).
    pub fn commit(self) -> Result<(), AllowlistAdminError> {
        std::fs::rename(&self.tmp, &self.target).map_err(|source| {
            let _ = std::fs::remove_file(&self.tmp);
            AllowlistAdminError::Write {
                path: self.target.display().to_string(),
                source,
            }
        })
    }

    /// Drop the change.
    pub fn abort(self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// What `add` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    Added,
    Replaced,
}

const TOML_HEADER: &str = "# cellwatch allowlist: legitimate bulk senders and M2M lines the spam detector never reports.\n# Managed with `cellwatch allowlist add|remove|list`; one [[sim]] block per SIM pseudonym.\n";
const TEXT_HEADER: &str = "# cellwatch allowlist: legitimate bulk senders and M2M lines the spam detector never reports.\n# One entry a line: [OPERATOR:]SIM [KIND [LABEL...]]. Managed with `cellwatch allowlist add|remove|list`.\n";

impl AllowlistFile {
    pub fn new(path: impl Into<PathBuf>) -> AllowlistFile {
        let path = path.into();
        let format = FileFormat::of(&path);
        AllowlistFile { path, format }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read_text(&self, missing_ok: bool) -> Result<String, AllowlistAdminError> {
        match std::fs::read_to_string(&self.path) {
            Ok(t) => Ok(t),
            Err(e) if missing_ok && e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(source) => Err(AllowlistAdminError::Read {
                path: self.path.display().to_string(),
                source,
            }),
        }
    }

    /// Load with the spam detector's loader (an absent file is an error).
    pub fn load(&self) -> Result<Allowlist, AllowlistAdminError> {
        Ok(Allowlist::load(&self.path)?)
    }

    /// Prepare adding (or replacing) the entry of `entry.sim`.
    pub fn prepare_add(
        &self,
        entry: &AllowEntry,
    ) -> Result<(PendingEdit, AddOutcome), AllowlistAdminError> {
        validate_entry(entry, self.format)?;
        let text = self.read_text(true)?;
        self.parse(&text)?; // refuse to edit a file the detector could not load
        let (kept, removed) = self.without_sim(&text, &entry.sim)?;
        let mut new_text = if kept.trim().is_empty() {
            match self.format {
                FileFormat::Toml => TOML_HEADER.to_string(),
                FileFormat::Text => TEXT_HEADER.to_string(),
            }
        } else {
            kept
        };
        if !new_text.ends_with('\n') {
            new_text.push('\n');
        }
        new_text.push_str(&self.render(entry));
        let pending = self.stage(&new_text)?;
        Ok((
            pending,
            if removed > 0 {
                AddOutcome::Replaced
            } else {
                AddOutcome::Added
            },
        ))
    }

    /// Prepare removing the entry of `sim`; an error if it is not there.
    pub fn prepare_remove(&self, sim: &str) -> Result<PendingEdit, AllowlistAdminError> {
        let text = self.read_text(false)?;
        self.parse(&text)?;
        let (kept, removed) = self.without_sim(&text, sim)?;
        if removed == 0 {
            return Err(AllowlistAdminError::NotListed {
                sim: sim.to_string(),
                path: self.path.display().to_string(),
            });
        }
        self.stage(&kept)
    }

    /// Add and commit in one step (no topic involved).
    #[cfg(test)]
    pub(crate) fn add(&self, entry: &AllowEntry) -> Result<AddOutcome, AllowlistAdminError> {
        let (p, outcome) = self.prepare_add(entry)?;
        p.commit()?;
        Ok(outcome)
    }

    /// Remove and commit in one step (no topic involved).
    #[cfg(test)]
    pub(crate) fn remove(&self, sim: &str) -> Result<(), AllowlistAdminError> {
        self.prepare_remove(sim)?.commit()
    }

    fn parse(&self, text: &str) -> Result<Allowlist, AllowlistAdminError> {
        let shown = self.path.display().to_string();
        match self.format {
            FileFormat::Toml => Allowlist::parse_toml(text).map_err(|source| {
                crate::detect::spam::AllowlistError::Toml {
                    path: shown,
                    source,
                }
                .into()
            }),
            FileFormat::Text => Allowlist::parse_text(text).map_err(|(line, message)| {
                crate::detect::spam::AllowlistError::Line {
                    path: shown,
                    line,
                    message,
                }
                .into()
            }),
        }
    }

    /// Write `text` to a temporary file beside the target and check it loads.
    fn stage(&self, text: &str) -> Result<PendingEdit, AllowlistAdminError> {
        let parent = match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "allowlist".into());
        let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        std::fs::write(&tmp, text).map_err(|source| AllowlistAdminError::Write {
            path: self.path.display().to_string(),
            source,
        })?;
        if let Err(e) = self.parse(text) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(PendingEdit {
            tmp,
            target: self.path.clone(),
        })
    }

    /// The file text without the entries of `sim`, and how many were dropped.
    fn without_sim(&self, text: &str, sim: &str) -> Result<(String, usize), AllowlistAdminError> {
        match self.format {
            FileFormat::Text => {
                let mut out = String::with_capacity(text.len());
                let mut removed = 0;
                for line in text.split_inclusive('\n') {
                    let t = line.trim();
                    let first = t.split_whitespace().next().unwrap_or("");
                    let line_sim = first.split_once(':').map_or(first, |(_, s)| s);
                    if !t.is_empty() && !t.starts_with('#') && line_sim == sim {
                        removed += 1;
                    } else {
                        out.push_str(line);
                    }
                }
                Ok((out, removed))
            }
            FileFormat::Toml => self.toml_without_sim(text, sim),
        }
    }

    /// TOML: split into `[[sim]]` blocks (each from its header to the next), drop the
    /// blocks whose `sim` matches. A file written in another TOML shape (inline
    /// arrays) is rewritten from its entries instead.
    fn toml_without_sim(
        &self,
        text: &str,
        sim: &str,
    ) -> Result<(String, usize), AllowlistAdminError> {
        let mut header = String::new();
        let mut blocks: Vec<String> = Vec::new();
        for line in text.split_inclusive('\n') {
            if line.trim() == "[[sim]]" {
                blocks.push(String::new());
            }
            match blocks.last_mut() {
                Some(b) => b.push_str(line),
                None => header.push_str(line),
            }
        }
        let all = self.parse(text)?;
        let in_blocks: usize = blocks
            .iter()
            .filter_map(|b| Allowlist::parse_toml(b).ok())
            .map(|a| a.len())
            .sum();
        if in_blocks != all.len()
            || Allowlist::parse_toml(&header).map(|a| a.len()).unwrap_or(1) != 0
        {
            // Not in the one-block-per-entry shape: rewrite every entry as a block.
            let mut out = TOML_HEADER.to_string();
            let mut removed = 0;
            for e in all.entries() {
                if e.sim == sim {
                    removed += 1;
                } else {
                    out.push_str(&self.render(e));
                }
            }
            return Ok((out, removed));
        }
        let mut out = header;
        let mut removed = 0;
        for b in blocks {
            let matches = Allowlist::parse_toml(&b)
                .map(|a| a.entries().iter().any(|e| e.sim == sim))
                .unwrap_or(false);
            if matches {
                removed += 1;
            } else {
                out.push_str(&b);
            }
        }
        Ok((out, removed))
    }

    /// One entry in the file's format (with a trailing newline).
    fn render(&self, e: &AllowEntry) -> String {
        match self.format {
            FileFormat::Toml => {
                let q = |s: &str| toml::Value::String(s.to_string()).to_string();
                let mut b = format!("\n[[sim]]\nsim = {}\n", q(&e.sim));
                if let Some(op) = &e.operator {
                    b.push_str(&format!("operator = {}\n", q(op)));
                }
                if let Some(k) = &e.kind {
                    b.push_str(&format!("kind = {}\n", q(k)));
                }
                if let Some(l) = &e.label {
                    b.push_str(&format!("label = {}\n", q(l)));
                }
                b
            }
            FileFormat::Text => {
                let mut l = match &e.operator {
                    Some(op) => format!("{op}:{}", e.sim),
                    None => e.sim.clone(),
                };
                if let Some(k) = &e.kind {
                    l.push(' ');
                    l.push_str(k);
                    if let Some(lab) = &e.label {
                        l.push(' ');
                        l.push_str(lab.trim());
                    }
                }
                l.push('\n');
                l
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(sim: &str, kind: Option<&str>, label: Option<&str>) -> AllowEntry {
        AllowEntry {
            sim: sim.into(),
            operator: None,
            kind: kind.map(Into::into),
            label: label.map(Into::into),
        }
    }

    const A: &str = "aaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbb";

    #[test]
    fn toml_add_replace_remove_keeps_comments() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("allow.toml");
        std::fs::write(&p, "# our bulk senders\n\n[[sim]]\n# the water company\nsim = \"aaaaaaaaaaaaaaaa\"\nkind = \"m2m\"\n").unwrap();
        let f = AllowlistFile::new(&p);
        assert_eq!(
            f.add(&entry(B, Some("school"), Some("Trường \"A\"")))
                .unwrap(),
            AddOutcome::Added
        );
        assert_eq!(
            f.add(&entry(B, Some("shop"), None)).unwrap(),
            AddOutcome::Replaced
        );
        let a = f.load().unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a.lookup("x", B).unwrap().kind.as_deref(), Some("shop"));
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("# our bulk senders") && text.contains("# the water company"));
        f.remove(A).unwrap();
        let a = f.load().unwrap();
        assert_eq!(a.len(), 1);
        assert!(!a.contains("x", A));
        let e = f.remove(A).unwrap_err();
        assert!(e.to_string().contains("nothing changed"), "{e}");
    }

    #[test]
    fn text_add_remove_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("allow.txt");
        let f = AllowlistFile::new(&p);
        f.add(&entry(A, Some("bulk_sender"), Some("bank otp")))
            .unwrap();
        f.add(&AllowEntry {
            operator: Some("45204".into()),
            ..entry(B, None, None)
        })
        .unwrap();
        let a = f.load().unwrap();
        assert_eq!(a.lookup("1", A).unwrap().label.as_deref(), Some("bank otp"));
        assert!(a.contains("45204", B) && !a.contains("45201", B));
        let before = std::fs::read(&p).unwrap();
        // a clear MSISDN is refused and the file is untouched
        let e = f.add(&entry("84912345678", None, None)).unwrap_err();
        assert!(e.to_string().contains("not pseudonymized"), "{e}");
        let e = f
            .add(&entry(A, None, Some("label without kind")))
            .unwrap_err();
        assert!(e.to_string().contains("--kind"), "{e}");
        let e = f.add(&entry(A, Some("two words"), None)).unwrap_err();
        assert!(e.to_string().contains("--kind"), "{e}");
        assert_eq!(std::fs::read(&p).unwrap(), before);
        f.remove(B).unwrap();
        assert_eq!(f.load().unwrap().len(), 1);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn a_broken_file_is_not_edited() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("allow.toml");
        std::fs::write(&p, "[[sim]\nsim = ").unwrap();
        let f = AllowlistFile::new(&p);
        assert!(f.add(&entry(A, None, None)).is_err());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "[[sim]\nsim = ");
    }
}
