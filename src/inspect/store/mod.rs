//! Where cases are read from and status changes appended to: ClickHouse (the
//! service's database) or a replay output folder (no server needed). Both implement
//! [`CaseStore`]; every command is written once, generic over the store.

mod clickhouse;
mod folder;

pub use self::clickhouse::{ClickHouseStore, DEFAULT_TIMEOUT};
pub use folder::FolderStore;

use super::error::InspectError;
use super::filter::CaseFilter;
use super::lifecycle::{check_actor, check_note, check_transition, StatusChange};
use super::records::EvidenceRecord;
use crate::model::{Case, CaseStatus};
use std::collections::BTreeMap;

/// A source of cases with their audit trail.
///
/// Cases returned carry their *current* status (last audit entry, else the
/// detector's snapshot status).
#[allow(async_fn_in_trait)] // used by the CLI on one task; no Send bound needed
pub trait CaseStore {
    /// Where the cases come from, for messages (`replay folder /tmp/r3`).
    fn describe(&self) -> String;

    /// The cases passing `filter`, sorted by `opened_at` then `case_id`.
    async fn list(&self, filter: &CaseFilter) -> Result<Vec<Case>, InspectError>;

    /// One case; [`InspectError::UnknownCase`] when the id is not there.
    async fn get(&self, case_id: &str) -> Result<Case, InspectError>;

    /// The case's status changes, oldest first.
    async fn history(&self, case_id: &str) -> Result<Vec<StatusChange>, InspectError>;

    /// Append one change to the audit trail (never rewrites earlier entries).
    async fn append_status(&self, change: &StatusChange) -> Result<(), InspectError>;

    /// The records behind each case, by case id (every asked id is a key).
    async fn evidence(
        &self,
        cases: &[Case],
    ) -> Result<BTreeMap<String, Vec<EvidenceRecord>>, InspectError>;

    /// A cheap value that changes whenever cases or the audit trail change, so a
    /// poller (the console's live index) reads the cases again only then.
    async fn fingerprint(&self) -> Result<String, InspectError>;
}

/// Move a case to `to`, recording who did it, when and why. Refuses (and stores
/// nothing) when the case is unknown, the step is not in the lifecycle, or the actor
/// or note is unusable.
pub async fn set_status<S: CaseStore>(
    store: &S,
    case_id: &str,
    to: CaseStatus,
    actor: &str,
    note: &str,
    now_ms: i64,
) -> Result<StatusChange, InspectError> {
    check_actor(actor).map_err(|message| InspectError::Invalid {
        what: "--actor",
        message,
    })?;
    check_note(note).map_err(|message| InspectError::Invalid {
        what: "--note",
        message,
    })?;
    let case = store.get(case_id).await?;
    check_transition(case_id, case.status, to)?;
    let change = StatusChange {
        case_id: case_id.to_string(),
        from_status: case.status,
        to_status: to,
        actor: actor.trim().to_string(),
        note: note.trim().to_string(),
        changed_at: now_ms,
    };
    store.append_status(&change).await?;
    tracing::info!(
        case_id,
        from = change.from_status.as_str(),
        to = to.as_str(),
        actor = %change.actor,
        "case status changed"
    );
    Ok(change)
}

/// Apply each case's audit trail to its snapshot status.
pub(crate) fn apply_statuses(cases: &mut [Case], log: &[StatusChange]) {
    let mut by_case: BTreeMap<&str, Vec<&StatusChange>> = BTreeMap::new();
    for ch in log {
        by_case.entry(ch.case_id.as_str()).or_default().push(ch);
    }
    for c in cases {
        if let Some(changes) = by_case.get(c.case_id.as_str()) {
            let owned: Vec<StatusChange> = changes.iter().map(|c| (*c).clone()).collect();
            c.status = super::lifecycle::current_status(c.status, &owned);
        }
    }
}
