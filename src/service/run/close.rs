//! Leaving the consumer group at the end of the service, in bounded time.
//!
//! Dropping a group consumer closes it, and librdkafka's close can block for ever
//! when the group hands the consumer an assignment while it closes: the close
//! serves that assignment, and the assign call waits on a group that is already
//! terminating (librdkafka issue 4884; seen here when SIGTERM arrived between a
//! revocation and the next assignment). So, on a clean stop, the service first
//! serves the rebalance events until the group has no assignment pending for it
//! (waiting at most [`SETTLE_WITHIN`]), then drops the consumer on a thread of its
//! own and waits for that at most [`CLOSE_WITHIN`]: a close that still hangs is
//! left behind with a warning (the process is ending; offsets were committed
//! before), never the process itself.

use super::GroupConsumer;
use futures_util::StreamExt;
use rdkafka::consumer::Consumer;
use std::time::{Duration, Instant};

/// How long a clean stop waits for an assignment the group still owes.
const SETTLE_WITHIN: Duration = Duration::from_secs(5);

/// How long the close itself may take before it is left behind.
const CLOSE_WITHIN: Duration = Duration::from_secs(5);

/// Close `consumer` (its last reference dropped) within [`CLOSE_WITHIN`]; on a
/// clean stop (`settle`) after the assignment the group still owes it, if any.
pub(super) async fn close_consumer(consumer: GroupConsumer, group: &str, settle: bool) {
    if settle {
        settle_assignment(&consumer, group).await;
    }
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

/// Serve rebalance events while the group owes this consumer an assignment (a
/// revocation not followed by an assignment yet), for at most [`SETTLE_WITHIN`].
/// Messages that arrive meanwhile are dropped unprocessed: their offsets are not
/// stored, the next owner reads them.
async fn settle_assignment(consumer: &GroupConsumer, group: &str) {
    let started = Instant::now();
    let mut messages = consumer.stream();
    while consumer.context().awaiting_assignment() {
        if started.elapsed() >= SETTLE_WITHIN {
            tracing::warn!(
                group,
                waited_secs = SETTLE_WITHIN.as_secs(),
                "no assignment from the group in time: closing during the rebalance"
            );
            return;
        }
        let _ = tokio::time::timeout(Duration::from_millis(50), messages.next()).await;
    }
}
