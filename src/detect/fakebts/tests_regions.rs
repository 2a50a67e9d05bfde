//! Stage B by region ([`super::regional`]): its tiles hosted by 1, 2 or 3 tasks
//! (each tile on the task its key hashes to), the tasks' cases merged per input step
//! in tile order, give exactly the cases of one task; a blaster driving across a tile
//! border stays one case while it is within the margin of the tile it was born in;
//! beyond it, the tile it drove into takes it over. Two tiles can emit one case id,
//! and only then can the replay's merge (the last snapshot emitted, in step and tile
//! order) keep another snapshot than ClickHouse (the highest version).

use super::identities::IdentityStage;
use super::index::{CellIndex, Site};
use super::regional::{merge_finding, Regions, TaggedFindings};
use super::regions::RegionKey;
use super::tests::{city, cloning_blaster, finals, run_with, T0};
use crate::config::{Config, FakeBtsConfig};
use crate::detect::{CaseSink, Detector};
use crate::inventory::Inventory;
use crate::model::{Case, Event, Feed};
use crate::pipeline::Pipeline;
use crate::test_support::{feed_file, small_scenario};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// Stage A as one task, stage B's tiles over `tasks`.
struct Hosted {
    a: IdentityStage,
    tasks: Vec<Regions>,
    /// Merge per step in tile order (false: each task's cases kept apart and
    /// appended task after task at the end, what a merge that ignores steps gives).
    per_step: bool,
    apart: Vec<Vec<Case>>,
    /// Tiles each task held at its busiest, and the findings of every task.
    seen: Arc<Mutex<(Vec<usize>, TaggedFindings)>>,
    /// The tiles that emitted each case id.
    tiles: Arc<Mutex<BTreeMap<String, BTreeSet<RegionKey>>>>,
}

impl Hosted {
    fn new(n: u64, cfg: &FakeBtsConfig, inventory: &Inventory, per_step: bool) -> Self {
        let index = || CellIndex::from_sites(inventory.iter_sorted().map(Site::from));
        Hosted {
            a: IdentityStage::new(cfg.clone(), index()),
            tasks: (0..n)
                .map(|i| Regions::new(cfg.clone(), &index()).hosting(i, n))
                .collect(),
            per_step,
            apart: vec![Vec::new(); n as usize],
            seen: Arc::new(Mutex::new((vec![0; n as usize], TaggedFindings::new()))),
            tiles: Arc::default(),
        }
    }

    /// One input step on every task: its cases merged in tile order (a stable sort
    /// of the tasks' lists, each in its tiles' order) to `out`.
    fn step(
        &mut self,
        out: &mut dyn CaseSink,
        mut f: impl FnMut(&mut Regions, &mut dyn FnMut(RegionKey, Case)),
    ) {
        let mut step: Vec<(RegionKey, Case)> = Vec::new();
        for (i, task) in self.tasks.iter_mut().enumerate() {
            let mut mine: Vec<(RegionKey, Case)> = Vec::new();
            f(task, &mut |k, c| mine.push((k, c)));
            let busiest = &mut self.seen.lock().unwrap().0[i];
            *busiest = (*busiest).max(task.region_count());
            if self.per_step {
                step.extend(mine);
            } else {
                self.apart[i].extend(mine.into_iter().map(|(_, c)| c));
            }
        }
        step.sort_by_key(|(k, _)| *k);
        let mut tiles = self.tiles.lock().unwrap();
        for (k, c) in &step {
            tiles.entry(c.case_id.clone()).or_default().insert(*k);
        }
        for (_, c) in step {
            out.emit(c);
        }
    }
}

impl Detector for Hosted {
    fn name(&self) -> &'static str {
        "fake_bts"
    }

    fn feed(&self) -> Option<Feed> {
        Some(Feed::Measurements)
    }

    fn on_event(&mut self, event: &Event, out: &mut dyn CaseSink) {
        let Event::Measurement(m) = event else { return };
        if let Some(fwd) = self.a.on_report(m) {
            self.step(out, |t, o| t.on_forward_in(&fwd, o));
        }
    }

    fn on_watermark(&mut self, watermark_ms: i64, out: &mut dyn CaseSink) {
        self.step(out, |t, o| t.advance_in(watermark_ms, o));
        self.a.advance(watermark_ms);
    }

    fn finish(&mut self, out: &mut dyn CaseSink) {
        self.step(out, |t, o| t.finish_all_in(o));
        self.a.finish_all();
        for c in self.apart.iter_mut().flat_map(std::mem::take) {
            out.emit(c);
        }
        let mut seen = self.seen.lock().unwrap();
        for t in &self.tasks {
            for (k, (key, f)) in t.tagged_findings() {
                merge_finding(&mut seen.1, k, key, f);
            }
        }
    }
}

/// Every snapshot, in order, over the scenario's measurements through the pipeline.
fn run(detector: Box<dyn Detector>, dir: &std::path::Path, now_ms: i64) -> Vec<Case> {
    let config = Config::default();
    let mut pipeline = Pipeline::from_config(vec![detector], &config.pipeline);
    feed_file(
        &mut pipeline,
        Feed::Measurements,
        &dir.join("measurements.jsonl"),
        now_ms,
        config.pipeline.allowed_lateness_ms(),
    )
}

#[test]
fn tiles_on_one_two_or_three_tasks_give_the_one_task_cases_exactly() {
    let (dir, truth) = small_scenario("two_blasters", 3);
    let config = Config::default();
    let (inventory, _) =
        Inventory::load_csv_with(dir.path().join("cells.csv"), &config.inventory).expect("cells");
    // tiles of 4 km with 1.5 km of margin: the city is many tiles, its blasters
    // cross their borders
    let mut cfg = config.fakebts.clone();
    cfg.regions.tile_km = 4.0;
    cfg.regions.margin_km = 1.5;
    let one = Hosted::new(1, &cfg, &inventory, true);
    let one_seen = one.seen.clone();
    let want = run(Box::new(one), dir.path(), truth.end_ms);
    let (tiles, want_findings) = one_seen.lock().unwrap().clone();
    assert!(tiles[0] >= 4, "the city is several tiles: {tiles:?}");
    let emitting: std::collections::BTreeSet<&str> =
        want.iter().map(|c| c.case_id.as_str()).collect();
    assert!(
        emitting.len() >= 2,
        "the blasters make cases: {}",
        emitting.len()
    );
    for n in [2u64, 3] {
        let hosted = Hosted::new(n, &cfg, &inventory, true);
        let seen = hosted.seen.clone();
        let got = run(Box::new(hosted), dir.path(), truth.end_ms);
        let (tiles, findings) = seen.lock().unwrap().clone();
        assert!(
            tiles.iter().all(|&t| t > 0),
            "every task hosts tiles: {tiles:?}"
        );
        assert_eq!(got.len(), want.len(), "{n} tasks: as many snapshots");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w, "{n} tasks");
        }
        assert_eq!(findings, want_findings, "{n} tasks: the same findings");
        // merged task after task instead of per step: another order of snapshots
        let apart = run(
            Box::new(Hosted::new(n, &cfg, &inventory, false)),
            dir.path(),
            truth.end_ms,
        );
        assert_eq!(apart.len(), want.len());
        assert_ne!(apart, want, "{n} tasks merged task after task");
    }
}

/// The cloning blaster of `tests.rs` drives 23 km east from 4 km west of the test
/// city's origin; the border between two 50 km tiles lies 5 km east of it.
fn crossing(margin_km: f64) -> (Vec<Case>, i64) {
    let (mut v, _) = cloning_blaster(40);
    let last = v.iter().map(|m| m.ts_ms).max().expect("reports");
    let mut cfg = FakeBtsConfig::default();
    cfg.regions.tile_km = 50.0;
    cfg.regions.margin_km = margin_km;
    let grid = super::regions::Grid::new(&cfg);
    let (first, end) = (
        v.iter().min_by_key(|m| m.ts_ms).unwrap(),
        v.iter().max_by_key(|m| m.ts_ms).unwrap(),
    );
    assert_ne!(
        grid.home(first.lat, first.lon),
        grid.home(end.lat, end.lon),
        "it crosses a border"
    );
    (run_with(cfg, city(), &mut v), last)
}

#[test]
fn a_blaster_crossing_a_border_within_the_margin_stays_one_case() {
    let (cases, last) = crossing(20.0);
    let f = finals(&cases);
    assert_eq!(
        f.len(),
        1,
        "{:#?}",
        f.iter()
            .map(|c| (&c.case_id, c.last_seen))
            .collect::<Vec<_>>()
    );
    assert_eq!(f[0].last_seen, last, "followed to its last report");
    assert!(f[0].first_seen < T0 + 120_000);
    // without overlap, each tile sees half of the trip: two cases
    let (cases, _) = crossing(0.0);
    assert_eq!(finals(&cases).len(), 2);
}

#[test]
fn a_blaster_leaving_the_margin_is_taken_over_by_the_tile_it_drove_into() {
    // 2 km of margin: the western tile hears it up to 9 km east; the eastern tile's
    // copy, born in the west, takes it over at its first report beyond that
    let (cases, last) = crossing(2.0);
    let f = finals(&cases);
    assert!(
        f.iter().any(|c| c.last_seen == last),
        "its reports in the eastern tile are in a case: {:#?}",
        f.iter()
            .map(|c| (&c.case_id, c.first_seen, c.last_seen))
            .collect::<Vec<_>>()
    );
    assert!(f.len() <= 2, "{}", f.len());
}

/// The final snapshot per case id as the replay merges them (emission order) and as
/// ClickHouse keeps them (the highest version, the last inserted among equals).
fn replay_and_clickhouse(snapshots: &[Case]) -> (BTreeMap<String, Case>, BTreeMap<String, Case>) {
    let version = |c: &Case| crate::sink::clickhouse::CaseRow::from_case(c).version;
    let (mut replay, mut ch): (BTreeMap<String, Case>, BTreeMap<String, Case>) = Default::default();
    for c in snapshots {
        match replay.get_mut(&c.case_id) {
            Some(had) => had.merge_newer(c.clone()),
            None => {
                replay.insert(c.case_id.clone(), c.clone());
            }
        }
        if ch
            .get(&c.case_id)
            .is_none_or(|had| version(c) >= version(had))
        {
            ch.insert(c.case_id.clone(), c.clone());
        }
    }
    (replay, ch)
}

#[test]
fn tiles_never_share_a_case_id_so_the_replay_and_clickhouse_agree() {
    // Before the tile was part of a fake-BTS case id, two tiles that opened one
    // transmitter's case in the same minute shared its id (with 4 km tiles on this
    // scenario), and the replay's last snapshot of it and ClickHouse's FINAL row
    // differed.
    let (dir, truth) = small_scenario("two_blasters", 3);
    let config = Config::default();
    let (inventory, _) =
        Inventory::load_csv_with(dir.path().join("cells.csv"), &config.inventory).expect("cells");
    for (tile_km, margin_km) in [(4.0, 1.5), (100.0, 20.0)] {
        let mut cfg = config.fakebts.clone();
        cfg.regions.tile_km = tile_km;
        cfg.regions.margin_km = margin_km;
        let one = Hosted::new(1, &cfg, &inventory, true);
        let tiles = one.tiles.clone();
        let snapshots = run(Box::new(one), dir.path(), truth.end_ms);
        let shared: BTreeSet<String> = tiles
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, t)| t.len() > 1)
            .map(|(id, _)| id.clone())
            .collect();
        let (replay, ch) = replay_and_clickhouse(&snapshots);
        let differ: BTreeSet<String> = replay
            .iter()
            .filter(|(id, c)| ch.get(*id) != Some(*c))
            .map(|(id, _)| id.clone())
            .collect();
        assert!(
            shared.is_empty(),
            "{tile_km} km: ids emitted by two tiles: {shared:?}"
        );
        assert!(
            differ.is_empty(),
            "{tile_km} km: the replay and ClickHouse differ on {differ:?} of {} cases",
            replay.len()
        );
        assert!(!replay.is_empty(), "{tile_km} km: no case");
    }
}
