//! The activity timeline of SIM cases: one row per SIM, one bar per reporting interval.

use super::short;
use crate::inspect::export::kml::xml_escape;
use crate::inspect::records::Activity;
use crate::inspect::time::format_ms;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Margins and row height of the timeline, pixels.
const LEFT: f64 = 130.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 10.0;
const ROW_H: f64 = 12.0;

/// The activity timeline of SIM cases: one row per SIM, one bar per reporting
/// interval, darker for more SMS sent; `<svg id="timeline">`.
pub(crate) fn render_timeline(activity: &[Activity], width: f64, max_rows: usize) -> String {
    let mut o = String::new();
    if activity.is_empty() {
        let _ = writeln!(
            o,
            r##"<svg id="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} 40" width="{width}" height="40"><text x="10" y="24" font-size="13" fill="#555">no activity records for this case</text></svg>"##
        );
        return o;
    }
    let mut per_sim: BTreeMap<&str, Vec<&Activity>> = BTreeMap::new();
    for a in activity {
        per_sim.entry(a.sim.as_str()).or_default().push(a);
    }
    let sims = busiest_sims(&per_sim, max_rows);
    let axis = TimeAxis::new(activity, width);
    let max_out = activity.iter().map(|a| a.sms_out).max().unwrap_or(1).max(1) as f64;
    let height = TOP + ROW_H * sims.len() as f64 + 34.0;
    let _ = writeln!(
        o,
        r##"<svg id="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height:.0}" width="{width}" height="{height:.0}" role="img" aria-label="activity timeline">"##
    );
    let _ = writeln!(
        o,
        r##"<rect x="{LEFT}" y="{TOP}" width="{:.1}" height="{:.1}" fill="#fafafa" stroke="#ccc"/>"##,
        axis.plot_w,
        ROW_H * sims.len() as f64
    );
    for (row, (sim, total)) in sims.iter().enumerate() {
        sim_row(&mut o, row, sim, *total, &per_sim[sim], &axis, max_out);
    }
    let yb = TOP + ROW_H * sims.len() as f64;
    let _ = writeln!(
        o,
        r##"<text x="{LEFT}" y="{:.1}" font-size="11" fill="#333">{}</text><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="#333">{}</text>"##,
        yb + 16.0,
        format_ms(axis.t0),
        width - RIGHT,
        yb + 16.0,
        format_ms(axis.t1)
    );
    if per_sim.len() > sims.len() {
        let _ = writeln!(
            o,
            r##"<text x="{LEFT}" y="{:.1}" font-size="11" fill="#777">{} more SIM(s) not drawn; all are in the members table</text>"##,
            yb + 30.0,
            per_sim.len() - sims.len()
        );
    }
    o.push_str("</svg>\n");
    o
}

/// The SIMs that sent most (ties by SIM), at most `max_rows`, with their totals.
fn busiest_sims<'a>(
    per_sim: &BTreeMap<&'a str, Vec<&Activity>>,
    max_rows: usize,
) -> Vec<(&'a str, u64)> {
    let mut sims: Vec<(&str, u64)> = per_sim
        .iter()
        .map(|(s, v)| (*s, v.iter().map(|a| a.sms_out).sum()))
        .collect();
    sims.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    sims.truncate(max_rows);
    sims
}

/// Event time to x: from the start of the first interval to the last end.
struct TimeAxis {
    t0: i64,
    t1: i64,
    plot_w: f64,
}

impl TimeAxis {
    fn new(activity: &[Activity], width: f64) -> TimeAxis {
        let t0 = activity
            .iter()
            .map(|a| a.ts - (a.window_secs as i64) * 1000)
            .min()
            .unwrap_or(0);
        let t1 = activity
            .iter()
            .map(|a| a.ts)
            .max()
            .unwrap_or(t0 + 1)
            .max(t0 + 1);
        TimeAxis {
            t0,
            t1,
            plot_w: width - LEFT - RIGHT,
        }
    }

    fn x(&self, t: i64) -> f64 {
        LEFT + (t - self.t0) as f64 / (self.t1 - self.t0) as f64 * self.plot_w
    }
}

/// One SIM's row: its label and a bar per reporting interval.
fn sim_row(
    o: &mut String,
    row: usize,
    sim: &str,
    total: u64,
    activity: &[&Activity],
    axis: &TimeAxis,
    max_out: f64,
) {
    let y = TOP + ROW_H * row as f64;
    let _ = write!(
        o,
        r##"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end" font-family="monospace" fill="#333">{}</text>"##,
        LEFT - 6.0,
        y + ROW_H - 3.0,
        xml_escape(short(sim))
    );
    for a in activity {
        let x0 = axis.x(a.ts - (a.window_secs as i64) * 1000);
        let x1 = axis.x(a.ts).max(x0 + 1.0);
        let op = 0.15 + 0.85 * (a.sms_out as f64 / max_out);
        let _ = write!(
            o,
            r##"<rect class="act" x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#1f5fa8" fill-opacity="{op:.2}"><title>{} {} sms_out {}</title></rect>"##,
            y + 1.0,
            x1 - x0,
            ROW_H - 2.0,
            xml_escape(short(sim)),
            format_ms(a.ts),
            a.sms_out
        );
    }
    let _ = writeln!(o, "<!-- {} sms total -->", total);
}
