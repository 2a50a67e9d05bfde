//! `[console]`: the analyst console (`cellwatch console`, or `cellwatch run` with
//! `[http] console = true`): where it listens, who may log in, how sessions last,
//! the base map, how often it looks for new cases, and the request limits.

use super::check::{at_least, Problems};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The analyst console: a web page with a live map of cases, the case queue and
/// case pages, and the JSON API the page uses (docs/console.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Listen address (`host:port`) of `cellwatch console`; `--listen` overrides it.
    /// Default loopback only: reading is open to anyone who can connect on loopback,
    /// and on any other address every request needs a login. (`cellwatch run` serves
    /// the console on `[http] listen` instead.)
    pub listen: String,
    /// The users file (names, roles, argon2 password hashes), managed with
    /// `cellwatch console user add|remove|list`. Created with mode 0600.
    pub users_file: String,
    /// The secret that signs session cookies; generated (64 random bytes, mode 0600)
    /// on first use. Empty: the users file's path with `.key` appended. Keep it
    /// private: whoever has it can forge sessions.
    pub session_key_file: String,
    /// A login lasts this many hours, then the user logs in again. Default 12.
    pub session_hours: u64,
    /// Require a login for reading as well, even on loopback. Default false (on a
    /// non-loopback address a login is always required).
    pub login_to_read: bool,
    /// Mark the session cookie `Secure` (sent over HTTPS only): set it when the
    /// console is behind an HTTPS reverse proxy. Default false (plain HTTP on loopback).
    pub cookie_secure: bool,
    /// Base map tiles, an OpenStreetMap-style URL with `{z}/{x}/{y}` (and optionally
    /// `{s}`), e.g. `https://tile.openstreetmap.org/{z}/{x}/{y}.png`. Empty (the
    /// default): no base map; cases and registered cells are drawn on a blank
    /// background and nothing is fetched from outside.
    pub tile_url: String,
    /// Attribution shown under the base map (required by most tile providers).
    pub tile_attribution: String,
    /// How often the live case index asks the store whether cases or their audit
    /// trail changed, milliseconds (at least 200). Default 2000.
    pub poll_ms: u64,
    /// Most cases one `GET /api/cases` returns (the map and list show a note when
    /// more match). Default 5000.
    pub max_cases: usize,
    /// Most evidence records a case page lists (all are in the evidence package).
    /// Default 500.
    pub max_records: usize,
    /// Most registered cells one `GET /api/cells` returns. Default 5000.
    pub max_cells: usize,
    /// Largest request body accepted, bytes (status changes and logins are small);
    /// larger ones get 413. Default 16384.
    pub max_body_bytes: usize,
    /// Largest request head (request line and headers) accepted, bytes; larger ones
    /// get 431. Default 16384.
    pub max_header_bytes: usize,
    /// Shortest password `console user add` accepts, characters. Default 12.
    pub min_password_chars: usize,
    /// Failed logins of one user name before further attempts are refused for
    /// `login_lockout_minutes` (429). Default 5.
    pub login_max_failures: u32,
    /// How long a user name stays locked after too many failed logins, minutes.
    /// Default 15.
    pub login_lockout_minutes: u64,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            listen: "127.0.0.1:8080".into(),
            users_file: "cellwatch-users.toml".into(),
            session_key_file: String::new(),
            session_hours: 12,
            login_to_read: false,
            cookie_secure: false,
            tile_url: String::new(),
            tile_attribution: String::new(),
            poll_ms: 2000,
            max_cases: 5000,
            max_records: 500,
            max_cells: 5000,
            max_body_bytes: 16_384,
            max_header_bytes: 16_384,
            min_password_chars: 12,
            login_max_failures: 5,
            login_lockout_minutes: 15,
        }
    }
}

impl ConsoleConfig {
    /// The session key file: `session_key_file`, else the users file + `.key`.
    pub fn session_key_path(&self) -> std::path::PathBuf {
        if self.session_key_file.is_empty() {
            std::path::PathBuf::from(format!("{}.key", self.users_file))
        } else {
            std::path::PathBuf::from(&self.session_key_file)
        }
    }

    /// Record what cannot work (keys named in full).
    pub(crate) fn check(&self, p: &mut Problems) {
        if !is_host_port(&self.listen) {
            p.push(
                "console.listen",
                format!(
                    "must be host:port (e.g. 127.0.0.1:8080), got {:?}",
                    self.listen
                ),
            );
        }
        if self.users_file.trim().is_empty() {
            p.push(
                "console.users_file",
                "must name a file (e.g. cellwatch-users.toml)",
            );
        }
        at_least(p, "console.session_hours", self.session_hours, 1);
        at_least(p, "console.poll_ms", self.poll_ms, 200);
        at_least(p, "console.max_cases", self.max_cases as u64, 1);
        at_least(p, "console.max_records", self.max_records as u64, 1);
        at_least(p, "console.max_cells", self.max_cells as u64, 1);
        at_least(
            p,
            "console.max_body_bytes",
            self.max_body_bytes as u64,
            1024,
        );
        at_least(
            p,
            "console.max_header_bytes",
            self.max_header_bytes as u64,
            1024,
        );
        at_least(
            p,
            "console.min_password_chars",
            self.min_password_chars as u64,
            8,
        );
        at_least(
            p,
            "console.login_max_failures",
            u64::from(self.login_max_failures),
            1,
        );
        at_least(
            p,
            "console.login_lockout_minutes",
            self.login_lockout_minutes,
            1,
        );
        if !self.tile_url.is_empty() {
            let scheme_ok =
                self.tile_url.starts_with("https://") || self.tile_url.starts_with("http://");
            let place_ok = ["{z}", "{x}", "{y}"]
                .iter()
                .all(|t| self.tile_url.contains(t));
            if !scheme_ok || !place_ok {
                p.push(
                    "console.tile_url",
                    format!(
                        "must be an http(s) URL with {{z}}, {{x}} and {{y}}, e.g. https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png, or empty for no base map; got {:?}",
                        self.tile_url
                    ),
                );
            }
        }
    }
}

/// `host:port` with a port number.
pub(crate) fn is_host_port(text: &str) -> bool {
    text.rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_bad_values_are_named() {
        let mut p = Problems::default();
        ConsoleConfig::default().check(&mut p);
        assert!(p.0.is_empty(), "{:?}", p.0);
        let bad = ConsoleConfig {
            listen: "8080".into(),
            tile_url: "tiles.example/{z}".into(),
            poll_ms: 10,
            max_body_bytes: 10,
            ..Default::default()
        };
        let mut p = Problems::default();
        bad.check(&mut p);
        let keys: Vec<&str> = p.0.iter().map(|x| x.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "console.listen",
                "console.poll_ms",
                "console.max_body_bytes",
                "console.tile_url"
            ]
        );
    }

    #[test]
    fn the_key_file_defaults_to_the_users_file_with_key_appended() {
        let c = ConsoleConfig {
            users_file: "/etc/cw/users.toml".into(),
            ..Default::default()
        };
        assert_eq!(
            c.session_key_path(),
            std::path::Path::new("/etc/cw/users.toml.key")
        );
        let c = ConsoleConfig {
            session_key_file: "/run/k".into(),
            ..c
        };
        assert_eq!(c.session_key_path(), std::path::Path::new("/run/k"));
    }
}
