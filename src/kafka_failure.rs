//! What a failing Kafka connection means, for the service and the tools that talk to
//! Kafka (`allowlist --brokers`): librdkafka retries every failure forever, which is
//! right for a broker that restarts but not for a wrong password or an untrusted
//! certificate. A [`FailureWatch`] shared by a program's clients (through
//! [`WatchedContext`], or the service's consumer context) classifies every error
//! librdkafka reports: authentication, TLS and authorization failures are fatal and
//! wake whoever waits ([`FailureWatch::wait`]); transport failures are remembered, so
//! that a program that cannot reach its brokers within its connect timeout can say
//! why ([`connect`]).
//!
//! Messages name what to check and never a secret: librdkafka's own reasons carry
//! broker addresses, mechanisms and certificate problems, not passwords.

use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why a Kafka client gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// SASL authentication refused (wrong user, password or mechanism).
    Authentication,
    /// TLS handshake failed (untrusted or mismatched certificate, TLS against a
    /// plaintext listener, …).
    Tls,
    /// Authenticated, but not allowed (ACLs).
    Authorization,
    /// No broker answered within the connect timeout.
    Unreachable,
    /// librdkafka raised a fatal error: the client cannot go on (a static group
    /// member fenced by another with the same `group.instance.id`, an idempotent
    /// producer's sequence lost). Only a new client can: the service exits non-zero
    /// so that its supervisor restarts it, rather than stay up without consuming.
    Fatal,
}

/// A Kafka failure that retrying cannot cure, with what to check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct KafkaFailure {
    pub kind: FailureKind,
    /// The brokers the client was given.
    pub brokers: String,
    /// librdkafka's reason.
    pub detail: String,
}

impl KafkaFailure {
    fn message(&self) -> String {
        let (what, check) = match self.kind {
            FailureKind::Authentication => (
                "refused the login",
                "check sasl.username, sasl.mechanisms and the password \
                 (CELLWATCH_KAFKA_SASL_PASSWORD) in [kafka.librdkafka], and that the user \
                 exists on the brokers",
            ),
            FailureKind::Tls => (
                "TLS handshake failed",
                "check that security.protocol matches the listener (SASL_SSL / SSL on a TLS \
                 port), that ssl.ca.location names the CA that signed the brokers' \
                 certificates, and that the broker address matches its certificate",
            ),
            FailureKind::Authorization => (
                "refused access",
                "the user logged in but lacks the ACLs for the topics or the consumer group; \
                 ask the Kafka administrators to grant them",
            ),
            FailureKind::Unreachable => (
                "did not answer",
                "check [kafka] brokers (host:port), that the brokers run and are reachable \
                 from here, and that security.protocol matches the listener",
            ),
            FailureKind::Fatal => (
                "ended a client with a fatal error",
                "restart the instance (a supervisor does it); if the reason says \
                 \"fenced\", give each instance its own [kafka] group_instance_id (a \
                 group consumer fenced after a broker outage is made again by the \
                 service, up to 3 times in 10 minutes)",
            ),
        };
        format!(
            "kafka at {} {what} ({}); {check}",
            self.brokers, self.detail
        )
    }
}

/// Classify one error librdkafka reported: `Some` for a failure that retrying cannot
/// cure, with its kind.
pub(crate) fn classify(error: &KafkaError, reason: &str) -> Option<FailureKind> {
    use RDKafkaErrorCode as C;
    let code = error.rdkafka_error_code()?;
    match code {
        // A connection lost during the login is retried like any lost connection.
        C::Authentication if reason.contains("transport failure") => None,
        C::Authentication | C::SaslAuthenticationFailed | C::UnsupportedSASLMechanism => {
            Some(FailureKind::Authentication)
        }
        C::SSL => {
            let r = reason.to_ascii_lowercase();
            (r.contains("handshake") || r.contains("certificate") || r.contains("verify"))
                .then_some(FailureKind::Tls)
        }
        C::TopicAuthorizationFailed
        | C::GroupAuthorizationFailed
        | C::ClusterAuthorizationFailed => Some(FailureKind::Authorization),
        C::Fatal => Some(FailureKind::Fatal),
        _ => None,
    }
}

/// Classify an error line librdkafka logged: its authentication and TLS handshake
/// failures (`FAIL` lines such as "SASL authentication error: …" or "SSL handshake
/// failed: … certificate verify failed").
/// A connection lost during the login is not a refused login.
pub(crate) fn classify_log(message: &str) -> Option<FailureKind> {
    let lost = message.contains("transport failure") || message.contains("Disconnected");
    if lost {
        None
    } else if message.contains("SASL authentication error")
        && (message.contains("Authentication failed") || message.contains("invalid credentials"))
    {
        Some(FailureKind::Authentication)
    } else if message.contains("SSL handshake failed")
        && (message.contains("certificate") || message.contains("verify"))
    {
        Some(FailureKind::Tls)
    } else {
        None
    }
}

/// The failures of one program's Kafka clients (see the module doc).
#[derive(Debug)]
pub struct FailureWatch {
    brokers: String,
    fatal: Mutex<Option<KafkaFailure>>,
    last_transport: Mutex<Option<String>>,
    /// librdkafka's last warning or error log line: the reason behind an error that
    /// reaches a consumer's poll as a bare code.
    last_log: Mutex<Option<String>>,
    notify: tokio::sync::Notify,
}

impl FailureWatch {
    pub fn new(brokers: &str) -> Arc<FailureWatch> {
        Arc::new(FailureWatch {
            brokers: brokers.to_string(),
            fatal: Mutex::new(None),
            last_transport: Mutex::new(None),
            last_log: Mutex::new(None),
            notify: tokio::sync::Notify::new(),
        })
    }

    /// Take note of an error a client reported: from [`ClientContext::error`] with
    /// librdkafka's reason, or from a consumer's poll (no reason: librdkafka's last
    /// logged warning stands in).
    pub(crate) fn record(&self, error: &KafkaError, reason: &str) {
        let logged;
        let reason = if reason.trim().is_empty() {
            logged = self.last_log.lock().expect("failure lock").clone();
            logged.as_deref().unwrap_or("")
        } else {
            reason
        };
        match classify(error, reason) {
            Some(kind) => self.set_fatal(kind, one_line(reason, error)),
            None => {
                tracing::warn!(error = %error, reason, "kafka client error");
                *self.last_transport.lock().expect("failure lock") = Some(one_line(reason, error));
            }
        }
    }

    /// Take note of a line librdkafka logged (from [`ClientContext::log`]), and log it.
    pub(crate) fn note_log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        use RDKafkaLogLevel as L;
        match level {
            L::Emerg | L::Alert | L::Critical | L::Error => {
                tracing::error!(target: "librdkafka", facility, "{message}")
            }
            L::Warning => tracing::warn!(target: "librdkafka", facility, "{message}"),
            L::Notice | L::Info => tracing::info!(target: "librdkafka", facility, "{message}"),
            L::Debug => tracing::debug!(target: "librdkafka", facility, "{message}"),
        }
        if matches!(
            level,
            L::Emerg | L::Alert | L::Critical | L::Error | L::Warning
        ) {
            *self.last_log.lock().expect("failure lock") = Some(message.to_string());
        }
        // The error callback that carries the same failure can come late (it is
        // served by a poll); the log line comes at once from librdkafka's thread.
        if matches!(level, L::Emerg | L::Alert | L::Critical | L::Error) {
            // librdkafka logs its fatal errors (a fenced static member, …) under
            // the facility FATAL.
            let kind = if facility == "FATAL" {
                Some(FailureKind::Fatal)
            } else {
                classify_log(message)
            };
            if let Some(kind) = kind {
                self.set_fatal(kind, message.to_string());
            }
        }
    }

    /// Record the first fatal failure and wake whoever waits.
    fn set_fatal(&self, kind: FailureKind, detail: String) {
        let mut fatal = self.fatal.lock().expect("failure lock");
        if fatal.is_none() {
            tracing::error!(reason = %detail, "kafka: giving up, retrying cannot help");
            *fatal = Some(KafkaFailure {
                kind,
                brokers: self.brokers.clone(),
                detail: detail.split_whitespace().collect::<Vec<_>>().join(" "),
            });
            self.notify.notify_one();
        }
    }

    /// The first fatal failure, if one happened.
    pub fn fatal(&self) -> Option<KafkaFailure> {
        self.fatal.lock().expect("failure lock").clone()
    }

    /// Wait for a fatal failure.
    pub async fn wait(&self) -> KafkaFailure {
        loop {
            if let Some(f) = self.fatal() {
                return f;
            }
            self.notify.notified().await;
        }
    }

    /// The failure to report when no broker answered in time: the fatal one if any,
    /// else "unreachable" with the last transport error (or `fallback`).
    pub fn unreachable(&self, fallback: &str) -> KafkaFailure {
        self.fatal().unwrap_or_else(|| KafkaFailure {
            kind: FailureKind::Unreachable,
            brokers: self.brokers.clone(),
            detail: self
                .last_transport
                .lock()
                .expect("failure lock")
                .clone()
                .unwrap_or_else(|| fallback.to_string()),
        })
    }
}

/// librdkafka's reason on one line, or the error when it gave none.
fn one_line(reason: &str, error: &KafkaError) -> String {
    let r = reason.split_whitespace().collect::<Vec<_>>().join(" ");
    if r.is_empty() {
        error.to_string()
    } else {
        r
    }
}

/// A client context that reports to a [`FailureWatch`].
#[derive(Clone)]
pub struct WatchedContext {
    pub watch: Arc<FailureWatch>,
}

impl ClientContext for WatchedContext {
    fn error(&self, error: KafkaError, reason: &str) {
        self.watch.record(&error, reason);
    }

    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.watch.note_log(level, fac, log_message);
    }
}

impl ConsumerContext for WatchedContext {}

/// Wait until the brokers answer a metadata request, at most `timeout`: `Ok` once
/// they do, the fatal failure as soon as one is reported (a wrong password fails in
/// about a second, not after the timeout), else [`FailureKind::Unreachable`].
/// Blocking: call it from a blocking context. The consumer must not be subscribed:
/// its poll serves the errors, and a message it returned would be lost.
pub fn connect<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    watch: &FailureWatch,
    timeout: Duration,
) -> Result<(), KafkaFailure> {
    let deadline = Instant::now() + timeout;
    loop {
        // Consumers get client errors, and librdkafka's log lines, through their
        // poll: one event per call, so drain what is queued (with librdkafka's debug
        // on, hundreds of lines may be ahead of the failure).
        for _ in 0..2_000 {
            if let Some(Err(e)) = consumer.poll(Duration::ZERO) {
                watch.record(&e, "");
            }
            if watch.fatal().is_some() {
                break;
            }
        }
        if let Some(f) = watch.fatal() {
            return Err(f);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(watch.unreachable("no broker answered"));
        }
        match consumer.fetch_metadata(None, left.min(Duration::from_millis(200))) {
            Ok(_) => return Ok(()),
            Err(e) => tracing::debug!(error = %e, "kafka metadata request failed; trying again"),
        }
    }
}

/// [`connect`] with a short-lived consumer of `config` reporting to `watch`, on a
/// blocking thread: the startup check of a program before it builds its clients.
pub async fn check_brokers(
    config: ClientConfig,
    watch: Arc<FailureWatch>,
    timeout: Duration,
) -> Result<(), KafkaFailure> {
    let brokers = watch.brokers.clone();
    let setup = |e: KafkaError| KafkaFailure {
        kind: FailureKind::Unreachable,
        brokers: brokers.clone(),
        detail: format!("cannot create a client: {e}"),
    };
    let consumer: BaseConsumer<WatchedContext> = config
        .create_with_context(WatchedContext {
            watch: watch.clone(),
        })
        .map_err(setup)?;
    tokio::task::spawn_blocking(move || connect(&consumer, &watch, timeout))
        .await
        .map_err(|e| KafkaFailure {
            kind: FailureKind::Unreachable,
            brokers,
            detail: format!("the check did not finish: {e}"),
        })?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(code: RDKafkaErrorCode) -> KafkaError {
        KafkaError::Global(code)
    }

    #[test]
    fn authentication_tls_and_acl_failures_are_fatal_transport_is_not() {
        let auth = "SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512";
        assert_eq!(
            classify(&global(RDKafkaErrorCode::Authentication), auth),
            Some(FailureKind::Authentication)
        );
        let tls = "ssl://127.0.0.1:19094/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed";
        assert_eq!(
            classify(&global(RDKafkaErrorCode::SSL), tls),
            Some(FailureKind::Tls)
        );
        assert_eq!(
            classify(
                &global(RDKafkaErrorCode::SSL),
                "SSL transport error: Connection reset"
            ),
            None
        );
        assert_eq!(
            classify(&global(RDKafkaErrorCode::GroupAuthorizationFailed), ""),
            Some(FailureKind::Authorization)
        );
        for code in [
            RDKafkaErrorCode::BrokerTransportFailure,
            RDKafkaErrorCode::AllBrokersDown,
            RDKafkaErrorCode::Resolve,
        ] {
            assert_eq!(classify(&global(code), "Connection refused"), None);
        }
    }

    #[test]
    fn failures_logged_by_librdkafka_are_fatal_at_once() {
        let watch = FailureWatch::new("127.0.0.1:19094");
        let ssl = "sasl_ssl://127.0.0.1:19094/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker certificate could not be verified";
        watch.note_log(RDKafkaLogLevel::Warning, "FAIL", ssl);
        assert!(watch.fatal().is_none(), "warnings are not failures");
        watch.note_log(
            RDKafkaLogLevel::Error,
            "FAIL",
            "Connect to ipv4#127.0.0.1:19094 failed: Connection refused",
        );
        assert!(watch.fatal().is_none());
        watch.note_log(RDKafkaLogLevel::Error, "FAIL", ssl);
        let f = watch.fatal().expect("fatal");
        assert_eq!(f.kind, FailureKind::Tls);
        assert!(f.to_string().contains("certificate verify failed"));
        assert_eq!(
            classify_log("sasl_ssl://h:1/bootstrap: SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512"),
            Some(FailureKind::Authentication)
        );
        // A connection lost during the login (seen with an idle coordinator
        // connection) is not a refused login.
        let lost = "[thrd:GroupCoordinator]: GroupCoordinator: SASL authentication error: SaslAuthenticateRequest failed: Local: Broker transport failure (after 0ms in state DOWN)";
        assert_eq!(classify_log(lost), None);
        assert_eq!(
            classify(&global(RDKafkaErrorCode::Authentication), lost),
            None
        );
    }

    #[test]
    fn a_fatal_client_error_stops_the_service_and_says_why() {
        let watch = FailureWatch::new("127.0.0.1:19092");
        let fenced = "[thrd:main]: Fatal error: Broker: Static consumer fenced by other consumer with same group.instance.id: OffsetCommit failed: Broker: Static consumer fenced by other consumer with same group.instance.id";
        watch.note_log(
            RDKafkaLogLevel::Error,
            "FAIL",
            "[thrd:main]: something else failed",
        );
        assert!(watch.fatal().is_none());
        watch.note_log(RDKafkaLogLevel::Error, "FATAL", fenced);
        let f = watch.fatal().expect("fatal");
        assert_eq!(f.kind, FailureKind::Fatal);
        assert!(f.to_string().contains("group_instance_id"));
        assert!(f.to_string().contains("fenced by other consumer"));
        assert_eq!(
            classify(&global(RDKafkaErrorCode::Fatal), fenced),
            Some(FailureKind::Fatal)
        );
    }

    #[test]
    fn the_first_fatal_failure_wins_and_names_what_to_check() {
        let watch = FailureWatch::new("127.0.0.1:19094");
        watch.record(
            &global(RDKafkaErrorCode::BrokerTransportFailure),
            "Connect to ipv4#127.0.0.1:19094 failed: Connection refused",
        );
        assert!(watch.fatal().is_none());
        let unreachable = watch.unreachable("none");
        assert_eq!(unreachable.kind, FailureKind::Unreachable);
        assert!(unreachable.to_string().contains("Connection refused"));
        watch.record(
            &global(RDKafkaErrorCode::Authentication),
            "invalid   credentials",
        );
        watch.record(&global(RDKafkaErrorCode::SSL), "SSL handshake failed");
        let f = watch.fatal().expect("fatal");
        assert_eq!(f.kind, FailureKind::Authentication);
        let text = f.to_string();
        assert!(text.starts_with("kafka at 127.0.0.1:19094 refused the login (invalid credentials); check sasl.username"), "{text}");
        assert!(text.contains("CELLWATCH_KAFKA_SASL_PASSWORD"));
        assert_eq!(
            watch.unreachable("none"),
            f,
            "a fatal failure explains a timeout"
        );
    }
}
