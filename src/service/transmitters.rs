//! Stage B of the fake-BTS detector split over Kafka (`[kafka]
//! measurement_partitions` above 1): `Transmitters` as the last stage that
//! [`super::stage_b`] runs over `[kafka.topics] internal_transmitters`, where the
//! stage-A tasks (one per measurements partition) write their forwards and
//! watermark steps ([`super::hop`]).

use super::error::ServiceError;
use super::stage_b::{LastStage, StageBTask};
use crate::detect::fakebts::transmitters::Transmitters;
use crate::detect::CaseSink;
use crate::model::Feed;

impl LastStage for Transmitters {
    const FEED: Feed = Feed::Measurements;
    const STAGE: &'static str = "transmitters";
    const GAUGE: &'static str = "fake_bts_transmitters";

    fn finish_all(&mut self, out: &mut dyn CaseSink) {
        Transmitters::finish_all(self, out);
    }
}

/// A fresh stage B of the fake-BTS detector from the configuration and the
/// inventory `cells`.
pub(super) fn stage_b(
    config: &crate::config::Config,
    cells: Option<&std::path::Path>,
) -> Result<StageBTask<Transmitters>, ServiceError> {
    let (_, fakebts) =
        crate::detect::setup::RunSetup::build_split(config, cells).map_err(ServiceError::Setup)?;
    let (_, b) = fakebts.into_stages();
    Ok(StageBTask::new(
        b,
        config.kafka.measurement_partitions,
        config.pipeline.watermark_step_ms(),
    ))
}
