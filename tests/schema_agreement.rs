//! The JSON Schemas in `schemas/` and the Rust validation must agree on what a valid
//! record is. Each sample states the expected verdict; the few rules JSON Schema
//! cannot express (comparing two fields, "now + 1 day") are listed as such.

use cellwatch::model::{parse_record, Feed, TimeBounds};
use serde_json::Value;

/// What each side is expected to say.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    Valid,
    Invalid,
    /// Valid for the schema, refused by cellwatch: a rule JSON Schema cannot state.
    SchemaCannotExpress,
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
        (
            sms("").replace(r#""sms_out":12"#, r#""sms_out":"12""#),
            Invalid,
        ),
        (sms("").replace(r#","sms_out":12"#, ""), Invalid),
        (sms("").replace(SIM, "84912345678"), Invalid),
        (sms("").replace(SIM, "+84912345678"), Invalid),
        (sms("").replace(SIM, &SIM.to_uppercase()), Invalid),
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
        (sms(r#","imei_tac":"3533251""#), Invalid),
        (sms(r#","imei_tac":35332510"#), Invalid),
        (sms(r#","cell":"452-4-10231""#), Invalid),
        (sms(r#","content_fps":[{"fp":"xyz","n":1}]"#), Invalid),
        (
            sms(r#","content_fps":[{"fp":"0123456789abcdef"}]"#),
            Invalid,
        ),
        (sms(r#","kyc_verified":"yes""#), Invalid),
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
        (meas(&format!(r#"{gsm},"event":"teleported""#)), Invalid),
        (meas(&format!(r#"{gsm},"accuracy_m":-3"#)), Invalid),
        (meas(&format!(r#"{gsm},"cipher":"""#)), Invalid),
        (meas(gsm).replace("21.03", "91.0"), Invalid),
        (meas(gsm).replace("105.85", "\"105.85\""), Invalid),
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
