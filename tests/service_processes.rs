//! Real `cellwatch run` processes (the built binary, not the library in-process) on
//! the real Kafka broker and ClickHouse server, started on empty topics while a
//! producer writes the scenario, killed with SIGKILL mid-stream and restarted, then
//! stopped with SIGTERM. The result must be exactly the replay's: every final case
//! in ClickHouse (`FINAL`) equal to the replay's snapshot as a whole (ids, members,
//! identities, reasons, values, scores, location, track), the last message per case
//! on the cases topic equal too, dead letters equal by origin, every valid record
//! archived once. The fixture and the comparisons are in `procs/`.

mod common;
mod procs;

use procs::{assert_equals_the_replay, count, Fixture, PARTITIONS};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_and_restarted_instance_gives_the_replays_cases() {
    let f = Fixture::new(21, PARTITIONS).await;
    let started = Instant::now();
    let mut a = f.spawn("a");
    let (producing, placement) = f.produce(30, None);
    a.wait_log("detector state rebuilt", 60);
    // Mid-stream: some batches flushed, more records coming.
    std::thread::sleep(Duration::from_secs(12));
    let archived = count(&f.ch, "SELECT count() FROM records").await;
    assert!(archived > 0, "instance a archived nothing before the kill");
    a.kill();
    let killed_at = Instant::now();
    let mut b = f.spawn("b");
    let rebuilt = b.wait_log("detector state rebuilt", 60);
    let working_again = killed_at.elapsed();
    producing.join().unwrap();
    eprintln!(
        "produced everything {:?} after the start",
        started.elapsed()
    );
    b.wait_log("every partition idle", 120);
    // The final snapshots reach the sinks within a flush interval.
    std::thread::sleep(Duration::from_secs(2));
    let rebuilt_line = b
        .log_text()
        .lines()
        .find(|l| l.contains("detector state rebuilt"))
        .unwrap_or_default()
        .to_string();
    eprintln!("instance b: {rebuilt_line}");
    let rebuilt_records = serde_json::from_str::<serde_json::Value>(&rebuilt_line).unwrap()
        ["fields"]["records"]
        .as_u64()
        .unwrap();
    assert!(
        rebuilt_records > 0,
        "the restarted instance rebuilt its state from the history: {rebuilt_line}"
    );
    let stop = b.terminate(15);
    eprintln!(
        "restart: state rebuilt {rebuilt:?} after the new process started, {working_again:?} after the kill; SIGTERM to exit {stop:?}; whole run {:?}",
        started.elapsed()
    );

    assert_equals_the_replay(&f, &placement).await;
}

/// An error in the service path is logged with its cause and ends the process with a
/// non-zero status within seconds (here: the metrics endpoint's port is taken).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_error_exits_non_zero_within_seconds() {
    let f = Fixture::new(22, PARTITIONS).await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let toml = std::fs::read_to_string(&f.config).unwrap().replace(
        "listen = \"\"",
        &format!("listen = \"{}\"", taken.local_addr().unwrap()),
    );
    std::fs::write(&f.config, toml).unwrap();
    let mut a = f.spawn("a");
    let status = a.wait_exit(20);
    assert!(!status.success());
    let log = a.log_text();
    assert!(
        log.contains("cannot start the metrics endpoint") && log.contains("change [http] listen"),
        "the cause and what to do:\n{log}"
    );
}

/// Started on empty topics where one partition of each feed never receives a record:
/// the empty partitions hold the watermark only until they are idle, and the
/// result is still exactly the replay's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_that_stay_empty_do_not_change_the_result() {
    let f = Fixture::new(23, PARTITIONS + 1).await;
    let mut a = f.spawn("a");
    let (producing, placement) = f.produce(20, Some(PARTITIONS));
    a.wait_log("detector state rebuilt", 60);
    producing.join().unwrap();
    let produced = a.started.elapsed();
    let quiescent = a.wait_log("every partition idle", 120);
    eprintln!(
        "quiescent {:?} after the last record was produced (idle timeout {} s)",
        quiescent.saturating_sub(produced),
        procs::IDLE_SECS
    );
    std::thread::sleep(Duration::from_secs(2));
    a.terminate(15);
    let empty = placement
        .lock()
        .unwrap()
        .values()
        .filter(|(p, _)| *p == PARTITIONS)
        .count();
    assert_eq!(empty, 0, "the last partition of each feed stayed empty");
    assert_equals_the_replay(&f, &placement).await;
}

/// `topology = "single"` with two instances in one group: an instance that is
/// assigned only part of the feed partitions says once that its cases will differ
/// from one instance's and that `staged` is the topology for several instances.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_topology_warns_when_another_instance_joins() {
    let f = Fixture::new(24, PARTITIONS).await;
    let mut a = f.spawn_as("a", "cw-single-a");
    a.wait_log("detector state rebuilt", 60);
    let b = f.spawn_as("b", "cw-single-b");
    let warning =
        r#"topology = \"single\" and this instance owns only some of the feed partitions"#;
    let deadline = Instant::now() + Duration::from_secs(90);
    while !(a.log_text().contains(warning) || b.log_text().contains(warning)) {
        assert!(
            Instant::now() < deadline,
            "no warning about the partial assignment:\n{}\n---\n{}",
            a.log_text(),
            b.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let warnings = a.log_text().matches(warning).count() + b.log_text().matches(warning).count();
    a.terminate(15);
    b.terminate(15);
    assert!(warnings >= 1);
}
