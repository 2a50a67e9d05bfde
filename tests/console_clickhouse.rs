//! The console over ClickHouse (one database per test, the real server of
//! scripts/services.sh): `cellwatch run` with `[http] console = true` serves it on
//! its HTTP port next to /metrics, an inspector's change through it lands in the
//! `case_status_log` that `cellwatch cases show` reads, and `cellwatch console`
//! (no `--from`) reads the same store and sees the change.

mod common;
mod console_support;
mod inspect_support;

use cellwatch::config::ClickHouseConfig;
use cellwatch::sink::clickhouse::{migrate, ClickHouse};
use console_support::{cases_show, Console, Http, INSPECTOR};
use serde_json::json;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn cellwatch_run_serves_the_console_and_both_share_the_store() {
    let rt = inspect_support::runtime();
    let config = ClickHouseConfig {
        url: common::clickhouse_url(),
        database: common::unique_name("cw_console"),
        ..Default::default()
    };
    let ch = ClickHouse::new(config.clone());
    rt.block_on(async {
        migrate(&ch).await.unwrap();
        ch.insert_cases(&inspect_support::all_cases())
            .await
            .unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.toml");
    console_support::add_user(&users, INSPECTOR.0, "inspector", INSPECTOR.1);
    let port = free_port();
    let topic = |t: &str| common::unique_name(&format!("cw-console-{t}"));
    let toml = format!(
        r#"[kafka]
brokers = "{brokers}"
group_id = "{group}"

[kafka.topics]
sms_volume = "{sms}"
measurements = "{meas}"
inventory = "{inv}"
allowlist = "{allow}"
cases = "{cases}"
dead_letter = "{dlq}"

[clickhouse]
url = "{url}"
database = "{db}"

[http]
listen = "127.0.0.1:{port}"
console = true

[console]
users_file = "{users}"
poll_ms = 300
"#,
        brokers = common::kafka_brokers(),
        group = topic("group"),
        sms = topic("sms"),
        meas = topic("meas"),
        inv = topic("inv"),
        allow = topic("allow"),
        cases = topic("cases"),
        dlq = topic("dlq"),
        url = config.url,
        db = config.database,
        users = users.display(),
    );
    let config_path = dir.path().join("cellwatch.toml");
    std::fs::write(&config_path, toml).unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let service = Console::run_service(&config_path, &base);
    let mut http = Http::new(&base);
    let list = http.get("/api/cases").json();
    let mut ids: Vec<&str> = list["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["case_id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["bts-test-1", "farm-test-1", "spam-test-1"]);
    assert_eq!(http.get("/api/cases?kind=fake_bts").json()["total"], 1);
    assert_eq!(
        http.get("/healthz").status,
        200,
        "the service's own routes stay"
    );
    let page = http.get("/");
    assert_eq!(page.status, 200);
    assert!(page.body_text().contains("cellwatch console"));

    let mut insp = Http::new(&base);
    assert_eq!(insp.login(INSPECTOR.0, INSPECTOR.1).status, 200);
    let body = json!({"status": "handed_over", "note": "via the service's console"}).to_string();
    let anon = Http::new(&base).post("/api/cases/bts-test-1/status", &body);
    assert_eq!(anon.status, 401);
    let r = insp.post("/api/cases/bts-test-1/status", &body);
    assert_eq!(r.status, 200, "{}\n{}", r.body_text(), service.log_text());
    let store = [
        "--clickhouse-url",
        config.url.as_str(),
        "--database",
        config.database.as_str(),
    ];
    let shown = cases_show("bts-test-1", &store);
    assert_eq!(shown["case"]["status"], "handed_over");
    assert_eq!(shown["history"][0]["actor"], INSPECTOR.0);
    assert_eq!(shown["history"][0]["note"], "via the service's console");
    drop(service);

    // `cellwatch console` over the same database reads the change
    let mut args = store.to_vec();
    let users_s = users.display().to_string();
    args.extend(["--users", users_s.as_str()]);
    let console = Console::start(&args);
    let d = Http::new(&console.base).get("/api/cases/bts-test-1").json();
    assert_eq!(d["case"]["status"], "handed_over");
    assert_eq!(d["history"][0]["actor"], INSPECTOR.0);
    let open = Http::new(&console.base)
        .get("/api/cases?status=open")
        .json();
    assert_eq!(open["total"], 2);
    drop(console);
    rt.block_on(async {
        ch.server_client()
            .query(&format!("DROP DATABASE IF EXISTS {}", config.database))
            .execute()
            .await
            .unwrap();
    });
}
