//! Fuzz target: any bytes as a cell-inventory CSV file are loaded or refused with an
//! error, every row loaded or rejected, never a panic (`cellwatch::fuzz::inventory_csv`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cellwatch::fuzz::inventory_csv(data));
