//! The backlog run's per-stage breakdown: the service's stage clock
//! (`cellwatch_stage_seconds_total`) read when the first record is consumed and
//! when the last is acknowledged, as seconds, share of the drain's wall time and
//! microseconds per record.

use crate::service::stage_time::Step;
use serde::Serialize;

/// One stage of the breakdown.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StageTime {
    /// `loop`, `parse_helper` or `flush`.
    pub(crate) thread: &'static str,
    pub(crate) stage: &'static str,
    /// A wait rather than work.
    pub(crate) wait: bool,
    pub(crate) seconds: f64,
    /// Of the drain's wall time.
    pub(crate) share: f64,
    pub(crate) micros_per_record: f64,
}

/// The stages' time between two snapshots of the clock, over a drain of
/// `records` in `wall` seconds; the loop's unaccounted remainder (reference
/// updates, stop requests) is added as `loop/unaccounted`. With `last`, the clock
/// when the last record had been consumed, the loop's `fetch_wait` after it is
/// split off as `loop/tail_wait`: the loop waiting for the last flushes, not for
/// records.
pub(crate) fn breakdown(
    before: &[(Step, f64)],
    after: &[(Step, f64)],
    last: Option<&[(Step, f64)]>,
    wall: f64,
    records: u64,
) -> Vec<StageTime> {
    let wall = wall.max(1e-9);
    let row = |thread, stage, wait, seconds: f64| StageTime {
        thread,
        stage,
        wait,
        seconds,
        share: seconds / wall,
        micros_per_record: seconds * 1e6 / records.max(1) as f64,
    };
    let mut rows: Vec<StageTime> = after
        .iter()
        .zip(before)
        .map(|((step, a), (_, b))| row(step.thread(), step.name(), step.is_wait(), a - b))
        .collect();
    let on_loop: f64 = rows
        .iter()
        .zip(after)
        .filter(|(_, (s, _))| s.thread() == "loop" && *s != Step::BurstCpu)
        .map(|(r, _)| r.seconds)
        .sum();
    rows.push(row("loop", "unaccounted", false, (wall - on_loop).max(0.0)));
    let tail = last
        .and_then(|l| l.iter().find(|(s, _)| *s == Step::FetchWait))
        .zip(after.iter().find(|(s, _)| *s == Step::FetchWait))
        .map(|((_, at_last), (_, at_end))| (at_end - at_last).max(0.0));
    if let Some(tail) = tail {
        if let Some(r) = rows.iter_mut().find(|r| r.stage == Step::FetchWait.name()) {
            *r = row("loop", r.stage, true, r.seconds - tail);
        }
        rows.push(row("loop", "tail_wait", true, tail));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loop_adds_up_to_the_wall_time() {
        let before: Vec<(Step, f64)> = Step::ALL.iter().map(|s| (*s, 1.0)).collect();
        let after: Vec<(Step, f64)> = Step::ALL
            .iter()
            .map(|s| (*s, if *s == Step::Detect { 3.0 } else { 1.5 }))
            .collect();
        let rows = breakdown(&before, &after, None, 10.0, 1_000_000);
        let detect = rows.iter().find(|r| r.stage == "detect").expect("detect");
        assert_eq!((detect.seconds, detect.share), (2.0, 0.2));
        assert!((detect.micros_per_record - 2.0).abs() < 1e-9);
        assert_loop_adds_up_to_the_wall(&rows, 10.0);
        // The fetch wait after the last record is the tail, not a wait for records.
        let last: Vec<(Step, f64)> = Step::ALL.iter().map(|s| (*s, 1.25)).collect();
        let rows = breakdown(&before, &after, Some(&last), 10.0, 1_000_000);
        let secs = |stage: &str| rows.iter().find(|r| r.stage == stage).map(|r| r.seconds);
        assert_eq!(secs("fetch_wait"), Some(0.25));
        assert_eq!(secs("tail_wait"), Some(0.25));
        assert_loop_adds_up_to_the_wall(&rows, 10.0);
    }

    /// The loop's stages (not its CPU) add up to its wall time.
    fn assert_loop_adds_up_to_the_wall(rows: &[StageTime], wall: f64) {
        let loop_total: f64 = rows
            .iter()
            .filter(|r| r.thread == "loop" && r.stage != "burst_cpu")
            .map(|r| r.seconds)
            .sum();
        assert!((loop_total - wall).abs() < 1e-9, "{loop_total}");
    }
}
