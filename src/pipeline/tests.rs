//! Tests of the pipeline: watermarks, hold queues, idleness and the order events
//! reach the detectors in.

use super::order::tests::m;
use super::*;
use crate::model::Case;
use crate::window::{Admission, Watermark};
use proptest::prelude::*;
use std::sync::{Arc, Mutex};

/// Logs what it is shown: `reporter@ts` for events, `wm@t` for watermarks.
struct Recorder(Arc<Mutex<Vec<String>>>);

impl Detector for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }
    fn feed(&self) -> Option<Feed> {
        Some(Feed::Measurements)
    }
    fn on_event(&mut self, event: &Event, _out: &mut dyn CaseSink) {
        if let Event::Measurement(x) = event {
            self.0
                .lock()
                .unwrap()
                .push(format!("{}@{}", x.reporter, x.ts_ms));
        }
    }
    fn on_watermark(&mut self, watermark_ms: i64, _out: &mut dyn CaseSink) {
        self.0.lock().unwrap().push(format!("wm@{watermark_ms}"));
    }
    fn finish(&mut self, _out: &mut dyn CaseSink) {}
}

struct Nothing;
impl CaseSink for Nothing {
    fn emit(&mut self, _case: Case) {}
}

/// Feed `(source, reporter, ts)` records through per-source watermarks (as the
/// validators do) and return what the detector saw.
fn run(records: &[(i32, &str, i64)]) -> Vec<String> {
    const LATENESS_MS: i64 = 60;
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut p = Pipeline::new(vec![Box::new(Recorder(log.clone()))], 10);
    p.register_source(Feed::Measurements, 0);
    p.register_source(Feed::Measurements, 1);
    let mut sources = [Watermark::new(LATENESS_MS), Watermark::new(LATENESS_MS)];
    for &(source, reporter, ts) in records {
        let wm = &mut sources[source as usize];
        assert!(
            matches!(wm.observe(ts), Admission::OnTime),
            "{reporter}@{ts} must be on time"
        );
        p.on_event(m(reporter, ts), &mut Nothing);
        let current = wm.current().expect("observed");
        p.on_watermark(Feed::Measurements, source, current, &mut Nothing);
    }
    p.finish(&mut Nothing);
    let seen = log.lock().unwrap().clone();
    seen
}

#[test]
fn an_event_exactly_at_the_watermark_is_ordered_as_if_it_came_first() {
    // Both sources reach watermark 100; then source 0 sends an event at exactly
    // 100, which its watermark still admits. Delivered in either interleaving,
    // the events at 100 are sorted together and precede the watermark 100.
    let late_arrival = run(&[
        (1, "z", 100),
        (0, "x", 160),
        (1, "y", 160),
        (0, "a", 100),
        (0, "x", 300),
        (1, "y", 300),
    ]);
    let early_arrival = run(&[
        (1, "z", 100),
        (0, "a", 100),
        (0, "x", 160),
        (1, "y", 160),
        (0, "x", 300),
        (1, "y", 300),
    ]);
    assert_eq!(late_arrival, early_arrival);
    let at = |s: &str| late_arrival.iter().position(|x| x == s).unwrap();
    assert!(
        at("a@100") < at("z@100"),
        "canonical order: {late_arrival:?}"
    );
    assert!(at("z@100") < at("wm@100"), "{late_arrival:?}");
}

#[test]
fn a_repeated_natural_key_reaches_the_detectors_once() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut p = Pipeline::new(vec![Box::new(Recorder(log.clone()))], 10);
    let record = || {
        let mut e = m("a", 100);
        if let Event::Measurement(x) = &mut e {
            x.signal_dbm = Some(-60.0);
        }
        e
    };
    // The redelivery and another version (no signal: after the record in
    // canonical order) arrive before and after the record: the record is kept.
    for event in [m("a", 100), record(), m("b", 100), record()] {
        p.on_event(event, &mut Nothing);
    }
    p.finish(&mut Nothing);
    let seen = log.lock().unwrap().clone();
    assert_eq!(
        seen.iter().filter(|s| s.as_str() == "a@100").count(),
        1,
        "{seen:?}"
    );
    assert!(seen.contains(&"b@100".to_string()), "{seen:?}");
    assert_eq!(p.stats.duplicates, 2);
    let feed = &p.stats.by_feed[&Feed::Measurements];
    assert_eq!((feed.duplicates, feed.conflicting_duplicates), (1, 1));
}

/// The watermarks a detector was told of, and the times of the events it saw,
/// in the order it saw them.
fn marks_and_events(log: &[String]) -> Vec<(bool, i64)> {
    log.iter()
        .map(|entry| {
            let (what, at) = entry.split_once('@').expect("what@time");
            (what == "wm", at.parse().expect("a time"))
        })
        .collect()
}

/// Run per-source sequences `(reporter, ts)` through the pipeline in the
/// interleaving `picks` (each pick takes the next record of source `pick % n`,
/// leftovers follow in source order), as the service does: per-source watermarks,
/// every source registered up front (empty ones too), then every source declared
/// idle and the end. Returns what the detector saw.
fn interleaved(sources: &[Vec<(String, i64)>], picks: &[usize], lateness: i64) -> Vec<String> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut p = Pipeline::new(vec![Box::new(Recorder(log.clone()))], 10);
    let n = sources.len();
    for s in 0..n {
        p.register_source(Feed::Measurements, s as i32);
    }
    let mut marks: Vec<Watermark> = (0..n).map(|_| Watermark::new(lateness)).collect();
    let mut next = vec![0usize; n];
    let order = picks
        .iter()
        .map(|k| k % n)
        .chain((0..n).flat_map(|s| std::iter::repeat_n(s, sources[s].len())));
    for s in order {
        let Some((reporter, ts)) = sources[s].get(next[s]) else {
            continue;
        };
        next[s] += 1;
        if marks[s].observe(*ts).is_late() {
            continue;
        }
        p.on_event(m(reporter, *ts), &mut Nothing);
        let current = marks[s].current().expect("observed");
        p.on_watermark(Feed::Measurements, s as i32, current, &mut Nothing);
    }
    for s in 0..n {
        p.set_idle(Feed::Measurements, s as i32, true, &mut Nothing);
    }
    assert!(p.all_idle());
    p.finish(&mut Nothing);
    let seen = log.lock().unwrap().clone();
    seen
}

proptest! {
    /// Random interleavings of the same partitions (with records out of order
    /// within the allowed lateness, late ones, and empty partitions) give the
    /// detector the same sequence of events and watermarks, with nothing lost.
    #[test]
    fn interleaving_and_lateness_do_not_change_what_detectors_see(
        sources in proptest::collection::vec(
            proptest::collection::vec((0u8..4, 0i64..400, 0i64..150), 0..40), 1..4),
        picks_a in proptest::collection::vec(0usize..4, 0..200),
        picks_b in proptest::collection::vec(0usize..4, 0..200),
    ) {
        // Each source moves forward with jitter: some records come up to 150
        // behind (lateness 100: some on time out of order, some late).
        let sources: Vec<Vec<(String, i64)>> = sources
            .iter()
            .map(|recs| {
                let mut t = 0;
                recs.iter()
                    .map(|(r, step, back)| {
                        t += step;
                        (format!("r{r}"), (t - back).max(0))
                    })
                    .collect()
            })
            .collect();
        let a = interleaved(&sources, &picks_a, 100);
        let b = interleaved(&sources, &picks_b, 100);
        prop_assert_eq!(&a, &b);
        // Every on-time record reaches the detector once (a repeated natural key
        // only once, wherever its copies came from).
        let on_time: std::collections::BTreeSet<&(String, i64)> = sources
            .iter()
            .flat_map(|recs| {
                let mut w = Watermark::new(100);
                recs.iter().filter(move |(_, t)| !w.observe(*t).is_late())
            })
            .collect();
        prop_assert_eq!(a.iter().filter(|x| !x.starts_with("wm@")).count(), on_time.len());
    }

    /// The feed watermark detectors hear of (the minimum over the sources'
    /// watermarks, crossed step by step) only moves forward, stays on step
    /// boundaries strictly below every source's watermark without lagging a step
    /// behind their minimum, and no event reaches a detector behind it.
    #[test]
    fn feed_watermark_is_monotone_bounded_and_never_overtaken(
        records in proptest::collection::vec((0i32..3, 0i64..10_000), 1..200),
    ) {
        const STEP_MS: i64 = 10;
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut p = Pipeline::new(vec![Box::new(Recorder(log.clone()))], STEP_MS);
        let mut sources: Vec<Watermark> = (0..3).map(|_| Watermark::new(100)).collect();
        for source in 0..3 {
            p.register_source(Feed::Measurements, source);
        }
        for (source, ts) in records {
            let wm = &mut sources[source as usize];
            if wm.observe(ts).is_late() {
                continue;
            }
            p.on_event(m("r", ts), &mut Nothing);
            let current = wm.current().expect("observed");
            p.on_watermark(Feed::Measurements, source, current, &mut Nothing);
            let feed_wm = sources.iter().map(Watermark::current).min().flatten();
            let seen = marks_and_events(&log.lock().unwrap());
            let marks: Vec<i64> = seen.iter().filter(|(wm, _)| *wm).map(|(_, t)| *t).collect();
            prop_assert!(marks.windows(2).all(|w| w[0] < w[1]), "{marks:?}");
            prop_assert!(marks.iter().all(|t| t.rem_euclid(STEP_MS) == 0), "{marks:?}");
            if let Some(&last) = marks.last() {
                let feed_wm = feed_wm.expect("no watermark before every source reported");
                prop_assert!(last < feed_wm && feed_wm <= last + STEP_MS, "{last} vs {feed_wm}");
            }
        }
        p.finish(&mut Nothing);
        let mut passed = i64::MIN;
        for (is_mark, t) in marks_and_events(&log.lock().unwrap()) {
            if is_mark {
                passed = t;
            } else {
                prop_assert!(t > passed, "an event at {t} after the watermark {passed}");
            }
        }
    }
}

/// Notes `<feed>:<what>` for the events and the finish of one feed.
struct FeedLog(Feed, Arc<Mutex<Vec<String>>>);

impl Detector for FeedLog {
    fn name(&self) -> &'static str {
        "feed-log"
    }
    fn feed(&self) -> Option<Feed> {
        Some(self.0)
    }
    fn on_event(&mut self, _event: &Event, _out: &mut dyn CaseSink) {
        self.1
            .lock()
            .unwrap()
            .push(format!("{}:event", self.0.name()));
    }
    fn on_watermark(&mut self, _watermark_ms: i64, _out: &mut dyn CaseSink) {}
    fn finish(&mut self, _out: &mut dyn CaseSink) {
        self.1
            .lock()
            .unwrap()
            .push(format!("{}:finish", self.0.name()));
    }
}

#[test]
fn one_feed_starts_over_or_finishes_while_the_other_keeps_its_state() {
    let make = |log: &Arc<Mutex<Vec<String>>>| {
        Pipeline::new(
            vec![
                Box::new(FeedLog(Feed::SmsVolume, log.clone())),
                Box::new(FeedLog(Feed::Measurements, log.clone())),
            ],
            10,
        )
    };
    let (old, new) = (Arc::default(), Arc::default());
    let mut p = make(&old);
    p.register_source(Feed::SmsVolume, 0);
    p.register_source(Feed::Measurements, 0);
    p.on_event(m("x", 100), &mut Nothing);
    assert_eq!(p.held_events(), 1);
    p.adopt_feed(Feed::Measurements, &mut make(&new));
    assert_eq!(
        p.held_events(),
        0,
        "the feed that starts over holds nothing"
    );
    assert!(!p.watermarks.contains_key(&(Feed::Measurements, 0)));
    assert!(p.watermarks.contains_key(&(Feed::SmsVolume, 0)));
    p.finish_feed(Feed::SmsVolume, &mut Nothing);
    p.finish_feed(Feed::Measurements, &mut Nothing);
    // The SMS detector kept is the old one; the measurement detector is the fresh one.
    assert_eq!(*old.lock().unwrap(), vec!["sms_volume:finish"]);
    assert_eq!(*new.lock().unwrap(), vec!["measurements:finish"]);
}
