//! Fuzz target: any bytes through the validation stage of both feeds must give a
//! typed event or a dead letter, never a panic.
#![no_main]

use cellwatch::ingest::Origin;
use cellwatch::model::{Feed, TimeBounds};
use cellwatch::validate::{Checked, SourceValidator};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let bounds = TimeBounds::at(1_800_000_000_000);
    for feed in [Feed::SmsVolume, Feed::Measurements] {
        let mut v = SourceValidator::new(feed, bounds, 600_000);
        let origin = Origin::File { file: "fuzz".into(), line: 1 };
        if let Checked::Invalid(dead) = v.check(data, origin) {
            // The dead letter must serialise: it is what the pipeline writes.
            serde_json::to_string(&dead).expect("dead letters serialise");
        }
    }
});
