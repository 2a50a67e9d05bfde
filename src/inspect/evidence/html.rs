//! The self-contained HTML report of an evidence package: inline CSS and SVG only, no
//! script, no font or tile server, so it opens offline, prints, and archives as it is.

use super::super::export::kml::xml_escape as esc;
use super::super::export::LocatedCell;
use super::super::lifecycle::StatusChange;
use super::super::reasons::describe;
use super::super::records::{Activity, EvidenceRecord, Observation};
use super::super::table::{cell_label, fmt_num};
use super::super::time::{format_duration_ms, format_ms};
use super::svg::{render_map, render_timeline, MapInput};
use crate::model::{Case, CaseKind};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// Rows of the observations table shown in the page; all are in `records.jsonl`.
pub const MAX_OBSERVATION_ROWS: usize = 500;

/// Everything the page shows.
pub struct ReportInput<'a> {
    pub case: &'a Case,
    pub history: &'a [StatusChange],
    pub records: &'a [EvidenceRecord],
    pub map: MapInput<'a>,
    pub serving: &'a [LocatedCell],
    pub generated_at_ms: i64,
    pub source: &'a str,
    /// Data files of the package with their SHA-256 (the report and manifest excluded).
    pub files: &'a [(String, String)],
    /// Whether a registered-cell inventory was given.
    pub inventory: Option<String>,
}

const CSS: &str = r#"
body{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif;margin:24px auto;max-width:1100px;color:#1d1d1d;background:#fff;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:2px solid #d9d4c7;padding-bottom:4px}
.sub{color:#555;font-size:13px}
.badge{display:inline-block;padding:2px 8px;border-radius:10px;font-size:12px;font-weight:bold;color:#fff;background:#555;margin-right:6px}
.k-fake_bts{background:#b22222}.k-spam_sim{background:#1f5fa8}.k-sim_farm{background:#6a3d9a}
.s-open{background:#c77800}.s-handed_over{background:#1f77b4}.s-confirmed{background:#2c7a2c}.s-dismissed{background:#777}
table{border-collapse:collapse;width:100%;font-size:13px;margin:6px 0}
th,td{border:1px solid #d6d6d6;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f1efe8}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.mono,span.mono{font-family:"DejaVu Sans Mono",monospace;font-size:12px}
table.kv th{width:180px}
.fired{color:#b22222;font-weight:bold}
.note{color:#555;font-size:12px}
figure{margin:8px 0}figcaption{font-size:12px;color:#555}
figure svg{width:100%;height:auto}
td.t{white-space:nowrap}
@media print{body{margin:0}h2{page-break-after:avoid}}
"#;

fn kv(o: &mut String, k: &str, v: &str) {
    let _ = writeln!(o, "<tr><th>{}</th><td>{}</td></tr>", esc(k), v);
}

fn table(o: &mut String, id: &str, headers: &[&str], rows: &[Vec<String>]) {
    let _ = write!(o, "<table id=\"{id}\"><thead><tr>");
    for h in headers {
        let _ = write!(o, "<th>{}</th>", esc(h));
    }
    o.push_str("</tr></thead><tbody>\n");
    for r in rows {
        o.push_str("<tr>");
        for c in r {
            o.push_str(c);
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</tbody></table>\n");
}

fn td(s: &str) -> String {
    format!("<td>{}</td>", esc(s))
}
fn td_num(s: &str) -> String {
    format!("<td class=\"num\">{}</td>", esc(s))
}
fn td_time(ms: Option<i64>) -> String {
    format!(
        "<td class=\"t\">{}</td>",
        ms.map(super::super::time::format_ms_seconds)
            .unwrap_or_default()
    )
}
fn td_mono(s: &str) -> String {
    format!("<td class=\"mono\">{}</td>", esc(s))
}

/// The whole page.
pub fn render(input: &ReportInput<'_>) -> String {
    let c = input.case;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>cellwatch case {}</title><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{CSS}</style></head><body>",
        esc(&c.case_id)
    );
    let _ = writeln!(
        o,
        "<header><h1>Case <span class=\"mono\" id=\"case-id\">{}</span></h1><div><span class=\"badge k-{k}\">{k}</span><span class=\"badge s-{s}\" id=\"case-status\">{s}</span><span class=\"sub\">score {:.2} · generated {} from {}</span></div></header>",
        esc(&c.case_id),
        c.score,
        format_ms(input.generated_at_ms),
        esc(input.source),
        k = c.kind.as_str(),
        s = c.status.as_str(),
    );

    o.push_str("<h2>Summary</h2>\n<table class=\"kv\" id=\"summary\">\n");
    kv(&mut o, "kind", c.kind.as_str());
    kv(&mut o, "status", c.status.as_str());
    kv(&mut o, "score (0..1)", &format!("{:.3}", c.score));
    kv(&mut o, "opened at (UTC)", &format_ms(c.opened_at));
    kv(
        &mut o,
        "evidence span (UTC)",
        &format!(
            "{} .. {} ({})",
            format_ms(c.first_seen),
            format_ms(c.last_seen),
            format_duration_ms(c.last_seen - c.first_seen)
        ),
    );
    kv(
        &mut o,
        "records behind the case",
        &format!(
            "{} counted by the detector, {} in this package",
            c.evidence_count,
            input.records.len()
        ),
    );
    if let Some(op) = &c.operator {
        kv(&mut o, "operator", &esc(op));
    }
    if !c.sims.is_empty() {
        kv(&mut o, "SIMs", &c.sims.len().to_string());
    }
    if let Some(cc) = &c.claimed_cell {
        kv(&mut o, "claimed identity", &esc(&cell_label(cc)));
    }
    if let Some(l) = c.location {
        kv(
            &mut o,
            "estimated position",
            &format!(
                "{:.6}, {:.6} (lat, lon) ± {:.0} m",
                l.lat, l.lon, l.radius_m
            ),
        );
    }
    o.push_str("</table>\n");

    o.push_str("<h2>Why this case exists</h2>\n");
    let rows: Vec<Vec<String>> = c
        .reasons
        .iter()
        .map(|r| {
            vec![
                format!("<td class=\"mono fired\">{}</td>", esc(&r.code)),
                td(describe(&r.code).unwrap_or("")),
                td_num(&fmt_num(r.value)),
                td_num(&fmt_num(r.threshold)),
            ]
        })
        .collect();
    table(
        &mut o,
        "reasons",
        &["rule", "meaning", "measured value", "threshold"],
        &rows,
    );

    o.push_str("<h2>Map</h2>\n<figure>\n");
    o.push_str(&render_map(&input.map, 1000.0, 620.0));
    let _ = writeln!(
        o,
        "<figcaption>Local projection, north up, no map tiles (works offline). {}</figcaption></figure>",
        match &input.inventory {
            Some(src) => format!("Registered cells from {}.", esc(src)),
            None => "No registered-cell inventory was given (--cells), so registered cells are not drawn.".into(),
        }
    );

    match c.kind {
        CaseKind::FakeBts => fake_bts_sections(&mut o, input),
        CaseKind::SpamSim | CaseKind::SimFarm => sim_sections(&mut o, input),
    }

    o.push_str("<h2>Status history</h2>\n");
    let rows: Vec<Vec<String>> = input
        .history
        .iter()
        .map(|h| {
            vec![
                td_time(Some(h.changed_at)),
                td(&format!(
                    "{} → {}",
                    h.from_status.as_str(),
                    h.to_status.as_str()
                )),
                td(&h.actor),
                td(&h.note),
            ]
        })
        .collect();
    if rows.is_empty() {
        o.push_str("<p class=\"note\" id=\"history-empty\">No status change yet: the case is as the detector opened it.</p>\n");
    }
    table(
        &mut o,
        "history",
        &["when (UTC)", "change", "by", "note"],
        &rows,
    );

    o.push_str("<h2>Package files</h2>\n");
    let rows: Vec<Vec<String>> = input
        .files
        .iter()
        .map(|(name, hash)| vec![td_mono(name), td_mono(hash)])
        .collect();
    table(&mut o, "files", &["file", "SHA-256"], &rows);
    o.push_str("<p class=\"note\">manifest.sha256 lists the SHA-256 of every file of this package, this report included. Check it with <span class=\"mono\">sha256sum -c manifest.sha256</span> inside the folder or <span class=\"mono\">cellwatch cases verify --evidence DIR</span>. Identifiers of people are pseudonyms (HMAC-SHA256) as the operators sent them.</p>\n");
    o.push_str("</body></html>\n");
    o
}

fn fake_bts_sections(o: &mut String, input: &ReportInput<'_>) {
    let c = input.case;
    o.push_str("<h2>Broadcast identities</h2>\n");
    let ids: Vec<_> = if c.identities.is_empty() {
        c.claimed_cell.iter().collect()
    } else {
        c.identities.iter().collect()
    };
    let rows: Vec<Vec<String>> = ids
        .iter()
        .map(|i| {
            vec![
                td(i.rat.as_str()),
                td_num(&i.mcc.to_string()),
                td_num(&i.mnc.to_string()),
                td_num(&i.lac.to_string()),
                td_num(&i.cid.to_string()),
                td_num(&i.arfcn.map(|a| a.to_string()).unwrap_or_default()),
            ]
        })
        .collect();
    table(
        o,
        "identities",
        &["RAT", "MCC", "MNC", "LAC/TAC", "cell id", "ARFCN"],
        &rows,
    );

    if !c.track.is_empty() {
        o.push_str("<h2>Track</h2>\n");
        let rows: Vec<Vec<String>> = c
            .track
            .iter()
            .enumerate()
            .map(|(i, t)| {
                vec![
                    td_num(&(i + 1).to_string()),
                    td_time(Some(t.ts)),
                    td_num(&format!("{:.6}", t.lat)),
                    td_num(&format!("{:.6}", t.lon)),
                ]
            })
            .collect();
        table(o, "track-table", &["#", "time (UTC)", "lat", "lon"], &rows);
    }

    let obs: Vec<Observation> = input
        .records
        .iter()
        .filter_map(|r| r.observation())
        .collect();
    let _ = writeln!(o, "<h2>Observations ({})</h2>", obs.len());
    let reporters: BTreeSet<&str> = obs.iter().map(|x| x.reporter.as_str()).collect();
    let _ = writeln!(
        o,
        "<p class=\"note\">{} report(s) from {} reporting device(s).{}</p>",
        obs.len(),
        reporters.len(),
        if obs.len() > MAX_OBSERVATION_ROWS {
            format!(" The first {MAX_OBSERVATION_ROWS} are listed; all are in records.jsonl.")
        } else {
            String::new()
        }
    );
    let rows: Vec<Vec<String>> = obs
        .iter()
        .take(MAX_OBSERVATION_ROWS)
        .map(|x| {
            vec![
                td_time(Some(x.ts)),
                td_mono(x.reporter.get(..16).unwrap_or(&x.reporter)),
                td_mono(&x.cell),
                td_num(&format!("{:.5}", x.lat)),
                td_num(&format!("{:.5}", x.lon)),
                td_num(&x.signal_dbm.map(fmt_num).unwrap_or_default()),
                td(&x.event),
            ]
        })
        .collect();
    table(
        o,
        "observations",
        &[
            "time (UTC)",
            "reporter",
            "cell",
            "lat",
            "lon",
            "signal dBm",
            "event",
        ],
        &rows,
    );
}

#[derive(Default)]
struct Member<'a> {
    records: u64,
    sms_out: u64,
    devices: BTreeSet<&'a str>,
    cells: BTreeSet<&'a str>,
    first: Option<i64>,
    last: Option<i64>,
}

fn sim_sections(o: &mut String, input: &ReportInput<'_>) {
    let c = input.case;
    let acts: Vec<Activity> = input.records.iter().filter_map(|r| r.activity()).collect();
    let mut members: BTreeMap<&str, Member> = c
        .sims
        .iter()
        .map(|s| (s.as_str(), Member::default()))
        .collect();
    for a in &acts {
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

    let mut devices: BTreeMap<&str, (BTreeSet<&str>, Option<&str>)> = BTreeMap::new();
    for a in &acts {
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

    o.push_str("<h2>Serving cells</h2>\n");
    let mut cells: BTreeMap<&str, (u64, BTreeSet<&str>)> = BTreeMap::new();
    for a in &acts {
        if let Some(cell) = &a.cell {
            let e = cells.entry(cell.as_str()).or_default();
            e.0 += 1;
            e.1.insert(a.sim.as_str());
        }
    }
    let rows: Vec<Vec<String>> = cells
        .iter()
        .map(|(cell, (n, sims))| {
            let site = input
                .serving
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

    o.push_str("<h2>Activity timeline</h2>\n<figure>\n");
    o.push_str(&render_timeline(&acts, 1000.0, 60));
    o.push_str("<figcaption>One row per SIM (most active first), one bar per reporting interval; darker = more SMS sent. Coordinated farms show as aligned bars.</figcaption></figure>\n");
}
