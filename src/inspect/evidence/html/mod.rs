//! The self-contained HTML report of an evidence package: inline CSS and SVG only, no
//! script, no font or tile server, so it opens offline, prints, and archives as it is.

mod elements;
mod fake_bts;
mod sim;

use super::svg::{render_map, MapInput};
use crate::inspect::export::kml::xml_escape as esc;
use crate::inspect::export::LocatedCell;
use crate::inspect::lifecycle::StatusChange;
use crate::inspect::reasons::describe;
use crate::inspect::records::EvidenceRecord;
use crate::inspect::table::{cell_label, fmt_num};
use crate::inspect::time::{format_duration_ms, format_ms};
use crate::model::{Case, CaseKind};
use elements::{kv, table, td, td_mono, td_num, td_time, CSS};
use std::fmt::Write;

/// Rows of the observations table shown in the page; all are in `records.jsonl`.
pub(crate) const MAX_OBSERVATION_ROWS: usize = 500;

/// Everything the page shows.
pub(crate) struct ReportInput<'a> {
    pub(crate) case: &'a Case,
    pub(crate) history: &'a [StatusChange],
    pub(crate) records: &'a [EvidenceRecord],
    pub(crate) map: MapInput<'a>,
    pub(crate) serving: &'a [LocatedCell],
    pub(crate) generated_at_ms: i64,
    pub(crate) source: &'a str,
    /// Data files of the package with their SHA-256 (the report and manifest excluded).
    pub(crate) files: &'a [(String, String)],
    /// Whether a registered-cell inventory was given.
    pub(crate) inventory: Option<String>,
}

/// The whole page.
pub(crate) fn render(input: &ReportInput<'_>) -> String {
    let mut o = String::new();
    header(&mut o, input);
    summary(&mut o, input);
    reasons(&mut o, input.case);
    map(&mut o, input);
    match input.case.kind {
        CaseKind::FakeBts => fake_bts::fake_bts_sections(&mut o, input),
        CaseKind::SpamSim | CaseKind::SimFarm => sim::sim_sections(&mut o, input),
    }
    history(&mut o, input.history);
    files(&mut o, input.files);
    o.push_str("</body></html>\n");
    o
}

/// The document head (title, stylesheet) and the case's id, kind and status badges.
fn header(o: &mut String, input: &ReportInput<'_>) {
    let c = input.case;
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
}

fn summary(o: &mut String, input: &ReportInput<'_>) {
    let c = input.case;
    o.push_str("<h2>Summary</h2>\n<table class=\"kv\" id=\"summary\">\n");
    kv(o, "kind", c.kind.as_str());
    kv(o, "status", c.status.as_str());
    kv(o, "score (0..1)", &format!("{:.3}", c.score));
    kv(o, "opened at (UTC)", &format_ms(c.opened_at));
    kv(
        o,
        "evidence span (UTC)",
        &format!(
            "{} .. {} ({})",
            format_ms(c.first_seen),
            format_ms(c.last_seen),
            format_duration_ms(c.last_seen - c.first_seen)
        ),
    );
    kv(
        o,
        "records behind the case",
        &format!(
            "{} counted by the detector, {} in this package",
            c.evidence_count,
            input.records.len()
        ),
    );
    if let Some(op) = &c.operator {
        kv(o, "operator", &esc(op));
    }
    if !c.sims.is_empty() {
        kv(o, "SIMs", &c.sims.len().to_string());
    }
    if let Some(cc) = &c.claimed_cell {
        kv(o, "claimed identity", &esc(&cell_label(cc)));
    }
    if let Some(l) = c.location {
        kv(
            o,
            "estimated position",
            &format!(
                "{:.6}, {:.6} (lat, lon) ± {:.0} m",
                l.lat, l.lon, l.radius_m
            ),
        );
    }
    o.push_str("</table>\n");
}

/// The rules that fired, with what they measured.
fn reasons(o: &mut String, c: &Case) {
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
        o,
        "reasons",
        &["rule", "meaning", "measured value", "threshold"],
        &rows,
    );
}

fn map(o: &mut String, input: &ReportInput<'_>) {
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
}

fn history(o: &mut String, history: &[StatusChange]) {
    o.push_str("<h2>Status history</h2>\n");
    let rows: Vec<Vec<String>> = history
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
    table(o, "history", &["when (UTC)", "change", "by", "note"], &rows);
}

/// The package's files with their SHA-256, and how to check them.
fn files(o: &mut String, files: &[(String, String)]) {
    o.push_str("<h2>Package files</h2>\n");
    let rows: Vec<Vec<String>> = files
        .iter()
        .map(|(name, hash)| vec![td_mono(name), td_mono(hash)])
        .collect();
    table(o, "files", &["file", "SHA-256"], &rows);
    o.push_str("<p class=\"note\">manifest.sha256 lists the SHA-256 of every file of this package, this report included. Check it with <span class=\"mono\">sha256sum -c manifest.sha256</span> inside the folder or <span class=\"mono\">cellwatch cases verify --evidence DIR</span>. Identifiers of people are pseudonyms (HMAC-SHA256) as the operators sent them.</p>\n");
}
