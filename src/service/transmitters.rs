//! Stage B of the fake-BTS detector split over Kafka (`[kafka]
//! measurement_partitions` above 1): the transmitter stage keyed by region
//! ([`Regions`]) as the last stage that [`super::stage_b`] runs over `[kafka.topics]
//! internal_transmitters`, where the stage-A tasks (one per measurements partition)
//! write their forwards and watermark steps ([`super::hop`]).

use super::stage_b::LastStage;
use crate::detect::fakebts::regional::Regions;
use crate::detect::CaseSink;
use crate::model::Feed;

impl LastStage for Regions {
    const FEED: Feed = Feed::Measurements;
    const STAGE: &'static str = "transmitters";
    const GAUGE: &'static str = "fake_bts_transmitters";

    fn finish_all(&mut self, out: &mut dyn CaseSink) {
        Regions::finish_all(self, out);
    }
}
