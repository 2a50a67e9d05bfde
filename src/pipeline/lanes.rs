//! Feed lanes: a pipeline whose detectors each consume one feed splits into one
//! pipeline per feed, so the replay can run the feeds on separate cores, and joins
//! back afterwards. Watermarks, hold queues and detectors are per feed already, so
//! a lane gives its detectors exactly the events and watermarks the single pipeline
//! would have: the cases are the same.

use super::{Pipeline, PipelineStats};
use crate::detect::Detector;
use crate::model::Feed;

/// The part of a pipeline that serves one feed.
pub(crate) struct Lane {
    pub(crate) feed: Feed,
    pub(crate) pipeline: Pipeline,
    /// Position of each of the lane's detectors in the original pipeline.
    slots: Vec<usize>,
}

impl Pipeline {
    /// Split into one lane per feed of `feeds` (in that order). Refused (the
    /// pipeline is handed back) when a detector consumes every feed (its watermark is
    /// the minimum over feeds, which a lane cannot see), when `feeds` has fewer than
    /// two distinct feeds, or when events are already in flight. Detectors of a feed
    /// not in `feeds` go to the first lane: they see no events, only the end of input.
    #[allow(clippy::result_large_err)]
    pub(crate) fn split_by_feed(self, feeds: &[Feed]) -> Result<Vec<Lane>, Pipeline> {
        let mut distinct: Vec<Feed> = Vec::new();
        for f in feeds {
            if !distinct.contains(f) {
                distinct.push(*f);
            }
        }
        let splittable = distinct.len() >= 2
            && self.detectors.iter().all(|d| d.feed().is_some())
            && self.watermarks.is_empty()
            && self.held_events() == 0
            && self.stats.records_read == 0;
        if !splittable {
            return Err(self);
        }
        let mut lanes: Vec<Lane> = distinct
            .iter()
            .map(|&feed| Lane {
                feed,
                pipeline: Pipeline::new(Vec::new(), self.watermark_step_ms).with_order(self.order),
                slots: Vec::new(),
            })
            .collect();
        for (slot, d) in self.detectors.into_iter().enumerate() {
            let i = d
                .feed()
                .and_then(|f| distinct.iter().position(|x| *x == f))
                .unwrap_or(0);
            lanes[i].pipeline.detectors.push(d);
            lanes[i].slots.push(slot);
        }
        Ok(lanes)
    }

    /// Join lanes back into one pipeline: detectors in their original order,
    /// watermarks, hold queues and counters of every lane.
    pub(crate) fn join(lanes: Vec<Lane>) -> Pipeline {
        let step = lanes.first().map_or(1, |l| l.pipeline.watermark_step_ms);
        let order = lanes
            .first()
            .map_or_else(Default::default, |l| l.pipeline.order);
        let mut slotted: Vec<(usize, Box<dyn Detector>)> = Vec::new();
        let mut joined = Pipeline::new(Vec::new(), step).with_order(order);
        for lane in lanes {
            let p = lane.pipeline;
            slotted.extend(lane.slots.into_iter().zip(p.detectors));
            joined.watermarks.extend(p.watermarks);
            joined.notified.extend(p.notified);
            joined.held.extend(p.held);
            joined.stats.absorb(p.stats);
        }
        slotted.sort_by_key(|(slot, _)| *slot);
        joined.detectors = slotted.into_iter().map(|(_, d)| d).collect();
        joined
    }
}

impl PipelineStats {
    /// Add another run's counters to these.
    pub(crate) fn absorb(&mut self, other: PipelineStats) {
        self.records_read += other.records_read;
        self.valid += other.valid;
        self.invalid += other.invalid;
        self.late += other.late;
        self.duplicates += other.duplicates;
        for (reason, n) in other.invalid_by_reason {
            *self.invalid_by_reason.entry(reason).or_default() += n;
        }
        for (feed, s) in other.by_feed {
            let f = self.by_feed.entry(feed).or_default();
            f.records_read += s.records_read;
            f.valid += s.valid;
            f.invalid += s.invalid;
            f.late += s.late;
            f.duplicates += s.duplicates;
            f.conflicting_duplicates += s.conflicting_duplicates;
            f.watermark_ms = f.watermark_ms.max(s.watermark_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::CaseSink;
    use crate::model::{Case, Event};

    struct Named(&'static str, Option<Feed>);

    impl Detector for Named {
        fn name(&self) -> &'static str {
            self.0
        }
        fn feed(&self) -> Option<Feed> {
            self.1
        }
        fn on_event(&mut self, _event: &Event, _out: &mut dyn CaseSink) {}
        fn on_watermark(&mut self, _watermark_ms: i64, _out: &mut dyn CaseSink) {}
        fn state_size(&self) -> usize {
            0
        }
        fn finish(&mut self, _out: &mut dyn CaseSink) {}
    }

    struct Nothing;
    impl CaseSink for Nothing {
        fn emit(&mut self, _case: Case) {}
    }

    fn pipeline(detectors: Vec<Box<dyn Detector>>) -> Pipeline {
        Pipeline::new(detectors, 60_000)
    }

    #[test]
    fn splits_by_feed_and_joins_in_the_original_order() {
        let p = pipeline(vec![
            Box::new(Named("a", Some(Feed::Measurements))),
            Box::new(Named("b", Some(Feed::SmsVolume))),
            Box::new(Named("c", Some(Feed::Measurements))),
        ]);
        let lanes = p
            .split_by_feed(&[Feed::SmsVolume, Feed::Measurements])
            .unwrap_or_else(|_| panic!("splittable"));
        assert_eq!(lanes.len(), 2);
        assert_eq!(lanes[0].feed, Feed::SmsVolume);
        assert_eq!(lanes[0].pipeline.detector_names(), ["b"]);
        assert_eq!(lanes[1].pipeline.detector_names(), ["a", "c"]);
        let joined = Pipeline::join(lanes);
        assert_eq!(joined.detector_names(), ["a", "b", "c"]);
    }

    #[test]
    fn refuses_a_detector_of_every_feed_or_a_single_feed() {
        let p = pipeline(vec![
            Box::new(Named("a", Some(Feed::Measurements))),
            Box::new(Named("all", None)),
        ]);
        let p = match p.split_by_feed(&[Feed::SmsVolume, Feed::Measurements]) {
            Err(p) => p,
            Ok(_) => panic!("a detector of every feed cannot be split off"),
        };
        assert_eq!(p.detector_names(), ["a", "all"]);
        let p = pipeline(vec![Box::new(Named("a", Some(Feed::Measurements)))]);
        assert!(p.split_by_feed(&[Feed::Measurements]).is_err());
    }

    #[test]
    fn stats_are_summed() {
        let mut p = pipeline(vec![Box::new(Named("a", Some(Feed::SmsVolume)))]);
        let mut out = Nothing;
        p.on_watermark(Feed::SmsVolume, 0, 120_000, &mut out);
        p.stats.count_valid(Feed::SmsVolume);
        let mut q = pipeline(vec![]);
        q.stats.count_valid(Feed::Measurements);
        q.stats.count_valid(Feed::SmsVolume);
        p.stats.absorb(q.stats);
        assert_eq!(p.stats.records_read, 3);
        assert_eq!(p.stats.by_feed[&Feed::SmsVolume].valid, 2);
        assert_eq!(p.stats.by_feed[&Feed::Measurements].valid, 1);
    }
}
