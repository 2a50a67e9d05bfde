//! The records behind a case (pseudonymous, as received), for evidence packages and
//! the observations layer of GIS exports.
//!
//! ClickHouse keeps every valid record in `records` (written by the streaming service); the records behind a case are selected there by key and time span. For a
//! replay folder they are found again by re-scanning the input files its
//! `summary.json` lists: SMS-volume records of the case's SIMs (spam, farm) and
//! measurements of the broadcast identities (fake BTS), within
//! `[first_seen − 1 h, last_seen]`.

use super::error::InspectError;
use crate::model::{
    parse_record, Case, CaseKind, CellKey, Event, Feed, KeyText, MeasurementEvent, TimeBounds,
    EVIDENCE_LOOKBACK_MS,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::Path;

/// How far before `first_seen` a record still counts as evidence (the model's
/// [`EVIDENCE_LOOKBACK_MS`], which the ClickHouse archive query uses too).
pub(crate) const LOOKBACK_MS: i64 = EVIDENCE_LOOKBACK_MS;

/// One contributing record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceRecord {
    /// `sms_volume` or `measurements`.
    pub feed: String,
    /// Event time of the record, epoch milliseconds.
    pub event_time: i64,
    /// Natural key of the record: `operator|sim|window_start` or `reporter|ts`.
    pub(crate) record_key: String,
    /// The record as received (pseudonymous by contract).
    pub record: serde_json::Value,
    /// Where it came from (input file, or Kafka topic/partition/offset).
    pub source: String,
}

impl EvidenceRecord {
    /// Position and signal of a measurement record, if it is one.
    pub fn observation(&self) -> Option<Observation> {
        if self.feed != Feed::Measurements.name() {
            return None;
        }
        let r = &self.record;
        Some(Observation {
            ts: self.event_time,
            lat: r.get("lat")?.as_f64()?,
            lon: r.get("lon")?.as_f64()?,
            signal_dbm: r.get("signal_dbm").and_then(|v| v.as_f64()),
            reporter: r
                .get("reporter")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string(),
            cell: KeyText([num(r, "mcc"), num(r, "mnc"), num(r, "lac"), num(r, "cid")]).to_string(),
            event: r
                .get("event")
                .and_then(|v| v.as_str())
                .unwrap_or(MeasurementEvent::default().as_str())
                .to_string(),
        })
    }

    /// The SMS-volume fields an activity timeline needs, if it is such a record.
    pub(crate) fn activity(&self) -> Option<Activity> {
        if self.feed != Feed::SmsVolume.name() {
            return None;
        }
        let r = &self.record;
        let s = |k: &str| r.get(k).and_then(|v| v.as_str()).map(str::to_string);
        Some(Activity {
            ts: self.event_time,
            window_secs: r.get("window_secs").and_then(|v| v.as_u64()).unwrap_or(0),
            sim: s("sim").unwrap_or_default(),
            sms_out: r.get("sms_out").and_then(|v| v.as_u64()).unwrap_or(0),
            device: s("device"),
            imei_tac: s("imei_tac"),
            cell: s("cell"),
        })
    }
}

fn num(r: &serde_json::Value, k: &str) -> String {
    r.get(k).map(|v| v.to_string()).unwrap_or_default()
}

/// A reporter's observation of a claimed identity.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub(crate) ts: i64,
    pub(crate) lat: f64,
    pub(crate) lon: f64,
    pub(crate) signal_dbm: Option<f64>,
    pub(crate) reporter: String,
    pub(crate) cell: String,
    pub(crate) event: String,
}

/// One reporting interval of one SIM.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Activity {
    /// Event time (end of the interval).
    pub(crate) ts: i64,
    pub(crate) window_secs: u64,
    pub(crate) sim: String,
    pub(crate) sms_out: u64,
    pub(crate) device: Option<String>,
    pub(crate) imei_tac: Option<String>,
    pub(crate) cell: Option<String>,
}

/// The replay inputs as `summary.json` lists them.
#[derive(Debug, Clone, Deserialize)]
struct SummaryInputs {
    #[serde(default)]
    inputs: Vec<SummaryInput>,
}

#[derive(Debug, Clone, Deserialize)]
struct SummaryInput {
    feed: String,
    path: String,
}

/// What each case wants from a scan.
struct Wanted {
    by_sim: HashMap<String, Vec<usize>>,
    by_cell: HashMap<CellKey, Vec<usize>>,
}

impl Wanted {
    fn new(cases: &[Case]) -> Wanted {
        let mut by_sim: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_cell: HashMap<CellKey, Vec<usize>> = HashMap::new();
        for (i, c) in cases.iter().enumerate() {
            match c.kind {
                CaseKind::SpamSim | CaseKind::SimFarm => {
                    for s in &c.sims {
                        by_sim.entry(s.clone()).or_default().push(i);
                    }
                }
                CaseKind::FakeBts => {
                    for id in c.claimed_cell.iter().chain(&c.identities) {
                        let v = by_cell.entry(id.key()).or_default();
                        if !v.contains(&i) {
                            v.push(i);
                        }
                    }
                }
            }
        }
        Wanted { by_sim, by_cell }
    }
}

fn in_span(case: &Case, t: i64) -> bool {
    t >= case.first_seen.saturating_sub(LOOKBACK_MS) && t <= case.last_seen
}

/// Re-scan a replay folder's inputs for the records behind `cases`, one pass per input.
/// Inputs read from standard input (`-`) cannot be re-read and are skipped with a
/// warning; a listed file that is gone is an error (the package would be incomplete).
pub(crate) fn scan_replay_inputs(
    folder: &Path,
    cases: &[Case],
) -> Result<BTreeMap<String, Vec<EvidenceRecord>>, InspectError> {
    let mut out = no_records(cases);
    if cases.is_empty() {
        return Ok(out);
    }
    let summary_path = folder.join("summary.json");
    let text = std::fs::read_to_string(&summary_path).map_err(|e| {
        InspectError::read(
            &summary_path,
            e,
            "the replay folder needs its summary.json to find the input files",
        )
    })?;
    let summary: SummaryInputs = serde_json::from_str(&text).map_err(|e| InspectError::Parse {
        path: summary_path.display().to_string(),
        line: e.line(),
        message: format!("not a replay summary: {e}"),
    })?;
    let wanted = Wanted::new(cases);
    // Validation as the replay did it, with a generous upper bound: the records were
    // accepted once already, only their time is checked against the case span.
    let bounds = TimeBounds::at(i64::MAX / 4);
    for input in &summary.inputs {
        let Ok(feed) = input.feed.parse::<Feed>() else {
            continue;
        };
        if input.path == "-" {
            tracing::warn!(
                feed = feed.name(),
                "replay input was standard input; its records cannot be re-read"
            );
            continue;
        }
        let path = resolve_input(folder, &input.path);
        scan_file(&path, feed, &bounds, cases, &wanted, &mut out)?;
    }
    for recs in out.values_mut() {
        recs.sort_by(|a, b| {
            a.event_time
                .cmp(&b.event_time)
                .then_with(|| a.record_key.cmp(&b.record_key))
        });
        recs.dedup_by(|a, b| a.record_key == b.record_key && a.feed == b.feed);
    }
    Ok(out)
}

/// Every case with no records yet: the start of a search for the records behind them.
pub(crate) fn no_records(cases: &[Case]) -> BTreeMap<String, Vec<EvidenceRecord>> {
    cases
        .iter()
        .map(|c| (c.case_id.clone(), Vec::new()))
        .collect()
}

/// A relative input path is relative to where replay ran; try there, then the folder.
fn resolve_input(folder: &Path, listed: &str) -> std::path::PathBuf {
    let p = Path::new(listed);
    if p.is_absolute() || p.exists() {
        return p.to_path_buf();
    }
    let beside = folder.join(p);
    if beside.exists() {
        return beside;
    }
    p.to_path_buf()
}

fn scan_file(
    path: &Path,
    feed: Feed,
    bounds: &TimeBounds,
    cases: &[Case],
    wanted: &Wanted,
    out: &mut BTreeMap<String, Vec<EvidenceRecord>>,
) -> Result<(), InspectError> {
    let file = std::fs::File::open(path).map_err(|e| {
        InspectError::read(
            path,
            e,
            "summary.json lists it as a replay input; put the input files back where replay read them",
        )
    })?;
    let source = path.display().to_string();
    let mut reader = std::io::BufReader::new(file);
    let mut line = Vec::new();
    let mut line_no = 0usize;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| InspectError::read(path, e, "check the file"))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let Ok(event) = parse_record(feed, trim_line(&line), bounds) else {
            continue;
        };
        let t = event.event_time_ms();
        let (hits, key): (&[usize], String) = match &event {
            Event::Sms(r) => match wanted.by_sim.get(r.sim.as_str()) {
                Some(h) => (h, format!("{}|{}|{}", r.operator, r.sim, r.window_start_ms)),
                None => continue,
            },
            Event::Measurement(m) => match wanted.by_cell.get(&m.cell) {
                Some(h) => (h, format!("{}|{}", m.reporter, m.ts_ms)),
                None => continue,
            },
        };
        for &i in hits {
            let case = &cases[i];
            if !in_span(case, t) {
                continue;
            }
            if let (Event::Sms(r), Some(op)) = (&event, &case.operator) {
                if &r.operator != op {
                    continue;
                }
            }
            let Ok(record) = serde_json::from_slice(trim_line(&line)) else {
                continue;
            };
            if let Some(v) = out.get_mut(&case.case_id) {
                v.push(EvidenceRecord {
                    feed: feed.name().to_string(),
                    event_time: t,
                    record_key: key.clone(),
                    record,
                    source: format!("{source}:{line_no}"),
                });
            }
        }
    }
    Ok(())
}

fn trim_line(line: &[u8]) -> &[u8] {
    let mut l = line;
    while let [rest @ .., b'\n' | b'\r'] = l {
        l = rest;
    }
    l
}
