//! The analyst console in a real browser (Debian's headless Chromium over the
//! DevTools protocol, see tests/console_support/cdp.rs), on a replay folder made by
//! simulate + replay of one seed: the map draws the transmitters, the blaster's
//! track and the farms at their serving cells; the list follows the filters exactly
//! as `cellwatch cases list` does; a change made with the CLI shows without a
//! reload; an inspector's status change shows in the audit
//! trail and in `cellwatch cases show`, the same change by an analyst or without a
//! login is refused. Screenshots go to target/console-screenshots/.

mod console_support;

use console_support::cdp::Browser;
use console_support::*;
use serde_json::Value;
use std::process::Command;

/// `cellwatch cases list --from DIR --json ARGS…`, the ids sorted.
fn cli_ids(out: &std::path::Path, args: &[&str]) -> Vec<String> {
    let mut ids = cli_case_ids(out, args);
    ids.sort();
    ids
}

fn page_ids(b: &mut Browser) -> Vec<String> {
    let v = b.eval("[...document.querySelectorAll('.case-row')].map(r => r.dataset.caseId)");
    let mut ids: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn count(b: &mut Browser, selector: &str) -> u64 {
    b.eval(&format!("document.querySelectorAll({selector:?}).length"))
        .as_u64()
        .unwrap()
}

/// Set a form field and fire the events a person's typing would.
fn set_field(b: &mut Browser, selector: &str, value: &str) {
    b.eval(&format!(
        "(() => {{ const e = document.querySelector({selector:?}); e.value = {value:?}; e.dispatchEvent(new Event('input', {{bubbles: true}})); e.dispatchEvent(new Event('change', {{bubbles: true}})); }})()"
    ));
}

fn wait_list(b: &mut Browser, total: usize, what: &str) {
    b.wait_for(
        &format!("document.getElementById('case-count') && document.getElementById('case-count').dataset.total === '{total}' && document.querySelectorAll('.case-row').length === {total}"),
        20,
        what,
    );
}

#[test]
fn the_map_draws_cases_the_list_follows_the_filters_and_changes_arrive_live() {
    let folder = Folder::new();
    let cells = cells_csv();
    let console = Console::start(&[
        "--from",
        folder.out().to_str().unwrap(),
        "--cells",
        cells.to_str().unwrap(),
        "--users",
        folder.users().to_str().unwrap(),
    ]);
    let cases = scenario_cases();
    let bts: Vec<&Value> = cases.iter().filter(|c| c["kind"] == "fake_bts").collect();
    let tracked: Vec<&Value> = bts
        .iter()
        .copied()
        .filter(|c| c["track"].as_array().is_some_and(|t| t.len() >= 2))
        .collect();
    assert!(!tracked.is_empty(), "seed {SEED} has a moving blaster");
    let api = Http::new(&console.base)
        .get("/api/cases?kind=sim_farm")
        .json();
    let farm_places: usize = api["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["places"].as_array().unwrap().len())
        .sum();
    assert!(
        farm_places > 0,
        "farms are placed at their serving cells with --cells"
    );

    let mut b = Browser::launch();
    b.goto(&format!("{}/#/", console.base));
    b.wait_for(
        "document.body.dataset.listLoaded === 'true'",
        30,
        "the case list",
    );
    // every open case is listed (the default status filter is open + handed over)
    wait_list(&mut b, cases.len(), "all cases listed");
    assert_eq!(
        page_ids(&mut b),
        cli_ids(&folder.out(), &["--status", "open,handed_over"])
    );
    // markers: one position per transmitter with its uncertainty circle, the track
    // of the moving blaster, farms at their serving cells, registered cells
    b.wait_for(
        "document.querySelectorAll('path.cw-cell').length > 0",
        20,
        "registered cells drawn",
    );
    assert_eq!(count(&mut b, "path.cw-bts") as usize, bts.len());
    assert_eq!(count(&mut b, "path.cw-uncertainty") as usize, bts.len());
    assert_eq!(count(&mut b, "path.cw-track") as usize, tracked.len());
    assert_eq!(count(&mut b, "path.cw-farm") as usize, farm_places);
    let points: usize = tracked
        .iter()
        .map(|c| c["track"].as_array().unwrap().len())
        .sum();
    assert_eq!(count(&mut b, "path.cw-track-point") as usize, points);
    let bbox = b.eval("(() => { const r = document.querySelector('path.cw-track').getBoundingClientRect(); return [r.width, r.height]; })()");
    let (w, h) = (bbox[0].as_f64().unwrap(), bbox[1].as_f64().unwrap());
    assert!(
        w.max(h) > 40.0,
        "the track is visible on the map, not a dot: {w}×{h} px"
    );
    b.screenshot(&screenshot_dir().join("map.png"));

    // live: a change made elsewhere (here `cellwatch cases set-status`) shows in the
    // list without a reload of the page
    b.eval("window.__samePage = true");
    let farm = cases.iter().find(|c| c["kind"] == "sim_farm").unwrap()["case_id"]
        .as_str()
        .unwrap();
    let o = Command::new(BIN)
        .args([
            "cases",
            "set-status",
            farm,
            "handed_over",
            "--note",
            "live",
            "--actor",
            "carol",
            "--from",
        ])
        .arg(folder.out())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    b.wait_for(
        &format!("document.querySelector('.case-row[data-case-id={farm:?}]').dataset.status === 'handed_over' && document.querySelector('.case-row[data-case-id={farm:?}] .badge.status-handed_over') !== null"),
        20,
        "the CLI's change in the list",
    );
    assert_eq!(
        b.eval("window.__samePage === true"),
        serde_json::json!(true),
        "no reload"
    );

    // kind filter: transmitters only, on the map and in the list
    b.eval("document.querySelector('input[name=kind][value=sim_farm]').click()");
    b.eval("document.querySelector('input[name=kind][value=spam_sim]').click()");
    wait_list(&mut b, bts.len(), "transmitters only");
    assert_eq!(
        page_ids(&mut b),
        cli_ids(
            &folder.out(),
            &["--kind", "fake_bts", "--status", "open,handed_over"]
        )
    );
    assert_eq!(
        count(&mut b, "path.cw-farm"),
        0,
        "farms left the map with the filter"
    );
    // minimum score, as `cases list --min-score`
    let min = bts
        .iter()
        .map(|c| c["score"].as_f64().unwrap())
        .fold(f64::MAX, f64::min)
        + 0.0005;
    let expected = cli_ids(
        &folder.out(),
        &[
            "--kind",
            "fake_bts",
            "--status",
            "open,handed_over",
            "--min-score",
            &format!("{min}"),
        ],
    );
    assert!(expected.len() < bts.len());
    set_field(&mut b, "input[name=min_score]", &format!("{min}"));
    wait_list(&mut b, expected.len(), "minimum score");
    assert_eq!(page_ids(&mut b), expected);
    assert_eq!(count(&mut b, "path.cw-bts") as usize, expected.len());
    set_field(&mut b, "input[name=min_score]", "");
    // the time bar: the last hour of the scenario, as `cases list --since`
    b.eval("document.querySelector('input[name=kind][value=sim_farm]').click()");
    b.eval("document.querySelector('input[name=kind][value=spam_sim]').click()");
    set_field(&mut b, "#window", "3600000");
    let since = b
        .wait_for("window.cellwatch.filters.since()", 10, "the window start")
        .as_i64()
        .unwrap();
    let expected = cli_ids(
        &folder.out(),
        &[
            "--status",
            "open,handed_over",
            "--since",
            &since.to_string(),
        ],
    );
    wait_list(&mut b, expected.len(), "last hour");
    assert_eq!(page_ids(&mut b), expected);
    // the slider half way: until then, over the last hour
    set_field(&mut b, "#time", "500");
    let until = b
        .wait_for("window.cellwatch.filters.until()", 10, "the slider time")
        .as_i64()
        .unwrap();
    let since = b.eval("window.cellwatch.filters.since()").as_i64().unwrap();
    assert_eq!(until - since, 3_600_000);
    let expected = cli_ids(
        &folder.out(),
        &[
            "--status",
            "open,handed_over",
            "--since",
            &since.to_string(),
            "--until",
            &(until + 1).to_string(),
        ],
    );
    wait_list(
        &mut b,
        expected.len(),
        "an hour half way through the scenario",
    );
    assert_eq!(page_ids(&mut b), expected);
    // the blaster's track is cut at the slider: no point after `until`
    let shown = count(&mut b, "path.cw-track-point") as usize;
    let in_window: usize = tracked
        .iter()
        .map(|c| {
            c["track"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| {
                    let ts = p["ts"].as_i64().unwrap();
                    ts >= since && ts <= until
                })
                .count()
        })
        .sum();
    assert_eq!(shown, in_window, "track points inside the time window");
    assert!(
        b.log.iter().all(|l| !l.starts_with("exception")),
        "page errors: {:#?}",
        b.log
    );
}

fn login_in_page(b: &mut Browser, user: &str, password: &str) {
    b.wait_for("document.querySelector('#login')", 10, "the login form");
    b.eval(&format!(
        "(() => {{ const f = document.querySelector('#login'); f.user.value = {user:?}; f.password.value = {password:?}; f.requestSubmit(); }})()"
    ));
    b.wait_for(&format!("document.querySelector('#who') && document.querySelector('#who').textContent.includes({user:?})"), 15, "logged in");
}

/// POST a status change from inside the page (with the page's CSRF token); the status.
fn forced_post(b: &mut Browser, id: &str) -> u64 {
    b.eval(&format!(
        "fetch('/api/cases/' + encodeURIComponent({id:?}) + '/status', {{method: 'POST', headers: {{'Content-Type': 'application/json', 'X-CSRF-Token': window.cellwatch.auth.session.csrf}}, body: JSON.stringify({{status: 'handed_over', note: 'forced'}})}}).then(r => r.status)"
    ))
    .as_u64()
    .unwrap()
}

#[test]
fn an_inspector_changes_a_status_and_an_analyst_or_a_stranger_cannot() {
    let folder = Folder::new();
    let cells = cells_csv();
    let out = folder.out();
    let console = Console::start(&[
        "--from",
        out.to_str().unwrap(),
        "--cells",
        cells.to_str().unwrap(),
        "--users",
        folder.users().to_str().unwrap(),
    ]);
    let cases = scenario_cases();
    let blaster = cases
        .iter()
        .find(|c| c["kind"] == "fake_bts" && c["track"].as_array().is_some_and(|t| t.len() >= 2))
        .unwrap()["case_id"]
        .as_str()
        .unwrap()
        .to_string();
    let farm = cases.iter().find(|c| c["kind"] == "sim_farm").unwrap()["case_id"]
        .as_str()
        .unwrap()
        .to_string();

    let mut b = Browser::launch();
    b.goto(&format!("{}/#/case/{blaster}", console.base));
    b.wait_for(
        &format!("document.body.dataset.caseLoaded === {blaster:?}"),
        30,
        "the case page",
    );
    b.wait_for(
        "document.querySelector('#records table')",
        60,
        "the evidence records",
    );
    let note = b
        .eval("document.querySelector('#actions-note').textContent")
        .as_str()
        .unwrap()
        .to_string();
    assert!(note.contains("Log in as an inspector"), "{note}");
    assert_eq!(forced_post(&mut b, &blaster), 401, "no login: 401");

    login_in_page(&mut b, ANALYST.0, ANALYST.1);
    b.wait_for("document.querySelector('#actions-note') && document.querySelector('#actions-note').textContent.includes('analyst')", 15, "the analyst's note");
    assert_eq!(
        count(&mut b, "#action-form"),
        0,
        "no actions for an analyst"
    );
    assert_eq!(forced_post(&mut b, &blaster), 403, "an analyst: 403");
    b.eval("document.querySelector('#logout').click()");

    login_in_page(&mut b, INSPECTOR.0, INSPECTOR.1);
    b.wait_for(
        "document.querySelector('#action-handed_over')",
        15,
        "the inspector's actions",
    );
    // the map of the case: its track, its position and the reports behind it
    b.wait_for(
        "document.querySelectorAll('#case-map path.cw-obs').length > 0",
        60,
        "observations on the case map",
    );
    assert_eq!(count(&mut b, "#case-map path.cw-track"), 1);
    assert_eq!(count(&mut b, "#case-map path.cw-uncertainty"), 1);
    let reasons = count(&mut b, "table.reasons tbody tr");
    assert!(reasons > 0);
    set_field(
        &mut b,
        "#note",
        "handed to the Hanoi radio inspection team, drive test at 14:00",
    );
    b.eval("document.querySelector('#action-handed_over').click()");
    b.wait_for(
        "[...document.querySelectorAll('.audit-table tbody tr')].some(r => r.textContent.includes('alice') && r.textContent.includes('drive test at 14:00'))",
        15,
        "the change in the audit trail",
    );
    b.wait_for(
        "document.querySelector('#action-confirmed')",
        10,
        "the next steps",
    );
    b.wait_for(
        "document.querySelector('#records table') && document.querySelectorAll('#case-map path.cw-track').length === 1",
        60,
        "the refreshed case page with its records and track",
    );
    assert_eq!(
        b.eval("document.body.innerText.includes('[object')"),
        serde_json::json!(false),
        "every value rendered as text"
    );
    b.screenshot(&screenshot_dir().join("case-fake-bts.png"));
    b.eval("document.querySelector('#audit').scrollIntoView()");
    b.screenshot(&screenshot_dir().join("case-fake-bts-evidence.png"));

    let shown = cases_show(&blaster, &["--from", out.to_str().unwrap()]);
    assert_eq!(shown["case"]["status"], "handed_over");
    let h = &shown["history"][0];
    assert_eq!(h["actor"], "alice", "the actor is the logged-in user");
    assert_eq!(
        h["note"],
        "handed to the Hanoi radio inspection team, drive test at 14:00"
    );
    assert_eq!(h["to_status"], "handed_over");

    // a farm's page: members, devices, serving cells on the map, timeline
    b.goto(&format!("{}/#/case/{farm}", console.base));
    b.wait_for(
        &format!("document.body.dataset.caseLoaded === {farm:?}"),
        30,
        "the farm page",
    );
    b.wait_for(
        "document.querySelector('#members table')",
        30,
        "the farm's members",
    );
    assert!(count(&mut b, "#members tbody tr") >= 2);
    assert!(count(&mut b, "#devices tbody tr") >= 1);
    assert!(count(&mut b, "#timeline svg rect") > 1);
    assert!(
        count(&mut b, "#case-map path.cw-farm") >= 1,
        "the farm at its serving cell"
    );
    assert_eq!(
        b.eval("document.body.innerText.includes('[object')"),
        serde_json::json!(false),
        "every value rendered as text"
    );
    b.screenshot(&screenshot_dir().join("case-farm.png"));
    b.eval("document.querySelector('#members').scrollIntoView()");
    b.screenshot(&screenshot_dir().join("case-farm-members.png"));
    assert!(
        b.log.iter().all(|l| !l.starts_with("exception")),
        "page errors: {:#?}",
        b.log
    );
    drop(console);
}
