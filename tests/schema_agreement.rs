//! The JSON Schemas in `schemas/` and the Rust validation must agree on what a valid
//! record is. Each sample states the expected verdict; the few rules JSON Schema
//! cannot express (comparing two fields, "now + 1 day") are listed as such.
//!
//! Real outputs go through the schemas too: the simulator's feeds, the cases and dead
//! letters of a replay of them, and dead letters as the service makes them.

mod scenario;

use cellwatch::config::Config;
use cellwatch::ingest::lines::TOO_LONG_HEAD_BYTES;
use cellwatch::ingest::{Origin, OriginRef};
use cellwatch::model::{parse_record, CaseKind, Feed, InvalidReason, TimeBounds};
use cellwatch::replay::{self, InputPath, ReplayOptions};
use cellwatch::validate::{Checked, DeadLetter, SourceValidator};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// What each side is expected to say.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    Valid,
    Invalid,
    /// Valid for the schema, refused by cellwatch: a rule JSON Schema cannot state.
    SchemaCannotExpress,
    /// Outside the contract's spelling, so the schema refuses it, but cellwatch reads
    /// what it means (docs/contract.md, "Versioning"): upper-case hex, `lte`, `4G`.
    ReadBeyondContract,
}

fn validator(name: &str) -> jsonschema::Validator {
    let path = format!("{}/schemas/{name}", env!("CARGO_MANIFEST_DIR"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{path} is not a valid JSON Schema: {e}"))
}

// "now" for the contract's upper time bound: 2026-11-28T00:00:00Z.
const NOW_MS: i64 = 1_795_824_000_000;
const SIM: &str = "9f86d081884c7d659f86d081884c7d65";

fn sms(extra: &str) -> String {
    format!(
        r#"{{"operator":"45204","sim":"{SIM}","window_start":1764200000000,"window_secs":300,"sms_out":12{extra}}}"#
    )
}

fn meas(fields: &str) -> String {
    format!(
        r#"{{"source":"probe","reporter":"{SIM}","ts":"2026-11-27T10:00:00Z","lat":21.03,"lon":105.85{fields}}}"#
    )
}

fn sms_samples() -> Vec<(String, Expect)> {
    use Expect::*;
    vec![
        (sms(""), Valid),
        (
            sms(
                r#","sms_in":2,"distinct_recipients":10,"new_recipients":9,"offnet_out":3,"calls_out":0,"calls_in":1,"device":"00112233445566778899aabb","imei_tac":"35332510","cell":"452-4-10231-5501","sim_age_days":3,"kyc_verified":false,"content_fps":[{"fp":"0123456789abcdef","n":12}]"#,
            ),
            Valid,
        ),
        (sms(r#","future_field":{"x":1}"#), Valid),
        (
            sms("").replace("1764200000000", "\"2026-11-27T01:00:00+07:00\""),
            Valid,
        ),
        (
            sms("").replace(r#""sms_out":12"#, r#""sms_out":-1"#),
            Invalid,
        ),
        // numbers quoted (CSV exports turned into JSON): read as those numbers
        (
            sms("").replace(r#""sms_out":12"#, r#""sms_out":"12""#),
            ReadBeyondContract,
        ),
        (
            sms("").replace(r#""sms_out":12"#, r#""sms_out":"twelve""#),
            Invalid,
        ),
        (
            sms("").replace("1764200000000", "\"1764200000000\""),
            ReadBeyondContract,
        ),
        // an operator code kept as a number is its digits
        (
            sms("").replace(r#""operator":"45204""#, r#""operator":45204"#),
            ReadBeyondContract,
        ),
        (sms("").replace(r#","sms_out":12"#, ""), Invalid),
        (sms("").replace(SIM, "84912345678"), Invalid),
        (sms("").replace(SIM, "+84912345678"), Invalid),
        // upper-case hex is the same pseudonym; cellwatch lower-cases it
        (
            sms("").replace(SIM, &SIM.to_uppercase()),
            ReadBeyondContract,
        ),
        // integers written as floats (JavaScript, pandas): exact ones are integers
        (
            sms("").replace(r#""sms_out":12"#, r#""sms_out":12.0"#),
            Valid,
        ),
        (sms("").replace("1764200000000", "1764200000000.0"), Valid),
        (
            sms("").replace(r#""sms_out":12"#, r#""sms_out":12.5"#),
            Invalid,
        ),
        (
            sms("").replace(r#""window_secs":300"#, r#""window_secs":0"#),
            Invalid,
        ),
        (
            sms("").replace(r#""window_secs":300"#, r#""window_secs":86401"#),
            Invalid,
        ),
        (sms("").replace("1764200000000", "\"yesterday\""), Invalid),
        (sms("").replace("1764200000000", "900000000000"), Invalid),
        // epoch seconds (and fractional seconds) are told from milliseconds by size
        (
            sms("").replace("1764200000000", "1764200000"),
            ReadBeyondContract,
        ),
        (
            sms("").replace("1764200000000", "1764200000.5"),
            ReadBeyondContract,
        ),
        (sms("").replace("1764200000000", "1764200000000.5"), Invalid),
        (sms(r#","imei_tac":"3533251""#), Invalid),
        (sms(r#","imei_tac":35332510"#), Invalid),
        (sms(r#","cell":"452-4-10231""#), Invalid),
        (sms(r#","content_fps":[{"fp":"xyz","n":1}]"#), Invalid),
        (
            sms(r#","content_fps":[{"fp":"0123456789abcdef"}]"#),
            Invalid,
        ),
        (sms(r#","kyc_verified":"yes""#), Invalid),
        // booleans as SQL exports write them
        (sms(r#","kyc_verified":1"#), ReadBeyondContract),
        (sms(r#","kyc_verified":"false""#), ReadBeyondContract),
        (sms(r#","device":"12345""#), Invalid),
        (sms(r#","new_recipients":1"#), Invalid),
        (
            sms("").replace(r#""operator":"45204""#, r#""operator":"""#),
            Invalid,
        ),
        (sms(r#","distinct_recipients":13"#), SchemaCannotExpress),
        (
            sms(r#","distinct_recipients":5,"new_recipients":6"#),
            SchemaCannotExpress,
        ),
        (sms(r#","offnet_out":13"#), SchemaCannotExpress),
        (
            sms("").replace("1764200000000", "1900000000000"),
            SchemaCannotExpress,
        ),
    ]
}

fn meas_samples() -> Vec<(String, Expect)> {
    use Expect::*;
    let gsm = r#","rat":"GSM","mcc":452,"mnc":4,"lac":10231,"cid":5501"#;
    let lte = r#","rat":"LTE","mcc":452,"mnc":4,"lac":10231,"cid":26000001"#;
    vec![
        (meas(gsm), Valid),
        (meas(lte), Valid),
        (
            meas(r#","rat":"NR","mcc":452,"mnc":4,"lac":1000000,"cid":68000000000"#),
            Valid,
        ),
        (
            meas(&format!(
                r#"{gsm},"accuracy_m":12.5,"arfcn":62,"pci":33,"signal_dbm":-71.0,"ta":3,"neighbors":0,"cipher":"A5/0","event":"sms_received","sms_sender":"VCB-BANK""#
            )),
            Valid,
        ),
        (meas(&format!(r#"{gsm},"event":"rat_downgrade""#)), Valid),
        (
            meas(&lte.replace(r#""LTE""#, r#""lte""#)),
            ReadBeyondContract,
        ),
        (
            meas(&lte.replace(r#""LTE""#, r#""4G""#)),
            ReadBeyondContract,
        ),
        (
            meas(&format!(r#"{gsm},"event":"REJECT""#)),
            ReadBeyondContract,
        ),
        (
            meas(gsm).replace(SIM, &SIM.to_uppercase()),
            ReadBeyondContract,
        ),
        (meas(&format!(r#"{gsm},"ta":1.0,"neighbors":2.0"#)), Valid),
        (meas(&format!(r#"{gsm},"ta":1.5"#)), Invalid),
        (
            meas(r#","rat":"GSM","mcc":452,"mnc":4,"lac":10231,"cid":70000"#),
            Invalid,
        ),
        (
            meas(r#","rat":"LTE","mcc":452,"mnc":4,"lac":70000,"cid":1"#),
            Invalid,
        ),
        (
            meas(r#","rat":"CDMA","mcc":452,"mnc":4,"lac":1,"cid":1"#),
            Invalid,
        ),
        (
            meas(r#","rat":"GSM","mcc":1452,"mnc":4,"lac":1,"cid":1"#),
            Invalid,
        ),
        (meas(r#","rat":"GSM","mnc":4,"lac":1,"cid":1"#), Invalid),
        (meas(&format!(r#"{gsm},"signal_dbm":5"#)), Invalid),
        (meas(&format!(r#"{gsm},"neighbors":-1"#)), Invalid),
        // an event value the contract does not name: a compatible extension, read
        // as no event (`camped`)
        (
            meas(&format!(r#"{gsm},"event":"teleported""#)),
            ReadBeyondContract,
        ),
        (meas(&format!(r#"{gsm},"accuracy_m":-3"#)), Invalid),
        (meas(&format!(r#"{gsm},"cipher":"""#)), Invalid),
        (meas(gsm).replace("21.03", "91.0"), Invalid),
        (
            meas(gsm).replace("105.85", "\"105.85\""),
            ReadBeyondContract,
        ),
        (meas(gsm).replace("105.85", "\"east\""), Invalid),
        (meas(gsm).replace(SIM, "356938035643809"), Invalid),
        (
            meas(gsm).replace("2026-11-27T10:00:00Z", "2026-13-27T10:00:00Z"),
            Invalid,
        ),
        (
            meas(gsm).replace("\"2026-11-27T10:00:00Z\"", "1764237600000"),
            Valid,
        ),
        (
            meas(gsm).replace("\"2026-11-27T10:00:00Z\"", "\"1999-12-31T23:59:59Z\""),
            SchemaCannotExpress,
        ),
    ]
}

fn check(feed: Feed, schema_file: &str, samples: Vec<(String, Expect)>) {
    let v = validator(schema_file);
    let bounds = TimeBounds::at(NOW_MS);
    for (line, expect) in samples {
        let rust_ok = parse_record(feed, line.as_bytes(), &bounds).is_ok();
        let instance: Value = serde_json::from_str(&line).expect("samples are JSON");
        let schema_ok = v.is_valid(&instance);
        let (want_rust, want_schema) = match expect {
            Expect::Valid => (true, true),
            Expect::Invalid => (false, false),
            Expect::SchemaCannotExpress => (false, true),
            Expect::ReadBeyondContract => (true, false),
        };
        assert_eq!(
            rust_ok,
            want_rust,
            "rust validation disagrees ({expect:?}) on {line}: {:?}",
            parse_record(feed, line.as_bytes(), &bounds).err()
        );
        assert_eq!(
            schema_ok, want_schema,
            "JSON Schema {schema_file} disagrees ({expect:?}) on {line}"
        );
    }
}

#[test]
fn sms_volume_schema_and_rust_agree() {
    check(Feed::SmsVolume, "sms-volume.v1.json", sms_samples());
}

#[test]
fn measurement_schema_and_rust_agree() {
    check(
        Feed::Measurements,
        "cell-measurement.v1.json",
        meas_samples(),
    );
}

#[test]
fn case_schema_accepts_what_cellwatch_writes() {
    use cellwatch::model::*;
    let v = validator("case.v1.json");
    let spam = Case {
        case_id: "spam-0011223344556677".into(),
        kind: CaseKind::SpamSim,
        status: CaseStatus::Open,
        opened_at: NOW_MS,
        first_seen: NOW_MS - 600_000,
        last_seen: NOW_MS,
        score: 0.93,
        operator: Some("45204".into()),
        sims: vec![SIM.into()],
        claimed_cell: None,
        identities: vec![],
        location: None,
        track: vec![],
        reasons: vec![Reason {
            code: "SMS_RATE_5M".into(),
            value: 120.0,
            threshold: 30.0,
        }],
        evidence_count: 4,
    };
    assert!(v.is_valid(&serde_json::to_value(&spam).unwrap()));
    let cell = ClaimedCell {
        rat: Rat::Gsm,
        mcc: 452,
        mnc: 4,
        lac: 10231,
        cid: 5501,
        arfcn: Some(62),
    };
    let fbts = Case {
        case_id: "fbts-0011223344556677".into(),
        kind: CaseKind::FakeBts,
        operator: None,
        sims: vec![],
        claimed_cell: Some(cell),
        identities: vec![cell],
        location: Some(Location {
            lat: 21.03,
            lon: 105.85,
            radius_m: 150.0,
        }),
        track: vec![TrackPoint {
            ts: NOW_MS,
            lat: 21.03,
            lon: 105.85,
        }],
        ..spam.clone()
    };
    let value = serde_json::to_value(&fbts).unwrap();
    assert!(v.is_valid(&value), "{value}");
    let mut broken = value.clone();
    broken.as_object_mut().unwrap().remove("location");
    assert!(
        !v.is_valid(&broken),
        "a fake_bts case without location must be refused"
    );
    let round: Case = serde_json::from_value(value).unwrap();
    assert_eq!(round, fbts);
}

/// The simulator's two feeds of a small scenario, line by line: every record cellwatch
/// accepts is valid for its schema, and every record the schema accepts is accepted by
/// cellwatch unless it breaks a rule relating two fields. The deliberately broken lines
/// are refused by both.
#[test]
fn the_simulators_records_meet_the_schemas() {
    let sc = scenario::small(1);
    // No upper time bound: the lower one (2000-01-01) is in both.
    let bounds = TimeBounds::at(i64::MAX / 4);
    for (feed, file, schema) in [
        (Feed::SmsVolume, "sms_volume.jsonl", "sms-volume.v1.json"),
        (
            Feed::Measurements,
            "measurements.jsonl",
            "cell-measurement.v1.json",
        ),
    ] {
        let v = validator(schema);
        let bytes = std::fs::read(sc.dir.path().join(file)).unwrap();
        let (mut accepted, mut refused_by_both) = (0usize, 0usize);
        for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let rust = parse_record(feed, line, &bounds);
            let schema_ok = serde_json::from_slice::<Value>(line)
                .map(|instance| v.is_valid(&instance))
                .unwrap_or(false);
            match (&rust, schema_ok) {
                (Ok(_), true) => accepted += 1,
                (Err(_), false) => refused_by_both += 1,
                (Ok(_), false) => panic!(
                    "{file}:{}: cellwatch accepts what {schema} refuses: {}",
                    i + 1,
                    String::from_utf8_lossy(line)
                ),
                (Err(e), true) => assert_eq!(
                    e.reason,
                    InvalidReason::Inconsistent,
                    "{file}:{}: {schema} accepts what cellwatch refuses ({e}): {}",
                    i + 1,
                    String::from_utf8_lossy(line)
                ),
            }
        }
        let malformed = sc.truth.malformed_lines.get(file).copied().unwrap_or(0) as usize;
        assert!(accepted > 1000, "{file}: only {accepted} valid records");
        assert!(
            malformed > 0 && refused_by_both > 0 && refused_by_both <= malformed,
            "{file}: {refused_by_both} refused by both, {malformed} broken on purpose"
        );
    }
}

/// A replay of the small scenario: its cases (every kind present) and its dead letters
/// meet their schemas.
#[test]
fn a_replays_cases_and_dead_letters_meet_the_schemas() {
    let sc = scenario::small(1);
    let out = sc.dir.path().join("replay");
    replay::run(&ReplayOptions {
        sms_volume: Some(InputPath::File(sc.dir.path().join("sms_volume.jsonl"))),
        measurements: Some(InputPath::File(sc.dir.path().join("measurements.jsonl"))),
        cells: Some(sc.dir.path().join("cells.csv")),
        out: out.clone(),
        config: Config::default(),
        now_ms: Some(sc.truth.end_ms),
    })
    .expect("replay runs");

    let cases = validator("case.v1.json");
    let mut kinds = BTreeSet::new();
    for (i, line) in lines(&out.join("cases.jsonl")).iter().enumerate() {
        let case: Value = serde_json::from_str(line).unwrap();
        assert!(
            cases.is_valid(&case),
            "cases.jsonl:{}: refused by case.v1.json: {:?}",
            i + 1,
            cases
                .iter_errors(&case)
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
        );
        kinds.insert(case["kind"].as_str().unwrap().parse::<CaseKind>().unwrap());
    }
    assert_eq!(
        kinds,
        BTreeSet::from(CaseKind::ALL),
        "the scenario yields every kind of case"
    );

    let dead = lines(&out.join("dead_letter.jsonl"));
    let reasons = check_dead_letters(
        dead.iter().map(|l| serde_json::from_str(l).unwrap()),
        "dead_letter.jsonl",
    );
    for reason in ["malformed_json", "invalid_utf8", "late", "inconsistent"] {
        assert!(
            reasons.contains(reason),
            "no {reason} dead letter in the replay"
        );
    }
}

/// Dead letters as the service makes them (Kafka origin, an over-long record cut to
/// its head) meet the schema.
#[test]
fn service_dead_letters_meet_the_schema() {
    let bounds = TimeBounds::at(NOW_MS);
    let mut validator = SourceValidator::new(Feed::SmsVolume, bounds, 600_000).with_source(3);
    let origin = |offset| OriginRef::Kafka {
        topic: "cw.sms-volume.v1",
        partition: 3,
        offset,
    };
    let mut letters: Vec<DeadLetter> = Vec::new();
    let samples: Vec<Vec<u8>> = vec![
        sms("")
            .replace(r#""sms_out":12"#, r#""sms_out":-1"#)
            .into_bytes(),
        sms(r#","distinct_recipients":13"#).into_bytes(),
        b"{\"operator\":\"45204\",\"sim\":\"\xff\xfe\"}".to_vec(),
        b"[1,2]".to_vec(),
        sms("").into_bytes(),
        sms("")
            .replace("1764200000000", "1764100000000")
            .into_bytes(),
    ];
    for (offset, bytes) in samples.iter().enumerate() {
        if let Checked::Invalid(d) = validator.check_ref(bytes, origin(offset as i64)) {
            letters.push(*d);
        }
    }
    let long = sms(&format!(r#","pad":"{}""#, "x".repeat(4000))).into_bytes();
    letters.push(validator.too_large(
        &long[..TOO_LONG_HEAD_BYTES],
        long.len() as u64,
        2048,
        Origin::Kafka {
            topic: "cw.sms-volume.v1".into(),
            partition: 3,
            offset: 99,
        },
    ));
    assert_eq!(
        letters.len(),
        6,
        "every sample but the valid one is refused"
    );
    assert!(letters.iter().any(|d| d.truncated));
    // the service publishes `serde_json::to_string(dead letter)` to cw.dead-letter.v1
    let values = letters
        .iter()
        .map(|d| serde_json::from_str::<Value>(&serde_json::to_string(d).unwrap()).unwrap());
    let reasons = check_dead_letters(values, "service dead letters");
    assert_eq!(
        reasons,
        BTreeSet::from([
            "out_of_range",
            "inconsistent",
            "invalid_utf8",
            "malformed_json",
            "late",
            "too_large"
        ])
        .into_iter()
        .map(String::from)
        .collect()
    );
}

#[test]
fn dead_letter_schema_refuses_what_the_format_rules_out() {
    let v = validator("dead-letter.v1.json");
    let good = serde_json::json!({"reason":"late","error":"late: too old","feed":"sms_volume",
        "topic":"cw.sms-volume.v1","partition":0,"offset":7,"raw":"{}","raw_len":2});
    assert!(v.is_valid(&good));
    let broken = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut d = good.clone();
        f(d.as_object_mut().unwrap());
        d
    };
    for bad in [
        broken(&|d| {
            d.insert("reason".into(), "teleported".into());
        }),
        broken(&|d| {
            d.remove("raw");
        }),
        broken(&|d| {
            d.insert("raw_base64".into(), "AAE=".into());
        }),
        broken(&|d| {
            d.insert("file".into(), "x.jsonl".into());
            d.insert("line".into(), 3.into());
        }),
        broken(&|d| {
            d.remove("offset");
        }),
        broken(&|d| {
            d.insert("feed".into(), "sms".into());
        }),
        broken(&|d| {
            d.insert("truncated".into(), false.into());
        }),
    ] {
        assert!(!v.is_valid(&bad), "{bad}");
    }
}

/// Check each dead letter against the schema, and that it has no field the schema does
/// not describe; the reasons seen.
fn check_dead_letters(letters: impl Iterator<Item = Value>, what: &str) -> BTreeSet<String> {
    let v = validator("dead-letter.v1.json");
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/schemas/dead-letter.v1.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let known = schema["properties"].as_object().unwrap();
    let mut reasons = BTreeSet::new();
    let mut n = 0;
    for (i, d) in letters.enumerate() {
        assert!(
            v.is_valid(&d),
            "{what} #{}: refused by dead-letter.v1.json: {:?}\n{d}",
            i + 1,
            v.iter_errors(&d).map(|e| e.to_string()).collect::<Vec<_>>()
        );
        for key in d.as_object().unwrap().keys() {
            assert!(
                known.contains_key(key),
                "{what} #{}: field {key} is not in dead-letter.v1.json",
                i + 1
            );
        }
        reasons.insert(d["reason"].as_str().unwrap().to_string());
        n += 1;
    }
    assert!(n > 0, "no {what} to check");
    reasons
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::to_string)
        .collect()
}
