//! `cellwatch replay` never crashes or hangs on any input: each bad line becomes a
//! dead letter with its file, line and reason; a missing file is a clear error.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

const SIM: &str = "9f86d081884c7d659f86d081884c7d65";

fn cellwatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cellwatch"))
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn replay_sms(input: &Path, out: &Path) -> std::process::Output {
    cellwatch()
        .args(["replay", "--sms-volume"])
        .arg(input)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn every_kind_of_bad_line_is_dead_lettered_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("sms.jsonl");
    let good = format!(
        r#"{{"operator":"45204","sim":"{SIM}","window_start":1764200000000,"window_secs":300,"sms_out":3}}"#
    );
    let mut bytes = Vec::new();
    let lines: Vec<Vec<u8>> = vec![
        good.clone().into_bytes(),            // 1 valid
        b"{\"operator\":\"45204\",".to_vec(), // 2 malformed
        good.replace("\"sms_out\":3", "\"sms_out\":\"three\"")
            .into_bytes(), // 3 wrong type
        vec![b'{', 0xff, 0xfe, b'}'],         // 4 invalid utf-8
        vec![b'x'; 10 * 1024 * 1024],         // 5 10 MB line
        Vec::new(),                           // 6 empty line
        good.replace(SIM, "84912345678").into_bytes(), // 7 clear number
        good.replace("1764200000000", "1764100000000").into_bytes(), // 8 late (27 h older)
        b"null".to_vec(),                     // 9 not an object
        good.clone().into_bytes(),            // 10 valid
    ];
    for l in &lines {
        bytes.extend_from_slice(l);
        bytes.push(b'\n');
    }
    std::fs::write(&input, &bytes).unwrap();
    let out = dir.path().join("out");
    let res = replay_sms(&input, &out);
    assert!(
        res.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&res.stderr)
    );

    let dead = read_jsonl(&out.join("dead_letter.jsonl"));
    let got: Vec<(u64, String)> = dead
        .iter()
        .map(|d| {
            (
                d["line"].as_u64().unwrap(),
                d["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(u64, String)> = [
        (2, "malformed_json"),
        (3, "wrong_type"),
        (4, "invalid_utf8"),
        (5, "too_large"),
        (6, "malformed_json"),
        (7, "not_pseudonymized"),
        (8, "late"),
        (9, "malformed_json"),
    ]
    .iter()
    .map(|(l, r)| (*l, r.to_string()))
    .collect();
    assert_eq!(got, want);
    for d in &dead {
        assert_eq!(d["file"].as_str().unwrap(), input.display().to_string());
        assert!(!d["error"].as_str().unwrap().is_empty());
    }
    assert_eq!(dead[2]["raw_base64"].as_str().unwrap(), "e//+fQ==");
    assert_eq!(dead[3]["raw_len"].as_u64().unwrap(), 10 * 1024 * 1024);
    assert_eq!(dead[3]["truncated"], Value::Bool(true));
    assert_eq!(dead[1]["field"].as_str().unwrap(), "sms_out");

    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["records_read"], 10);
    assert_eq!(summary["valid"], 2);
    assert_eq!(summary["invalid"], 7);
    assert_eq!(summary["late"], 1);
    assert_eq!(summary["invalid_by_reason"]["malformed_json"], 3);
    assert!(summary["wall_time_ms"].is_u64());
    assert!(summary["records_per_sec"].is_number());
}

#[test]
fn empty_file_gives_empty_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("empty.jsonl");
    std::fs::write(&input, b"").unwrap();
    let out = dir.path().join("out");
    let res = replay_sms(&input, &out);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(out.join("cases.jsonl")).unwrap(),
        ""
    );
    assert_eq!(
        std::fs::read_to_string(out.join("dead_letter.jsonl")).unwrap(),
        ""
    );
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["records_read"], 0);
}

#[test]
fn missing_file_is_a_clear_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let res = replay_sms(&dir.path().join("nope.jsonl"), &out);
    assert!(!res.status.success());
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(
        err.contains("cannot open input") && err.contains("nope.jsonl"),
        "{err}"
    );
    assert!(!out.exists(), "no output folder for a failed start");
}

#[test]
fn no_input_and_bad_arguments_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let res = cellwatch()
        .args(["replay", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!res.status.success());
    assert!(String::from_utf8_lossy(&res.stderr).contains("nothing to replay"));
    let res = cellwatch()
        .args([
            "replay",
            "--sms-volume",
            "-",
            "--measurements",
            "-",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!res.status.success());
    assert!(String::from_utf8_lossy(&res.stderr).contains("standard input"));
}

#[test]
fn standard_input_is_read() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut child = cellwatch()
        .args(["replay", "--sms-volume", "-", "--out"])
        .arg(&out)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let line = format!(
        r#"{{"operator":"45204","sim":"{SIM}","window_start":"2026-11-27T00:00:00Z","window_secs":60,"sms_out":1}}"#
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{line}\n{line}\n").as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["valid"], 2);
}
