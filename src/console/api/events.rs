//! `GET /api/events`: server-sent events announcing what changed in the live index.
//! The first event (`hello`) carries the current revision; each `cases` event
//! carries `{revision, changed, removed}` (case ids); `reload` means updates were
//! missed and the page should read the list again. The stream ends when the console
//! shuts down.

use super::{ApiError, State};
use crate::console::auth::session::Visitor;
use crate::console::live::Update;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Extension;
use futures_util::stream::Stream;
use std::convert::Infallible;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};

enum Step {
    Hello,
    Next,
}

pub(crate) async fn events(
    axum::extract::State(state): axum::extract::State<State>,
    Extension(visitor): Extension<Visitor>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    state.reader(&visitor)?;
    let rx = state.index.subscribe();
    let revision = state.index.revision();
    let shutdown = state.shutdown.clone();
    let stream = futures_util::stream::unfold(
        (Step::Hello, rx, shutdown, revision),
        |(step, mut rx, mut shutdown, revision)| async move {
            match step {
                Step::Hello => {
                    let ev = Event::default()
                        .event("hello")
                        .data(format!("{{\"revision\":{revision}}}"));
                    Some((Ok(ev), (Step::Next, rx, shutdown, revision)))
                }
                Step::Next => {
                    let ev = next_event(&mut rx, &mut shutdown).await?;
                    Some((Ok(ev), (Step::Next, rx, shutdown, revision)))
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The next event, or `None` at shutdown.
async fn next_event(
    rx: &mut broadcast::Receiver<Update>,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<Event> {
    if *shutdown.borrow() {
        return None;
    }
    tokio::select! {
        r = rx.recv() => match r {
            Ok(update) => Some(
                Event::default()
                    .event("cases")
                    .data(serde_json::to_string(&update).unwrap_or_default()),
            ),
            Err(RecvError::Lagged(_)) => Some(Event::default().event("reload").data("{}")),
            Err(RecvError::Closed) => None,
        },
        _ = shutdown.wait_for(|v| *v) => None,
    }
}
