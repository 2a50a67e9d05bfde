//! Loading and validation: defaults, file, environment, and one test per kind of
//! error, each naming the key.

use super::*;

fn load(text: &str, vars: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
    Config::from_layers(
        "test.toml",
        Some(text),
        &Environment::from_pairs(vars.iter().copied()),
    )
}

fn error(text: &str, vars: &[(&str, &str)]) -> String {
    load(text, vars).expect_err("refused").to_string()
}

#[test]
fn defaults_are_valid() {
    Config::default().validate().unwrap();
    let loaded = Config::from_layers("none", None, &Environment::default()).unwrap();
    assert_eq!(loaded.config, Config::default());
    assert!(loaded.overrides.is_empty());
}

#[test]
fn a_partial_file_keeps_the_other_defaults() {
    let c = load(
        "[spam]\nrate_24h = 250\ngateway_tacs = [\"86012345\"]\n[spam.confidence]\nNO_VOICE = 0.1\n[fakebts]\nmin_reporters = 3\n[fakebts.weights]\nnull_cipher = 4.0\n",
        &[],
    )
    .unwrap()
    .config;
    let d = Config::default();
    assert_eq!(c.spam.rate_24h, 250);
    assert_eq!(c.spam.rate_1h, d.spam.rate_1h);
    assert_eq!(c.spam.gateway_tac_values(), vec![86_012_345]);
    assert_eq!(c.spam.confidence.no_voice, 0.1);
    assert_eq!(c.spam.confidence.gateway_tac, 0.5);
    assert_eq!(c.fakebts.min_reporters, 3);
    assert_eq!(c.fakebts.weights.null_cipher, 4.0);
    assert_eq!(
        c.fakebts.weights.no_neighbours,
        d.fakebts.weights.no_neighbours
    );
    assert_eq!(c.pipeline, d.pipeline);
}

#[test]
fn unknown_keys_and_rule_codes_are_refused_with_their_name() {
    let e = error("[pipeline]\nallowed_latenes_secs = 5\n", &[]);
    assert!(
        e.contains("test.toml") && e.contains("allowed_latenes_secs"),
        "{e}"
    );
    let e = error("[spam.confidence]\nNOPE = 0.1\n", &[]);
    assert!(e.contains("NOPE"), "{e}");
    let e = error("[fakebts]\ntypo = 1\n", &[]);
    assert!(e.contains("typo"), "{e}");
}

#[test]
fn a_value_out_of_range_names_the_key() {
    let e = error("[spam]\nopen_score = 1.5\n", &[]);
    assert_eq!(
        e,
        "invalid configuration: spam.open_score must be within 0..=1, got 1.5"
    );
    let e = error("[spam.confidence]\nNO_VOICE = 2.0\n", &[]);
    assert!(
        e.contains("spam.confidence.NO_VOICE must be within 0..=1, got 2"),
        "{e}"
    );
    let e = error("[fakebts]\nmisplaced_min_fraction = -0.1\n", &[]);
    assert!(
        e.contains("fakebts.misplaced_min_fraction must be within 0..=1"),
        "{e}"
    );
    let e = error("[kafka]\nfetch_queue_backoff_ms = 300001\n", &[]);
    assert!(
        e.contains("kafka.fetch_queue_backoff_ms must be at most 300000"),
        "{e}"
    );
    let e = error("[kafka]\ngroup_stall_secs = 3601\n", &[]);
    assert!(
        e.contains("kafka.group_stall_secs must be at most 3600"),
        "{e}"
    );
}

#[test]
fn a_zero_that_cannot_work_names_the_key() {
    let e = error("[pipeline]\nwatermark_step_secs = 0\n", &[]);
    assert!(
        e.contains("pipeline.watermark_step_secs must be at least 1, got 0"),
        "{e}"
    );
    let e = error("[fakebts]\nmin_reporters = 0\n", &[]);
    assert!(
        e.contains("fakebts.min_reporters must be at least 1"),
        "{e}"
    );
    let e = error("[sink]\nbatch_max_records = 0\n", &[]);
    assert!(
        e.contains("sink.batch_max_records must be at least 1"),
        "{e}"
    );
}

#[test]
fn a_non_positive_distance_or_sigma_names_the_key() {
    let e = error("[fakebts]\nshadowing_sigma_db = 0.0\n", &[]);
    assert!(
        e.contains("fakebts.shadowing_sigma_db must be a number greater than 0"),
        "{e}"
    );
    let e = error("[fakebts]\nreach_margin_m = -5.0\n", &[]);
    assert!(
        e.contains("fakebts.reach_margin_m must be a number of 0 or more"),
        "{e}"
    );
    let e = error("[fakebts.weights]\nnull_cipher = -1.0\n", &[]);
    assert!(e.contains("fakebts.weights.null_cipher"), "{e}");
    let e = error("[fakebts]\nreference_loss_db = nan\n", &[]);
    assert!(
        e.contains("fakebts.reference_loss_db must be a finite number"),
        "{e}"
    );
}

#[test]
fn an_ordering_that_must_hold_names_the_key() {
    let e = error("[fakebts]\ncase_idle_evict_secs = 60\n", &[]);
    assert!(
        e.contains("fakebts.case_idle_evict_secs must be at least fakebts.idle_evict_secs (3600)"),
        "{e}"
    );
    let e = error("[fakebts]\nmin_rogue_points = 7.0\n", &[]);
    assert!(
        e.contains("fakebts.min_rogue_points must not exceed fakebts.case_threshold (6)"),
        "{e}"
    );
    let e = error(
        "[sink]\nretry_backoff_ms = 500\nretry_backoff_max_ms = 100\n",
        &[],
    );
    assert!(
        e.contains("sink.retry_backoff_max_ms must be at least sink.retry_backoff_ms (500)"),
        "{e}"
    );
    let e = error("[sink]\ncase_flush_ms = 5000\n", &[]);
    assert!(
        e.contains("sink.case_flush_ms must not exceed sink.flush_interval_ms"),
        "{e}"
    );
}

#[test]
fn spam_windows_must_fit_their_rings() {
    let e = error("[spam]\nmedium_window_secs = 1000\n", &[]);
    assert!(
        e.contains("spam.medium_window_secs must be a positive multiple of 12"),
        "{e}"
    );
    let e = error("[spam]\nlong_window_secs = 1000\n", &[]);
    assert!(
        e.contains("spam.long_window_secs must be a positive multiple of 24"),
        "{e}"
    );
    let e = error("[spam]\nshort_window_secs = 400\n", &[]);
    assert!(
        e.contains("spam.short_window_secs must be a multiple of the medium bucket"),
        "{e}"
    );
    let e = error("[spam]\nshort_window_secs = 7200\n", &[]);
    assert!(
        e.contains("spam.short_window_secs must not exceed spam.medium_window_secs"),
        "{e}"
    );
    let e = error("[spam]\nlong_window_secs = 2400\n", &[]);
    assert!(
        e.contains("spam.medium_window_secs must not exceed spam.long_window_secs"),
        "{e}"
    );
    let e = error("[spam]\nfp_hamming = 65\n", &[]);
    assert!(e.contains("spam.fp_hamming must be within 0..=64"), "{e}");
}

#[test]
fn malformed_text_values_name_the_key() {
    let e = error("[spam]\ngateway_tacs = [\"12\"]\n", &[]);
    assert!(
        e.contains("spam.gateway_tacs entries must be 8 decimal digits"),
        "{e}"
    );
    let e = error("[clickhouse]\nurl = \"ch:8123\"\n", &[]);
    assert!(
        e.contains("clickhouse.url must be an http:// or https:// URL"),
        "{e}"
    );
    let e = error("[clickhouse]\ndatabase = \"x;drop\"\n", &[]);
    assert!(
        e.contains("clickhouse.database must be letters, digits and underscores"),
        "{e}"
    );
    let e = error("[kafka.topics]\ncases = \"a topic\"\n", &[]);
    assert!(
        e.contains("kafka.topics.cases must be a Kafka topic name"),
        "{e}"
    );
    let e = error("[kafka]\nbrokers = \"\"\n", &[]);
    assert!(e.contains("kafka.brokers must not be empty"), "{e}");
    let e = error("[http]\nlisten = \"9464\"\n", &[]);
    assert!(e.contains("http.listen must be host:port"), "{e}");
    load("[http]\nlisten = \"\"\n", &[]).expect("empty disables the endpoint");
}

#[test]
fn every_problem_is_reported_at_once() {
    let e = error("[spam]\nopen_score = 2.0\nfarm_open_score = 3.0\n", &[]);
    assert!(
        e.contains("spam.open_score") && e.contains("spam.farm_open_score"),
        "{e}"
    );
}

#[test]
fn a_detector_refuses_an_invalid_section() {
    let spam = SpamConfig {
        open_score: 1.5,
        ..SpamConfig::default()
    };
    assert!(spam
        .validate()
        .unwrap_err()
        .to_string()
        .contains("spam.open_score"));
    let fakebts = FakeBtsConfig {
        huber_k: 0.0,
        ..FakeBtsConfig::default()
    };
    assert!(fakebts
        .validate()
        .unwrap_err()
        .to_string()
        .contains("fakebts.huber_k"));
}

#[test]
fn the_file_is_named_when_it_cannot_be_read() {
    let e = Config::load_from(
        Some(Path::new("/no/such/cellwatch.toml")),
        &Environment::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("/no/such/cellwatch.toml") && e.contains("--config"),
        "{e}"
    );
}

#[test]
fn confidence_codes_are_the_serde_names() {
    let table = toml::Table::try_from(RuleConfidence::default()).unwrap();
    let names: Vec<&str> = table.keys().map(String::as_str).collect();
    let codes: Vec<&str> = RuleConfidence::default().by_code().map(|(c, _)| c).to_vec();
    assert_eq!(names, codes);
    for (code, value) in RuleConfidence::default().by_code() {
        assert_eq!(table[code].as_float(), Some(value), "{code}");
    }
}

#[test]
fn transmitter_partitions_above_1_need_a_split_fake_bts_detector() {
    let e = error("[kafka]\ntransmitter_partitions = 3\n", &[]);
    assert!(
        e.contains("kafka.transmitter_partitions") && e.contains("measurement_partitions above 1"),
        "{e}"
    );
    let e = error(
        "[kafka]\nmeasurement_partitions = 3\ntransmitter_partitions = 0\n",
        &[],
    );
    assert!(e.contains("must be 1 to 256, got 0"), "{e}");
    let e = error(
        "[kafka]\nmeasurement_partitions = 3\ntransmitter_partitions = 3\n",
        &[],
    );
    assert!(
        e.contains("kafka.transmitter_partitions") && e.contains("tile_km"),
        "one region has one task: {e}"
    );
    let ok = "[kafka]\nmeasurement_partitions = 3\ntransmitter_partitions = 3\n[fakebts.regions]\ntile_km = 100\n";
    Config::from_layers("t", Some(ok), &Environment::default()).expect("valid");
}
