//! Stage B of the fake-BTS detector keyed by region (docs/streaming.md, "Stage B by
//! region"): one [`Transmitters`] per tile of [`Grid`], each fed the forwards whose
//! reporter is in the tile or within its margin ([`super::regions`]), each emitting
//! the cases of the transmitters it owns.
//!
//! The replay runs every tile in one thread; a task of the service (or a test) may
//! host only the tiles whose key hashes to it ([`Regions::hosting`]). A tile's output
//! depends only on the forwards it gets, which depend only on their positions, so
//! the tasks' outputs merged per input step in tile order are what one task gives.
//! Tiles are made when a forward first reaches them and dropped when empty at a
//! maintenance step; a new tile starts on the maintenance schedule of the others,
//! which is what an empty tile kept since the start would have.

use super::findings::{FindingKind, InventoryFinding};
use super::forward::Forward;
use super::identities::MAINTENANCE_INTERVAL_MS;
use super::index::CellIndex;
use super::regions::{Grid, RegionKey, Scope};
use super::stats::FakeBtsStats;
use super::transmitters::{registered_update, Registered, Transmitters};
use crate::config::FakeBtsConfig;
use crate::detect::stage::{Emit, Never, Stage};
use crate::detect::{CaseSink, Reference};
use crate::model::{Case, CellKey};
use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

/// A finding's key, and the tile that found it with the finding.
pub(crate) type TaggedFindings = BTreeMap<(FindingKind, String), (RegionKey, InventoryFinding)>;

/// Stage B as tiles.
pub(crate) struct Regions {
    cfg: FakeBtsConfig,
    grid: Grid,
    registered: Registered,
    regions: BTreeMap<RegionKey, Transmitters>,
    /// Hosted tiles: those whose key hashes to `host.0` modulo `host.1`.
    host: (u64, u64),
    /// The maintenance schedule every tile follows (as `Transmitters::advance`).
    maintenance: Option<i64>,
    /// Findings of dropped tiles.
    findings: TaggedFindings,
    /// Counters of dropped tiles.
    dropped: FakeBtsStats,
    keys: Vec<RegionKey>,
}

/// A tile's case sink: the case, tagged with the tile.
struct Tagged<'a>(RegionKey, &'a mut dyn FnMut(RegionKey, Case));

impl CaseSink for Tagged<'_> {
    fn emit(&mut self, case: Case) {
        (self.1)(self.0, case);
    }
}

impl Regions {
    /// Every tile, knowing the registered cells of `index` (`cfg` already validated).
    pub(crate) fn new(cfg: FakeBtsConfig, index: &CellIndex) -> Self {
        Regions::sharing(cfg, Arc::new(RwLock::new(index.keys().copied().collect())))
    }

    /// No tile yet, every tile hosted, reading `registered`.
    fn sharing(cfg: FakeBtsConfig, registered: Registered) -> Self {
        Regions {
            grid: Grid::new(&cfg),
            cfg,
            registered,
            regions: BTreeMap::new(),
            host: (0, 1),
            maintenance: None,
            findings: BTreeMap::new(),
            dropped: FakeBtsStats::default(),
            keys: Vec::new(),
        }
    }

    /// Only the tiles task `index` of `count` hosts.
    pub(crate) fn hosting(mut self, index: u64, count: u64) -> Self {
        self.host = (index, count.max(1));
        self
    }

    /// A fresh stage B of the same configuration hosting the tiles of task `index`
    /// of `count`, sharing this one's set of registered cells (an inventory update
    /// applied to either applies to both).
    pub(crate) fn sibling(&self, index: u64, count: u64) -> Self {
        Regions::sharing(self.cfg.clone(), self.registered.clone()).hosting(index, count)
    }

    fn hosts(&self, key: RegionKey) -> bool {
        self.host.1 <= 1 || key.partition(self.host.1) == self.host.0
    }

    /// A cell of the inventory registered (or not any more).
    pub(crate) fn set_registered(&mut self, key: CellKey, registered: bool) {
        let mut set = self
            .registered
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if registered {
            set.insert(key);
        } else {
            set.remove(&key);
        }
    }

    /// One message of stage A, in canonical order, to each hosted tile it reaches.
    pub(crate) fn on_forward(&mut self, f: &Forward, out: &mut dyn CaseSink) {
        self.on_forward_in(f, &mut |_, c| out.emit(c));
    }

    /// [`Regions::on_forward`], each case tagged with its tile.
    pub(crate) fn on_forward_in(&mut self, f: &Forward, out: &mut dyn FnMut(RegionKey, Case)) {
        let m = f.measurement();
        let mut keys = std::mem::take(&mut self.keys);
        self.grid.regions_of(m.lat, m.lon, &mut keys);
        for &key in &keys {
            if !self.hosts(key) {
                continue;
            }
            let t = self.regions.entry(key).or_insert_with(|| {
                let scope = Scope::new(key, self.grid);
                let mut t =
                    Transmitters::sharing(self.cfg.clone(), self.registered.clone(), Some(scope));
                t.last_maintenance_ms = self.maintenance;
                t
            });
            t.on_forward(f, &mut Tagged(key, out));
        }
        self.keys = keys;
    }

    /// Event time advanced: every tile, in key order.
    pub(crate) fn advance(&mut self, watermark_ms: i64, out: &mut dyn CaseSink) {
        self.advance_in(watermark_ms, &mut |_, c| out.emit(c));
    }

    /// [`Regions::advance`], each case tagged with its tile.
    pub(crate) fn advance_in(&mut self, watermark_ms: i64, out: &mut dyn FnMut(RegionKey, Case)) {
        for (key, t) in &mut self.regions {
            t.advance(watermark_ms, &mut Tagged(*key, out));
        }
        if self
            .maintenance
            .is_some_and(|t| watermark_ms - t < MAINTENANCE_INTERVAL_MS)
        {
            return;
        }
        self.maintenance = Some(watermark_ms);
        let empty: Vec<RegionKey> = self
            .regions
            .iter()
            .filter(|(_, t)| t.emitters.is_empty() && t.identities.is_empty())
            .map(|(k, _)| *k)
            .collect();
        for key in empty {
            if let Some(t) = self.regions.remove(&key) {
                self.keep_findings(key, &t);
                add_counts(&mut self.dropped, &t.stats);
            }
        }
    }

    /// A dropped tile's findings: per finding key, the lowest tile's wins, and a
    /// tile's latest replaces its earlier one.
    fn keep_findings(&mut self, key: RegionKey, t: &Transmitters) {
        for (k, f) in &t.findings {
            merge_finding(&mut self.findings, k.clone(), key, f.clone());
        }
    }

    /// End of input: final snapshots of every case, findings of everything else.
    pub(crate) fn finish_all(&mut self, out: &mut dyn CaseSink) {
        self.finish_all_in(&mut |_, c| out.emit(c));
    }

    /// [`Regions::finish_all`], each case tagged with its tile.
    pub(crate) fn finish_all_in(&mut self, out: &mut dyn FnMut(RegionKey, Case)) {
        for (key, t) in &mut self.regions {
            t.finish_all(&mut Tagged(*key, out));
        }
    }

    /// Every tile's findings, tagged (dropped tiles' too).
    pub(crate) fn tagged_findings(&self) -> TaggedFindings {
        let mut all = self.findings.clone();
        for (key, t) in &self.regions {
            for (k, f) in &t.findings {
                merge_finding(&mut all, k.clone(), *key, f.clone());
            }
        }
        all
    }

    /// The missing-cell findings, one per key.
    pub(crate) fn findings_map(&self) -> BTreeMap<(FindingKind, String), InventoryFinding> {
        self.tagged_findings()
            .into_iter()
            .map(|(k, (_, f))| (k, f))
            .collect()
    }

    /// Counters summed over the tiles (a transmitter near an edge is counted in
    /// each tile that tracks it; a case only where it is emitted).
    pub(crate) fn stats(&self) -> FakeBtsStats {
        let mut s = self.dropped.clone();
        for t in self.regions.values() {
            add_counts(&mut s, &t.stats);
        }
        s
    }

    /// Bytes held per part, summed over the tiles.
    pub(crate) fn state_parts(&self) -> (usize, usize, usize, usize) {
        self.regions
            .values()
            .map(Transmitters::state_parts)
            .fold((0, 0, 0, 0), |a, b| {
                (a.0 + b.0, a.1 + b.1, a.2 + b.2, a.3 + b.3)
            })
    }

    /// Candidate transmitters over the tiles (copies counted in each).
    pub(crate) fn emitter_count(&self) -> usize {
        self.regions.values().map(|t| t.emitters.len()).sum()
    }

    /// Tiles held now.
    #[cfg(test)]
    pub(crate) fn region_count(&self) -> usize {
        self.regions.len()
    }

    /// The lowest tile (tests on a few kilometres, where every tile is a whole copy).
    #[cfg(test)]
    pub(crate) fn first(&self) -> &Transmitters {
        self.regions.values().next().expect("a tile")
    }

    #[cfg(test)]
    pub(crate) fn first_mut(&mut self) -> &mut Transmitters {
        self.regions.values_mut().next().expect("a tile")
    }
}

/// Per finding key, the lowest tile's finding wins; a tile's replaces its own.
pub(crate) fn merge_finding(
    all: &mut TaggedFindings,
    k: (FindingKind, String),
    key: RegionKey,
    f: InventoryFinding,
) {
    match all.get(&k) {
        Some((had, _)) if *had < key => {}
        _ => {
            all.insert(k, (key, f));
        }
    }
}

fn add_counts(s: &mut FakeBtsStats, t: &FakeBtsStats) {
    s.localisations += t.localisations;
    s.cases_opened += t.cases_opened;
    s.cases_closed_by_cap += t.cases_closed_by_cap;
    s.case_updates += t.case_updates;
}

impl Stage for Regions {
    type In = Forward;
    type Out = Never;

    fn name(&self) -> &'static str {
        "fake_bts_transmitters"
    }

    fn on_message(&mut self, message: &Forward, out: &mut Emit<'_, Never>) {
        self.on_forward(message, out.cases());
    }

    fn on_watermark(&mut self, watermark_ms: i64, out: &mut Emit<'_, Never>) {
        self.advance(watermark_ms, out.cases());
    }

    /// Only whether a cell is registered matters here.
    fn on_reference_update(&mut self, kind: Reference, key: &str, value: Option<&[u8]>) {
        if kind != Reference::Inventory {
            return;
        }
        if let Some((cell_key, registered)) = registered_update(key, value) {
            self.set_registered(cell_key, registered);
        }
    }

    fn flush(&mut self, out: &mut Emit<'_, Never>) {
        for t in self.regions.values_mut() {
            t.snapshot_open_cases(out.cases());
        }
    }

    fn state_size(&self) -> usize {
        self.emitter_count()
    }

    fn findings(&self) -> Vec<serde_json::Value> {
        self.findings_map()
            .values()
            .filter_map(|f| serde_json::to_value(f).ok())
            .collect()
    }
}
