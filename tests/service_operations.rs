//! Two operator procedures on the real broker and ClickHouse with real `cellwatch
//! run` processes (docs/streaming.md):
//!
//! - **Changing the partition count** of an internal topic: a scenario streamed with
//!   `[kafka] measurement_partitions = 1`, the instance stopped, the configuration
//!   changed to 3; the refused start prints the procedure, and the test runs its
//!   commands literally (the broker's `kafka-topics.sh` / `kafka-consumer-groups.sh`,
//!   from this project's install through `scripts/services.sh kafka-tool`), then
//!   starts the instance again: the final cases must be the replay's, dead letters by
//!   origin, every record archived once.
//! - **A fenced static member**: two instances started with the same
//!   `group_instance_id` fence each other; one gives up after the bounded number of
//!   re-created consumers, exits non-zero within seconds with the cause and the fix,
//!   and an instance with an id of its own then completes the replay's cases.
//!
//! The fixture and comparisons are in `procs/` (`CW_TEST_KEEP_DIR=<folder>` keeps
//! each fixture's folder: logs, configuration, the replay's output).

mod common;
mod procs;

use procs::{assert_equals_the_replay, setting, wait_any, Fixture, Instance, Setup, PARTITIONS};
use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

/// The refusal's error line, and the commands of its procedure by hand, in order
/// (every `…` that runs a broker tool), each with whether the step says to wait
/// until it shows no member.
fn procedure_commands(log: &str, topic: &str) -> (String, Vec<(String, bool)>) {
    let error = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["fields"]["error"].as_str().map(str::to_string))
        .find(|e| e.contains(&format!("internal topic {topic} has")))
        .unwrap_or_else(|| panic!("the refusal's error line:\n{log}"));
    let parts: Vec<&str> = error.split('`').collect();
    let commands = (1..parts.len())
        .step_by(2)
        .filter(|k| parts[*k].starts_with("kafka-") && parts[*k].contains("--bootstrap-server"))
        .map(|k| (parts[k].to_string(), parts[k - 1].ends_with("wait until ")))
        .collect();
    (error, commands)
}

/// A folder with `kafka-topics.sh` and `kafka-consumer-groups.sh`: the broker's
/// tools from this project's install (`scripts/services.sh kafka-tool`).
fn kafka_tools(f: &Fixture) -> std::path::PathBuf {
    let bin = f.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let services = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/services.sh");
    for tool in ["kafka-topics.sh", "kafka-consumer-groups.sh"] {
        let path = bin.join(tool);
        std::fs::write(
            &path,
            format!("#!/bin/sh\nexec {services} kafka-tool {tool} \"$@\"\n"),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

/// Run `command` as a user would paste it into a shell, with `bin` first on the
/// path; it must succeed. Its output.
fn run_literally(command: &str, bin: &std::path::Path) -> String {
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let started = Instant::now();
    let out = Command::new("sh")
        .args(["-c", command])
        .env("PATH", path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "$ {command}\n  ({:?}, {}) {}",
        started.elapsed(),
        out.status,
        text.trim()
    );
    assert!(out.status.success(), "`{command}` failed:\n{text}");
    assert!(
        !text.contains("Error"),
        "`{command}` printed an error:\n{text}"
    );
    text
}

/// A "wait until … has no active members" step: run `command` until it says so of
/// every group it names.
fn wait_no_members(command: &str, bin: &std::path::Path, secs: u64) {
    let groups = command.matches("--group ").count();
    let started = Instant::now();
    loop {
        let text = run_literally(command, bin);
        if text.matches("has no active members").count() == groups {
            eprintln!("no member left {:?} after the stop", started.elapsed());
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(secs),
            "members left after {secs} s:\n{text}"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// The end offsets of the cases topic now.
fn cases_ends(f: &Fixture) -> Vec<i64> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &f.brokers)
        .create()
        .unwrap();
    (0..f.partitions)
        .map(|p| {
            c.fetch_watermarks(&f.topics[2], p, Duration::from_secs(10))
                .unwrap()
                .1
        })
        .collect()
}

/// The last message per case on the cases topic after `from` (offsets per
/// partition): what a run emitted.
fn emitted_since(f: &Fixture, from: &[i64]) -> BTreeMap<String, serde_json::Value> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::Message;
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &f.brokers)
        .set("enable.partition.eof", "true")
        .set("group.id", common::unique_name("cw-ops-reader"))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    for (p, o) in from.iter().enumerate() {
        tpl.add_partition_offset(&f.topics[2], p as i32, rdkafka::Offset::Offset(*o))
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut out = BTreeMap::new();
    let mut at_end = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while at_end.len() < from.len() && Instant::now() < deadline {
        match c.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let case: cellwatch::model::Case =
                    serde_json::from_slice(m.payload().unwrap()).unwrap();
                out.insert(case.case_id.clone(), serde_json::to_value(case).unwrap());
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            _ => {}
        }
    }
    out
}

/// The run after the re-creation emitted every replayed case of `kind` again,
/// equal as a whole (the re-read restore window went through the new topic; the
/// earlier run's rows in ClickHouse cannot stand in for it).
fn reemitted(f: &Fixture, from: &[i64], kind: &str) {
    let (replayed, _, _) = procs::replay(f);
    let replayed: BTreeMap<String, serde_json::Value> = procs::by_id(&replayed)
        .into_iter()
        .filter(|(_, c)| c["kind"] == kind)
        .collect();
    assert!(!replayed.is_empty(), "the scenario has {kind} cases");
    let emitted: BTreeMap<String, serde_json::Value> = emitted_since(f, from)
        .into_iter()
        .filter(|(_, c)| c["kind"] == kind)
        .collect();
    eprintln!(
        "{kind}: {} cases emitted again after the re-creation, {} in the replay",
        emitted.len(),
        replayed.len()
    );
    procs::assert_same(
        &emitted,
        &replayed,
        "emitted after the re-creation vs replay",
    );
}

/// Set `key = old` to `key = new` in the fixture's configuration.
fn reconfigure(f: &Fixture, from: &str, to: &str) {
    let toml = std::fs::read_to_string(&f.config).unwrap();
    assert!(toml.contains(from), "{from:?} in the configuration");
    std::fs::write(&f.config, toml.replacen(from, to, 1)).unwrap();
}

/// Wait for quiescence in `instance`'s log (`what`), let the final snapshots reach
/// the sinks, stop it with SIGTERM.
fn quiescent_then_stop(mut instance: Instance, what: &[&str]) {
    let produced = Instant::now();
    for w in what {
        instance.wait_log(w, 240);
    }
    eprintln!("quiescent {:?} after the input was in", produced.elapsed());
    std::thread::sleep(Duration::from_secs(2));
    instance.terminate(30);
}

/// The first run of a partition-count change: the stream with `[kafka] <setting> =
/// 1` to its final snapshots, the instance stopped; then the configuration says 3
/// and a start is refused with the procedure. The refusal's error line, and the
/// cases topic's end offsets after the first run.
async fn first_run_then_refused(
    f: &Fixture,
    setting_key: &str,
    internal: &str,
) -> (procs::Placement, String, Vec<i64>) {
    let started = Instant::now();
    let (producing, placement) = f.produce(15, None);
    let first = f.spawn_as("first", "cw-ops-repartition");
    producing.join().unwrap();
    quiescent_then_stop(first, &["every partition idle"]);
    let before = f.ch.fetch_cases().await.unwrap().len();
    assert!(before > 0, "cases from the first run");
    eprintln!("first run: {before} cases, {:?}", started.elapsed());
    let ends = cases_ends(f);
    reconfigure(
        f,
        &format!("{setting_key} = 1"),
        &format!("{setting_key} = 3"),
    );
    let mut refused = f.spawn_as("refused", "cw-ops-repartition");
    let status = refused.wait_exit(60);
    assert!(!status.success(), "refused: exit non-zero");
    let log = refused.log_text();
    let (error, _) = procedure_commands(&log, internal);
    eprintln!("the refusal: {error}");
    (placement, log, ends)
}

/// The start after the re-creation: the restore window re-read through the topic
/// with 3 partitions, to the final snapshots; with `creates`, the start makes the
/// topic (the procedure by hand deleted it).
fn second_run(f: &Fixture, internal: &str, creates: bool) {
    let mut second = f.spawn_as("second", "cw-ops-repartition");
    second.wait_log("every stage-A partition finished", 240);
    let text = second.log_text();
    quiescent_then_stop(second, &["every partition idle"]);
    assert_eq!(
        text.lines()
            .any(|l| l.contains("internal topic created") && l.contains(internal)),
        creates,
        "the second start made {internal} again:\n{text}"
    );
}

/// `measurement_partitions` from 1 to 3 by the printed procedure, followed
/// literally with the broker's tools: the replay's cases afterwards (the fake-BTS
/// cases emitted again through the new topic), nothing doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_partition_count_by_the_printed_procedure_gives_the_replays_cases() {
    let f = Fixture::setup(Setup::shared(51, PARTITIONS, true)).await;
    let imeas = setting(&f, "internal_measurements");
    let bin = kafka_tools(&f);
    let started = Instant::now();
    let (placement, log, ends) = first_run_then_refused(&f, "measurement_partitions", &imeas).await;
    let (_, commands) = procedure_commands(&log, &imeas);
    assert!(
        commands.len() >= 4,
        "commands in the procedure: {commands:?}"
    );
    for (c, wait) in &commands {
        if *wait {
            wait_no_members(c, &bin, 90);
        } else {
            run_literally(c, &bin);
        }
    }
    second_run(&f, &imeas, true);
    eprintln!("whole test {:?}", started.elapsed());
    reemitted(&f, &ends, "fake_bts");
    assert_equals_the_replay(&f, &placement).await;
}

/// `sms_partitions` from 1 to 3 with `cellwatch repartition`: refused while an
/// instance runs (nothing changed), then, run right after the stop, it waits for the
/// stopped static member to leave and makes the topic again; the replay's cases
/// afterwards (the spam and farm cases emitted again through the new topics).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_partition_count_with_cellwatch_repartition_gives_the_replays_cases() {
    let f = Fixture::setup(Setup::shared(53, PARTITIONS, true)).await;
    let isms = setting(&f, "internal_sms");
    let started = Instant::now();
    // Refused while an instance runs, with the configuration asking for 3.
    let running = f.spawn_as("running", "cw-ops-repartition");
    let mut running = running;
    running.wait_log("partitions assigned", 60);
    let three = f.dir.path().join("three.toml");
    std::fs::write(
        &three,
        std::fs::read_to_string(&f.config).unwrap().replacen(
            "sms_partitions = 1",
            "sms_partitions = 3",
            1,
        ),
    )
    .unwrap();
    let out = Command::new(procs::BIN)
        .args(["repartition", "--wait-secs", "2", "--config"])
        .arg(&three)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "refused while an instance runs");
    assert!(
        text.contains("still have members") && text.contains("stop every cellwatch instance"),
        "why, and what to do:\n{text}"
    );
    running.terminate(30);

    let (placement, log, ends) = first_run_then_refused(&f, "sms_partitions", &isms).await;
    assert!(
        log.contains("cellwatch repartition"),
        "the refusal names the command:\n{log}"
    );
    let asked = Instant::now();
    let out = Command::new(procs::BIN)
        .args(["repartition", "--config"])
        .arg(&f.config)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("cellwatch repartition ({:?}):\n{said}", asked.elapsed());
    assert!(out.status.success(), "cellwatch repartition:\n{said}");
    assert!(
        said.contains(&format!("created the topic {isms} with 3 partition(s)")),
        "{said}"
    );
    second_run(&f, &isms, false);
    eprintln!("whole test {:?}", started.elapsed());
    reemitted(&f, &ends, "spam_sim");
    reemitted(&f, &ends, "sim_farm");
    assert_equals_the_replay(&f, &placement).await;
}

/// The wall-clock time of a JSON log line (its `timestamp`, RFC 3339 UTC).
fn logged_at(line: &serde_json::Value) -> SystemTime {
    let ts = line["timestamp"].as_str().expect("timestamp");
    let t = chrono::DateTime::parse_from_rfc3339(ts).expect("RFC 3339 timestamp");
    SystemTime::UNIX_EPOCH + Duration::from_micros(t.timestamp_micros() as u64)
}

/// The internal partitions `i` owns in the detect group now, as
/// [`procs::detect_partitions`], counting from its last re-created detect consumer
/// (a fenced consumer's assignment is forgotten without a revocation line).
fn detect_now(i: &Instance) -> u64 {
    let mut owned = 0u64;
    for fields in procs::log_fields(i) {
        let group = fields["group"].as_str().unwrap_or_default();
        if !group.ends_with("-detect") {
            continue;
        }
        let n = fields["partitions"].as_u64().unwrap_or(0);
        match fields["message"].as_str() {
            Some("partitions assigned") => owned += n,
            Some("partitions revoked") => owned = owned.saturating_sub(n),
            Some(m) if m.starts_with("the group fenced this static member") => owned = 0,
            _ => {}
        }
    }
    owned
}

/// What a process stopped by the fence bound logged: the group whose consumer
/// reached it re-created 3 times first, the error names the cause and the fix; the
/// time from the bound to the exit.
fn stopped_by_the_bound(i: &Instance, exited: SystemTime, same: &str) -> Duration {
    let log = i.log_text();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let limit = lines
        .iter()
        .find(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("the group fenced this static member once more"))
        })
        .unwrap_or_else(|| panic!("the limit reached, logged:\n{log}"));
    let group = limit["fields"]["group"].as_str().unwrap().to_string();
    let recreated = lines
        .iter()
        .filter(|l| {
            l["fields"]["group"] == group.as_str()
                && l["fields"]["message"].as_str().is_some_and(|m| {
                    m.starts_with("the group fenced this static member (librdkafka")
                })
        })
        .count();
    assert_eq!(
        recreated, 3,
        "group {group}: consumer re-created 3 times first:\n{log}"
    );
    let error = lines
        .iter()
        .find(|l| l["level"] == "ERROR" && l["fields"]["message"] == "cellwatch service failed")
        .unwrap_or_else(|| panic!("the error line:\n{log}"));
    let error = error["fields"]["error"].as_str().unwrap();
    for needed in [
        "fenced this instance's static member",
        same,
        "give each instance its own [kafka] group_instance_id",
    ] {
        assert!(error.contains(needed), "{needed:?} in the error: {error}");
    }
    let took = exited.duration_since(logged_at(limit)).unwrap_or_default();
    eprintln!(
        "{} stopped {took:?} after the limit, group {group}: {error}",
        i.log.display()
    );
    assert!(
        took < Duration::from_secs(15),
        "exit within seconds of the limit, took {took:?}"
    );
    took
}

/// Two instances with the same `group_instance_id` fence each other; the one that
/// reaches the bound stops with the cause and the fix, non-zero, within seconds
/// (the other can reach it too: the dying one's last join may fence it once more,
/// each group counting on its own). Every stopped one restarted with an id of its
/// own: the cases are the replay's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_with_one_static_id_stop_one_with_the_cause_then_a_correct_restart_gives_the_replays_cases(
) {
    let f = Fixture::setup(Setup::shared(52, PARTITIONS, true)).await;
    let (producing, placement) = f.produce(40, None);
    let same = "cw-ops-same-id";
    let mut pair = vec![f.spawn_as("a", same), f.spawn_as("b", same)];
    let started = Instant::now();
    let mut stopped: Vec<(Instance, SystemTime)> = Vec::new();
    // The first stop within 150 s; a second one within 20 s of it, or none.
    let mut until = started + Duration::from_secs(150);
    while Instant::now() < until && !pair.is_empty() {
        if let Some(k) = pair
            .iter_mut()
            .position(|i| matches!(i.child.try_wait(), Ok(Some(_))))
        {
            let exited = SystemTime::now();
            let mut i = pair.remove(k);
            let status = i.child.wait().unwrap();
            assert!(
                !status.success(),
                "exit non-zero ({status}):\n{}",
                i.log_text()
            );
            eprintln!(
                "{} exited {:?} after both started",
                i.log.display(),
                started.elapsed()
            );
            if stopped.is_empty() {
                until = Instant::now() + Duration::from_secs(20);
            }
            stopped.push((i, exited));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !stopped.is_empty(),
        "neither instance stopped within 150 s:\n{}",
        pair.iter()
            .map(|i| i.log_text())
            .collect::<Vec<_>>()
            .join("\n---\n")
    );
    for (i, exited) in &stopped {
        stopped_by_the_bound(i, *exited, same);
    }
    eprintln!("{} of 2 stopped", stopped.len());

    // Each stopped instance restarted with an id of its own; a survivor keeps the
    // shared id, now its alone.
    let mut instances = pair;
    for (i, _) in &stopped {
        let name = i.log.file_stem().unwrap().to_string_lossy().into_owned();
        instances.push(f.spawn_as(&format!("{name}-restarted"), &format!("cw-ops-own-{name}")));
    }
    producing.join().unwrap();
    wait_any(&mut instances, "every partition idle", 240);
    let settle = Instant::now();
    // Every instance that runs a part of stage detect reaches quiescence on its own.
    while instances
        .iter()
        .any(|i| detect_now(i) > 0 && !i.log_text().contains("every partition idle"))
    {
        assert!(settle.elapsed() < Duration::from_secs(120), "not quiescent");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    for i in instances {
        i.terminate(30);
    }
    eprintln!("whole test {:?}", started.elapsed());
    assert_equals_the_replay(&f, &placement).await;
}
