//! Quality of the fake-BTS detector on the project's simulator: every
//! transmitter detected, no false fake_bts case, median localisation error ≤ 200 m,
//! median time to detect ≤ 5 min of event time, on several seeds with the simulator's
//! traps (missing and misplaced inventory rows, GPS noise, a moving identity-changing
//! blaster, a low-power clone). Runs the real replay (`cellwatch::replay::run`) on the
//! scenario files and scores `cases.jsonl` with `cellwatch::score::bts`; the naive rule
//! "cell not in inventory" is scored beside it.

mod scenario;

use cellwatch::config::Config;
use cellwatch::detect::fakebts::geometry::LocalFrame;
use cellwatch::detect::fakebts::locate::Observation;
use cellwatch::inventory::Inventory;
use cellwatch::model::{parse_record, CellMeasurement, Event, Feed, TimeBounds};
use cellwatch::replay::{InputPath, ReplayOptions};
use cellwatch::score::bts::{naive_unregistered_cases, score_bts, BtsScores};
use cellwatch::simulate::Truth;
use std::io::BufRead;
use std::path::Path;

/// Seeds asserted here; defaults were tuned on other seeds (11–20).
const SEEDS: [u64; 3] = [1, 2, 3];

struct SeedRun {
    seed: u64,
    scores: BtsScores,
    naive: BtsScores,
    findings: Vec<serde_json::Value>,
    truth: Truth,
    cases: Vec<cellwatch::model::Case>,
}

fn measurements(path: &Path, bounds: &TimeBounds) -> Vec<CellMeasurement> {
    let file = std::fs::File::open(path).expect("measurements file");
    std::io::BufReader::new(file)
        .split(b'\n')
        .filter_map(|l| l.ok())
        .filter_map(|l| match parse_record(Feed::Measurements, &l, bounds) {
            Ok(Event::Measurement(m)) => Some(m),
            _ => None,
        })
        .collect()
}

fn run_seed(seed: u64, config: Config) -> SeedRun {
    let scenario::Scenario { dir, truth } = scenario::small(seed);
    let out = dir.path().join("out");
    let now_ms = truth.end_ms + 86_400_000;
    cellwatch::replay::run(&ReplayOptions {
        sms_volume: None,
        measurements: Some(InputPath::File(dir.path().join("measurements.jsonl"))),
        cells: Some(dir.path().join("cells.csv")),
        out: out.clone(),
        config,
        now_ms: Some(now_ms),
    })
    .expect("replay");
    let cases = cellwatch::cases::read_jsonl(&out.join("cases.jsonl")).expect("cases.jsonl");
    let findings = std::fs::read_to_string(out.join("inventory_findings.jsonl"))
        .expect("inventory_findings.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("finding json"))
        .collect();
    let (inventory, _) = Inventory::load_csv(dir.path().join("cells.csv")).expect("cells.csv");
    let reports = measurements(
        &dir.path().join("measurements.jsonl"),
        &TimeBounds::at(now_ms),
    );
    let naive = score_bts(
        &truth,
        &naive_unregistered_cases(&reports, |k| inventory.contains(k)),
    );
    SeedRun {
        seed,
        scores: score_bts(&truth, &cases),
        naive,
        findings,
        truth,
        cases,
    }
}

/// Runs the seeds two at a time (the simulator and replay are single-threaded).
fn run_seeds(seeds: &[u64], config: &Config) -> Vec<SeedRun> {
    let mut runs: Vec<SeedRun> = Vec::new();
    for pair in seeds.chunks(2) {
        let handles: Vec<_> = pair
            .iter()
            .map(|&s| {
                let c = config.clone();
                std::thread::spawn(move || run_seed(s, c))
            })
            .collect();
        runs.extend(handles.into_iter().map(|h| h.join().expect("seed run")));
    }
    runs
}

fn report(r: &SeedRun) {
    let missing = r
        .findings
        .iter()
        .filter(|f| f["kind"] == "missing_cell")
        .count();
    let misplaced = r
        .findings
        .iter()
        .filter(|f| f["kind"] == "misplaced_cell")
        .count();
    eprintln!(
        "seed {}: {} | extra cases {}\n  naive \"cell not in inventory\": {}\n  inventory findings: {missing} missing (truth {}), {misplaced} misplaced (truth {})",
        r.seed,
        r.scores.one_line(),
        r.scores.extra_cases,
        r.naive.one_line(),
        r.truth.missing_cells.len(),
        r.truth.misplaced_cells.len(),
    );
    for t in &r.scores.per_transmitter {
        eprintln!(
            "    {:<15} detected {} cases {} identities {}/{} ttd {:?} min error {:?} m",
            t.kind,
            t.detected,
            t.cases,
            t.identities_in_main_case,
            t.identities_total,
            t.time_to_detect_min,
            t.localisation_error_m
        );
    }
}

#[test]
fn fake_bts_detection_bar_on_three_seeds() {
    let runs = run_seeds(&SEEDS, &Config::default());
    for r in &runs {
        report(r);
    }
    for r in &runs {
        let s = &r.scores;
        assert_eq!(
            s.detected, s.transmitters_total,
            "seed {}: every transmitter detected: {s:?}",
            r.seed
        );
        assert_eq!(
            s.false_fake_bts_cases, 0,
            "seed {}: no false fake_bts case: {s:?}",
            r.seed
        );
        let loc = s
            .median_localisation_error_m
            .unwrap_or_else(|| panic!("seed {}: no transmitter localised", r.seed));
        assert!(
            loc <= 200.0,
            "seed {}: median localisation error {loc} m > 200 m",
            r.seed
        );
        let ttd = s.median_time_to_detect_min.expect("time to detect");
        assert!(
            ttd <= 5.0,
            "seed {}: median time to detect {ttd} min > 5 min",
            r.seed
        );
        // identity linking: every transmitter keeps ONE case, and that case lists
        // every identity it was heard broadcasting (the simulator may schedule a
        // last identity so briefly before switch-off that no phone reports it: the
        // main case must then hold all but that one)
        assert_eq!(
            s.extra_cases, 0,
            "seed {}: one case per transmitter: {s:?}",
            r.seed
        );
        for t in &s.per_transmitter {
            assert_eq!(
                t.cases, 1,
                "seed {}: {} split into {} cases",
                r.seed, t.id, t.cases
            );
            assert!(
                t.identities_in_main_case + 1 >= t.identities_total
                    && (t.identities_total == 1 || t.identities_in_main_case >= 2),
                "seed {}: {} main case links {}/{} identities",
                r.seed,
                t.id,
                t.identities_in_main_case,
                t.identities_total
            );
        }
        // inventory defects are reported as findings, not cases
        let truth_defects: Vec<&str> = r
            .truth
            .missing_cells
            .iter()
            .map(String::as_str)
            .chain(r.truth.misplaced_cells.iter().map(|m| m.cell.as_str()))
            .collect();
        let found = r
            .findings
            .iter()
            .filter(|f| truth_defects.contains(&f["cell"].as_str().unwrap_or("")))
            .count();
        assert!(
            found * 2 >= truth_defects.len(),
            "seed {}: findings {found}/{}",
            r.seed,
            truth_defects.len()
        );
        // the naive rule is worse: it cannot see the clone and flags missing cells
        assert!(r.naive.false_fake_bts_cases > 0 || r.naive.detected < r.naive.transmitters_total);
    }
}

/// `fakebts.max_case_identities`: a case lists at most that many identities, and one
/// that hopped through more says how many (reason `IDENTITIES_UNLISTED`), never
/// dropping them silently. The identity-hopping blaster of seed 1 uses several.
#[test]
fn a_case_lists_at_most_max_case_identities_and_says_how_many_it_saw() {
    let full = run_seed(1, Config::default());
    let mut capped = Config::default();
    capped.fakebts.max_case_identities = 1;
    let capped = run_seed(1, capped);
    let hopping: Vec<&cellwatch::model::Case> = full
        .cases
        .iter()
        .filter(|c| c.identities.len() > 1)
        .collect();
    assert!(
        !hopping.is_empty(),
        "seed 1 has an identity-hopping transmitter"
    );
    for c in &capped.cases {
        assert!(c.identities.len() <= 1, "{c:?}");
        let listed_in_full = full
            .cases
            .iter()
            .find(|f| f.case_id == c.case_id)
            .map_or(0, |f| f.identities.len());
        let unlisted = c.reasons.iter().find(|r| r.code == "IDENTITIES_UNLISTED");
        if listed_in_full > 1 {
            let r = unlisted.unwrap_or_else(|| panic!("{} lacks IDENTITIES_UNLISTED", c.case_id));
            assert_eq!((r.value, r.threshold), (listed_in_full as f64, 1.0));
        } else {
            assert!(unlisted.is_none(), "{c:?}");
        }
    }
}

/// The detector over seed 1's reports in event-time order, with `max_open_cases`.
fn detect_capped(max_open_cases: usize) -> (Vec<cellwatch::model::Case>, u64, Truth) {
    use cellwatch::detect::fakebts::FakeBtsDetector;
    use cellwatch::detect::Detector;
    let scenario::Scenario { dir, truth } = scenario::small(1);
    let (inventory, _) = Inventory::load_csv(dir.path().join("cells.csv")).expect("cells.csv");
    let mut reports = measurements(
        &dir.path().join("measurements.jsonl"),
        &TimeBounds::at(truth.end_ms + 86_400_000),
    );
    reports.sort_by_key(|m| m.ts_ms);
    let mut cfg = Config::default().fakebts;
    cfg.max_open_cases = max_open_cases;
    let mut d = FakeBtsDetector::new(cfg, inventory).expect("detector");
    let mut book = cellwatch::cases::CaseBook::new();
    for m in reports {
        let ts = m.ts_ms;
        d.on_event(&Event::Measurement(m), &mut book);
        d.on_watermark(ts - 60_000, &mut book);
    }
    d.finish(&mut book);
    (book.into_sorted(), d.cases_closed_by_cap()[0].1, truth)
}

/// `fakebts.max_open_cases`: with room for one open case only, the longest-quiet one
/// is closed (with its final snapshot) when another opens; every transmitter is still
/// detected, nothing is dropped.
#[test]
fn at_the_open_case_cap_the_longest_quiet_case_is_closed_not_dropped() {
    let (full, closed_full, truth) = detect_capped(10_000);
    let (capped, closed, _) = detect_capped(1);
    assert_eq!(closed_full, 0);
    assert!(
        closed > 0,
        "seed 1 has transmitters with open cases at once"
    );
    let scores = score_bts(&truth, &capped);
    assert_eq!(scores.detected, scores.transmitters_total, "{scores:?}");
    assert!(
        capped.len() >= full.len(),
        "{} < {}",
        capped.len(),
        full.len()
    );
}

/// Exploration on other seeds: `SEEDS=11,12 cargo test --release --test fakebts_quality -- --ignored --nocapture`.
#[test]
#[ignore]
fn explore_seeds() {
    let seeds = exploration_seeds();
    for r in run_seeds(&seeds, &Config::default()) {
        report(&r);
    }
}

/// Per-case diagnostics: every fake_bts case with its span, identities and location,
/// beside the truth transmitters' identity schedules:
/// `SEEDS=1 cargo test --release --test fakebts_quality -- --ignored explore_cases --nocapture`.
#[test]
#[ignore]
fn explore_cases() {
    use cellwatch::detect::fakebts::geometry::distance_m;
    use cellwatch::score::bts::truth_position;
    let seeds: Vec<u64> = std::env::var("SEEDS")
        .unwrap_or_else(|_| "1".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    for r in run_seeds(&seeds, &Config::default()) {
        report(&r);
        let t0 = r.truth.start_ms;
        let min = |ts: i64| (ts - t0) as f64 / 60_000.0;
        for t in &r.truth.transmitters {
            eprintln!(
                "  truth {} {} active {:.1}..{:.1} min",
                t.id,
                t.kind,
                min(t.active_from_ms),
                min(t.active_to_ms)
            );
            for c in &t.identity_changes {
                eprintln!(
                    "      at {:.1} -> {}-{}-{}",
                    min(c.from_ms),
                    c.identity.mnc,
                    c.identity.lac,
                    c.identity.cid
                );
            }
        }
        for c in r
            .cases
            .iter()
            .filter(|c| c.kind == cellwatch::model::CaseKind::FakeBts)
        {
            let loc = c.location.as_ref();
            let err: Vec<String> = r
                .truth
                .transmitters
                .iter()
                .filter_map(|t| {
                    let (tl, tn) = truth_position(t, c.last_seen)?;
                    let l = loc?;
                    Some(format!(
                        "{}:{:.0}",
                        t.kind,
                        distance_m(l.lat, l.lon, tl, tn)
                    ))
                })
                .collect();
            eprintln!(
                "  case {} opened {:.1} seen {:.1}..{:.1} evidence {} ids {} loc {:?} dist {:?}",
                c.case_id,
                min(c.opened_at),
                min(c.first_seen),
                min(c.last_seen),
                c.evidence_count,
                c.identities.len(),
                loc.map(|l| (l.lat, l.lon, l.radius_m)),
                err
            );
            for id in &c.identities {
                eprintln!(
                    "      {}-{}-{} arfcn {:?}",
                    id.mnc, id.lac, id.cid, id.arfcn
                );
            }
        }
    }
}

/// Seeds of an exploration test: `SEEDS=11,12` (default 11, 12, 13).
fn exploration_seeds() -> Vec<u64> {
    std::env::var("SEEDS")
        .unwrap_or_else(|_| "11,12,13".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// The truth and the valid measurement reports of a small scenario of `seed`.
fn scenario_reports(seed: u64) -> (Truth, Vec<CellMeasurement>) {
    let scenario::Scenario { dir, truth } = scenario::small(seed);
    let reports = measurements(
        &dir.path().join("measurements.jsonl"),
        &TimeBounds::at(truth.end_ms + 86_400_000),
    );
    (truth, reports)
}

/// The observations the detector makes of `reports` in `frame`
/// ([`Observation::of_report`]), without the reports that carry no signal (the
/// detector's fixes drop them too).
fn observations(frame: &LocalFrame, reports: &[&CellMeasurement]) -> Vec<Observation> {
    reports
        .iter()
        .filter(|m| m.signal_dbm.is_some())
        .map(|m| {
            let (x, y) = frame.to_xy(m.lat, m.lon);
            Observation::of_report(m, x, y)
        })
        .collect()
}

/// Localisation experiment on the stationary and low-power transmitters' raw reports.
#[test]
#[ignore]
fn explore_localisation() {
    use cellwatch::config::FakeBtsConfig;
    use cellwatch::detect::fakebts::geometry::{distance_m, PathLoss};
    use cellwatch::detect::fakebts::locate::{multilaterate, weighted_centroid, SolverParams};
    let seeds = exploration_seeds();
    let cfg = FakeBtsConfig::default();
    for seed in seeds {
        let (truth, reports) = scenario_reports(seed);
        for t in &truth.transmitters {
            if t.kind == "moving_blaster" {
                continue;
            }
            let id = t.identities[0];
            let mine: Vec<&CellMeasurement> = reports
                .iter()
                .filter(|m| {
                    m.cell.lac == id.lac
                        && m.cell.cid == id.cid
                        && m.cell.mnc == id.mnc
                        && m.arfcn == id.arfcn
                })
                .collect();
            let tp = &t.track[0];
            let frame = LocalFrame::new(tp.lat, tp.lon);
            for (label, use_ta, ta_sigma, shadow) in [
                ("rss", false, 80.0, 7.0),
                ("ta80", true, 80.0, 7.0),
                ("ta30", true, 30.0, 7.0),
                ("ta150", true, 150.0, 7.0),
                ("ta80s12", true, 80.0, 12.0),
                ("ta30s12", true, 30.0, 12.0),
            ] {
                let mut cfg = cfg.clone();
                cfg.ta_sigma_m = ta_sigma;
                cfg.shadowing_sigma_db = shadow;
                let obs: Vec<Observation> = observations(&frame, &mine)
                    .into_iter()
                    .map(|o| {
                        if use_ta {
                            o
                        } else {
                            // the experiment's signal-only variant
                            Observation {
                                ta_lo_m: f64::NAN,
                                ta_hi_m: f64::NAN,
                                ..o
                            }
                        }
                    })
                    .collect();
                let c = weighted_centroid(&obs, &PathLoss::from_config(&cfg)).unwrap();
                let f = multilaterate(&obs, &SolverParams::from_config(&cfg)).unwrap();
                let far = mine
                    .iter()
                    .map(|m| distance_m(m.lat, m.lon, tp.lat, tp.lon))
                    .fold(0.0, f64::max);
                eprintln!(
                    "seed {seed} {:<10} {label:<7} n {:>4} centroid err {:>5.0} fit err {:>5.0} radius {:>5.0} p0 {:.1} rms {:.1} farthest reporter {:.0}",
                    t.kind,
                    obs.len(),
                    c.0.hypot(c.1),
                    f.x.hypot(f.y),
                    f.radius_m(30.0),
                    f.p0_dbm,
                    f.rms_db,
                    far
                );
            }
        }
    }
}

/// Tracking experiment on the moving blaster's raw reports: windowed fixes against
/// the true track.
#[test]
#[ignore]
fn explore_tracking() {
    use cellwatch::config::FakeBtsConfig;
    use cellwatch::detect::fakebts::locate::{multilaterate, SolverParams};
    use cellwatch::score::bts::truth_position;
    let seeds = exploration_seeds();
    let cfg = FakeBtsConfig::default();
    for seed in seeds {
        let (truth, reports) = scenario_reports(seed);
        let t = truth
            .transmitters
            .iter()
            .find(|t| t.kind == "moving_blaster")
            .unwrap();
        let mine: Vec<&CellMeasurement> = reports
            .iter()
            .filter(|m| {
                t.identities
                    .iter()
                    .any(|id| m.cell.lac == id.lac && m.cell.cid == id.cid && m.cell.mnc == id.mnc)
            })
            .collect();
        let frame = LocalFrame::new(t.track[0].lat, t.track[0].lon);
        let obs = observations(&frame, &mine);
        let per_min = obs.len() as f64 / ((t.active_to_ms - t.active_from_ms) as f64 / 60_000.0);
        for w in [60_000i64, 120_000, 180_000, 300_000] {
            let mut err_mean = Vec::new();
            let mut err_end = Vec::new();
            let mut end = t.active_from_ms + w;
            while end <= t.active_to_ms {
                let win: Vec<Observation> = obs
                    .iter()
                    .filter(|o| o.ts_ms > end - w && o.ts_ms <= end)
                    .copied()
                    .collect();
                if let Some(f) = multilaterate(&win, &SolverParams::from_config(&cfg)) {
                    let (lat, lon) = frame.to_lat_lon(f.x, f.y);
                    let at = |ts| {
                        let (tl, tn) = truth_position(t, ts).unwrap();
                        cellwatch::detect::fakebts::geometry::distance_m(lat, lon, tl, tn)
                    };
                    err_mean.push(at(f.ts_ms));
                    err_end.push(at(win.iter().map(|o| o.ts_ms).max().unwrap()));
                }
                end += 60_000;
            }
            err_mean.sort_by(f64::total_cmp);
            err_end.sort_by(f64::total_cmp);
            let med = |v: &Vec<f64>| v.get(v.len() / 2).copied().unwrap_or(f64::NAN);
            eprintln!(
                "seed {seed} blaster {per_min:.1} obs/min window {:>3}s fixes {:>3} median err at mean ts {:>5.0} at last report {:>5.0}",
                w / 1000,
                err_mean.len(),
                med(&err_mean),
                med(&err_end)
            );
        }
    }
}
