//! Case bookkeeping: merges the snapshots detectors emit into one final case per id,
//! and reads and writes `cases.jsonl`.

use crate::model::Case;
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

/// All cases of a run, keyed by `case_id`; a later snapshot of a case is merged into
/// the earlier one with `Case::merge_newer`.
#[derive(Debug, Default)]
pub struct CaseBook {
    cases: BTreeMap<String, Case>,
    updates: u64,
}

impl CaseBook {
    pub fn new() -> Self {
        Self::default()
    }

    /// Merge one snapshot; returns the merged case.
    pub fn upsert(&mut self, case: Case) -> &Case {
        self.updates += 1;
        match self.cases.entry(case.case_id.clone()) {
            Entry::Occupied(known) => {
                let known = known.into_mut();
                known.merge_newer(case);
                known
            }
            Entry::Vacant(new) => new.insert(case),
        }
    }

    /// Merge every case of another book (a replay lane's) into this one.
    pub(crate) fn absorb(&mut self, other: CaseBook) {
        let updates = self.updates + other.updates;
        for case in other.cases.into_values() {
            self.upsert(case);
        }
        // snapshots merged into either book, not the re-merge of the other's finals
        self.updates = updates;
    }

    /// Final cases in a deterministic order: by `opened_at`, then `case_id`.
    pub fn into_sorted(self) -> Vec<Case> {
        let mut v: Vec<Case> = self.cases.into_values().collect();
        v.sort_by(|a, b| {
            a.opened_at
                .cmp(&b.opened_at)
                .then_with(|| a.case_id.cmp(&b.case_id))
        });
        v
    }

    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Case> {
        self.cases.values()
    }
}

impl crate::detect::CaseSink for CaseBook {
    fn emit(&mut self, case: Case) {
        self.upsert(case);
    }
}

/// Errors reading a `cases.jsonl` file.
#[derive(Debug, thiserror::Error)]
pub enum CasesFileError {
    #[error("cannot read cases file {path}: {source}; check the path")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: not a valid case: {message}")]
    Parse {
        path: String,
        line: usize,
        message: String,
    },
}

/// Write cases as JSON Lines, one case per line: the `cases.jsonl` that
/// [`read_jsonl`] reads.
pub(crate) fn write_jsonl(out: &mut dyn std::io::Write, cases: &[Case]) -> std::io::Result<()> {
    for case in cases {
        serde_json::to_writer(&mut *out, case)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Read a `cases.jsonl` file (one case per line, blank lines ignored).
pub fn read_jsonl(path: &std::path::Path) -> Result<Vec<Case>, CasesFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| CasesFileError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let case = serde_json::from_str(line).map_err(|e| CasesFileError::Parse {
            path: path.display().to_string(),
            line: i + 1,
            message: e.to_string(),
        })?;
        out.push(case);
    }
    Ok(out)
}
