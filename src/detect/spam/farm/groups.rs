//! The groups: union-find over candidate nodes (path compression, union by size), a
//! fresh node for a SIM whose group died, expiry of idle groups and compaction of the
//! node table.

use super::assessment::member_records;
use super::cases::FarmCase;
use super::{FarmIndex, Group, MemberRecord, Node};
use crate::detect::spam::ids::{fast_map, FastMap};
use crate::model::Case;

impl FarmIndex {
    pub(super) fn find(&mut self, mut x: u32) -> u32 {
        let mut root = x;
        while self.nodes[root as usize].parent != root {
            root = self.nodes[root as usize].parent;
        }
        while self.nodes[x as usize].parent != root {
            let next = self.nodes[x as usize].parent;
            self.nodes[x as usize].parent = root;
            x = next;
        }
        root
    }

    /// The node of a SIM, a fresh one if it has none or its group is dead.
    pub(super) fn node_for(&mut self, rec: &MemberRecord<'_>) -> u32 {
        if let Some(&n) = self.node_of.get(rec.key) {
            let root = self.find(n);
            let group_alive = self.groups.get(&root).is_some_and(|g| {
                g.last_seen_s.saturating_add(self.params.long_window_s) >= rec.t_s
            });
            if group_alive && self.nodes[n as usize].alive {
                return n;
            }
        }
        let id = self.nodes.len() as u32;
        self.nodes.push(Node {
            key: rec.key.clone(),
            operator: rec.operator.into(),
            parent: id,
            alive: true,
            first_seen_s: rec.window_start_s,
            last_seen_s: rec.t_s,
            records: 0,
            new_medium: 0,
            distinct_medium: 0,
            cell: 0,
            no_voice: false,
            young_unverified: false,
            has_new: false,
            gateway: false,
            campaign: false,
            onset: false,
            onset_s: 0,
            rate_per_hour: 0.0,
            rate_seen_per_hour: 0.0,
            last_fp: 0,
            last_fp_s: 0,
        });
        if let Some(old) = self.node_of.insert(rec.key.clone(), id) {
            // the old node belongs to a dead group: it is swept with it
            self.nodes[old as usize].alive = false;
            self.dead_nodes += 1;
        }
        self.groups.insert(
            id,
            Group {
                members: vec![id],
                last_seen_s: rec.t_s,
                changed: true,
                ..Group::default()
            },
        );
        id
    }

    /// Unite the groups of `a` and `b`; returns the root of the result.
    pub(super) fn union(&mut self, a: u32, b: u32) -> u32 {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return ra;
        }
        let size = |g: &FastMap<u32, Group>, r: u32| g.get(&r).map_or(0, |g| g.members.len());
        let (big, small) = if size(&self.groups, ra) >= size(&self.groups, rb) {
            (ra, rb)
        } else {
            (rb, ra)
        };
        let small_group = self.groups.remove(&small).unwrap_or_default();
        self.nodes[small as usize].parent = big;
        let g = self.groups.entry(big).or_default();
        g.members.extend(small_group.members);
        g.max_sims_per_device = g.max_sims_per_device.max(small_group.max_sims_per_device);
        g.gateway_cell_members = g.gateway_cell_members.max(small_group.gateway_cell_members);
        g.onset_members = g.onset_members.max(small_group.onset_members);
        g.sites = g.sites.max(small_group.sites);
        g.last_seen_s = g.last_seen_s.max(small_group.last_seen_s);
        g.changed = true;
        g.case = match (g.case.take(), small_group.case) {
            (Some(x), Some(y)) => {
                self.counters.cases_absorbed += 1;
                self.open_cases -= 1;
                Some(FarmCase::opened_first(x, y))
            }
            (x, y) => x.or(y),
        };
        big
    }

    /// Drop groups, devices and cells idle since before `cutoff_s`, emitting the final
    /// snapshot of their cases; compact the node table when most of it is dead.
    pub(crate) fn sweep(&mut self, cutoff_s: u32, out: &mut Vec<Case>) {
        let mut dead_roots: Vec<u32> = self
            .groups
            .iter()
            .filter(|(_, g)| g.last_seen_s < cutoff_s)
            .map(|(&r, _)| r)
            .collect();
        dead_roots.sort_unstable();
        for r in dead_roots {
            let g = self.groups.remove(&r).expect("root listed above");
            if let Some(fc) = g.case {
                self.open_cases -= 1;
                let evidence = member_records(&self.nodes, &g.members);
                out.extend(fc.final_snapshot(evidence));
            }
            for m in g.members {
                let n = &mut self.nodes[m as usize];
                if n.alive {
                    n.alive = false;
                    self.dead_nodes += 1;
                }
                if self.node_of.get(&n.key) == Some(&m) {
                    self.node_of.remove(&n.key);
                }
            }
            self.counters.groups_expired += 1;
        }
        let nodes = &self.nodes;
        for index in [&mut self.devices, &mut self.onsets] {
            index.retain(|_, d| {
                d.nodes.retain(|&m| {
                    nodes[m as usize].alive && nodes[m as usize].last_seen_s >= cutoff_s
                });
                !d.nodes.is_empty()
            });
        }
        self.cells.retain(|_, c| c.last_seen_s >= cutoff_s);
        if self.dead_nodes > 1_024 && self.dead_nodes * 2 > self.nodes.len() {
            self.compact();
        }
    }

    /// Renumber live nodes densely and rewrite every reference to them. Each group's
    /// first live member becomes its new root.
    fn compact(&mut self) {
        let mut remap = vec![u32::MAX; self.nodes.len()];
        let mut nodes = Vec::with_capacity(self.nodes.len() - self.dead_nodes);
        for (i, n) in self.nodes.iter().enumerate() {
            if n.alive {
                remap[i] = nodes.len() as u32;
                nodes.push(n.clone());
            }
        }
        let mut old_groups: Vec<(u32, Group)> = std::mem::replace(&mut self.groups, fast_map())
            .into_iter()
            .collect();
        old_groups.sort_unstable_by_key(|(r, _)| *r);
        for (_, mut g) in old_groups {
            g.members = remapped(&g.members, &remap);
            let Some(&root) = g.members.first() else {
                continue;
            };
            for &m in &g.members {
                nodes[m as usize].parent = root;
            }
            self.groups.insert(root, g);
        }
        self.node_of = fast_map();
        for (i, n) in nodes.iter().enumerate() {
            self.node_of.insert(n.key.clone(), i as u32);
        }
        for d in self.devices.values_mut().chain(self.onsets.values_mut()) {
            d.nodes = remapped(&d.nodes, &remap);
        }
        self.site_cases = remapped(&self.site_cases, &remap);
        for c in self.cells.values_mut() {
            c.fps = c
                .fps
                .iter()
                .filter(|x| remap[x.1 as usize] != u32::MAX)
                .map(|&(fp, m, t)| (fp, remap[m as usize], t))
                .collect();
            c.tacs = c
                .tacs
                .iter()
                .filter(|x| remap[x.1 as usize] != u32::MAX)
                .map(|&(tac, m)| (tac, remap[m as usize]))
                .collect();
        }
        self.nodes = nodes;
        self.dead_nodes = 0;
    }
}

/// `nodes` under their new numbers after a compaction (`remap[old]`, `u32::MAX`
/// for a node that is gone), the gone ones left out.
fn remapped(nodes: &[u32], remap: &[u32]) -> Vec<u32> {
    nodes
        .iter()
        .map(|&m| remap[m as usize])
        .filter(|&m| m != u32::MAX)
        .collect()
}
