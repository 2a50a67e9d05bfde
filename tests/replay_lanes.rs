//! The replay runs each feed on its own thread (a lane of the pipeline) when every
//! detector consumes one feed. The lanes must change nothing: replaying both feeds
//! together gives exactly the cases, dead letters and inventory findings of replaying
//! each feed alone.

use cellwatch::config::Config;
use cellwatch::replay::{InputPath, ReplayOptions};
use cellwatch::simulate::{write_scenario, Scale, SimConfig, Truth};
use std::path::Path;

fn replay(dir: &Path, out: &str, sms: bool, measurements: bool, now_ms: i64) -> std::path::PathBuf {
    let out = dir.join(out);
    cellwatch::replay::run(&ReplayOptions {
        sms_volume: sms.then(|| InputPath::File(dir.join("sms_volume.jsonl"))),
        measurements: measurements.then(|| InputPath::File(dir.join("measurements.jsonl"))),
        cells: Some(dir.join("cells.csv")),
        out: out.clone(),
        config: Config::default(),
        now_ms: Some(now_ms),
    })
    .expect("replay runs");
    out
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("output file")
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn both_feeds_together_equal_each_feed_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_scenario(
        &SimConfig {
            seed: 2,
            scale: Scale::Small,
        },
        dir.path(),
    )
    .expect("scenario");
    let truth = Truth::load(dir.path().join("truth.json")).expect("truth");
    let now = truth.end_ms + 86_400_000;
    let both = replay(dir.path(), "both", true, true, now);
    let sms = replay(dir.path(), "sms", true, false, now);
    let meas = replay(dir.path(), "meas", false, true, now);

    let mut alone: Vec<String> = lines(&sms.join("cases.jsonl"));
    alone.extend(lines(&meas.join("cases.jsonl")));
    alone.sort();
    let mut together = lines(&both.join("cases.jsonl"));
    assert!(together.len() > 10, "the scenario yields cases");
    together.sort();
    assert_eq!(together, alone, "cases");

    // dead letters: the SMS input's, then the measurements'
    let mut dead = lines(&sms.join("dead_letter.jsonl"));
    dead.extend(lines(&meas.join("dead_letter.jsonl")));
    assert!(!dead.is_empty(), "the simulator plants invalid records");
    assert_eq!(lines(&both.join("dead_letter.jsonl")), dead, "dead letters");

    // findings: the SMS input's (spam near misses), then the measurements'
    let mut findings = lines(&sms.join("inventory_findings.jsonl"));
    findings.extend(lines(&meas.join("inventory_findings.jsonl")));
    assert_eq!(
        lines(&both.join("inventory_findings.jsonl")),
        findings,
        "inventory findings"
    );

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(both.join("summary.json")).unwrap()).unwrap();
    let part = |p: &Path, k: &str| -> u64 {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p.join("summary.json")).unwrap())
                .unwrap();
        v[k].as_u64().unwrap()
    };
    for k in ["records_read", "valid", "invalid", "late"] {
        assert_eq!(
            summary[k].as_u64().unwrap(),
            part(&sms, k) + part(&meas, k),
            "summary {k}"
        );
    }
    assert_eq!(
        summary["detectors"],
        serde_json::json!(["spam", "fake_bts"])
    );
}
