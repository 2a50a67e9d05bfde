//! `topology = "staged"`: stage ingest (feed partitions → internal topics) and stage
//! detect (internal topics → detectors → cases), each in its own consumer group, side
//! by side in this process; with `[kafka] measurement_partitions` (or
//! `sms_partitions`) above 1 also that detector's stage B (its stage-B topic →
//! cases), each in a group of its own.
//! Kept apart from the loop because it is where the stages are started, joined and
//! stopped in order.

use super::{
    close, feed_topics, part, GroupConsumer, Part, ServiceLoop, ServiceOptions, READER_STOP,
};
use crate::kafka_failure::FailureWatch;
use crate::model::Feed;
use crate::service::consumer::question_client;
use crate::service::error::ServiceError;
use crate::service::reference::{spawn_reference_reader, ReferenceUpdate};
use crate::service::report::ServiceReport;
use crate::service::stage::{DetectState, IngestState, SplitA, Stage};
use crate::service::topology::{detect_kafka, ensure_internal_topics, stage_b_kafka};
use crate::service::worker::Worker;
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A stage's loop running in a task of its own, and how it ended.
type StageTask = JoinHandle<(Part, Result<(), ServiceError>)>;

/// Run `p`'s loop in a task of its own, with reference updates from `references`
/// (a receiver that never delivers for stage ingest).
fn spawn_loop(
    mut p: Part,
    opts: &ServiceOptions,
    references: Option<mpsc::Receiver<ReferenceUpdate>>,
) -> StageTask {
    let mut stop = opts.shutdown.clone();
    tokio::spawn(async move {
        let (_no_sender, none) = mpsc::channel::<ReferenceUpdate>(1);
        let mut references = references.unwrap_or(none);
        let r = p.consume(&mut references, &mut stop).await;
        (p, r)
    })
}

pub(super) async fn run_staged(
    opts: &ServiceOptions,
    failures: &Arc<FailureWatch>,
    references: &mut mpsc::Receiver<ReferenceUpdate>,
) -> Result<ServiceReport, ServiceError> {
    let config = &opts.config;
    let internal =
        ensure_internal_topics(&config.kafka, config.pipeline.restore_window_secs).await?;
    let internal_feeds: BTreeMap<String, Feed> = internal
        .by_feed
        .iter()
        .map(|(f, (t, _))| (t.clone(), *f))
        .collect();
    let ingest_stage = Stage::Ingest(IngestState {
        internal: internal.by_feed.clone(),
        pending: Vec::new(),
        step_ms: config.pipeline.watermark_step_ms(),
        marked: BTreeMap::new(),
    });
    let ingest = part(
        opts,
        &config.kafka,
        failures,
        feed_topics(config),
        ingest_stage,
    )?;
    let detect_kafka = detect_kafka(&config.kafka);
    let detect_stage = Stage::Detect(DetectState {
        split: internal
            .stage_b
            .iter()
            .map(|(feed, topic)| {
                let topic = topic.clone();
                let outbox = Arc::default();
                (*feed, SplitA { outbox, topic })
            })
            .collect(),
        ..DetectState::default()
    });
    let mut detect = part(opts, &detect_kafka, failures, internal_feeds, detect_stage)?;
    detect.service.upstream = Some(question_client(
        &config.kafka,
        &config.kafka.group_id,
        failures.clone(),
    )?);
    // `processed` and `acknowledged` count feed records (what the demo paces on):
    // stage detect's envelopes are not counted again.
    detect.service.worker.metrics.processed = Arc::default();
    detect.service.worker.metrics.acknowledged = Arc::default();
    let mut stage_bs = Vec::new();
    for (feed, topic) in &internal.stage_b {
        stage_bs.push(start_stage_b(opts, failures, *feed, topic)?);
    }
    opts.metrics.ready.store(true, Ordering::Relaxed);
    let split: Vec<&str> = internal.stage_b.keys().map(|f| f.name()).collect();
    tracing::info!(brokers = %config.kafka.brokers, group = %config.kafka.group_id, detect_group = %detect_kafka.group_id, split = ?split, "cellwatch service started (staged: ingest + detect)");
    if config.kafka.transmitter_partitions > 1 {
        tracing::info!(
            transmitter_partitions = config.kafka.transmitter_partitions,
            tile_km = config.fakebts.regions.tile_km,
            margin_km = config.fakebts.regions.margin_km,
            "fake-BTS stage B keyed by region: one task per transmitter partition owned, each hosting its partition's tiles"
        );
    }
    // The stages run side by side: ingest (and each stage B) in tasks of their own
    // (a burst or a blocking broker call of one stage must not hold the others up),
    // detect here.
    let mut tasks = vec![spawn_loop(ingest, opts, None)];
    let mut readers = Vec::new();
    for (p, rx, reader) in stage_bs {
        tasks.push(spawn_loop(p, opts, rx));
        readers.extend(reader);
    }
    let ended = side_by_side(&mut detect, references, opts, tasks).await;
    end_stages(detect, &detect_kafka.group_id, ended, readers).await
}

/// What [`side_by_side`] gives: the parts of stage ingest and the stage Bs when all
/// ended cleanly, else those that could be recovered and the error.
type Joined = Result<Vec<Part>, (Vec<Part>, ServiceError)>;

/// Run stage detect here while stage ingest and the stage Bs run in their tasks,
/// until all end (shutdown) or one fails: a failure stops the others (the service
/// is failing, the process ends), a clean end (shutdown) waits for all.
async fn side_by_side(
    detect: &mut Part,
    references: &mut mpsc::Receiver<ReferenceUpdate>,
    opts: &ServiceOptions,
    tasks: Vec<StageTask>,
) -> Joined {
    let joined = |e: tokio::task::JoinError| ServiceError::Flush(format!("stage task: {e}"));
    let mut stop_detect = opts.shutdown.clone();
    let aborts: Vec<_> = tasks.iter().map(|t| t.abort_handle()).collect();
    let mut running: FuturesUnordered<StageTask> = tasks.into_iter().collect();
    let mut ended: Vec<Part> = Vec::new();
    let detecting = detect.consume(references, &mut stop_detect);
    tokio::pin!(detecting);
    let mut detect_done = false;
    let failure = loop {
        if detect_done && running.is_empty() {
            break None;
        }
        tokio::select! {
            r = &mut detecting, if !detect_done => match r {
                Ok(()) => detect_done = true,
                Err(e) => break Some(e),
            },
            Some(done) = running.next() => match done {
                Ok((p, Ok(()))) => ended.push(p),
                Ok((p, Err(e))) => {
                    ended.push(p);
                    break Some(e);
                }
                Err(e) => break Some(joined(e)),
            },
        }
    };
    match failure {
        None => Ok(ended),
        Some(e) => {
            // Not awaited: the service is failing, the process ends.
            for a in aborts {
                a.abort();
            }
            Err((ended, e))
        }
    }
}

/// The clean stop of every stage (ingest, detect, then the stage Bs, which read what
/// stage detect produced on its way out), or the failure; the consumers closed.
async fn end_stages(
    detect: Part,
    detect_group: &str,
    ended: Joined,
    readers: Vec<JoinHandle<()>>,
) -> Result<ServiceReport, ServiceError> {
    let Part {
        consumer: detect_consumer,
        service: detect_service,
        ..
    } = detect;
    let (others, outcome) = match ended {
        Ok(parts) => {
            let (ingest, stage_bs): (Vec<Part>, Vec<Part>) = parts
                .into_iter()
                .partition(|p| matches!(p.service.worker.stage, Stage::Ingest(_)));
            let (mut stopped, mut consumers) = match ingest.into_iter().next() {
                Some(i) => {
                    let r =
                        stop_stages(i.service, &i.consumer, detect_service, &detect_consumer).await;
                    (r, vec![(i.consumer, i.group)])
                }
                None => (
                    Err(ServiceError::Flush("stage ingest's loop was lost".into())),
                    Vec::new(),
                ),
            };
            for b in stage_bs {
                // Stage B last: it reads what stage detect produced on its way out.
                let r = b.service.stop(&b.consumer).await;
                stopped = match (stopped, r) {
                    (Ok(mut report), Ok(d)) => {
                        report.case_snapshots += d.case_snapshots;
                        report.finishes += d.finishes;
                        report.rebuilds += d.rebuilds;
                        report.rebuilt_records += d.rebuilt_records;
                        report.consumers_recreated += d.consumers_recreated;
                        Ok(report)
                    }
                    (Err(e), _) | (_, Err(e)) => Err(e),
                };
                consumers.push((b.consumer, b.group));
            }
            (consumers, stopped)
        }
        Err((parts, e)) => {
            // Holds a reference to stage ingest's consumer: gone before it closes.
            drop(detect_service);
            // Each under its own group's name (a stage B's is not ingest's).
            let consumers = parts.into_iter().map(|p| (p.consumer, p.group)).collect();
            (consumers, Err(e))
        }
    };
    let clean = outcome.is_ok();
    for (consumer, group) in others {
        close::close_consumer(consumer, &group, clean).await;
    }
    close::close_consumer(detect_consumer, detect_group, clean).await;
    for reader in readers {
        if tokio::time::timeout(READER_STOP, reader).await.is_err() {
            tracing::warn!("stage B's reference reader still busy at stop; left behind");
        }
    }
    outcome
}

/// A split detector's stage B: its loop over its stage-B topic in a consumer group
/// of its own, and, when it reads reference data (the fake-BTS detector's: the
/// inventory tells it which cells are registered), a reference reader of its own.
#[allow(clippy::type_complexity)]
fn start_stage_b(
    opts: &ServiceOptions,
    failures: &Arc<FailureWatch>,
    feed: Feed,
    topic: &str,
) -> Result<
    (
        Part,
        Option<mpsc::Receiver<ReferenceUpdate>>,
        Option<JoinHandle<()>>,
    ),
    ServiceError,
> {
    let config = &opts.config;
    let kafka = stage_b_kafka(&config.kafka, feed);
    let cells = opts.cells.clone().or_else(|| config.inventory.csv.clone());
    let task = Worker::new_stage_b(config, cells.as_deref(), feed)?;
    let feeds = BTreeMap::from([(topic.to_string(), feed)]);
    let mut p = part(opts, &kafka, failures, feeds, Stage::Cross(task))?;
    p.service.worker.metrics.processed = Arc::default();
    p.service.worker.metrics.acknowledged = Arc::default();
    // At SIGTERM it reads on for stage A's ends only once stage ingest is through.
    p.service.upstream = Some(question_client(
        &config.kafka,
        &config.kafka.group_id,
        failures.clone(),
    )?);
    if feed != Feed::Measurements {
        return Ok((p, None, None));
    }
    let (tx, rx) = mpsc::channel::<ReferenceUpdate>(1024);
    let reader = spawn_reference_reader(&config.kafka, tx, opts.shutdown.clone())?;
    Ok((p, Some(rx), Some(reader)))
}

/// Both stages' clean stop (ingest first: its last offsets are what stage detect's
/// final check waits for); one report.
async fn stop_stages(
    ingest: ServiceLoop,
    ingest_consumer: &GroupConsumer,
    detect: ServiceLoop,
    detect_consumer: &GroupConsumer,
) -> Result<ServiceReport, ServiceError> {
    let mut report = ingest.stop(ingest_consumer).await?;
    let d = detect.stop(detect_consumer).await?;
    report.flushes += d.flushes;
    report.case_snapshots += d.case_snapshots;
    report.finishes += d.finishes;
    report.rebuilds += d.rebuilds;
    report.rebuilt_records += d.rebuilt_records;
    report.consumers_recreated += d.consumers_recreated;
    Ok(report)
}
