//! Fuzz target: any bytes sent on one connection to the analyst console (logins,
//! sessions, CSRF, the case list, case pages, status changes, evidence, static
//! assets) get HTTP responses or a closed connection within a bounded time, never a
//! panic or a server error, and a case's status changes only with a logged-in
//! session of a user allowed to change it and its CSRF token
//! (`cellwatch::fuzz::console_request`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cellwatch::fuzz::console_request(data));
