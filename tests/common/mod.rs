//! Shared helpers for integration tests that need the real services.
//!
//! `scripts/test.sh` (and so CI) starts a real Kafka broker and a real ClickHouse
//! server with `scripts/services.sh up` and exports `CW_KAFKA_BROKERS` and
//! `CW_CLICKHOUSE_URL`. When a test binary runs without them (a bare `cargo test`,
//! an IDE), the first call here runs `scripts/services.sh up` itself, once per
//! test binary, and uses the addresses it prints.
//!
//! Tests never skip silently: if the services cannot be started, they panic and
//! say what failed.
//!
//! Use: `mod common;` at the top of a file in `tests/`, then `common::kafka_brokers()`.
//! std only, on purpose.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

const KAFKA_VAR: &str = "CW_KAFKA_BROKERS";
const CLICKHOUSE_VAR: &str = "CW_CLICKHOUSE_URL";

/// Bootstrap servers of the test Kafka broker, e.g. `127.0.0.1:19092`.
#[allow(dead_code)]
pub fn kafka_brokers() -> String {
    service_var(KAFKA_VAR)
}

/// Base URL of the test ClickHouse server's HTTP interface, e.g. `http://127.0.0.1:18123`.
#[allow(dead_code)]
pub fn clickhouse_url() -> String {
    service_var(CLICKHOUSE_VAR)
}

/// The authenticated, encrypted side of the test services (`scripts/services.sh up`
/// exports it): a SASL_SSL listener (SCRAM over TLS, a CA made locally) on the same
/// broker, and a ClickHouse user with a password.
#[allow(dead_code)]
pub struct Secured {
    /// Bootstrap servers of the SASL_SSL listener.
    pub sasl_brokers: String,
    pub mechanism: String,
    pub username: String,
    pub password: String,
    /// PEM file of the CA that signed the broker's certificate.
    pub ca_location: String,
    pub clickhouse_user: String,
    pub clickhouse_password: String,
}

#[allow(dead_code)]
pub fn secured() -> Secured {
    Secured {
        sasl_brokers: service_var("CW_KAFKA_SASL_SSL_BROKERS"),
        mechanism: service_var("CW_KAFKA_SASL_MECHANISMS"),
        username: service_var("CW_KAFKA_SASL_USERNAME"),
        password: service_var("CW_KAFKA_SASL_PASSWORD"),
        ca_location: service_var("CW_KAFKA_SSL_CA_LOCATION"),
        clickhouse_user: service_var("CW_CLICKHOUSE_USER"),
        clickhouse_password: service_var("CW_CLICKHOUSE_PASSWORD"),
    }
}

/// A name no other test (in this or another process) uses: `{prefix}_{pid}_{nanos}`.
///
/// For per-test Kafka topics, consumer groups and ClickHouse databases/tables.
/// With a prefix of `[A-Za-z0-9_]` only, the result is also a plain ClickHouse
/// identifier (no quoting needed); dashes are fine for topics and groups.
#[allow(dead_code)]
pub fn unique_name(prefix: &str) -> String {
    // Strictly increasing per process even if the clock repeats or steps back.
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let prev = match LAST.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
        Some(now.max(last + 1))
    }) {
        Ok(prev) | Err(prev) => prev,
    };
    let nanos = now.max(prev + 1);
    format!("{prefix}_{}_{nanos}", std::process::id())
}

fn service_var(name: &str) -> String {
    // The variables come as a set: when the plain ones are set but not this one (a
    // shell that exported only those two), ask the script, which knows them all.
    if let Some(value) = non_empty_env(name) {
        return value;
    }
    match started_services() {
        Ok(vars) => match vars.get(name) {
            Some(value) => value.clone(),
            None => panic!(
                "scripts/services.sh up did not print `export {name}=...`; \
                 run `scripts/services.sh up` by hand and check its output"
            ),
        },
        Err(why) => panic!(
            "{name} is not set and the test services could not be started: {why}\n\
             Run `scripts/services.sh up` (or the whole suite with `scripts/test.sh`) \
             and look at its output and the logs under .services/."
        ),
    }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Runs `scripts/services.sh up` at most once per test binary; the outcome
/// (addresses, or why it failed) is kept, so a failure is not retried by every test.
fn started_services() -> &'static Result<HashMap<String, String>, String> {
    static STARTED: OnceLock<Result<HashMap<String, String>, String>> = OnceLock::new();
    STARTED.get_or_init(start_services)
}

fn start_services() -> Result<HashMap<String, String>, String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("scripts").join("services.sh");
    if !script.is_file() {
        return Err(format!("{} does not exist", script.display()));
    }
    eprintln!(
        "[tests/common] {KAFKA_VAR}/{CLICKHOUSE_VAR} not set: running {} up",
        script.display()
    );
    let mut child = Command::new("bash")
        .arg(&script)
        .arg("up")
        .current_dir(&root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not run `bash {} up`: {e}", script.display()))?;
    // Relay the script's progress to the real stderr as it comes (a cold install
    // takes a minute or two) and keep it for the panic message.
    let child_stderr = child.stderr.take().expect("stderr is piped");
    let relay = std::thread::spawn(move || {
        let mut kept = Vec::new();
        for line in BufReader::new(child_stderr).lines().map_while(Result::ok) {
            let _ = writeln!(std::io::stderr(), "{line}");
            kept.push(line);
        }
        kept
    });
    let mut stdout = String::new();
    let read = child
        .stdout
        .take()
        .expect("stdout is piped")
        .read_to_string(&mut stdout);
    let status = child
        .wait()
        .map_err(|e| format!("waiting for `{} up`: {e}", script.display()))?;
    let progress = relay.join().unwrap_or_default();
    if !status.success() || read.is_err() {
        let tail = progress[progress.len().saturating_sub(40)..].join("\n");
        return Err(format!(
            "`{} up` failed ({status}); its last output:\n{tail}",
            script.display()
        ));
    }
    let vars = parse_exports(&stdout);
    for name in [KAFKA_VAR, CLICKHOUSE_VAR] {
        if !vars.contains_key(name) {
            return Err(format!(
                "`{} up` succeeded but printed no `export {name}=...` line; it printed: {stdout:?}",
                script.display()
            ));
        }
    }
    Ok(vars)
}

/// `export NAME=VALUE` lines (VALUE optionally in single or double quotes).
fn parse_exports(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("export ")?;
            let (name, value) = rest.split_once('=')?;
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            Some((name.trim().to_string(), value.to_string()))
        })
        .collect()
}
