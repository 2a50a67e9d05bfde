//! Quality of the fake-BTS detector on the project's simulator (issue 4): every
//! transmitter detected, no false fake_bts case, median localisation error ≤ 200 m,
//! median time to detect ≤ 5 min of event time, on several seeds with the simulator's
//! traps (missing and misplaced inventory rows, GPS noise, a moving identity-changing
//! blaster, a low-power clone). The naive rule "cell not in inventory" is scored beside.

use cellwatch::cases::CaseBook;
use cellwatch::detect::fakebts::index::{CellIndex, Site};
use cellwatch::detect::fakebts::{FakeBtsConfig, FakeBtsDetector, InventoryFinding};
use cellwatch::detect::Detector;
use cellwatch::model::{parse_record, CellKey, CellMeasurement, Event, Feed, Rat, TimeBounds};
use cellwatch::score::bts::{naive_unregistered_cases, score_bts, BtsScores};
use cellwatch::simulate::{write_scenario, Scale, SimConfig, Truth};
use cellwatch::window::{Admission, Watermark};
use std::io::BufRead;

/// Provisional reader of `cells.csv` (to be replaced by the inventory loader).
fn load_sites(path: &std::path::Path) -> Vec<Site> {
    let mut rdr = csv::Reader::from_path(path).unwrap();
    let headers = rdr.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (arfcn_c, pci_c, eirp_c) = (col("arfcn"), col("pci"), col("eirp_dbm"));
    rdr.records()
        .filter_map(|r| r.ok())
        .filter_map(|r| {
            let rat = Rat::parse(r.get(0)?)?;
            let key = CellKey {
                mcc: r.get(1)?.parse().ok()?,
                mnc: r.get(2)?.parse().ok()?,
                lac: r.get(3)?.parse().ok()?,
                cid: r.get(4)?.parse().ok()?,
            };
            Some(Site {
                rat,
                key,
                lon: r.get(6)?.parse().ok()?,
                lat: r.get(7)?.parse().ok()?,
                range_m: r.get(8)?.parse().ok()?,
                arfcn: arfcn_c.and_then(|c| r.get(c)?.parse().ok()),
                pci: pci_c.and_then(|c| r.get(c)?.parse().ok()),
                eirp_dbm: eirp_c.and_then(|c| r.get(c)?.parse().ok()),
            })
        })
        .collect()
}

struct SeedRun {
    scores: BtsScores,
    naive: BtsScores,
    findings: Vec<InventoryFinding>,
    truth: Truth,
}

fn run_seed(seed: u64, cfg: FakeBtsConfig) -> SeedRun {
    let dir = tempfile::tempdir().unwrap();
    write_scenario(
        &SimConfig {
            seed,
            scale: Scale::Small,
        },
        dir.path(),
    )
    .unwrap();
    let truth = Truth::load(dir.path().join("truth.json")).unwrap();
    let sites = load_sites(&dir.path().join("cells.csv"));
    let registered: std::collections::HashSet<CellKey> = sites.iter().map(|s| s.key).collect();
    let mut det = FakeBtsDetector::with_index(cfg, CellIndex::from_sites(sites));
    let bounds = TimeBounds::at(truth.end_ms + 86_400_000);
    let mut wm = Watermark::new(600_000);
    let mut out = Vec::new();
    let mut last_wm = i64::MIN;
    let mut measurements: Vec<CellMeasurement> = Vec::new();
    let mut tally: std::collections::BTreeMap<&str, u64> = Default::default();
    let file = std::fs::File::open(dir.path().join("measurements.jsonl")).unwrap();
    for line in std::io::BufReader::new(file).split(b'\n') {
        let line = line.unwrap();
        let Ok(Event::Measurement(m)) = parse_record(Feed::Measurements, &line, &bounds) else {
            continue;
        };
        if wm.observe(m.ts_ms) != Admission::OnTime {
            continue;
        }
        if std::env::var("TALLY").is_ok() {
            let site = det.index_site(&m.cell);
            let c =
                cellwatch::detect::fakebts::rules::check_report(&m, site.as_ref(), det.config());
            if c.has(cellwatch::detect::fakebts::rules::Rule::SignalTooStrong)
                && tally.get("SIGNAL_TOO_STRONG").copied().unwrap_or(0) < 3
            {
                eprintln!("debug {m:?} site {site:?} check {c:?}");
            }
            for r in cellwatch::detect::fakebts::rules::Rule::ALL {
                if c.has(r) {
                    *tally.entry(r.code()).or_insert(0u64) += 1;
                }
            }
        }
        det.on_event(&Event::Measurement(m.clone()), &mut out);
        if let Some(w) = wm.current() {
            if w - last_wm >= 10_000 {
                last_wm = w;
                det.on_watermark(w, &mut out);
            }
        }
        measurements.push(m);
    }
    det.finish(&mut out);
    eprintln!("tally {tally:?}");
    let mut book = CaseBook::new();
    for c in out {
        book.upsert(c);
    }
    let cases = book.into_sorted();
    let scores = score_bts(&truth, &cases);
    let naive = score_bts(
        &truth,
        &naive_unregistered_cases(&measurements, |k| registered.contains(k)),
    );
    eprintln!("seed {seed} stats {:?}", det.stats());
    for c in &cases {
        eprintln!(
            "  case {} opened {} ids {} loc {:?} track {} reasons {:?}",
            c.case_id,
            (c.opened_at - truth.start_ms) / 60_000,
            c.identities.len(),
            c.location,
            c.track.len(),
            c.reasons
                .iter()
                .map(|r| (r.code.as_str(), r.value))
                .collect::<Vec<_>>()
        );
    }
    SeedRun {
        scores,
        naive,
        findings: det.findings(),
        truth,
    }
}

#[test]
#[ignore]
fn explore() {
    let seeds: Vec<u64> = std::env::var("SEEDS")
        .unwrap_or_else(|_| "11,12,13".into())
        .split(',')
        .map(|s| s.parse().unwrap())
        .collect();
    for seed in seeds {
        let r = run_seed(seed, FakeBtsConfig::default());
        eprintln!("seed {seed}: {}", r.scores.one_line());
        for p in &r.scores.per_transmitter {
            eprintln!("   {p:?}");
        }
        eprintln!("  naive: {}", r.naive.one_line());
        eprintln!(
            "  findings {} (missing truth {}, misplaced truth {})",
            r.findings.len(),
            r.truth.missing_cells.len(),
            r.truth.misplaced_cells.len()
        );
        for f in &r.findings {
            eprintln!(
                "    {:?} {} offset {:?} radius {}",
                f.kind, f.cell, f.offset_m, f.estimated.radius_m
            );
        }
    }
}
