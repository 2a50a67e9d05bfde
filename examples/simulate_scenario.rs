//! Generate one scenario and print its summary with the generation time:
//! `cargo run --release --example simulate_scenario -- SEED SCALE OUT_DIR`.

use cellwatch::simulate::{write_scenario, Scale, SimConfig};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let seed: u64 = args.next().unwrap_or_else(|| "1".into()).parse()?;
    let scale: Scale = args.next().unwrap_or_else(|| "small".into()).parse()?;
    let out = PathBuf::from(args.next().unwrap_or_else(|| "target/scenario".into()));
    let started = std::time::Instant::now();
    let summary = write_scenario(&SimConfig { seed, scale }, &out)?;
    let secs = started.elapsed().as_secs_f64();
    let lines = summary.sms_volume_lines + summary.measurement_lines;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    println!(
        "scale={scale} seed={seed} lines={lines} seconds={secs:.2} lines_per_second={:.0}",
        lines as f64 / secs
    );
    Ok(())
}
