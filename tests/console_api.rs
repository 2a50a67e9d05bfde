//! The console's JSON API at the HTTP level, on a replay folder made by simulate +
//! replay (tests/console_support): the list answers exactly what `cellwatch cases
//! list` answers for the same filters, every body matches its JSON Schema under
//! schemas/console/, changes made elsewhere arrive on /api/events, and the security
//! rules of docs/console.md hold: 401 without a login, 403 for an analyst, a missing
//! CSRF token or a foreign Origin, 413 for a large body, the logged-in user as the
//! actor, reading open on loopback only, and no password, hash, session key or
//! cookie in the log.

mod console_support;

use console_support::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Resolves the schemas' `$ref`s (`https://cellwatch.example/schemas/…`) to the
/// files under schemas/.
struct LocalSchemas;

impl jsonschema::Retrieve for LocalSchemas {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let rel = uri
            .as_str()
            .strip_prefix("https://cellwatch.example/schemas/")
            .ok_or_else(|| format!("not a cellwatch schema: {}", uri.as_str()))?;
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("schemas")
            .join(rel);
        Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
    }
}

/// Panics unless `v` matches schemas/console/`name`.
fn check_schema(name: &str, v: &Value) {
    let path = format!("{}/schemas/console/{name}", env!("CARGO_MANIFEST_DIR"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let validator = jsonschema::options()
        .with_retriever(LocalSchemas)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{path} is not a valid JSON Schema: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(v)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:#?}\n{v:#}");
}

/// `cellwatch cases list --json --from DIR ARGS…`: the ids in the CLI's order.
fn cli_ids(out: &Path, args: &[&str]) -> Vec<String> {
    cli_case_ids(out, args)
}

fn api_ids(v: &Value) -> Vec<String> {
    v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["case_id"].as_str().unwrap().to_string())
        .collect()
}

fn status_path(id: &str) -> String {
    format!("/api/cases/{id}/status")
}

fn first_of_kind(kind: &str) -> String {
    scenario_cases().iter().find(|c| c["kind"] == kind).unwrap()["case_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_list_filters_like_cases_list_and_every_body_matches_its_schema() {
    let folder = Folder::new();
    let out = folder.out();
    let cells = cells_csv();
    let console = Console::start(&[
        "--from",
        out.to_str().unwrap(),
        "--cells",
        cells.to_str().unwrap(),
        "--users",
        folder.users().to_str().unwrap(),
    ]);
    let mut http = Http::new(&console.base);
    let cases = scenario_cases();
    let mid = {
        let mut t: Vec<i64> = cases
            .iter()
            .map(|c| c["last_seen"].as_i64().unwrap())
            .collect();
        t.sort();
        t[t.len() / 2]
    };
    let operator = cases
        .iter()
        .find_map(|c| c["operator"].as_str())
        .unwrap()
        .to_string();
    let b = cases.iter().find(|c| c["kind"] == "fake_bts").unwrap()["location"].clone();
    let (lat, lon) = (b["lat"].as_f64().unwrap(), b["lon"].as_f64().unwrap());
    let bbox = format!(
        "{},{},{},{}",
        lon - 0.01,
        lat - 0.01,
        lon + 0.01,
        lat + 0.01
    );
    let mid_s = mid.to_string();
    // (query string, the same filters as `cases list` arguments)
    let queries: Vec<(String, Vec<&str>)> = vec![
        (String::new(), vec![]),
        ("kind=fake_bts".into(), vec!["--kind", "fake_bts"]),
        (
            "kind=sim_farm&kind=spam_sim&min_score=0.95".into(),
            vec!["--kind", "sim_farm,spam_sim", "--min-score", "0.95"],
        ),
        ("status=open".into(), vec!["--status", "open"]),
        (
            format!("operator={operator}"),
            vec!["--operator", &operator],
        ),
        (format!("since={mid}"), vec!["--since", &mid_s]),
        (
            format!("until={mid}&kind=spam_sim"),
            vec!["--until", &mid_s, "--kind", "spam_sim"],
        ),
        (
            format!("kind=fake_bts&bbox={bbox}"),
            vec!["--kind", "fake_bts", "--bbox", &bbox],
        ),
    ];
    for (q, args) in &queries {
        let r = http.get(&format!("/api/cases?{q}"));
        assert_eq!(r.status, 200, "{q}: {}", r.body_text());
        let v = r.json();
        check_schema("case-list.json", &v);
        assert_eq!(
            api_ids(&v),
            cli_ids(&out, args),
            "GET /api/cases?{q} and cases list {args:?}"
        );
        assert_eq!(v["total"].as_u64().unwrap() as usize, api_ids(&v).len());
    }
    // a bounding box also keeps the SIM cases with a serving cell inside it (the
    // console places them with --cells; `cases list` has no cells to place them)
    let boxed = http.get(&format!("/api/cases?bbox={bbox}")).json();
    let cli = cli_ids(&out, &["--bbox", &bbox]);
    let inside = |p: &Value| {
        let (plat, plon) = (p["lat"].as_f64().unwrap(), p["lon"].as_f64().unwrap());
        (lat - 0.01..=lat + 0.01).contains(&plat) && (lon - 0.01..=lon + 0.01).contains(&plon)
    };
    let mut placed = 0;
    for c in boxed["cases"].as_array().unwrap() {
        let id = c["case_id"].as_str().unwrap().to_string();
        if !cli.contains(&id) {
            assert_ne!(c["kind"], "fake_bts");
            assert!(
                c["places"].as_array().unwrap().iter().any(inside),
                "{id} has a place in the box"
            );
            placed += 1;
        }
    }
    assert_eq!(
        api_ids(&boxed).len(),
        cli.len() + placed,
        "every case `cases list` finds in the box"
    );
    let all = http.get("/api/cases").json();
    assert_eq!(all["cases"].as_array().unwrap().len(), cases.len());
    let farms = http.get("/api/cases?kind=sim_farm").json();
    assert!(
        !farms["cases"][0]["places"].as_array().unwrap().is_empty(),
        "farms placed at serving cells"
    );
    let limited = http.get("/api/cases?limit=2").json();
    assert_eq!(limited["cases"].as_array().unwrap().len(), 2);
    assert_eq!(limited["truncated"], true);
    // bad queries: 400 naming the parameter
    for (q, says) in [
        ("colour=red", "colour"),
        ("min_score=2", "min_score"),
        ("kind=blaster", "kind"),
        ("since=yesterdayish", "since"),
        ("bbox=1,2", "bbox"),
    ] {
        let r = http.get(&format!("/api/cases?{q}"));
        assert_eq!(r.status, 400, "{q}");
        check_schema("error.json", &r.json());
        assert!(
            r.json()["error"].as_str().unwrap().contains(says),
            "{q}: {}",
            r.body_text()
        );
    }
    // one case with its history, reasons explained
    for kind in ["fake_bts", "sim_farm", "spam_sim"] {
        let id = first_of_kind(kind);
        let r = http.get(&format!("/api/cases/{id}"));
        assert_eq!(r.status, 200);
        let v = r.json();
        check_schema("case-detail.json", &v);
        assert_eq!(v["case"]["case_id"], id.as_str());
        assert_eq!(v["allowed_next"], json!(["handed_over"]));
        for r in v["reasons"].as_array().unwrap() {
            assert!(r["meaning"].is_string(), "{kind}: {r} is explained");
        }
    }
    let r = http.get("/api/cases/no-such-case");
    assert_eq!(r.status, 404);
    check_schema("error.json", &r.json());
    let s = http.get("/api/session").json();
    check_schema("session.json", &s);
    assert!(s["user"].is_null());
    // a security header on every answer
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert!(r
        .header("content-security-policy")
        .unwrap()
        .contains("default-src 'self'"));
}

/// Read `/api/events` until a `cases` event names `id`; the event's data.
fn wait_event(base: &str, id: &str, then: impl FnOnce()) -> Value {
    let hostport = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(hostport).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET /api/events HTTP/1.1\r\nHost: {hostport}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let mut r = BufReader::new(s);
    let mut event = String::new();
    let mut hello = false;
    let mut then = Some(then);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "no event for {id}");
        let mut line = String::new();
        assert!(
            r.read_line(&mut line).unwrap() > 0,
            "the event stream ended"
        );
        let line = line.trim_end();
        if let Some(e) = line.strip_prefix("event:") {
            event = e.trim().to_string();
        } else if let Some(d) = line.strip_prefix("data:") {
            if event == "hello" && !hello {
                hello = true;
                (then.take().unwrap())();
            } else if event == "cases" && d.contains(id) {
                return serde_json::from_str(d.trim()).unwrap();
            }
        }
    }
}

#[test]
fn a_change_made_with_the_cli_arrives_live() {
    let folder = Folder::new();
    let out = folder.out();
    let console = Console::start(&[
        "--from",
        out.to_str().unwrap(),
        "--users",
        folder.users().to_str().unwrap(),
    ]);
    let id = first_of_kind("spam_sim");
    let mut http = Http::new(&console.base);
    let before = http.get("/api/cases?status=handed_over").json();
    assert!(!api_ids(&before).contains(&id));
    let ev = wait_event(&console.base, &id, || {
        let o = Command::new(BIN)
            .args([
                "cases",
                "set-status",
                &id,
                "handed_over",
                "--note",
                "from the terminal",
                "--actor",
                "carol",
                "--from",
            ])
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    });
    assert!(ev["revision"].as_u64().unwrap() > before["revision"].as_u64().unwrap());
    let after = http.get("/api/cases?status=handed_over").json();
    assert!(
        api_ids(&after).contains(&id),
        "the list follows without a restart"
    );
    let d = http.get(&format!("/api/cases/{id}")).json();
    assert_eq!(d["history"][0]["actor"], "carol");
    assert_eq!(d["case"]["status"], "handed_over");
}

#[test]
fn a_change_needs_a_login_an_inspector_and_the_csrf_token() {
    let folder = Folder::new();
    let out = folder.out();
    let console = Console::start(&[
        "--from",
        out.to_str().unwrap(),
        "--users",
        folder.users().to_str().unwrap(),
    ]);
    let base = console.base.clone();
    let id = first_of_kind("fake_bts");
    let path = status_path(&id);
    let body = json!({"status": "handed_over", "note": "to the Hanoi team"}).to_string();
    check_schema("status-request.json", &serde_json::from_str(&body).unwrap());

    // nobody logged in, with a valid CSRF token: 401
    let mut anon = Http::new(&base);
    anon.csrf = anon.get("/api/session").json()["csrf"]
        .as_str()
        .map(String::from);
    let r = anon.post(&path, &body);
    assert_eq!(r.status, 401, "{}", r.body_text());
    check_schema("error.json", &r.json());
    // a wrong password: 401, and the session stays anonymous
    assert_eq!(
        Http::new(&base)
            .login(INSPECTOR.0, "not the password")
            .status,
        401
    );
    // an analyst: 403
    let mut analyst = Http::new(&base);
    let r = analyst.login(ANALYST.0, ANALYST.1);
    assert_eq!(r.status, 200);
    check_schema("session.json", &r.json());
    let r = analyst.post(&path, &body);
    assert_eq!(r.status, 403, "{}", r.body_text());
    assert!(r.body_text().contains("analyst"));
    // an inspector without the CSRF token, with a wrong one, from another origin: 403
    let mut insp = Http::new(&base);
    assert_eq!(insp.login(INSPECTOR.0, INSPECTOR.1).status, 200);
    let json_ct = ("Content-Type", "application/json");
    let r = insp.request("POST", &path, &[json_ct], body.as_bytes());
    assert_eq!(r.status, 403, "no token: {}", r.body_text());
    assert!(r.body_text().contains("CSRF"));
    let r = insp.request(
        "POST",
        &path,
        &[json_ct, ("X-CSRF-Token", "forged")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 403, "a wrong token");
    let token = insp.csrf.clone().unwrap();
    let r = insp.request(
        "POST",
        &path,
        &[
            json_ct,
            ("X-CSRF-Token", &token),
            ("Origin", "http://evil.example"),
        ],
        body.as_bytes(),
    );
    assert_eq!(r.status, 403, "a foreign origin: {}", r.body_text());
    // another session's token is not this one's
    assert_ne!(analyst.csrf, insp.csrf);
    let r = insp.request(
        "POST",
        &path,
        &[json_ct, ("X-CSRF-Token", analyst.csrf.as_deref().unwrap())],
        body.as_bytes(),
    );
    assert_eq!(
        r.status, 403,
        "the analyst's token in the inspector's session"
    );
    // bodies: too large (413), not the shape (400), an empty note (400)
    let big = json!({"status": "handed_over", "note": "x".repeat(20_000)}).to_string();
    assert_eq!(insp.post(&path, &big).status, 413);
    assert_eq!(insp.post(&path, r#"{"status":"handed_over"}"#).status, 400);
    assert_eq!(
        insp.post(&path, r#"{"status":"handed_over","note":"  "}"#)
            .status,
        400
    );
    assert_eq!(
        insp.post(&path, r#"{"status":"closed","note":"x"}"#).status,
        400
    );
    assert!(
        http_unchanged(&out, &id),
        "nothing refused reached the audit trail"
    );
    // the inspector with the token: 200, the actor is the logged-in user
    let r = insp.post(&path, &body);
    assert_eq!(r.status, 200, "{}", r.body_text());
    let v = r.json();
    check_schema("status-change.json", &v);
    assert_eq!(v["change"]["actor"], INSPECTOR.0);
    assert_eq!(insp.post(&path, &body).status, 409, "the same step twice");
    let shown = cases_show(&id, &["--from", out.to_str().unwrap()]);
    assert_eq!(shown["case"]["status"], "handed_over");
    assert_eq!(shown["history"].as_array().unwrap().len(), 1);
    assert_eq!(shown["history"][0]["actor"], INSPECTOR.0);
    assert_eq!(shown["history"][0]["note"], "to the Hanoi team");
    // logging out ends the right to change
    let t = insp.csrf.clone().unwrap();
    let r = insp.request("POST", "/api/logout", &[json_ct, ("X-CSRF-Token", &t)], b"");
    assert_eq!(r.status, 200, "{}", r.body_text());
    insp.csrf = r.json()["csrf"].as_str().map(String::from);
    let confirm = json!({"status": "confirmed", "note": "found"}).to_string();
    assert_eq!(insp.post(&path, &confirm).status, 401);
    // an admin may change, and reads the users
    let mut admin = Http::new(&base);
    assert_eq!(admin.login(ADMIN.0, ADMIN.1).status, 200);
    assert_eq!(admin.get("/api/users").status, 200);
    assert_eq!(analyst.get("/api/users").status, 403);
    assert_eq!(admin.post(&path, &confirm).status, 200);
    no_secrets_in_log(&console, &folder, &[&insp, &analyst, &admin]);
}

/// The folder's audit trail has no entry for `id`.
fn http_unchanged(out: &Path, id: &str) -> bool {
    cases_show(id, &["--from", out.to_str().unwrap()])["history"]
        .as_array()
        .unwrap()
        .is_empty()
}

/// The console's log (at debug level) holds no password, password hash, session
/// key or session cookie.
fn no_secrets_in_log(console: &Console, folder: &Folder, sessions: &[&Http]) {
    let log = console.log_text();
    assert!(
        log.contains("console login"),
        "the log is the console's: {log}"
    );
    for (_, pw) in [INSPECTOR, ANALYST, ADMIN] {
        assert!(!log.contains(pw), "a password in the log");
    }
    assert!(
        !log.contains("not the password"),
        "a wrong password in the log"
    );
    let users = std::fs::read_to_string(folder.users()).unwrap();
    for hash in users
        .lines()
        .filter_map(|l| l.strip_prefix("password_hash = "))
    {
        let hash = hash.trim_matches('"');
        assert!(!log.contains(hash), "a hash in the log");
        let salt = hash.split('$').nth(4).unwrap();
        assert!(!log.contains(salt), "a salt in the log");
    }
    assert!(!log.contains("$argon2"), "argon2 material in the log");
    let key = std::fs::read_to_string(format!("{}.key", folder.users().display())).unwrap();
    let key = key.trim();
    assert!(key.len() >= 32);
    assert!(!log.contains(&key[..16]), "the session key in the log");
    for s in sessions {
        let cookie = s.cookie.as_deref().unwrap();
        let value = cookie.split_once('=').unwrap().1;
        assert!(!log.contains(value), "a session cookie in the log");
        assert!(!log.contains(&value[..20]), "a session id in the log");
        assert!(
            !log.contains(s.csrf.as_deref().unwrap()),
            "a CSRF token in the log"
        );
    }
}

#[test]
fn reading_is_open_on_loopback_and_needs_a_login_elsewhere() {
    let config = cellwatch::config::Config::default();
    assert_eq!(
        config.console.listen, "127.0.0.1:8080",
        "loopback by default"
    );
    assert!(cellwatch::console::listen_is_loopback(
        &config.console.listen
    ));
    assert!(!cellwatch::console::listen_is_loopback("0.0.0.0:8080"));
    assert!(
        !config.http.console,
        "cellwatch run serves no console unless asked"
    );

    let folder = Folder::new();
    let out = folder.out();
    let console = Console::start_on(
        "0.0.0.0:0",
        &[
            "--from",
            out.to_str().unwrap(),
            "--users",
            folder.users().to_str().unwrap(),
        ],
    );
    let base = console.base.replace("0.0.0.0", "127.0.0.1");
    let mut anon = Http::new(&base);
    assert_eq!(
        anon.get("/").status,
        200,
        "the page itself, for its login form"
    );
    let s = anon.get("/api/session").json();
    assert_eq!(s["login_to_read"], true);
    for path in [
        "/api/cases",
        "/api/cases/x",
        "/api/events",
        "/api/cells",
        "/api/config",
    ] {
        assert_eq!(
            anon.get(path).status,
            401,
            "{path} without a login beyond loopback"
        );
    }
    let mut analyst = Http::new(&base);
    assert_eq!(analyst.login(ANALYST.0, ANALYST.1).status, 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    while analyst.get("/api/cases").json()["loaded"] != true {
        assert!(Instant::now() < deadline, "cases never loaded");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        api_ids(&analyst.get("/api/cases?status=open").json()).len(),
        scenario_cases().len()
    );
    assert!(
        console.log_text().contains("beyond loopback"),
        "a warning when listening beyond loopback"
    );
}

#[test]
fn a_case_page_reads_the_evidence_and_downloads_a_package_that_verifies() {
    let folder = Folder::new();
    let out = folder.out();
    let cells = cells_csv();
    let console = Console::start(&[
        "--from",
        out.to_str().unwrap(),
        "--cells",
        cells.to_str().unwrap(),
        "--users",
        folder.users().to_str().unwrap(),
    ]);
    let mut http = Http::new(&console.base);
    let farm = scenario_cases()
        .into_iter()
        .find(|c| c["kind"] == "sim_farm")
        .unwrap();
    let id = farm["case_id"].as_str().unwrap();
    let ev = http.get(&format!("/api/cases/{id}/evidence")).json();
    assert_eq!(ev["case_id"], id);
    assert!(ev["total_records"].as_u64().unwrap() > 0);
    let members: Vec<&str> = ev["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["sim"].as_str().unwrap())
        .collect();
    let sims: Vec<&str> = farm["sims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(
        sims.iter().all(|s| members.contains(s)),
        "every SIM of the farm is a member"
    );
    assert!(!ev["devices"].as_array().unwrap().is_empty());
    assert!(ev["timeline_svg"].as_str().unwrap().starts_with("<svg"));

    let r = http.get(&format!("/api/cases/{id}/package"));
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(r.header("content-type"), Some("application/x-tar"));
    assert!(r.header("content-disposition").unwrap().contains(".tar"));
    let dir = tempfile::tempdir().unwrap();
    tar::Archive::new(r.body.as_slice())
        .unpack(dir.path())
        .unwrap();
    let pkg = dir.path().join(format!("evidence-{id}"));
    let o = Command::new(BIN)
        .args(["cases", "verify", "--evidence"])
        .arg(&pkg)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "the downloaded package verifies: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
