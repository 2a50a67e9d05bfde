//! The key catalogue: every table and key of [`Config`] with its kind, doc comment
//! and example, read from the JSON Schema that `schemars` derives from the structs
//! (doc comments become `description`, `#[schemars(example = …)]` `examples`). The
//! environment overrides take the key names and types from here, the generated
//! example file the descriptions, so neither can drift from the structs.

use super::Config;
use serde_json::Value;

/// What a key holds, as far as setting it from text is concerned.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// A section with keys of its own (`[spam]`, `[kafka.topics]`).
    Table,
    /// Free-form `name = "text"` entries (`[kafka.librdkafka]`).
    Map,
    Integer,
    Number,
    Boolean,
    Text,
    /// A list of text values (`spam.gateway_tacs`).
    TextList,
    /// One of a few words (`pipeline.ordering`).
    Choice(Vec<String>),
}

/// One table or key of the configuration.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    /// Path from the top, e.g. `["kafka", "topics", "cases"]`.
    pub(crate) path: Vec<String>,
    pub(crate) kind: Kind,
    /// The doc comment, as written (line breaks kept); empty when there is none.
    pub(crate) description: String,
    /// The first `#[schemars(example = …)]` value, if any.
    pub(crate) example: Option<Value>,
}

/// Every table and key, depth first, in the schema's order (alphabetical per table).
pub(crate) fn keys() -> Vec<Key> {
    let root =
        serde_json::to_value(schemars::schema_for!(Config)).expect("a derived JSON Schema is JSON");
    let mut out = Vec::new();
    walk(&root, &root, &mut Vec::new(), &mut out);
    out
}

/// The description of the whole configuration (the doc comment of [`Config`]).
pub(crate) fn root_description() -> String {
    let root =
        serde_json::to_value(schemars::schema_for!(Config)).expect("a derived JSON Schema is JSON");
    text(&root, "description")
}

fn walk(root: &Value, node: &Value, path: &mut Vec<String>, out: &mut Vec<Key>) {
    let Some(properties) = node.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, property) in properties {
        let target = resolve(root, property);
        let kind = kind(target);
        // A section is described by its struct's doc comment, a key by its field's.
        let (first, second) = match kind {
            Kind::Table => (target, property),
            _ => (property, target),
        };
        let mut description = text(first, "description");
        if description.is_empty() {
            description = text(second, "description");
        }
        path.push(name.clone());
        out.push(Key {
            path: path.clone(),
            kind: kind.clone(),
            description,
            example: property
                .get("examples")
                .and_then(Value::as_array)
                .and_then(|e| e.first())
                .cloned(),
        });
        if kind == Kind::Table {
            walk(root, target, path, out);
        }
        path.pop();
    }
}

/// Follow a `$ref` to its definition under `$defs`.
fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    node.get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
        .and_then(|name| root.get("$defs").and_then(|d| d.get(name)))
        .unwrap_or(node)
}

fn text(node: &Value, field: &str) -> String {
    node.get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn kind(node: &Value) -> Kind {
    if node.get("properties").is_some() {
        return Kind::Table;
    }
    if let Some(variants) = node.get("oneOf").and_then(Value::as_array) {
        let words: Vec<String> = variants
            .iter()
            .filter_map(|v| v.get("const").and_then(Value::as_str).map(str::to_string))
            .collect();
        return Kind::Choice(words);
    }
    if let Some(words) = node.get("enum").and_then(Value::as_array) {
        return Kind::Choice(
            words
                .iter()
                .filter_map(|w| w.as_str().map(str::to_string))
                .collect(),
        );
    }
    // `Option<T>` is `"type": ["T", "null"]`: the first type is the key's.
    let ty = match node.get("type") {
        Some(Value::Array(types)) => types.first().and_then(Value::as_str),
        Some(t) => t.as_str(),
        None => None,
    };
    match ty {
        Some("integer") => Kind::Integer,
        Some("number") => Kind::Number,
        Some("boolean") => Kind::Boolean,
        Some("array") => Kind::TextList,
        Some("object") => Kind::Map,
        _ => Kind::Text,
    }
}
