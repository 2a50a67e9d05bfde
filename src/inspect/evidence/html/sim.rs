//! The SIM part of the report (spam SIM and SIM farm cases): members, devices,
//! serving cells and the activity timeline.

use super::elements::{table, td, td_mono, td_num, td_time};
use super::ReportInput;
use crate::inspect::evidence::svg::render_timeline;
use crate::inspect::export::LocatedCell;
use crate::inspect::records::Activity;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

#[derive(Default)]
struct Member<'a> {
    records: u64,
    sms_out: u64,
    devices: BTreeSet<&'a str>,
    cells: BTreeSet<&'a str>,
    first: Option<i64>,
    last: Option<i64>,
}

pub(super) fn sim_sections(o: &mut String, input: &ReportInput<'_>) {
    let acts: Vec<Activity> = input.records.iter().filter_map(|r| r.activity()).collect();
    members(o, &input.case.sims, &acts);
    devices(o, &acts);
    serving_cells(o, &acts, input.serving);
    o.push_str("<h2>Activity timeline</h2>\n<figure>\n");
    o.push_str(&render_timeline(&acts, 1000.0, 60));
    o.push_str("<figcaption>One row per SIM (most active first), one bar per reporting interval; darker = more SMS sent. Coordinated farms show as aligned bars.</figcaption></figure>\n");
}

/// Each SIM of the case (and any other SIM among the records): records, SMS sent,
/// devices, cells and first/last record.
fn members(o: &mut String, sims: &[String], acts: &[Activity]) {
    let mut members: BTreeMap<&str, Member> = sims
        .iter()
        .map(|s| (s.as_str(), Member::default()))
        .collect();
    for a in acts {
        let m = members.entry(a.sim.as_str()).or_default();
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
    let _ = writeln!(o, "<h2>Members ({})</h2>", members.len());
    let rows: Vec<Vec<String>> = members
        .iter()
        .map(|(sim, m)| {
            vec![
                td_mono(sim),
                td_num(&m.records.to_string()),
                td_num(&m.sms_out.to_string()),
                td_mono(
                    &m.devices
                        .iter()
                        .map(|d| d.get(..12).unwrap_or(d))
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                td_mono(&m.cells.iter().copied().collect::<Vec<_>>().join(" ")),
                td_time(m.first),
                td_time(m.last),
            ]
        })
        .collect();
    table(
        o,
        "members",
        &[
            "SIM", "records", "SMS sent", "devices", "cells", "first", "last",
        ],
        &rows,
    );
}

/// The devices (IMEI pseudonyms) the SIMs were used in, most shared first.
fn devices(o: &mut String, acts: &[Activity]) {
    let mut devices: BTreeMap<&str, (BTreeSet<&str>, Option<&str>)> = BTreeMap::new();
    for a in acts {
        if let Some(d) = &a.device {
            let e = devices.entry(d.as_str()).or_default();
            e.0.insert(a.sim.as_str());
            if let Some(t) = &a.imei_tac {
                e.1 = Some(t.as_str());
            }
        }
    }
    let _ = writeln!(o, "<h2>Devices ({})</h2>", devices.len());
    let mut drows: Vec<(&str, usize, Option<&str>)> = devices
        .iter()
        .map(|(d, (s, t))| (*d, s.len(), *t))
        .collect();
    drows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let rows: Vec<Vec<String>> = drows
        .iter()
        .map(|(d, n, t)| vec![td_mono(d), td(t.unwrap_or("")), td_num(&n.to_string())])
        .collect();
    table(
        o,
        "devices",
        &["device (IMEI pseudonym)", "TAC", "SIMs used in it"],
        &rows,
    );
}

/// The cells that served the SIMs, with the registered site when the inventory has it.
fn serving_cells(o: &mut String, acts: &[Activity], serving: &[LocatedCell]) {
    o.push_str("<h2>Serving cells</h2>\n");
    let mut cells: BTreeMap<&str, (u64, BTreeSet<&str>)> = BTreeMap::new();
    for a in acts {
        if let Some(cell) = &a.cell {
            let e = cells.entry(cell.as_str()).or_default();
            e.0 += 1;
            e.1.insert(a.sim.as_str());
        }
    }
    let rows: Vec<Vec<String>> = cells
        .iter()
        .map(|(cell, (n, sims))| {
            let site = serving
                .iter()
                .find(|s| s.key.to_string() == *cell)
                .map(|s| format!("{:.5}, {:.5}", s.lat, s.lon))
                .unwrap_or_else(|| "not in the inventory given".into());
            vec![
                td_mono(cell),
                td_num(&n.to_string()),
                td_num(&sims.len().to_string()),
                td(&site),
            ]
        })
        .collect();
    table(
        o,
        "cells",
        &["cell", "records", "SIMs", "registered site"],
        &rows,
    );
}
