//! Named variants: the scenario files committed under `scenarios/`, embedded so
//! `cellwatch simulate --variant NAME` and the robustness matrix work from any folder.
//! Each file's leading comment says what it models.

/// One named variant: a scenario file laid over the defaults.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    pub name: &'static str,
    /// The file's TOML text.
    pub toml: &'static str,
}

impl Variant {
    /// The leading comment of the file, joined into one line.
    pub fn description(&self) -> String {
        self.toml
            .lines()
            .take_while(|l| l.starts_with('#'))
            .map(|l| l.trim_start_matches('#').trim())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

macro_rules! variant {
    ($name:literal) => {
        Variant {
            name: $name,
            toml: include_str!(concat!("../../../scenarios/", $name, ".toml")),
        }
    };
}

/// Every variant, in the order reports list them.
pub const VARIANTS: &[Variant] = &[
    variant!("baseline"),
    variant!("feeds_mixed"),
    variant!("imsi_catcher"),
    variant!("cloning_blaster"),
    variant!("two_blasters"),
    variant!("static_clone"),
    variant!("static_clone_quiet"),
    variant!("farm_bare_operator"),
    variant!("farm_spread"),
    variant!("ramp_campaign"),
    variant!("lookalikes_sms"),
    variant!("lookalikes_radio"),
    variant!("pulse_bare"),
    variant!("combined"),
    variant!("feeds_alt"),
    variant!("reports_bare"),
    variant!("unseen_mix"),
];

/// The variant called `name`.
pub fn find(name: &str) -> Option<&'static Variant> {
    VARIANTS.iter().find(|v| v.name == name)
}

/// The names of every variant.
pub fn names() -> Vec<&'static str> {
    VARIANTS.iter().map(|v| v.name).collect()
}
