//! The analyst console's request handling under the fuzzer (`console_request`): any
//! bytes as one client connection to the console's routes (`cellwatch console`: the
//! console's own head and body limits, hyper's defaults around them), over a replay
//! folder with three cases, a users file (analyst, inspector, admin) and a session
//! key, all written once per process under the temporary folder.
//!
//! A fuzzer cannot guess a signed session cookie or its CSRF token, so the input may
//! name them: before it is sent, `{ANON}` becomes the cookie of a visitor who is not
//! logged in and `{ANON_CSRF}` its token; `{ANALYST}`, `{INSPECTOR}` and `{ADMIN}`
//! become the cookie of a session of that user, logged in for this input only, with
//! `{ANALYST_CSRF}`, `{INSPECTOR_CSRF}` and `{ADMIN_CSRF}` their tokens. The password
//! of every user is [`PASSWORD`], so a login can succeed too.
//!
//! What must hold for every input: the connection ends within a bounded time, every
//! answer is HTTP/1.x and none a 500; and a case's status changes only for a request
//! carrying the cookie of a user allowed to change it together with that session's
//! CSRF token (the audit trail is read after each input, checked, then removed so
//! every input starts from the same store).

use super::check_http_answer;
use crate::config::ConsoleConfig;
use crate::console::api::State;
use crate::console::server::{routes, start};
use crate::console::{ConsoleOptions, ConsoleStore, Role, StoreSource, UsersFile};
use crate::inspect::{FolderStore, StatusChange};
use axum::Router;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::watch;

/// The password of every user of the fuzzed console.
pub const PASSWORD: &str = "fuzz-console-password";

/// The users, with the placeholders of their session cookie and CSRF token, and
/// whether they may change a status.
const USERS: [(&str, Role, &str, &str); 3] = [
    ("analyst", Role::Analyst, "{ANALYST}", "{ANALYST_CSRF}"),
    (
        "inspector",
        Role::Inspector,
        "{INSPECTOR}",
        "{INSPECTOR_CSRF}",
    ),
    ("admin", Role::Admin, "{ADMIN}", "{ADMIN_CSRF}"),
];

/// The console of this process.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    dir: PathBuf,
    store: ConsoleStore,
    state: State,
    app: Router,
    /// Keeps the console running (dropping it would stop the poller).
    _shutdown: watch::Sender<bool>,
}

thread_local! {
    static CONSOLE: Fixture = Fixture::new();
}

/// One connection of arbitrary bytes to the console (see the module's doc).
pub fn console_request(data: &[u8]) {
    CONSOLE.with(|f| f.serve(data));
}

impl Fixture {
    fn new() -> Fixture {
        static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("cellwatch-fuzz-console-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch folder for the fuzzed console");
        write_store(&dir);
        let config = ConsoleConfig {
            users_file: dir.join("users.toml").display().to_string(),
            session_key_file: dir.join("session.key").display().to_string(),
            // The poller looks once at the start; the harness refreshes the index itself.
            poll_ms: 3_600_000,
            max_cases: 2,
            max_records: 3,
            max_body_bytes: 1024,
            max_header_bytes: 2048,
            // A fuzzer that locked its own users out would see other answers later.
            login_max_failures: u32::MAX,
            tile_url: "https://{s}.tile.example.org/{z}/{x}/{y}.png".into(),
            ..ConsoleConfig::default()
        };
        write_users(Path::new(&config.users_file), config.min_password_chars);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let store = ConsoleStore::Folder(FolderStore::open(&dir).expect("the fuzz case store"));
        let (tx, rx) = watch::channel(false);
        let state = runtime.block_on(async {
            let state = start(ConsoleOptions {
                config,
                source: StoreSource::Ready(store.clone()),
                cells: None,
                loopback: true,
                shutdown: rx,
            })
            .expect("the fuzzed console starts");
            // The poller puts the store in its slot at its first tick.
            while state.slot.get().is_none() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            state.index.refresh(&store).await;
            assert!(state.index.health().loaded, "{:?}", state.index.health());
            state
        });
        let app = routes(state.clone());
        Fixture {
            runtime,
            dir,
            store,
            state,
            app,
            _shutdown: tx,
        }
    }

    /// Serve `data`, check the answer and the store; the answer and the number of
    /// status changes made.
    fn serve(&self, data: &[u8]) -> (Vec<u8>, usize) {
        let sessions = &self.state.auth.sessions;
        let cookie = |sid: &str| {
            let set = sessions.set_cookie(sid);
            set.split(';').next().unwrap_or_default().to_string()
        };
        let anon = sessions.anonymous_id();
        let mut subs = vec![
            ("{ANON_CSRF}".to_string(), sessions.csrf(&anon)),
            ("{ANON}".to_string(), cookie(&anon)),
        ];
        let mut sids = Vec::new();
        for (name, _, c, t) in USERS {
            let sid = sessions.login(name);
            subs.push((t.to_string(), sessions.csrf(&sid)));
            subs.push((c.to_string(), cookie(&sid)));
            sids.push(sid);
        }
        let input = substitute(data, &subs);
        // A login costs an argon2 check (19 MiB, slower in a debug build and on a
        // loaded machine): allow a second for each one the input may hold.
        let logins = data.windows(5).filter(|w| w == b"login").count() as u64;
        let deadline = Duration::from_secs(10 + logins);
        let answer = self
            .runtime
            .block_on(exchange(input, self.app.clone(), deadline));
        for sid in &sids {
            sessions.logout(sid);
        }
        check_http_answer(&answer);
        let changes = self.check_and_reset_store(data);
        (answer, changes)
    }

    /// Every status change in the audit trail was made by a user allowed to, whose
    /// session cookie and CSRF token the input carried; then the trail is removed and
    /// the index read again.
    fn check_and_reset_store(&self, data: &[u8]) -> usize {
        let ConsoleStore::Folder(folder) = &self.store else {
            unreachable!("the fuzzed console reads a folder")
        };
        let log = folder.status_log_path();
        if !log.exists() {
            return 0;
        }
        let changes: Vec<StatusChange> = folder.load_log().expect("the audit trail reads back");
        let has = |p: &str| data.windows(p.len()).any(|w| w == p.as_bytes());
        for change in &changes {
            let (_, role, c, t) = USERS
                .iter()
                .find(|u| u.0 == change.actor)
                .unwrap_or_else(|| panic!("a change by an unknown actor: {change:?}"));
            assert!(
                role.can_change_status(),
                "a change by an {role:?}: {change:?}"
            );
            assert!(
                has(c) && has(t),
                "a change without the session and its CSRF token: {change:?}"
            );
        }
        std::fs::remove_file(&log).expect("the audit trail is removed");
        self.runtime.block_on(self.state.index.refresh(&self.store));
        changes.len()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `data` with each placeholder replaced (the first matching one at each position).
fn substitute(data: &[u8], subs: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 256);
    let mut i = 0;
    'scan: while i < data.len() {
        if data[i] == b'{' {
            for (from, to) in subs {
                if data[i..].starts_with(from.as_bytes()) {
                    out.extend_from_slice(to.as_bytes());
                    i += from.len();
                    continue 'scan;
                }
            }
        }
        out.push(data[i]);
        i += 1;
    }
    out
}

/// Send `input` on one connection served by `app` (hyper's HTTP/1 defaults, as
/// `axum::serve` in `cellwatch console`), close the client's side, and read everything
/// the server answers; the server must end the connection by `deadline`. The server
/// answers what was sent before the close (half-close: a login's password check takes
/// a while); an event stream never ends by itself, so reading stops at its first
/// event.
async fn exchange(input: Vec<u8>, app: Router, deadline: Duration) -> Vec<u8> {
    use hyper_util::rt::TokioIo;
    use hyper_util::service::TowerToHyperService;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut client, server) = tokio::io::duplex(1 << 20);
    let served = tokio::spawn(async move {
        let mut http = hyper::server::conn::http1::Builder::new();
        http.half_close(true);
        http.serve_connection(TokioIo::new(server), TowerToHyperService::new(app))
            .await
    });
    let io = async {
        // The server may close early (a refused head): the rest is not read.
        let _ = client.write_all(&input).await;
        let _ = client.shutdown().await;
        let mut answer = Vec::new();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match client.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
            if is_event_stream(&answer) {
                break;
            }
        }
        answer
    };
    let answer = tokio::time::timeout(deadline, io)
        .await
        .expect("the console ends the connection once the client has sent all");
    served.abort();
    answer
}

/// The last response of `answer` is an event stream whose first event has come.
fn is_event_stream(answer: &[u8]) -> bool {
    let find = |needle: &[u8], from: usize| {
        answer[from..]
            .windows(needle.len())
            .rposition(|w| w.eq_ignore_ascii_case(needle))
            .map(|i| i + from)
    };
    let Some(head) = find(b"HTTP/1.", 0) else {
        return false;
    };
    find(b"content-type: text/event-stream", head)
        .and_then(|i| find(b"event: hello", i))
        .is_some()
}

/// Three cases (a spam SIM, a SIM farm, a fake base station), the SMS records behind
/// the spam SIM, and the summary that names them.
fn write_store(dir: &Path) {
    let t0: i64 = 1_795_824_000_000;
    let sim = "9f86d081884c7d65";
    let cases = [
        serde_json::json!({"case_id": "spam_sim-0001", "kind": "spam_sim", "status": "open",
            "opened_at": t0 + 300_000, "first_seen": t0, "last_seen": t0 + 600_000, "score": 0.91,
            "operator": "45204", "sims": [sim],
            "reasons": [{"code": "SMS_RATE", "value": 40.0, "threshold": 20.0}], "evidence_count": 2}),
        serde_json::json!({"case_id": "sim_farm-0001", "kind": "sim_farm", "status": "open",
            "opened_at": t0, "first_seen": t0, "last_seen": t0 + 900_000, "score": 0.8,
            "operator": "45204", "sims": [sim, "a1b2c3d4e5f60718"],
            "reasons": [{"code": "SHARED_DEVICE", "value": 2.0, "threshold": 2.0}], "evidence_count": 0}),
        serde_json::json!({"case_id": "fake_bts-0001", "kind": "fake_bts", "status": "open",
            "opened_at": t0, "first_seen": t0, "last_seen": t0 + 60_000, "score": 0.7,
            "claimed_cell": {"rat": "LTE", "mcc": 452, "mnc": 4, "lac": 14203, "cid": 400001},
            "location": {"lat": 21.03, "lon": 105.85, "radius_m": 300.0},
            "reasons": [{"code": "UNKNOWN_CELL", "value": 1.0, "threshold": 1.0}], "evidence_count": 0}),
    ];
    let mut text = String::new();
    for c in &cases {
        let case: crate::model::Case =
            serde_json::from_value(c.clone()).expect("a fuzz case is a case");
        text.push_str(&serde_json::to_string(&case).expect("a case serialises"));
        text.push('\n');
    }
    std::fs::write(dir.join("cases.jsonl"), text).expect("cases.jsonl is written");
    let record = |start: &str| {
        format!(
            r#"{{"operator":"45204","sim":"{sim}","window_start":"{start}","window_secs":300,"sms_out":40,"sms_in":1,"distinct_recipients":38,"device":"9f86d081884c7d65aa","cell":"452-4-14203-400001"}}"#
        )
    };
    let sms = dir.join("sms.jsonl");
    let records = format!(
        "{}\n{}\n",
        record("2026-11-28T00:00:00Z"),
        record("2026-11-28T00:05:00Z")
    );
    std::fs::write(&sms, records).expect("sms.jsonl is written");
    let summary =
        serde_json::json!({"inputs": [{"feed": "sms_volume", "path": sms.display().to_string()}]});
    std::fs::write(dir.join("summary.json"), summary.to_string()).expect("summary.json is written");
}

/// The three users, each with [`PASSWORD`].
fn write_users(path: &Path, min_password_chars: usize) {
    let mut users = UsersFile::load(path).expect("an empty users file");
    for (name, role, _, _) in USERS {
        users
            .add(
                name,
                role,
                PASSWORD,
                false,
                min_password_chars,
                "2026-12-06T00:00:00Z",
            )
            .expect("a fuzz user is added");
    }
    users.save().expect("the users file is saved");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request as the corpus seeds write them (the seeds themselves are renamed by
    /// the minimisation).
    fn req(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
        let mut r = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n");
        for (k, v) in headers {
            r.push_str(&format!("{k}: {v}\r\n"));
        }
        if method == "POST" {
            r.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        r.push_str("\r\n");
        r.push_str(body);
        r.into_bytes()
    }

    fn status_post(headers: &[(&str, &str)], body: &str) -> Vec<u8> {
        req("POST", "/api/cases/spam_sim-0001/status", headers, body)
    }

    fn statuses(answer: &[u8]) -> Vec<String> {
        let text = String::from_utf8_lossy(answer);
        text.match_indices("HTTP/1.1 ")
            .map(|(i, _)| text[i + 9..i + 12].to_string())
            .collect()
    }

    /// The harness reaches what it is for: a login, a status change with the session
    /// and its token (then undone), the refusals, the limits, the event stream.
    #[test]
    fn the_harness_logs_in_changes_and_refuses() {
        CONSOLE.with(|f| {
            let login = format!(r#"{{"user":"inspector","password":"{PASSWORD}"}}"#);
            let anon = [("Cookie", "{ANON}"), ("X-CSRF-Token", "{ANON_CSRF}")];
            let (a, n) = f.serve(&req("POST", "/api/login", &anon, &login));
            let text = String::from_utf8_lossy(&a).to_string();
            assert_eq!((statuses(&a), n), (vec!["200".to_string()], 0), "{text}");
            assert!(text.contains("set-cookie: cw_session="), "{text}");
            let inspector = [
                ("Cookie", "{INSPECTOR}"),
                ("X-CSRF-Token", "{INSPECTOR_CSRF}"),
            ];
            let hand_over = r#"{"status":"handed_over","note":"sent to the operator"}"#;
            for _ in 0..2 {
                let input = [
                    status_post(&inspector, hand_over),
                    req("GET", "/api/cases/spam_sim-0001", &[], ""),
                ]
                .concat();
                let (a, n) = f.serve(&input);
                let text = String::from_utf8_lossy(&a).to_string();
                assert_eq!(statuses(&a), ["200", "200"], "{text}");
                assert!(text.contains(r#""status":"handed_over""#), "{text}");
                assert_eq!(n, 1, "the change is made, then undone for the next input");
            }
            let big_note = format!(
                r#"{{"status":"handed_over","note":"{}"}}"#,
                "x".repeat(1500)
            );
            let filler = "a".repeat(2100);
            let refused: [(&str, Vec<u8>, &str); 9] = [
                ("no token", status_post(&inspector[..1], hand_over), "403"),
                (
                    "another session's token",
                    status_post(&[inspector[0], anon[1]], hand_over),
                    "403",
                ),
                (
                    "a foreign Origin",
                    status_post(
                        &[
                            inspector[0],
                            inspector[1],
                            ("Origin", "https://evil.example"),
                        ],
                        hand_over,
                    ),
                    "403",
                ),
                ("not logged in", status_post(&anon, hand_over), "401"),
                (
                    "an analyst",
                    status_post(
                        &[("Cookie", "{ANALYST}"), ("X-CSRF-Token", "{ANALYST_CSRF}")],
                        hand_over,
                    ),
                    "403",
                ),
                ("a large body", status_post(&inspector, &big_note), "413"),
                (
                    "bad JSON",
                    status_post(&inspector, r#"{"status":[[["#),
                    "400",
                ),
                (
                    "a large head",
                    req("GET", "/api/cases", &[("X-Filler", &filler)], ""),
                    "431",
                ),
                (
                    "a login without token",
                    req("POST", "/api/login", &anon[..1], &login),
                    "403",
                ),
            ];
            for (what, input, want) in refused {
                let (a, n) = f.serve(&input);
                let text = String::from_utf8_lossy(&a).to_string();
                assert_eq!(
                    (statuses(&a), n),
                    (vec![want.to_string()], 0),
                    "{what}: {text}"
                );
            }
            let (a, _) = f.serve(&req("GET", "/api/events", &[], ""));
            assert_eq!(
                statuses(&a),
                ["200"],
                "the event stream ends with the connection"
            );
        });
    }

    #[test]
    fn placeholders_are_replaced_where_they_stand() {
        let subs = [
            ("{A}".to_string(), "x".to_string()),
            ("{AB}".to_string(), "y".to_string()),
        ];
        assert_eq!(substitute(b"{A}{AB}{{A}", &subs), b"xy{x");
    }
}
