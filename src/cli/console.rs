//! `cellwatch console`: the analyst console (web page and JSON API) over ClickHouse
//! or a replay folder, and `cellwatch console user add|remove|list` for its users.

use super::cases::StoreArgs;
use anyhow::{bail, Context, Result};
use cellwatch::config::Config;
use cellwatch::console::{self, ConsoleOptions, ConsoleStore, Role, StoreSource, UsersFile};
use cellwatch::inspect::{ClickHouseStore, FolderStore};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct ConsoleArgs {
    #[command(subcommand)]
    command: Option<ConsoleCommand>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(clap::Subcommand)]
enum ConsoleCommand {
    /// Manage the console's users (names, roles, argon2 password hashes).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(clap::Subcommand)]
enum UserCommand {
    /// Add a user; the password is read from the terminal (twice, not shown) or from
    /// the first line of standard input, never from the command line.
    Add {
        name: String,
        /// analyst (read), inspector (read and change status) or admin.
        #[arg(long)]
        role: String,
        /// Set a new role and password for an existing user.
        #[arg(long)]
        replace: bool,
        #[command(flatten)]
        file: UsersFileArgs,
    },
    /// Remove a user (their sessions end at their next request).
    Remove {
        name: String,
        #[command(flatten)]
        file: UsersFileArgs,
    },
    /// List the users and their roles (never the hashes).
    List {
        #[command(flatten)]
        file: UsersFileArgs,
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
struct UsersFileArgs {
    /// The users file (else [console] users_file).
    #[arg(long, value_name = "FILE")]
    users: Option<PathBuf>,
    /// Configuration file (TOML); CELLWATCH_* variables override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Listen address host:port (else [console] listen, 127.0.0.1:8080); port 0
    /// picks a free port.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
    /// Registered-cell CSV (OpenCellID order) for the map's cell layer and to place
    /// SIM cases at their serving cells (else [inventory] csv).
    #[arg(long, value_name = "FILE")]
    cells: Option<PathBuf>,
    /// The users file (else [console] users_file).
    #[arg(long, value_name = "FILE")]
    users: Option<PathBuf>,
}

pub(crate) fn run(args: ConsoleArgs) -> Result<()> {
    match args.command {
        Some(ConsoleCommand::User { command }) => user(command),
        None => serve(args.serve),
    }
}

fn load(file: &UsersFileArgs) -> Result<(Config, PathBuf)> {
    let config = Config::load(file.config.as_deref())?;
    let path = file
        .users
        .clone()
        .unwrap_or_else(|| PathBuf::from(&config.console.users_file));
    Ok((config, path))
}

fn user(cmd: UserCommand) -> Result<()> {
    match cmd {
        UserCommand::Add {
            name,
            role,
            replace,
            file,
        } => {
            let (config, path) = load(&file)?;
            let role = Role::parse(&role).map_err(anyhow::Error::msg)?;
            cellwatch::console::auth::users::check_name(&name).map_err(anyhow::Error::msg)?;
            let mut users = UsersFile::load(&path)?;
            let password = read_password(&name)?;
            let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            users.add(
                &name,
                role,
                &password,
                replace,
                config.console.min_password_chars,
                &now,
            )?;
            users.save()?;
            eprintln!(
                "user {name} ({}) saved in {}",
                role.as_str(),
                path.display()
            );
        }
        UserCommand::Remove { name, file } => {
            let (_, path) = load(&file)?;
            let mut users = UsersFile::load(&path)?;
            users.remove(&name)?;
            users.save()?;
            eprintln!("user {name} removed from {}", path.display());
        }
        UserCommand::List { file, json } => {
            let (_, path) = load(&file)?;
            let users = UsersFile::load(&path)?;
            let rows: Vec<serde_json::Value> = users
                .users()
                .iter()
                .map(|u| serde_json::json!({"name": u.name, "role": u.role.as_str(), "created_at": u.created_at}))
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                let table: Vec<Vec<String>> = users
                    .users()
                    .iter()
                    .map(|u| vec![u.name.clone(), u.role.as_str().into(), u.created_at.clone()])
                    .collect();
                print!(
                    "{}",
                    cellwatch::inspect::table::render_table(&["user", "role", "created"], &table)
                );
            }
        }
    }
    Ok(())
}

/// The password, from the terminal (asked twice, not echoed) or the first line of
/// standard input.
fn read_password(name: &str) -> Result<String> {
    if std::io::stdin().is_terminal() {
        let a = rpassword::prompt_password(format!("password for {name}: "))
            .context("cannot read the password from the terminal")?;
        let b = rpassword::prompt_password("again: ")
            .context("cannot read the password from the terminal")?;
        if a != b {
            bail!("the two passwords differ; nothing was changed");
        }
        return Ok(a);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let pw = line.trim_end_matches(['\n', '\r']).to_string();
    if pw.is_empty() {
        bail!("no password on standard input; pipe it in (e.g. from a password manager) or run in a terminal to be asked");
    }
    Ok(pw)
}

fn serve(args: ServeArgs) -> Result<()> {
    let config = Config::load(args.store.config.as_deref())?;
    let mut cc = config.console.clone();
    if let Some(l) = &args.listen {
        cc.listen = l.clone();
    }
    if let Some(u) = &args.users {
        cc.users_file = u.display().to_string();
    }
    let cells = args.cells.clone().or_else(|| config.inventory.csv.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let store = match &args.store.from {
            Some(dir) => ConsoleStore::Folder(FolderStore::open(dir)?),
            None => ConsoleStore::ClickHouse(Box::new(
                ClickHouseStore::connect(args.store.clickhouse(&config), args.store.timeout())
                    .await?,
            )),
        };
        let described = store.describe();
        let listener = console::bind(&cc.listen).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::watch::channel(false);
        let router = console::router(ConsoleOptions {
            config: cc,
            source: StoreSource::Ready(store),
            cells,
            loopback: addr.ip().is_loopback(),
            shutdown: rx.clone(),
        })?;
        tokio::spawn(async move {
            super::run::shutdown_signal().await;
            tracing::info!("console: shutting down");
            let _ = tx.send(true);
        });
        let mut out = std::io::stdout().lock();
        writeln!(out, "cellwatch console listening on http://{addr}/ (cases from {described})")?;
        out.flush()?;
        drop(out);
        if !addr.ip().is_loopback() {
            tracing::warn!(%addr, "the console listens beyond loopback: every request needs a login; put it behind HTTPS and set [console] cookie_secure = true");
        }
        console::serve(listener, router, rx)
            .await
            .context("the console's HTTP server failed")
    })
}
