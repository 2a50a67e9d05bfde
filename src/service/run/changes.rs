//! Acting on a rebalance of a loop's consumer group. With the eager protocol (stage
//! ingest, `topology = "single"`) every partition is revoked and the new assignment
//! is rebuilt whole. With the cooperative one (stage detect's `cooperative-sticky`
//! assignor) a rebalance revokes and assigns only the partitions that move: a detect
//! task that stays on this instance keeps its state, and only a task that moved here
//! is rebuilt from its internal partition. Kept apart from the loop because this is
//! where the state's lifetime across rebalances is decided.

use super::{GroupConsumer, ServiceLoop};
use crate::model::Feed;
use crate::service::consumer::AssignmentChange;
use crate::service::error::ServiceError;
use crate::service::stage::Stage;
use rdkafka::consumer::{CommitMode, Consumer, RebalanceProtocol};
use std::collections::{BTreeMap, BTreeSet};

impl ServiceLoop {
    /// A rebalance happened: flush everything consumed so far, forget what was
    /// revoked, rebuild the state of what was assigned (only what moved, with the
    /// cooperative protocol in stage detect).
    pub(super) async fn apply_changes(
        &mut self,
        pending: Vec<AssignmentChange>,
        consumer: &GroupConsumer,
    ) -> Result<(), ServiceError> {
        let incremental = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let detect = matches!(self.worker.stage, Stage::Detect(_));
        for change in pending {
            match change {
                AssignmentChange::Revoked(parts) => {
                    let keeps = self.assigned.iter().any(|p| !parts.contains(p));
                    if incremental && keeps && detect {
                        self.revoke_some(parts, consumer).await?;
                    } else {
                        self.revoke(parts, consumer).await?;
                        // Cooperative, other stages: what stays is rebuilt, as the
                        // eager protocol's next assignment would.
                        if incremental && keeps {
                            self.rebuild_and_resume(consumer, &BTreeMap::new())?;
                        }
                    }
                }
                AssignmentChange::Assigned(parts) => {
                    let moved: Vec<(String, i32)> = parts
                        .into_iter()
                        .filter(|p| !self.assigned.contains(p))
                        .collect();
                    // A cooperative rebalance that gives this member nothing new.
                    if incremental && moved.is_empty() {
                        continue;
                    }
                    let keeps = !self.assigned.is_empty();
                    self.flusher
                        .drain(&mut self.batch, consumer, &mut self.worker)
                        .await?;
                    self.assigned.extend(moved.iter().cloned());
                    if incremental && keeps && detect && self.worker.live {
                        // Kept partitions of a feed that starts over are read
                        // again up to what was flushed (`Worker::reread_end`);
                        // the commit only brings the group's offsets up to date.
                        if self.worker.runs_stage_a() {
                            commit_now(consumer);
                        }
                        self.rebuild_moved_and_resume(consumer, &moved)?;
                    } else {
                        self.rebuild_and_resume(consumer, &BTreeMap::new())?;
                    }
                    if matches!(self.worker.stage, Stage::Whole) {
                        crate::service::topology::warn_if_partial(
                            consumer,
                            &self.worker,
                            &self.assigned,
                            &self.warned_partial,
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// Every partition goes (eager protocol), or all that are left: the final
    /// snapshots when caught up, what was consumed flushed, the sources forgotten.
    async fn revoke(
        &mut self,
        parts: Vec<(String, i32)>,
        consumer: &GroupConsumer,
    ) -> Result<(), ServiceError> {
        self.let_go(&parts, consumer, None).await?;
        self.worker.release(&parts)
    }

    /// Stage detect, cooperative: the tasks of `parts` move away while this worker
    /// keeps its others. Their final snapshots when caught up (theirs only), what was
    /// consumed flushed, their state forgotten; the kept tasks go on untouched.
    async fn revoke_some(
        &mut self,
        parts: Vec<(String, i32)>,
        consumer: &GroupConsumer,
    ) -> Result<(), ServiceError> {
        let feeds: BTreeSet<Feed> = parts
            .iter()
            .filter_map(|(t, _)| self.worker.feed_of(t))
            .collect();
        self.let_go(&parts, consumer, Some(&feeds)).await?;
        self.idleness.keep(&self.assigned);
        self.worker.forget_feeds(&feeds)?;
        // A feed over several partitions: the partitions this task keeps of a feed
        // that started over are read again, up to what was flushed, where their
        // consumption goes on (`Worker::reread_end`: not up to the committed offsets,
        // which lag when the commit inside the rebalance fails).
        let stays: Vec<(String, i32)> = self
            .assigned
            .iter()
            .filter(|(t, _)| self.worker.feed_of(t).is_some_and(|f| feeds.contains(&f)))
            .cloned()
            .collect();
        if !stays.is_empty() {
            commit_now(consumer);
            self.rebuild_moved_and_resume(consumer, &stays)?;
        }
        let kept: Vec<&str> = self
            .assigned
            .iter()
            .filter_map(|(t, _)| self.worker.feed_of(t).map(|f| f.name()))
            .collect();
        tracing::info!(stage = self.worker.stage.name(), moved = parts.len(), kept = ?kept, "detect task moved away; the others keep their state");
        Ok(())
    }

    /// Partitions leaving: what they produced flushed before they go, final snapshots
    /// included when caught up (of `scope`'s tasks only, when given), and they leave
    /// the assignment.
    async fn let_go(
        &mut self,
        parts: &[(String, i32)],
        consumer: &GroupConsumer,
        scope: Option<&BTreeSet<Feed>>,
    ) -> Result<(), ServiceError> {
        self.finish_if_caught_up(consumer, "partitions revoked", false, scope)
            .await;
        self.flusher
            .drain(&mut self.batch, consumer, &mut self.worker)
            .await?;
        self.assigned.retain(|p| !parts.contains(p));
        self.worker.flushed.retain(|p, _| !parts.contains(p));
        Ok(())
    }

    /// Stage detect, cooperative: rebuild only the tasks of `moved` (newly assigned,
    /// already in `self.assigned`), then resume them (paused when assigned).
    fn rebuild_moved_and_resume(
        &mut self,
        consumer: &GroupConsumer,
        moved: &[(String, i32)],
    ) -> Result<(), ServiceError> {
        self.worker.rebuild_moved(consumer, moved, &self.assigned)?;
        self.send_rebuilt_forwards();
        self.idleness.add(moved);
        self.resume_if_live(consumer, moved)
    }
}

/// Commit the stored offsets now (everything consumed has been flushed), so the
/// group's offsets are current; a failure (inside a rebalance) changes nothing of
/// the rebuild, which ends at what was flushed.
fn commit_now(consumer: &GroupConsumer) {
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
        tracing::debug!(error = %e, "nothing to commit before the rebuild");
    }
}
