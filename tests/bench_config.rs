//! `cellwatch bench --config FILE` measures that configuration in its child processes
//! too: the state measurements run in children (`child-state-sims`,
//! `child-state-identities`), which load their configuration themselves and once
//! ran with the defaults whatever file the harness was given.

use std::process::Command;

#[test]
fn the_state_children_run_with_the_harness_configuration() {
    let dir = tempfile::tempdir().unwrap();
    // at most 8 kept reports per transmitter (the defaults keep 128 and 400): on the
    // small scenario the defaults keep ≈ 370 bytes of reports per identity
    let config = dir.path().join("cap8.toml");
    std::fs::write(
        &config,
        "[fakebts]\nmax_observations = 8\nmax_candidate_observations = 8\n",
    )
    .unwrap();
    let (out, json) = (dir.path().join("B.md"), dir.path().join("bench.json"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cellwatch"));
    for (name, _) in std::env::vars() {
        if name.starts_with("CELLWATCH_") {
            cmd.env_remove(name);
        }
    }
    let run = cmd
        .args([
            "bench",
            "--only",
            "state",
            "--scales",
            "small",
            "--no-kafka",
        ])
        .args(["--sims", "2000", "--seed", "7"])
        .arg("--config")
        .arg(&config)
        .arg("--work")
        .arg(dir.path().join("work"))
        .arg("--out")
        .arg(&out)
        .arg("--json")
        .arg(&json)
        .output()
        .expect("the cellwatch binary runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let ids = &report["identity_state"];
    let identities = ids["identities_tracked"].as_f64().unwrap();
    let emitters = ids["emitters_tracked"].as_f64().unwrap();
    let kept = ids["detector_bytes_by_part"]["observations"]
        .as_f64()
        .unwrap();
    assert!(identities > 0.0 && emitters > 0.0, "{ids}");
    // 24 bytes a kept report, at most 8 per transmitter, rounded per identity
    let most = (8.0 * 24.0 * emitters / identities).ceil();
    assert!(
        kept <= most,
        "kept reports {kept} B per identity above {most}: the child ran without the file"
    );
    assert!(report["sim_state"]["tracked_sims"].as_u64().unwrap() > 0);
    // the report says which file
    assert_eq!(report["config_file"].as_str(), config.to_str());
    let markdown = std::fs::read_to_string(&out).unwrap();
    assert!(
        markdown.contains(&format!("**Configuration:** `{}`", config.display())),
        "{markdown}"
    );
}
