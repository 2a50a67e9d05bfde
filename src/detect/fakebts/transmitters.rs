//! Stage B of the fake-BTS detector: candidate transmitters, fed by what stage A
//! ([`super::identities`]) forwards ([`super::forward`]): a small fraction of the
//! reports, on one task. Routes anomalous reports to transmitters (which one:
//! [`super::select`]; linking, splitting and absorbing: `link.rs`, `split.rs`,
//! `absorb.rs`), opens a case when a transmitter's additive score crosses the
//! threshold with enough independent reporters, localises and tracks it on
//! watermarks, retires idle transmitters (final snapshot, or a missing-cell finding),
//! and caps the open cases (`max_open_cases`).
//!
//! What stage B reads that is kept per identity, and how it gets it:
//! - which transmitters carry an identity: its own map ([`Carriers`], what
//!   `IdentityState::emitters` was), updated where transmitters take, give up or
//!   hand over identities (select, split, absorb, retire);
//! - when the identity was first heard (linking's "on air beside"): sent with each
//!   anomaly (`Anomaly::first_seen`), kept in [`Carriers::first_seen`];
//! - the rules' verdict, the reporter hash and whether the report is the forged side
//!   of a duplicate: sent with each anomaly; a normal report of a duplicated identity
//!   arrives as a marker;
//! - whether the identity a transmitter first broadcast is registered (for the
//!   missing-cell finding): its own set of registered keys, kept in step with the
//!   inventory updates.
//!
//! Nothing else crosses: profiles, channels, neighbourhood caches and cipher
//! conflicts stay in stage A.

use super::absorb::Explained;
use super::emitter::{Emitter, EvidenceSpec};
use super::findings::{self, FindingKind, InventoryFinding};
use super::forward::{Anomaly, Forward, Marker};
use super::identities::MAINTENANCE_INTERVAL_MS;
use super::identity::{cell_key, claimed_cell, IdKey};
use super::index::{FastMap, Site};
use super::locate::SolverParams;
use super::regions::Scope;
use super::rules::{ReportCheck, Rule};
use super::signature::Signature;
use super::signs;
use super::snapshot::{emit_snapshot, material_change, CaseState};
use super::stats::FakeBtsStats;
use crate::config::FakeBtsConfig;
use crate::detect::CaseSink;
use crate::inventory::Inventory;
use crate::model::{CellKey, CellMeasurement};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};

/// Keys of the registered cells, shared by the regions of one task.
pub(crate) type Registered = Arc<RwLock<HashSet<CellKey, foldhash::fast::RandomState>>>;

/// Of one identity, what stage B keeps.
#[derive(Debug, Clone, Default)]
pub(crate) struct Carriers {
    /// When stage A first heard it (as of its last anomaly).
    pub(crate) first_seen: i64,
    /// Candidate transmitters carrying this identity.
    pub(crate) emitters: Vec<u64>,
}

/// The transmitter stage of the fake-BTS detector.
pub(crate) struct Transmitters {
    pub(super) cfg: FakeBtsConfig,
    pub(super) solver: SolverParams,
    pub(super) spec: EvidenceSpec,
    /// Identities carried by at least one transmitter (entries left empty are
    /// dropped at maintenance).
    pub(super) identities: FastMap<IdKey, Carriers>,
    /// Keys of the registered cells (the missing-cell finding asks).
    registered: Registered,
    /// The region this stage is, when stage B is divided by place (`regions.rs`).
    pub(super) scope: Option<Box<Scope>>,
    /// Boxed: a B-tree node holds 11 values and is often half full, so inline
    /// transmitters (≈ 1.1 kB each) left ≈ 0.5 kB of node per transmitter unused.
    pub(super) emitters: BTreeMap<u64, Box<Emitter>>,
    /// Emitters with a forged-looking signature: the only candidates for linking.
    pub(super) suspicious: Vec<u64>,
    pub(super) next_emitter: u64,
    /// Missing-cell findings.
    pub(super) findings: BTreeMap<(FindingKind, String), InventoryFinding>,
    /// Cases, snapshots, localisations of transmitters.
    pub(super) stats: FakeBtsStats,
    pub(super) last_maintenance_ms: Option<i64>,
}

impl Transmitters {
    /// Stage B (or one region of it, `scope`) reading the shared `registered` keys.
    pub(crate) fn sharing(
        cfg: FakeBtsConfig,
        registered: Registered,
        scope: Option<Scope>,
    ) -> Self {
        let spec = EvidenceSpec::covering(cfg.evidence_window_ms())
            .or_else(|_| EvidenceSpec::new((cfg.evidence_window_ms() / 6).max(1_000)))
            .unwrap_or_else(|_| EvidenceSpec::new(300_000).expect("5 min buckets are valid"));
        Transmitters {
            solver: SolverParams::from_config(&cfg),
            spec,
            cfg,
            identities: FastMap::default(),
            registered,
            scope: scope.map(Box::new),
            emitters: BTreeMap::new(),
            suspicious: Vec::new(),
            next_emitter: 1,
            findings: BTreeMap::new(),
            stats: FakeBtsStats::default(),
            last_maintenance_ms: None,
        }
    }

    /// One message of stage A, in canonical order.
    pub(crate) fn on_forward(&mut self, f: &Forward, out: &mut dyn CaseSink) {
        match f {
            Forward::Anomaly(a) => self.on_anomaly(a, out),
            Forward::Marker(k) => self.on_marker(k),
        }
    }

    /// An anomalous report: to its transmitter.
    fn on_anomaly(&mut self, a: &Anomaly, out: &mut dyn CaseSink) {
        let (m, check) = (&a.m, &a.check);
        let key: IdKey = (m.rat, m.cell);
        self.identities.entry(key).or_default().first_seen = a.first_seen;
        let signature = Signature::of(m, check);
        let (eid, linked) = self.select_emitter(key, m, check, signature);
        if linked {
            tracing::debug!(emitter = eid, cell = %m.cell, "identity linked to a known transmitter");
        } else {
            self.detach_coexisting(eid, m, out);
        }
        self.attribute_report(eid, m, check, a.reporter, a.duplicate_at, out);
        self.hand_over(eid, m, out);
    }

    /// A normal report of an identity: transmitters carrying it off its channel have
    /// duplicated it.
    fn on_marker(&mut self, k: &Marker) {
        let key: IdKey = (k.m.rat, k.m.cell);
        if let Some(id) = self.identities.get(&key) {
            let fit = (k.registered_arfcn.is_none() && self.cfg.duplicate_site_fit)
                .then_some((&self.spec, &self.cfg));
            mark_duplicates(
                &id.emitters,
                &mut self.emitters,
                &k.m,
                k.registered_arfcn,
                fit,
            );
        }
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
            // heard only with copies of registered cells, one from next to the phone
            // far from its site, its cipher and neighbours never told, and turning its
            // phones down or messaging them (an event holds): a cloning blaster that
            // only apps and MDT hear, a candidate for linking before any case (before,
            // each copy was a transmitter of its own with nothing forged to open a
            // case on); a real cell listed at the wrong place sees the odd event only
            if e.clones_far() && e.signature.may_be_forged() && a.holds & PROTOCOL_EVENTS != 0 {
                enlist(&mut self.suspicious, eid);
            }
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
                let owned = self.emitters.get(&eid).is_some_and(|e| self.owns(e));
                let Some(e) = self.emitters.get_mut(&eid) else {
                    return;
                };
                e.localise(m.ts_ms, &self.cfg, &self.solver);
                self.stats.localisations += 1;
                let first = e.identities.first().map_or(claimed_cell(m), |c| c.0);
                let tile = self
                    .scope
                    .as_ref()
                    .filter(|s| s.grid.tiled())
                    .map(|s| (s.key.row, s.key.col));
                let mut case = CaseState::open(&first, m.ts_ms, a, tile);
                case.muted = !owned;
                e.case = Some(Box::new(case));
                // its case says it is forged: with its flags unknown, it may link
                // identities from now on
                if e.signature.may_be_forged() {
                    enlist(&mut self.suspicious, eid);
                }
                if owned {
                    self.stats.cases_opened += 1;
                    tracing::info!(case_points = a.points, reporters = a.reporters, cell = %m.cell, "fake bts case opened");
                }
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
    /// retire idle transmitters.
    pub(crate) fn advance(&mut self, watermark_ms: i64, out: &mut dyn CaseSink) {
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
        self.identities.retain(|_, c| !c.emitters.is_empty());
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
        let owned = self.owns(&e);
        self.forget_taken(eid);
        self.suspicious.retain(|&s| s != eid);
        for (cell, _) in &e.identities {
            let key = (cell.rat, cell_key(cell));
            if let Some(id) = self.identities.get_mut(&key) {
                id.emitters.retain(|&x| x != eid);
            }
        }
        if e.case.is_some() {
            if e.settle_fix(&self.cfg, &self.solver) {
                self.stats.localisations += 1;
            }
            emit_snapshot(&mut e, &self.cfg, &self.spec, out, &mut self.stats, false);
        } else if owned {
            let registered = self
                .registered
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            let finding = findings::missing_cell(
                &mut e,
                &|k| registered.contains(k),
                &self.spec,
                &self.cfg,
                &self.solver,
                &mut self.stats.localisations,
            );
            if let Some(f) = finding {
                self.findings.insert((f.kind, f.cell.clone()), f);
            }
        }
    }

    /// End of input: final snapshots of every case, findings of everything else.
    pub(crate) fn finish_all(&mut self, out: &mut dyn CaseSink) {
        let ids: Vec<u64> = self.emitters.keys().copied().collect();
        for eid in ids {
            self.retire_emitter(eid, out);
        }
        self.identities.clear();
    }

    /// The latest snapshot of every open case, as its retirement would emit it, on
    /// copies: nothing is changed or forgotten.
    pub(super) fn snapshot_open_cases(&self, out: &mut dyn CaseSink) {
        let mut stats = FakeBtsStats::default();
        for e in self.emitters.values().filter(|e| e.case.is_some()) {
            let mut e = e.clone();
            e.settle_fix(&self.cfg, &self.solver);
            emit_snapshot(&mut e, &self.cfg, &self.spec, out, &mut stats, false);
        }
    }

    /// Bytes held per part: the identity map, transmitters, their reports and
    /// reporters.
    pub(crate) fn state_parts(&self) -> (usize, usize, usize, usize) {
        let carriers = self
            .identities
            .values()
            .map(|c| std::mem::size_of::<(IdKey, Carriers)>() + c.emitters.capacity() * 8)
            .sum();
        let (mut emitters, mut observations, mut reporters) = (0usize, 0usize, 0usize);
        for e in self.emitters.values() {
            let (o, r) = e.state_parts();
            observations += o;
            reporters += r;
            emitters += e.state_bytes() - o - r;
        }
        (carriers, emitters, observations, reporters)
    }
}

/// What an inventory-topic record says for stage B: the cell, and whether it is
/// registered (with a place) now; `None` for a refused record.
pub(super) fn registered_update(key: &str, value: Option<&[u8]>) -> Option<(CellKey, bool)> {
    let mut row = Inventory::new();
    row.apply_update(key, value).ok()?;
    let cell_key = CellKey::parse(key.trim())?;
    let registered = row
        .get(&cell_key)
        .is_some_and(|c| Site::from(c).is_placed());
    Some((cell_key, registered))
}

/// A registered identity heard normally: transmitters carrying it on another channel
/// (off the registered one) have duplicated it (`DUPLICATE_IDENTITY`) now.
#[inline]
fn mark_duplicates(
    carriers: &[u64],
    emitters: &mut BTreeMap<u64, Box<Emitter>>,
    m: &CellMeasurement,
    registered_arfcn: Option<u32>,
    site_fit: Option<(&EvidenceSpec, &FakeBtsConfig)>,
) {
    let (false, Some(arfcn)) = (carriers.is_empty(), m.arfcn) else {
        return;
    };
    for eid in carriers {
        if let Some(e) = emitters.get_mut(eid) {
            // the forged side is the one off the registered channel; with none listed,
            // not one whose reports fit the site (`duplicate_site_fit`)
            if e.signature.arfcn.is_some_and(|a| a != arfcn)
                && (registered_arfcn.is_none() || e.signature.arfcn != registered_arfcn)
                && site_fit.is_none_or(|(spec, cfg)| !e.fits_site(m.ts_ms, spec, cfg))
            {
                e.duplicate_seen_ms = Some(e.duplicate_seen_ms.map_or(m.ts_ms, |t| t.max(m.ts_ms)));
            }
        }
    }
}

/// Add `eid` to the candidates for linking (`Transmitters::suspicious`) once.
/// The protocol events a rogue cell provokes in the phones it holds.
const PROTOCOL_EVENTS: u16 =
    Rule::RatDowngrade.bit() | Rule::LuReject.bit() | Rule::SmsWhileCamped.bit();

fn enlist(suspicious: &mut Vec<u64>, eid: u64) {
    if !suspicious.contains(&eid) {
        suspicious.push(eid);
    }
}
