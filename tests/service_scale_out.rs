//! The staged topology (`[kafka] topology = "staged"`) with real `cellwatch run`
//! processes on a real broker and ClickHouse: several instances in one group, started
//! in random order on empty topics while a producer writes the scenario, must give
//! exactly the replay's result (every final case as a whole, the cases topic, dead
//! letters by origin counting raw rows, every valid record archived) — with an
//! instance SIGKILLed and not restarted, with the broker restarted mid-stream, and
//! with ClickHouse unreachable for 30 s. The fixture and comparisons are in `procs/`.

mod common;
mod procs;

use procs::{
    assert_equals_the_replay, count, detect_partitions, log_fields, wait_any, Fixture, Instance,
    Setup, PARTITIONS,
};
use std::time::{Duration, Instant};

/// Whether `i` runs a part of stage detect now: its last detect-group event is an
/// assignment of at least one partition.
fn owns_detect(i: &Instance) -> bool {
    detect_partitions(i) > 0
}

/// How many internal partitions the detect group has given `instances` (the last
/// detect-group assignment in each log, if not revoked since).
fn detect_partitions_owned(instances: &[Instance]) -> u64 {
    instances.iter().map(detect_partitions).sum()
}

/// Whether `i`'s stage detect has rebuilt what it was last assigned.
fn detect_settled(i: &Instance) -> bool {
    let mut pending = false;
    for fields in log_fields(i) {
        let group = fields["group"].as_str().unwrap_or_default();
        match fields["message"].as_str() {
            Some("partitions assigned") if group.ends_with("-detect") => {
                pending |= fields["partitions"].as_u64().unwrap_or(0) > 0
            }
            Some("detector state rebuilt") if fields["stage"] == "detect" => pending = false,
            _ => {}
        }
    }
    !pending
}

/// How many times `i`'s stage detect rebuilt state.
fn detect_rebuild_count(i: &Instance) -> usize {
    log_fields(i)
        .iter()
        .filter(|f| f["message"] == "detector state rebuilt" && f["stage"] == "detect")
        .count()
}

/// The rebuilds of `stage` in `i`'s log: (partitions of the last one, partitions
/// resumed from the checkpoint committed with their offsets, records read again —
/// both summed over all of them).
fn rebuilds(i: &Instance, stage: &str) -> (u64, u64, u64) {
    let (mut last, mut resumed, mut records) = (0, 0, 0);
    for fields in log_fields(i) {
        if fields["message"] == "detector state rebuilt" && fields["stage"] == stage {
            last = fields["partitions"].as_u64().unwrap_or(0);
            resumed += fields["resumed_from_checkpoint"].as_u64().unwrap_or(0);
            records += fields["records"].as_u64().unwrap_or(0);
        }
    }
    (last, resumed, records)
}

/// Stage ingest's rebuilds in `i`'s log: (partitions resumed from the checkpoint
/// committed with their offsets, records read again).
fn ingest_rebuilds(i: &Instance) -> (u64, u64) {
    let (_, resumed, records) = rebuilds(i, "ingest");
    (resumed, records)
}

/// Wait for the final snapshots, let them reach the sinks, stop every instance.
fn finish(instances: Vec<Instance>) {
    finish_after_idle(instances, procs::IDLE_SECS)
}

/// [`finish`] for instances whose idle timeout is `idle_secs`: every instance that
/// runs a part of stage detect (the group spreads its two internal partitions over
/// two members) reaches quiescence on its own.
fn finish_after_idle(mut instances: Vec<Instance>, idle_secs: u64) {
    let produced = std::time::Instant::now();
    wait_any(&mut instances, "every partition idle", 240);
    let deadline = Instant::now() + Duration::from_secs(120);
    while instances
        .iter()
        .any(|i| owns_detect(i) && !i.log_text().contains("every partition idle"))
    {
        assert!(
            Instant::now() < deadline,
            "an instance running stage detect never became quiescent"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "quiescent {:?} after the last record was produced (idle timeout {idle_secs} s)",
        produced.elapsed(),
    );
    std::thread::sleep(Duration::from_secs(3));
    for i in instances {
        i.terminate(30);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_in_any_order_one_killed_give_the_replays_cases() {
    let f = Fixture::setup(Setup::shared(31, PARTITIONS, true)).await;
    let started = Instant::now();
    let (producing, placement) = f.produce(30, None);
    let mut instances = f.spawn_three_shuffled("cw-scale");
    // Mid-stream, after the group settled: stage detect's two internal partitions
    // (SMS, measurements) run on two different instances; kill one of them.
    std::thread::sleep(Duration::from_secs(10));
    let settle = Instant::now() + Duration::from_secs(60);
    while instances.iter().filter(|i| owns_detect(i)).count() < 2 {
        assert!(
            Instant::now() < settle,
            "stage detect did not spread over two instances"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let archived = count(&f.ch, "SELECT count() FROM records").await;
    assert!(archived > 0, "nothing archived before the kill");
    let owner = instances
        .iter()
        .position(owns_detect)
        .expect("one instance owns stage detect");
    let victim = instances.remove(owner);
    eprintln!(
        "killing {} (a part of stage detect) {:?} after the start",
        victim.log.display(),
        started.elapsed()
    );
    victim.kill();
    let killed_at = Instant::now();
    // A survivor takes the victim's part of detection over once the group notices
    // (session timeout): both internal partitions are owned again.
    let deadline = Instant::now() + Duration::from_secs(90);
    while detect_partitions_owned(&instances) < 2 {
        assert!(
            Instant::now() < deadline,
            "no survivor took stage detect over"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let taken_over = killed_at.elapsed();
    producing.join().unwrap();
    // The survivors took the victim's feed partitions over from the checkpoints
    // committed with the offsets, without re-reading the feed.
    let (resumed, reread): (u64, u64) = instances
        .iter()
        .map(ingest_rebuilds)
        .fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
    finish(instances);
    eprintln!(
        "stage detect taken over {taken_over:?} after the kill; whole run {:?}; stage ingest: {resumed} partition rebuilds resumed from checkpoints, {reread} feed records read again",
        started.elapsed()
    );
    assert!(
        resumed > 0,
        "no ingest partition resumed from a committed checkpoint"
    );
    assert_equals_the_replay(&f, &placement).await;
}

/// A TCP relay to ClickHouse that the test can close (connections refused, open
/// ones cut) and open again on the same port: ClickHouse "away" for the instances,
/// while the test itself keeps its direct connection.
struct Relay {
    port: u16,
    target: String,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Relay {
    async fn open(port: u16, target: &str) -> Relay {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let to = target.to_string();
        let task = tokio::spawn(async move {
            // Dropped with the task: every relayed connection is cut.
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                let to = to.clone();
                conns.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&to).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                while conns.try_join_next().is_some() {}
            }
        });
        Relay {
            port,
            target: target.to_string(),
            task: Some(task),
        }
    }

    fn close(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    async fn reopen(&mut self) {
        // The aborted task drops its listener at its next poll: retry the bind.
        for _ in 0..50 {
            if tokio::net::TcpListener::bind(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        *self = Relay::open(self.port, &self.target).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_away_for_30_s_changes_nothing() {
    let direct = common::clickhouse_url();
    let target = direct.trim_start_matches("http://").trim_end_matches('/');
    let mut relay = Relay::open(0, target).await;
    let mut setup = Setup::shared(32, PARTITIONS, true);
    setup.service_clickhouse_url = Some(format!("http://127.0.0.1:{}", relay.port));
    let f = Fixture::setup(setup).await;
    let started = Instant::now();
    let (producing, placement) = f.produce(30, None);
    let a = f.spawn_as("a", "cw-chaway-a");
    std::thread::sleep(Duration::from_secs(1));
    let b = f.spawn_as("b", "cw-chaway-b");
    std::thread::sleep(Duration::from_secs(10));
    assert!(count(&f.ch, "SELECT count() FROM records").await > 0);
    relay.close();
    eprintln!("clickhouse away {:?} after the start", started.elapsed());
    tokio::time::sleep(Duration::from_secs(30)).await;
    relay.reopen().await;
    eprintln!("clickhouse back {:?} after the start", started.elapsed());
    let retried = a.log_text().contains("flush failed, retrying")
        || b.log_text().contains("flush failed, retrying");
    assert!(retried, "the instances noticed the outage");
    producing.join().unwrap();
    finish(vec![a, b]);
    eprintln!("whole run {:?}", started.elapsed());
    assert_equals_the_replay(&f, &placement).await;
}

/// A broker of this test's own (`scripts/services.sh kafka-up` in a state folder and
/// on ports of its own, free when it starts), so that restarting it disturbs no other
/// test nor another checkout's run of this one.
struct OwnBroker {
    dir: std::path::PathBuf,
    /// Broker, controller and SASL listener ports, kept over the restart.
    ports: [u16; 3],
}

/// Ports the system hands out as free now (bound together, then released).
fn free_ports() -> [u16; 3] {
    let listeners: Vec<std::net::TcpListener> = (0..3)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let port = |i: usize| listeners[i].local_addr().unwrap().port();
    [port(0), port(1), port(2)]
}

impl OwnBroker {
    fn services(&self, what: &str) -> String {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/services.sh");
        let [kafka, controller, sasl] = self.ports.map(|p| p.to_string());
        let out = std::process::Command::new(script)
            .arg(what)
            .env("CW_SERVICES_DIR", &self.dir)
            .env("CW_SERVICES_KAFKA_PORT", kafka)
            .env("CW_SERVICES_KAFKA_CONTROLLER_PORT", controller)
            .env("CW_SERVICES_KAFKA_SASL_PORT", sasl)
            .stderr(std::process::Stdio::inherit())
            .output()
            .unwrap();
        assert!(out.status.success(), "services.sh {what} failed");
        String::from_utf8(out.stdout).unwrap()
    }

    fn up() -> (OwnBroker, String) {
        let broker = OwnBroker {
            dir: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".services-restart"),
            ports: free_ports(),
        };
        // A fresh cluster each run (the jars stay): its metadata names the ports.
        let _ = std::fs::remove_dir_all(broker.dir.join("kafka/data"));
        let out = broker.services("kafka-up");
        let brokers = out
            .trim()
            .strip_prefix("export CW_KAFKA_BROKERS=")
            .expect("the broker's address")
            .to_string();
        (broker, brokers)
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        self.services("kafka-down");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restarted_mid_stream_changes_nothing() {
    let (broker, brokers) = OwnBroker::up();
    let mut setup = Setup::shared(33, PARTITIONS, true);
    setup.brokers = brokers;
    let f = Fixture::setup(setup).await;
    // The outage pauses every partition for longer than the usual short idle timeout,
    // and a partition paused longer than the timeout is treated as late when it
    // resumes (docs/streaming.md, "Watermarks"): the timeout must stay above the
    // longest pause, as a user's must stay above their producers' longest pause.
    let toml = std::fs::read_to_string(&f.config).unwrap().replace(
        &format!("idle_timeout_secs = {}", procs::IDLE_SECS),
        &format!("idle_timeout_secs = {OUTAGE_IDLE_SECS}"),
    );
    std::fs::write(&f.config, toml).unwrap();
    let started = Instant::now();
    let (producing, placement) = f.produce(30, None);
    let a = f.spawn_as("a", "cw-brokerup-a");
    std::thread::sleep(Duration::from_secs(1));
    let b = f.spawn_as("b", "cw-brokerup-b");
    std::thread::sleep(Duration::from_secs(10));
    assert!(count(&f.ch, "SELECT count() FROM records").await > 0);
    let down = Instant::now();
    broker.services("kafka-down");
    eprintln!("broker stopped in {:?}", down.elapsed());
    let up = Instant::now();
    broker.services("kafka-up");
    eprintln!(
        "broker up again in {:?}; away {:?}",
        up.elapsed(),
        down.elapsed()
    );
    producing.join().unwrap();
    finish_after_idle(vec![a, b], OUTAGE_IDLE_SECS);
    eprintln!("whole run {:?}", started.elapsed());
    assert_equals_the_replay(&f, &placement).await;
}

/// The broker-restart test's idle timeout: above the outage (8 s quiet, up to 20 s
/// when the machine is loaded and the broker's JVM starts slowly).
const OUTAGE_IDLE_SECS: u64 = 45;

/// SIGTERM once the input is in, long before the instances would find it idle: the
/// instance running stage detect reads its internal partition to the end and emits
/// the final snapshots (stage ingest of every instance having committed every feed
/// partition), so the result is the replay's without waiting for quiescence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_after_the_input_emits_the_replays_final_snapshots() {
    let f = Fixture::setup(Setup::shared(34, PARTITIONS, true)).await;
    let toml = std::fs::read_to_string(&f.config).unwrap().replace(
        &format!("idle_timeout_secs = {}", procs::IDLE_SECS),
        "idle_timeout_secs = 3600",
    );
    std::fs::write(&f.config, toml).unwrap();
    let valid = procs::replay(&f).2;
    let started = Instant::now();
    let (producing, placement) = f.produce(15, None);
    let instances = vec![
        f.spawn_as("a", "cw-sigterm-a"),
        f.spawn_as("b", "cw-sigterm-b"),
    ];
    producing.join().unwrap();
    // Every valid record archived: stage ingest is through the input.
    let deadline = Instant::now() + Duration::from_secs(120);
    while count(&f.ch, "SELECT count() FROM records FINAL").await < valid {
        assert!(Instant::now() < deadline, "not every record archived");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Both internal partitions owned: with two instances, one each.
    while detect_partitions_owned(&instances) < 2 {
        assert!(Instant::now() < deadline, "stage detect is not fully owned");
        std::thread::sleep(Duration::from_millis(100));
    }
    // One instance first: its part of stage detect either emits its final snapshots
    // (the whole input accounted for) or says what still waits and leaves the part
    // to the other, which then owns both internal partitions and, at its own SIGTERM,
    // emits the final snapshots of both.
    let mut instances = instances;
    let last = instances.pop().unwrap();
    let first = instances.pop().unwrap();
    let first_log = first.log.clone();
    let first_stop = first.terminate(30);
    let text = std::fs::read_to_string(&first_log).unwrap();
    assert!(
        text.lines().any(|l| l.contains(r#""reason":"shutdown""#)
            && (l.contains("final snapshots emitted") || l.contains("records still waiting"))),
        "the first instance's part of stage detect at SIGTERM:\n{text}"
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    while detect_partitions(&last) < 2 || !detect_settled(&last) {
        assert!(
            Instant::now() < deadline,
            "the last instance did not take stage detect whole"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let last_log = last.log.clone();
    let last_stop = last.terminate(30);
    let text = std::fs::read_to_string(&last_log).unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains("final snapshots emitted") && l.contains(r#""reason":"shutdown""#)),
        "the last instance emitted its final snapshots at SIGTERM:\n{text}"
    );
    for log in [&first_log, &last_log] {
        let text = std::fs::read_to_string(log).unwrap();
        assert!(
            !text.contains("every partition idle"),
            "quiescence was not what ended the run"
        );
    }
    eprintln!(
        "SIGTERM to exit: first instance {first_stop:?}, last instance {last_stop:?}; whole run {:?}",
        started.elapsed()
    );
    assert_equals_the_replay(&f, &placement).await;
}

/// A second instance joining takes one of stage detect's two tasks over; the first
/// keeps the other with its state (the cooperative assignor moves only what it
/// must), so it rebuilds nothing, and the cases are still the replay's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_instance_moves_one_detect_task_and_the_other_keeps_its_state() {
    let f = Fixture::setup(Setup::shared(35, PARTITIONS, true)).await;
    let started = Instant::now();
    let (producing, placement) = f.produce(30, None);
    let a = f.spawn_as("a", "cw-keep-a");
    let deadline = Instant::now() + Duration::from_secs(90);
    while detect_partitions(&a) < 2 || !detect_settled(&a) {
        assert!(Instant::now() < deadline, "a never ran both detect tasks");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Some input through a's detectors before the second instance joins.
    std::thread::sleep(Duration::from_secs(5));
    let before = detect_rebuild_count(&a);
    let b = f.spawn_as("b", "cw-keep-b");
    let joined = Instant::now();
    while detect_partitions(&b) < 1
        || !detect_settled(&b)
        || detect_partitions(&a) != 1
        || !detect_settled(&a)
    {
        assert!(
            Instant::now() < deadline + Duration::from_secs(60),
            "the detect tasks did not spread over both instances:\n{}\n---\n{}",
            a.log_text(),
            b.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let spread = joined.elapsed();
    assert_eq!(
        detect_rebuild_count(&a),
        before,
        "the task that stayed on a was rebuilt:\n{}",
        a.log_text()
    );
    assert!(
        a.log_text().contains("the others keep their state"),
        "a kept its other task:\n{}",
        a.log_text()
    );
    let (b_partitions, _, b_records) = rebuilds(&b, "detect");
    assert_eq!(b_partitions, 1, "b rebuilt the task that moved, only it");
    producing.join().unwrap();
    finish(vec![a, b]);
    eprintln!(
        "second instance joined: tasks spread {spread:?} later, b re-read {b_records} envelopes, a none; whole run {:?}",
        started.elapsed()
    );
    assert_equals_the_replay(&f, &placement).await;
}
