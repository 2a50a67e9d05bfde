//! Tests of the inventory: CSV rows and their line numbers, header handling, topic
//! updates and round trips through CSV and topic values.

use super::csv_loader::MAX_STORED_ROW_ERRORS;
use super::*;
use crate::model::{CellKey, Rat};
use proptest::prelude::*;
use std::path::Path;

const HEADER: &str =
    "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal";

fn load(text: &str) -> Result<(Inventory, LoadReport), InventoryError> {
    let mut inv = Inventory::new();
    let report =
        inv.extend_from_csv_reader(text.as_bytes(), Path::new("test.csv"), Default::default())?;
    Ok((inv, report))
}

fn key(s: &str) -> CellKey {
    CellKey::parse(s).expect("test key")
}

#[test]
fn good_rows_load_with_all_fields() {
    let text = format!(
        "{HEADER}\nGSM,452,4,10231,5678,,105.85,21.03,1200,15,1,1459692396,1700000000,0\nLTE,452,1,200,26625281,117,105.80,21.00,500.5,3,1,1459692396,,-95\n"
    );
    let (inv, report) = load(&text).unwrap();
    assert!(report.header);
    assert_eq!(
        (report.rows_read, report.loaded, report.rejected_total),
        (2, 2, 0)
    );
    let gsm = inv.get(&key("452-4-10231-5678")).unwrap();
    assert_eq!(gsm.radio, Rat::Gsm);
    assert_eq!(
        (gsm.lat, gsm.lon, gsm.range_m, gsm.samples),
        (21.03, 105.85, 1200.0, 15)
    );
    assert_eq!(gsm.unit, None);
    assert_eq!(gsm.updated_ms, Some(1_700_000_000_000));
    let lte = inv.get(&key("452-1-200-26625281")).unwrap();
    assert_eq!(
        (lte.radio, lte.unit, lte.updated_ms, lte.range_m),
        (Rat::Lte, Some(117), None, 500.5)
    );
    assert_eq!(lte.arfcn, None);
}

#[test]
fn bad_rows_are_reported_with_their_line_and_skipped() {
    let lines = [
        HEADER,
        "GSM,452,4,1,1,,105.8,21.0,1000,1,1,0,0,0", // 2 ok
        "GSM,452,4,1,2,,105.8,21.0,1000,1,1,0,0",   // 3 column count
        "GSM,452,4,1,3,,105.8,abc,1000,1,1,0,0,0",  // 4 unparsable lat
        "GSM,452,4,1,4,,105.8,91.5,1000,1,1,0,0,0", // 5 lat out of range
        "GSM,452,4,1,5,,180.01,21.0,1000,1,1,0,0,0", // 6 lon out of range
        "GSM,452,4,1,6,,105.8,21.0,-1,1,1,0,0,0",   // 7 negative range
        "WIMAX,452,4,1,7,,105.8,21.0,1000,1,1,0,0,0", // 8 unknown radio
        "CDMA,452,4,1,8,,105.8,21.0,1000,1,1,0,0,0", // 9 cdma
        "GSM,452,4,1,70000,,105.8,21.0,1000,1,1,0,0,0", // 10 GSM cid > 16 bit
        "\"GSM\",452,4,1,9,\"multi\nline\",105.8,21.0,1,1,1,0,0,0", // 11-12: unit not a number
        "UMTS,452,4,1,10,,105.8,21.0,1000,,1,0,0,0", // 13 samples empty
        "NR,452,4,1,11,,105.8,21.0,NaN,1,1,0,0,0",  // 14 NaN range
        "NR,452,4,1,12,,105.8,21.0,300,1,1,0,0,0",  // 15 ok
    ];
    let (inv, report) = load(&lines.join("\n")).unwrap();
    assert_eq!(report.rows_read, 13);
    assert_eq!(report.loaded, 2);
    assert_eq!(report.rejected_total, 11);
    assert_eq!(inv.len(), 2);
    let got: Vec<(u64, &str)> = report
        .rejected
        .iter()
        .map(|e| (e.line, e.reason.as_str()))
        .collect();
    let expect_contains = [
        (3, "expected 14 columns, found 13"),
        (4, "column `lat`: `abc` is not a finite decimal number"),
        (5, "lat 91.5 is outside -90..90"),
        (6, "lon 180.01 is outside -180..180"),
        (7, "range -1 must be a non-negative"),
        (8, "unknown radio `WIMAX`"),
        (9, "radio `CDMA` is not supported"),
        (10, "cell 70000 is above the GSM maximum 65535"),
        (11, "column `unit`: `multi\nline` is not an integer"),
        (13, "column `samples` is empty"),
        (14, "column `range`: `NaN` is not a finite decimal number"),
    ];
    assert_eq!(got.len(), expect_contains.len(), "{got:?}");
    for ((line, reason), (want_line, want)) in got.iter().zip(expect_contains) {
        assert_eq!(*line, want_line, "{reason}");
        assert!(
            reason.contains(want),
            "line {line}: `{reason}` should contain `{want}`"
        );
    }
    assert!(inv.contains(&key("452-4-1-1")));
    assert!(inv.contains(&key("452-4-1-12")));
}

#[test]
fn stored_row_errors_are_capped_but_all_counted() {
    let mut text = String::from(HEADER);
    for i in 0..1_500 {
        text.push_str(&format!("\nGSM,452,4,1,{i},,105.8,95,1000,1,1,0,0,0"));
    }
    text.push_str("\nGSM,452,4,1,1,,105.8,20,1000,1,1,0,0,0");
    let (inv, report) = load(&text).unwrap();
    assert_eq!(report.rejected_total, 1_500);
    assert_eq!(report.rejected.len(), MAX_STORED_ROW_ERRORS);
    assert_eq!(report.rejected[999].line, 1_001);
    assert_eq!(inv.len(), 1);
}

#[test]
fn extra_columns_are_found_by_header_name_in_any_order() {
    let text = format!(
        "\u{feff}{HEADER},EIRP_dbm,vendor,pci,azimuth,arfcn\n\
         LTE,452,4,7,1000,,105.8,21.0,800,0,1,,,,61.5,acme,301,120,1850\n\
         LTE,452,4,7,1001,,105.8,21.0,800,0,1,,,,,acme,,,\n\
         LTE,452,4,7,1002,,105.8,21.0,800,0,1,,,,61.5,acme,1008,120,1850\n\
         LTE,452,4,7,1003,,105.8,21.0,800,0,1,,,,61.5,acme,301,361,1850\n"
    );
    let (inv, report) = load(&text).unwrap();
    assert_eq!(report.ignored_columns, vec!["vendor".to_string()]);
    assert_eq!(report.loaded, 2);
    let c = inv.get(&key("452-4-7-1000")).unwrap();
    assert_eq!(
        (c.arfcn, c.pci, c.azimuth_deg, c.eirp_dbm),
        (Some(1850), Some(301), Some(120.0), Some(61.5))
    );
    let bare = inv.get(&key("452-4-7-1001")).unwrap();
    assert_eq!(
        (bare.arfcn, bare.pci, bare.azimuth_deg, bare.eirp_dbm),
        (None, None, None, None)
    );
    assert_eq!(report.rejected[0].line, 4);
    assert!(report.rejected[0].reason.contains("pci 1008"));
    assert_eq!(report.rejected[1].line, 5);
    assert!(report.rejected[1].reason.contains("azimuth 361"));
}

#[test]
fn headerless_standard_file_loads_and_other_first_lines_are_refused() {
    let (inv, report) = load(
        "GSM,452,4,1,1,,105.8,21.0,1000,1,1,0,0,0\nGSM,452,4,1,1,,105.9,21.0,1000,1,1,0,0,0\n",
    )
    .unwrap();
    assert!(!report.header);
    assert_eq!(
        (report.rows_read, report.loaded, report.duplicates_replaced),
        (2, 2, 1)
    );
    assert_eq!(inv.len(), 1);
    assert_eq!(
        inv.get(&key("452-4-1-1")).unwrap().lon,
        105.9,
        "the later row wins"
    );

    let err = load("GSM,452,4,1,1,,105.8,21.0,1000,1,1,0,0,0,1850\n").unwrap_err();
    assert!(matches!(err, InventoryError::Header { .. }), "{err}");
    assert!(err.to_string().contains("has 15 columns"), "{err}");
    let err = load("radio,mcc,mnc,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal\n").unwrap_err();
    assert!(
        err.to_string()
            .contains("column 3 is `mnc`, expected `net`"),
        "{err}"
    );
    let err = load(&format!("{HEADER},pci,PCI\n")).unwrap_err();
    assert!(err.to_string().contains("appears twice"), "{err}");
    let (inv, report) = load("").unwrap();
    assert!(inv.is_empty() && report.rows_read == 0);
}

#[test]
fn missing_file_names_the_path_and_what_to_do() {
    let err = Inventory::load_csv("/nonexistent/cells.csv").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, InventoryError::Open { .. }));
    assert!(
        msg.contains("/nonexistent/cells.csv") && msg.contains("check the path"),
        "{msg}"
    );
    assert!(msg.starts_with("cannot open cell inventory"), "{msg}");
}

#[test]
fn topic_updates_insert_replace_remove() {
    let mut inv = Inventory::new();
    let body = br#"{"radio":"LTE","mcc":452,"net":4,"area":7,"cell":1000,"lon":105.8,"lat":21.0,"range":800,"samples":2,"changeable":1,"created":1,"updated":1700000000,"averageSignal":0,"arfcn":1850,"pci":301,"azimuth":120,"eirp_dbm":61.5,"future_field":"x"}"#;
    assert_eq!(
        inv.apply_update("452-4-7-1000", Some(body)).unwrap(),
        InventoryChange::Inserted
    );
    let c = *inv.get(&key("452-4-7-1000")).unwrap();
    assert_eq!(
        (c.radio, c.samples, c.arfcn, c.pci, c.updated_ms),
        (Rat::Lte, 2, Some(1850), Some(301), Some(1_700_000_000_000))
    );
    let body2 = br#"{"radio":"LTE","mcc":452,"net":4,"area":7,"cell":1000,"lon":105.9,"lat":21.0,"range":900,"pci":null}"#;
    assert_eq!(
        inv.apply_update("452-4-7-1000", Some(body2)).unwrap(),
        InventoryChange::Replaced
    );
    let c = inv.get(&key("452-4-7-1000")).unwrap();
    assert_eq!(
        (c.lon, c.range_m, c.samples, c.pci),
        (105.9, 900.0, 0, None)
    );
    assert_eq!(
        inv.apply_update("452-4-7-1000", Some(b" null ")).unwrap(),
        InventoryChange::Removed
    );
    assert_eq!(
        inv.apply_update("452-4-7-1000", None).unwrap(),
        InventoryChange::NotPresent
    );
    inv.apply_update("452-4-7-1000", Some(body)).unwrap();
    assert_eq!(
        inv.apply_update("452-4-7-1000", Some(b"")).unwrap(),
        InventoryChange::Removed
    );
    assert!(inv.is_empty());
}

#[test]
fn topic_updates_are_refused_without_changing_the_inventory() {
    let mut inv = Inventory::new();
    let body = br#"{"radio":"GSM","mcc":452,"net":4,"area":7,"cell":1000,"lon":105.8,"lat":21.0,"range":800}"#;
    let err = inv.apply_update("452-4-7-1001", Some(body)).unwrap_err();
    assert!(matches!(err, InventoryError::KeyMismatch { .. }), "{err}");
    assert!(err.to_string().contains("452-4-7-1000"), "{err}");
    let err = inv.apply_update("452/4/7/1000", Some(body)).unwrap_err();
    assert!(matches!(err, InventoryError::BadKey { .. }), "{err}");
    let err = inv.apply_update("452-4-7-1000", Some(br#"{"radio":"GSM","mcc":452,"net":4,"area":7,"cell":1000,"lon":105.8,"range":800}"#)).unwrap_err();
    assert!(err.to_string().contains("missing field `lat`"), "{err}");
    let err = inv.apply_update("452-4-7-1000", Some(br#"{"radio":"CDMA","mcc":452,"net":4,"area":7,"cell":1000,"lon":105.8,"lat":1,"range":800}"#)).unwrap_err();
    assert!(err.to_string().contains("not supported"), "{err}");
    let err = inv
        .apply_update("452-4-7-1000", Some(b"[1,2]"))
        .unwrap_err();
    assert!(matches!(err, InventoryError::BadUpdate { .. }), "{err}");
    assert!(inv.is_empty());
}

#[test]
fn iter_sorted_orders_by_key() {
    let text = "GSM,452,4,2,1,,1,1,1,1,1,0,0,0\nGSM,452,4,1,9,,1,1,1,1,1,0,0,0\nGSM,452,1,9,9,,1,1,1,1,1,0,0,0\n";
    let (inv, _) = load(text).unwrap();
    let keys: Vec<String> = inv.iter_sorted().map(|c| c.key.to_string()).collect();
    assert_eq!(keys, ["452-1-9-9", "452-4-1-9", "452-4-2-1"]);
    assert_eq!(inv.iter().count(), 3);
}

fn arb_cell() -> impl Strategy<Value = RegisteredCell> {
    (
        (
            0usize..4,
            0u16..1000,
            0u16..1000,
            0u32..=0xFFFF,
            0u64..=0xFFFF,
        ),
        (
            -90.0f64..=90.0,
            -180.0f64..=180.0,
            0.0f64..50_000.0,
            any::<u32>(),
        ),
        (
            proptest::option::of(0u32..3_000_000),
            proptest::option::of(0u16..1008),
            proptest::option::of(0.0f32..360.0),
        ),
        (
            proptest::option::of(-10.0f32..80.0),
            proptest::option::of(any::<i64>()),
            proptest::option::of(0i64..4_000_000_000),
        ),
    )
        .prop_map(
            |(
                (r, mcc, mnc, lac, cid),
                (lat, lon, range_m, samples),
                (arfcn, pci, az),
                (eirp, unit, updated_s),
            )| {
                RegisteredCell {
                    radio: [Rat::Gsm, Rat::Umts, Rat::Lte, Rat::Nr][r],
                    key: CellKey { mcc, mnc, lac, cid },
                    lat,
                    lon,
                    range_m,
                    samples,
                    arfcn,
                    pci,
                    azimuth_deg: az,
                    eirp_dbm: eirp,
                    unit,
                    updated_ms: updated_s.map(|s| s * 1000),
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any inventory written as CSV loads back equal; every cell sent as a topic
    /// update is inserted equal.
    #[test]
    fn csv_and_topic_round_trip(cells in proptest::collection::vec(arb_cell(), 0..40)) {
        let inv: Inventory = cells.iter().copied().collect();
        let mut buf = Vec::new();
        inv.write_csv(&mut buf).unwrap();
        let mut back = Inventory::new();
        let report = back.extend_from_csv_reader(buf.as_slice(), Path::new("mem.csv"), Default::default()).unwrap();
        prop_assert_eq!(report.rejected_total, 0, "{:?}", report.rejected);
        prop_assert_eq!(&back, &inv);

        let mut via_topic = Inventory::new();
        for c in inv.iter_sorted() {
            let change = via_topic.apply_update(&c.topic_key(), Some(&c.to_topic_value())).unwrap();
            prop_assert_eq!(change, InventoryChange::Inserted);
        }
        prop_assert_eq!(&via_topic, &inv);
    }
}

#[test]
fn csv_file_round_trip_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cells.csv");
    let text = format!(
        "{HEADER},arfcn,pci\nLTE,452,4,7,1000,3,105.8,21.0,800,5,1,1,1700000000,-90,1850,301\n"
    );
    std::fs::write(&path, text).unwrap();
    let (inv, report) = Inventory::load_csv(&path).unwrap();
    assert_eq!(report.loaded, 1);
    let out = dir.path().join("out.csv");
    inv.write_csv(std::fs::File::create(&out).unwrap()).unwrap();
    let (back, _) = Inventory::load_csv(&out).unwrap();
    assert_eq!(back, inv);
}
