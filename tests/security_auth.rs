//! Authenticated, encrypted links, for real: the service, the allowlist admin and the
//! `cases` commands over the test broker's SASL_SSL listener (SCRAM-SHA-512 over TLS
//! with a locally made CA) and with the ClickHouse user's password, all started by
//! `scripts/services.sh up`. Then every way the login can go wrong (a wrong Kafka
//! password, a CA that did not sign the broker's certificate, a broker that does not
//! answer, a ClickHouse that refuses the user) must end the command with an error
//! that says what to check, a non-zero exit, and within a bounded time. Every run's
//! output (with debug logging, librdkafka's security debug included) is checked for
//! the secrets: none may appear.

mod common;
mod inspect_support;

use cellwatch::config::ClickHouseConfig;
use cellwatch::sink::clickhouse::{migrate, ClickHouse};
use common::Secured;
use inspect_support::{all_cases, sms_lines};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Longest a failing command may take: the connect timeout the tests set (15 s) plus
/// start-up, with room for a loaded machine (a refused login or TLS handshake takes
/// about a second on an idle one).
const FAIL_WITHIN: Duration = Duration::from_secs(45);

/// What one run of the binary printed, and how it ended.
struct Run {
    what: String,
    ok: bool,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Run {
    fn text(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// No secret in anything it printed.
    fn assert_no_secret(&self, secrets: &[&str]) {
        let text = self.text();
        for s in secrets.iter().filter(|s| s.len() >= 6) {
            assert!(
                !text.contains(s),
                "{}: a secret appears in the output:\n{text}",
                self.what
            );
        }
    }

    /// Failed in time, non-zero, saying `hint`.
    fn assert_fails_with(&self, hint: &str) {
        eprintln!(
            "[security] {}: exit {}, {:.1} s: {}",
            self.what,
            if self.ok { "0" } else { "1" },
            self.elapsed.as_secs_f64(),
            self.stderr
                .lines()
                .rfind(|l| l.starts_with("error:"))
                .unwrap_or("")
        );
        assert!(!self.ok, "{}: should fail\n{}", self.what, self.text());
        assert!(
            self.elapsed < FAIL_WITHIN,
            "{}: took {:?} (limit {FAIL_WITHIN:?})",
            self.what,
            self.elapsed
        );
        let error = self
            .stderr
            .lines()
            .rfind(|l| l.starts_with("error:"))
            .unwrap_or_else(|| panic!("{}: no error line\n{}", self.what, self.stderr));
        assert!(
            error.contains(hint),
            "{}: {error:?} lacks {hint:?}",
            self.what
        );
    }
}

/// The binary with a clean `CELLWATCH_*` environment plus `env`, debug logging.
fn command(args: &[&str], env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cellwatch"));
    for (k, _) in std::env::vars() {
        if k.starts_with("CELLWATCH_") {
            cmd.env_remove(k);
        }
    }
    cmd.args(args)
        .env("RUST_LOG", "debug")
        .env("USER", "test-inspector")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// A running child whose stdout and stderr are read while it runs: with debug
/// logging a service writes more than a pipe holds, and a child nobody reads from
/// blocks on its next log line (the SASL service test did, and consumed nothing).
struct Running {
    child: Child,
    output: std::thread::JoinHandle<(String, String)>,
}

fn spawn(cmd: &mut Command) -> Running {
    let mut child = cmd.spawn().expect("run the cellwatch binary");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let output = std::thread::spawn(move || {
        let (mut o, mut e) = (String::new(), String::new());
        let t = std::thread::spawn(move || {
            let _ = err.read_to_string(&mut e);
            e
        });
        let _ = out.read_to_string(&mut o);
        (o, t.join().unwrap())
    });
    Running { child, output }
}

/// Wait for the child at most `limit` (then kill it: the run counts as failed).
fn finish(what: &str, running: Running, started: Instant, limit: Duration) -> Run {
    let Running {
        mut child,
        output: reader,
    } = running;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let elapsed = started.elapsed();
    let (stdout, stderr) = reader.join().unwrap();
    Run {
        what: what.to_string(),
        ok: status.is_some_and(|s| s.success()),
        stdout,
        stderr,
        elapsed,
    }
}

fn run(what: &str, args: &[&str], env: &[(String, String)]) -> Run {
    let started = Instant::now();
    let child = spawn(&mut command(args, env));
    finish(what, child, started, FAIL_WITHIN * 2)
}

fn pairs(kv: &[(&str, &str)]) -> Vec<(String, String)> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// SASL_SSL settings of the test broker (`password`, `ca` replaceable), with
/// librdkafka's security debug on: its output is checked for secrets too.
fn kafka_env(s: &Secured, brokers: &str, password: &str, ca: &str) -> Vec<(String, String)> {
    pairs(&[
        ("CELLWATCH_KAFKA_BROKERS", brokers),
        ("CELLWATCH_KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
        ("CELLWATCH_KAFKA_SASL_MECHANISMS", &s.mechanism),
        ("CELLWATCH_KAFKA_SASL_USERNAME", &s.username),
        ("CELLWATCH_KAFKA_SASL_PASSWORD", password),
        ("CELLWATCH_KAFKA_SSL_CA_LOCATION", ca),
        ("CELLWATCH_KAFKA_LIBRDKAFKA_DEBUG", "security"),
        ("CELLWATCH_KAFKA_CONNECT_TIMEOUT_SECS", "15"),
        (
            "CELLWATCH_KAFKA_GROUP_ID",
            &common::unique_name("cw-sec-group"),
        ),
        // Parallel runs: any free port for the metrics endpoint.
        ("CELLWATCH_HTTP_LISTEN", "127.0.0.1:0"),
    ])
}

fn clickhouse_env(database: &str, user: &str, password: &str) -> Vec<(String, String)> {
    pairs(&[
        ("CELLWATCH_CLICKHOUSE_URL", &common::clickhouse_url()),
        ("CELLWATCH_CLICKHOUSE_DATABASE", database),
        ("CELLWATCH_CLICKHOUSE_USER", user),
        ("CELLWATCH_CLICKHOUSE_PASSWORD", password),
    ])
}

fn clickhouse_as(s: &Secured, database: &str) -> ClickHouse {
    ClickHouse::new(ClickHouseConfig {
        url: common::clickhouse_url(),
        database: database.to_string(),
        user: Some(s.clickhouse_user.clone()),
        password: Some(s.clickhouse_password.clone()),
    })
}

/// A CA that signed nothing the broker has.
fn other_ca(dir: &Path) -> String {
    let ca = dir.join("other-ca.pem");
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=not the broker's CA", "-keyout"])
        .arg(dir.join("other-ca.key"))
        .arg("-out")
        .arg(&ca)
        .stderr(Stdio::null())
        .status()
        .expect("openssl (installed by scripts/services.sh up)");
    assert!(status.success());
    ca.display().to_string()
}

/// A loopback port nothing listens on.
fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    drop(l);
    a.to_string()
}

/// A client configuration for the SASL_SSL listener with the right secrets.
fn sasl_client(s: &Secured) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &s.sasl_brokers)
        .set("security.protocol", "SASL_SSL")
        .set("sasl.mechanisms", &s.mechanism)
        .set("sasl.username", &s.username)
        .set("sasl.password", &s.password)
        .set("ssl.ca.location", &s.ca_location);
    c
}

/// Create the topics (4 partitions) through the SASL_SSL listener.
async fn create_topics_over_sasl(s: &Secured, names: &[&str]) {
    let admin: AdminClient<DefaultClientContext> = sasl_client(s).create().unwrap();
    let topics: Vec<NewTopic> = names
        .iter()
        .map(|n| NewTopic::new(n, 4, TopicReplication::Fixed(1)))
        .collect();
    for r in admin
        .create_topics(&topics, &AdminOptions::new())
        .await
        .unwrap()
    {
        r.unwrap();
    }
}

fn produce_over_sasl(s: &Secured, topic: &str, lines: &[String]) {
    let producer: BaseProducer = sasl_client(s).create().unwrap();
    for l in lines {
        producer
            .send(BaseRecord::<(), _>::to(topic).payload(l.as_bytes()))
            .unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

#[test]
fn service_runs_over_sasl_ssl_and_writes_with_the_clickhouse_password() {
    let s = common::secured();
    let rt = inspect_support::runtime();
    let db = common::unique_name("cw_sec_run");
    let dir = tempfile::tempdir().unwrap();
    let sms = common::unique_name("cw-sec-sms");
    let (meas, cases_topic, dlq) = (
        common::unique_name("cw-sec-meas"),
        common::unique_name("cw-sec-cases"),
        common::unique_name("cw-sec-dlq"),
    );
    rt.block_on(create_topics_over_sasl(
        &s,
        &[&sms, &meas, &cases_topic, &dlq],
    ));
    let config = dir.path().join("cellwatch.toml");
    std::fs::write(
        &config,
        format!(
            "[kafka]\ngroup_id = \"{}\"\n[kafka.topics]\nsms_volume = \"{sms}\"\nmeasurements = \"{meas}\"\n\
             cases = \"{cases_topic}\"\ndead_letter = \"{dlq}\"\ninventory = \"{}\"\nallowlist = \"{}\"\n\
             internal_sms = \"{}\"\ninternal_measurements = \"{}\"\n\
             [http]\nlisten = \"\"\n[sink]\nflush_interval_ms = 200\n",
            common::unique_name("cw-sec-group"),
            common::unique_name("cw-sec-inv"),
            common::unique_name("cw-sec-allow"),
            common::unique_name("cw-sec-isms"),
            common::unique_name("cw-sec-imeas"),
        ),
    )
    .unwrap();
    let mut env = kafka_env(&s, &s.sasl_brokers, &s.password, &s.ca_location);
    env.extend(clickhouse_env(
        &db,
        &s.clickhouse_user,
        &s.clickhouse_password,
    ));
    let secrets = [s.password.as_str(), s.clickhouse_password.as_str()];

    let migrated = run("migrate with the password", &["migrate"], &env);
    migrated.assert_no_secret(&secrets);
    assert!(migrated.ok, "{}", migrated.text());

    let lines = sms_lines(3);
    produce_over_sasl(&s, &sms, &lines);
    let started = Instant::now();
    let child = spawn(&mut command(
        &["run", "--config", config.to_str().unwrap()],
        &env,
    ));
    let ch = clickhouse_as(&s, &db);
    // Every record reaches ClickHouse: archived, or a dead letter (the feed's
    // out-of-order records arrive late).
    let count = |table: &str| -> u64 {
        rt.block_on(
            ch.db_client()
                .query(&format!("SELECT count() FROM {table}"))
                .fetch_one::<u64>(),
        )
        .unwrap_or(0)
    };
    let stored = || count("records") + count("dead_letters");
    let deadline = Instant::now() + Duration::from_secs(90);
    while stored() < lines.len() as u64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(300));
    }
    // SIGTERM: drain, commit, exit 0.
    unsafe { libc::kill(child.child.id() as i32, libc::SIGTERM) };
    let service = finish(
        "run over SASL_SSL",
        child,
        started,
        Duration::from_secs(150),
    );
    service.assert_no_secret(&secrets);
    assert!(service.ok, "{}", service.text());
    assert_eq!(stored(), lines.len() as u64, "{}", service.stderr);
    assert!(
        count("records") > 0,
        "records archived as the cellwatch user"
    );
    assert!(
        service.stderr.contains("sasl") || service.stderr.contains("SASL"),
        "librdkafka's security debug is in the captured output"
    );

    // `cases` commands read and write with the password.
    rt.block_on(ch.insert_cases(&all_cases())).unwrap();
    let listed = run(
        "cases list with the password",
        &["cases", "list", "--json"],
        &env,
    );
    listed.assert_no_secret(&secrets);
    assert!(listed.ok, "{}", listed.text());
    let cases: Vec<cellwatch::model::Case> = serde_json::from_str(&listed.stdout).unwrap();
    // The inserted cases, beside what the service found in the feed (its final
    // snapshots at SIGTERM).
    let listed_ids: Vec<&str> = cases.iter().map(|c| c.case_id.as_str()).collect();
    for c in all_cases() {
        assert!(listed_ids.contains(&c.case_id.as_str()), "{listed_ids:?}");
    }
    let changed = run(
        "cases set-status with the password",
        &[
            "cases",
            "set-status",
            "bts-test-1",
            "handed_over",
            "--note",
            "van",
        ],
        &env,
    );
    changed.assert_no_secret(&secrets);
    assert!(changed.ok, "{}", changed.text());
    let shown = run("cases show", &["cases", "show", "bts-test-1"], &env);
    assert!(
        shown.ok && shown.stdout.contains("handed_over"),
        "{}",
        shown.text()
    );
    shown.assert_no_secret(&secrets);
    let _ = rt.block_on(
        ClickHouse::new(ClickHouseConfig {
            url: common::clickhouse_url(),
            ..Default::default()
        })
        .server_client()
        .query(&format!("DROP DATABASE IF EXISTS {db}"))
        .execute(),
    );
}

#[test]
fn allowlist_admin_publishes_and_lists_over_sasl_ssl() {
    let s = common::secured();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("allow.toml");
    let topic = common::unique_name("cw-sec-allow");
    let env = kafka_env(&s, &s.sasl_brokers, &s.password, &s.ca_location);
    let sim = inspect_support::sim(4242);
    let base = [
        "--file",
        file.to_str().unwrap(),
        "--brokers",
        &s.sasl_brokers,
        "--topic",
        &topic,
    ];
    let mut add = vec!["allowlist", "add", &sim, "--kind", "m2m"];
    add.extend(base);
    let added = run("allowlist add over SASL_SSL", &add, &env);
    added.assert_no_secret(&[&s.password]);
    assert!(added.ok, "{}", added.text());
    let mut list = vec!["allowlist", "list", "--json"];
    list.extend(base);
    let listed = run("allowlist list over SASL_SSL", &list, &env);
    listed.assert_no_secret(&[&s.password]);
    assert!(
        listed.ok && listed.stdout.contains(&sim),
        "{}",
        listed.text()
    );
}

#[test]
fn kafka_login_failures_end_in_time_and_say_what_to_check() {
    let s = common::secured();
    let dir = tempfile::tempdir().unwrap();
    let other = other_ca(dir.path());
    let closed = closed_port();
    let wrong = "not-the-password-7f3a";
    let topic = common::unique_name("cw-sec-allow");
    // Kafka fails before ClickHouse is touched: its settings are right here.
    let ch = clickhouse_env("cw_sec_unused", &s.clickhouse_user, &s.clickhouse_password);
    let cases = [
        (
            "wrong password",
            kafka_env(&s, &s.sasl_brokers, wrong, &s.ca_location),
            "refused the login",
        ),
        (
            "wrong CA",
            kafka_env(&s, &s.sasl_brokers, &s.password, &other),
            "TLS handshake failed",
        ),
        (
            "unreachable broker",
            kafka_env(&s, &closed, &s.password, &s.ca_location),
            "did not answer",
        ),
    ];
    let secrets = [s.password.as_str(), s.clickhouse_password.as_str(), wrong];
    for (what, kafka, hint) in cases {
        let mut env = kafka.clone();
        env.extend(ch.clone());
        let r = run(&format!("run: {what}"), &["run"], &env);
        r.assert_fails_with(hint);
        r.assert_no_secret(&secrets);
        let brokers = &kafka[0].1;
        let r = run(
            &format!("allowlist list: {what}"),
            &[
                "allowlist",
                "list",
                "--brokers",
                brokers,
                "--topic",
                &topic,
                "--timeout-secs",
                "5",
            ],
            &kafka,
        );
        r.assert_fails_with(hint);
        r.assert_no_secret(&secrets);
    }
}

#[test]
fn a_clickhouse_that_refuses_the_user_ends_every_command_in_time() {
    let s = common::secured();
    let rt = inspect_support::runtime();
    let db = common::unique_name("cw_sec_refused");
    rt.block_on(migrate(&clickhouse_as(&s, &db))).unwrap();
    let wrong = "wrong-clickhouse-pw-9c1d";
    let kafka = kafka_env(&s, &s.sasl_brokers, &s.password, &s.ca_location);
    let secrets = [s.password.as_str(), s.clickhouse_password.as_str(), wrong];
    for (what, user, password) in [
        ("wrong password", s.clickhouse_user.as_str(), wrong),
        ("unknown user", "cw_no_such_user", wrong),
    ] {
        let ch = clickhouse_env(&db, user, password);
        let mut env = kafka.clone();
        env.extend(ch.clone());
        for (name, args) in [
            ("run", vec!["run"]),
            ("migrate", vec!["migrate"]),
            ("cases list", vec!["cases", "list"]),
        ] {
            let r = run(&format!("{name}: clickhouse {what}"), &args, &env);
            r.assert_fails_with(&format!("refused user \"{user}\""));
            r.assert_fails_with("CELLWATCH_CLICKHOUSE_PASSWORD");
            r.assert_no_secret(&secrets);
        }
    }
    let _ = rt.block_on(
        clickhouse_as(&s, &db)
            .server_client()
            .query(&format!("DROP DATABASE IF EXISTS {db}"))
            .execute(),
    );
}
