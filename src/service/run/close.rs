//! Leaving the consumer group at the end of the service, in bounded time.
//!
//! Dropping a group consumer closes it, and librdkafka's close can block for ever
//! when a rebalance hands the consumer a new assignment while it closes: the
//! close serves that assignment, and the assign call waits on a group that is
//! already terminating (librdkafka issue 4884; seen here when SIGTERM arrived
//! between a revocation and the next assignment). So the service first
//! unsubscribes and serves the rebalance events until nothing is assigned and the
//! group has been quiet for a moment (what librdkafka's maintainers suggest), then
//! drops the consumer on a thread of its own and waits for that at most
//! [`CLOSE_WITHIN`]: a close that still hangs is left behind with a warning (the
//! process is ending; offsets were committed before), never the process itself.

use super::GroupConsumer;
use futures_util::StreamExt;
use rdkafka::consumer::Consumer;
use std::time::{Duration, Instant};

/// How long the service serves rebalance events after unsubscribing.
const LEAVE_WITHIN: Duration = Duration::from_secs(5);

/// How long without a rebalance event, nothing assigned, counts as settled.
const QUIET: Duration = Duration::from_millis(300);

/// How long the close itself may take before it is left behind.
const CLOSE_WITHIN: Duration = Duration::from_secs(5);

/// Unsubscribe `consumer`, serve its rebalance events until nothing is assigned,
/// then close it (the last reference dropped) within [`CLOSE_WITHIN`].
pub(super) async fn close_consumer(consumer: GroupConsumer, group: &str) {
    leave_group(&consumer, group).await;
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    // A thread of its own, not tokio's blocking pool: a runtime waits for its
    // blocking tasks when it shuts down, and this one may never return.
    let spawned = std::thread::Builder::new()
        .name("cw-consumer-close".into())
        .spawn(move || {
            drop(consumer);
            let _ = done_tx.send(());
        });
    if let Err(e) = spawned {
        tracing::warn!(group, error = %e, "cannot start the consumer close thread: not waiting for the close");
        return;
    }
    if tokio::time::timeout(CLOSE_WITHIN, done_rx).await.is_err() {
        tracing::warn!(
            group,
            waited_secs = CLOSE_WITHIN.as_secs(),
            "kafka consumer did not close in time: left behind (its offsets were committed)"
        );
    }
}

/// Unsubscribe and serve rebalance events (messages that arrive meanwhile are
/// dropped unprocessed: their offsets are not stored) until nothing is assigned
/// and no rebalance happened for [`QUIET`], for at most [`LEAVE_WITHIN`].
async fn leave_group(consumer: &GroupConsumer, group: &str) {
    consumer.unsubscribe();
    let changes = consumer.context().changes.clone();
    let started = Instant::now();
    let mut quiet_since = Instant::now();
    let mut messages = consumer.stream();
    loop {
        if !std::mem::take(&mut *changes.lock().expect("rebalance lock")).is_empty() {
            quiet_since = Instant::now();
        }
        let assigned = consumer.assignment().map(|a| a.count()).unwrap_or(0);
        if assigned == 0 && quiet_since.elapsed() >= QUIET {
            return;
        }
        if started.elapsed() >= LEAVE_WITHIN {
            tracing::warn!(
                group,
                assigned,
                "consumer group not left in time: closing anyway"
            );
            return;
        }
        let _ = tokio::time::timeout(Duration::from_millis(50), messages.next()).await;
    }
}
