//! The README's first command works on a machine with nothing installed: `cellwatch
//! demo` streams a scenario through librdkafka's in-process mock cluster into the
//! same service code, processes every record, and writes its files.

use std::process::Command;

#[test]
fn demo_streams_every_record_and_writes_its_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cellwatch"))
        .args(["demo", "--quiet", "--seed", "2", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("through the in-process Kafka"), "{stdout}");
    let last = stdout.trim_end().lines().last().unwrap();
    assert!(
        last.starts_with("sims: precision"),
        "scores come last: {last}"
    );

    let output = dir.path().join("output");
    let cases = cellwatch::cases::read_jsonl(&output.join("cases.jsonl")).unwrap();
    assert!(!cases.is_empty(), "the scenario's attackers yield cases");
    let csv = std::fs::read_to_string(output.join("cases.csv")).unwrap();
    assert_eq!(
        csv.lines().count(),
        cases.len() + 1,
        "one CSV row per case plus the header"
    );
    let geo: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(output.join("rogue_transmitters.geojson")).unwrap(),
    )
    .unwrap();
    assert_eq!(geo["type"], "FeatureCollection");
    assert!(
        std::fs::read_to_string(output.join("rogue_transmitters.kml"))
            .unwrap()
            .contains("<kml")
    );

    // Count check: every line of the scenario was consumed and acknowledged.
    let scenario = dir.path().join("scenario");
    let lines = |f: &str| {
        std::fs::read(scenario.join(f))
            .unwrap()
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count()
    };
    let empty_lines = |f: &str| {
        let bytes = std::fs::read(scenario.join(f)).unwrap();
        let mut v: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
        if v.last().is_some_and(|l| l.is_empty()) {
            v.pop();
        }
        v.iter().filter(|l| l.is_empty()).count()
    };
    let total = lines("sms_volume.jsonl")
        + lines("measurements.jsonl")
        + empty_lines("sms_volume.jsonl")
        + empty_lines("measurements.jsonl");
    assert!(
        stdout.contains(&format!("streamed {total} records")),
        "expected {total} records streamed: {stdout}"
    );
    assert!(
        stdout.contains(&format!("processed {total} ")),
        "every record processed: {stdout}"
    );
}
