//! Fuzz target: any bytes as a TOML configuration file plus `CELLWATCH_*` variables
//! are loaded or refused with an error, never a panic (`cellwatch::fuzz::config`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cellwatch::fuzz::config(data));
