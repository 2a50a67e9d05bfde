//! The example configuration in the repository is the generated one (every key, its
//! doc comment and its default), it loads, and its values are the defaults: a stale
//! example would mislead operators.

use cellwatch::config::{example, Config, Environment};
use serde_json::Value;
use std::path::Path;

fn committed() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("cellwatch.example.toml");
    std::fs::read_to_string(&path).expect("cellwatch.example.toml is in the repository")
}

#[test]
fn the_committed_example_is_the_generated_one() {
    let generated = example::example_toml();
    let committed = committed();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| "the end".to_string(), |i| format!("line {}", i + 1));
        panic!(
            "cellwatch.example.toml differs from the generated example (first at {line}); \
             regenerate it with `{}`",
            example::REGENERATE
        );
    }
}

#[test]
fn the_example_loads_and_equals_the_defaults() {
    let loaded = Config::from_layers(
        "cellwatch.example.toml",
        Some(&committed()),
        &Environment::default(),
    )
    .expect("the example is a valid configuration");
    assert_eq!(loaded.config, Config::default());
}

/// Every table and key of the schema derived from the structs, with its description
/// (the field's doc comment, else its type's).
fn described_keys(root: &Value, node: &Value, path: &str, out: &mut Vec<(String, String)>) {
    let resolve = |v: &Value| -> Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => root["$defs"][r.trim_start_matches("#/$defs/")].clone(),
            None => v.clone(),
        }
    };
    let Some(properties) = node.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, property) in properties {
        let target = resolve(property);
        let description = [property, &target]
            .iter()
            .filter_map(|v| v.get("description").and_then(Value::as_str))
            .find(|d| !d.trim().is_empty())
            .unwrap_or_default()
            .to_string();
        let key = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        out.push((key.clone(), description));
        described_keys(root, &target, &key, out);
    }
}

#[test]
fn every_key_of_the_schema_has_a_description() {
    let root = serde_json::to_value(schemars::schema_for!(Config)).unwrap();
    let mut keys = Vec::new();
    described_keys(&root, &root, "", &mut keys);
    assert!(
        keys.len() > 150,
        "the whole configuration is walked: {}",
        keys.len()
    );
    let missing: Vec<&str> = keys
        .iter()
        .filter(|(_, d)| d.is_empty())
        .map(|(k, _)| k.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "keys without a doc comment: {missing:?}"
    );
    let example = committed();
    for (key, _) in &keys {
        let name = key.rsplit('.').next().unwrap();
        assert!(example.contains(name), "{key} is missing from the example");
    }
}

#[test]
fn unknown_keys_are_refused() {
    let err = Config::from_layers(
        "c.toml",
        Some("[pipeline]\nallowed_latenes_secs = 5\n"),
        &Environment::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("allowed_latenes_secs"), "{err}");
}
