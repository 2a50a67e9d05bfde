//! Fuzz target: any bytes sent on one connection to the service's HTTP endpoint
//! (metrics, health, readiness, behind the request limits) get HTTP responses or a
//! closed connection within a bounded time, never a panic or a server error
//! (`cellwatch::fuzz::http_request`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cellwatch::fuzz::http_request(data));
