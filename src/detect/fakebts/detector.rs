//! The fake-BTS detector: per report, run the rules, keep per-identity evidence, and
//! route anomalous reports to candidate transmitters (linking hopping identities by
//! place, time and radio signature); open a case when a transmitter's additive score
//! crosses the threshold with enough independent reporters; localise and track it on
//! watermarks.
//!
//! It is two stages run in sequence in one process (docs/streaming.md, "Topology"):
//! [`IdentityStage`] (stage A, per claimed identity: the rules, identity evidence,
//! misplaced-cell findings) forwards each anomalous report, and a marker for a
//! normal report of a recently anomalous identity, to [`Transmitters`] (stage B:
//! transmitters, cases, missing-cell findings) at once. Stage A never reads stage B,
//! so B sees the same sequence as when A runs as several tasks whose forwards are
//! merged in canonical order (`tests_stages.rs` checks it). Which transmitter a report
//! belongs to is decided in [`super::select`], case snapshots are built in
//! [`super::snapshot`], inventory findings decided in [`super::findings`].

use super::findings::InventoryFinding;
use super::identities::IdentityStage;
use super::index::{CellIndex, Site};
use super::regional::Regions;
use super::stats::{FakeBtsStats, StateParts};
use crate::config::{ConfigError, FakeBtsConfig};
use crate::detect::{CaseSink, Detector};
use crate::inventory::{Inventory, InventoryChange, InventoryError};
use crate::model::{CellKey, CellMeasurement, Event, Feed};

/// Detects rogue base stations and SMS blasters in cell-measurement reports.
pub struct FakeBtsDetector {
    /// Stage A: per claimed identity.
    pub(super) identities: IdentityStage,
    /// Stage B: transmitters and cases, by region.
    pub(super) transmitters: Regions,
}

impl FakeBtsDetector {
    /// A detector over the registered cells of `inventory` (the spatial index is
    /// built here, in one bulk load). An invalid `[fakebts]` section is refused.
    pub fn new(cfg: FakeBtsConfig, inventory: Inventory) -> Result<Self, ConfigError> {
        let index = CellIndex::from_sites(inventory.iter_sorted().map(Site::from));
        let mut d = Self::with_index(cfg, index)?;
        d.identities.inventory = inventory;
        Ok(d)
    }

    /// Apply one record of the inventory topic (`value` `None`/null removes the cell)
    /// and keep the spatial index in step. A refused update changes nothing.
    pub(crate) fn apply_inventory_update(
        &mut self,
        key: &str,
        value: Option<&[u8]>,
    ) -> Result<InventoryChange, InventoryError> {
        let (change, applied) = self.identities.apply_inventory_update(key, value)?;
        if let Some(cell_key) = applied {
            self.sync_registered(cell_key);
        }
        Ok(change)
    }

    /// A detector over an already built index (its inventory starts empty; topic
    /// updates still insert, replace and remove cells). An invalid `[fakebts]`
    /// section is refused.
    pub(crate) fn with_index(cfg: FakeBtsConfig, index: CellIndex) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let transmitters = Regions::new(cfg.clone(), &index);
        Ok(FakeBtsDetector {
            identities: IdentityStage::new(cfg, index),
            transmitters,
        })
    }

    /// The two stages, to run apart (the service's stage A tasks and stage B task).
    pub(crate) fn into_stages(self) -> (IdentityStage, Regions) {
        (self.identities, self.transmitters)
    }

    /// Stage B learns whether `key` is in stage A's index now.
    fn sync_registered(&mut self, key: CellKey) {
        let registered = self.identities.index.get(&key).is_some();
        self.transmitters.set_registered(key, registered);
    }

    /// The inventory discrepancies found so far, in a deterministic order (missing
    /// cells from stage B, misplaced ones from stage A: distinct kinds).
    pub(crate) fn findings(&self) -> Vec<InventoryFinding> {
        let missing = self.transmitters.findings_map();
        let mut all: Vec<_> = self
            .identities
            .findings
            .iter()
            .chain(missing.iter())
            .collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all.into_iter().map(|(_, f)| f.clone()).collect()
    }

    pub(crate) fn stats(&self) -> FakeBtsStats {
        let (a, b) = (&self.identities.stats, &self.transmitters.stats());
        let mut s = FakeBtsStats {
            reports_checked: a.reports_checked,
            anomalous_reports: a.anomalous_reports,
            inventory_updates: a.inventory_updates,
            localisations: a.localisations + b.localisations,
            cases_opened: b.cases_opened,
            cases_closed_by_cap: b.cases_closed_by_cap,
            case_updates: b.case_updates,
            ..FakeBtsStats::default()
        };
        s.identities_tracked = self.identities.len();
        s.emitters_tracked = self.transmitters.emitter_count();
        s.inventory_findings =
            self.identities.findings.len() + self.transmitters.findings_map().len();
        let (mut ids, mut profiles) = (0usize, 0usize);
        for id in self.identities.identities.values() {
            let p = id.profile_bytes();
            profiles += p;
            ids += id.state_bytes() - p;
        }
        let (carriers, emitters, observations, reporters) = self.transmitters.state_parts();
        ids += carriers;
        let n = self.identities.len().max(1) as f64;
        let per = |b: usize| (b as f64 / n).round();
        s.state_parts = StateParts {
            identities: per(ids),
            profiles: per(profiles),
            emitters: per(emitters),
            observations: per(observations),
            reporters: per(reporters),
        };
        let bytes = ids + profiles + emitters + observations + reporters;
        s.state_bytes_per_identity = if self.identities.len() == 0 {
            0.0
        } else {
            (bytes as f64 / n).round()
        };
        s
    }

    /// Check one report and update the evidence; emits a case snapshot when a
    /// transmitter crosses the threshold or gains an identity.
    pub fn on_measurement(&mut self, m: &CellMeasurement, out: &mut dyn CaseSink) {
        if let Some(f) = self.identities.on_report(m) {
            self.transmitters.on_forward(&f, out);
        }
    }

    /// Event time advanced: localise transmitters with cases, emit material changes,
    /// evict idle state.
    pub fn advance(&mut self, watermark_ms: i64, out: &mut dyn CaseSink) {
        self.transmitters.advance(watermark_ms, out);
        self.identities.advance(watermark_ms);
    }

    /// End of input: final snapshots of every case, findings of everything else.
    pub fn finish_all(&mut self, out: &mut dyn CaseSink) {
        self.transmitters.finish_all(out);
        self.identities.finish_all();
    }

    /// Candidate transmitters currently tracked (for benchmarks and diagnostics).
    pub fn emitter_count(&self) -> usize {
        self.transmitters.emitter_count()
    }
}

impl Detector for FakeBtsDetector {
    fn name(&self) -> &'static str {
        "fake_bts"
    }

    fn feed(&self) -> Option<Feed> {
        Some(Feed::Measurements)
    }

    fn on_event(&mut self, event: &Event, out: &mut dyn CaseSink) {
        if let Event::Measurement(m) = event {
            self.on_measurement(m, out);
        }
    }

    fn on_watermark(&mut self, watermark_ms: i64, out: &mut dyn CaseSink) {
        self.advance(watermark_ms, out);
    }

    fn finish(&mut self, out: &mut dyn CaseSink) {
        self.finish_all(out);
    }

    /// Inventory topic updates keep the spatial index current.
    fn on_reference_update(
        &mut self,
        kind: crate::detect::Reference,
        key: &str,
        value: Option<&[u8]>,
    ) {
        if kind != crate::detect::Reference::Inventory {
            return;
        }
        if let Err(e) = self.apply_inventory_update(key, value) {
            tracing::warn!(key, error = %e, "inventory update refused");
        }
    }

    fn findings(&self) -> Vec<serde_json::Value> {
        FakeBtsDetector::findings(self)
            .iter()
            .filter_map(|f| serde_json::to_value(f).ok())
            .collect()
    }

    fn state_size(&self) -> usize {
        self.identities.len()
    }

    fn cases_closed_by_cap(&self) -> Vec<(&'static str, u64)> {
        vec![("fakebts", self.transmitters.stats().cases_closed_by_cap)]
    }
}
