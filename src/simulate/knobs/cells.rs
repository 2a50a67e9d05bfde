//! The radio network's legitimate oddities: real GSM cells that run without
//! ciphering or announce few neighbours, GSM cells heard far beyond their site,
//! cells not yet in the inventory (newly built, cells on wheels) and phones that only
//! do 2G. A fake-BTS detector meets all of these on a real network.

use serde::{Deserialize, Serialize};

/// Legitimate cells and phones that look like rogue transmitters or their victims.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellKnobs {
    /// Share of the real GSM cells that report cipher `A5/0` (no ciphering).
    pub gsm_null_cipher_share: f64,
    /// Share of the real GSM cells that announce only 0–2 neighbours.
    pub gsm_few_neighbours_share: f64,
    /// Share of the real GSM cells heard far beyond their site (high masts, GSM 900,
    /// propagation over water).
    pub gsm_overshoot_share: f64,
    /// For a phone 4–12 km from such a cell, chance per report of a brief camp on it.
    pub overshoot_report_probability: f64,
    /// Newly built sites on air but not yet in the inventory.
    pub new_sites: u32,
    /// Cells on wheels: temporary sites for an event, on air for part of the scenario,
    /// never in the inventory.
    pub cells_on_wheels: u32,
    /// Share of reporters whose phones only do 2G (camp on GSM cells only).
    pub gsm_only_reporters: f64,
    /// Operators (PLMN codes) whose inventory rows carry no channel and PCI (empty
    /// `arfcn` and `pci` columns, as in a crowd-sourced export): a report's channel
    /// can then never contradict its row.
    pub inventory_without_channel: Vec<String>,
}

impl Default for CellKnobs {
    fn default() -> Self {
        CellKnobs {
            gsm_null_cipher_share: 0.0,
            gsm_few_neighbours_share: 0.0,
            gsm_overshoot_share: 0.0,
            overshoot_report_probability: 0.05,
            new_sites: 0,
            cells_on_wheels: 0,
            gsm_only_reporters: 0.0,
            inventory_without_channel: Vec::new(),
        }
    }
}

impl CellKnobs {
    pub(crate) fn problems(&self, out: &mut Vec<String>) {
        use super::share_problem;
        share_problem(
            "cells.gsm_null_cipher_share",
            self.gsm_null_cipher_share,
            out,
        );
        share_problem(
            "cells.gsm_few_neighbours_share",
            self.gsm_few_neighbours_share,
            out,
        );
        share_problem("cells.gsm_overshoot_share", self.gsm_overshoot_share, out);
        share_problem(
            "cells.overshoot_report_probability",
            self.overshoot_report_probability,
            out,
        );
        share_problem("cells.gsm_only_reporters", self.gsm_only_reporters, out);
        for op in &self.inventory_without_channel {
            if super::operator_index(op).is_none() {
                super::operator_problem("cells.inventory_without_channel", op, out);
            }
        }
        if self.new_sites > 50 || self.cells_on_wheels > 10 {
            out.push("cells: at most 50 new_sites and 10 cells_on_wheels".into());
        }
    }
}
