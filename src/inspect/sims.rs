//! What the records of a SIM case say about its SIMs: per member (records, SMS sent,
//! devices, cells, first and last record), per device (the SIMs used in it) and per
//! serving cell. The evidence report and the console's case page show the same
//! tables, so they are computed once here.

use super::records::Activity;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One SIM of the case (or any other SIM among its records).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct MemberSummary {
    pub(crate) sim: String,
    pub(crate) records: u64,
    pub(crate) sms_out: u64,
    pub(crate) devices: Vec<String>,
    pub(crate) cells: Vec<String>,
    pub(crate) first: Option<i64>,
    pub(crate) last: Option<i64>,
}

/// One device (IMEI pseudonym) and how many of the SIMs were used in it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct DeviceSummary {
    pub(crate) device: String,
    pub(crate) tac: Option<String>,
    pub(crate) sims: usize,
}

/// One serving cell: records it served and how many SIMs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct CellUse {
    pub(crate) cell: String,
    pub(crate) records: u64,
    pub(crate) sims: usize,
}

/// Every SIM of `sims` (even without records) and of the records, by SIM.
pub(crate) fn members(sims: &[String], acts: &[Activity]) -> Vec<MemberSummary> {
    #[derive(Default)]
    struct Acc<'a> {
        records: u64,
        sms_out: u64,
        devices: BTreeSet<&'a str>,
        cells: BTreeSet<&'a str>,
        first: Option<i64>,
        last: Option<i64>,
    }
    let mut by_sim: BTreeMap<&str, Acc> =
        sims.iter().map(|s| (s.as_str(), Acc::default())).collect();
    for a in acts {
        let m = by_sim.entry(a.sim.as_str()).or_default();
        m.records += 1;
        m.sms_out += a.sms_out;
        if let Some(d) = &a.device {
            m.devices.insert(d.as_str());
        }
        if let Some(cell) = &a.cell {
            m.cells.insert(cell.as_str());
        }
        m.first = Some(m.first.map_or(a.ts, |f| f.min(a.ts)));
        m.last = Some(m.last.map_or(a.ts, |l| l.max(a.ts)));
    }
    by_sim
        .into_iter()
        .map(|(sim, m)| MemberSummary {
            sim: sim.to_string(),
            records: m.records,
            sms_out: m.sms_out,
            devices: m.devices.into_iter().map(str::to_string).collect(),
            cells: m.cells.into_iter().map(str::to_string).collect(),
            first: m.first,
            last: m.last,
        })
        .collect()
}

/// The devices the SIMs were used in, most shared first (ties by device).
pub(crate) fn devices(acts: &[Activity]) -> Vec<DeviceSummary> {
    let mut by_device: BTreeMap<&str, (BTreeSet<&str>, Option<&str>)> = BTreeMap::new();
    for a in acts {
        if let Some(d) = &a.device {
            let e = by_device.entry(d.as_str()).or_default();
            e.0.insert(a.sim.as_str());
            if let Some(t) = &a.imei_tac {
                e.1 = Some(t.as_str());
            }
        }
    }
    let mut out: Vec<DeviceSummary> = by_device
        .into_iter()
        .map(|(d, (sims, tac))| DeviceSummary {
            device: d.to_string(),
            tac: tac.map(str::to_string),
            sims: sims.len(),
        })
        .collect();
    out.sort_by(|a, b| b.sims.cmp(&a.sims).then(a.device.cmp(&b.device)));
    out
}

/// The cells that served the SIMs, by cell key.
pub(crate) fn cell_uses(acts: &[Activity]) -> Vec<CellUse> {
    let mut by_cell: BTreeMap<&str, (u64, BTreeSet<&str>)> = BTreeMap::new();
    for a in acts {
        if let Some(cell) = &a.cell {
            let e = by_cell.entry(cell.as_str()).or_default();
            e.0 += 1;
            e.1.insert(a.sim.as_str());
        }
    }
    by_cell
        .into_iter()
        .map(|(cell, (records, sims))| CellUse {
            cell: cell.to_string(),
            records,
            sims: sims.len(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn act(sim: &str, ts: i64, device: &str, cell: &str, n: u64) -> Activity {
        Activity {
            ts,
            window_secs: 300,
            sim: sim.into(),
            sms_out: n,
            device: Some(device.into()),
            imei_tac: Some("86045701".into()),
            cell: Some(cell.into()),
        }
    }

    #[test]
    fn members_devices_and_cells_add_up() {
        let acts = [
            act("a", 10, "d1", "c1", 5),
            act("a", 20, "d1", "c2", 7),
            act("b", 15, "d1", "c1", 1),
            act("c", 30, "d2", "c1", 2),
        ];
        let m = members(&["a".into(), "z".into()], &acts);
        let sims: Vec<&str> = m.iter().map(|m| m.sim.as_str()).collect();
        assert_eq!(sims, ["a", "b", "c", "z"]);
        assert_eq!((m[0].records, m[0].sms_out), (2, 12));
        assert_eq!((m[0].first, m[0].last), (Some(10), Some(20)));
        assert_eq!(m[0].cells, ["c1", "c2"]);
        assert_eq!(m[3].records, 0, "a member without records is listed");
        let d = devices(&acts);
        assert_eq!((d[0].device.as_str(), d[0].sims), ("d1", 2));
        assert_eq!(d[1].device, "d2");
        let c = cell_uses(&acts);
        assert_eq!((c[0].cell.as_str(), c[0].records, c[0].sims), ("c1", 3, 3));
    }
}
