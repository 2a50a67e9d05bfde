//! `cellwatch config example`: the example configuration file, generated from
//! `Config::default()` and the key catalogue, so it lists every key with its doc
//! comment and default and can never drift from the code. The committed
//! `cellwatch.example.toml` is this text (tests/config_example.rs checks it).
//!
//! Keys appear in the order their struct declares them (`toml`'s `preserve_order`),
//! each section's sub-tables after its own keys. Keys whose default is "not set"
//! (`Option` fields) come after the keys that have a value, commented out with their
//! example; free-form tables (`[kafka.librdkafka]`) show their example commented out.

use super::env::variable_name;
use super::schema::{self, Key, Kind};
use super::Config;
use std::fmt::Write;

/// The command that regenerates the committed example.
pub const REGENERATE: &str = "cargo run -- config example > cellwatch.example.toml";

/// The full example file.
pub fn example_toml() -> String {
    let defaults = toml::Table::try_from(Config::default())
        .expect("the configuration serializes to a TOML table");
    let keys = schema::keys();
    let mut out = String::new();
    comment(&mut out, &schema::root_description());
    let _ = writeln!(
        out,
        "#\n# Every key can also be set by the environment variable CELLWATCH_ + its path in\n# capitals joined by _ (spam.rate_1h: {}); docs/configuration.md\n# explains loading, the variables and `cellwatch config check`.\n#\n# Generated from the defaults by `cellwatch config example`; regenerate with\n# `{REGENERATE}`.",
        variable_name(&["spam".to_string(), "rate_1h".to_string()])
    );
    for (name, value) in &defaults {
        if let Some(table) = value.as_table() {
            section(&mut out, &keys, std::slice::from_ref(name), table);
        }
    }
    out
}

/// One table: its description and header, its keys, then its sub-tables.
fn section(out: &mut String, keys: &[Key], path: &[String], table: &toml::Table) {
    let key = find(keys, path);
    out.push('\n');
    comment(out, &key.description);
    let _ = writeln!(out, "[{}]", path.join("."));
    if key.kind == Kind::Map {
        map_example(out, key);
        return;
    }
    for (name, value) in table {
        if !value.is_table() {
            let key = find(keys, &child(path, name));
            comment(out, &described(key));
            let _ = writeln!(out, "{} = {}", bare_or_quoted(name), inline(value));
        }
    }
    for key in children(keys, path) {
        let name = key.path.last().expect("a key has a name");
        if table.contains_key(name) || matches!(key.kind, Kind::Table | Kind::Map) {
            continue;
        }
        comment(out, &described(key));
        let example = key.example.as_ref().map_or_else(String::new, json_inline);
        let _ = writeln!(out, "# {} = {example}", bare_or_quoted(name));
    }
    for (name, value) in table {
        if let Some(sub) = value.as_table() {
            section(out, keys, &child(path, name), sub);
        }
    }
}

/// The entries of a free-form table's example, commented out.
fn map_example(out: &mut String, key: &Key) {
    if let Some(entries) = key.example.as_ref().and_then(|e| e.as_object()) {
        for (name, value) in entries {
            let _ = writeln!(out, "# {} = {}", bare_or_quoted(name), json_inline(value));
        }
    }
}

/// A key's description and, for a choice, the words it takes.
fn described(key: &Key) -> String {
    let mut text = key.description.clone();
    if let Kind::Choice(words) = &key.kind {
        let _ = write!(text, "\nOne of: {}.", words.join(", "));
    }
    text
}

fn comment(out: &mut String, text: &str) {
    for line in text.lines() {
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            let _ = writeln!(out, "# {line}");
        }
    }
}

fn find<'a>(keys: &'a [Key], path: &[String]) -> &'a Key {
    keys.iter().find(|k| k.path == path).unwrap_or_else(|| {
        panic!(
            "{} is in the defaults but not in the schema",
            path.join(".")
        )
    })
}

fn children<'a>(keys: &'a [Key], path: &'a [String]) -> impl Iterator<Item = &'a Key> + 'a {
    keys.iter()
        .filter(move |k| k.path.len() == path.len() + 1 && k.path.starts_with(path))
}

fn child(path: &[String], name: &str) -> Vec<String> {
    let mut p = path.to_vec();
    p.push(name.to_string());
    p
}

/// A TOML value on one line (strings quoted and escaped by `toml`).
fn inline(value: &toml::Value) -> String {
    value.to_string()
}

/// An example value from the schema (JSON) written as TOML.
fn json_inline(value: &serde_json::Value) -> String {
    match toml::Value::try_from(value) {
        Ok(v) => inline(&v),
        Err(_) => value.to_string(),
    }
}

/// A key as TOML writes it: bare when it can be, else quoted.
fn bare_or_quoted(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        name.to_string()
    } else {
        toml::Value::String(name.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_without_a_default_show_an_example_value() {
        let defaults = toml::Value::try_from(Config::default()).unwrap();
        for key in schema::keys() {
            let has_default = key
                .path
                .iter()
                .try_fold(&defaults, |table, name| table.get(name))
                .is_some();
            if !has_default || key.kind == Kind::Map {
                assert!(
                    key.example.is_some(),
                    "{} has no example",
                    key.path.join(".")
                );
            }
        }
        let text = example_toml();
        for line in text.lines() {
            assert!(!line.trim_end().ends_with('='), "no value on {line:?}");
        }
        assert!(text.contains("# csv = \"/data/cells.csv\""));
        assert!(text.contains("# \"sasl.password\" = "));
    }
}
