//! Cases from a replay output folder (no server): filters, JSON and table output,
//! the lifecycle with its append-only `case_status_log.jsonl`, the records found
//! again by re-scanning the inputs, and refusals that change nothing.

mod inspect_support;

use cellwatch::inspect::{set_status, CaseFilter, CaseStore, FolderStore, InspectError};
use cellwatch::model::{Case, CaseKind, CaseStatus};
use inspect_support::*;

#[test]
fn filters_select_the_expected_cases() {
    let f = replay_folder(&all_cases(), 10, 4);
    let store = FolderStore::open(&f.out).unwrap();
    let rt = runtime();
    let ids = |filter: CaseFilter| -> Vec<String> {
        rt.block_on(store.list(&filter))
            .unwrap()
            .into_iter()
            .map(|c| c.case_id)
            .collect()
    };
    // sorted by opened_at
    assert_eq!(
        ids(CaseFilter::default()),
        ["spam-test-1", "bts-test-1", "farm-test-1"]
    );
    assert_eq!(
        ids(CaseFilter {
            kinds: vec![CaseKind::SimFarm, CaseKind::SpamSim],
            ..Default::default()
        }),
        ["spam-test-1", "farm-test-1"]
    );
    assert_eq!(
        ids(CaseFilter {
            min_score: Some(0.9),
            ..Default::default()
        }),
        ["bts-test-1", "farm-test-1"]
    );
    assert_eq!(
        ids(CaseFilter {
            operator: Some("45204".into()),
            ..Default::default()
        }),
        ["bts-test-1", "farm-test-1"],
        "45204 is the farm's operator and the PLMN the fake BTS claimed"
    );
    assert_eq!(
        ids(CaseFilter {
            since_ms: Some(T0 + 250 * MIN),
            ..Default::default()
        }),
        ["farm-test-1"]
    );
    assert_eq!(
        ids(CaseFilter {
            until_ms: Some(T0 + 50 * MIN),
            ..Default::default()
        }),
        ["spam-test-1"]
    );
    let bbox = cellwatch::inspect::BoundingBox::parse("105.86,21.02,105.88,21.04").unwrap();
    assert_eq!(
        ids(CaseFilter {
            bbox: Some(bbox),
            ..Default::default()
        }),
        ["bts-test-1"]
    );
    assert_eq!(
        ids(CaseFilter {
            limit: Some(1),
            ..Default::default()
        }),
        ["spam-test-1"]
    );
}

#[test]
fn cli_lists_as_table_and_json() {
    let f = replay_folder(&all_cases(), 10, 4);
    let dir = f.out.to_str().unwrap();
    let (ok, out, err) = cellwatch(&[
        "cases",
        "list",
        "--from",
        dir,
        "--json",
        "--kind",
        "fake_bts,sim_farm",
    ]);
    assert!(ok, "{err}");
    let cases: Vec<Case> = serde_json::from_str(&out).unwrap();
    assert_eq!(
        cases.iter().map(|c| c.case_id.as_str()).collect::<Vec<_>>(),
        ["bts-test-1", "farm-test-1"]
    );
    assert_eq!(
        cases[0],
        fake_bts_case(),
        "JSON output is the contract case"
    );
    let (ok, out, err) = cellwatch(&["cases", "list", "--from", dir]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("CASE ID") && lines[0].contains("STATUS"),
        "{out}"
    );
    assert_eq!(lines.len(), 5, "header, three cases, count: {out}");
    assert!(out.contains("452-4-14349-38748/GSM +1"), "{out}");
    assert!(out.contains("5 sims"), "{out}");
    assert!(lines[4].starts_with("3 case(s)"));
}

#[test]
fn lifecycle_is_append_only_and_refuses_invalid_steps() {
    let f = replay_folder(&all_cases(), 10, 4);
    let store = FolderStore::open(&f.out).unwrap();
    let rt = runtime();
    let log = store.status_log_path();

    // open → confirmed skips a step: refused, nothing stored
    let e = rt
        .block_on(set_status(
            &store,
            "bts-test-1",
            CaseStatus::Confirmed,
            "ana",
            "seen",
            T0,
        ))
        .unwrap_err();
    assert!(matches!(e, InspectError::Transition(_)), "{e}");
    assert!(e.to_string().contains("allowed next: handed_over"), "{e}");
    assert!(!log.exists());

    rt.block_on(set_status(
        &store,
        "bts-test-1",
        CaseStatus::HandedOver,
        "ana",
        "field team",
        T0 + 1,
    ))
    .unwrap();
    let after_first = std::fs::read(&log).unwrap();
    rt.block_on(set_status(
        &store,
        "bts-test-1",
        CaseStatus::Confirmed,
        "binh",
        "seized a suitcase BTS",
        T0 + 2,
    ))
    .unwrap();
    let after_second = std::fs::read(&log).unwrap();
    assert!(
        after_second.starts_with(&after_first),
        "earlier entries are never rewritten"
    );

    // a closed case stays closed; unknown ids and empty notes are refused
    for (id, to, note) in [
        ("bts-test-1", CaseStatus::Dismissed, "changed my mind"),
        ("no-such-case", CaseStatus::HandedOver, "x"),
        ("spam-test-1", CaseStatus::HandedOver, "  "),
    ] {
        let e = rt
            .block_on(set_status(&store, id, to, "ana", note, T0 + 3))
            .unwrap_err();
        assert!(!e.to_string().is_empty());
    }
    assert_eq!(
        std::fs::read(&log).unwrap(),
        after_second,
        "refusals change nothing"
    );

    let c = rt.block_on(store.get("bts-test-1")).unwrap();
    assert_eq!(c.status, CaseStatus::Confirmed);
    let h = rt.block_on(store.history("bts-test-1")).unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(
        (h[0].from_status, h[0].to_status, h[0].actor.as_str()),
        (CaseStatus::Open, CaseStatus::HandedOver, "ana")
    );
    assert_eq!(
        (h[1].to_status, h[1].note.as_str()),
        (CaseStatus::Confirmed, "seized a suitcase BTS")
    );
    let confirmed = rt
        .block_on(store.list(&CaseFilter {
            statuses: vec![CaseStatus::Confirmed],
            ..Default::default()
        }))
        .unwrap();
    assert_eq!(confirmed.len(), 1);
}

#[test]
fn cli_set_status_and_show_history() {
    let f = replay_folder(&all_cases(), 10, 4);
    let dir = f.out.to_str().unwrap();
    let (ok, out, err) = cellwatch(&[
        "cases",
        "set-status",
        "farm-test-1",
        "handed_over",
        "--note",
        "to operator 45204 for blocking",
        "--from",
        dir,
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("open → handed_over by test-inspector"),
        "{out}"
    );
    let (ok, _, err) = cellwatch(&[
        "cases",
        "set-status",
        "farm-test-1",
        "open",
        "--note",
        "back",
        "--from",
        dir,
    ]);
    assert!(!ok);
    assert!(
        err.contains("cannot go from handed_over to open")
            && err.contains("confirmed or dismissed"),
        "{err}"
    );
    let (ok, _, err) = cellwatch(&[
        "cases",
        "set-status",
        "farm-test-1",
        "closed",
        "--note",
        "x",
        "--from",
        dir,
    ]);
    assert!(!ok && err.contains("not a status"), "{err}");
    let (ok, out, err) = cellwatch(&[
        "cases",
        "set-status",
        "farm-test-1",
        "dismissed",
        "--note",
        "legit bulk sender",
        "--actor",
        "chi",
        "--from",
        dir,
        "--json",
    ]);
    assert!(ok, "{err}");
    let change: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(change["to_status"], "dismissed");
    assert_eq!(change["actor"], "chi");

    let (ok, out, err) = cellwatch(&["cases", "show", "farm-test-1", "--from", dir, "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["case"]["status"], "dismissed");
    let h = v["history"].as_array().unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[0]["actor"], "test-inspector");
    assert_eq!(h[1]["note"], "legit bulk sender");

    let (ok, out, _) = cellwatch(&["cases", "show", "farm-test-1", "--from", dir]);
    assert!(ok);
    assert!(out.contains("status      dismissed"), "{out}");
    assert!(
        out.contains("handed_over → dismissed") && out.contains("legit bulk sender"),
        "{out}"
    );
    assert!(
        out.contains("SIMS_PER_DEVICE") && out.contains("SIMs used in one device"),
        "{out}"
    );
}

#[test]
fn bad_input_is_refused_with_a_hint_and_changes_nothing() {
    let f = replay_folder(&all_cases(), 10, 4);
    let dir = f.out.to_str().unwrap();
    let before: Vec<(String, Vec<u8>)> = snapshot(&f.out);
    let cases: &[(&[&str], &str)] = &[
        (
            &["cases", "show", "nope", "--from", dir],
            "no case with id \"nope\"",
        ),
        (
            &["cases", "list", "--from", dir, "--bbox", "1,2,3"],
            "invalid --bbox",
        ),
        (
            &["cases", "list", "--from", dir, "--kind", "spam"],
            "spam_sim, sim_farm or fake_bts",
        ),
        (
            &["cases", "list", "--from", dir, "--status", "closed"],
            "not a status",
        ),
        (
            &["cases", "list", "--from", dir, "--min-score", "2"],
            "give a number from 0 to 1",
        ),
        (
            &["cases", "list", "--from", dir, "--since", "last tuesday"],
            "invalid --since",
        ),
        (
            &[
                "cases",
                "list",
                "--from",
                dir,
                "--since",
                "2026-11-06",
                "--until",
                "2026-11-05",
            ],
            "--since must be before --until",
        ),
        (
            &[
                "cases", "export", "--from", dir, "--case", "nope", "--format", "csv",
            ],
            "no case with id",
        ),
        (
            &["cases", "export", "--from", dir, "--format", "xlsx"],
            "csv, json, geojson or kml",
        ),
        (
            &[
                "cases",
                "set-status",
                "nope",
                "handed_over",
                "--note",
                "x",
                "--from",
                dir,
            ],
            "cellwatch cases list",
        ),
        (
            &["cases", "list", "--from", "/nonexistent/folder"],
            "not a replay output folder",
        ),
    ];
    for (args, needle) in cases {
        let (ok, out, err) = cellwatch(args);
        assert!(!ok, "{args:?} should fail");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{err}");
        assert!(out.is_empty(), "{args:?} printed {out}");
    }
    // an evidence folder that is not empty is never overwritten
    let existing = f.root.path().join("existing");
    std::fs::create_dir(&existing).unwrap();
    std::fs::write(existing.join("keep.txt"), "mine").unwrap();
    let (ok, _, err) = cellwatch(&[
        "cases",
        "export",
        "--from",
        dir,
        "--case",
        "bts-test-1",
        "--evidence",
        existing.to_str().unwrap(),
    ]);
    assert!(
        !ok && err.contains("already exists and is not empty"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&existing).unwrap().count(), 1);
    assert_eq!(snapshot(&f.out), before, "the replay folder is unchanged");
}

fn snapshot(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn contributing_records_are_found_again_in_the_inputs() {
    let f = replay_folder(&all_cases(), 25, 6);
    let store = FolderStore::open(&f.out).unwrap();
    let rt = runtime();
    let ev = rt.block_on(store.evidence(&all_cases())).unwrap();
    let bts = &ev["bts-test-1"];
    assert_eq!(
        bts.len(),
        25,
        "the decoys (other identity, too early, malformed) are not evidence"
    );
    assert!(bts.iter().all(|r| r.feed == "measurements"));
    assert!(bts.windows(2).all(|w| w[0].event_time <= w[1].event_time));
    assert!(bts[0].source.contains("measurements.jsonl:"));
    assert_eq!(
        bts.iter().filter(|r| r.record["lac"] == 14350).count(),
        9,
        "both identities count"
    );
    assert_eq!(ev["farm-test-1"].len(), 5 * 6);
    assert_eq!(
        ev["spam-test-1"].len(),
        6,
        "the same SIM under another operator is not this case"
    );
    assert!(ev["spam-test-1"]
        .iter()
        .all(|r| r.record["operator"] == "45201"));
    // records stay pseudonymous and as received
    assert_eq!(ev["farm-test-1"][0].record["cell"], FARM_CELL);
}
