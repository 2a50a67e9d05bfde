//! The console's handle on the inspector's case store ([`crate::inspect::store`]):
//! the same `FolderStore` and `ClickHouseStore` the CLI uses, behind one cloneable
//! type whose calls can run on the server's worker threads. A replay folder is read
//! with blocking file I/O, so its calls run on tokio's blocking pool; ClickHouse
//! calls are plain async.

use crate::inspect::{
    set_status, CaseFilter, CaseStore, ClickHouseStore, EvidenceRecord, FolderStore, InspectError,
    StatusChange,
};
use crate::model::{Case, CaseStatus};
use std::collections::BTreeMap;

/// Where the console reads cases and appends status changes.
#[derive(Clone)]
pub enum ConsoleStore {
    Folder(FolderStore),
    ClickHouse(Box<ClickHouseStore>),
}

/// Run one store call: on the blocking pool for a folder, inline for ClickHouse.
macro_rules! call {
    ($self:expr, |$s:ident| $body:expr) => {
        match $self {
            ConsoleStore::Folder(store) => {
                let $s = store.clone();
                let handle = tokio::runtime::Handle::current();
                tokio::task::spawn_blocking(move || handle.block_on(async move { $body }))
                    .await
                    .map_err(|e| InspectError::Invalid {
                        what: "store call",
                        message: e.to_string(),
                    })?
            }
            ConsoleStore::ClickHouse(store) => {
                let $s = store.as_ref().clone();
                $body
            }
        }
    };
}

impl ConsoleStore {
    pub fn describe(&self) -> String {
        match self {
            ConsoleStore::Folder(s) => s.describe(),
            ConsoleStore::ClickHouse(s) => s.describe(),
        }
    }

    pub(crate) async fn list(&self, filter: CaseFilter) -> Result<Vec<Case>, InspectError> {
        call!(self, |s| s.list(&filter).await)
    }

    pub(crate) async fn get(&self, id: String) -> Result<Case, InspectError> {
        call!(self, |s| s.get(&id).await)
    }

    pub(crate) async fn history(&self, id: String) -> Result<Vec<StatusChange>, InspectError> {
        call!(self, |s| s.history(&id).await)
    }

    pub(crate) async fn evidence(
        &self,
        cases: Vec<Case>,
    ) -> Result<BTreeMap<String, Vec<EvidenceRecord>>, InspectError> {
        call!(self, |s| s.evidence(&cases).await)
    }

    pub(crate) async fn fingerprint(&self) -> Result<String, InspectError> {
        call!(self, |s| s.fingerprint().await)
    }

    /// [`set_status`] with the logged-in user as the actor.
    pub(crate) async fn set_status(
        &self,
        id: String,
        to: CaseStatus,
        actor: String,
        note: String,
        now_ms: i64,
    ) -> Result<StatusChange, InspectError> {
        call!(self, |s| set_status(&s, &id, to, &actor, &note, now_ms)
            .await)
    }
}
