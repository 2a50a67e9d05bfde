//! `topology = "staged"`: stage ingest (feed partitions → internal topics) and stage
//! detect (internal topics → detectors → cases), each in its own consumer group, side
//! by side in this process; with `[kafka] measurement_partitions` above 1 also the
//! fake-BTS detector's stage B (its transmitters topic → cases), in a third group.
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
use crate::service::topology::{detect_kafka, ensure_internal_topics, transmitters_kafka};
use crate::service::worker::Worker;
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
    failures: &Arc<FailureWatch>,
    references: Option<mpsc::Receiver<ReferenceUpdate>>,
) -> StageTask {
    let mut stop = opts.shutdown.clone();
    let failures = failures.clone();
    tokio::spawn(async move {
        let (_no_sender, none) = mpsc::channel::<ReferenceUpdate>(1);
        let mut references = references.unwrap_or(none);
        let r = p
            .service
            .consume(
                &p.consumer,
                &p.changes,
                &mut references,
                &mut stop,
                &failures,
            )
            .await;
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
        split: internal.transmitters.clone().map(|topic| SplitA {
            outbox: Arc::default(),
            topic,
        }),
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
    let transmitters = match &internal.transmitters {
        Some(topic) => Some(start_transmitters(opts, failures, topic)?),
        None => None,
    };
    opts.metrics.ready.store(true, Ordering::Relaxed);
    tracing::info!(brokers = %config.kafka.brokers, group = %config.kafka.group_id, detect_group = %detect_kafka.group_id, transmitters = transmitters.is_some(), "cellwatch service started (staged: ingest + detect)");
    // The stages run side by side: ingest (and stage B) in tasks of their own (a
    // burst or a blocking broker call of one stage must not hold the other up),
    // detect here.
    let ingest_task = spawn_loop(ingest, opts, failures, None);
    let (b_task, b_reader) = match transmitters {
        Some((p, rx, reader)) => (Some(spawn_loop(p, opts, failures, Some(rx))), Some(reader)),
        None => (None, None),
    };
    let ended = side_by_side(&mut detect, references, opts, failures, ingest_task, b_task).await;
    end_stages(detect, &detect_kafka.group_id, ended, b_reader).await
}

/// What [`side_by_side`] gives: the parts of stages ingest and B when all ended
/// cleanly, else those that could be recovered and the error.
type Joined = Result<(Part, Option<Part>), (Vec<Part>, ServiceError)>;

/// Run stage detect here while stage ingest (and stage B) run in their tasks, until
/// all end (shutdown) or one fails.
async fn side_by_side(
    detect: &mut Part,
    references: &mut mpsc::Receiver<ReferenceUpdate>,
    opts: &ServiceOptions,
    failures: &Arc<FailureWatch>,
    mut ingest_task: StageTask,
    mut b_task: Option<StageTask>,
) -> Joined {
    let joined = |e: tokio::task::JoinError| ServiceError::Flush(format!("stage task: {e}"));
    let mut stop_detect = opts.shutdown.clone();
    // Either stage failing stops the service; a clean end (shutdown) waits for all.
    {
        let detecting = detect.service.consume(
            &detect.consumer,
            &detect.changes,
            references,
            &mut stop_detect,
            failures,
        );
        tokio::pin!(detecting);
        let first = {
            let b_done = async {
                match b_task.as_mut() {
                    Some(t) => t.await,
                    None => std::future::pending().await,
                }
            };
            tokio::pin!(b_done);
            tokio::select! {
                done = &mut ingest_task => Ended::Ingest(done),
                done = &mut b_done => Ended::B(done),
                r = &mut detecting => Ended::Detect(r),
            }
        };
        match first {
            // Not awaited: the service is failing, the process ends.
            Ended::Detect(Err(e)) => {
                ingest_task.abort();
                if let Some(t) = &b_task {
                    t.abort();
                }
                Err((Vec::new(), e))
            }
            Ended::Ingest(Ok((p, Err(e)))) => {
                if let Some(t) = &b_task {
                    t.abort();
                }
                Err((vec![p], e))
            }
            Ended::B(Ok((b, Err(e)))) => {
                ingest_task.abort();
                Err((vec![b], e))
            }
            Ended::Ingest(Err(e)) | Ended::B(Err(e)) => Err((Vec::new(), joined(e))),
            Ended::Detect(Ok(())) => {
                let ingest = match ingest_task.await {
                    Ok((p, Ok(()))) => Ok(p),
                    Ok((p, Err(e))) => Err((vec![p], e)),
                    Err(e) => Err((Vec::new(), joined(e))),
                };
                match (ingest, b_task) {
                    (Err(e), _) => Err(e),
                    (Ok(p), None) => Ok((p, None)),
                    (Ok(p), Some(t)) => match t.await {
                        Ok((b, Ok(()))) => Ok((p, Some(b))),
                        Ok((b, Err(e))) => Err((vec![p, b], e)),
                        Err(e) => Err((vec![p], joined(e))),
                    },
                }
            }
            Ended::Ingest(Ok((p, Ok(())))) => match (&mut detecting).await {
                Err(e) => Err((vec![p], e)),
                Ok(()) => join_b(p, b_task, joined).await,
            },
            Ended::B(Ok((b, Ok(())))) => match (&mut detecting).await {
                Err(e) => Err((vec![b], e)),
                Ok(()) => match ingest_task.await {
                    Ok((p, Ok(()))) => Ok((p, Some(b))),
                    Ok((p, Err(e))) => Err((vec![p, b], e)),
                    Err(e) => Err((vec![b], joined(e))),
                },
            },
        }
    }
}

/// The clean stop of every stage (ingest, detect, then stage B, which reads what
/// stage detect produced on its way out), or the failure; the consumers closed.
async fn end_stages(
    detect: Part,
    detect_group: &str,
    ended: Joined,
    b_reader: Option<JoinHandle<()>>,
) -> Result<ServiceReport, ServiceError> {
    let Part {
        consumer: detect_consumer,
        service: detect_service,
        ..
    } = detect;
    let (others, outcome) = match ended {
        Ok((ingest, b)) => {
            let mut stopped = stop_stages(
                ingest.service,
                &ingest.consumer,
                detect_service,
                &detect_consumer,
            )
            .await;
            let mut consumers = vec![(ingest.consumer, ingest.group)];
            if let Some(b) = b {
                // Stage B last: it reads what stage detect produced on its way out.
                let r = b.service.stop(&b.consumer).await;
                stopped = match (stopped, r) {
                    (Ok(mut report), Ok(d)) => {
                        report.case_snapshots += d.case_snapshots;
                        report.finishes += d.finishes;
                        report.rebuilds += d.rebuilds;
                        report.rebuilt_records += d.rebuilt_records;
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
            // Each under its own group's name (stage B's is not ingest's).
            let consumers = parts.into_iter().map(|p| (p.consumer, p.group)).collect();
            (consumers, Err(e))
        }
    };
    let clean = outcome.is_ok();
    for (consumer, group) in others {
        close::close_consumer(consumer, &group, clean).await;
    }
    close::close_consumer(detect_consumer, detect_group, clean).await;
    if let Some(reader) = b_reader {
        if tokio::time::timeout(READER_STOP, reader).await.is_err() {
            tracing::warn!("stage B's reference reader still busy at stop; left behind");
        }
    }
    outcome
}

/// Which stage's loop ended first.
enum Ended {
    Ingest(Result<(Part, Result<(), ServiceError>), tokio::task::JoinError>),
    B(Result<(Part, Result<(), ServiceError>), tokio::task::JoinError>),
    Detect(Result<(), ServiceError>),
}

/// Stage ingest and detect ended cleanly: wait for stage B (when there is one).
async fn join_b(
    ingest: Part,
    b_task: Option<StageTask>,
    joined: impl Fn(tokio::task::JoinError) -> ServiceError,
) -> Result<(Part, Option<Part>), (Vec<Part>, ServiceError)> {
    match b_task {
        None => Ok((ingest, None)),
        Some(t) => match t.await {
            Ok((b, Ok(()))) => Ok((ingest, Some(b))),
            Ok((b, Err(e))) => Err((vec![ingest, b], e)),
            Err(e) => Err((vec![ingest], joined(e))),
        },
    }
}

/// Stage B of the fake-BTS detector: its loop over the transmitters topic in a
/// consumer group of its own, and a reference reader of its own (the inventory
/// tells it which cells are registered).
fn start_transmitters(
    opts: &ServiceOptions,
    failures: &Arc<FailureWatch>,
    topic: &str,
) -> Result<(Part, mpsc::Receiver<ReferenceUpdate>, JoinHandle<()>), ServiceError> {
    let config = &opts.config;
    let kafka = transmitters_kafka(&config.kafka);
    let cells = opts.cells.clone().or_else(|| config.inventory.csv.clone());
    let task = Worker::new_transmitters(config, cells.as_deref())?;
    let feeds = BTreeMap::from([(topic.to_string(), Feed::Measurements)]);
    let mut p = part(
        opts,
        &kafka,
        failures,
        feeds,
        Stage::Transmitters(Box::new(task)),
    )?;
    p.service.worker.metrics.processed = Arc::default();
    p.service.worker.metrics.acknowledged = Arc::default();
    // At SIGTERM it reads on for stage A's ends only once stage ingest is through.
    p.service.upstream = Some(question_client(
        &config.kafka,
        &config.kafka.group_id,
        failures.clone(),
    )?);
    let (tx, rx) = mpsc::channel::<ReferenceUpdate>(1024);
    let reader = spawn_reference_reader(&config.kafka, tx, opts.shutdown.clone())?;
    Ok((p, rx, reader))
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
    Ok(report)
}
