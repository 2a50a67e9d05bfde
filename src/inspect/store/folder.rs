//! A replay output folder as a case store: `cases.jsonl` for the cases,
//! `case_status_log.jsonl` (created on the first change, append-only) for the
//! lifecycle, the inputs listed in `summary.json` for the records behind a case.

use super::{apply_statuses, CaseStore};
use crate::inspect::error::InspectError;
use crate::inspect::filter::CaseFilter;
use crate::inspect::lifecycle::{sort_history, StatusChange};
use crate::inspect::records::{scan_replay_inputs, EvidenceRecord};
use crate::model::Case;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

/// File name of the audit trail inside a replay folder.
pub(crate) const STATUS_LOG_FILE: &str = "case_status_log.jsonl";

/// A replay output folder.
#[derive(Debug, Clone)]
pub struct FolderStore {
    dir: PathBuf,
}

impl FolderStore {
    /// Open a folder written by `cellwatch replay --out DIR`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<FolderStore, InspectError> {
        let dir = dir.into();
        let shown = dir.display().to_string();
        if !dir.is_dir() {
            return Err(InspectError::NotAFolder {
                path: shown,
                message: "no such folder".into(),
            });
        }
        if !dir.join("cases.jsonl").is_file() {
            return Err(InspectError::NotAFolder {
                path: shown,
                message: "it has no cases.jsonl".into(),
            });
        }
        Ok(FolderStore { dir })
    }

    pub fn status_log_path(&self) -> PathBuf {
        self.dir.join(STATUS_LOG_FILE)
    }

    /// Every case of `cases.jsonl`; a repeated id keeps its last line.
    fn load_cases(&self) -> Result<Vec<Case>, InspectError> {
        let all = crate::cases::read_jsonl(&self.dir.join("cases.jsonl"))?;
        let mut by_id: BTreeMap<String, Case> = BTreeMap::new();
        for c in all {
            by_id.insert(c.case_id.clone(), c);
        }
        Ok(by_id.into_values().collect())
    }

    /// The whole audit trail (empty when no change was made yet).
    pub(crate) fn load_log(&self) -> Result<Vec<StatusChange>, InspectError> {
        let path = self.status_log_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(InspectError::read(
                    &path,
                    e,
                    "check the folder's permissions",
                ))
            }
        };
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let ch: StatusChange =
                serde_json::from_str(line).map_err(|e| InspectError::Parse {
                    path: path.display().to_string(),
                    line: i + 1,
                    message: format!(
                        "not a status change: {e}; the audit trail is append-only, restore it from a backup"
                    ),
                })?;
            out.push(ch);
        }
        Ok(out)
    }
}

impl CaseStore for FolderStore {
    fn describe(&self) -> String {
        format!("replay folder {}", self.dir.display())
    }

    async fn list(&self, filter: &CaseFilter) -> Result<Vec<Case>, InspectError> {
        let mut cases = self.load_cases()?;
        apply_statuses(&mut cases, &self.load_log()?);
        Ok(filter.apply(cases))
    }

    async fn get(&self, case_id: &str) -> Result<Case, InspectError> {
        let mut case = self
            .load_cases()?
            .into_iter()
            .find(|c| c.case_id == case_id)
            .ok_or_else(|| InspectError::UnknownCase {
                id: case_id.to_string(),
                store: self.describe(),
            })?;
        let log: Vec<StatusChange> = self
            .load_log()?
            .into_iter()
            .filter(|c| c.case_id == case_id)
            .collect();
        apply_statuses(std::slice::from_mut(&mut case), &log);
        Ok(case)
    }

    async fn history(&self, case_id: &str) -> Result<Vec<StatusChange>, InspectError> {
        let mut h: Vec<StatusChange> = self
            .load_log()?
            .into_iter()
            .filter(|c| c.case_id == case_id)
            .collect();
        sort_history(&mut h);
        Ok(h)
    }

    async fn append_status(&self, change: &StatusChange) -> Result<(), InspectError> {
        let path = self.status_log_path();
        let mut line = serde_json::to_string(change).map_err(|e| InspectError::Invalid {
            what: "status change",
            message: e.to_string(),
        })?;
        line.push('\n');
        // A previous writer killed mid-line must not glue two entries together.
        let needs_newline = std::fs::read(&path)
            .map(|b| b.last().is_some_and(|&c| c != b'\n'))
            .unwrap_or(false);
        if needs_newline {
            line.insert(0, '\n');
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| InspectError::write(&path, e))?;
        f.write_all(line.as_bytes())
            .and_then(|_| f.sync_data())
            .map_err(|e| InspectError::write(&path, e))
    }

    async fn evidence(
        &self,
        cases: &[Case],
    ) -> Result<BTreeMap<String, Vec<EvidenceRecord>>, InspectError> {
        scan_replay_inputs(&self.dir, cases)
    }

    /// Length and modification time of `cases.jsonl` and of the audit trail.
    async fn fingerprint(&self) -> Result<String, InspectError> {
        let mut out = String::new();
        for path in [self.dir.join("cases.jsonl"), self.status_log_path()] {
            match std::fs::metadata(&path) {
                Ok(m) => {
                    let mtime = m
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_nanos());
                    out.push_str(&format!("{}:{mtime};", m.len()));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => out.push_str("-;"),
                Err(e) => {
                    return Err(InspectError::read(
                        &path,
                        e,
                        "check the folder's permissions",
                    ))
                }
            }
        }
        Ok(out)
    }
}
