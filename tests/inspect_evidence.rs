//! Evidence packages: every file is in the SHA-256 manifest and a changed, missing
//! or added file is detected; the HTML report opens in headless Chromium (Debian's
//! `chromium`, installed by scripts/ensure-chromium.sh) with its offline SVG map and
//! tables rendered.

mod inspect_support;

use cellwatch::inspect::cells::CellSites;
use cellwatch::inspect::evidence::{verify, write_package, PackageInput, MANIFEST_FILE};
use cellwatch::inspect::{set_status, CaseStore, FolderStore};
use cellwatch::model::{Case, CaseStatus};
use inspect_support::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn package(f: &ReplayFolder, case_id: &str, dest: &Path) -> (Case, usize) {
    let store = FolderStore::open(&f.out).unwrap();
    let rt = runtime();
    let case = rt.block_on(store.get(case_id)).unwrap();
    let history = rt.block_on(store.history(case_id)).unwrap();
    let ev = rt
        .block_on(store.evidence(std::slice::from_ref(&case)))
        .unwrap();
    let records = &ev[case_id];
    let sites = CellSites::load(&f.cells).unwrap();
    write_package(
        dest,
        &PackageInput {
            case: &case,
            history: &history,
            records,
            sites: Some(&sites),
            sites_source: Some(f.cells.display().to_string()),
            source: store.describe(),
            generated_at_ms: T0 + 1000 * MIN,
        },
    )
    .unwrap();
    (case, records.len())
}

#[test]
fn manifest_covers_every_file_and_shows_tampering() {
    let f = replay_folder(&all_cases(), 15, 3);
    let pkg = f.root.path().join("pkg");
    package(&f, "bts-test-1", &pkg);
    let mut names: Vec<String> = std::fs::read_dir(&pkg)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "case.geojson",
            "case.json",
            "case.kml",
            MANIFEST_FILE,
            "reasons.csv",
            "records.jsonl",
            "report.html"
        ]
    );
    let v = verify(&pkg).unwrap();
    assert!(v.is_intact(), "{v:?}");
    assert_eq!(v.intact.len(), 6);
    // GNU sha256sum agrees with the manifest
    let st = Command::new("sha256sum")
        .args(["-c", "--quiet", MANIFEST_FILE])
        .current_dir(&pkg)
        .status()
        .unwrap();
    assert!(st.success());
    let (ok, out, err) = cellwatch(&["cases", "verify", "--evidence", pkg.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("6 file(s) intact"));

    // the records: pseudonymous, exactly the contributing ones
    let records = std::fs::read_to_string(pkg.join("records.jsonl")).unwrap();
    assert_eq!(records.lines().count(), 15);
    let case_file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pkg.join("case.json")).unwrap()).unwrap();
    assert_eq!(case_file["case"]["case_id"], "bts-test-1");
    assert_eq!(case_file["case"]["reasons"][1]["value"], 21.5);
    let reasons = std::fs::read_to_string(pkg.join("reasons.csv")).unwrap();
    assert!(reasons.contains("SIGNAL_TOO_STRONG,21.5,12,"), "{reasons}");

    // one changed byte
    let target = pkg.join("records.jsonl");
    let mut bytes = std::fs::read(&target).unwrap();
    let i = bytes.iter().position(|b| *b == b'5').unwrap();
    bytes[i] = b'6';
    std::fs::write(&target, bytes).unwrap();
    let v = verify(&pkg).unwrap();
    assert_eq!(v.modified, ["records.jsonl"]);
    assert!(!v.is_intact());
    let (ok, _, err) = cellwatch(&["cases", "verify", "--evidence", pkg.to_str().unwrap()]);
    assert!(!ok && err.contains("does not match its manifest"), "{err}");

    // a removed and an added file
    std::fs::remove_file(pkg.join("case.kml")).unwrap();
    std::fs::write(pkg.join("extra.txt"), "slipped in").unwrap();
    let v = verify(&pkg).unwrap();
    assert_eq!(v.missing, ["case.kml"]);
    assert_eq!(v.unlisted, ["extra.txt"]);
}

#[test]
fn cli_writes_a_package_and_never_overwrites_one() {
    let f = replay_folder(&all_cases(), 8, 2);
    let dir = f.out.to_str().unwrap();
    let pkg = f.root.path().join("evidence-farm");
    let args = [
        "cases",
        "export",
        "--from",
        dir,
        "--case",
        "farm-test-1",
        "--evidence",
        pkg.to_str().unwrap(),
        "--cells",
        f.cells.to_str().unwrap(),
    ];
    let (ok, _, err) = cellwatch(&args);
    assert!(ok, "{err}");
    assert!(
        err.contains("evidence package of case farm-test-1"),
        "{err}"
    );
    assert!(verify(&pkg).unwrap().is_intact());
    let before = std::fs::read(pkg.join(MANIFEST_FILE)).unwrap();
    let (ok, _, err) = cellwatch(&args);
    assert!(!ok && err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read(pkg.join(MANIFEST_FILE)).unwrap(), before);
    let leftovers: Vec<String> = std::fs::read_dir(f.root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let (ok, _, err) = cellwatch(&["cases", "export", "--from", dir, "--evidence", "/tmp/x"]);
    assert!(!ok && err.contains("--case"), "{err}");
}

/// The `chromium` binary, installed on first use by scripts/ensure-chromium.sh.
fn chromium() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let find = || {
            std::env::var_os("PATH").and_then(|p| {
                std::env::split_paths(&p)
                    .map(|d| d.join("chromium"))
                    .find(|c| c.is_file())
            })
        };
        if let Some(p) = find() {
            return p;
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ensure-chromium.sh");
        let st = Command::new("bash")
            .arg(&script)
            .status()
            .expect("run scripts/ensure-chromium.sh");
        assert!(
            st.success(),
            "scripts/ensure-chromium.sh failed; install Debian's chromium package by hand"
        );
        find().expect("chromium is still not on PATH after scripts/ensure-chromium.sh")
    })
}

/// Run headless Chromium on a file with extra arguments; returns stdout.
fn run_chromium(extra: &[String], page: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).ok();
        s
    });
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    reader.join().unwrap()
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// Rows of `<table id="ID">`'s body in a DOM dump.
fn body_rows(dom: &str, id: &str) -> usize {
    let start = dom
        .find(&format!("<table id=\"{id}\""))
        .unwrap_or_else(|| panic!("no table {id}"));
    let rest = &dom[start..];
    let body = &rest[rest.find("<tbody>").unwrap()..rest.find("</tbody>").unwrap()];
    count(body, "<tr>")
}

#[test]
fn report_renders_in_headless_chromium() {
    let f = replay_folder(&all_cases(), 24, 6);
    // one change in the audit trail, so the history table has a row
    let store = FolderStore::open(&f.out).unwrap();
    runtime()
        .block_on(set_status(
            &store,
            "bts-test-1",
            CaseStatus::HandedOver,
            "ana",
            "to the field team",
            T0 + 500 * MIN,
        ))
        .unwrap();

    let pkg = f.root.path().join("bts");
    let (case, n_records) = package(&f, "bts-test-1", &pkg);
    let page = pkg.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<script"), "no script");
    assert!(
        !html.contains("http://") || !html.contains("src=\"http"),
        "no remote resources"
    );
    assert!(!html.contains("src=\"https"), "no remote resources");

    let dom = run_chromium(&["--dump-dom".to_string()], &page);
    assert!(
        dom.contains("<svg id=\"map\""),
        "the map is in the rendered DOM"
    );
    assert_eq!(
        count(&dom, "class=\"obs\""),
        n_records,
        "one mark per observation"
    );
    assert!(dom.contains("id=\"uncertainty\"") && dom.contains("id=\"position\""));
    assert!(dom.contains("<polyline id=\"track\""));
    assert_eq!(count(&dom, "class=\"track-point\""), case.track.len());
    assert_eq!(
        count(&dom, "<g class=\"cell\">"),
        6,
        "the six registered cells around, not the far one"
    );
    assert!(dom.contains("id=\"legend\"") && dom.contains("id=\"scale\""));
    assert_eq!(body_rows(&dom, "reasons"), case.reasons.len());
    assert_eq!(body_rows(&dom, "identities"), 2);
    assert_eq!(body_rows(&dom, "track-table"), case.track.len());
    assert_eq!(body_rows(&dom, "observations"), n_records);
    assert_eq!(body_rows(&dom, "history"), 1);
    assert!(dom.contains("to the field team"));
    assert_eq!(body_rows(&dom, "files"), 5);
    assert!(dom.contains("id=\"case-status\">handed_over<"));

    // and it paints: a real PNG of the page, not an empty canvas
    let shot = f.root.path().join("bts.png");
    run_chromium(
        &[
            "--window-size=1200,1800".to_string(),
            format!("--screenshot={}", shot.display()),
        ],
        &page,
    );
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1200, 1800));
    assert!(
        png.len() > 40_000,
        "a blank page compresses to a few KB, this one is {} bytes",
        png.len()
    );

    // a SIM farm: members, devices, cell and the activity timeline
    let pkg = f.root.path().join("farm");
    let (farm, n_records) = package(&f, "farm-test-1", &pkg);
    let dom = run_chromium(&["--dump-dom".to_string()], &pkg.join("report.html"));
    assert!(dom.contains("<svg id=\"map\""));
    assert_eq!(count(&dom, "<g class=\"serving\">"), 1);
    assert!(dom.contains("<svg id=\"timeline\""));
    assert_eq!(count(&dom, "class=\"act\""), n_records);
    assert_eq!(body_rows(&dom, "members"), farm.sims.len());
    assert_eq!(body_rows(&dom, "devices"), 2);
    assert_eq!(body_rows(&dom, "cells"), 1);
    assert!(dom.contains(FARM_CELL));
    assert!(dom.contains("id=\"history-empty\""));
}
