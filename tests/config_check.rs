//! `cellwatch config check FILE` loads a file and the environment as every command
//! does, prints the effective configuration with secrets masked and exits 0; an
//! invalid file exits non-zero with an error naming the key.

use std::path::Path;
use std::process::{Command, Output};

/// The binary with this test process's CELLWATCH_* variables removed.
fn cellwatch(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cellwatch"));
    cmd.args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("CELLWATCH_") {
            cmd.env_remove(name);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("the cellwatch binary runs")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, content: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p.display().to_string()
}

#[test]
fn a_good_file_prints_the_effective_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "good.toml", "[spam]\nrate_1h = 70\n");
    let out = cellwatch(
        &["config", "check", &file],
        &[("CELLWATCH_SPAM_RATE_24H", "150")],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("rate_1h = 70"), "{stdout}");
    assert!(stdout.contains("rate_24h = 150"), "{stdout}");
    assert!(
        stdout.contains("CELLWATCH_SPAM_RATE_24H sets spam.rate_24h"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[fakebts.weights]"),
        "every section is printed: {stdout}"
    );
    let body: String = stdout
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let printed: cellwatch::config::Config =
        toml::from_str(&body).expect("the output is a configuration");
    assert_eq!(printed.spam.rate_1h, 70);
}

#[test]
fn a_bad_file_exits_non_zero_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "bad.toml", "[spam]\nopen_score = 1.5\n");
    let out = cellwatch(&["config", "check", &file], &[]);
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stderr.contains("spam.open_score must be within 0..=1, got 1.5"),
        "{stderr}"
    );
    let out = cellwatch(&["config", "check", &file.replace("bad", "missing")], &[]);
    assert!(!out.status.success());
    let out = cellwatch(&["config", "check"], &[("CELLWATCH_SPAM_RATE_1H", "lots")]);
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("CELLWATCH_SPAM_RATE_1H") && stderr.contains("spam.rate_1h"),
        "{stderr}"
    );
}

#[test]
fn passwords_never_appear_in_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "secret.toml",
        "[clickhouse]\nuser = \"reader\"\npassword = \"file-pass-1\"\n[kafka.librdkafka]\n\"sasl.username\" = \"cw-user\"\n\"ssl.key.password\" = \"file-pass-2\"\n",
    );
    for args in [
        vec!["config", "check", file.as_str()],
        vec!["--log-json", "config", "check", file.as_str()],
    ] {
        let out = cellwatch(
            &args,
            &[
                ("CELLWATCH_KAFKA_SASL_PASSWORD", "env-pass-3"),
                ("CELLWATCH_CLICKHOUSE_PASSWORD", "env-pass-4"),
                ("RUST_LOG", "trace"),
            ],
        );
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stderr}");
        for secret in ["file-pass-1", "file-pass-2", "env-pass-3", "env-pass-4"] {
            assert!(
                !stdout.contains(secret) && !stderr.contains(secret),
                "{secret} leaked:\n{stdout}\n{stderr}"
            );
        }
        assert!(stdout.contains("password = \"********\""), "{stdout}");
        assert!(
            stdout.contains("\"sasl.password\" = \"********\""),
            "{stdout}"
        );
        assert!(
            stdout.contains("cw-user"),
            "sasl.username is not a secret: {stdout}"
        );
    }
}

#[test]
fn config_example_prints_the_committed_example() {
    let out = cellwatch(&["config", "example"], &[]);
    assert!(out.status.success());
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("cellwatch.example.toml"),
    )
    .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), committed);
}
