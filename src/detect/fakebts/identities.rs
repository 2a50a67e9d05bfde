//! Stage A of the fake-BTS detector: everything kept per claimed identity
//! (`RAT + MCC-MNC-LAC-CID`, the key the measurement feed is partitioned by), so it
//! runs as one task per partition and scales with them (docs/streaming.md,
//! "Topology"). Per report: the rules ([`check_report`], the neighbourhood verdict),
//! the identity's evidence ([`IdentityState`]: channels, profile, neighbourhood
//! cache), ciphered/unciphered conflicts, and where the report is the forged side of
//! a duplicate. It forwards ([`super::forward`]) every anomalous report, and a marker
//! for a normal report with a channel of an identity anomalous within the horizon, to
//! stage B ([`super::transmitters`]); the misplaced-cell inventory findings are made
//! here, when an identity is forgotten.
//!
//! What stage A no longer sees: which transmitters carry an identity (stage B keeps
//! that map). So an identity is forgotten once quiet for `idle_evict_secs` and, if it
//! was ever anomalous, once its last anomaly is older than the horizon
//! ([`IdentityStage::horizon_ms`]: the longest any transmitter waits for its next
//! report, `max(case_idle_evict_secs, catcher_horizon_secs, idle_evict_secs)`).
//! Markers are sent over that horizon after an anomalous report off the registered
//! channel (or without a channel): only from such a report does a transmitter carry
//! the identity on another channel, the case `mark_duplicates` acts on (a noisy
//! anomaly of a registered cell on its own channel sends no markers). A transmitter
//! refreshed by other identities for longer than the horizon (a hopping blaster with
//! a case for hours) no longer hears of a normal report of an identity it used
//! beyond it.

use super::cipher::CipherConflicts;
use super::findings::{self, FindingKind, InventoryFinding};
use super::forward::{Anomaly, Forward, Marker};
use super::identity::{IdKey, IdentityState, Profile};
use super::index::{CellIndex, FastMap, Site};
use super::locate::SolverParams;
use super::rules::{check_neighbourhood, check_report, Neighbourhood, RowChannel, Rule};
use super::stats::FakeBtsStats;
use crate::config::FakeBtsConfig;
use crate::detect::stage::{Emit, Stage};
use crate::detect::Reference;
use crate::inventory::{Inventory, InventoryChange, InventoryError};
use crate::model::{CellKey, CellMeasurement, Event};
use std::collections::BTreeMap;

/// How often idle state is evicted, in event time (both stages).
pub(super) const MAINTENANCE_INTERVAL_MS: i64 = 60_000;

/// Per-identity state of the fake-BTS detector for one partition of its input.
pub(crate) struct IdentityStage {
    pub(super) cfg: FakeBtsConfig,
    pub(super) solver: SolverParams,
    pub(super) index: CellIndex,
    /// The registered cells as loaded and updated (the index mirrors it).
    pub(super) inventory: Inventory,
    pub(super) identities: FastMap<IdKey, IdentityState>,
    /// Registered identities heard unciphered in place, and when heard ciphered.
    ciphers: CipherConflicts,
    /// Misplaced-cell findings.
    pub(super) findings: BTreeMap<(FindingKind, String), InventoryFinding>,
    /// Reports checked, anomalous, inventory updates, localisations of findings.
    pub(super) stats: FakeBtsStats,
    last_maintenance_ms: Option<i64>,
}

impl IdentityStage {
    /// Stage A over the registered cells of `index` (`cfg` already validated).
    pub(crate) fn new(cfg: FakeBtsConfig, index: CellIndex) -> Self {
        IdentityStage {
            solver: SolverParams::from_config(&cfg),
            cfg,
            index,
            inventory: Inventory::new(),
            identities: FastMap::default(),
            ciphers: CipherConflicts::default(),
            findings: BTreeMap::new(),
            stats: FakeBtsStats::default(),
            last_maintenance_ms: None,
        }
    }

    /// How long after its last anomaly an identity is still of interest to stage B:
    /// the longest any transmitter waits for its next report.
    pub(crate) fn horizon_ms(&self) -> i64 {
        self.cfg
            .idle_evict_ms()
            .max(self.cfg.catcher_horizon_ms())
            .max(self.cfg.case_idle_evict_ms())
    }

    /// Check one report and update the identity's evidence; what stage B needs of
    /// it, if anything.
    pub(crate) fn on_report(&mut self, m: &CellMeasurement) -> Option<Forward> {
        self.stats.reports_checked += 1;
        let horizon = self.horizon_ms();
        let site = self.index.get(&m.cell).copied();
        let mut check = check_report(m, site.as_ref(), &self.cfg);
        let key: IdKey = (m.rat, m.cell);
        let id = self
            .identities
            .entry(key)
            .or_insert_with(|| IdentityState::new(m.ts_ms));
        id.touch(m);
        // Same, Other or Unknown (a report or row without a channel): unknown is
        // not a match, and each use below says how it treats it
        let channel = RowChannel::of(m, site.as_ref());
        // heard ciphered and unciphered on its own channel (or with none to compare):
        // the unciphered side is forged, or forcing every phone down (cipher.rs decides
        // from the identity's own reports)
        let cipher_duplicate =
            if check.registered && channel.may_be_registered() && !check.has(Rule::NullCipher) {
                let reporter = || reporter_hash(&m.reporter);
                self.ciphers.note(key, m, reporter, &mut check, &self.cfg)
            } else {
                None
            };
        let clean_broadcast = !m.null_cipher()
            && m.neighbors
                .is_none_or(|n| n > self.cfg.max_neighbours_suspicious);
        if !check.anomalous() {
            // The normal path: a registered cell heard where and how it should be.
            if let Some(p) = id.profile.as_mut() {
                if channel.may_be_registered() && clean_broadcast {
                    p.add(
                        m,
                        reporter_hash(&m.reporter),
                        false,
                        self.cfg.max_profile_observations,
                    );
                }
            }
            // a transmitter carrying it off this channel has duplicated it
            let recent = id
                .last_off_channel_ms
                .is_some_and(|t| m.ts_ms - t <= horizon);
            return (recent && m.arfcn.is_some()).then(|| {
                Forward::Marker(Box::new(Marker {
                    m: m.clone(),
                    registered_arfcn: site.and_then(|s| s.arfcn),
                }))
            });
        }
        self.stats.anomalous_reports += 1;
        let reporter = reporter_hash(&m.reporter);
        if site.is_none() {
            neighbourhood_verdict(id, m, &self.index, &self.cfg).apply(m, &mut check);
        } else if channel.may_be_registered() && clean_broadcast {
            let misplaced = check.has(Rule::BeyondReach) || check.has(Rule::TaInconsistent);
            if misplaced && id.profile.is_none() {
                id.profile = Some(Box::new(Profile::new(m)));
            }
            if let Some(p) = id.profile.as_mut() {
                p.add(m, reporter, misplaced, self.cfg.max_profile_observations);
            }
        }
        // only a report off the registered channel (or with none to compare) can be the
        // forged side of a duplicated identity
        let forged_side = channel != RowChannel::Same;
        // with none to compare, a report whose timing advance and signal fit the
        // registered site is the real cell's side (`duplicate_site_fit`)
        let real_side =
            channel == RowChannel::Unknown && self.cfg.duplicate_site_fit && check.fits_site();
        let duplicate_at = m
            .arfcn
            .and_then(|a| id.other_channel_seen(a))
            .filter(|_| forged_side && !real_side)
            .or(cipher_duplicate);
        id.last_anomaly_ms.raise(m.ts_ms);
        // a transmitter takes it on another channel than the registered one only from
        // such a report (one without a channel agrees with any)
        if forged_side {
            id.last_off_channel_ms.raise(m.ts_ms);
        }
        Some(Forward::Anomaly(Box::new(Anomaly {
            m: m.clone(),
            check,
            reporter,
            duplicate_at,
            first_seen: id.first_seen,
        })))
    }

    /// Event time advanced: forget cipher conflicts past their window, and
    /// identities quiet for `idle_evict_secs` whose last anomaly (if any) is beyond
    /// the horizon (making their misplaced-cell findings).
    pub(crate) fn advance(&mut self, watermark_ms: i64) {
        if self
            .last_maintenance_ms
            .is_some_and(|t| watermark_ms - t < MAINTENANCE_INTERVAL_MS)
        {
            return;
        }
        self.last_maintenance_ms = Some(watermark_ms);
        let idle_before = watermark_ms - self.cfg.idle_evict_ms();
        let anomaly_before = watermark_ms - self.horizon_ms();
        self.ciphers.evict(
            watermark_ms
                - self
                    .cfg
                    .duplicate_window_ms()
                    .max(self.cfg.catcher_horizon_ms()),
        );
        let idle_ids: Vec<IdKey> = self
            .identities
            .iter()
            .filter(|(_, s)| {
                s.last_seen < idle_before && s.last_anomaly_ms.is_none_or(|t| t < anomaly_before)
            })
            .map(|(k, _)| *k)
            .collect();
        for key in idle_ids {
            if let Some(state) = self.identities.remove(&key) {
                self.consider_misplaced(key, &state);
            }
        }
    }

    /// A registered identity being forgotten: a `misplaced_cell` finding if its profile
    /// places it far from its listed coordinates.
    fn consider_misplaced(&mut self, key: IdKey, state: &IdentityState) {
        let finding = findings::misplaced_cell(
            key,
            state,
            &self.index,
            &self.cfg,
            &self.solver,
            &mut self.stats.localisations,
        );
        if let Some(f) = finding {
            self.findings.insert((f.kind, f.cell.clone()), f);
        }
    }

    /// End of input: the findings of every identity, which is forgotten.
    pub(crate) fn finish_all(&mut self) {
        let mut keys: Vec<IdKey> = self.identities.keys().copied().collect();
        keys.sort();
        for key in keys {
            if let Some(state) = self.identities.remove(&key) {
                self.consider_misplaced(key, &state);
            }
        }
    }

    /// Apply one record of the inventory topic (`value` `None`/null removes the cell)
    /// and keep the spatial index in step. A refused update changes nothing. Returns
    /// the cell the update was about, for stage B.
    pub(crate) fn apply_inventory_update(
        &mut self,
        key: &str,
        value: Option<&[u8]>,
    ) -> Result<(InventoryChange, Option<CellKey>), InventoryError> {
        let change = self.inventory.apply_update(key, value)?;
        let mut applied = None;
        if let Some(cell_key) = CellKey::parse(key.trim()) {
            let site = self.inventory.get(&cell_key).map(Site::from);
            self.apply_site(cell_key, site);
            applied = Some(cell_key);
        }
        Ok((change, applied))
    }

    /// Insert, replace or (with `None`) remove one registered cell of the index.
    pub(crate) fn apply_site(&mut self, key: CellKey, site: Option<Site>) {
        self.stats.inventory_updates += 1;
        match site {
            Some(s) => self.index.upsert(s),
            None => {
                self.index.remove(&key);
            }
        }
    }

    /// Of the open-state gauge: identities held.
    pub(crate) fn len(&self) -> usize {
        self.identities.len()
    }
}

impl Stage for IdentityStage {
    type In = Event;
    type Out = Forward;

    fn name(&self) -> &'static str {
        "fake_bts_identities"
    }

    fn on_message(&mut self, message: &Event, out: &mut Emit<'_, Forward>) {
        if let Event::Measurement(m) = message {
            if let Some(f) = self.on_report(m) {
                out.forward(f);
            }
        }
    }

    fn on_watermark(&mut self, watermark_ms: i64, _out: &mut Emit<'_, Forward>) {
        self.advance(watermark_ms);
    }

    fn on_reference_update(&mut self, kind: Reference, key: &str, value: Option<&[u8]>) {
        if kind != Reference::Inventory {
            return;
        }
        if let Err(e) = self.apply_inventory_update(key, value) {
            tracing::warn!(key, error = %e, "inventory update refused");
        }
    }

    /// Nothing pending: a forward is sent with its report.
    fn flush(&mut self, _out: &mut Emit<'_, Forward>) {}

    fn state_size(&self) -> usize {
        self.identities.len()
    }

    fn findings(&self) -> Vec<serde_json::Value> {
        self.findings
            .values()
            .filter_map(|f| serde_json::to_value(f).ok())
            .collect()
    }
}

/// Whether an unregistered identity's neighbours are consistent with the place it is
/// heard at, cached per ≈ 2 km grid square of the reporter.
fn neighbourhood_verdict(
    id: &mut IdentityState,
    m: &CellMeasurement,
    index: &CellIndex,
    cfg: &FakeBtsConfig,
) -> Neighbourhood {
    let cell = grid_cell(m.lat, m.lon);
    match id.neighbourhood {
        Some((c, v)) if c == cell => v,
        _ => {
            let v = check_neighbourhood(m, index, cfg);
            id.neighbourhood = Some((cell, v));
            v
        }
    }
}

/// FNV-1a of a reporter pseudonym: a stable 64-bit key for distinct-reporter counts.
#[inline]
fn reporter_hash(reporter: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in reporter.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// ≈ 2 km grid square of a position (neighbourhood cache key).
#[inline]
fn grid_cell(lat: f64, lon: f64) -> (i32, i32) {
    ((lat * 50.0).floor() as i32, (lon * 50.0).floor() as i32)
}
