//! Other producers write the same records differently: upper-case hex pseudonyms,
//! integers printed as floats (`5.0`), a byte-order mark at the start of a file,
//! Windows line ends, radio technologies and events in other letter cases, ciphers in
//! lower case; or, as an export from a database or a CSV file does, numbers in quotes,
//! epoch seconds, operator codes as numbers, booleans as 1/0. docs/contract.md says
//! cellwatch reads these as what they mean; here a simulated scenario rewritten with
//! every one of those habits must give exactly the cases and the dead-letter reasons
//! of the original files.

mod scenario;

use serde_json::{Map, Value};
use std::path::Path;
use std::process::Command;

/// Integer fields of the two feeds, written as floats by the rewrite.
const INT_FIELDS: [&str; 13] = [
    "window_secs",
    "sms_out",
    "sms_in",
    "distinct_recipients",
    "offnet_out",
    "calls_out",
    "sim_age_days",
    "mcc",
    "mnc",
    "lac",
    "cid",
    "ta",
    "neighbors",
];

fn upper(obj: &mut Map<String, Value>, field: &str) {
    if let Some(Value::String(s)) = obj.get_mut(field) {
        *s = s.to_uppercase();
    }
}

fn lower(obj: &mut Map<String, Value>, field: &str) {
    if let Some(Value::String(s)) = obj.get_mut(field) {
        *s = s.to_lowercase();
    }
}

/// One valid record written with every habit; anything that is not a JSON object
/// (the scenario's malformed lines) is kept as it is.
fn rewrite(line: &str) -> String {
    let Ok(Value::Object(mut obj)) = serde_json::from_str::<Value>(line) else {
        return line.to_string();
    };
    for field in ["sim", "device", "reporter"] {
        upper(&mut obj, field);
    }
    for field in ["rat", "cipher"] {
        lower(&mut obj, field);
    }
    upper(&mut obj, "event");
    for field in INT_FIELDS {
        if let Some(n) = obj.get(field).and_then(Value::as_i64) {
            obj.insert(field.into(), Value::from(n as f64));
        }
    }
    Value::Object(obj).to_string()
}

/// Numeric fields quoted by the export (besides [`INT_FIELDS`]).
const FLOAT_FIELDS: [&str; 4] = ["lat", "lon", "accuracy_m", "signal_dbm"];

/// One record as a database export writes it: every number in quotes, epoch
/// milliseconds as seconds (with a fraction where they have one), operator codes as
/// numbers, booleans as 1/0. Malformed objects are rewritten too: each still breaks
/// its rule (a negative count in quotes is still negative, text stays text).
fn export(line: &str) -> String {
    let Ok(Value::Object(mut obj)) = serde_json::from_str::<Value>(line) else {
        return line.to_string();
    };
    for field in INT_FIELDS.iter().chain(&FLOAT_FIELDS) {
        if let Some(Value::Number(n)) = obj.get(*field) {
            let quoted = Value::String(n.to_string());
            obj.insert(field.to_string(), quoted);
        }
    }
    for field in ["window_start", "ts"] {
        if let Some(ms) = obj.get(field).and_then(Value::as_i64) {
            let secs = if ms % 1000 == 0 {
                Value::from(ms / 1000)
            } else {
                Value::from(ms as f64 / 1000.0)
            };
            obj.insert(field.into(), secs);
        }
    }
    for field in ["operator", "source"] {
        let code = obj
            .get(field)
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<u64>().ok());
        if let Some(code) = code {
            obj.insert(field.into(), Value::from(code));
        }
    }
    if let Some(b) = obj.get("kyc_verified").and_then(Value::as_bool) {
        obj.insert("kyc_verified".into(), Value::from(u8::from(b)));
    }
    Value::Object(obj).to_string()
}

/// `src` rewritten to `dst`: a BOM first, each line rewritten, CRLF line ends (lines
/// that are not UTF-8, among the scenario's malformed ones, are kept as they are).
fn rewrite_file(src: &Path, dst: &Path) {
    rewrite_file_with(src, dst, rewrite);
}

/// `src` rewritten line by line with `habit` to `dst` (BOM and CRLF as above).
fn rewrite_file_with(src: &Path, dst: &Path, habit: fn(&str) -> String) {
    let bytes = std::fs::read(src).unwrap();
    let mut out = "\u{feff}".as_bytes().to_vec();
    let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    for line in body.split(|b| *b == b'\n') {
        match std::str::from_utf8(line) {
            Ok(text) => out.extend_from_slice(habit(text).as_bytes()),
            Err(_) => out.extend_from_slice(line),
        }
        out.extend_from_slice(b"\r\n");
    }
    std::fs::write(dst, out).unwrap();
}

fn replay(dir: &Path, sms: &Path, meas: &Path, out: &Path) {
    let res = Command::new(env!("CARGO_BIN_EXE_cellwatch"))
        .arg("replay")
        .arg("--sms-volume")
        .arg(sms)
        .arg("--measurements")
        .arg(meas)
        .arg("--cells")
        .arg(dir.join("cells.csv"))
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        res.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&res.stderr)
    );
}

/// Dead-letter reasons per (file stem, line), the files' names aside.
fn dead_reasons(out: &Path) -> Vec<(String, u64)> {
    let text = std::fs::read_to_string(out.join("dead_letter.jsonl")).unwrap_or_default();
    let mut v: Vec<(String, u64)> = text
        .lines()
        .map(|l| {
            let d: Value = serde_json::from_str(l).unwrap();
            (
                format!("{}:{}", d["feed"], d["reason"]),
                d["line"].as_u64().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_feed_written_with_other_habits_gives_the_same_cases() {
    let s = scenario::small(5);
    let dir = s.dir.path();
    let (sms, meas) = (dir.join("sms_volume.jsonl"), dir.join("measurements.jsonl"));
    let (sms2, meas2) = (dir.join("sms_habits.jsonl"), dir.join("meas_habits.jsonl"));
    rewrite_file(&sms, &sms2);
    rewrite_file(&meas, &meas2);
    let written = std::fs::read(&sms2).unwrap();
    assert!(written.windows(3).any(|w| w == b".0,"), "floats written");
    let (out, out2) = (dir.join("out"), dir.join("out_habits"));
    replay(dir, &sms, &meas, &out);
    replay(dir, &sms2, &meas2, &out2);
    let cases = std::fs::read_to_string(out.join("cases.jsonl")).unwrap();
    let cases2 = std::fs::read_to_string(out2.join("cases.jsonl")).unwrap();
    assert!(cases.lines().count() > 10, "the scenario gives cases");
    assert!(cases == cases2, "other feed habits changed the cases");
    assert_eq!(dead_reasons(&out), dead_reasons(&out2));
}

#[test]
fn a_database_export_gives_the_same_cases() {
    let s = scenario::small(6);
    let dir = s.dir.path();
    let (sms, meas) = (dir.join("sms_volume.jsonl"), dir.join("measurements.jsonl"));
    let (sms2, meas2) = (dir.join("sms_export.jsonl"), dir.join("meas_export.jsonl"));
    rewrite_file_with(&sms, &sms2, export);
    rewrite_file_with(&meas, &meas2, export);
    let written = String::from_utf8_lossy(&std::fs::read(&sms2).unwrap()).into_owned();
    assert!(written.contains(r#""sms_out":""#), "numbers quoted");
    assert!(
        written.contains(r#""operator":452"#),
        "operator codes as numbers"
    );
    let (out, out2) = (dir.join("out"), dir.join("out_export"));
    replay(dir, &sms, &meas, &out);
    replay(dir, &sms2, &meas2, &out2);
    let cases = std::fs::read_to_string(out.join("cases.jsonl")).unwrap();
    let cases2 = std::fs::read_to_string(out2.join("cases.jsonl")).unwrap();
    assert!(cases.lines().count() > 10, "the scenario gives cases");
    assert!(cases == cases2, "a database export changed the cases");
    assert_eq!(dead_reasons(&out), dead_reasons(&out2));
}
