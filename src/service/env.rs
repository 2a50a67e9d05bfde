//! Environment-variable overrides of the configuration file, for containers and
//! secrets: a value given in the environment wins over the file.

use crate::config::Config;

/// Every supported variable, with the setting it overrides (also in the README).
pub const OVERRIDES: &[(&str, &str)] = &[
    ("CELLWATCH_KAFKA_BROKERS", "kafka.brokers"),
    ("CELLWATCH_KAFKA_GROUP_ID", "kafka.group_id"),
    (
        "CELLWATCH_KAFKA_SECURITY_PROTOCOL",
        "kafka.librdkafka.\"security.protocol\"",
    ),
    (
        "CELLWATCH_KAFKA_SASL_MECHANISMS",
        "kafka.librdkafka.\"sasl.mechanisms\"",
    ),
    (
        "CELLWATCH_KAFKA_SASL_USERNAME",
        "kafka.librdkafka.\"sasl.username\"",
    ),
    (
        "CELLWATCH_KAFKA_SASL_PASSWORD",
        "kafka.librdkafka.\"sasl.password\"",
    ),
    (
        "CELLWATCH_KAFKA_SSL_CA_LOCATION",
        "kafka.librdkafka.\"ssl.ca.location\"",
    ),
    ("CELLWATCH_CLICKHOUSE_URL", "clickhouse.url"),
    ("CELLWATCH_CLICKHOUSE_DATABASE", "clickhouse.database"),
    ("CELLWATCH_CLICKHOUSE_USER", "clickhouse.user"),
    ("CELLWATCH_CLICKHOUSE_PASSWORD", "clickhouse.password"),
    ("CELLWATCH_HTTP_LISTEN", "http.listen"),
    ("CELLWATCH_CELLS", "inventory.csv"),
];

/// Apply the overrides found by `lookup` (the process environment in production).
pub fn apply(config: &mut Config, lookup: impl Fn(&str) -> Option<String>) {
    let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
    if let Some(v) = get("CELLWATCH_KAFKA_BROKERS") {
        config.kafka.brokers = v;
    }
    if let Some(v) = get("CELLWATCH_KAFKA_GROUP_ID") {
        config.kafka.group_id = v;
    }
    for (var, key) in [
        ("CELLWATCH_KAFKA_SECURITY_PROTOCOL", "security.protocol"),
        ("CELLWATCH_KAFKA_SASL_MECHANISMS", "sasl.mechanisms"),
        ("CELLWATCH_KAFKA_SASL_USERNAME", "sasl.username"),
        ("CELLWATCH_KAFKA_SASL_PASSWORD", "sasl.password"),
        ("CELLWATCH_KAFKA_SSL_CA_LOCATION", "ssl.ca.location"),
    ] {
        if let Some(v) = get(var) {
            config.kafka.librdkafka.insert(key.into(), v);
        }
    }
    if let Some(v) = get("CELLWATCH_CLICKHOUSE_URL") {
        config.clickhouse.url = v;
    }
    if let Some(v) = get("CELLWATCH_CLICKHOUSE_DATABASE") {
        config.clickhouse.database = v;
    }
    if let Some(v) = get("CELLWATCH_CLICKHOUSE_USER") {
        config.clickhouse.user = Some(v);
    }
    if let Some(v) = get("CELLWATCH_CLICKHOUSE_PASSWORD") {
        config.clickhouse.password = Some(v);
    }
    if let Some(v) = get("CELLWATCH_HTTP_LISTEN") {
        config.http.listen = v;
    }
    if let Some(v) = get("CELLWATCH_CELLS") {
        config.inventory.csv = Some(v.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_wins_over_file() {
        let mut c = Config::default();
        let env = |k: &str| match k {
            "CELLWATCH_KAFKA_BROKERS" => Some("k1:9092,k2:9092".to_string()),
            "CELLWATCH_KAFKA_SASL_PASSWORD" => Some("s3cret".to_string()),
            "CELLWATCH_CLICKHOUSE_URL" => Some("http://ch:8123".to_string()),
            "CELLWATCH_HTTP_LISTEN" => Some(String::new()),
            _ => None,
        };
        apply(&mut c, env);
        assert_eq!(c.kafka.brokers, "k1:9092,k2:9092");
        assert_eq!(c.kafka.librdkafka["sasl.password"], "s3cret");
        assert_eq!(c.clickhouse.url, "http://ch:8123");
        assert_eq!(
            c.http.listen, "127.0.0.1:9464",
            "empty values do not override"
        );
    }
}
