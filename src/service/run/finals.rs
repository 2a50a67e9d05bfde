//! Final snapshots on SIGTERM and on revocation: emitted only when the whole input
//! is accounted for (see [`crate::service::caught_up`]'s questions), else a log line
//! says what is still waiting. Kept apart from the loop because it is the one place
//! where the loop waits for the brokers' answers (without blocking its thread).

use super::{feed_topics, GroupConsumer, ServiceLoop};
use crate::service::caught_up::{own_backlog, upstream_backlog, Backlog};
use crate::service::stage::Stage;
use futures_util::StreamExt;
use rdkafka::message::Message;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long stage detect reads on at SIGTERM to reach the end of its internal
/// partitions, once stage ingest has committed every feed partition to its end.
const READ_TO_END: Duration = Duration::from_secs(10);

impl ServiceLoop {
    /// Emit the final snapshots when the whole input is accounted for: they are then
    /// the replay's for everything there is. Single stage: every assigned feed
    /// partition consumed to its end. Stage detect: every feed partition committed to
    /// its end by stage ingest, then every owned internal partition consumed to its
    /// end (at SIGTERM, `read_on` reads on for up to [`READ_TO_END`] to get there).
    /// With records still waiting, the next owner goes on from the committed offsets,
    /// and snapshots of a partial state could show cases the whole stream does not have.
    pub(super) async fn finish_if_caught_up(
        &mut self,
        consumer: &GroupConsumer,
        why: &'static str,
        read_on: bool,
    ) {
        // Stage ingest has no detectors.
        if !self.worker.live || matches!(self.worker.stage, Stage::Ingest(_)) {
            return;
        }
        let started = Instant::now();
        let mut waiting = match &self.upstream {
            Some(reader) => {
                let owned = self.worker.upstream_feeds();
                let topics = feed_topics(&self.worker.config)
                    .into_iter()
                    .filter(|(_, feed)| owned.contains(feed))
                    .map(|(topic, _)| topic)
                    .collect();
                upstream_backlog(reader.clone(), topics)
                    .await
                    .map(|b| ("stage ingest", b))
            }
            None => Ok(("", Backlog::default())),
        };
        if matches!(waiting, Ok((_, b)) if b.is_empty()) {
            let mut own =
                own_backlog(consumer.clone(), self.idleness.positions(&self.worker)).await;
            // Only stage detect reads on: its input is complete once ingest has
            // committed every feed partition (the single stage stops where it is).
            let detect = matches!(self.worker.stage, Stage::Detect(_));
            if read_on && detect && matches!(own, Ok(b) if !b.is_empty()) {
                own = self.read_to_end(consumer).await;
            }
            waiting = own.map(|b| (self.worker.stage.name(), b));
        }
        match waiting {
            Ok((_, b)) if b.is_empty() => {
                tracing::info!(
                    reason = why,
                    stage = self.worker.stage.name(),
                    checked_ms = started.elapsed().as_millis() as u64,
                    "whole input accounted for"
                );
                self.worker.finish(&mut self.batch, why);
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

    /// Stage detect at SIGTERM, stage ingest being done: consume the internal
    /// partitions on to their end (for at most [`READ_TO_END`]); what is left.
    async fn read_to_end(&mut self, consumer: &GroupConsumer) -> Result<Backlog, String> {
        let deadline = Instant::now() + READ_TO_END;
        let mut messages = consumer.stream();
        let no_changes = Mutex::new(Vec::new());
        loop {
            let backlog =
                own_backlog(consumer.clone(), self.idleness.positions(&self.worker)).await?;
            if backlog.is_empty() || Instant::now() >= deadline {
                return Ok(backlog);
            }
            if self.batch.records >= self.batch_max {
                self.flusher
                    .drain(&mut self.batch, consumer, &mut self.worker)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            let next = tokio::time::timeout_at(deadline.into(), messages.next()).await;
            if let Ok(Some(Ok(m))) = next {
                if self
                    .assigned
                    .iter()
                    .any(|(t, p)| *p == m.partition() && t == m.topic())
                {
                    self.consume_burst(m, &mut messages, &no_changes);
                }
            }
        }
    }
}
