//! The pipeline core shared by `replay` and the Kafka service: validated events go
//! to the detectors of their feed, watermarks advance them, cases are collected.
//!
//! Sources (files, partitions) differ; this code does not, which is what makes a
//! replay give the same cases as streaming the same input.

use crate::detect::{CaseSink, Detector};
use crate::ingest::Origin;
use crate::model::{Event, Feed, InvalidReason};
use crate::validate::{Checked, DeadLetter, SourceValidator};
use serde::Serialize;
use std::collections::BTreeMap;

/// Counters of one run, per feed and in total.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PipelineStats {
    pub records_read: u64,
    pub valid: u64,
    pub invalid: u64,
    pub invalid_by_reason: BTreeMap<InvalidReason, u64>,
    pub late: u64,
    pub by_feed: BTreeMap<Feed, FeedStats>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FeedStats {
    pub records_read: u64,
    pub valid: u64,
    pub invalid: u64,
    pub late: u64,
    pub watermark_ms: Option<i64>,
}

impl PipelineStats {
    pub fn count_valid(&mut self, feed: Feed) {
        self.records_read += 1;
        self.valid += 1;
        let f = self.by_feed.entry(feed).or_default();
        f.records_read += 1;
        f.valid += 1;
    }

    pub fn count_invalid(&mut self, dead: &DeadLetter) {
        self.records_read += 1;
        let f = self.by_feed.entry(dead.feed).or_default();
        f.records_read += 1;
        if dead.reason == InvalidReason::Late {
            self.late += 1;
            f.late += 1;
        } else {
            self.invalid += 1;
            f.invalid += 1;
        }
        *self.invalid_by_reason.entry(dead.reason).or_default() += 1;
    }
}

/// The detectors of a run, with routing by feed and watermark bookkeeping.
pub struct Pipeline {
    detectors: Vec<Box<dyn Detector>>,
    /// Watermark of every source (feed, partition); a feed's watermark is the
    /// minimum over its sources, so no partition's window closes early.
    watermarks: BTreeMap<(Feed, i32), i64>,
    /// Watermark last passed to detectors, per feed.
    notified: BTreeMap<Feed, i64>,
    /// Minimum event-time progress between two watermark notifications.
    watermark_step_ms: i64,
    pub stats: PipelineStats,
}

impl Pipeline {
    pub fn new(detectors: Vec<Box<dyn Detector>>, watermark_step_ms: i64) -> Self {
        Pipeline {
            detectors,
            watermarks: BTreeMap::new(),
            notified: BTreeMap::new(),
            watermark_step_ms: watermark_step_ms.max(1),
            stats: PipelineStats::default(),
        }
    }

    pub fn detectors(&self) -> &[Box<dyn Detector>] {
        &self.detectors
    }

    pub fn detector_names(&self) -> Vec<&'static str> {
        self.detectors.iter().map(|d| d.name()).collect()
    }

    /// Give one validated event to the detectors of its feed.
    pub fn on_event(&mut self, event: &Event, out: &mut dyn CaseSink) {
        let feed = event.feed();
        self.stats.count_valid(feed);
        for d in self.detectors.iter_mut() {
            if d.feed().is_none_or(|f| f == feed) {
                d.on_event(event, out);
            }
        }
    }

    /// Validate one raw record of a source and, when valid, run it through the
    /// detectors and advance the source's watermark. Returns the dead letter of a
    /// refused record (already counted) for the caller's dead-letter sink.
    pub fn process(
        &mut self,
        validator: &mut SourceValidator,
        bytes: &[u8],
        origin: Origin,
        out: &mut dyn CaseSink,
    ) -> Option<DeadLetter> {
        match validator.check(bytes, origin) {
            Checked::Valid(event) => {
                self.on_event(&event, out);
                if let Some(wm) = validator.watermark_ms() {
                    self.on_watermark(validator.feed(), validator.source(), wm, out);
                }
                None
            }
            Checked::Invalid(dead) => {
                self.on_dead_letter(&dead);
                Some(*dead)
            }
        }
    }

    /// Record a refused record in the counters.
    pub fn on_dead_letter(&mut self, dead: &DeadLetter) {
        self.stats.count_invalid(dead);
    }

    /// A source (feed, partition) reports its watermark; detectors of the feed hear
    /// of the feed's watermark (minimum over its sources) when it has advanced by at
    /// least the configured step.
    pub fn on_watermark(&mut self, feed: Feed, source: i32, watermark_ms: i64, out: &mut dyn CaseSink) {
        let wm = self.watermarks.entry((feed, source)).or_insert(watermark_ms);
        if watermark_ms > *wm {
            *wm = watermark_ms;
        }
        let Some(feed_wm) = self
            .watermarks
            .range((feed, i32::MIN)..=(feed, i32::MAX))
            .map(|(_, w)| *w)
            .min()
        else {
            return;
        };
        self.stats.by_feed.entry(feed).or_default().watermark_ms = Some(feed_wm);
        let last = self.notified.get(&feed).copied();
        if last.is_some_and(|l| feed_wm - l < self.watermark_step_ms) {
            return;
        }
        self.notified.insert(feed, feed_wm);
        let min_all = self.notified.values().copied().min().unwrap_or(feed_wm);
        for d in self.detectors.iter_mut() {
            match d.feed() {
                Some(f) if f == feed => d.on_watermark(feed_wm, out),
                Some(_) => {}
                None => d.on_watermark(min_all, out),
            }
        }
    }

    /// Forget a source that is no longer ours (a revoked partition), so it does not
    /// hold the feed's watermark back.
    pub fn remove_source(&mut self, feed: Feed, source: i32) {
        self.watermarks.remove(&(feed, source));
    }

    /// Pass a reference-data update (inventory or allowlist topic) to every detector.
    pub fn on_reference_update(&mut self, kind: crate::detect::Reference, key: &str, value: Option<&[u8]>) {
        for d in self.detectors.iter_mut() {
            d.on_reference_update(kind, key, value);
        }
    }

    /// End of input: every detector emits what is pending.
    pub fn finish(&mut self, out: &mut dyn CaseSink) {
        for d in self.detectors.iter_mut() {
            d.finish(out);
        }
    }
}
