//! The fake-BTS detector: per report, run the rules, keep per-identity evidence, and
//! route anomalous reports to candidate transmitters (linking hopping identities by
//! place, time and radio signature); open a case when a transmitter's additive score
//! crosses the threshold with enough independent reporters; localise and track it on
//! watermarks. Which transmitter a report belongs to is decided in
//! [`super::select`], case snapshots are built in [`super::snapshot`], inventory
//! findings decided in [`super::findings`].

use super::absorb::Explained;
use super::cipher::CipherConflicts;
use super::emitter::{Emitter, EvidenceSpec};
use super::findings::{self, FindingKind, InventoryFinding};
use super::identity::{cell_key, claimed_cell, IdKey, IdentityState, Profile};
use super::index::{CellIndex, FastMap, Site};
use super::locate::SolverParams;
use super::rules::{check_neighbourhood, check_report, Neighbourhood, ReportCheck, Rule};
use super::signature::Signature;
use super::signs;
use super::snapshot::{emit_snapshot, material_change, CaseState};
use super::stats::{FakeBtsStats, StateParts};
use crate::config::{ConfigError, FakeBtsConfig};
use crate::detect::{CaseSink, Detector};
use crate::inventory::{Inventory, InventoryChange, InventoryError};
use crate::model::{CellKey, CellMeasurement, Event, Feed};
use std::collections::BTreeMap;

/// Detects rogue base stations and SMS blasters in cell-measurement reports.
pub struct FakeBtsDetector {
    pub(super) cfg: FakeBtsConfig,
    pub(super) solver: SolverParams,
    pub(super) spec: EvidenceSpec,
    pub(super) index: CellIndex,
    /// The registered cells as loaded and updated (the index mirrors it).
    inventory: Inventory,
    pub(super) identities: FastMap<IdKey, IdentityState>,
    /// Boxed: a B-tree node holds 11 values and is often half full, so inline
    /// transmitters (≈ 1.1 kB each) left ≈ 0.5 kB of node per transmitter unused.
    pub(super) emitters: BTreeMap<u64, Box<Emitter>>,
    /// Emitters with a forged-looking signature: the only candidates for linking.
    pub(super) suspicious: Vec<u64>,
    pub(super) next_emitter: u64,
    findings: BTreeMap<(FindingKind, String), InventoryFinding>,
    /// Registered identities heard unciphered in place, and when heard ciphered.
    ciphers: CipherConflicts,
    pub(super) stats: FakeBtsStats,
    last_maintenance_ms: Option<i64>,
}

/// How often idle state is evicted, in event time.
const MAINTENANCE_INTERVAL_MS: i64 = 60_000;

impl FakeBtsDetector {
    /// A detector over the registered cells of `inventory` (the spatial index is
    /// built here, in one bulk load). An invalid `[fakebts]` section is refused.
    pub fn new(cfg: FakeBtsConfig, inventory: Inventory) -> Result<Self, ConfigError> {
        let index = CellIndex::from_sites(inventory.iter_sorted().map(Site::from));
        let mut d = Self::with_index(cfg, index)?;
        d.inventory = inventory;
        Ok(d)
    }

    /// Apply one record of the inventory topic (`value` `None`/null removes the cell)
    /// and keep the spatial index in step. A refused update changes nothing.
    pub(crate) fn apply_inventory_update(
        &mut self,
        key: &str,
        value: Option<&[u8]>,
    ) -> Result<InventoryChange, InventoryError> {
        let change = self.inventory.apply_update(key, value)?;
        if let Some(cell_key) = CellKey::parse(key.trim()) {
            let site = self.inventory.get(&cell_key).map(Site::from);
            self.apply_site(cell_key, site);
        }
        Ok(change)
    }

    /// A detector over an already built index (its inventory starts empty; topic
    /// updates still insert, replace and remove cells). An invalid `[fakebts]`
    /// section is refused.
    pub(crate) fn with_index(cfg: FakeBtsConfig, index: CellIndex) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let spec = EvidenceSpec::covering(cfg.evidence_window_ms())
            .or_else(|_| EvidenceSpec::new((cfg.evidence_window_ms() / 6).max(1_000)))
            .unwrap_or_else(|_| EvidenceSpec::new(300_000).expect("5 min buckets are valid"));
        Ok(FakeBtsDetector {
            solver: SolverParams::from_config(&cfg),
            spec,
            cfg,
            index,
            inventory: Inventory::new(),
            identities: FastMap::default(),
            emitters: BTreeMap::new(),
            suspicious: Vec::new(),
            next_emitter: 1,
            findings: BTreeMap::new(),
            ciphers: CipherConflicts::default(),
            stats: FakeBtsStats::default(),
            last_maintenance_ms: None,
        })
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

    /// The inventory discrepancies found so far, in a deterministic order.
    pub(crate) fn findings(&self) -> Vec<InventoryFinding> {
        self.findings.values().cloned().collect()
    }

    pub(crate) fn stats(&self) -> FakeBtsStats {
        let mut s = self.stats.clone();
        s.identities_tracked = self.identities.len();
        s.emitters_tracked = self.emitters.len();
        s.inventory_findings = self.findings.len();
        let (mut ids, mut profiles) = (0usize, 0usize);
        for id in self.identities.values() {
            let p = id.profile_bytes();
            profiles += p;
            ids += id.state_bytes() - p;
        }
        let (mut emitters, mut observations, mut reporters) = (0usize, 0usize, 0usize);
        for e in self.emitters.values() {
            let (o, r) = e.state_parts();
            observations += o;
            reporters += r;
            emitters += e.state_bytes() - o - r;
        }
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
        s.state_bytes_per_identity = if self.identities.is_empty() {
            0.0
        } else {
            (bytes as f64 / n).round()
        };
        s
    }

    /// Check one report and update the evidence; emits a case snapshot when a
    /// transmitter crosses the threshold or gains an identity.
    pub fn on_measurement(&mut self, m: &CellMeasurement, out: &mut dyn CaseSink) {
        self.stats.reports_checked += 1;
        let site = self.index.get(&m.cell).copied();
        let mut check = check_report(m, site.as_ref(), &self.cfg);
        let key: IdKey = (m.rat, m.cell);
        let id = self
            .identities
            .entry(key)
            .or_insert_with(|| IdentityState::new(m.ts_ms));
        id.touch(m);
        let on_registered_channel = site.is_some_and(|s| match (m.arfcn, s.arfcn) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        });
        // heard ciphered and unciphered on its own channel: the unciphered side is forged
        // (or forcing every phone down: cipher.rs)
        let cipher_duplicate =
            if check.registered && on_registered_channel && !check.has(Rule::NullCipher) {
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
                if on_registered_channel && clean_broadcast {
                    p.add(
                        m,
                        reporter_hash(&m.reporter),
                        false,
                        self.cfg.max_profile_observations,
                    );
                }
            }
            mark_duplicates(id, &mut self.emitters, m, site.as_ref());
            return;
        }
        self.stats.anomalous_reports += 1;
        let reporter = reporter_hash(&m.reporter);
        if site.is_none() {
            neighbourhood_verdict(id, m, &self.index, &self.cfg).apply(m, &mut check);
        } else if on_registered_channel && clean_broadcast {
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
        let forged_side = !on_registered_channel || site.is_none_or(|s| s.arfcn.is_none());
        let duplicate_at = m
            .arfcn
            .and_then(|a| id.other_channel_seen(a))
            .filter(|_| forged_side)
            .or(cipher_duplicate);
        let signature = Signature::of(m, &check);
        let (eid, linked) = self.select_emitter(key, m, &check, signature);
        if linked {
            tracing::debug!(emitter = eid, cell = %m.cell, "identity linked to a known transmitter");
        } else {
            self.detach_coexisting(eid, m, out);
        }
        self.attribute_report(eid, m, &check, reporter, duplicate_at, out);
    }

    /// Add an anomalous report to its transmitter; open the transmitter's case when the
    /// evidence crosses the threshold, or report a newly linked identity at once.
    fn attribute_report(
        &mut self,
        eid: u64,
        m: &CellMeasurement,
        check: &ReportCheck,
        reporter: u64,
        duplicate_at: Option<i64>,
        out: &mut dyn CaseSink,
    ) {
        let Some(e) = self.emitters.get_mut(&eid) else {
            return;
        };
        let identities_before = e.identities.len();
        if e.add_report(m, check, reporter, &self.spec, &self.cfg) {
            // a candidate started on reports without cipher or neighbours that a report
            // now shows forged-looking: a candidate for linking from now on
            enlist(&mut self.suspicious, eid);
        }
        if let Some(t) = duplicate_at {
            if m.ts_ms - t <= self.cfg.duplicate_window_ms() {
                e.duplicate_seen_ms = Some(e.duplicate_seen_ms.map_or(t, |d| d.max(t)));
            }
        }
        let new_identity = e.identities.len() > identities_before;
        if e.case.is_none() {
            let a = e.assess(m.ts_ms, &self.spec, &self.cfg);
            // enough phones, or (a low-power catcher heard by one passer-by) enough
            // independent signs in the reports there are
            let opening = if a.crosses(&self.cfg) {
                Some(a)
            } else {
                signs::opens_on_signs(&a, &self.cfg)
            };
            if let Some(a) = opening {
                // a transmitter that already has a case takes the candidate over
                match self.explained_by_case(eid) {
                    Explained::By(into) => return self.absorb_into(eid, into, m.ts_ms, out),
                    Explained::Wait => return,
                    Explained::No => {}
                }
                let Some(e) = self.emitters.get_mut(&eid) else {
                    return;
                };
                e.localise(m.ts_ms, &self.cfg, &self.solver);
                self.stats.localisations += 1;
                let first = e.identities.first().map_or(claimed_cell(m), |c| c.0);
                e.case = Some(Box::new(CaseState::open(&first, m.ts_ms, a)));
                // its case says it is forged: with its flags unknown, it may link
                // identities from now on
                if e.signature.may_be_forged() {
                    enlist(&mut self.suspicious, eid);
                }
                self.stats.cases_opened += 1;
                tracing::info!(case_points = a.points, reporters = a.reporters, cell = %m.cell, "fake bts case opened");
                emit_snapshot(e, &self.cfg, &self.spec, out, &mut self.stats, true);
                self.make_room(eid, out);
            }
        } else if new_identity {
            // The new identity is reported at once; the position is refreshed on the
            // locate_interval schedule only: a hopping transmitter changes identity
            // every few seconds to minutes, and a fix is a pass over its observations
            // (per-report cost would otherwise grow with the observations kept).
            let due = e
                .last_locate_ms
                .is_none_or(|t| m.ts_ms - t >= self.cfg.locate_interval_ms());
            if due {
                e.localise(m.ts_ms, &self.cfg, &self.solver);
                self.stats.localisations += 1;
            }
            emit_snapshot(e, &self.cfg, &self.spec, out, &mut self.stats, false);
        }
    }

    /// Event time advanced: localise transmitters with cases, emit material changes,
    /// evict idle state.
    pub fn advance(&mut self, watermark_ms: i64, out: &mut dyn CaseSink) {
        let interval = self.cfg.locate_interval_ms();
        for e in self.emitters.values_mut() {
            if e.case.is_none() || e.reports_since_locate == 0 {
                continue;
            }
            if e.last_locate_ms
                .is_some_and(|t| watermark_ms - t < interval)
            {
                continue;
            }
            e.localise(watermark_ms, &self.cfg, &self.solver);
            self.stats.localisations += 1;
            if material_change(e, &self.cfg) {
                emit_snapshot(e, &self.cfg, &self.spec, out, &mut self.stats, false);
            }
        }
        if self
            .last_maintenance_ms
            .is_some_and(|t| watermark_ms - t < MAINTENANCE_INTERVAL_MS)
        {
            return;
        }
        self.last_maintenance_ms = Some(watermark_ms);
        let idle_before = watermark_ms - self.cfg.idle_evict_ms();
        let case_idle_before = watermark_ms - self.cfg.case_idle_evict_ms();
        // a candidate with forged signs waits for its next phone over the catcher
        // horizon (a low-power transmitter is heard once an hour or two)
        let forged_idle_before =
            watermark_ms - self.cfg.idle_evict_ms().max(self.cfg.catcher_horizon_ms());
        let idle: Vec<u64> = self
            .emitters
            .values()
            .filter(|e| {
                e.last_seen
                    < if e.case.is_some() {
                        case_idle_before
                    } else if e.forged_seen() {
                        forged_idle_before
                    } else {
                        idle_before
                    }
            })
            .map(|e| e.id)
            .collect();
        for eid in idle {
            self.retire_emitter(eid, out);
        }
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
            .filter(|(_, s)| s.last_seen < idle_before && s.emitters.is_empty())
            .map(|(k, _)| *k)
            .collect();
        for key in idle_ids {
            if let Some(state) = self.identities.remove(&key) {
                self.consider_misplaced(key, &state);
            }
        }
    }

    /// More than `fakebts.max_open_cases` open after the case of `opened` opened:
    /// close the open case idle the longest (earliest last report; ties: the lowest
    /// emitter id, so the choice depends on the input only) with its final snapshot, as
    /// if its transmitter had gone quiet. Nothing is dropped; a warning is logged.
    fn make_room(&mut self, opened: u64, out: &mut dyn CaseSink) {
        let open = self.emitters.values().filter(|e| e.case.is_some()).count();
        if open <= self.cfg.max_open_cases {
            return;
        }
        let oldest = self
            .emitters
            .values()
            .filter(|e| e.case.is_some() && e.id != opened)
            .map(|e| (e.last_seen, e.id))
            .min();
        let Some((_, eid)) = oldest else { return };
        self.retire_emitter(eid, out);
        self.stats.cases_closed_by_cap += 1;
        let n = self.stats.cases_closed_by_cap;
        if n == 1 || n.is_power_of_two() {
            tracing::warn!(
                max_open_cases = self.cfg.max_open_cases,
                closed_by_cap_total = n,
                "fakebts.max_open_cases reached: the longest-idle open fake_bts case was closed with its final snapshot; raise fakebts.max_open_cases if this repeats"
            );
        }
    }

    /// Final snapshot or inventory finding of an emitter, then forget it.
    fn retire_emitter(&mut self, eid: u64, out: &mut dyn CaseSink) {
        let Some(mut e) = self.emitters.remove(&eid) else {
            return;
        };
        self.suspicious.retain(|&s| s != eid);
        for (cell, _) in &e.identities {
            let key = (cell.rat, cell_key(cell));
            if let Some(id) = self.identities.get_mut(&key) {
                id.emitters.retain(|&x| x != eid);
            }
        }
        if e.case.is_some() {
            if e.reports_since_locate > 0 {
                e.localise(e.last_seen, &self.cfg, &self.solver);
                self.stats.localisations += 1;
            }
            emit_snapshot(&mut e, &self.cfg, &self.spec, out, &mut self.stats, false);
        } else {
            let finding = findings::missing_cell(
                &mut e,
                &self.index,
                &self.spec,
                &self.cfg,
                &self.solver,
                &mut self.stats.localisations,
            );
            self.record_finding(finding);
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
        self.record_finding(finding);
    }

    fn record_finding(&mut self, finding: Option<InventoryFinding>) {
        if let Some(f) = finding {
            self.findings.insert((f.kind, f.cell.clone()), f);
        }
    }

    /// End of input: final snapshots of every case, findings of everything else.
    pub fn finish_all(&mut self, out: &mut dyn CaseSink) {
        let ids: Vec<u64> = self.emitters.keys().copied().collect();
        for eid in ids {
            self.retire_emitter(eid, out);
        }
        let keys: Vec<IdKey> = self.identities.keys().copied().collect();
        let mut keys = keys;
        keys.sort();
        for key in keys {
            if let Some(state) = self.identities.remove(&key) {
                self.consider_misplaced(key, &state);
            }
        }
    }

    /// Candidate transmitters currently tracked (for benchmarks and diagnostics).
    pub fn emitter_count(&self) -> usize {
        self.emitters.len()
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
        vec![("fakebts", self.stats.cases_closed_by_cap)]
    }
}

/// A registered identity heard normally: transmitters carrying it on another channel
/// (off the registered one) have duplicated it (`DUPLICATE_IDENTITY`) now.
#[inline]
fn mark_duplicates(
    id: &IdentityState,
    emitters: &mut BTreeMap<u64, Box<Emitter>>,
    m: &CellMeasurement,
    site: Option<&Site>,
) {
    let (false, Some(arfcn)) = (id.emitters.is_empty(), m.arfcn) else {
        return;
    };
    let registered_arfcn = site.and_then(|s| s.arfcn);
    for eid in &id.emitters {
        if let Some(e) = emitters.get_mut(eid) {
            // the forged side is the one off the registered channel
            if e.signature.arfcn.is_some_and(|a| a != arfcn)
                && (registered_arfcn.is_none() || e.signature.arfcn != registered_arfcn)
            {
                e.duplicate_seen_ms = Some(e.duplicate_seen_ms.map_or(m.ts_ms, |t| t.max(m.ts_ms)));
            }
        }
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

/// Add `eid` to the candidates for linking (`FakeBtsDetector::suspicious`) once.
fn enlist(suspicious: &mut Vec<u64>, eid: u64) {
    if !suspicious.contains(&eid) {
        suspicious.push(eid);
    }
}
