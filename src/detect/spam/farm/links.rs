//! The links between candidates, found as records arrive: SIMs on one device, SIMs
//! sending near-duplicate content in one cell and campaign window, SIMs on one gateway
//! model in one cell. Each index remembers only live candidates and adds to `links`
//! the nodes the record's SIM must be united with.

use super::{CellEntry, FarmIndex, FarmParams, MemberRecord, Node, MAX_CELL_FPS, MAX_DEVICE_SIMS};
use crate::detect::spam::ids::hash64;
use crate::detect::spam::simhash::hamming;

impl FarmIndex {
    /// Shared device: a newcomer on a device joins its list (idle members dropped);
    /// when the list reaches `sims_per_device` everyone is united, later newcomers join
    /// the first member. A device carrying `gateway_learn_sims` SIMs teaches its TAC as
    /// a gateway model. Returns the SIMs on the device.
    pub(super) fn link_by_device(
        &mut self,
        node: u32,
        device: u64,
        rec: &MemberRecord<'_>,
        links: &mut Vec<u32>,
    ) -> u32 {
        let long = self.params.long_window_s;
        let t = rec.t_s;
        let tac = rec.tac.unwrap_or(0);
        let nodes = &self.nodes;
        let entry = self.devices.entry(device).or_default();
        if !entry.nodes.contains(&node) {
            entry.nodes.retain(|&m| nodes[m as usize].live_at(t, long));
            if entry.nodes.len() < MAX_DEVICE_SIMS {
                entry.nodes.push(node);
            }
            let n = entry.nodes.len() as u32;
            if n >= self.params.gateway_learn_sims && tac != 0 {
                self.learned_gateway_tacs.insert(tac, n);
            }
            let min = self.params.rules.sims_per_device;
            if n == min {
                links.extend(entry.nodes.iter().copied());
            } else if n > min {
                links.push(entry.nodes[0]);
            }
        }
        entry.nodes.len() as u32
    }

    /// Common onset: a bare candidate (no device, cell or content to link it by)
    /// joins, by the start of its first record, the lists of its operator's two onset
    /// slots (`onset_window_secs` wide, at least two of the record's intervals;
    /// staggered by half a slot, so two SIMs starting within half a slot, or in
    /// adjacent intervals, share one); when `onset_min_sims` of a list are still
    /// sending (reported within the record's interval or the short window), did not
    /// start before the others and send at the others' pace they are united (see
    /// [`FarmIndex::unite_onset_slot`]). A latecomer joins a united list's first member
    /// once its steadiness is proven (`rec.onset_proven`), at the farm's pace, when the
    /// farm started at most `onset_late_join_secs` before it: the farm is found by its
    /// founders, and a legitimate sender that happens to start with it must show more.
    /// Returns the largest list once the SIM is linked, `None` while it is not (it
    /// tries again at its next records, while `consider_farm_candidate` lets it).
    pub(super) fn link_by_onset(
        &mut self,
        node: u32,
        rec: &MemberRecord<'_>,
        onset: u32,
        links: &mut Vec<u32>,
    ) -> Option<u32> {
        let (long, t) = (self.params.long_window_s, rec.t_s);
        // a first record's start tells the onset to within its interval: SIMs of
        // one start fall in adjacent intervals, which a slot of two intervals joins
        let w = self
            .params
            .onset_window_s
            .max(rec.window_s.saturating_mul(2))
            .max(2);
        let keys = [0u8, 1].map(|tag| onset_key(rec.operator, tag, w, onset));
        let nodes = &self.nodes;
        let mut formed = false;
        for key in keys {
            if let Some(entry) = self.onsets.get_mut(&key) {
                entry.nodes.retain(|&m| nodes[m as usize].live_at(t, long));
                formed |= entry.formed;
            }
        }
        if formed && !rec.onset_proven {
            return None;
        }
        self.nodes[node as usize].onset_s = onset;
        let recent = rec.window_s.max(self.params.recent_s);
        let linked_before = links.len();
        let mut most = 0;
        if rec.onset_proven {
            most = self.join_started_farms(node, rec, onset, w, links);
        }
        for key in keys {
            let entry = self.onsets.entry(key).or_default();
            if entry.formed {
                continue;
            }
            if !entry.nodes.contains(&node) && entry.nodes.len() < MAX_DEVICE_SIMS {
                entry.nodes.push(node);
            }
            most = most.max(entry.nodes.len() as u32);
            if let Some(n) = self.unite_onset_slot(key, t, recent, links) {
                most = most.max(n);
            }
        }
        // not linked yet: listed, and tries again at its next records while it may
        (links.len() > linked_before).then_some(most)
    }

    /// A proven latecomer: link it to the united onset slot of its operator whose
    /// farm started last before its onset, at most `onset_late_join_secs` before it
    /// (and not after it by a record's interval or more), when it sends at that
    /// farm's pace. Only the latest: two farms of one operator that start minutes
    /// apart stay two. Returns the size of the slot joined.
    fn join_started_farms(
        &mut self,
        node: u32,
        rec: &MemberRecord<'_>,
        onset: u32,
        w: u32,
        links: &mut Vec<u32>,
    ) -> u32 {
        let recent = rec.window_s.max(self.params.recent_s);
        let late = self.params.onset_late_join_s;
        let spread = self.params.onset_rate_spread;
        let step = (w / 2).max(1);
        // (start, key) of the farm that started last
        let mut best: Option<(u32, u64)> = None;
        let mut d = 0;
        while d <= late.saturating_add(w) {
            for tag in [0u8, 1] {
                let key = onset_key(rec.operator, tag, w, onset.saturating_sub(d));
                let Some(entry) = self.onsets.get(&key) else {
                    continue;
                };
                let fits = entry.formed
                    && !entry.nodes.is_empty()
                    && !early(onset, entry.start_s, recent)
                    && onset <= entry.start_s.saturating_add(late)
                    && kept_pace(
                        rec.rate_per_hour,
                        rec.rate_seen_per_hour,
                        f64::from(entry.rate_per_hour),
                        spread,
                    );
                if fits && best.is_none_or(|(start, _)| entry.start_s > start) {
                    best = Some((entry.start_s, key));
                }
            }
            d += step;
        }
        let Some(entry) = best.and_then(|(_, key)| self.onsets.get_mut(&key)) else {
            return 0;
        };
        links.push(entry.nodes[0]);
        if !entry.nodes.contains(&node) && entry.nodes.len() < MAX_DEVICE_SIMS {
            entry.nodes.push(node);
        }
        entry.nodes.len() as u32
    }

    /// Unite the onset slot `key` when `onset_min_sims` of its SIMs are still
    /// sending at `t` (reported within `recent` seconds), did not start before the
    /// slot's farm (the median onset of those still sending; a record tells an onset
    /// to within its interval, so only a whole `recent` earlier counts) and send
    /// within `onset_rate_spread` of the median rate of those. Those that went quiet
    /// (a burst that ended) leave the slot and may come back as latecomers, proven
    /// steady; those that started earlier or at another pace leave it for good.
    /// Returns the SIMs united.
    fn unite_onset_slot(
        &mut self,
        key: u64,
        t: u32,
        recent: u32,
        links: &mut Vec<u32>,
    ) -> Option<u32> {
        let min = self.params.rules.onset_min as usize;
        let spread = self.params.onset_rate_spread;
        let entry = self.onsets.get_mut(&key)?;
        let nodes = &mut self.nodes;
        let is_recent = |m: u32| nodes[m as usize].last_seen_s.saturating_add(recent) > t;
        if entry.nodes.iter().filter(|&&m| is_recent(m)).count() < min {
            return None;
        }
        let start = median_of(
            entry
                .nodes
                .iter()
                .filter(|&&m| is_recent(m))
                .map(|&m| nodes[m as usize].onset_s),
        )?;
        let on_time = |m: u32| is_recent(m) && !early(nodes[m as usize].onset_s, start, recent);
        let rate = median_of(
            entry
                .nodes
                .iter()
                .filter(|&&m| on_time(m))
                .map(|&m| nodes[m as usize].rate_per_hour.max(0.0) as u32),
        )?;
        let in_farm = |m: u32| {
            let n = &nodes[m as usize];
            on_time(m)
                && kept_pace(
                    f64::from(n.rate_per_hour),
                    f64::from(n.rate_seen_per_hour),
                    f64::from(rate),
                    spread,
                )
        };
        if entry.nodes.iter().filter(|&&m| in_farm(m)).count() < min {
            return None;
        }
        let (keep, out): (Vec<u32>, Vec<u32>) = entry.nodes.iter().partition(|&&m| in_farm(m));
        let quiet: Vec<u32> = out.into_iter().filter(|&m| !is_recent(m)).collect();
        for m in quiet {
            nodes[m as usize].onset = false;
        }
        links.extend(keep.iter().copied());
        let united = keep.len() as u32;
        entry.nodes = keep;
        entry.start_s = start;
        entry.rate_per_hour = rate as f32;
        entry.formed = true;
        Some(united)
    }

    /// The links of the record's cell `cell` (content, then gateway model); returns the
    /// members of the SIM's gateway model in the cell (0 when not a gateway).
    pub(super) fn link_in_cell(
        &mut self,
        node: u32,
        cell: u64,
        prev_cell: u64,
        rec: &MemberRecord<'_>,
        links: &mut Vec<u32>,
    ) -> u32 {
        let params = &self.params;
        let nodes = &mut self.nodes;
        let entry = self.cells.entry(cell).or_default();
        entry.last_seen_s = entry.last_seen_s.max(rec.t_s);
        entry.link_by_content(nodes, node, prev_cell == cell, rec, params, links);
        if rec.tac.unwrap_or(0) == 0 {
            return 0;
        }
        entry.link_by_gateway(nodes, node, rec, params, links)
    }
}

impl CellEntry {
    /// Near-duplicate content in this cell and window. A SIM already linked by a
    /// campaign does not search again (newcomers find it); a fingerprint close to the
    /// SIM's last one in the same cell is not stored twice. `campaign_min_sims` SIMs
    /// sharing content are united.
    fn link_by_content(
        &mut self,
        nodes: &mut [Node],
        node: u32,
        same_cell: bool,
        rec: &MemberRecord<'_>,
        params: &FarmParams,
        links: &mut Vec<u32>,
    ) {
        let t = rec.t_s;
        let window = params.campaign_window_s;
        let k = params.fp_hamming;
        while self
            .fps
            .front()
            .is_some_and(|&(_, _, ft)| ft.saturating_add(window) < t)
        {
            self.fps.pop_front();
        }
        let searching = !nodes[node as usize].campaign;
        let mut matched: Vec<u32> = Vec::new();
        for f in rec.fps {
            if searching {
                for &(fp, m, ft) in &self.fps {
                    if m != node
                        && ft.saturating_add(window) >= t
                        && hamming(fp, f.fp) <= k
                        && !matched.contains(&m)
                    {
                        matched.push(m);
                    }
                }
            }
            let n = &mut nodes[node as usize];
            let fresh = same_cell
                && n.last_fp_s.saturating_add(window / 2) >= t
                && hamming(n.last_fp, f.fp) <= k;
            if !fresh {
                if self.fps.len() >= MAX_CELL_FPS {
                    self.fps.pop_front();
                }
                self.fps.push_back((f.fp, node, t));
                n.last_fp = f.fp;
                n.last_fp_s = t;
            }
        }
        if searching && matched.len() + 1 >= params.rules.campaign_min as usize {
            links.extend(matched.iter().copied());
            for &m in matched.iter().chain(std::iter::once(&node)) {
                nodes[m as usize].campaign = true;
            }
        }
    }

    /// One gateway model in one cell: united once `gateway_cell_min_sims` is reached,
    /// later newcomers join the first. Returns the members of the SIM's model in the
    /// cell (0 when the SIM's device is not a gateway).
    fn link_by_gateway(
        &mut self,
        nodes: &[Node],
        node: u32,
        rec: &MemberRecord<'_>,
        params: &FarmParams,
        links: &mut Vec<u32>,
    ) -> u32 {
        let tac = rec.tac.unwrap_or(0);
        let (long, t) = (params.long_window_s, rec.t_s);
        let newcomer = !self.tacs.contains(&(tac, node));
        if newcomer {
            self.tacs
                .retain(|&(_, m)| nodes[m as usize].live_at(t, long));
            self.tacs.push((tac, node));
        }
        if !nodes[node as usize].gateway {
            return 0;
        }
        let mut same = self.tacs.iter().filter(|x| x.0 == tac).map(|x| x.1);
        let gateway_cell = same.clone().count() as u32;
        if gateway_cell >= params.rules.gateway_cell_min {
            if !self.linked_tacs.contains(&tac) {
                self.linked_tacs.push(tac);
                links.extend(same);
            } else if newcomer {
                links.extend(same.next());
            }
        }
        gateway_cell
    }
}

/// The key of an operator's onset slot of width `w` containing `at`, in the slotting
/// `tag` (0, or 1: staggered by half a slot).
fn onset_key(operator: &str, tag: u8, w: u32, at: u32) -> u64 {
    let slot = (at + u32::from(tag) * (w / 2)) / w;
    hash64(&[
        operator.as_bytes(),
        &[tag],
        &w.to_le_bytes(),
        &slot.to_le_bytes(),
    ])
}

/// Whether a SIM whose first record began at `onset` was there before a farm that
/// started at `start`: a whole record's interval (or the short window), `recent`,
/// earlier.
#[inline]
fn early(onset: u32, start: u32, recent: u32) -> bool {
    onset.saturating_add(recent) <= start
}

/// Whether `rate` lies within a factor `spread` of `median`, either way (0: no check).
#[inline]
fn same_pace(rate: f64, median: f64, spread: f64) -> bool {
    spread == 0.0 || (rate <= median * spread && rate * spread >= median)
}

/// Whether a SIM sends at the farm's pace `median` (within `spread`) now (`pace`)
/// and over the time since its first record (`kept`): one farm's SIMs run one program
/// from their start, while a contact book announced at many times a farm's rate that
/// slows down as the farm forms matches its pace now but not the pace it kept.
fn kept_pace(pace: f64, kept: f64, median: f64, spread: f64) -> bool {
    same_pace(pace, median, spread) && same_pace(kept, median, spread)
}

/// The median (upper for an even count) of `values`, `None` when there are none.
fn median_of(values: impl Iterator<Item = u32>) -> Option<u32> {
    let mut v: Vec<u32> = values.collect();
    if v.is_empty() {
        return None;
    }
    let mid = v.len() / 2;
    Some(*v.select_nth_unstable(mid).1)
}
