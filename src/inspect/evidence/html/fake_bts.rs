//! The fake-base-station part of the report: broadcast identities, track and
//! observations.

use super::elements::{table, td, td_mono, td_num, td_time};
use super::{ReportInput, MAX_OBSERVATION_ROWS};
use crate::inspect::records::{EvidenceRecord, Observation};
use crate::inspect::table::fmt_num;
use crate::model::{Case, TrackPoint};
use std::collections::BTreeSet;
use std::fmt::Write;

pub(super) fn fake_bts_sections(o: &mut String, input: &ReportInput<'_>) {
    identities(o, input.case);
    track(o, &input.case.track);
    observations(o, input.records);
}

/// Every identity the transmitter broadcast (the claimed one when none is listed).
fn identities(o: &mut String, c: &Case) {
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
}

fn track(o: &mut String, track: &[TrackPoint]) {
    if track.is_empty() {
        return;
    }
    o.push_str("<h2>Track</h2>\n");
    let rows: Vec<Vec<String>> = track
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

/// The reports of the claimed identities, the first [`MAX_OBSERVATION_ROWS`] listed.
fn observations(o: &mut String, records: &[EvidenceRecord]) {
    let obs: Vec<Observation> = records.iter().filter_map(|r| r.observation()).collect();
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
