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
    /// sending (reported within the record's interval or the short window) they are
    /// united, and those gone quiet (a burst that ended) leave the list to try again
    /// as latecomers. A latecomer to a united list joins its first member once its
    /// steadiness is proven (`rec.onset_proven`): the farm is found by its founders,
    /// and a legitimate sender that happens to start with it must show more. Returns
    /// the largest list, `None` when the SIM must wait (it tries again at its next
    /// records).
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
        let min = self.params.rules.onset_min as usize;
        let keys = [(0u8, onset / w), (1u8, (onset + w / 2) / w)].map(|(tag, slot)| {
            hash64(&[
                rec.operator.as_bytes(),
                &[tag],
                &w.to_le_bytes(),
                &slot.to_le_bytes(),
            ])
        });
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
        // still sending: reported within the record's interval or the short window
        let recent = rec.window_s.max(self.params.recent_s);
        let mut most = 0;
        for key in keys {
            let entry = self.onsets.entry(key).or_default();
            if !entry.nodes.contains(&node) && entry.nodes.len() < MAX_DEVICE_SIMS {
                entry.nodes.push(node);
            }
            most = most.max(entry.nodes.len() as u32);
            if entry.formed {
                links.push(entry.nodes[0]);
                continue;
            }
            let nodes = &mut self.nodes;
            let is_recent = |m: u32| nodes[m as usize].last_seen_s.saturating_add(recent) > t;
            if entry.nodes.iter().filter(|&&m| is_recent(m)).count() < min {
                continue;
            }
            // united: a SIM that went quiet since it was listed (a burst that ended)
            // leaves the slot and may come back as a latecomer, proven steady
            let (keep, quiet): (Vec<u32>, Vec<u32>) =
                entry.nodes.iter().partition(|&&m| is_recent(m));
            for m in quiet {
                nodes[m as usize].onset = false;
            }
            links.extend(keep.iter().copied());
            entry.nodes = keep;
            entry.formed = true;
        }
        Some(most)
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
