//! Human-readable terminal output: a case list as an aligned table and one case in
//! detail with its reasons and audit trail.

use super::lifecycle::StatusChange;
use super::reasons::describe;
use super::time::{format_duration_ms, format_ms, format_ms_short};
use crate::model::{Case, CaseKind, CaseStatus, ClaimedCell, Reason};
use std::fmt::Write;

/// Align rows under headers, two spaces between columns; the last column is not padded.
pub fn render_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                l.push_str(c);
            } else {
                let pad = w - c.chars().count();
                l.push_str(c);
                l.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(headers.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
    out
}

/// `MCC-MNC-LAC-CID/RAT`.
pub(crate) fn cell_label(c: &ClaimedCell) -> String {
    format!("{}/{}", c.key(), c.rat)
}

/// Who or what a case is about, in a few characters.
pub(crate) fn subject(case: &Case) -> String {
    match case.kind {
        CaseKind::SpamSim => case
            .sims
            .first()
            .map(|s| short(s, 16))
            .unwrap_or_else(|| "-".into()),
        CaseKind::SimFarm => format!("{} sims", case.sims.len()),
        CaseKind::FakeBts => {
            let first = case
                .claimed_cell
                .as_ref()
                .or(case.identities.first())
                .map(cell_label)
                .unwrap_or_else(|| "-".into());
            let extra = case.identities.len().saturating_sub(1);
            if extra > 0 {
                format!("{first} +{extra}")
            } else {
                first
            }
        }
    }
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n).collect();
        t.push('…');
        t
    }
}

fn location_cell(case: &Case) -> String {
    match case.location {
        Some(l) => format!("{:.5},{:.5} ±{:.0}m", l.lat, l.lon, l.radius_m),
        None => "-".into(),
    }
}

/// The `cases list` table.
pub fn case_list(cases: &[Case]) -> String {
    let headers = [
        "CASE ID",
        "KIND",
        "STATUS",
        "SCORE",
        "OPENED (UTC)",
        "SPAN",
        "OPERATOR",
        "SUBJECT",
        "LOCATION",
        "EVIDENCE",
    ];
    let rows: Vec<Vec<String>> = cases
        .iter()
        .map(|c| {
            vec![
                c.case_id.clone(),
                c.kind.as_str().into(),
                c.status.as_str().into(),
                format!("{:.2}", c.score),
                format_ms_short(c.opened_at),
                format_duration_ms(c.last_seen - c.first_seen),
                c.operator.clone().unwrap_or_else(|| "-".into()),
                subject(c),
                location_cell(c),
                c.evidence_count.to_string(),
            ]
        })
        .collect();
    let mut out = render_table(&headers, &rows);
    let _ = writeln!(out, "{} case(s)", cases.len());
    out
}

/// The `cases show` text: the case, its reasons, identities, track and history.
pub fn case_detail(case: &Case, history: &[StatusChange]) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "case        {}", case.case_id);
    let _ = writeln!(o, "kind        {}", case.kind.as_str());
    let _ = writeln!(o, "status      {}", case.status.as_str());
    let _ = writeln!(o, "score       {:.3}", case.score);
    let _ = writeln!(o, "opened at   {}", format_ms(case.opened_at));
    let _ = writeln!(
        o,
        "evidence    {} .. {} ({}), {} record(s)",
        format_ms(case.first_seen),
        format_ms(case.last_seen),
        format_duration_ms(case.last_seen - case.first_seen),
        case.evidence_count
    );
    if let Some(op) = &case.operator {
        let _ = writeln!(o, "operator    {op}");
    }
    if !case.sims.is_empty() {
        sims_lines(&mut o, &case.sims);
    }
    identity_lines(&mut o, case);
    reason_lines(&mut o, &case.reasons);
    history_lines(&mut o, case.status, history);
    o
}

/// The SIMs of a case, the first 50 listed.
fn sims_lines(o: &mut String, sims: &[String]) {
    let _ = writeln!(o, "sims        {}", sims.len());
    for s in sims.iter().take(50) {
        let _ = writeln!(o, "  {s}");
    }
    if sims.len() > 50 {
        let _ = writeln!(o, "  … {} more (use --json)", sims.len() - 50);
    }
}

/// Claimed identities, estimated location and track of a fake base station.
fn identity_lines(o: &mut String, case: &Case) {
    if let Some(c) = &case.claimed_cell {
        let _ = writeln!(o, "claimed     {}{}", cell_label(c), arfcn(c));
    }
    if !case.identities.is_empty() {
        let ids: Vec<String> = case
            .identities
            .iter()
            .map(|c| format!("{}{}", cell_label(c), arfcn(c)))
            .collect();
        let _ = writeln!(o, "identities  {}", ids.join(", "));
    }
    if let Some(l) = case.location {
        let _ = writeln!(
            o,
            "location    {:.6}, {:.6} (lat, lon) ± {:.0} m",
            l.lat, l.lon, l.radius_m
        );
    }
    if !case.track.is_empty() {
        let _ = writeln!(o, "track       {} point(s)", case.track.len());
        for p in &case.track {
            let _ = writeln!(o, "  {}  {:.6}, {:.6}", format_ms(p.ts), p.lat, p.lon);
        }
    }
}

fn reason_lines(o: &mut String, reasons: &[Reason]) {
    o.push_str("\nreasons\n");
    let rows: Vec<Vec<String>> = reasons
        .iter()
        .map(|r| {
            vec![
                r.code.clone(),
                fmt_num(r.value),
                fmt_num(r.threshold),
                describe(&r.code).unwrap_or("").to_string(),
            ]
        })
        .collect();
    for l in render_table(&["CODE", "VALUE", "THRESHOLD", "MEANING"], &rows).lines() {
        let _ = writeln!(o, "  {l}");
    }
}

/// The status changes, or the detector's status when there is none.
fn history_lines(o: &mut String, status: CaseStatus, history: &[StatusChange]) {
    o.push_str("\nhistory\n");
    if history.is_empty() {
        let _ = writeln!(
            o,
            "  no status change yet (status from the detector: {})",
            status.as_str()
        );
    } else {
        let rows: Vec<Vec<String>> = history
            .iter()
            .map(|h| {
                vec![
                    format_ms(h.changed_at),
                    format!("{} → {}", h.from_status.as_str(), h.to_status.as_str()),
                    h.actor.clone(),
                    h.note.replace(['\n', '\r'], " "),
                ]
            })
            .collect();
        for l in render_table(&["WHEN (UTC)", "CHANGE", "BY", "NOTE"], &rows).lines() {
            let _ = writeln!(o, "  {l}");
        }
    }
}

fn arfcn(c: &ClaimedCell) -> String {
    c.arfcn.map(|a| format!(" arfcn {a}")).unwrap_or_default()
}

/// A number as an inspector reads it: integers without decimals, others with up to 3.
pub(crate) fn fmt_num(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_aligned() {
        let t = render_table(
            &["A", "BB", "C"],
            &[vec!["xxx".into(), "y".into(), "z".into()]],
        );
        assert_eq!(t, "A    BB  C\nxxx  y   z\n");
        assert_eq!(fmt_num(3.0), "3");
        assert_eq!(fmt_num(0.8333333), "0.833");
        assert_eq!(fmt_num(0.5), "0.5");
    }
}
