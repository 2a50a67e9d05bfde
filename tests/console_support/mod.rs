//! Shared parts of the console tests: a small scenario (simulate + replay of one
//! seed, made once per test binary), per-test copies of its replay folder, users
//! added through the CLI, the console started as a process, a tiny HTTP/1.1 client
//! with a cookie jar, and headless Chromium ([`cdp`]).

#![allow(dead_code)]

pub mod cdp;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_cellwatch");
pub const SEED: &str = "7";
pub const INSPECTOR: (&str, &str) = ("alice", "correct horse battery");
pub const ANALYST: (&str, &str) = ("bob", "staple battery horse");
pub const ADMIN: (&str, &str) = ("root-admin", "admin password long");

/// The scenario's folder: `in/` (simulate) and `out/` (replay, absolute input paths).
pub fn scenario() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        let stem = exe.file_stem().unwrap().to_string_lossy().to_string();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("console-scenario-{stem}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let input = dir.join("in");
        run_ok(
            Command::new(BIN)
                .args(["simulate", "--seed", SEED, "--scale", "small", "--out"])
                .arg(&input),
        );
        run_ok(
            Command::new(BIN)
                .arg("replay")
                .arg("--sms-volume")
                .arg(input.join("sms_volume.jsonl"))
                .arg("--measurements")
                .arg(input.join("measurements.jsonl"))
                .arg("--cells")
                .arg(input.join("cells.csv"))
                .arg("--out")
                .arg(dir.join("out")),
        );
        dir
    })
}

pub fn cells_csv() -> PathBuf {
    scenario().join("in/cells.csv")
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run cellwatch");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// `cellwatch cases list --json --from DIR ARGS…`: the case ids in the CLI's order.
pub fn cli_case_ids(out: &Path, args: &[&str]) -> Vec<String> {
    let stdout = run_ok(
        Command::new(BIN)
            .args(["cases", "list", "--json", "--from"])
            .arg(out)
            .args(args),
    );
    let list: serde_json::Value = serde_json::from_str(&stdout).expect("cases list --json");
    list.as_array()
        .expect("a JSON array")
        .iter()
        .map(|c| c["case_id"].as_str().expect("case_id").to_string())
        .collect()
}

/// The cases of the scenario's `cases.jsonl`.
pub fn scenario_cases() -> Vec<serde_json::Value> {
    std::fs::read_to_string(scenario().join("out/cases.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A per-test copy of the replay folder (status changes go to its audit log), with
/// a users file holding an inspector, an analyst and an admin.
pub struct Folder {
    pub dir: tempfile::TempDir,
}

impl Folder {
    pub fn new() -> Folder {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        for f in ["cases.jsonl", "summary.json"] {
            std::fs::copy(scenario().join("out").join(f), out.join(f)).unwrap();
        }
        let f = Folder { dir };
        add_user(&f.users(), INSPECTOR.0, "inspector", INSPECTOR.1);
        add_user(&f.users(), ANALYST.0, "analyst", ANALYST.1);
        add_user(&f.users(), ADMIN.0, "admin", ADMIN.1);
        f
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    pub fn users(&self) -> PathBuf {
        self.dir.path().join("users.toml")
    }
}

/// `cellwatch console user add NAME --role ROLE --users FILE`, password on stdin.
pub fn add_user(users: &Path, name: &str, role: &str, password: &str) {
    let mut child = Command::new(BIN)
        .args(["console", "user", "add", name, "--role", role, "--users"])
        .arg(users)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "user add: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `cellwatch cases show ID --json` with extra store arguments.
pub fn cases_show(id: &str, store: &[&str]) -> serde_json::Value {
    let out = run_ok(
        Command::new(BIN)
            .args(["cases", "show", id, "--json"])
            .args(store),
    );
    serde_json::from_str(&out).unwrap()
}

/// A running `cellwatch console`, stopped when dropped.
pub struct Console {
    child: Child,
    pub base: String,
    pub log: PathBuf,
    _logdir: tempfile::TempDir,
}

impl Console {
    /// Start `cellwatch console --listen 127.0.0.1:0 ARGS…` and wait for its address
    /// and for the cases to be loaded.
    pub fn start(args: &[&str]) -> Console {
        Console::start_on("127.0.0.1:0", args)
    }

    /// Start `cellwatch console --listen LISTEN ARGS…` and wait for the address it
    /// prints; waits for the cases when reading needs no login.
    pub fn start_on(listen: &str, args: &[&str]) -> Console {
        let mut cmd = Command::new(BIN);
        cmd.args(["console", "--listen", listen]).args(args);
        let mut c = Console::spawn(cmd, Stdio::piped());
        let stdout = c.child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        c.base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| {
                panic!(
                    "the console printed no address: {line:?}; its log:\n{}",
                    c.log_text()
                )
            })
            .trim_end_matches('/')
            .to_string();
        if Http::new(&c.base).get("/api/cases?limit=1").status != 401 {
            c.wait_loaded();
        }
        c
    }

    /// Start `cellwatch run --config CONFIG` whose `[http] listen` is `base`'s
    /// address, and wait until its console has read the cases.
    pub fn run_service(config: &Path, base: &str) -> Console {
        let mut cmd = Command::new(BIN);
        cmd.arg("run").arg("--config").arg(config);
        let mut c = Console::spawn(cmd, Stdio::null());
        c.base = base.to_string();
        c.wait_loaded();
        c
    }

    /// Spawn `cmd` with its log in a file.
    fn spawn(mut cmd: Command, stdout: Stdio) -> Console {
        let logdir = tempfile::tempdir().unwrap();
        let log = logdir.path().join("console.log");
        let child = cmd
            .env("RUST_LOG", "info,cellwatch=debug")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Console {
            child,
            base: String::new(),
            log,
            _logdir: logdir,
        }
    }

    fn wait_loaded(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let hostport = self.base.trim_start_matches("http://").to_string();
        loop {
            let mut last = String::from("not listening yet");
            if TcpStream::connect(&hostport).is_ok() {
                let r = Http::new(&self.base).get("/api/cases?limit=1");
                if r.status == 200 && r.json()["loaded"] == true {
                    return;
                }
                last = format!("{} {}", r.status, r.body_text());
            }
            assert!(
                Instant::now() < deadline,
                "the console never loaded the cases: {last}\nits log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body_text()))
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
}

/// A tiny HTTP/1.1 client (one connection per request) with a cookie jar, enough
/// to call the console as a script would.
pub struct Http {
    base: String,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
}

impl Http {
    pub fn new(base: &str) -> Http {
        Http {
            base: base.to_string(),
            cookie: None,
            csrf: None,
        }
    }

    pub fn get(&mut self, path: &str) -> Reply {
        self.request("GET", path, &[], b"")
    }

    pub fn post(&mut self, path: &str, body: &str) -> Reply {
        let mut extra: Vec<(String, String)> =
            vec![("Content-Type".into(), "application/json".into())];
        if let Some(t) = &self.csrf {
            extra.push(("X-CSRF-Token".into(), t.clone()));
        }
        let extra: Vec<(&str, &str)> = extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.request("POST", path, &extra, body.as_bytes())
    }

    /// GET /api/session (taking the cookie and CSRF token), then POST /api/login.
    pub fn login(&mut self, user: &str, password: &str) -> Reply {
        let s = self.get("/api/session");
        assert_eq!(s.status, 200);
        self.csrf = s.json()["csrf"].as_str().map(str::to_string);
        let r = self.post(
            "/api/login",
            &serde_json::json!({"user": user, "password": password}).to_string(),
        );
        if r.status == 200 {
            self.csrf = r.json()["csrf"].as_str().map(str::to_string);
        }
        r
    }

    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let hostport = self.base.trim_start_matches("http://").to_string();
        let mut s = TcpStream::connect(&hostport).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
        if let Some(c) = &self.cookie {
            req.push_str(&format!("Cookie: {c}\r\n"));
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        let _ = s.write_all(body);
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        let reply = parse_reply(&raw);
        if let Some(sc) = reply.header("set-cookie") {
            self.cookie = Some(sc.split(';').next().unwrap().to_string());
        }
        reply
    }
}

fn parse_reply(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..i]).trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + n]);
        b = &b[i + 2 + n + 2..];
    }
    out
}

/// Where screenshots go: `target/console-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots")
}
