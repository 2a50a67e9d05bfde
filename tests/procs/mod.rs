//! Shared by the tests that run real `cellwatch run` processes (the built binary, not the library in-process) on
//! the real Kafka broker and ClickHouse server, started on empty topics while a
//! producer writes the scenario, killed with SIGKILL mid-stream and restarted, then
//! stopped with SIGTERM. The result must be exactly the replay's: every final case
//! in ClickHouse (`FINAL`) equal to the replay's snapshot as a whole (ids, members,
//! identities, reasons, values, scores, location, track), the last message per case
//! on the cases topic equal too, dead letters equal by origin, every valid record
//! archived once.

#![allow(dead_code)]

use super::common;
use cellwatch::config::ClickHouseConfig;
use cellwatch::demo::feed;
use cellwatch::model::Case;
use cellwatch::simulate::{write_scenario, Scale, SimConfig};
use cellwatch::sink::clickhouse::{migrate, ClickHouse};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext, Message};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_cellwatch");
pub const PARTITIONS: i32 = 4;
/// `[pipeline] idle_timeout_secs` of the instances: short, so the test ends soon
/// after the input does; the producer never pauses a partition this long.
pub const IDLE_SECS: u64 = 4;

/// Where each produced line went: (feed index, line number) → (partition, offset).
pub type Placement = Arc<Mutex<BTreeMap<(usize, usize), (i32, i64)>>>;

struct Placed(Placement);
impl ClientContext for Placed {}
impl ProducerContext for Placed {
    type DeliveryOpaque = Box<(usize, usize)>;
    fn delivery(&self, result: &DeliveryResult<'_>, line: Self::DeliveryOpaque) {
        let m = result.as_ref().expect("produce acknowledged");
        self.0
            .lock()
            .unwrap()
            .insert(*line, (m.partition(), m.offset()));
    }
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub scenario: PathBuf,
    pub config: PathBuf,
    pub brokers: String,
    pub topics: [String; 4],
    /// Partitions of each topic.
    pub partitions: i32,
    pub ch: ClickHouse,
    /// The replay's configuration file, when it is not the defaults.
    pub replay_config: Option<PathBuf>,
}

/// Where a fixture's topics and tables live, and how the instances divide the work.
pub struct Setup {
    pub seed: u64,
    pub partitions: i32,
    /// `[kafka] topology = "staged"`, with internal topics of this fixture's own.
    pub staged: bool,
    pub brokers: String,
    pub clickhouse_url: String,
    /// Where the instances reach ClickHouse (a relay the test can close), when not
    /// `clickhouse_url`.
    pub service_clickhouse_url: Option<String>,
    /// `[kafka] measurement_partitions` (above 1: the fake-BTS detector's stage A
    /// on that many partitions, stage B on a transmitters topic of its own).
    pub measurement_partitions: i32,
    /// `[kafka] sms_partitions` (above 1: the spam detector split likewise).
    pub sms_partitions: i32,
    /// `[kafka] transmitter_partitions` (above 1: the fake-BTS stage B keyed by tile).
    pub transmitter_partitions: i32,
    /// `[fakebts.regions] tile_km` and `margin_km`, in the instances' configuration
    /// and the replay's, when not the defaults.
    pub regions: Option<(f64, f64)>,
}

impl Setup {
    /// On the shared test services.
    pub fn shared(seed: u64, partitions: i32, staged: bool) -> Setup {
        Setup {
            seed,
            partitions,
            staged,
            brokers: common::kafka_brokers(),
            clickhouse_url: common::clickhouse_url(),
            service_clickhouse_url: None,
            measurement_partitions: 1,
            sms_partitions: 1,
            transmitter_partitions: 1,
            regions: None,
        }
    }
}

impl Fixture {
    pub async fn new(seed: u64, partitions: i32) -> Fixture {
        Fixture::setup(Setup::shared(seed, partitions, false)).await
    }

    pub async fn setup(s: Setup) -> Fixture {
        let (seed, partitions, brokers) = (s.seed, s.partitions, s.brokers.clone());
        let dir = match std::env::var_os("CW_TEST_KEEP_DIR") {
            Some(d) => {
                std::fs::create_dir_all(&d).unwrap();
                let dir = tempfile::Builder::new()
                    .prefix("fixture")
                    .disable_cleanup(true)
                    .tempdir_in(d)
                    .unwrap();
                eprintln!("fixture kept in {}", dir.path().display());
                dir
            }
            None => tempfile::tempdir().unwrap(),
        };
        let scenario = dir.path().join("scenario");
        write_scenario(
            &SimConfig {
                seed,
                scale: Scale::Small,
            },
            &scenario,
        )
        .unwrap();
        let topics = [
            common::unique_name("cw-proc-sms"),
            common::unique_name("cw-proc-meas"),
            common::unique_name("cw-proc-cases"),
            common::unique_name("cw-proc-dlq"),
        ];
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .create()
            .unwrap();
        let new: Vec<NewTopic> = topics
            .iter()
            .map(|n| NewTopic::new(n, partitions, TopicReplication::Fixed(1)))
            .collect();
        for r in admin
            .create_topics(&new, &AdminOptions::new())
            .await
            .unwrap()
        {
            r.unwrap();
        }
        let database = common::unique_name("cw_proc");
        let ch = ClickHouse::new(ClickHouseConfig {
            url: s.clickhouse_url.clone(),
            database: database.clone(),
            ..Default::default()
        });
        migrate(&ch).await.unwrap();
        let config = dir.path().join("cellwatch.toml");
        let toml = format!(
            r#"[pipeline]
idle_timeout_secs = {IDLE_SECS}
[inventory]
csv = "{cells}"
[kafka]
brokers = "{brokers}"
group_id = "{group}"
group_instance_id = "cw-proc-instance-a"
topology = "{topology}"
measurement_partitions = {mparts}
sms_partitions = {sparts}
transmitter_partitions = {tparts}
[kafka.topics]
internal_sms = "{isms}"
internal_measurements = "{imeas}"
internal_transmitters = "{itx}"
internal_cross_sim = "{ixs}"
sms_volume = "{sms}"
measurements = "{meas}"
cases = "{cases}"
dead_letter = "{dlq}"
inventory = "{inv}"
allowlist = "{allow}"
[clickhouse]
url = "{url}"
database = "{database}"
[http]
listen = ""
[sink]
flush_interval_ms = 200
batch_max_records = 5000
{debug}"#,
            cells = scenario.join("cells.csv").display(),
            debug = librdkafka_debug(),
            group = common::unique_name("cw-proc-group"),
            sms = topics[0],
            meas = topics[1],
            cases = topics[2],
            dlq = topics[3],
            inv = common::unique_name("cw-proc-inv"),
            allow = common::unique_name("cw-proc-allow"),
            url = s
                .service_clickhouse_url
                .as_deref()
                .unwrap_or(&s.clickhouse_url),
            topology = if s.staged { "staged" } else { "single" },
            isms = common::unique_name("cw-proc-isms"),
            imeas = common::unique_name("cw-proc-imeas"),
            itx = common::unique_name("cw-proc-itx"),
            ixs = common::unique_name("cw-proc-ixs"),
            mparts = s.measurement_partitions,
            sparts = s.sms_partitions,
            tparts = s.transmitter_partitions,
        );
        let mut toml = toml;
        let mut replay_config = None;
        if let Some((tile_km, margin_km)) = s.regions {
            let regions =
                format!("[fakebts.regions]\ntile_km = {tile_km}\nmargin_km = {margin_km}\n");
            toml.push_str(&regions);
            let path = dir.path().join("replay.toml");
            std::fs::write(&path, regions).unwrap();
            replay_config = Some(path);
        }
        std::fs::write(&config, toml).unwrap();
        Fixture {
            dir,
            scenario,
            config,
            brokers,
            topics,
            partitions,
            ch,
            replay_config,
        }
    }

    /// Start one `cellwatch run`; its log goes to `name.log`.
    pub fn spawn(&self, name: &str) -> Instance {
        self.spawn_as(name, "cw-proc-instance-a")
    }

    /// [`Fixture::spawn`] with its own static-membership name.
    pub fn spawn_as(&self, name: &str, instance_id: &str) -> Instance {
        let log = match std::env::var_os("CW_TEST_LOG_DIR") {
            // Kept after the test (a passing run's logs, to compare with a failing one).
            Some(dir) => std::path::PathBuf::from(dir)
                .join(format!("{}-{name}.log", common::unique_name("instance"))),
            None => self.dir.path().join(format!("{name}.log")),
        };
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(BIN)
            .args(["run", "--log-json", "--config"])
            .arg(&self.config)
            .env("RUST_LOG", log_filter())
            .env("CELLWATCH_KAFKA_GROUP_INSTANCE_ID", instance_id)
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap();
        Instance {
            child,
            log,
            started: Instant::now(),
            id: instance_id.to_string(),
        }
    }

    /// Start instances `a`, `b`, `c` (static-membership names `<id_prefix>-<name>`) in
    /// a random order with random gaps; the order is printed so a failure can be
    /// replayed. Returned in start order.
    pub fn spawn_three_shuffled(&self, id_prefix: &str) -> Vec<Instance> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as usize;
        let mut names = vec!["a", "b", "c"];
        let first = names.remove(nanos % 3);
        let second = names.remove((nanos / 3) % 2);
        let order = [first, second, names[0]];
        eprintln!("start order {order:?}");
        let mut instances = Vec::new();
        for (k, name) in order.iter().enumerate() {
            instances.push(self.spawn_as(name, &format!("{id_prefix}-{name}")));
            std::thread::sleep(Duration::from_millis(500 + 700 * ((nanos >> k) % 3) as u64));
        }
        instances
    }

    /// Produce the scenario's lines (both feeds merged by event time, keyed as the
    /// contract recommends) over about `secs` seconds, from a thread; with `only`,
    /// into the first `only` partitions (by a hash of the key), leaving the others
    /// empty.
    pub fn produce(
        &self,
        secs: u64,
        only: Option<i32>,
    ) -> (std::thread::JoinHandle<()>, Placement) {
        let placement: Placement = Arc::default();
        let mut lines: Vec<(usize, usize, feed::FeedLine)> = Vec::new();
        for (f, file) in ["sms_volume.jsonl", "measurements.jsonl"]
            .iter()
            .enumerate()
        {
            let read = feed::read_lines(&self.scenario.join(file), f).unwrap();
            lines.extend(read.into_iter().enumerate().map(|(i, l)| (f, i + 1, l)));
        }
        // A stable merge by event time, each feed keeping its own order.
        lines.sort_by_key(|(_, _, l)| l.event_ms());
        let producer: ThreadedProducer<Placed> = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .set("linger.ms", "5")
            // No duplicates when the broker restarts while records are in flight.
            .set("enable.idempotence", "true")
            .create_with_context(Placed(placement.clone()))
            .unwrap();
        let topics = [self.topics[0].clone(), self.topics[1].clone()];
        let handle = std::thread::spawn(move || {
            let chunk = (lines.len() / (secs as usize * 20)).max(1);
            for part in lines.chunks(chunk) {
                for (f, line, l) in part {
                    let mut rec = BaseRecord::with_opaque_to(&topics[*f], Box::new((*f, *line)))
                        .payload(l.bytes.as_slice());
                    if let Some(k) = &l.key {
                        rec = rec.key(k.as_str());
                    }
                    if let Some(n) = only {
                        let h = l
                            .key
                            .as_deref()
                            .unwrap_or("")
                            .bytes()
                            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
                            });
                        rec = rec.partition((h % n as u64) as i32);
                    }
                    let mut rec = rec;
                    while let Err((_, back)) = producer.send(rec) {
                        rec = back;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            producer.flush(Duration::from_secs(60)).unwrap();
        });
        (handle, placement)
    }
}

pub struct Instance {
    pub child: Child,
    pub log: PathBuf,
    pub started: Instant,
    /// Its `group_instance_id` (a restart with the same one gets its partitions back).
    pub id: String,
}

/// A test that fails leaves no process behind.
impl Drop for Instance {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Instance {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait until the log has a line containing `what`; the time since the start.
    pub fn wait_log(&mut self, what: &str, secs: u64) -> Duration {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if self.log_text().contains(what) {
                return self.started.elapsed();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "instance exited ({status}) before logging {what:?}:\n{}",
                    self.log_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {what:?} after {secs} s; log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait for the process to exit on its own (a refused start); its exit status.
    pub fn wait_exit(&mut self, secs: u64) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM; the process must exit cleanly within `secs`.
    pub fn terminate(self, secs: u64) -> Duration {
        let asked = self.sigterm();
        self.wait_stopped(asked, secs)
    }

    /// Send SIGTERM: when, and how much log there was before (errors logged before
    /// the stop, an outage the test made, are not its concern).
    fn sigterm(&self) -> (Instant, usize) {
        let asked = (Instant::now(), self.log_text().len());
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        asked
    }

    /// After [`Instance::sigterm`]: the process must exit cleanly within `secs`,
    /// without an ERROR line; how long it took.
    fn wait_stopped(mut self, (asked, before): (Instant, usize), secs: u64) -> Duration {
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "exit {status} after SIGTERM:\n{}",
                    self.log_text()
                );
                let log = self.log_text();
                let stopping = log.get(before..).unwrap_or_default();
                assert!(
                    !stopping.contains(r#""level":"ERROR""#),
                    "an ERROR line after a clean stop:\n{stopping}"
                );
                return asked.elapsed();
            }
            assert!(
                asked.elapsed() < Duration::from_secs(secs),
                "still running {secs} s after SIGTERM:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// SIGTERM to every instance at once; each must exit cleanly within `secs`. How
/// long each took.
pub fn terminate_all(instances: Vec<Instance>, secs: u64) -> Vec<Duration> {
    let asked: Vec<(Instance, (Instant, usize))> = instances
        .into_iter()
        .map(|i| {
            let a = i.sigterm();
            (i, a)
        })
        .collect();
    asked
        .into_iter()
        .map(|(i, a)| i.wait_stopped(a, secs))
        .collect()
}

/// The replay of the same files (wall-clock time bound, as `cellwatch run`).
pub fn replay(f: &Fixture) -> (Vec<Case>, Vec<serde_json::Value>, u64) {
    replay_with(
        &f.scenario,
        &f.dir.path().join("replay"),
        f.replay_config.as_deref(),
    )
}

/// `cellwatch replay` of a scenario folder's files into `out`: its cases, dead letters
/// and valid-record count.
pub fn replay_files(
    scenario: &std::path::Path,
    out: &std::path::Path,
) -> (Vec<Case>, Vec<serde_json::Value>, u64) {
    replay_with(scenario, out, None)
}

/// [`replay_files`] with a configuration file.
pub fn replay_with(
    scenario: &std::path::Path,
    out: &std::path::Path,
    config: Option<&std::path::Path>,
) -> (Vec<Case>, Vec<serde_json::Value>, u64) {
    let mut command = Command::new(BIN);
    command.arg("replay");
    if let Some(c) = config {
        command.arg("--config").arg(c);
    }
    let status = command
        .arg("--sms-volume")
        .arg(scenario.join("sms_volume.jsonl"))
        .arg("--measurements")
        .arg(scenario.join("measurements.jsonl"))
        .arg("--cells")
        .arg(scenario.join("cells.csv"))
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let cases = cellwatch::cases::read_jsonl(&out.join("cases.jsonl")).unwrap();
    let dead = std::fs::read_to_string(out.join("dead_letter.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    (cases, dead, summary["valid"].as_u64().unwrap())
}

pub fn by_id(cases: &[Case]) -> BTreeMap<String, serde_json::Value> {
    cases
        .iter()
        .map(|c| (c.case_id.clone(), serde_json::to_value(c).unwrap()))
        .collect()
}

/// Every case equal as a whole; the message lists only those that differ.
pub fn assert_same(
    streamed: &BTreeMap<String, serde_json::Value>,
    replayed: &BTreeMap<String, serde_json::Value>,
    what: &str,
) {
    let ids: BTreeSet<&String> = streamed.keys().chain(replayed.keys()).collect();
    let differing: Vec<String> = ids
        .into_iter()
        .filter(|id| streamed.get(*id) != replayed.get(*id))
        .map(|id| {
            format!(
                "{id}:\n  streamed {:?}\n  replayed {:?}",
                streamed.get(id),
                replayed.get(id)
            )
        })
        .collect();
    assert!(
        differing.is_empty(),
        "{what}: {} of {} streamed / {} replayed cases differ:\n{}",
        differing.len(),
        streamed.len(),
        replayed.len(),
        differing.join("\n")
    );
}

/// The last message per key of the cases topic, read to its end.
pub fn last_case_messages(
    brokers: &str,
    topic: &str,
    partitions: i32,
) -> BTreeMap<String, serde_json::Value> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", common::unique_name("cw-proc-reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "true")
        .create()
        .unwrap();
    c.subscribe(&[topic]).unwrap();
    let mut out = BTreeMap::new();
    let mut at_end = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while at_end.len() < partitions as usize && Instant::now() < deadline {
        match c.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let key = String::from_utf8_lossy(m.key().unwrap()).into_owned();
                let case: Case = serde_json::from_slice(m.payload().unwrap()).unwrap();
                out.insert(key, serde_json::to_value(case).unwrap());
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            _ => {}
        }
    }
    out
}

pub async fn count(ch: &ClickHouse, sql: &str) -> u64 {
    ch.db_client().query(sql).fetch_one::<u64>().await.unwrap()
}

/// The final state in ClickHouse and on the cases topic equals the replay's.
pub async fn assert_equals_the_replay(f: &Fixture, placement: &Placement) {
    let (replayed, replay_dead, valid) = replay(f);
    let replayed = by_id(&replayed);
    let stored = f.ch.fetch_cases().await.unwrap();
    assert!(
        !stored.is_empty(),
        "the scenario has attackers: cases expected"
    );
    assert_same(
        &by_id(&stored),
        &replayed,
        "ClickHouse cases FINAL vs replay",
    );
    assert_same(
        &last_case_messages(&f.brokers, &f.topics[2], f.partitions),
        &replayed,
        "last message per case on the cases topic vs replay",
    );

    // Dead letters by origin: the replay's (file, line) mapped to where the line was
    // produced; raw rows after the engine has merged duplicates by origin.
    let raw_before = count(&f.ch, "SELECT count() FROM dead_letters").await;
    f.ch.db_client()
        .query("OPTIMIZE TABLE dead_letters FINAL")
        .execute()
        .await
        .unwrap();
    let rows: Vec<(String, i32, i64, String)> = f
        .ch
        .db_client()
        .query("SELECT topic, partition, offset, reason FROM dead_letters ORDER BY topic, partition, offset")
        .fetch_all()
        .await
        .unwrap();
    let placement = placement.lock().unwrap().clone();
    let expected: Vec<(String, i32, i64, String)> = {
        let mut v: Vec<_> = replay_dead
            .iter()
            .map(|d| {
                let feed = usize::from(d["feed"] != "sms_volume");
                let line = d["line"].as_u64().unwrap() as usize;
                let (p, o) = placement[&(feed, line)];
                (
                    f.topics[feed].clone(),
                    p,
                    o,
                    d["reason"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        v.sort();
        v
    };
    eprintln!(
        "dead letters: {} raw rows before the merge, {} after, {} in the replay",
        raw_before,
        rows.len(),
        expected.len()
    );
    assert_eq!(
        rows, expected,
        "dead letters by origin (raw rows after the merge)"
    );

    // Nothing lost: every valid record archived, once after the merge by origin.
    f.ch.db_client()
        .query("OPTIMIZE TABLE records FINAL")
        .execute()
        .await
        .unwrap();
    assert_eq!(count(&f.ch, "SELECT count() FROM records").await, valid);
}

/// The `fields` of each JSON line of `i`'s log, in order.
pub fn log_fields(i: &Instance) -> Vec<serde_json::Value> {
    i.log_text()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|mut v| v["fields"].take())
        .collect()
}

/// The internal partitions `i` owns in the detect group now. Stage detect's
/// cooperative assignor logs only what moves (the eager protocol revokes all and
/// assigns the whole set, which adds up the same).
pub fn detect_partitions(i: &Instance) -> u64 {
    let mut owned = 0u64;
    for fields in log_fields(i) {
        let group = fields["group"].as_str().unwrap_or_default();
        let n = fields["partitions"].as_u64().unwrap_or(0);
        match fields["message"].as_str() {
            _ if !group.ends_with("-detect") => {}
            Some("partitions assigned") => owned += n,
            Some("partitions revoked") => owned = owned.saturating_sub(n),
            _ => {}
        }
    }
    owned
}

/// Wait until one of `instances` logs `what`; its index.
/// `[kafka.librdkafka] debug` for every instance when `CW_TEST_LIBRDKAFKA_DEBUG` names
/// librdkafka's debug contexts (e.g. `cgrp,broker`): a flaky run's logs then say what
/// the client did.
fn librdkafka_debug() -> String {
    match std::env::var("CW_TEST_LIBRDKAFKA_DEBUG") {
        Ok(contexts) if !contexts.is_empty() => {
            format!("[kafka.librdkafka]\ndebug = \"{contexts}\"\n")
        }
        _ => String::new(),
    }
}

/// The instances' log filter: `info`, and librdkafka's debug lines too when
/// `CW_TEST_LIBRDKAFKA_DEBUG` asks for them.
fn log_filter() -> &'static str {
    if librdkafka_debug().is_empty() {
        "info"
    } else {
        "info,librdkafka=debug,rdkafka=debug"
    }
}

/// The string value of `key = "value"` in the fixture's configuration.
pub fn setting(f: &Fixture, key: &str) -> String {
    let toml = std::fs::read_to_string(&f.config).unwrap();
    let prefix = format!("{key} = \"");
    toml.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|l| l.strip_suffix('"'))
        .unwrap_or_else(|| panic!("{key} in the configuration"))
        .to_string()
}

pub fn wait_any(instances: &mut [Instance], what: &str, secs: u64) -> usize {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(i) = instances.iter().position(|i| i.log_text().contains(what)) {
            return i;
        }
        for i in instances.iter_mut() {
            if let Ok(Some(status)) = i.child.try_wait() {
                panic!("an instance exited ({status}):\n{}", i.log_text());
            }
        }
        assert!(
            Instant::now() < deadline,
            "no {what:?} after {secs} s; logs:\n{}",
            instances
                .iter()
                .map(|i| i.log_text())
                .collect::<Vec<_>>()
                .join("\n---\n")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
