//! The allowlist tooling: `cellwatch allowlist add|remove|list` on the spam detector's
//! own file formats and on the compacted topic, and the spam detector honouring what
//! it wrote (a replay reading the file; a detector fed from the topic).

mod common;
mod inspect_support;

use cellwatch::allowlist_admin::read_topic;
use cellwatch::config::{Config, SpamConfig};
use cellwatch::detect::spam::{Allowlist, SpamDetector};
use cellwatch::detect::{Detector, Reference};
use cellwatch::model::{parse_record, Case, Feed, TimeBounds};
use cellwatch::replay::{self, InputPath, ReplayOptions};
use cellwatch::service::reference::{ReferenceReader, ReferenceUpdate};
use inspect_support::*;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const STEP: i64 = 5 * MIN;
const SPAMMER_A: u32 = 7_000;
const SPAMMER_B: u32 = 7_010;

fn normal(i: u32, start: i64) -> serde_json::Value {
    json!({"operator":"45204","sim":sim(i),"window_start":start,"window_secs":300,"sms_out":1 + i % 3,
           "sms_in":1,"distinct_recipients":1,"new_recipients":0,"offnet_out":0,"calls_out":i % 2,"calls_in":1,
           "device":device(i),"imei_tac":"35332510","cell":format!("452-4-100-{}", i % 50),"sim_age_days":700,"kyc_verified":true})
}

fn spammer(i: u32, start: i64) -> serde_json::Value {
    let mut v = normal(i, start);
    let o = v.as_object_mut().unwrap();
    for (k, x) in [
        ("sms_out", json!(70)),
        ("sms_in", json!(0)),
        ("distinct_recipients", json!(69)),
        ("new_recipients", json!(64)),
        ("calls_out", json!(0)),
        ("calls_in", json!(0)),
        ("imei_tac", json!("35800104")),
        ("sim_age_days", json!(3)),
        ("kyc_verified", json!(false)),
    ] {
        o.insert(k.into(), x);
    }
    v
}

/// 600 ordinary SIMs (each active every third step) and two spammers from step 6.
fn sms_feed() -> Vec<String> {
    let mut lines = Vec::new();
    for s in 0..18i64 {
        let start = T0 + s * STEP;
        for i in 0..600u32 {
            if (i as i64 + s) % 3 == 0 {
                lines.push(normal(i, start).to_string());
            }
        }
        if s >= 6 {
            lines.push(spammer(SPAMMER_A, start).to_string());
            lines.push(spammer(SPAMMER_B, start).to_string());
        }
    }
    lines
}

fn case_sims(cases: &[Case]) -> BTreeSet<String> {
    cases
        .iter()
        .filter(|c| c.kind == cellwatch::model::CaseKind::SpamSim)
        .flat_map(|c| c.sims.clone())
        .collect()
}

fn replay_with(
    feed: &std::path::Path,
    allowlist: Option<&std::path::Path>,
    out: &std::path::Path,
) -> BTreeSet<String> {
    let mut config = Config::default();
    config.inventory.allowlist = allowlist.map(|p| p.to_path_buf());
    replay::run(&ReplayOptions {
        sms_volume: Some(InputPath::File(feed.to_path_buf())),
        measurements: None,
        cells: None,
        out: out.to_path_buf(),
        config,
        now_ms: Some(T0 + 2 * 86_400_000),
    })
    .unwrap();
    case_sims(&cellwatch::cases::read_jsonl(&out.join("cases.jsonl")).unwrap())
}

#[test]
fn a_replay_honours_the_file_the_cli_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("sms.jsonl");
    std::fs::write(&feed, sms_feed().join("\n") + "\n").unwrap();

    let without = replay_with(&feed, None, &dir.path().join("r0"));
    assert_eq!(
        without,
        BTreeSet::from([sim(SPAMMER_A), sim(SPAMMER_B)]),
        "both spammers are found"
    );

    let file = dir.path().join("allow.toml");
    let (ok, out, err) = cellwatch(&[
        "allowlist",
        "add",
        &sim(SPAMMER_A),
        "--file",
        file.to_str().unwrap(),
        "--kind",
        "bulk_sender",
        "--label",
        "bank OTP \"verified\"",
        "--operator",
        "45204",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("added"), "{out}");
    let with = replay_with(&feed, Some(&file), &dir.path().join("r1"));
    assert_eq!(
        with,
        BTreeSet::from([sim(SPAMMER_B)]),
        "the allowlisted sender yields no case"
    );

    // plain-text format, removal restores the case
    let txt = dir.path().join("allow.txt");
    for s in [SPAMMER_A, SPAMMER_B] {
        let (ok, _, err) = cellwatch(&[
            "allowlist",
            "add",
            &sim(s),
            "--file",
            txt.to_str().unwrap(),
            "--kind",
            "m2m",
        ]);
        assert!(ok, "{err}");
    }
    assert!(replay_with(&feed, Some(&txt), &dir.path().join("r2")).is_empty());
    let (ok, _, err) = cellwatch(&[
        "allowlist",
        "remove",
        &sim(SPAMMER_B),
        "--file",
        txt.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert_eq!(
        replay_with(&feed, Some(&txt), &dir.path().join("r3")),
        BTreeSet::from([sim(SPAMMER_B)])
    );

    let (ok, out, err) = cellwatch(&[
        "allowlist",
        "list",
        "--file",
        txt.to_str().unwrap(),
        "--json",
    ]);
    assert!(ok, "{err}");
    let entries: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(entries, vec![json!({"sim": sim(SPAMMER_A), "kind": "m2m"})]);
}

#[test]
fn refusals_leave_the_file_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("allow.toml");
    let f = file.to_str().unwrap();
    let (ok, _, err) = cellwatch(&["allowlist", "add", &sim(1), "--file", f, "--kind", "school"]);
    assert!(ok, "{err}");
    let before = std::fs::read(&file).unwrap();
    for (args, needle) in [
        (
            vec!["allowlist", "add", "+84912345678", "--file", f],
            "not pseudonymized",
        ),
        (
            vec!["allowlist", "add", "84912345678", "--file", f],
            "not pseudonymized",
        ),
        (
            vec!["allowlist", "remove", "ffffffffffffffff", "--file", f],
            "not on the allowlist",
        ),
        (
            vec![
                "allowlist",
                "add",
                "aaaaaaaaaaaaaaaa",
                "--file",
                f,
                "--kind",
                "two words",
            ],
            "invalid --kind",
        ),
        (vec!["allowlist", "add", "aaaaaaaaaaaaaaaa"], "--file"),
    ] {
        let (ok, _, err) = cellwatch(&args);
        assert!(!ok, "{args:?}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert_eq!(std::fs::read(&file).unwrap(), before);
    let (ok, out, _) = cellwatch(&["allowlist", "list", "--file", f]);
    assert!(ok);
    assert!(
        out.contains(&sim(1)) && out.contains("school") && out.contains("1 entry"),
        "{out}"
    );
    let (ok, _, err) = cellwatch(&[
        "allowlist",
        "list",
        "--file",
        dir.path().join("missing.txt").to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("cannot read allowlist"), "{err}");
}

#[test]
fn the_topic_carries_the_same_entries_and_a_detector_honours_them() {
    let brokers = common::kafka_brokers();
    let topic = common::unique_name("cw-allowlist-test");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("allow.toml");
    let f = file.to_str().unwrap();
    for (s, kind) in [
        (SPAMMER_A, "bulk_sender"),
        (SPAMMER_B, "tv_vote"),
        (3, "m2m"),
    ] {
        let (ok, out, err) = cellwatch(&[
            "allowlist",
            "add",
            &sim(s),
            "--file",
            f,
            "--kind",
            kind,
            "--brokers",
            &brokers,
            "--topic",
            &topic,
        ]);
        assert!(ok, "{err}");
        assert!(out.contains(&format!("and topic {topic}")), "{out}");
    }
    let (ok, _, err) = cellwatch(&[
        "allowlist",
        "remove",
        &sim(SPAMMER_B),
        "--file",
        f,
        "--brokers",
        &brokers,
        "--topic",
        &topic,
    ]);
    assert!(ok, "{err}");

    let mut kafka = cellwatch::config::KafkaConfig::default();
    kafka.brokers = brokers.clone();
    let from_topic = read_topic(&kafka, &topic, Duration::from_secs(30)).unwrap();
    let from_file = Allowlist::load(&file).unwrap();
    let entries = |a: &Allowlist| a.entries().into_iter().cloned().collect::<Vec<_>>();
    assert_eq!(
        entries(&from_topic),
        entries(&from_file),
        "file and topic agree"
    );
    assert_eq!(from_topic.len(), 2);
    assert!(
        from_topic.contains("45204", &sim(SPAMMER_A))
            && !from_topic.contains("45204", &sim(SPAMMER_B))
    );
    let (ok, out, err) = cellwatch(&[
        "allowlist",
        "list",
        "--brokers",
        &brokers,
        "--topic",
        &topic,
        "--json",
    ]);
    assert!(ok, "{err}");
    assert_eq!(
        serde_json::from_str::<Vec<serde_json::Value>>(&out)
            .unwrap()
            .len(),
        2
    );

    // the service path: the reference reader every worker runs reads the topic, and its
    // updates go to a running detector; SPAMMER_A is already tracked (sending
    // normally) when its entry arrives
    let updates = reference_updates(&brokers, &topic);
    let mut d = SpamDetector::new(SpamConfig::default(), Allowlist::empty()).unwrap();
    let bounds = TimeBounds::at(T0 + 86_400_000);
    let mut out: Vec<Case> = Vec::new();
    for s in 0..18i64 {
        let start = T0 + s * STEP;
        let mut recs: Vec<serde_json::Value> = (0..600u32)
            .filter(|i| (*i as i64 + s) % 3 == 0)
            .map(|i| normal(i, start))
            .collect();
        if s < 6 {
            recs.push(normal(SPAMMER_A, start));
        } else {
            recs.push(spammer(SPAMMER_A, start));
            recs.push(spammer(SPAMMER_B, start));
        }
        for r in recs {
            let ev = parse_record(Feed::SmsVolume, r.to_string().as_bytes(), &bounds).unwrap();
            d.on_event(&ev, &mut out);
        }
        if s == 3 {
            for u in &updates {
                d.on_reference_update(u.kind, &u.key, u.value.as_deref());
            }
        }
        d.on_watermark(start + STEP - 60_000, &mut out);
    }
    d.finish(&mut out);
    assert_eq!(case_sims(&out), BTreeSet::from([sim(SPAMMER_B)]));
    assert_eq!(d.stats().allowlist_suppressed, 1);

    // a broker that is not there: error, file untouched
    let before = std::fs::read(&file).unwrap();
    let (ok, _, err) = cellwatch(&[
        "allowlist",
        "add",
        &sim(9),
        "--file",
        f,
        "--brokers",
        "127.0.0.1:1",
        "--timeout-secs",
        "3",
    ]);
    assert!(!ok, "publishing to a dead broker must fail");
    assert!(
        err.contains("kafka at 127.0.0.1:1") && err.contains("not changed"),
        "{err}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

/// What the service's reference reader gets from the allowlist topic: every record,
/// until each SIM the test published is at its last state (keys are spread over
/// partitions, so only the order per SIM is given).
fn reference_updates(brokers: &str, topic: &str) -> Vec<ReferenceUpdate> {
    let mut config = Config::default();
    config.kafka.brokers = brokers.to_string();
    config.kafka.group_id = common::unique_name("cw-allowlist-reader");
    config.kafka.topics.allowlist = topic.to_string();
    config.kafka.topics.inventory = common::unique_name("cw-no-inventory");
    let mut reader = ReferenceReader::new(&config.kafka).expect("kafka client");
    let expected = BTreeMap::from([
        (sim(SPAMMER_A), true),
        (sim(SPAMMER_B), false),
        (sim(3), true),
    ]);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut updates: Vec<ReferenceUpdate> = Vec::new();
    let latest = |updates: &[ReferenceUpdate]| -> BTreeMap<String, bool> {
        updates
            .iter()
            .map(|u| (u.key.clone(), u.value.is_some()))
            .collect()
    };
    while latest(&updates) != expected {
        assert!(
            std::time::Instant::now() < deadline,
            "the reference reader did not read the topic in time; got {updates:?}"
        );
        updates.extend(reader.poll(Duration::from_millis(200)));
    }
    assert!(updates.iter().all(|u| u.kind == Reference::Allowlist));
    assert_eq!(
        updates.len(),
        4,
        "three entries and one removal: {updates:?}"
    );
    updates
}
