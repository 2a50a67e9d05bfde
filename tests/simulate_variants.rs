//! Every named variant of the simulator (docs/simulator.md) writes feeds that follow
//! the contract (each line parses, or is one the truth counts as malformed), and does
//! what its knobs say: the attackers and look-alikes it adds are in the truth and on
//! air, an operator with `required_only` sends the five required fields and nothing
//! else, every spam and farm SIM that sent has the truth's `first_carried_ms` (its first
//! record's end, later only by a held-back batch), and the IMSI catcher leaves one
//! `reject` per caught phone, no cipher, two neighbours, in a LAC no real cell of its
//! operator uses.

use cellwatch::model::{parse_record, Feed, TimeBounds};
use cellwatch::simulate::knobs::variants::VARIANTS;
use cellwatch::simulate::truth::Truth;
use cellwatch::simulate::{write_scenario_with, Knobs, Scale, SimConfig};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const SEED: u64 = 5;
const REQUIRED: [&str; 5] = ["operator", "sim", "window_start", "window_secs", "sms_out"];

/// Lines of a feed file: (valid JSON objects, lines the contract refuses).
fn read_feed(path: &Path, feed: Feed, truth: &Truth) -> (Vec<serde_json::Map<String, Value>>, u64) {
    let bytes = std::fs::read(path).expect("feed written");
    let bounds = TimeBounds::at(truth.end_ms);
    let mut valid = Vec::new();
    let mut invalid = 0;
    for line in bytes[..bytes.len() - 1].split(|b| *b == b'\n') {
        match parse_record(feed, line, &bounds) {
            Ok(_) => match serde_json::from_slice(line) {
                Ok(Value::Object(m)) => valid.push(m),
                _ => panic!("a valid record is a JSON object"),
            },
            Err(_) => invalid += 1,
        }
    }
    (valid, invalid)
}

fn kinds_of(truth: &Truth) -> BTreeMap<&str, usize> {
    let mut out = BTreeMap::new();
    for t in &truth.transmitters {
        *out.entry(t.kind.as_str()).or_default() += 1;
    }
    out
}

/// The IMSI catcher's reports: one `reject` per phone, no cipher, two neighbours.
fn check_imsi_catchers(name: &str, truth: &Truth, meas: &[serde_json::Map<String, Value>]) {
    for t in truth
        .transmitters
        .iter()
        .filter(|t| t.kind == "imsi_catcher")
    {
        let id = &t.identities[0];
        let mine: Vec<_> = meas
            .iter()
            .filter(|m| {
                m["mcc"] == id.mcc && m["mnc"] == id.mnc && m["lac"] == id.lac && m["cid"] == id.cid
            })
            .collect();
        let phones: BTreeSet<&str> = mine
            .iter()
            .map(|m| m["reporter"].as_str().unwrap())
            .collect();
        assert!(
            (3..=12).contains(&mine.len()),
            "{name}: {} reports of the IMSI catcher (about ten wanted)",
            mine.len()
        );
        assert_eq!(phones.len(), mine.len(), "{name}: one report per phone");
        for m in &mine {
            assert_eq!(m["event"], "reject", "{name}: {m:?}");
            assert!(!m.contains_key("cipher"), "{name}: no cipher reported");
            // Devices whose profile leaves the neighbour count out do not send it.
            if m.contains_key("neighbors") {
                assert_eq!(m["neighbors"], 2, "{name}");
            }
        }
        let real_lacs: BTreeSet<u64> = meas
            .iter()
            .filter(|m| m["mnc"] == id.mnc && !(m["lac"] == id.lac && m["cid"] == id.cid))
            .filter_map(|m| m["lac"].as_u64())
            .collect();
        assert!(
            !real_lacs.contains(&u64::from(id.lac)),
            "{name}: the IMSI catcher's LAC {} is not one real cells use",
            id.lac
        );
    }
}

/// What the variant's knobs promise is in the truth and the feeds.
fn check_knobs(name: &str, knobs: &Knobs, truth: &Truth, sms: &[serde_json::Map<String, Value>]) {
    let kinds = kinds_of(truth);
    let a = &knobs.attackers;
    for (kind, n) in [
        ("imsi_catcher", a.imsi_catchers),
        ("cloning_blaster", a.cloning_blasters),
        ("static_clone", a.static_clones),
    ] {
        assert_eq!(
            kinds.get(kind).copied().unwrap_or(0),
            n as usize,
            "{name}: {kind}"
        );
    }
    for t in truth
        .transmitters
        .iter()
        .filter(|t| t.kind == "cloning_blaster")
    {
        assert!(
            t.identities.len() >= 8,
            "{name}: a new identity every 12-18 min"
        );
    }
    assert_eq!(
        truth.farms.len(),
        1 + knobs.sims.extra_farms.len(),
        "{name}: farms"
    );
    let legit: BTreeSet<&str> = truth.legit_heavy.iter().map(|s| s.kind.as_str()).collect();
    for g in &knobs.sims.lookalikes {
        let kind = serde_json::to_value(g.kind).unwrap();
        assert!(
            legit.contains(kind.as_str().unwrap()),
            "{name}: {kind} in the truth"
        );
    }
    let ramp = truth
        .spam_sims
        .iter()
        .filter(|s| s.kind == "ramp_spam")
        .count();
    let want: u32 = knobs.sims.ramp_campaigns.iter().map(|c| c.sims).sum();
    assert_eq!(ramp, want as usize, "{name}: ramping SIMs");
    let c = &knobs.cells;
    let traps: BTreeSet<&str> = truth
        .trap_cells
        .iter()
        .map(|t| t.category.as_str())
        .collect();
    for (cat, on) in [
        ("gsm_null_cipher", c.gsm_null_cipher_share > 0.0),
        ("gsm_few_neighbours", c.gsm_few_neighbours_share > 0.0),
        ("new_site", c.new_sites > 0),
        ("cell_on_wheels", c.cells_on_wheels > 0),
    ] {
        assert_eq!(traps.contains(cat), on, "{name}: trap cells of {cat}");
    }
    for (op, p) in [
        ("45201", &knobs.feeds.op45201),
        ("45202", &knobs.feeds.op45202),
        ("45204", &knobs.feeds.op45204),
    ] {
        let recs: Vec<_> = sms.iter().filter(|r| r["operator"] == op).collect();
        assert!(!recs.is_empty(), "{name}: {op} sends records");
        for r in &recs {
            assert_eq!(r["window_secs"], p.window_secs, "{name}: {op} window");
            if p.required_only {
                let keys: BTreeSet<&str> = r.keys().map(String::as_str).collect();
                assert_eq!(
                    keys,
                    BTreeSet::from(REQUIRED),
                    "{name}: {op} sends only the required fields"
                );
            }
        }
    }
}

/// Event time of a record's `window_start` (integer ms or RFC 3339 text).
fn window_start_ms(r: &serde_json::Map<String, Value>) -> i64 {
    match &r["window_start"] {
        Value::Number(n) => n.as_i64().expect("integer ms"),
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .expect("rfc 3339")
            .timestamp_millis(),
        v => panic!("window_start {v}"),
    }
}

/// Every positive SIM that sent has `first_carried_ms`: the end of its first record
/// that sent, or later by at most its operator's late-batch delay (a batch held back).
fn check_first_carried(
    name: &str,
    knobs: &Knobs,
    truth: &Truth,
    sms: &[serde_json::Map<String, Value>],
) {
    let mut first_end: BTreeMap<&str, i64> = BTreeMap::new();
    for r in sms.iter().filter(|r| r["sms_out"].as_u64() > Some(0)) {
        let end = window_start_ms(r) + r["window_secs"].as_i64().expect("secs") * 1000;
        let e = first_end
            .entry(r["sim"].as_str().expect("sim"))
            .or_insert(end);
        *e = (*e).min(end);
    }
    let held_back = |op: &str| {
        let p = match op {
            "45201" => &knobs.feeds.op45201,
            "45202" => &knobs.feeds.op45202,
            _ => &knobs.feeds.op45204,
        };
        if p.late_batch_every_min > 0 {
            i64::from(p.late_batch_delay_min) * 60_000
        } else {
            0
        }
    };
    let spam = truth
        .spam_sims
        .iter()
        .map(|s| (s.sim.as_str(), &s.operator, s.first_carried_ms));
    let farms = truth.farms.iter().flat_map(|f| {
        f.sims
            .iter()
            .map(|s| (s.as_str(), &f.operator, f.first_carried_ms.get(s).copied()))
    });
    let mut checked = 0;
    for (sim, op, carried) in spam.chain(farms) {
        let Some(&end) = first_end.get(sim) else {
            assert_eq!(carried, None, "{name}: {sim} never sent");
            continue;
        };
        let carried = carried.unwrap_or_else(|| panic!("{name}: {sim} first_carried_ms"));
        assert!(
            carried >= end && carried <= end + held_back(op),
            "{name}: {sim} first carried at {carried}, first record ends at {end}"
        );
        checked += 1;
    }
    assert!(checked > 0, "{name}: positives that sent");
}

/// Simulate one variant and check it.
fn check_variant(name: &str) {
    let knobs = Knobs::variant(name).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = SimConfig {
        seed: SEED,
        scale: Scale::Small,
    };
    write_scenario_with(&cfg, &knobs, dir.path()).unwrap();
    let truth = Truth::load(dir.path().join("truth.json")).unwrap();
    let (sms, bad_sms) = read_feed(
        &dir.path().join("sms_volume.jsonl"),
        Feed::SmsVolume,
        &truth,
    );
    let (meas, bad_meas) = read_feed(
        &dir.path().join("measurements.jsonl"),
        Feed::Measurements,
        &truth,
    );
    assert_eq!(
        bad_sms, truth.malformed_lines["sms_volume.jsonl"],
        "{name}: malformed sms lines"
    );
    assert_eq!(
        bad_meas, truth.malformed_lines["measurements.jsonl"],
        "{name}: malformed measurement lines"
    );
    assert_eq!(
        truth.knobs.is_some(),
        !knobs.is_default(),
        "{name}: knobs in the truth"
    );
    check_knobs(name, &knobs, &truth, &sms);
    check_first_carried(name, &knobs, &truth, &sms);
    check_imsi_catchers(name, &truth, &meas);
    check_report_profiles(name, &knobs, &meas);
    check_quiet_clones(name, &knobs, &truth, &meas, dir.path());
}

/// `cells.inventory_without_channel`: those operators' inventory rows have empty
/// `arfcn` and `pci`; `attackers.static_clone.victim_silent`: no report carries a
/// static clone's identity on another channel than the clone's (its real cell is
/// never heard).
fn check_quiet_clones(
    name: &str,
    knobs: &Knobs,
    truth: &Truth,
    meas: &[serde_json::Map<String, Value>],
    dir: &Path,
) {
    let csv = std::fs::read_to_string(dir.join("cells.csv")).unwrap();
    let mut bare_rows = 0;
    for row in csv.lines().skip(1) {
        let f: Vec<&str> = row.split(',').collect();
        let bare = knobs
            .cells
            .inventory_without_channel
            .iter()
            .any(|op| op[3..].parse::<u32>().ok() == f[2].parse().ok());
        assert_eq!(f[14].is_empty(), bare, "{name}: arfcn column of {row}");
        assert_eq!(f[15].is_empty(), bare, "{name}: pci column of {row}");
        bare_rows += usize::from(bare);
    }
    assert_eq!(
        bare_rows > 0,
        !knobs.cells.inventory_without_channel.is_empty(),
        "{name}: rows without channel"
    );
    if !knobs.attackers.static_clone.victim_silent {
        return;
    }
    for t in truth
        .transmitters
        .iter()
        .filter(|t| t.kind == "static_clone")
    {
        let id = &t.identities[0];
        let mine: Vec<_> = meas
            .iter()
            .filter(|m| m["mnc"] == id.mnc && m["lac"] == id.lac && m["cid"] == id.cid)
            .collect();
        assert!(!mine.is_empty(), "{name}: the static clone is heard");
        for m in mine {
            if let Some(ch) = m.get("arfcn") {
                assert_eq!(
                    Some(ch),
                    id.arfcn.map(Value::from).as_ref(),
                    "{name}: {m:?}"
                );
            }
        }
    }
}

/// Every report leaves out what its kind of device omits (`reports.<device>.omit`),
/// and a field some device omits is still sent by the devices that do not.
fn check_report_profiles(name: &str, knobs: &Knobs, meas: &[serde_json::Map<String, Value>]) {
    let mut sent: BTreeSet<String> = BTreeSet::new();
    for r in meas {
        let source = r["source"].as_str().unwrap();
        let profile = knobs.reports.of_source(source);
        for field in &profile.omit {
            let key = serde_json::to_value(field).unwrap();
            let key = key.as_str().unwrap();
            assert!(!r.contains_key(key), "{name}: a {source} report with {key}");
        }
        sent.extend(r.keys().cloned());
    }
    for field in [&knobs.reports.app, &knobs.reports.mdt, &knobs.reports.probe]
        .iter()
        .flat_map(|p| p.omit.iter())
        .filter(|f| !knobs.reports.probe.omit.contains(f))
    {
        let key = serde_json::to_value(field).unwrap();
        assert!(
            sent.contains(key.as_str().unwrap()),
            "{name}: the probes still send {key}"
        );
    }
}

/// Every variant but `baseline` (the test below), on two threads (debug code is slow).
#[test]
fn every_variant_follows_the_contract_and_its_knobs() {
    let names: Vec<&str> = VARIANTS
        .iter()
        .map(|v| v.name)
        .filter(|n| *n != "baseline")
        .collect();
    let halves: [Vec<&str>; 2] = [0, 1].map(|k| names.iter().copied().skip(k).step_by(2).collect());
    std::thread::scope(|s| {
        for half in halves {
            s.spawn(move || half.into_iter().for_each(check_variant));
        }
    });
}

#[test]
fn the_default_knobs_write_the_default_scenario() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cfg = SimConfig {
        seed: 3,
        scale: Scale::Small,
    };
    cellwatch::simulate::write_scenario(&cfg, a.path()).unwrap();
    write_scenario_with(&cfg, &Knobs::variant("baseline").unwrap(), b.path()).unwrap();
    for f in [
        "sms_volume.jsonl",
        "measurements.jsonl",
        "cells.csv",
        "truth.json",
    ] {
        let same =
            std::fs::read(a.path().join(f)).unwrap() == std::fs::read(b.path().join(f)).unwrap();
        assert!(same, "{f}: the baseline variant is the default scenario");
    }
}
