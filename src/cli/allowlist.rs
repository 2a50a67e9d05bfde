//! `cellwatch allowlist add|remove|list`: the allowlist of legitimate bulk senders and
//! M2M lines that the spam detector honours, as a file and (with --brokers) the
//! compacted topic cw.allowlist.v1.

use anyhow::{Context, Result};
use cellwatch::allowlist_admin::file::{AddOutcome, PendingEdit};
use cellwatch::allowlist_admin::{self, AllowlistFile};
use cellwatch::config::{Config, KafkaConfig};
use cellwatch::detect::spam::AllowEntry;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args)]
pub(crate) struct AllowlistArgs {
    #[command(subcommand)]
    command: AllowlistCommand,
}

#[derive(clap::Args)]
struct Target {
    /// The allowlist file (`.toml`, else plain text); defaults to [inventory] allowlist.
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Also publish the change to the compacted topic on these Kafka brokers (SASL
    /// and TLS settings from [kafka.librdkafka] in --config and the environment).
    #[arg(long, value_name = "HOST:PORT")]
    brokers: Option<String>,
    /// The allowlist topic.
    #[arg(long, default_value = allowlist_admin::TOPIC)]
    topic: String,
    /// Configuration file (TOML) giving [inventory] allowlist and [kafka.librdkafka].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Give up on Kafka after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    timeout_secs: u64,
}

#[derive(clap::Subcommand)]
enum AllowlistCommand {
    /// Add a SIM (or replace its entry).
    Add {
        /// The SIM pseudonym (never a clear number).
        sim: String,
        /// Only for this operator (e.g. 45204).
        #[arg(long)]
        operator: Option<String>,
        /// What it is: bulk_sender, m2m, school, shop, tv_vote, …
        #[arg(long)]
        kind: Option<String>,
        /// Free text (who vouched, contract number, …).
        #[arg(long)]
        label: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Remove a SIM.
    Remove {
        sim: String,
        #[command(flatten)]
        target: Target,
    },
    /// List the entries of the file, or of the topic with --brokers.
    List {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        json: bool,
    },
}

impl Target {
    /// `[kafka]` of the configuration, its brokers replaced by --brokers.
    fn kafka(&self, brokers: &str) -> Result<KafkaConfig> {
        let mut kafka = Config::load(self.config.as_deref())?.kafka;
        kafka.brokers = brokers.to_string();
        Ok(kafka)
    }

    fn file(&self) -> Result<Option<AllowlistFile>> {
        let config = Config::load(self.config.as_deref())?;
        Ok(self
            .file
            .clone()
            .or(config.inventory.allowlist)
            .map(AllowlistFile::new))
    }

    /// The file to edit: adding and removing need one.
    fn required_file(&self) -> Result<AllowlistFile> {
        self.file()?.context(
            "give the allowlist file with --file FILE (or [inventory] allowlist in --config)",
        )
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }

    /// Publish `change` (SIM, entry or `None` for a removal) to the topic when
    /// --brokers is given, then write the file; if publishing fails, the file is left
    /// as it was.
    fn publish_then_commit(
        &self,
        pending: PendingEdit,
        change: (String, Option<AllowEntry>),
    ) -> Result<()> {
        if let Some(brokers) = &self.brokers {
            let kafka = self.kafka(brokers)?;
            let published = runtime()?.block_on(allowlist_admin::publish(
                &kafka,
                &self.topic,
                &[change],
                self.timeout(),
            ));
            if let Err(e) = published {
                pending.abort();
                return Err(e).context("the file was not changed either");
            }
        }
        pending.commit()?;
        Ok(())
    }

    /// ` and topic NAME` when the change also went to the topic.
    fn topic_note(&self) -> String {
        self.brokers
            .as_ref()
            .map(|_| format!(" and topic {}", self.topic))
            .unwrap_or_default()
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub(crate) fn run(args: AllowlistArgs) -> Result<()> {
    match args.command {
        AllowlistCommand::Add {
            sim,
            operator,
            kind,
            label,
            target,
        } => add(
            AllowEntry {
                sim: sim.trim().to_string(),
                operator,
                kind,
                label,
            },
            &target,
        ),
        AllowlistCommand::Remove { sim, target } => remove(sim.trim(), &target),
        AllowlistCommand::List { target, json } => list(&target, json),
    }
}

fn add(entry: AllowEntry, target: &Target) -> Result<()> {
    let file = target.required_file()?;
    let (pending, outcome) = file.prepare_add(&entry)?;
    target.publish_then_commit(pending, (entry.sim.clone(), Some(entry.clone())))?;
    println!(
        "{} {} in {}{}",
        match outcome {
            AddOutcome::Added => "added",
            AddOutcome::Replaced => "replaced the entry of",
        },
        entry.sim,
        file.path().display(),
        target.topic_note()
    );
    Ok(())
}

fn remove(sim: &str, target: &Target) -> Result<()> {
    let file = target.required_file()?;
    let pending = file.prepare_remove(sim)?;
    target.publish_then_commit(pending, (sim.to_string(), None))?;
    println!(
        "removed {sim} from {}{}",
        file.path().display(),
        target.topic_note()
    );
    Ok(())
}

fn list(target: &Target, json: bool) -> Result<()> {
    let (source, list) = match (&target.brokers, target.file()?) {
        (Some(brokers), _) => (
            format!("topic {} on {brokers}", target.topic),
            allowlist_admin::read_topic(&target.kafka(brokers)?, &target.topic, target.timeout())?,
        ),
        (None, Some(file)) => (file.path().display().to_string(), file.load()?),
        (None, None) => anyhow::bail!(
            "give --file FILE (or [inventory] allowlist in --config) or --brokers HOST:PORT"
        ),
    };
    let entries = list.entries();
    if json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.sim.clone(),
                e.operator.clone().unwrap_or_else(|| "*".into()),
                e.kind.clone().unwrap_or_default(),
                e.label.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print!(
        "{}",
        cellwatch::inspect::table::render_table(&["SIM", "OPERATOR", "KIND", "LABEL"], &rows)
    );
    println!(
        "{} entr{} in {source}",
        entries.len(),
        if entries.len() == 1 { "y" } else { "ies" }
    );
    Ok(())
}
