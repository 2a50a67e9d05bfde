//! Final snapshots on SIGTERM and on revocation: emitted only when the whole input
//! is accounted for (see [`crate::service::caught_up`]'s questions), else a log line
//! says what is still waiting. Kept apart from the loop because it is the one place
//! where the loop waits for the brokers' answers (without blocking its thread).

use super::{feed_topics, GroupConsumer, ServiceLoop};
use crate::model::Feed;
use crate::service::caught_up::{own_backlog, upstream_backlog, Backlog, Position};
use crate::service::consumer::{AssignmentChange, Questions, WorkerContext};
use crate::service::stage::Stage;
use futures_util::StreamExt;
use rdkafka::consumer::{Consumer, MessageStream};
use rdkafka::message::Message;
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long stage detect may take at SIGTERM to account for the whole input: ask
/// the brokers (again, when a loaded broker answered late) and read its internal
/// partitions on to their end once stage ingest has committed every feed partition
/// to its end. With the last answer's own bound (`caught_up::ANSWER_WITHIN`) it
/// stays well inside the 30 s a stop may take.
const ACCOUNT_WITHIN: Duration = Duration::from_secs(15);

/// The pause before asking again: a broker that fails at once (down, refusing
/// connections) is not asked in a tight loop that floods the log for 15 s.
const ASK_AGAIN_AFTER: Duration = Duration::from_millis(250);

/// How long stage detect asks again at SIGTERM while stage ingest's group has not
/// committed every feed partition to its end: when every instance is stopped at
/// once, the others' ingest commits its last offsets at its own stop, a moment
/// after this one asks (seen: one of two instances stopped together found 7,428
/// records of 2 partitions uncommitted and emitted nothing, so stage B waited for
/// its stage-A tasks in vain). A stop in the middle of a stream takes this much
/// longer.
const INGEST_SETTLES_WITHIN: Duration = Duration::from_secs(3);

/// How long stage B reads on at SIGTERM for the `Finished` markers of the stage-A
/// tasks (stopped at the same time, each after its own stage detect's stop, which
/// takes up to [`ACCOUNT_WITHIN`]). With stage detect's own bound it stays inside
/// the 30 s a stop may take.
const B_WAITS_WITHIN: Duration = Duration::from_secs(10);

impl ServiceLoop {
    /// Emit the final snapshots when the whole input is accounted for: they are then
    /// the replay's for everything there is. Single stage: every assigned feed
    /// partition consumed to its end. Stage detect: every feed partition committed to
    /// its end by stage ingest, then every owned internal partition consumed to its
    /// end (at SIGTERM, `read_on` reads on, asking the brokers again when they answer
    /// late, for up to [`ACCOUNT_WITHIN`] to get there).
    /// With records still waiting, the next owner goes on from the committed offsets,
    /// and snapshots of a partial state could show cases the whole stream does not have.
    /// `scope`: only the tasks of these feeds (stage detect, a cooperative rebalance
    /// moving them away while the worker keeps the others), else all.
    pub(super) async fn finish_if_caught_up(
        &mut self,
        consumer: &GroupConsumer,
        why: &'static str,
        read_on: bool,
        scope: Option<&BTreeSet<Feed>>,
    ) {
        if !self.worker.live || matches!(self.worker.stage, Stage::Ingest(_)) {
            return;
        }
        // Stage B of the fake-BTS detector finishes when every stage-A task has (their
        // markers): at SIGTERM it reads on for them; on a revocation its next owner
        // gets them.
        if matches!(self.worker.stage, Stage::Cross(_)) {
            // A standby (it owns no partition) has nothing to finish.
            if read_on && !self.assigned.is_empty() {
                self.finish_transmitters(consumer, why).await;
            }
            return;
        }
        let started = Instant::now();
        let deadline = started + ACCOUNT_WITHIN;
        let mut waiting = loop {
            match ask(self.question(scope)).await {
                // At SIGTERM a loaded broker that answered late is asked again.
                Err(e) if read_on && Instant::now() < deadline => {
                    tracing::info!(error = %e, "the brokers answered late: asking again");
                    tokio::time::sleep(ASK_AGAIN_AFTER).await;
                }
                // Instances stopped together: the others' stage ingest commits its
                // last offsets at its own stop (or within the auto-commit second).
                Ok(("stage ingest", _)) if read_on && started.elapsed() < INGEST_SETTLES_WITHIN => {
                    tokio::time::sleep(ASK_AGAIN_AFTER * 2).await;
                }
                asked => break asked,
            }
        };
        // Only stage detect reads on: its input is complete once ingest has
        // committed every feed partition (the single stage stops where it is).
        let detect = matches!(self.worker.stage, Stage::Detect(_));
        let own = self.worker.stage.name();
        if read_on && detect && matches!(waiting, Ok((at, b)) if at == own && !b.is_empty()) {
            waiting = self.read_to_end(consumer, deadline).await.map(|b| (own, b));
        }
        match waiting {
            Ok((_, b)) if b.is_empty() => {
                tracing::info!(
                    reason = why,
                    stage = self.worker.stage.name(),
                    checked_ms = started.elapsed().as_millis() as u64,
                    "whole input accounted for"
                );
                match scope {
                    Some(feeds) => self.worker.finish_feeds(&mut self.batch, feeds, why),
                    None => self.worker.finish(&mut self.batch, why),
                }
                // Stage A's last forwards and its `Finished` markers, for stage B.
                let mut forwarded = self.worker.take_forwarded();
                self.batch.envelopes.append(&mut forwarded);
            }
            Ok((at, b)) => tracing::info!(
                reason = why,
                stage = self.worker.stage.name(),
                waiting_at = at,
                partitions = b.partitions,
                records = b.records,
                "records still waiting: no final snapshots (the next start goes on)"
            ),
            Err(e) => tracing::warn!(
                reason = why,
                stage = self.worker.stage.name(),
                error = %e,
                "cannot tell whether records are still waiting: no final snapshots (the next start goes on)"
            ),
        }
    }

    /// The question "what is still waiting?" for [`ask`], with what it needs (only
    /// `scope`'s feeds when given).
    fn question(&self, scope: Option<&BTreeSet<Feed>>) -> Question {
        let in_scope = |feed: &Feed| scope.is_none_or(|s| s.contains(feed));
        let upstream = self.upstream.as_ref().map(|reader| {
            let owned = self.worker.upstream_feeds();
            let topics = feed_topics(&self.worker.config)
                .into_iter()
                .filter(|(_, feed)| owned.contains(feed) && in_scope(feed))
                .map(|(topic, _)| topic)
                .collect();
            (reader.clone(), topics)
        });
        let mut positions = self.idleness.positions(&self.worker);
        positions.retain(|(t, _, _)| self.worker.feed_of(t).is_some_and(|f| in_scope(&f)));
        Question {
            upstream,
            questions: self.questions.clone(),
            positions,
            stage: self.worker.stage.name(),
        }
    }

    /// Stage detect at SIGTERM, stage ingest being done: consume the internal
    /// partitions on to their end (until `deadline`, asking the brokers again when
    /// they answer late); what is left.
    async fn read_to_end(
        &mut self,
        consumer: &GroupConsumer,
        deadline: Instant,
    ) -> Result<Backlog, String> {
        let mut messages = consumer.stream();
        let no_changes = Mutex::new(Vec::new());
        loop {
            let positions = self.idleness.positions(&self.worker);
            let asked = own_backlog(self.questions.clone(), positions).await;
            let backlog = match asked {
                Ok(b) => b,
                Err(e) if Instant::now() < deadline => {
                    tracing::info!(error = %e, "the brokers answered late: asking again");
                    tokio::time::sleep(ASK_AGAIN_AFTER).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if backlog.is_empty() || Instant::now() >= deadline {
                return Ok(backlog);
            }
            if self.batch.records >= self.batch_max {
                self.flusher
                    .drain(&mut self.batch, consumer, &mut self.worker)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            self.read_on_once(consumer, &mut messages, deadline, &no_changes)
                .await;
        }
    }
}

impl ServiceLoop {
    /// Stage B at SIGTERM: when stage ingest has committed its feed to its end, read
    /// its stage-B topic on until every stage-A task has finished
    /// (each emits its `Finished` marker at its own SIGTERM or revocation once its
    /// input is accounted for; `apply_hop` then emits the final snapshots), for at
    /// most [`B_WAITS_WITHIN`]. Stage A's held reports come only with those markers,
    /// so without all of them stage B emits nothing: its next owner (the next start)
    /// goes on from the committed offsets.
    async fn finish_transmitters(&mut self, consumer: &GroupConsumer, why: &'static str) {
        let started = Instant::now();
        if let Some(reader) = &self.upstream {
            let topics = &self.worker.config.kafka.topics;
            let topic = match self.worker.stage_b_feed() {
                Some(Feed::SmsVolume) => topics.sms_volume.clone(),
                _ => topics.measurements.clone(),
            };
            let mut asked = upstream_backlog(reader.clone(), vec![topic.clone()]).await;
            // As stage detect: the other instances' ingest may commit a moment later.
            while matches!(&asked, Ok(b) if !b.is_empty())
                && started.elapsed() < INGEST_SETTLES_WITHIN
            {
                tokio::time::sleep(ASK_AGAIN_AFTER * 2).await;
                asked = upstream_backlog(reader.clone(), vec![topic.clone()]).await;
            }
            match asked {
                Ok(b) if b.is_empty() => {}
                Ok(b) => {
                    tracing::info!(
                        reason = why,
                        stage = self.worker.stage.name(),
                        waiting_at = "stage ingest",
                        partitions = b.partitions,
                        records = b.records,
                        "records still waiting: no final snapshots (the next start goes on)"
                    );
                    return;
                }
                Err(e) => {
                    tracing::warn!(reason = why, stage = self.worker.stage.name(), error = %e, "cannot tell whether records are still waiting: no final snapshots (the next start goes on)");
                    return;
                }
            }
        }
        let deadline = started + B_WAITS_WITHIN;
        let mut messages = consumer.stream();
        let no_changes = Mutex::new(Vec::new());
        while self.worker.live && Instant::now() < deadline {
            if self.batch.records >= self.batch_max {
                if let Err(e) = self
                    .flusher
                    .drain(&mut self.batch, consumer, &mut self.worker)
                    .await
                {
                    tracing::warn!(error = %e, "stage B could not flush while reading on");
                    return;
                }
            }
            self.read_on_once(consumer, &mut messages, deadline, &no_changes)
                .await;
        }
        match self.worker.unfinished_stage_a() {
            None => {}
            Some(waiting) if waiting.is_empty() => tracing::info!(
                reason = why,
                stage = self.worker.stage.name(),
                waited_ms = started.elapsed().as_millis() as u64,
                "every stage-A task finished: stage B's final snapshots emitted"
            ),
            Some(waiting) => tracing::info!(
                reason = why,
                stage = self.worker.stage.name(),
                waiting_at = "stage A",
                partitions = ?waiting,
                waited_ms = started.elapsed().as_millis() as u64,
                "records still waiting: no final snapshots (the next start goes on)"
            ),
        }
    }
}

/// What [`ask`] asks the brokers: stage ingest's group and the feed topics upstream
/// (stage detect), this consumer's partitions and their positions.
struct Question {
    upstream: Option<(Questions, Vec<String>)>,
    questions: Questions,
    positions: Vec<Position>,
    stage: &'static str,
}

/// What is still waiting, and where: stage ingest's group not through the feed
/// partitions upstream, else this consumer's own partitions not consumed to their end.
async fn ask(q: Question) -> Result<(&'static str, Backlog), String> {
    if let Some((reader, topics)) = q.upstream {
        let upstream = upstream_backlog(reader, topics).await?;
        if !upstream.is_empty() {
            return Ok(("stage ingest", upstream));
        }
    }
    let own = own_backlog(q.questions, q.positions).await?;
    Ok((q.stage, own))
}

impl ServiceLoop {
    /// One step of reading on at a stop: the next message (until `deadline`), with
    /// the burst behind it, if it is of a partition this instance still owns.
    async fn read_on_once<'c>(
        &mut self,
        consumer: &GroupConsumer,
        messages: &mut MessageStream<'c, WorkerContext>,
        deadline: Instant,
        no_changes: &Mutex<Vec<AssignmentChange>>,
    ) {
        let next = tokio::time::timeout_at(deadline.into(), messages.next()).await;
        if let Ok(Some(Ok(m))) = next {
            if self
                .assigned
                .iter()
                .any(|(t, p)| *p == m.partition() && t == m.topic())
            {
                let generation = consumer.context().generation();
                self.consume_burst(m, messages, no_changes, generation);
            }
        }
    }
}
