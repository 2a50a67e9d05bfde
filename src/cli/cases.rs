//! `cellwatch cases list|show|export|set-status|verify`: the inspectors' view of cases,
//! from ClickHouse or, with `--from DIR`, from a replay output folder (no server).

use anyhow::{bail, Context, Result};
use cellwatch::config::Config;
use cellwatch::inspect::cells::CellSites;
use cellwatch::inspect::evidence::{self, PackageInput};
use cellwatch::inspect::export::{
    located_serving_cells, write_export, ExportContext, ExportFormat,
};
use cellwatch::inspect::filter::{parse_kinds, parse_min_score, parse_statuses};
use cellwatch::inspect::store::DEFAULT_TIMEOUT;
use cellwatch::inspect::time::{format_ms, parse_time};
use cellwatch::inspect::{table, BoundingBox, CaseFilter, CaseStore, ClickHouseStore, FolderStore};
use cellwatch::model::{parse_loosely, Case, CaseKind, CaseStatus};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(clap::Args)]
pub(crate) struct CasesArgs {
    #[command(subcommand)]
    command: CasesCommand,
}

#[derive(clap::Subcommand)]
enum CasesCommand {
    /// List cases as a table (or JSON with --json), oldest first.
    List {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        filter: FilterArgs,
        /// Print a JSON array of cases instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one case with its reasons and status history.
    Show {
        /// The case id (from `cases list`).
        case_id: String,
        #[command(flatten)]
        store: StoreArgs,
        /// Print {"case": …, "history": […]} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Export cases (CSV, JSON, GeoJSON, KML), or one case's evidence package.
    Export(ExportArgs),
    /// Move a case along its lifecycle: open → handed_over → confirmed | dismissed.
    SetStatus {
        /// The case id.
        case_id: String,
        /// The new status: handed_over, confirmed or dismissed.
        status: String,
        /// Why (kept in the append-only audit trail).
        #[arg(long)]
        note: String,
        /// Who makes the change; defaults to $USER.
        #[arg(long)]
        actor: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
        /// Print the stored change as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check an evidence package against its SHA-256 manifest.
    Verify {
        /// The package folder.
        #[arg(long, value_name = "DIR")]
        evidence: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

/// Where cases come from (shared with `cellwatch console`).
#[derive(clap::Args)]
pub(crate) struct StoreArgs {
    /// Read a replay output folder instead of ClickHouse (its status changes go to
    /// DIR/case_status_log.jsonl).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["clickhouse_url", "database"])]
    pub(crate) from: Option<PathBuf>,
    /// Configuration file (TOML) for [clickhouse]; CELLWATCH_* variables override it.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// ClickHouse HTTP URL (overrides the config).
    #[arg(long, value_name = "URL")]
    clickhouse_url: Option<String>,
    /// ClickHouse database (overrides the config).
    #[arg(long)]
    database: Option<String>,
    /// Give up on a ClickHouse call after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_TIMEOUT.as_secs())]
    timeout_secs: u64,
}

impl StoreArgs {
    /// `[clickhouse]` with the command line's URL and database applied.
    pub(crate) fn clickhouse(&self, config: &Config) -> cellwatch::config::ClickHouseConfig {
        let mut ch = config.clickhouse.clone();
        if let Some(u) = &self.clickhouse_url {
            ch.url = u.clone();
        }
        if let Some(d) = &self.database {
            ch.database = d.clone();
        }
        ch
    }

    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }
}

#[derive(clap::Args)]
struct FilterArgs {
    /// Case kinds, comma-separated: spam_sim, sim_farm, fake_bts.
    #[arg(long, value_name = "LIST")]
    kind: Option<String>,
    /// Statuses, comma-separated: open, handed_over, confirmed, dismissed.
    #[arg(long, value_name = "LIST")]
    status: Option<String>,
    /// Cases with evidence at or after this time (2025-03-01, RFC 3339, epoch ms, or 24h / 7d ago).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Cases with evidence before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Operator code (SIM cases) or claimed PLMN (fake BTS), e.g. 45204.
    #[arg(long, value_name = "CODE")]
    operator: Option<String>,
    /// Only cases located inside min_lon,min_lat,max_lon,max_lat.
    #[arg(long, value_name = "BOX", allow_hyphen_values = true)]
    bbox: Option<String>,
    /// Only cases with at least this score (0..1).
    #[arg(long, value_name = "SCORE")]
    min_score: Option<String>,
    /// At most this many cases.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
}

#[derive(clap::Args)]
struct ExportArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    filter: FilterArgs,
    /// Export only this case.
    #[arg(long, value_name = "ID")]
    case: Option<String>,
    /// csv, json, geojson or kml; by default from the --output extension.
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Output file (standard output when omitted); written whole or not at all.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Write the evidence package of --case into this new folder.
    #[arg(long, value_name = "DIR", requires = "case", conflicts_with_all = ["format", "output"])]
    evidence: Option<PathBuf>,
    /// Registered-cell CSV (OpenCellID order): cells near the case on the map, SIM cases
    /// placed at their serving cells in GeoJSON/KML. Defaults to [inventory] csv.
    #[arg(long, value_name = "FILE")]
    cells: Option<PathBuf>,
}

impl FilterArgs {
    fn to_filter(&self, now_ms: i64) -> Result<CaseFilter> {
        let time = |flag: &str, v: &Option<String>| -> Result<Option<i64>> {
            v.as_deref()
                .map(|t| parse_time(t, now_ms).map_err(|m| anyhow::anyhow!("invalid {flag}: {m}")))
                .transpose()
        };
        let f = CaseFilter {
            kinds: self
                .kind
                .as_deref()
                .map(parse_kinds)
                .transpose()?
                .unwrap_or_default(),
            statuses: self
                .status
                .as_deref()
                .map(parse_statuses)
                .transpose()?
                .unwrap_or_default(),
            since_ms: time("--since", &self.since)?,
            until_ms: time("--until", &self.until)?,
            operator: self.operator.clone(),
            bbox: self.bbox.as_deref().map(BoundingBox::parse).transpose()?,
            min_score: self.min_score.as_deref().map(parse_min_score).transpose()?,
            limit: self.limit,
        };
        f.validate()?;
        Ok(f)
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub(crate) fn run(args: CasesArgs) -> Result<()> {
    if let CasesCommand::Verify { evidence, json } = &args.command {
        return verify(evidence, *json);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(dispatch(args.command))
}

fn store_args(cmd: &CasesCommand) -> &StoreArgs {
    match cmd {
        CasesCommand::List { store, .. }
        | CasesCommand::Show { store, .. }
        | CasesCommand::SetStatus { store, .. } => store,
        CasesCommand::Export(e) => &e.store,
        CasesCommand::Verify { .. } => unreachable!("verify needs no store"),
    }
}

async fn dispatch(cmd: CasesCommand) -> Result<()> {
    let sa = store_args(&cmd);
    let config = Config::load(sa.config.as_deref())?;
    if let Some(dir) = &sa.from {
        let store = FolderStore::open(dir)?;
        return execute(&store, cmd, &config).await;
    }
    let store = ClickHouseStore::connect(sa.clickhouse(&config), sa.timeout()).await?;
    execute(&store, cmd, &config).await
}

async fn execute<S: CaseStore>(store: &S, cmd: CasesCommand, config: &Config) -> Result<()> {
    let now = now_ms();
    match cmd {
        CasesCommand::List { filter, json, .. } => {
            let f = filter.to_filter(now)?;
            let cases = store.list(&f).await?;
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &cases)?;
                writeln!(out)?;
            } else {
                out.write_all(table::case_list(&cases).as_bytes())?;
            }
        }
        CasesCommand::Show { case_id, json, .. } => {
            let case = store.get(&case_id).await?;
            let history = store.history(&case_id).await?;
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(
                    &mut out,
                    &serde_json::json!({ "case": case, "history": history }),
                )?;
                writeln!(out)?;
            } else {
                out.write_all(table::case_detail(&case, &history).as_bytes())?;
            }
        }
        CasesCommand::SetStatus {
            case_id,
            status,
            note,
            actor,
            json,
            ..
        } => {
            // The statuses a change can go to (open is where every case starts).
            let to = parse_loosely::<CaseStatus>(&status).ok().with_context(|| {
                format!("{status:?} is not a status; use handed_over, confirmed or dismissed")
            })?;
            let actor = match actor {
                Some(a) => a,
                None => login_name().context(
                    "no --actor given and the user name is unknown ($USER is not set); say who makes the change with --actor NAME",
                )?,
            };
            let change =
                cellwatch::inspect::set_status(store, &case_id, to, &actor, &note, now).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&change)?);
            } else {
                println!(
                    "case {}: {} → {} by {} at {}",
                    change.case_id,
                    change.from_status.as_str(),
                    change.to_status.as_str(),
                    change.actor,
                    format_ms(change.changed_at)
                );
            }
        }
        CasesCommand::Export(e) => export(store, e, config, now).await?,
        CasesCommand::Verify { .. } => unreachable!("handled before"),
    }
    Ok(())
}

/// `$USER`, `$LOGNAME`, else what `id -un` says.
fn login_name() -> Option<String> {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .or_else(|| {
            let out = std::process::Command::new("id").arg("-un").output().ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        })
        .filter(|u| !u.trim().is_empty())
}

fn load_sites(cells: Option<&Path>) -> Result<Option<(CellSites, String)>> {
    match cells {
        Some(p) => Ok(Some((CellSites::load(p)?, p.display().to_string()))),
        None => Ok(None),
    }
}

async fn export<S: CaseStore>(store: &S, e: ExportArgs, config: &Config, now: i64) -> Result<()> {
    let cells_path = e.cells.clone().or_else(|| config.inventory.csv.clone());
    if let Some(dir) = &e.evidence {
        let id = e.case.as_deref().context("--evidence needs --case ID")?;
        return export_evidence(store, id, dir, cells_path.as_deref(), now).await;
    }
    let format = export_format(&e)?;
    let cases = match &e.case {
        Some(id) => vec![store.get(id).await?],
        None => store.list(&e.filter.to_filter(now)?).await?,
    };
    let sites = load_sites(cells_path.as_deref())?;
    let mut ctx = ExportContext {
        evidence: Default::default(),
        sites: sites.as_ref().map(|(s, _)| s),
    };
    if format.is_geographic() {
        ctx.evidence = store.evidence(&cases).await?;
        note_cases_without_geometry(&cases, &ctx);
    }
    match &e.output {
        None => {
            let mut out = std::io::stdout().lock();
            write_export(format, &cases, &ctx, &mut out)?;
            out.flush()?;
        }
        Some(path) => {
            write_atomically(path, |w| write_export(format, &cases, &ctx, w))?;
            eprintln!("{} case(s) exported to {}", cases.len(), path.display());
        }
    }
    Ok(())
}

/// `--evidence DIR`: the evidence package of one case.
async fn export_evidence<S: CaseStore>(
    store: &S,
    id: &str,
    dir: &Path,
    cells_path: Option<&Path>,
    now: i64,
) -> Result<()> {
    let case = store.get(id).await?;
    let history = store.history(id).await?;
    let mut evidence = store.evidence(std::slice::from_ref(&case)).await?;
    let records = evidence.remove(id).unwrap_or_default();
    let sites = load_sites(cells_path)?;
    let report = evidence::write_package(
        dir,
        &PackageInput {
            case: &case,
            history: &history,
            records: &records,
            sites: sites.as_ref().map(|(s, _)| s),
            sites_source: sites.as_ref().map(|(_, p)| p.clone()),
            source: store.describe(),
            generated_at_ms: now,
        },
    )?;
    eprintln!(
        "evidence package of case {} written to {}: {} record(s), {} registered cell(s) on the map, {} file(s) in manifest.sha256",
        report.case_id,
        report.dir.display(),
        report.records,
        report.nearby_cells,
        report.files.len()
    );
    Ok(())
}

/// The format `--format` names, else the one `--output`'s extension implies.
fn export_format(e: &ExportArgs) -> Result<ExportFormat> {
    Ok(match (&e.format, &e.output) {
        (Some(f), _) => ExportFormat::parse(f)?,
        (None, Some(p)) => ExportFormat::from_path(p).with_context(|| {
            format!(
                "cannot tell the format from {}; give --format csv, json, geojson or kml",
                p.display()
            )
        })?,
        (None, None) => bail!(
            "give --format csv, json, geojson or kml (or --output FILE with such an extension)"
        ),
    })
}

/// Tell on standard error how many cases a map export leaves out for want of geometry.
fn note_cases_without_geometry(cases: &[Case], ctx: &ExportContext<'_>) {
    let unplaced = cases
        .iter()
        .filter(|c| c.kind != CaseKind::FakeBts)
        .filter(|c| located_serving_cells(c, ctx.records(&c.case_id), ctx.sites).is_empty())
        .count();
    let unlocated = cases
        .iter()
        .filter(|c| c.kind == CaseKind::FakeBts && c.location.is_none() && c.track.len() < 2)
        .count();
    if unplaced + unlocated > 0 {
        eprintln!(
            "note: {} case(s) have no geometry and are left out of the map layers{}",
            unplaced + unlocated,
            if ctx.sites.is_none() && unplaced > 0 {
                " (SIM cases are placed at their serving cells with --cells FILE)"
            } else {
                ""
            }
        );
    }
}

/// Write a file through a temporary sibling and a rename: all or nothing.
pub(crate) fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "out".into());
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let f = std::fs::File::create(&tmp)?;
        let mut w = std::io::BufWriter::new(f);
        fill(&mut w)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(err) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(err).with_context(|| {
            format!(
                "cannot write {}; check that the folder exists and is writable",
                path.display()
            )
        });
    }
    Ok(())
}

fn verify(dir: &Path, json: bool) -> Result<()> {
    let v = evidence::verify(dir)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{} file(s) intact", v.intact.len());
        for (what, list) in [
            ("modified", &v.modified),
            ("missing", &v.missing),
            ("not in the manifest", &v.unlisted),
        ] {
            for f in list {
                println!("{what}: {f}");
            }
        }
    }
    if !v.is_intact() {
        bail!(
            "evidence package {} does not match its manifest ({} modified, {} missing, {} added); do not rely on it, export it again from the source",
            dir.display(),
            v.modified.len(),
            v.missing.len(),
            v.unlisted.len()
        );
    }
    Ok(())
}
