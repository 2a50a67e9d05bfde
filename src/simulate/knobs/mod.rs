//! The scenario knobs: everything a scenario may vary besides its seed and scale —
//! the operators' feed profiles, the reporting devices' report profiles, extra attackers, extra SIM populations and the
//! network's legitimate oddities. docs/simulator.md documents every knob, what it
//! models and why.
//!
//! Knobs are layered: the documented defaults (the default scenario, byte for byte),
//! then named variants (`scenarios/*.toml`, embedded), then scenario files, then
//! `--set key=value` overrides, merged as TOML tables and read once into the typed
//! [`Knobs`] (unknown keys refused with their path), then checked.

mod attackers;
mod cells;
mod feeds;
mod population;
mod reports;
pub mod variants;

pub use attackers::{Attackers, CloningBlaster, ImsiCatcher, StaticClone};
pub use cells::CellKnobs;
pub use feeds::{FeedProfile, Feeds, SmsField, TextOffset};
pub use population::{
    ExtraFarm, LookalikeGroup, LookalikeKind, PulseCampaign, RampCampaign, SimKnobs,
};
pub use reports::{ReportField, ReportProfile, Reports};

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Every knob of a scenario; `Knobs::default()` is the default scenario.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Knobs {
    /// Each operator's SMS-volume feed.
    pub feeds: Feeds,
    /// Rogue transmitters added to the default three.
    pub attackers: Attackers,
    /// SIMs added to the default population.
    pub sims: SimKnobs,
    /// Legitimate cells and phones that look odd.
    pub cells: CellKnobs,
    /// Which optional fields each kind of reporting device sends.
    pub reports: Reports,
}

/// Why knobs could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KnobsError {
    #[error("cannot read scenario file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin} is not valid TOML: {message}")]
    Parse { origin: String, message: String },
    #[error("unknown variant {name:?}; known variants: {known}")]
    UnknownVariant { name: String, known: String },
    #[error("--set {arg:?}: {reason}")]
    BadSet { arg: String, reason: String },
    #[error("knob `{path}`: {message} (see docs/simulator.md for every knob)")]
    BadKnob { path: String, message: String },
    #[error("invalid knobs: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

impl Knobs {
    /// Whether these are the default scenario's knobs.
    pub fn is_default(&self) -> bool {
        *self == Knobs::default()
    }

    /// The knobs as TOML text (every key, effective values).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot print the knobs: {e}\n"))
    }

    /// Everything wrong with these knobs, one sentence each naming the key.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.feeds.problems(&mut out);
        self.attackers.problems(&mut out);
        self.sims.problems(&mut out);
        self.cells.problems(&mut out);
        out
    }

    /// The knobs of one named variant (on top of the defaults).
    pub fn variant(name: &str) -> Result<Knobs, KnobsError> {
        let mut b = KnobsBuilder::new();
        b.variant(name)?;
        b.build()
    }
}

/// Layers knob sources in order; [`KnobsBuilder::build`] reads and checks the result.
pub struct KnobsBuilder {
    table: toml::Table,
}

impl Default for KnobsBuilder {
    fn default() -> Self {
        KnobsBuilder::new()
    }
}

impl KnobsBuilder {
    /// Start from the defaults.
    pub fn new() -> KnobsBuilder {
        let table = toml::Table::try_from(Knobs::default()).expect("the default knobs serialize");
        KnobsBuilder { table }
    }

    /// Lay a named variant over what is there.
    pub fn variant(&mut self, name: &str) -> Result<&mut Self, KnobsError> {
        let v = variants::find(name).ok_or_else(|| KnobsError::UnknownVariant {
            name: name.to_string(),
            known: variants::names().join(", "),
        })?;
        self.toml_text(v.toml, &format!("variant {name}"))
    }

    /// Lay a scenario file over what is there.
    pub fn file(&mut self, path: &Path) -> Result<&mut Self, KnobsError> {
        let text = std::fs::read_to_string(path).map_err(|source| KnobsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        self.toml_text(&text, &path.display().to_string())
    }

    /// Lay TOML text (from `origin`, for messages) over what is there.
    pub fn toml_text(&mut self, text: &str, origin: &str) -> Result<&mut Self, KnobsError> {
        let overlay: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| KnobsError::Parse {
                    origin: origin.to_string(),
                    message: e.message().to_string(),
                })?;
        merge(&mut self.table, overlay);
        Ok(self)
    }

    /// Apply one `key.path=value` override; the value is TOML (`3`, `0.5`, `true`,
    /// `["cell"]`), or taken as a string when it does not parse as TOML.
    pub fn set(&mut self, arg: &str) -> Result<&mut Self, KnobsError> {
        let bad = |reason: &str| KnobsError::BadSet {
            arg: arg.to_string(),
            reason: reason.to_string(),
        };
        let (path, raw) = arg
            .split_once('=')
            .ok_or_else(|| bad("expected key.path=value, e.g. attackers.imsi_catchers=1"))?;
        let keys: Vec<&str> = path.trim().split('.').map(str::trim).collect();
        if keys.iter().any(|k| k.is_empty()) {
            return Err(bad("empty key in the path"));
        }
        let value = match format!("v = {raw}").parse::<toml::Table>() {
            Ok(mut t) => t
                .remove("v")
                .unwrap_or(toml::Value::String(raw.to_string())),
            Err(_) => toml::Value::String(raw.trim().to_string()),
        };
        let (last, parents) = keys.split_last().ok_or_else(|| bad("empty key"))?;
        let mut table = &mut self.table;
        for (i, k) in parents.iter().enumerate() {
            table = match table.get_mut(*k) {
                Some(toml::Value::Table(t)) => t,
                Some(_) => return Err(bad(&format!("`{}` is not a table", keys[..=i].join(".")))),
                None => {
                    return Err(bad(&format!(
                        "unknown key `{}` (see docs/simulator.md for every knob)",
                        keys[..=i].join(".")
                    )))
                }
            };
        }
        if !table.contains_key(*last) {
            return Err(bad(&format!(
                "unknown key `{path}` (see docs/simulator.md for every knob)"
            )));
        }
        table.insert((*last).to_string(), value);
        Ok(self)
    }

    /// Read the layered table into [`Knobs`] and check it.
    pub fn build(&self) -> Result<Knobs, KnobsError> {
        let value = toml::Value::Table(self.table.clone());
        let knobs: Knobs =
            serde_path_to_error::deserialize(value).map_err(|e| KnobsError::BadKnob {
                path: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        let problems = knobs.problems();
        if problems.is_empty() {
            Ok(knobs)
        } else {
            Err(KnobsError::Invalid(problems))
        }
    }
}

/// Lay `overlay` over `base`: tables merge key by key, anything else replaces.
fn merge(base: &mut toml::Table, overlay: toml::Table) {
    for (k, v) in overlay {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// A share must lie in 0..=1.
pub(crate) fn share_problem(key: &str, v: f64, out: &mut Vec<String>) {
    if !(0.0..=1.0).contains(&v) {
        out.push(format!("{key} = {v}: a share lies in 0..=1"));
    }
}

/// A `[min, max]` range must be ordered and within `lo..=hi`.
pub(crate) fn range_problem(key: &str, [a, b]: [f64; 2], lo: f64, hi: f64, out: &mut Vec<String>) {
    if !(a <= b && a >= lo && b <= hi) {
        out.push(format!(
            "{key} = [{a}, {b}]: need {lo} <= min <= max <= {hi}"
        ));
    }
}

/// An operator knob is `"random"` or one of the simulated PLMN codes.
pub(crate) fn operator_problem(key: &str, v: &str, out: &mut Vec<String>) {
    if v != "random" && operator_index(v).is_none() {
        out.push(format!(
            "{key} = {v:?}: use \"random\", \"45201\", \"45202\" or \"45204\""
        ));
    }
}

/// Index of an operator code in the city's operators.
pub(crate) fn operator_index(code: &str) -> Option<usize> {
    super::city::OPERATORS.iter().position(|o| o.0 == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_and_are_valid() {
        let k = KnobsBuilder::new().build().unwrap();
        assert!(k.is_default());
        assert!(k.problems().is_empty());
        let again: Knobs = toml::from_str(&k.to_toml()).unwrap();
        assert_eq!(again, k);
    }

    #[test]
    fn layers_merge_and_set_overrides() {
        let mut b = KnobsBuilder::new();
        b.toml_text("[feeds.45201]\nrequired_only = true\n", "test")
            .unwrap();
        b.set("attackers.imsi_catchers=2").unwrap();
        b.set("feeds.45202.rfc3339_offset=utc").unwrap();
        b.set("feeds.45204.omit=[\"content_fps\"]").unwrap();
        let k = b.build().unwrap();
        assert!(k.feeds.op45201.required_only);
        // the rest of the operator's defaults stay
        assert_eq!(k.feeds.op45201.window_secs, 900);
        assert_eq!(k.feeds.op45201.omit, vec![SmsField::OffnetOut]);
        assert_eq!(k.attackers.imsi_catchers, 2);
        assert_eq!(k.feeds.op45202.rfc3339_offset, TextOffset::Utc);
        assert_eq!(k.feeds.op45204.omit, vec![SmsField::ContentFps]);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let e = KnobsBuilder::new()
            .set("attackers.imsi_catcherz=1")
            .err()
            .unwrap();
        assert!(e.to_string().contains("attackers.imsi_catcherz"), "{e}");
        let mut b = KnobsBuilder::new();
        b.toml_text("[cells]\nnew_site = 3\n", "x.toml").unwrap();
        let e = b.build().unwrap_err().to_string();
        assert!(e.contains("cells") && e.contains("new_site"), "{e}");
        let mut b = KnobsBuilder::new();
        b.set("feeds.45201.window_secs=120").unwrap();
        b.set("feeds.45204.omit=[\"distinct_recipients\"]").unwrap();
        let e = b.build().unwrap_err().to_string();
        assert!(e.contains("feeds.45201.window_secs = 120"), "{e}");
        assert!(e.contains("feeds.45204.omit"), "{e}");
        let e = KnobsBuilder::new().set("no equals sign").err().unwrap();
        assert!(e.to_string().contains("key.path=value"), "{e}");
    }

    #[test]
    fn every_variant_loads() {
        for v in variants::VARIANTS {
            let k = Knobs::variant(v.name).unwrap_or_else(|e| panic!("{}: {e}", v.name));
            assert_eq!(k.is_default(), v.name == "baseline", "{}", v.name);
            assert!(!v.description().is_empty(), "{} has a description", v.name);
        }
        assert!(Knobs::variant("nope").is_err());
    }
}
