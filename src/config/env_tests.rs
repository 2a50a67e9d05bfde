//! Environment overrides: every key has a unique variable, values are parsed by
//! the key's type, the names of earlier releases still work, and mistakes name the
//! variable and the key.

use super::env::{catalogue, variable_name, Catalogue, ALIASES};
use super::*;

fn load(text: &str, vars: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
    Config::from_layers(
        "test.toml",
        Some(text),
        &Environment::from_pairs(vars.iter().copied()),
    )
}

#[test]
fn variable_names_are_unique_and_cover_every_key() {
    let Catalogue {
        names,
        tables: prefixes,
    } = catalogue();
    let mut all: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
    all.sort_unstable();
    let before = all.len();
    all.dedup();
    assert_eq!(all.len(), before, "two keys share a variable name");
    for (name, _) in &names {
        for (prefix, _) in &prefixes {
            assert!(
                !name.starts_with(prefix.as_str()),
                "{name} falls under {prefix}"
            );
        }
    }
    assert!(
        names.len() > 150,
        "every key has a variable: {}",
        names.len()
    );
    for (alias, path) in ALIASES {
        assert!(names.iter().any(|(n, t)| n == alias && t.path == *path));
    }
    let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        variable_name(&path(&["spam", "rate_1h"])),
        "CELLWATCH_SPAM_RATE_1H"
    );
    assert_eq!(
        prefixes,
        vec![(
            "CELLWATCH_KAFKA_LIBRDKAFKA_".to_string(),
            path(&["kafka", "librdkafka"])
        )]
    );
}

#[test]
fn values_are_parsed_by_the_keys_type_and_win_over_the_file() {
    let loaded = load(
        "[spam]\nrate_1h = 70\n[kafka]\nbrokers = \"file:9092\"\n",
        &[
            ("CELLWATCH_SPAM_RATE_1H", "80"),
            ("CELLWATCH_SPAM_OPEN_SCORE", "0.95"),
            ("CELLWATCH_SPAM_REQUIRE_BEHAVIOUR", "false"),
            ("CELLWATCH_SPAM_GATEWAY_TACS", "86012345, 35000001"),
            ("CELLWATCH_SPAM_CONFIDENCE_SMS_RATE_5M", "0.35"),
            ("CELLWATCH_KAFKA_TOPICS_SMS_VOLUME", "ops.sms.v1"),
            ("CELLWATCH_PIPELINE_ORDERING", "arrival"),
            ("CELLWATCH_FAKEBTS_WEIGHTS_NULL_CIPHER", "4"),
            ("CELLWATCH_INVENTORY_ALLOWLIST", "/etc/allow.toml"),
            ("CELLWATCH_KAFKA_BROKERS", "k1:9092,k2:9092"),
        ],
    )
    .unwrap();
    let c = &loaded.config;
    assert_eq!(c.spam.rate_1h, 80);
    assert_eq!(c.spam.open_score, 0.95);
    assert!(!c.spam.require_behaviour);
    assert_eq!(c.spam.gateway_tacs, vec!["86012345", "35000001"]);
    assert_eq!(c.spam.confidence.sms_rate_5m, 0.35);
    assert_eq!(c.kafka.topics.sms_volume, "ops.sms.v1");
    assert_eq!(c.pipeline.ordering, EventOrder::Arrival);
    assert_eq!(c.fakebts.weights.null_cipher, 4.0);
    assert_eq!(
        c.inventory.allowlist.as_deref(),
        Some(Path::new("/etc/allow.toml"))
    );
    assert_eq!(c.kafka.brokers, "k1:9092,k2:9092");
    assert_eq!(
        c.spam.rate_5m,
        SpamConfig::default().rate_5m,
        "untouched keys keep defaults"
    );
    assert!(loaded.overrides.contains(&EnvOverride {
        variable: "CELLWATCH_SPAM_RATE_1H".into(),
        key: "spam.rate_1h".into(),
    }));
}

#[test]
fn the_names_of_earlier_releases_still_work() {
    let c = load(
        "",
        &[
            ("CELLWATCH_KAFKA_SASL_PASSWORD", "s3cret"),
            ("CELLWATCH_KAFKA_SASL_USERNAME", "cw"),
            ("CELLWATCH_KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
            ("CELLWATCH_KAFKA_SASL_MECHANISMS", "SCRAM-SHA-512"),
            ("CELLWATCH_KAFKA_SSL_CA_LOCATION", "/ca.pem"),
            ("CELLWATCH_KAFKA_GROUP_ID", "g"),
            ("CELLWATCH_CLICKHOUSE_URL", "http://ch:8123"),
            ("CELLWATCH_CLICKHOUSE_DATABASE", "cw2"),
            ("CELLWATCH_CLICKHOUSE_USER", "u"),
            ("CELLWATCH_CLICKHOUSE_PASSWORD", "p"),
            ("CELLWATCH_HTTP_LISTEN", "0.0.0.0:9464"),
            ("CELLWATCH_CELLS", "/data/cells.csv"),
        ],
    )
    .unwrap()
    .config;
    let k = &c.kafka.librdkafka;
    assert_eq!(k["sasl.password"], "s3cret");
    assert_eq!(k["sasl.username"], "cw");
    assert_eq!(k["security.protocol"], "SASL_SSL");
    assert_eq!(k["sasl.mechanisms"], "SCRAM-SHA-512");
    assert_eq!(k["ssl.ca.location"], "/ca.pem");
    assert_eq!(c.kafka.group_id, "g");
    assert_eq!(c.clickhouse.url, "http://ch:8123");
    assert_eq!(c.clickhouse.database, "cw2");
    assert_eq!(c.clickhouse.user.as_deref(), Some("u"));
    assert_eq!(c.clickhouse.password.as_deref(), Some("p"));
    assert_eq!(c.http.listen, "0.0.0.0:9464");
    assert_eq!(
        c.inventory.csv.as_deref(),
        Some(Path::new("/data/cells.csv"))
    );
}

#[test]
fn librdkafka_entries_follow_the_table_rule() {
    let c = load("", &[("CELLWATCH_KAFKA_LIBRDKAFKA_SSL_KEY_PASSWORD", "k")])
        .unwrap()
        .config;
    assert_eq!(c.kafka.librdkafka["ssl.key.password"], "k");
}

#[test]
fn empty_values_do_not_override() {
    let c = load(
        "",
        &[
            ("CELLWATCH_HTTP_LISTEN", ""),
            ("CELLWATCH_SPAM_RATE_1H", ""),
        ],
    )
    .unwrap()
    .config;
    assert_eq!(c.http.listen, HttpConfig::default().listen);
    assert_eq!(c.spam.rate_1h, SpamConfig::default().rate_1h);
}

#[test]
fn an_unparsable_value_names_the_variable_and_the_key() {
    for (var, value, expected) in [
        ("CELLWATCH_SPAM_RATE_1H", "many", "must be a whole number"),
        (
            "CELLWATCH_SPAM_OPEN_SCORE",
            "high",
            "must be a finite number",
        ),
        (
            "CELLWATCH_SPAM_OPEN_SCORE",
            "inf",
            "must be a finite number",
        ),
        (
            "CELLWATCH_SPAM_REQUIRE_BEHAVIOUR",
            "yes",
            "must be true or false",
        ),
        (
            "CELLWATCH_PIPELINE_ORDERING",
            "fifo",
            "must be one of event_time, arrival",
        ),
        ("CELLWATCH_SPAM_RATE_1H", "-5", "is refused"),
        (
            "CELLWATCH_FAKEBTS_MAX_NEIGHBOURS_SUSPICIOUS",
            "70000",
            "is refused",
        ),
    ] {
        let e = load("", &[(var, value)]).unwrap_err();
        let key = match &e {
            ConfigError::Variable { variable, key, .. } => {
                assert_eq!(variable, var);
                key.clone()
            }
            other => panic!("{var}={value}: {other}"),
        };
        let text = e.to_string();
        assert!(
            text.contains(var) && text.contains(&key) && text.contains(expected),
            "{text}"
        );
    }
}

#[test]
fn an_invalid_value_from_the_environment_names_its_variable() {
    let e = load("", &[("CELLWATCH_SPAM_OPEN_SCORE", "1.5")])
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "invalid configuration: spam.open_score must be within 0..=1, got 1.5 (set by CELLWATCH_SPAM_OPEN_SCORE)"
    );
}

#[test]
fn a_variable_that_names_no_key_is_refused() {
    for var in [
        "CELLWATCH_CLICKHOUSE_PASWORD",
        "CELLWATCH_SPAM",
        "CELLWATCH_KAFKA_LIBRDKAFKA_",
    ] {
        let e = load("", &[(var, "x")]).unwrap_err();
        assert!(
            matches!(e, ConfigError::UnknownVariable { .. }),
            "{var}: {e}"
        );
        assert!(e.to_string().contains(var));
    }
    load("", &[("OTHER_VARIABLE", "x")]).expect("only CELLWATCH_ variables are read");
}

#[test]
fn two_variables_for_one_key_are_refused() {
    let e = load(
        "",
        &[
            ("CELLWATCH_CELLS", "/a.csv"),
            ("CELLWATCH_INVENTORY_CSV", "/b.csv"),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("CELLWATCH_CELLS")
            && e.contains("CELLWATCH_INVENTORY_CSV")
            && e.contains("inventory.csv"),
        "{e}"
    );
}

#[test]
fn secret_values_never_appear_in_errors() {
    let e = load(
        "[clickhouse]\nurl = \"bad\"\n",
        &[
            ("CELLWATCH_CLICKHOUSE_PASSWORD", "hunter2"),
            ("CELLWATCH_KAFKA_SASL_PASSWORD", "hunter3"),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(!e.contains("hunter2") && !e.contains("hunter3"), "{e}");
}
