//! The SIM part of the report (spam SIM and SIM farm cases): members, devices,
//! serving cells and the activity timeline.

use super::elements::{table, td, td_mono, td_num, td_time};
use super::ReportInput;
use crate::inspect::evidence::svg::render_timeline;
use crate::inspect::export::LocatedCell;
use crate::inspect::records::Activity;
use crate::inspect::sims as summary;
use std::fmt::Write;

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
    let members = summary::members(sims, acts);
    let _ = writeln!(o, "<h2>Members ({})</h2>", members.len());
    let rows: Vec<Vec<String>> = members
        .iter()
        .map(|m| {
            vec![
                td_mono(&m.sim),
                td_num(&m.records.to_string()),
                td_num(&m.sms_out.to_string()),
                td_mono(
                    &m.devices
                        .iter()
                        .map(|d| d.get(..12).unwrap_or(d))
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                td_mono(&m.cells.join(" ")),
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
    let devices = summary::devices(acts);
    let _ = writeln!(o, "<h2>Devices ({})</h2>", devices.len());
    let rows: Vec<Vec<String>> = devices
        .iter()
        .map(|d| {
            vec![
                td_mono(&d.device),
                td(d.tac.as_deref().unwrap_or("")),
                td_num(&d.sims.to_string()),
            ]
        })
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
    let rows: Vec<Vec<String>> = summary::cell_uses(acts)
        .iter()
        .map(|u| {
            let site = serving
                .iter()
                .find(|s| s.key.to_string() == u.cell)
                .map(|s| format!("{:.5}, {:.5}", s.lat, s.lon))
                .unwrap_or_else(|| "not in the inventory given".into());
            vec![
                td_mono(&u.cell),
                td_num(&u.records.to_string()),
                td_num(&u.sims.to_string()),
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
