//! The example configuration in the repository parses, and its values are the
//! documented defaults (a stale example would mislead operators).

#[test]
fn example_config_parses_and_matches_the_defaults() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cellwatch.example.toml");
    let c = cellwatch::config::Config::load(&path).expect("example config parses");
    let d = cellwatch::config::Config::default();
    assert_eq!(
        c.pipeline.allowed_lateness_secs,
        d.pipeline.allowed_lateness_secs
    );
    assert_eq!(
        c.pipeline.restore_window_secs,
        d.pipeline.restore_window_secs
    );
    assert_eq!(c.pipeline.ordering, d.pipeline.ordering);
    assert_eq!(c.kafka.brokers, d.kafka.brokers);
    assert_eq!(c.kafka.topics.dead_letter, "cw.dead-letter.v1");
    assert_eq!(c.clickhouse.url, d.clickhouse.url);
    assert_eq!(c.sink.batch_max_records, d.sink.batch_max_records);
    assert_eq!(c.http.listen, d.http.listen);
}

#[test]
fn unknown_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(&p, "[pipeline]\nallowed_latenes_secs = 5\n").unwrap();
    let err = cellwatch::config::Config::load(&p).unwrap_err().to_string();
    assert!(err.contains("allowed_latenes_secs"), "{err}");
}
