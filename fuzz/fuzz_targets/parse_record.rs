//! Fuzz target: any bytes through the validation stage of both feeds must give a
//! typed event or a dead letter that serialises, never a panic
//! (`cellwatch::fuzz::record`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cellwatch::fuzz::record(data));
