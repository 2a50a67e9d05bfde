//! Allowlist of legitimate bulk senders and M2M lines: SIMs that never yield a case.
//!
//! Shops, schools, banks' OTP senders, TV-vote lines and M2M modems send like spammers
//! by volume (docs/detection.md, false-positive traps); an operator vouches for them
//! once and the detector stays silent about them, counting how often it held a case
//! back.
//!
//! File format, chosen by extension:
//!
//! - `*.toml`:
//!   ```toml
//!   [[sim]]
//!   sim = "9f86d081884c7d65"   # pseudonym, required
//!   operator = "45204"         # optional: only for this operator
//!   kind = "m2m"               # optional: bulk_sender, m2m, school, shop, tv_vote, ...
//!   label = "water meters"     # optional free text
//!   ```
//! - anything else, plain text, one entry a line: `SIM [KIND [LABEL...]]`, blank lines
//!   and lines starting with `#` ignored; `OPERATOR:SIM` restricts the entry to one operator.
//!
//! The compacted topic `cw.allowlist.v1` carries the same entries: key = SIM pseudonym,
//! value = the entry as a JSON object (`{"sim": …, "operator": …, "kind": …, "label": …}`,
//! the TOML fields), null / empty value = removal ([`Allowlist::apply_update`]).
//! `cellwatch allowlist add|remove|list` (`crate::allowlist_admin`) edits both.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum AllowlistError {
    #[error("cannot read allowlist {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("allowlist {path} is not valid toml: {source}")]
    Toml {
        path: String,
        #[source]
        source: toml::de::Error,
    },
    #[error("allowlist {path} line {line}: {message}")]
    Line {
        path: String,
        line: usize,
        message: String,
    },
    #[error(
        "allowlist topic record {key:?}: {message}; publish entries with `cellwatch allowlist add`"
    )]
    Update { key: String, message: String },
}

/// One allowlisted SIM.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct AllowEntry {
    pub sim: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

#[derive(Debug, Deserialize)]
struct AllowFile {
    #[serde(default)]
    sim: Vec<AllowEntry>,
}

/// The loaded allowlist, looked up by pseudonym (and operator when the entry names one).
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    by_sim: HashMap<String, Vec<AllowEntry>>,
}

impl Allowlist {
    /// An empty allowlist: nothing is suppressed.
    pub fn empty() -> Self {
        Self::default()
    }

    pub(crate) fn from_entries(entries: impl IntoIterator<Item = AllowEntry>) -> Self {
        let mut by_sim: HashMap<String, Vec<AllowEntry>> = HashMap::new();
        for e in entries {
            by_sim.entry(e.sim.clone()).or_default().push(e);
        }
        Allowlist { by_sim }
    }

    /// Load a `.toml` or plain-text allowlist (format in the module doc).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, AllowlistError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| AllowlistError::Io {
            path: shown.clone(),
            source,
        })?;
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
        {
            Self::parse_toml(&text).map_err(|source| AllowlistError::Toml {
                path: shown,
                source,
            })
        } else {
            Self::parse_text(&text).map_err(|(line, message)| AllowlistError::Line {
                path: shown,
                line,
                message,
            })
        }
    }

    pub(crate) fn parse_toml(text: &str) -> Result<Self, toml::de::Error> {
        let file: AllowFile = toml::from_str(text)?;
        Ok(Self::from_entries(file.sim))
    }

    /// Parse the plain-text format; an error carries the 1-based line number.
    pub(crate) fn parse_text(text: &str) -> Result<Self, (usize, String)> {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            let first = parts.next().unwrap_or_default();
            let (operator, sim) = match first.split_once(':') {
                Some((op, sim)) => (Some(op.to_string()), sim),
                None => (None, first),
            };
            if sim.is_empty() {
                return Err((i + 1, "empty sim pseudonym".to_string()));
            }
            if operator.as_deref() == Some("") {
                return Err((i + 1, "empty operator before ':'".to_string()));
            }
            let kind = parts.next().map(str::to_string);
            let rest: Vec<&str> = parts.collect();
            let label = (!rest.is_empty()).then(|| rest.join(" "));
            entries.push(AllowEntry {
                sim: sim.to_string(),
                operator,
                kind,
                label,
            });
        }
        Ok(Self::from_entries(entries))
    }

    /// The entry that covers this SIM of this operator, if any.
    pub(crate) fn lookup(&self, operator: &str, sim: &str) -> Option<&AllowEntry> {
        self.by_sim
            .get(sim)?
            .iter()
            .find(|e| e.operator.as_deref().is_none_or(|op| op == operator))
    }

    pub fn contains(&self, operator: &str, sim: &str) -> bool {
        self.lookup(operator, sim).is_some()
    }

    /// Every entry, sorted by SIM then operator (deterministic listings).
    pub fn entries(&self) -> Vec<&AllowEntry> {
        let mut v: Vec<&AllowEntry> = self.by_sim.values().flatten().collect();
        v.sort_by(|a, b| a.sim.cmp(&b.sim).then_with(|| a.operator.cmp(&b.operator)));
        v
    }

    /// Add an entry, replacing every entry of the same SIM (one entry per SIM, as
    /// the topic is keyed by SIM).
    pub(crate) fn upsert(&mut self, entry: AllowEntry) {
        self.by_sim.insert(entry.sim.clone(), vec![entry]);
    }

    /// Remove every entry of a SIM; whether there was one.
    pub(crate) fn remove(&mut self, sim: &str) -> bool {
        self.by_sim.remove(sim).is_some()
    }

    /// Apply one record of the compacted topic: `value` is the entry as JSON, or
    /// `None` / empty / `null` to remove the SIM. The key must be the entry's `sim`.
    pub(crate) fn apply_update(
        &mut self,
        key: &str,
        value: Option<&[u8]>,
    ) -> Result<(), AllowlistError> {
        match parse_topic_value(key, value)? {
            Some(entry) => self.upsert(entry),
            None => {
                self.remove(key);
            }
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.by_sim.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_sim.is_empty()
    }
}

/// Decode a topic record of `cw.allowlist.v1` (see the module doc); `Ok(None)` is a removal.
pub(crate) fn parse_topic_value(
    key: &str,
    value: Option<&[u8]>,
) -> Result<Option<AllowEntry>, AllowlistError> {
    let bad = |message: String| AllowlistError::Update {
        key: key.to_string(),
        message,
    };
    let value = match value {
        None => return Ok(None),
        Some(v) if v.iter().all(u8::is_ascii_whitespace) => return Ok(None),
        Some(v) => v,
    };
    let parsed: Option<AllowEntry> = serde_json::from_slice(value)
        .map_err(|e| bad(format!("value is not an allowlist entry: {e}")))?;
    match parsed {
        None => Ok(None),
        Some(entry) if entry.sim != key => Err(bad(format!(
            "value names sim {:?}, the key must be the same pseudonym",
            entry.sim
        ))),
        Some(entry) => Ok(Some(entry)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_format() {
        let a = Allowlist::parse_toml(
            r#"
            [[sim]]
            sim = "aaaaaaaaaaaaaaaa"
            kind = "m2m"
            [[sim]]
            sim = "bbbbbbbbbbbbbbbb"
            operator = "45204"
            label = "school"
            "#,
        )
        .unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(
            a.lookup("45201", "aaaaaaaaaaaaaaaa")
                .unwrap()
                .kind
                .as_deref(),
            Some("m2m")
        );
        assert!(a.contains("45204", "bbbbbbbbbbbbbbbb"));
        assert!(!a.contains("45201", "bbbbbbbbbbbbbbbb"));
        assert!(!a.contains("45204", "cccccccccccccccc"));
    }

    #[test]
    fn text_format() {
        let a = Allowlist::parse_text(
            "# bulk senders\n\naaaaaaaaaaaaaaaa shop corner shop\n45204:bbbbbbbbbbbbbbbb m2m\ncccccccccccccccc\n",
        )
        .unwrap();
        assert_eq!(a.len(), 3);
        let e = a.lookup("45201", "aaaaaaaaaaaaaaaa").unwrap();
        assert_eq!(
            (e.kind.as_deref(), e.label.as_deref()),
            (Some("shop"), Some("corner shop"))
        );
        assert!(a.contains("45204", "bbbbbbbbbbbbbbbb"));
        assert!(!a.contains("45205", "bbbbbbbbbbbbbbbb"));
        assert!(a.contains("x", "cccccccccccccccc"));
        assert_eq!(Allowlist::parse_text(":aaaaaaaaaaaaaaaa").unwrap_err().0, 1);
        assert_eq!(Allowlist::parse_text("# c\n45204:").unwrap_err().0, 2);
    }

    #[test]
    fn load_by_extension() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("allow.toml");
        std::fs::write(&t, "[[sim]]\nsim = \"aaaaaaaaaaaaaaaa\"\n").unwrap();
        assert_eq!(Allowlist::load(&t).unwrap().len(), 1);
        let p = dir.path().join("allow.txt");
        std::fs::write(&p, "aaaaaaaaaaaaaaaa\nbbbbbbbbbbbbbbbb m2m\n").unwrap();
        assert_eq!(Allowlist::load(&p).unwrap().len(), 2);
        assert!(Allowlist::load(dir.path().join("missing.txt")).is_err());
    }

    #[test]
    fn topic_updates_add_replace_and_remove() {
        let mut a = Allowlist::empty();
        let sim = "aaaaaaaaaaaaaaaa";
        a.apply_update(sim, Some(br#"{"sim":"aaaaaaaaaaaaaaaa","kind":"m2m"}"#))
            .unwrap();
        assert!(a.contains("45204", sim));
        a.apply_update(
            sim,
            Some(br#"{"sim":"aaaaaaaaaaaaaaaa","operator":"45201"}"#),
        )
        .unwrap();
        assert_eq!(a.len(), 1);
        assert!(!a.contains("45204", sim) && a.contains("45201", sim));
        a.apply_update(sim, Some(b"null")).unwrap();
        assert!(a.is_empty());
        a.apply_update(sim, Some(br#"{"sim":"aaaaaaaaaaaaaaaa"}"#))
            .unwrap();
        a.apply_update(sim, None).unwrap();
        assert!(a.is_empty());
        assert!(a
            .apply_update("bbbbbbbbbbbbbbbb", Some(br#"{"sim":"aaaaaaaaaaaaaaaa"}"#))
            .is_err());
        assert!(a.apply_update(sim, Some(b"{not json")).is_err());
    }
}
