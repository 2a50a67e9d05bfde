//! The simulator's output follows the feed contract: every line not counted as
//! malformed in the truth parses, every malformed one is refused, late records are
//! exactly the ones the truth announces, and the same seed gives the same bytes.

use cellwatch::model::{parse_record, Event, Feed, TimeBounds};
use cellwatch::simulate::truth::Truth;
use cellwatch::simulate::{write_scenario, Scale, SimConfig};
use std::collections::BTreeSet;
use std::path::Path;

/// Allowed lateness the pipeline uses by default (10 minutes).
const ALLOWED_LATENESS_MS: i64 = 600_000;

struct FileCheck {
    lines: u64,
    invalid: u64,
    late: u64,
    max_disorder_ms: i64,
}

fn check_file(path: &Path, feed: Feed) -> FileCheck {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        bytes.last(),
        Some(&b'\n'),
        "{} ends with a newline",
        path.display()
    );
    let bounds = TimeBounds::from_wall_clock();
    let mut c = FileCheck {
        lines: 0,
        invalid: 0,
        late: 0,
        max_disorder_ms: 0,
    };
    let mut max_seen = i64::MIN;
    for line in bytes[..bytes.len() - 1].split(|b| *b == b'\n') {
        c.lines += 1;
        match parse_record(feed, line, &bounds) {
            Ok(ev) => {
                let t = ev.event_time_ms();
                if t < max_seen.saturating_sub(ALLOWED_LATENESS_MS) {
                    c.late += 1;
                    assert!(
                        t <= max_seen - 2 * 3_600_000,
                        "a late record is at least 2 h behind"
                    );
                } else {
                    c.max_disorder_ms = c.max_disorder_ms.max(max_seen.saturating_sub(t));
                }
                max_seen = max_seen.max(t);
            }
            Err(_) => c.invalid += 1,
        }
    }
    c
}

#[test]
fn small_scenario_follows_the_contract_and_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    let summary = write_scenario(
        &SimConfig {
            seed: 7,
            scale: Scale::Small,
        },
        dir.path(),
    )
    .unwrap();
    let truth = Truth::load(dir.path().join("truth.json")).unwrap();
    assert_eq!(truth.seed, 7);
    assert_eq!(truth.scale, "small");
    assert_eq!(summary.files.len(), 4);

    for (name, feed, summary_lines) in [
        (
            "sms_volume.jsonl",
            Feed::SmsVolume,
            summary.sms_volume_lines,
        ),
        (
            "measurements.jsonl",
            Feed::Measurements,
            summary.measurement_lines,
        ),
    ] {
        let c = check_file(&dir.path().join(name), feed);
        assert_eq!(c.lines, truth.line_counts[name], "{name}: line count");
        assert_eq!(c.lines, summary_lines, "{name}: summary line count");
        assert_eq!(
            c.invalid, truth.malformed_lines[name],
            "{name}: malformed lines"
        );
        assert!(
            c.invalid >= 2,
            "{name}: at least the invalid-utf8 and the empty line"
        );
        assert_eq!(c.late, truth.late_records[name], "{name}: late records");
        assert!(c.late > 0, "{name}: some late records");
        assert!(
            c.max_disorder_ms <= 120_000,
            "{name}: out-of-orderness {} ms",
            c.max_disorder_ms
        );
        let share = c.invalid as f64 / c.lines as f64;
        assert!(share < 0.01, "{name}: malformed share {share}");
    }
    let total = summary.sms_volume_lines + summary.measurement_lines;
    assert!(
        (100_000..=200_000).contains(&total),
        "small scale has 100-200k lines, got {total}"
    );

    let csv = std::fs::read_to_string(dir.path().join("cells.csv")).unwrap();
    assert_eq!(csv.lines().count() as u64, truth.line_counts["cells.csv"]);
    assert_eq!(summary.cell_rows + 1, truth.line_counts["cells.csv"]);
    assert!(csv.starts_with(
        "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal,arfcn,pci,azimuth,eirp_dbm\n"
    ));
    let listed: BTreeSet<String> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            format!("{}-{}-{}-{}", f[1], f[2], f[3], f[4])
        })
        .collect();
    assert!(!truth.missing_cells.is_empty());
    for m in &truth.missing_cells {
        assert!(!listed.contains(m), "missing cell {m} is not listed");
    }
    for m in &truth.misplaced_cells {
        assert!(
            listed.contains(&m.cell),
            "misplaced cell {} is listed",
            m.cell
        );
    }

    assert!(truth.spam_sims.len() >= 20);
    assert!(
        !truth.farms.is_empty()
            && truth
                .farms
                .iter()
                .all(|f| (20..=60).contains(&f.sims.len()))
    );
    assert_eq!(truth.transmitters.len(), 3);
    let kinds: BTreeSet<&str> = truth.legit_heavy.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["m2m", "new_normal", "school", "shop", "tv_vote"])
    );
    for t in &truth.transmitters {
        assert!(t.active_from_ms > truth.start_ms && t.active_to_ms <= truth.end_ms);
        assert!(!t.track.is_empty() && !t.identities.is_empty());
    }
}

/// Valid events of a feed file.
fn events(path: &Path, feed: Feed) -> Vec<Event> {
    let bytes = std::fs::read(path).unwrap();
    let bounds = TimeBounds::from_wall_clock();
    bytes
        .split(|b| *b == b'\n')
        .filter_map(|l| parse_record(feed, l, &bounds).ok())
        .collect()
}

#[test]
fn injected_behaviour_matches_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    write_scenario(
        &SimConfig {
            seed: 11,
            scale: Scale::Small,
        },
        dir.path(),
    )
    .unwrap();
    let truth = Truth::load(dir.path().join("truth.json")).unwrap();

    let sms = events(&dir.path().join("sms_volume.jsonl"), Feed::SmsVolume);
    let mut spam_seen = BTreeSet::new();
    for ev in &sms {
        let Event::Sms(r) = ev else { unreachable!() };
        if let Some(s) = truth.spam_sims.iter().find(|s| r.sim == s.sim) {
            assert!(
                r.window_start_ms + i64::from(r.window_secs) * 1000 > s.active_from_ms,
                "spam before activation: {r:?} {s:?}"
            );
            assert_eq!(r.calls_out, Some(0));
            spam_seen.insert(r.sim.clone());
        }
        for f in &truth.farms {
            if f.sims.iter().any(|s| r.sim == *s) {
                assert_eq!(
                    r.cell.map(|c| c.to_string()).as_deref(),
                    Some(f.cell.as_str())
                );
                assert_eq!(
                    r.imei_tac.map(|t| format!("{t:08}")).as_deref(),
                    Some(f.imei_tac.as_str())
                );
                assert!(f.devices.iter().any(|d| r.device.as_ref().unwrap() == d));
                assert!(
                    r.window_start_ms + i64::from(r.window_secs) * 1000 > f.active_from_ms,
                    "farm before activation"
                );
            }
        }
    }
    assert_eq!(
        spam_seen.len(),
        truth.spam_sims.len(),
        "every spam SIM sends"
    );

    let meas = events(&dir.path().join("measurements.jsonl"), Feed::Measurements);
    for t in truth.transmitters.iter().filter(|t| t.kind != "low_power") {
        let reports: Vec<_> = meas
            .iter()
            .filter_map(|e| match e {
                Event::Measurement(m) => Some(m),
                _ => None,
            })
            .filter(|m| {
                t.identities.iter().any(|i| {
                    i.mnc == m.cell.mnc
                        && i.lac == m.cell.lac
                        && i.cid == m.cell.cid
                        && i.arfcn == m.arfcn
                })
            })
            .collect();
        assert!(reports.len() >= 20, "{}: {} reports", t.id, reports.len());
        for m in &reports {
            assert!(m.ts_ms >= t.active_from_ms && m.ts_ms < t.active_to_ms + 60_000);
            assert_eq!(m.cipher.as_deref(), Some("A5/0"));
            assert_eq!(m.neighbors, Some(0));
        }
    }
}

#[test]
fn same_seed_gives_identical_bytes() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let cfg = SimConfig {
        seed: 3,
        scale: Scale::Small,
    };
    write_scenario(&cfg, a.path()).unwrap();
    write_scenario(&cfg, b.path()).unwrap();
    for f in [
        "sms_volume.jsonl",
        "measurements.jsonl",
        "cells.csv",
        "truth.json",
    ] {
        let x = std::fs::read(a.path().join(f)).unwrap();
        let y = std::fs::read(b.path().join(f)).unwrap();
        assert!(x == y, "{f} differs between two runs of the same seed");
    }
}

#[test]
fn scale_names_round_trip() {
    for s in [Scale::Small, Scale::Medium, Scale::Large] {
        assert_eq!(s.as_str().parse::<Scale>().unwrap(), s);
    }
    assert!("huge".parse::<Scale>().is_err());
}
