//! Farm candidacy: a SIM showing enough weak risk markers (gateway device, young and
//! unverified, no voice, many new or distinct recipients) is handed to farm grouping
//! ([`super::farm`]) with every later record; allowlisted SIMs are kept out.

use super::cross::{mark, CrossSim, Evidence};
use super::farm::MemberRecord;
use super::forward::Hot;
use super::forward::Seen;
use super::ids::{hash64, SimKey};
use super::record::RecordSpan;
use super::rules::SimFeatures;
use super::state::{field, flag};
use crate::config::SpamConfig;
use crate::detect::CaseSink;

/// The weak risk markers of a SIM at one record.
#[derive(Debug, Clone, Copy)]
struct Markers {
    count: u32,
    young_unverified: bool,
    no_voice: bool,
}

impl Markers {
    #[inline]
    fn of(config: &SpamConfig, f: &SimFeatures, gateway: bool) -> Markers {
        let young_unverified = matches!(
            (f.age_days, f.kyc_verified),
            (Some(a), Some(false)) if a <= config.young_sim_days
        );
        let no_voice = f.carries(field::CALLS)
            && f.voice_long == 0
            && f.out_long >= u64::from(config.candidate_no_voice_min_sms);
        let count = u32::from(gateway)
            + u32::from(young_unverified)
            + u32::from(no_voice)
            + u32::from(
                f.new_medium >= u64::from(config.candidate_min_new)
                    && f.new_medium as f64 >= config.new_recipient_ratio * f.distinct_medium as f64,
            )
            + u32::from(
                f.out_medium >= u64::from(config.candidate_min_sms)
                    && f.distinct_medium as f64 >= config.distinct_ratio * f.out_medium as f64,
            );
        Markers {
            count,
            young_unverified,
            no_voice,
        }
    }
}

/// Whether the SIM's features make it a farm candidate at this record: enough weak
/// risk markers (`gateway`: its device is a gateway model), or a heavy sender on a
/// feed without device, cell or content.
#[inline]
pub(super) fn qualifies(config: &SpamConfig, f: &SimFeatures, gateway: bool) -> bool {
    let markers = Markers::of(config, f, gateway);
    markers.count >= config.farm_candidate_markers || bare_heavy(config, f)
}

/// No device, cell or content (volume is all there is to go on), and a heavy sender.
#[inline]
fn bare_heavy(config: &SpamConfig, f: &SimFeatures) -> bool {
    f.fields & (field::DEVICE | field::CELL | field::FPS) == 0
        && f.out_medium >= u64::from(config.candidate_bare_min_sms)
}

impl CrossSim {
    /// Index the SIM for farm grouping when it is a candidate already or shows enough
    /// markers now (the gateway marker with stage B's verdict, `f.gateway_tac`);
    /// emits the farm cases the record opened or changed.
    #[inline]
    pub(super) fn consider_farm_candidate(
        &mut self,
        key: &SimKey,
        r: &Seen,
        (span, farm): (&RecordSpan, bool),
        hot: &Hot,
        f: &SimFeatures,
        out: &mut dyn CaseSink,
    ) {
        let markers = Markers::of(&self.config, f, f.gateway_tac.is_some());
        let is_node = self.marks(key) & mark::FARM_NODE != 0;
        // no device, cell or content: volume is all there is to go on
        let bare = f.fields & (field::DEVICE | field::CELL | field::FPS) == 0;
        let bare_heavy = bare_heavy(&self.config, f);
        if !is_node && !bare_heavy && markers.count < self.config.farm_candidate_markers {
            return;
        }
        let evidence = Evidence {
            records: u64::from(hot.records),
            first_seen_ms: i64::from(hot.first_seen_s) * 1000,
            last_seen_ms: i64::from(hot.last_seen_s) * 1000,
        };
        if hot.flags & flag::ALLOWLISTED != 0 {
            // counted once per SIM state; the mark keeps it out of later counts
            if !is_node {
                self.stats.allowlist_farm_excluded += 1;
                self.set_mark(key, &evidence, mark::FARM_NODE, true);
            }
            return;
        }
        self.set_mark(key, &evidence, mark::FARM_NODE, true);
        debug_assert!(farm, "stage A sends a farm node's device and fingerprints");
        let first_seen_s = hot.first_seen_s;
        // a SIM already there when the feed started says nothing about its start
        let feed_start = self.feed_start_s.unwrap_or(span.window_start_s);
        let c = &self.config;
        // the behaviour fields the feed does carry must show a broadcast to new numbers
        let broadcast = (!f.carries(field::DISTINCT)
            || f.distinct_medium as f64 >= c.distinct_ratio * f.out_medium as f64)
            && (!f.carries(field::NEW)
                || f.new_medium as f64 >= c.onset_min_new_share * f.distinct_medium as f64);
        // a record tells its counts only at its end: the first heavy records get one
        // more interval than `onset_heavy_within_secs`, and a latecomer to a farm
        // (see `FarmIndex::link_by_onset`) the time to prove its steadiness
        let window_s = span.t_s.saturating_sub(span.window_start_s);
        let since_s = span.t_s.saturating_sub(first_seen_s);
        let within = c.onset_heavy_within_secs.saturating_add(window_s);
        let (hold, late_hold) = (c.onset_hold_secs, c.onset_late_hold_secs);
        let known_onset =
            bare && broadcast && first_seen_s >= feed_start.saturating_add(c.onset_window_secs);
        // steady: seen for the hold (`onset_late_hold_secs` for a latecomer) and sending in at
        // least `far_active_share` of the medium window's buckets since its first
        // record; a burst (a new SIM greeting its contacts, a vote) is not, however
        // heavy, while a farm SIM is within its first half hour
        let founder_due = known_onset && since_s <= within && since_s >= hold;
        let latecomer_due = known_onset
            && since_s <= within.saturating_add(late_hold)
            && f.out_short > 0
            && since_s >= late_hold;
        let steady = (founder_due || latecomer_due) && f.active_share >= c.far_active_share;
        let founder = founder_due && steady;
        let onset_proven = latecomer_due && steady;
        let onset_s = (founder || onset_proven).then_some(first_seen_s);
        let device = r.device.map(|d| hash64(&[d.as_bytes()]));
        let rec = MemberRecord {
            key,
            operator: r.operator,
            t_s: span.t_s,
            window_start_s: span.window_start_s,
            device,
            tac: r.imei_tac,
            cell: hot.cell_hash,
            fps: r.content_fps,
            new_medium: f.new_medium,
            distinct_medium: f.distinct_medium,
            // its pace now: one record tells little on a feed of 60 s records, and
            // a burst that is ending shows here before it shows in an hour's count
            rate_per_hour: hot.pace_per_hour,
            rate_seen_per_hour: f.rate_seen_per_hour,
            no_voice: markers.no_voice,
            young_unverified: markers.young_unverified,
            has_new: f.carries(field::NEW),
            onset_s,
            window_s,
            onset_proven,
        };
        self.farm.on_record(&rec, &mut self.scratch);
        for c in self.scratch.drain(..) {
            out.emit(c);
        }
    }
}
