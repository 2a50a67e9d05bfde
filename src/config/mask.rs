//! The effective configuration as TOML with its secrets masked, for
//! `cellwatch config check`: what a command would run with, safe to paste into a
//! ticket. Secrets: `clickhouse.password`, the password in a `clickhouse.url`
//! (`http://user:password@host`), and every `kafka.librdkafka` entry whose name
//! contains `password` or `secret`, plus `ssl.key.pem` and `sasl.oauthbearer.config`
//! (`sasl.username` is not a secret).

use super::Config;

/// What a secret is replaced with.
pub(crate) const MASK: &str = "********";

/// Whether a librdkafka setting holds a secret.
pub(crate) fn is_secret_librdkafka(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("password")
        || name.contains("secret")
        || name == "ssl.key.pem"
        || name == "sasl.oauthbearer.config"
}

/// The configuration as TOML, secrets replaced by `MASK`.
pub fn masked_toml(config: &Config) -> String {
    let mut masked = config.clone();
    if masked.clickhouse.password.is_some() {
        masked.clickhouse.password = Some(MASK.to_string());
    }
    masked.clickhouse.url = mask_url_password(&masked.clickhouse.url);
    for (name, value) in masked.kafka.librdkafka.iter_mut() {
        if is_secret_librdkafka(name) {
            *value = MASK.to_string();
        }
    }
    toml::to_string(&masked).expect("the configuration serializes to TOML")
}

/// `http://user:secret@host/` → `http://user:********@host/`.
fn mask_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:{MASK}@{host}{path}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_the_rest_is_kept() {
        let mut c = Config::default();
        c.clickhouse.password = Some("ch-pass-1".into());
        c.clickhouse.url = "https://reader:url-pass-2@ch.example:8443/".into();
        c.clickhouse.user = Some("reader".into());
        for (k, v) in [
            ("sasl.password", "kafka-pass-3"),
            ("ssl.key.password", "key-pass-4"),
            ("sasl.oauthbearer.client.secret", "secret-5"),
            ("ssl.key.pem", "-----BEGIN PRIVATE KEY-----6"),
            ("sasl.username", "cellwatch-user"),
        ] {
            c.kafka.librdkafka.insert(k.into(), v.into());
        }
        let text = masked_toml(&c);
        for secret in [
            "ch-pass-1",
            "url-pass-2",
            "kafka-pass-3",
            "key-pass-4",
            "secret-5",
            "PRIVATE KEY",
        ] {
            assert!(!text.contains(secret), "{secret} leaked:\n{text}");
        }
        assert!(
            text.contains("cellwatch-user"),
            "sasl.username is not a secret"
        );
        assert!(text.contains("https://reader:********@ch.example:8443/"));
        let back: Config = toml::from_str(&text).expect("the masked text is a configuration");
        assert_eq!(back.clickhouse.password.as_deref(), Some(MASK));
        assert_eq!(back.kafka.librdkafka["sasl.password"], MASK);
        assert_eq!(back.spam, c.spam);
    }

    #[test]
    fn urls_without_a_password_are_unchanged() {
        for url in ["http://127.0.0.1:8123", "https://user@host/", "not a url"] {
            assert_eq!(mask_url_password(url), url);
        }
    }
}
