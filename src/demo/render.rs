//! The demo's closing screen: what streamed, the cases as a table, the scores.

use super::DemoReport;
use std::fmt::Write;

/// A readable multi-line summary; the scores' one-line summary comes last.
pub fn summary(r: &DemoReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nstreamed {} records ({:.1} h of event time) through the in-process Kafka in {:.1} s: {:.0} records/s, {:.0}x real time",
        r.produced, r.event_time_span_hours, r.wall_seconds, r.records_per_sec, r.speedup
    );
    let _ = writeln!(
        s,
        "processed {} | valid {} | dead-lettered {} (late {}) | case snapshots {} | cases stored in {}",
        r.processed, r.service.valid, r.service.invalid + r.service.late, r.service.late, r.service.case_snapshots, r.case_store
    );
    let _ = writeln!(
        s,
        "\n{:<22} {:<9} {:>5} {:>7} {:<20} reasons",
        "case", "kind", "score", "records", "opened (UTC)"
    );
    for c in &r.cases {
        let opened = chrono::DateTime::from_timestamp_millis(c.opened_at)
            .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default();
        let reasons: Vec<&str> = c.reasons.iter().map(|x| x.code.as_str()).collect();
        let _ = writeln!(
            s,
            "{:<22} {:<9} {:>5.2} {:>7} {:<20} {}",
            truncate(&c.case_id, 22),
            c.kind.as_str(),
            c.score,
            c.evidence_count,
            opened,
            truncate(&reasons.join(","), 60)
        );
    }
    let _ = writeln!(s, "\n{} cases; files:", r.cases.len());
    for f in &r.files {
        let _ = writeln!(s, "  {}", f.display());
    }
    let _ = write!(s, "\n{}", r.score.one_line());
    s
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n.saturating_sub(1)).collect::<String>() + "…"
    }
}
