//! Hand-made cases, records and a replay-like folder for the `inspect_*` tests, so
//! they do not depend on detector output.

#![allow(dead_code)]

use cellwatch::model::{
    Case, CaseKind, CaseStatus, ClaimedCell, Location, Rat, Reason, TrackPoint,
};
use serde_json::json;
use std::path::{Path, PathBuf};

/// 2026-11-05T00:00:00Z.
pub const T0: i64 = 1_793_836_800_000;
pub const MIN: i64 = 60_000;

pub const BTS_LAT: f64 = 21.0342;
pub const BTS_LON: f64 = 105.8687;

pub fn sim(i: u32) -> String {
    format!("{:032x}", 0x5151_0000_0000u64 + u64::from(i))
}

pub fn device(i: u32) -> String {
    format!("{:032x}", 0xde71_0000_0000u64 + u64::from(i))
}

pub fn reporter(i: u32) -> String {
    format!("{:032x}", 0x7e70_0000_0000u64 + u64::from(i))
}

pub fn claimed() -> ClaimedCell {
    ClaimedCell {
        rat: Rat::Gsm,
        mcc: 452,
        mnc: 4,
        lac: 14349,
        cid: 38748,
        arfcn: Some(100),
    }
}

pub fn second_identity() -> ClaimedCell {
    ClaimedCell {
        lac: 14350,
        cid: 38749,
        ..claimed()
    }
}

pub fn fake_bts_case() -> Case {
    Case {
        case_id: "bts-test-1".into(),
        kind: CaseKind::FakeBts,
        status: CaseStatus::Open,
        opened_at: T0 + 62 * MIN,
        first_seen: T0 + 60 * MIN,
        last_seen: T0 + 120 * MIN,
        score: 0.91,
        operator: None,
        sims: vec![],
        claimed_cell: Some(claimed()),
        identities: vec![claimed(), second_identity()],
        location: Some(Location {
            lat: BTS_LAT,
            lon: BTS_LON,
            radius_m: 420.0,
        }),
        track: (0..4)
            .map(|i| TrackPoint {
                ts: T0 + (60 + 20 * i) * MIN,
                lat: BTS_LAT - 0.004 + 0.002 * i as f64,
                lon: BTS_LON + 0.003 - 0.001 * i as f64,
            })
            .collect(),
        reasons: vec![
            Reason {
                code: "CELL_NOT_REGISTERED".into(),
                value: 1.0,
                threshold: 1.0,
            },
            Reason {
                code: "SIGNAL_TOO_STRONG".into(),
                value: 21.5,
                threshold: 12.0,
            },
        ],
        evidence_count: 40,
    }
}

pub fn spam_case() -> Case {
    Case {
        case_id: "spam-test-1".into(),
        kind: CaseKind::SpamSim,
        status: CaseStatus::Open,
        opened_at: T0 + 30 * MIN,
        first_seen: T0 + 20 * MIN,
        last_seen: T0 + 200 * MIN,
        score: 0.72,
        operator: Some("45201".into()),
        sims: vec![sim(1)],
        claimed_cell: None,
        identities: vec![],
        location: None,
        track: vec![],
        reasons: vec![Reason {
            code: "SMS_RATE_1H".into(),
            value: 310.0,
            threshold: 50.0,
        }],
        evidence_count: 12,
    }
}

pub fn farm_case() -> Case {
    Case {
        case_id: "farm-test-1".into(),
        kind: CaseKind::SimFarm,
        status: CaseStatus::Open,
        opened_at: T0 + 300 * MIN,
        first_seen: T0 + 290 * MIN,
        last_seen: T0 + 360 * MIN,
        score: 0.97,
        operator: Some("45204".into()),
        sims: (100..105).map(sim).collect(),
        claimed_cell: None,
        identities: vec![],
        location: None,
        track: vec![],
        reasons: vec![Reason {
            code: "SIMS_PER_DEVICE".into(),
            value: 5.0,
            threshold: 3.0,
        }],
        evidence_count: 70,
    }
}

pub fn all_cases() -> Vec<Case> {
    vec![fake_bts_case(), spam_case(), farm_case()]
}

/// The farm's serving cell.
pub const FARM_CELL: &str = "452-4-14005-24822";

/// Measurement lines: `n_match` of the fake identities inside the case span, plus
/// decoys (another identity; the right identity long before the span; a malformed line).
pub fn measurement_lines(n_match: usize) -> Vec<String> {
    let mut v = Vec::new();
    for i in 0..n_match {
        let id = if i % 3 == 0 {
            second_identity()
        } else {
            claimed()
        };
        v.push(
            json!({
                "source": "probe", "reporter": reporter(i as u32 % 7), "ts": T0 + 60 * MIN + (i as i64) * 80_000,
                "lat": BTS_LAT + 0.0004 * ((i % 9) as f64 - 4.0), "lon": BTS_LON + 0.0005 * ((i % 5) as f64 - 2.0),
                "rat": "GSM", "mcc": id.mcc, "mnc": id.mnc, "lac": id.lac, "cid": id.cid, "arfcn": 100,
                "signal_dbm": -50.0 - (i % 40) as f64, "cipher": "A5/0",
                "event": if i % 4 == 0 { "sms_received" } else { "camped" }
            })
            .to_string(),
        );
    }
    // another identity at the same time: not evidence
    v.push(json!({"source":"probe","reporter":reporter(50),"ts":T0 + 70 * MIN,"lat":21.0,"lon":105.8,"rat":"LTE","mcc":452,"mnc":4,"lac":14001,"cid":9185041,"signal_dbm":-90.0}).to_string());
    // the right identity three hours before the span: outside [first_seen - 1 h, last_seen]
    v.push(json!({"source":"probe","reporter":reporter(51),"ts":T0 - 180 * MIN,"lat":21.0,"lon":105.8,"rat":"GSM","mcc":452,"mnc":4,"lac":14349,"cid":38748,"signal_dbm":-60.0}).to_string());
    v.push("{not json".to_string());
    v
}

/// SMS-volume lines: `per_sim` records for each farm member and the spam SIM within
/// their spans, plus decoys (an unrelated SIM; the spam SIM under another operator).
pub fn sms_lines(per_sim: usize) -> Vec<String> {
    let mut v = Vec::new();
    let rec = |s: String, op: &str, start: i64, dev: String, n: u32| {
        json!({"operator": op, "sim": s, "window_start": start, "window_secs": 300, "sms_out": n,
               "sms_in": 0, "distinct_recipients": n, "new_recipients": n, "calls_out": 0, "calls_in": 0,
               "device": dev, "imei_tac": "86045701", "cell": FARM_CELL, "sim_age_days": 5, "kyc_verified": false})
        .to_string()
    };
    for k in 0..per_sim as i64 {
        for m in 100..105u32 {
            v.push(rec(
                sim(m),
                "45204",
                T0 + 290 * MIN + k * 5 * MIN,
                device(m % 2),
                3 + (m + k as u32) % 5,
            ));
        }
        v.push(rec(
            sim(1),
            "45201",
            T0 + 20 * MIN + k * 5 * MIN,
            device(9),
            60,
        ));
    }
    v.push(rec(sim(999), "45204", T0 + 300 * MIN, device(5), 2));
    v.push(rec(sim(1), "45299", T0 + 30 * MIN, device(9), 60));
    v
}

/// Registered cells: the farm's cell, cells around the fake BTS, one far away.
pub fn cells_csv() -> String {
    let mut s = String::from("radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal\n");
    s.push_str("GSM,452,4,14005,24822,,105.834234,21.047877,1400,10,1,0,0,0\n");
    for i in 0..6 {
        s.push_str(&format!(
            "LTE,452,2,12001,{},,{:.6},{:.6},900,10,1,0,0,0\n",
            70000 + i,
            BTS_LON + 0.004 * (i as f64 - 2.5),
            BTS_LAT + 0.004 * ((i % 3) as f64 - 1.0)
        ));
    }
    s.push_str("GSM,452,1,11001,5,,106.5,20.5,2000,10,1,0,0,0\n");
    s
}

/// A folder shaped like `cellwatch replay --out DIR`, its inputs beside it.
pub struct ReplayFolder {
    pub root: tempfile::TempDir,
    pub out: PathBuf,
    pub cells: PathBuf,
}

pub fn replay_folder(cases: &[Case], n_measurements: usize, sms_per_sim: usize) -> ReplayFolder {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let meas = root.path().join("measurements.jsonl");
    let sms = root.path().join("sms_volume.jsonl");
    std::fs::write(&meas, measurement_lines(n_measurements).join("\n") + "\n").unwrap();
    std::fs::write(&sms, sms_lines(sms_per_sim).join("\n") + "\n").unwrap();
    let cells = root.path().join("cells.csv");
    std::fs::write(&cells, cells_csv()).unwrap();
    write_cases(&out, cases);
    let summary = json!({
        "records_read": 0,
        "inputs": [
            {"feed": "sms_volume", "path": sms.display().to_string(), "lines": 0},
            {"feed": "measurements", "path": meas.display().to_string(), "lines": 0}
        ]
    });
    std::fs::write(
        out.join("summary.json"),
        serde_json::to_vec_pretty(&summary).unwrap(),
    )
    .unwrap();
    std::fs::write(out.join("dead_letter.jsonl"), "").unwrap();
    std::fs::write(out.join("inventory_findings.jsonl"), "").unwrap();
    ReplayFolder { root, out, cells }
}

pub fn write_cases(dir: &Path, cases: &[Case]) {
    let text: String = cases
        .iter()
        .map(|c| serde_json::to_string(c).unwrap() + "\n")
        .collect();
    std::fs::write(dir.join("cases.jsonl"), text).unwrap();
}

/// Run the cellwatch binary; returns (exit success, stdout, stderr).
pub fn cellwatch(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cellwatch"))
        .args(args)
        .env("RUST_LOG", "warn")
        .env("USER", "test-inspector")
        .output()
        .expect("run the cellwatch binary");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}
