//! The live case index: every case of the store with its current status and the
//! serving cells of its records, in a concurrent map that the HTTP handlers read
//! while the poller writes it. The poller asks the store for its fingerprint every
//! `[console] poll_ms`; only when it changed are the cases read again, diffed
//! against the index, and the ids of new, changed and removed cases announced to
//! the pages listening on `/api/events`.

use super::store::ConsoleStore;
use crate::config::ClickHouseConfig;
use crate::inspect::{CaseFilter, ClickHouseStore, EvidenceRecord};
use crate::model::{Case, CaseKind, CaseStatus};
use dashmap::DashMap;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch, OnceCell};

/// One case in the index.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) case: Case,
    /// Serving cells of the case's SMS-volume records (`MCC-MNC-LAC-CID`) with the
    /// number of records each served, most first; empty for fake base stations.
    pub(crate) serving: Vec<(String, u64)>,
}

/// What changed, as announced on `/api/events`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Update {
    pub(crate) revision: u64,
    pub(crate) changed: Vec<String>,
    pub(crate) removed: Vec<String>,
}

/// How the index is doing, for `/api/cases` and the page's status line.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Health {
    /// The store has been read at least once.
    pub(crate) loaded: bool,
    /// The last error reading the store, if the last attempt failed.
    pub(crate) error: Option<String>,
}

/// Ids announced in one update at most; past that the page reloads the list anyway.
const MAX_IDS_PER_UPDATE: usize = 1000;

/// The index.
pub(crate) struct LiveIndex {
    pub(crate) cases: DashMap<String, Entry>,
    revision: AtomicU64,
    events: broadcast::Sender<Update>,
    health: Mutex<Health>,
    fingerprint: Mutex<Option<String>>,
}

impl LiveIndex {
    pub(crate) fn new() -> LiveIndex {
        LiveIndex {
            cases: DashMap::new(),
            revision: AtomicU64::new(0),
            events: broadcast::channel(64).0,
            health: Mutex::default(),
            fingerprint: Mutex::default(),
        }
    }

    pub(crate) fn revision(&self) -> u64 {
        self.revision.load(Ordering::Acquire)
    }

    pub(crate) fn health(&self) -> Health {
        self.health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Update> {
        self.events.subscribe()
    }

    fn announce(&self, mut changed: Vec<String>, mut removed: Vec<String>) {
        let revision = self.revision.fetch_add(1, Ordering::AcqRel) + 1;
        changed.truncate(MAX_IDS_PER_UPDATE);
        removed.truncate(MAX_IDS_PER_UPDATE);
        // No listener is not an error.
        let _ = self.events.send(Update {
            revision,
            changed,
            removed,
        });
    }

    /// A status change made through the console, shown at once (the poller would
    /// see it at its next look).
    pub(crate) fn set_status(&self, case_id: &str, status: CaseStatus) {
        if let Some(mut e) = self.cases.get_mut(case_id) {
            e.case.status = status;
        }
        self.announce(vec![case_id.to_string()], Vec::new());
    }

    fn set_health(&self, loaded: bool, error: Option<String>) {
        let mut h = self.health.lock().unwrap_or_else(|p| p.into_inner());
        if error.is_some() && h.error != error {
            tracing::warn!(error = ?error, "console: cannot read the cases");
        }
        h.loaded |= loaded;
        h.error = error;
    }

    /// Read the store when its fingerprint changed and fold the cases in.
    pub(crate) async fn refresh(&self, store: &ConsoleStore) {
        match self.try_refresh(store).await {
            Ok(()) => self.set_health(true, None),
            Err(e) => self.set_health(false, Some(e.to_string())),
        }
    }

    async fn try_refresh(&self, store: &ConsoleStore) -> Result<(), crate::inspect::InspectError> {
        let fp = store.fingerprint().await?;
        if self
            .fingerprint
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            == Some(&fp)
        {
            return Ok(());
        }
        let cases = store.list(CaseFilter::default()).await?;
        let mut changed: Vec<Case> = Vec::new();
        let mut placed: Vec<Case> = Vec::new();
        for c in &cases {
            match self.cases.get(&c.case_id) {
                Some(e) if e.case == *c => {}
                Some(e) => {
                    if needs_places(c) && !same_but_status(&e.case, c) {
                        placed.push(c.clone());
                    }
                    changed.push(c.clone());
                }
                None => {
                    if needs_places(c) {
                        placed.push(c.clone());
                    }
                    changed.push(c.clone());
                }
            }
        }
        let serving = serving_cells(store, placed).await;
        let ids: std::collections::HashSet<&str> =
            cases.iter().map(|c| c.case_id.as_str()).collect();
        let removed: Vec<String> = self
            .cases
            .iter()
            .map(|e| e.key().clone())
            .filter(|k| !ids.contains(k.as_str()))
            .collect();
        for k in &removed {
            self.cases.remove(k);
        }
        let changed_ids: Vec<String> = changed.iter().map(|c| c.case_id.clone()).collect();
        for c in changed {
            let cells = match serving.get(&c.case_id) {
                Some(s) => s.clone(),
                None => self
                    .cases
                    .get(&c.case_id)
                    .map(|e| e.serving.clone())
                    .unwrap_or_default(),
            };
            self.cases.insert(
                c.case_id.clone(),
                Entry {
                    case: c,
                    serving: cells,
                },
            );
        }
        *self.fingerprint.lock().unwrap_or_else(|p| p.into_inner()) = Some(fp);
        if !changed_ids.is_empty() || !removed.is_empty() {
            tracing::debug!(
                changed = changed_ids.len(),
                removed = removed.len(),
                "console: cases updated"
            );
            self.announce(changed_ids, removed);
        }
        Ok(())
    }
}

/// SIM cases are drawn at their serving cells, found in their records.
fn needs_places(c: &Case) -> bool {
    c.kind != CaseKind::FakeBts
}

/// Equal apart from the status (a status change needs no new look at the records).
fn same_but_status(a: &Case, b: &Case) -> bool {
    let mut a = a.clone();
    a.status = b.status;
    a == *b
}

/// The serving cells of each case's records; a store that cannot give the records
/// leaves the cases unplaced (with a warning) rather than failing the refresh.
async fn serving_cells(
    store: &ConsoleStore,
    cases: Vec<Case>,
) -> HashMap<String, Vec<(String, u64)>> {
    if cases.is_empty() {
        return HashMap::new();
    }
    let n = cases.len();
    match store.evidence(cases).await {
        Ok(evidence) => evidence
            .into_iter()
            .map(|(id, records)| (id, count_cells(&records)))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, cases = n, "console: the records behind SIM cases cannot be read; they are not placed on the map");
            HashMap::new()
        }
    }
}

/// Serving cells of SMS-volume records with their record counts, most first.
pub(crate) fn count_cells(records: &[EvidenceRecord]) -> Vec<(String, u64)> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for r in records {
        if let Some(cell) = r.activity().and_then(|a| a.cell) {
            *counts.entry(cell).or_default() += 1;
        }
    }
    let mut v: Vec<(String, u64)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

/// Where the console's cases come from.
pub enum StoreSource {
    /// A store already open (`cellwatch console`, which fails fast when it cannot).
    Ready(ConsoleStore),
    /// ClickHouse, connected in the background with retries (`cellwatch run`, which
    /// must not fail to start because the console cannot read yet).
    ClickHouse {
        config: Box<ClickHouseConfig>,
        timeout: Duration,
    },
}

/// The store once it is there.
pub(crate) type StoreSlot = Arc<OnceCell<ConsoleStore>>;

/// Keep the index up to date until `shutdown` turns true.
pub(crate) async fn run_poller(
    index: Arc<LiveIndex>,
    slot: StoreSlot,
    source: StoreSource,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut pending = match source {
        StoreSource::Ready(store) => {
            let _ = slot.set(store);
            None
        }
        StoreSource::ClickHouse { config, timeout } => Some((config, timeout)),
    };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|v| *v) => return,
        }
        if let Some((config, timeout)) = &pending {
            match ClickHouseStore::connect((**config).clone(), *timeout).await {
                Ok(store) => {
                    let _ = slot.set(ConsoleStore::ClickHouse(Box::new(store)));
                    pending = None;
                }
                Err(e) => {
                    index.set_health(false, Some(e.to_string()));
                    continue;
                }
            }
        }
        if let Some(store) = slot.get() {
            index.refresh(store).await;
        }
    }
}
