//! Stage B of the spam detector split over Kafka (`[kafka] sms_partitions` above
//! 1): `CrossSim` as the last stage that [`super::stage_b`] runs over
//! `[kafka.topics] internal_cross_sim`, where the stage-A tasks (`SimStage`, one per
//! partition of the SMS internal topic) write their `SimForward`s and watermark
//! steps ([`super::hop`]).

use super::stage_b::LastStage;
use crate::detect::spam::CrossSim;
use crate::detect::CaseSink;
use crate::model::Feed;

impl LastStage for CrossSim {
    const FEED: Feed = Feed::SmsVolume;
    const STAGE: &'static str = "cross_sim";
    const GAUGE: &'static str = "spam_cross_sim";

    fn finish_all(&mut self, out: &mut dyn CaseSink) {
        CrossSim::finish(self, out);
    }
}
