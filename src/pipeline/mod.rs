//! The pipeline core shared by `replay` and the Kafka service: validated events go
//! to the detectors of their feed, watermarks advance them, cases are collected.
//!
//! Sources (files, partitions) differ; this code does not, which is what makes a
//! replay give the same cases as streaming the same input.

mod lanes;
mod order;

pub(crate) use lanes::Lane;

use crate::config::{EventOrder, PipelineConfig};
use crate::detect::{CaseSink, Detector};
use crate::ingest::{Origin, OriginRef};
use crate::model::{Event, Feed, InvalidReason};
use crate::validate::{Checked, DeadLetter, SourceValidator};
use order::HoldQueue;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Instant;

/// Counters of one run, per feed and in total.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PipelineStats {
    pub records_read: u64,
    pub valid: u64,
    pub(crate) invalid: u64,
    pub(crate) invalid_by_reason: BTreeMap<InvalidReason, u64>,
    pub late: u64,
    /// Valid records not given to the detectors because an earlier record had
    /// their natural key (identical redeliveries and other versions together).
    pub duplicates: u64,
    pub(crate) by_feed: BTreeMap<Feed, FeedStats>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct FeedStats {
    pub(crate) records_read: u64,
    pub(crate) valid: u64,
    pub(crate) invalid: u64,
    pub(crate) late: u64,
    /// Identical redeliveries of a record, dropped before the detectors.
    pub(crate) duplicates: u64,
    /// Records with an earlier record's natural key but another content: the first
    /// in canonical order is the one detected (the others are archived only).
    pub(crate) conflicting_duplicates: u64,
    /// The feed's watermark when it last crossed a watermark step (it is evaluated
    /// once per step, not per record).
    pub(crate) watermark_ms: Option<i64>,
}

impl PipelineStats {
    pub(crate) fn count_valid(&mut self, feed: Feed) {
        self.records_read += 1;
        self.valid += 1;
        let f = self.by_feed.entry(feed).or_default();
        f.records_read += 1;
        f.valid += 1;
    }

    /// A record with an already delivered natural key, `identical` or not.
    pub(crate) fn count_duplicate(&mut self, feed: Feed, identical: bool) {
        self.duplicates += 1;
        let f = self.by_feed.entry(feed).or_default();
        if identical {
            f.duplicates += 1;
        } else {
            f.conflicting_duplicates += 1;
        }
    }

    pub(crate) fn count_invalid(&mut self, dead: &DeadLetter) {
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
    /// A registered source that has not reported yet (`None`) holds its feed's
    /// watermark back, so reading partitions in any interleaving gives detectors
    /// the same watermarks.
    watermarks: BTreeMap<(Feed, i32), Option<i64>>,
    /// Sources declared idle (consumed to their end and silent, see
    /// [`Pipeline::set_idle`]): they do not hold their feed's watermark back.
    idle: std::collections::BTreeSet<(Feed, i32)>,
    /// Watermark last passed to detectors, per feed (a multiple of the step).
    notified: BTreeMap<Feed, i64>,
    /// Watermark notifications happen at multiples of this step, so every run
    /// notifies at the same event times.
    watermark_step_ms: i64,
    order: EventOrder,
    held: BTreeMap<Feed, HoldQueue>,
    pub stats: PipelineStats,
    /// Time spent ordering and detecting (per released step, or per event in arrival
    /// order), for the service's per-stage breakdown.
    pub(crate) timing: PipelineTiming,
}

/// Where the pipeline's time went: sorting released steps, and the detectors.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PipelineTiming {
    pub(crate) order: std::time::Duration,
    pub(crate) detect: std::time::Duration,
}

/// At most this many watermark steps are walked one by one; a larger jump (days
/// without data) is crossed in one notification.
const MAX_STEPS_PER_ADVANCE: u32 = 100_000;

impl Pipeline {
    pub(crate) fn new(detectors: Vec<Box<dyn Detector>>, watermark_step_ms: i64) -> Self {
        Pipeline {
            detectors,
            watermarks: BTreeMap::new(),
            idle: std::collections::BTreeSet::new(),
            notified: BTreeMap::new(),
            watermark_step_ms: watermark_step_ms.max(1),
            order: EventOrder::default(),
            held: BTreeMap::new(),
            stats: PipelineStats::default(),
            timing: PipelineTiming::default(),
        }
    }

    /// A pipeline with the run's event-time settings.
    pub fn from_config(detectors: Vec<Box<dyn Detector>>, config: &PipelineConfig) -> Self {
        Pipeline::new(detectors, config.watermark_step_ms()).with_order(config.ordering)
    }

    pub(crate) fn with_order(mut self, order: EventOrder) -> Self {
        self.order = order;
        self
    }

    /// Events held for canonical ordering, not yet given to detectors.
    pub(crate) fn held_events(&self) -> usize {
        self.held.values().map(HoldQueue::len).sum()
    }

    pub(crate) fn detectors(&self) -> &[Box<dyn Detector>] {
        &self.detectors
    }

    pub(crate) fn detector_names(&self) -> Vec<&'static str> {
        self.detectors.iter().map(|d| d.name()).collect()
    }

    /// Take one validated event: held for canonical order, or delivered now.
    // Inlined into the replay's admit loop: the event is then copied once, from
    // its parse chunk into the hold queue, instead of once per call layer.
    #[inline(always)]
    pub(crate) fn on_event(&mut self, event: Event, out: &mut dyn CaseSink) {
        self.stats.count_valid(event.feed());
        match self.order {
            EventOrder::EventTime => {
                let step = self.watermark_step_ms;
                self.held
                    .entry(event.feed())
                    .or_insert_with(|| HoldQueue::new(step))
                    .push(event)
            }
            EventOrder::Arrival => {
                let t = Instant::now();
                self.deliver(&event, out);
                self.timing.detect += t.elapsed();
            }
        }
    }

    fn deliver(&mut self, event: &Event, out: &mut dyn CaseSink) {
        let feed = event.feed();
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
        self.process_observed(validator, bytes, origin, out, &mut |_, _| {})
    }

    /// [`Pipeline::process`], showing each valid event and its origin to `observe`
    /// first (the service archives records this way).
    pub(crate) fn process_observed(
        &mut self,
        validator: &mut SourceValidator,
        bytes: &[u8],
        origin: Origin,
        out: &mut dyn CaseSink,
        observe: &mut dyn FnMut(&Event, &Origin),
    ) -> Option<DeadLetter> {
        let checked = validator.check_ref(bytes, OriginRef::from(&origin));
        self.on_checked(validator, checked, out, &mut |event| {
            observe(event, &origin)
        })
    }

    /// Take the outcome of validating one record of `validator`'s source: a valid
    /// event goes to the detectors (after `observe`) and advances the source's
    /// watermark; a dead letter is counted and handed back.
    pub(crate) fn on_checked(
        &mut self,
        validator: &SourceValidator,
        checked: Checked,
        out: &mut dyn CaseSink,
        observe: &mut dyn FnMut(&Event),
    ) -> Option<DeadLetter> {
        match checked {
            Checked::Valid(event) => {
                self.on_admitted(validator, event, out, observe);
                None
            }
            Checked::Invalid(dead) => {
                self.on_dead_letter(&dead);
                Some(*dead)
            }
        }
    }

    /// An event its validator admitted (on time): to the detectors or the hold
    /// queue, then the source's watermark.
    #[inline]
    pub(crate) fn on_admitted(
        &mut self,
        validator: &SourceValidator,
        event: Event,
        out: &mut dyn CaseSink,
        observe: &mut dyn FnMut(&Event),
    ) {
        observe(&event);
        self.on_admitted_event(validator, event, out);
    }

    /// [`Pipeline::on_admitted`] without an observer (the replay's): inlined with the
    /// hold queue's push, so the event is copied once, into the queue.
    #[inline(always)]
    pub(crate) fn on_admitted_event(
        &mut self,
        validator: &SourceValidator,
        event: Event,
        out: &mut dyn CaseSink,
    ) {
        self.on_event(event, out);
        if let Some(wm) = validator.watermark_ms() {
            self.on_watermark(validator.feed(), validator.source(), wm, out);
        }
    }

    /// Record a refused record in the counters.
    pub(crate) fn on_dead_letter(&mut self, dead: &DeadLetter) {
        self.stats.count_invalid(dead);
    }

    /// A source (feed, partition) reports its watermark; detectors of the feed hear
    /// of the feed's watermark (minimum over its sources) when it has advanced by at
    /// least the configured step.
    pub(crate) fn on_watermark(
        &mut self,
        feed: Feed,
        source: i32,
        watermark_ms: i64,
        out: &mut dyn CaseSink,
    ) {
        let wm = self.watermarks.entry((feed, source)).or_insert(None);
        if wm.is_none_or(|w| watermark_ms > w) {
            *wm = Some(watermark_ms);
        }
        // A source that delivers is active again.
        if !self.idle.is_empty() {
            self.idle.remove(&(feed, source));
        }
        // Fast path (nearly every record): the feed's watermark is at most this
        // source's, so until it passes the next boundary nothing can be released or
        // notified.
        if let Some(last) = self.notified.get(&feed) {
            if watermark_ms <= last + self.watermark_step_ms {
                return;
            }
        }
        self.advance(feed, out);
    }

    /// The feed's watermark: the minimum over its active sources (a source that has
    /// not reported holds it at "none"); when every source is idle, the maximum over
    /// them, so the tail of a finished input is released as the replay releases it.
    fn feed_watermark(&self, feed: Feed) -> Option<i64> {
        let (mut min, mut max, mut all_idle) = (None::<i64>, None::<i64>, true);
        for (key, w) in self.watermarks.range((feed, i32::MIN)..=(feed, i32::MAX)) {
            if self.idle.contains(key) {
                max = max.max(*w);
                continue;
            }
            all_idle = false;
            let w = (*w)?;
            min = Some(min.map_or(w, |m: i64| m.min(w)));
        }
        if all_idle {
            max
        } else {
            min
        }
    }

    /// Release and notify every step boundary strictly below the feed's watermark.
    fn advance(&mut self, feed: Feed, out: &mut dyn CaseSink) {
        let Some(feed_wm) = self.feed_watermark(feed) else {
            return;
        };
        self.stats.by_feed.entry(feed).or_default().watermark_ms = Some(feed_wm);
        let step = self.watermark_step_ms;
        let mut boundary = match self.notified.get(&feed) {
            Some(last) => last + step,
            None if self.order == EventOrder::Arrival => feed_wm.div_euclid(step) * step,
            None => {
                // Canonical start: the step of the earliest event. Every on-time event
                // earlier than the watermark has arrived by now, so once one held event
                // is below the watermark, the earliest held time is the same in every
                // run and every interleaving; until then, nothing is notified.
                match self.held.get(&feed).and_then(HoldQueue::min_time) {
                    Some(earliest) if earliest < feed_wm => earliest.div_euclid(step) * step,
                    _ => return,
                }
            }
        };
        // Only boundaries strictly below the watermark are released: a source still
        // accepts an event exactly at its watermark, and such an event must not find
        // its time already released (it would then be delivered apart from, and after,
        // the events it ties with, in an order set by how partitions interleaved).
        let mut steps = 0u32;
        while boundary < feed_wm {
            steps += 1;
            if steps > MAX_STEPS_PER_ADVANCE
                && self
                    .held
                    .get(&feed)
                    .and_then(HoldQueue::min_time)
                    .is_none_or(|t| t >= feed_wm)
            {
                boundary = (feed_wm - 1).div_euclid(step) * step;
            }
            self.release_until(feed, boundary, out);
            self.notify(feed, boundary, out);
            boundary += step;
        }
    }

    /// Deliver the held events of `feed` at or before `boundary`, in order.
    fn release_until(&mut self, feed: Feed, boundary: i64, out: &mut dyn CaseSink) {
        self.release(feed, out, |q| q.take_until(boundary));
    }

    /// Deliver the held events of `feed` that `take` hands out, batch by batch.
    fn release(
        &mut self,
        feed: Feed,
        out: &mut dyn CaseSink,
        mut take: impl FnMut(&mut HoldQueue) -> Option<order::Ready>,
    ) {
        loop {
            let t = Instant::now();
            let Some(ready) = self.held.get_mut(&feed).and_then(&mut take) else {
                self.timing.order += t.elapsed();
                break;
            };
            let sorted = Instant::now();
            self.timing.order += sorted - t;
            let mut previous: Option<&Event> = None;
            for event in ready.iter() {
                // Canonical order puts records of one natural key next to each other:
                // the first is the record, the others redeliveries (or, with another
                // content, a second version, counted apart). Both stay in the archive.
                if previous.is_some_and(|p| p.same_natural_key(event)) {
                    let identical = previous == Some(event);
                    self.stats.count_duplicate(feed, identical);
                    continue;
                }
                self.deliver(event, out);
                previous = Some(event);
            }
            self.timing.detect += sorted.elapsed();
            if let Some(q) = self.held.get_mut(&feed) {
                q.recycle(ready);
            }
        }
    }

    fn notify(&mut self, feed: Feed, watermark: i64, out: &mut dyn CaseSink) {
        let t = Instant::now();
        self.notified.insert(feed, watermark);
        let min_all = self.notified.values().copied().min().unwrap_or(watermark);
        for d in self.detectors.iter_mut() {
            match d.feed() {
                Some(f) if f == feed => d.on_watermark(watermark, out),
                Some(_) => {}
                None => d.on_watermark(min_all, out),
            }
        }
        self.timing.detect += t.elapsed();
    }

    /// Declare a source of `feed` (an assigned partition, empty or not) before it has
    /// delivered anything: until it reports, the feed's watermark stays put.
    pub(crate) fn register_source(&mut self, feed: Feed, source: i32) {
        self.watermarks.entry((feed, source)).or_insert(None);
    }

    /// Declare a source idle (consumed to its end and silent for the idle timeout) or
    /// active again: an idle source no longer holds its feed's watermark back, which
    /// may then advance. A source that delivers a record is active again anyway.
    pub(crate) fn set_idle(&mut self, feed: Feed, source: i32, idle: bool, out: &mut dyn CaseSink) {
        if !self.watermarks.contains_key(&(feed, source)) {
            return;
        }
        let changed = if idle {
            self.idle.insert((feed, source))
        } else {
            self.idle.remove(&(feed, source))
        };
        if changed && idle {
            self.advance(feed, out);
        }
    }

    /// Whether a source is declared idle.
    pub(crate) fn is_idle(&self, feed: Feed, source: i32) -> bool {
        self.idle.contains(&(feed, source))
    }

    /// Whether every declared source of every feed is idle (and there is at least one):
    /// the input is quiescent, as a replay's input is at its end.
    pub(crate) fn all_idle(&self) -> bool {
        !self.watermarks.is_empty() && self.watermarks.keys().all(|k| self.idle.contains(k))
    }

    /// Forget a source that is no longer ours (a revoked partition), so it does not
    /// hold the feed's watermark back.
    pub(crate) fn remove_source(&mut self, feed: Feed, source: i32) {
        self.watermarks.remove(&(feed, source));
        self.idle.remove(&(feed, source));
    }

    /// Take `feed`'s detectors from `fresh` (built from the same configuration, so
    /// with the same detectors in the same order) and forget the feed's sources,
    /// held events and watermarks: the feed starts over while the other feed's state
    /// stays as it is (stage detect keeps the task that stays on the instance and
    /// rebuilds only the one that moved to it, or forgets the one that moved away).
    pub(crate) fn adopt_feed(&mut self, feed: Feed, fresh: &mut Pipeline) {
        debug_assert_eq!(self.detector_names(), fresh.detector_names());
        for (mine, theirs) in self.detectors.iter_mut().zip(fresh.detectors.iter_mut()) {
            if mine.feed() == Some(feed) {
                std::mem::swap(mine, theirs);
            }
        }
        self.watermarks.retain(|(f, _), _| *f != feed);
        self.idle.retain(|(f, _)| *f != feed);
        self.notified.remove(&feed);
        self.held.remove(&feed);
    }

    /// [`Pipeline::finish`] for one feed: its held events released in order, then
    /// its detectors emit what is pending; the other feed's state is untouched.
    pub(crate) fn finish_feed(&mut self, feed: Feed, out: &mut dyn CaseSink) {
        self.release(feed, out, HoldQueue::take_next);
        for d in self.detectors.iter_mut() {
            if d.feed() == Some(feed) {
                d.finish(out);
            }
        }
    }

    /// Pass a reference-data update (inventory or allowlist topic) to every detector.
    pub(crate) fn on_reference_update(
        &mut self,
        kind: crate::detect::Reference,
        key: &str,
        value: Option<&[u8]>,
    ) {
        for d in self.detectors.iter_mut() {
            d.on_reference_update(kind, key, value);
        }
    }

    /// End of input: held events are released in order, then every detector emits
    /// what is pending.
    pub fn finish(&mut self, out: &mut dyn CaseSink) {
        let feeds: Vec<Feed> = self.held.keys().copied().collect();
        for feed in feeds {
            self.release(feed, out, HoldQueue::take_next);
        }
        for d in self.detectors.iter_mut() {
            d.finish(out);
        }
    }
}

#[cfg(test)]
mod tests;
