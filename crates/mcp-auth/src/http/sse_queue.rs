//! The server-to-client queue of a legacy SSE session: bounded in messages and in the user's
//! unread bytes. When a client stops reading its stream, the queue fills and the session is
//! dropped — rather than the server buffering without end or stalling the session's handlers.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use futures::Sink;
use rmcp::model::ServerJsonRpcMessage;
use tokio::sync::mpsc;

use crate::instances::UserState;

/// Why a message could not be queued: the session is dropped.
#[derive(Debug, thiserror::Error)]
#[error("the client is not reading its SSE stream; the session is dropped")]
pub(crate) struct QueueFull;

/// Creates the queue of one session, with room for `capacity` messages.
pub(crate) fn queue(capacity: usize, user: Arc<UserState>) -> (QueueSink, QueuedMessages) {
    let (tx, rx) = mpsc::channel(capacity);
    (QueueSink { tx, user: user.clone() }, QueuedMessages { rx, user })
}

/// The sending half, handed to rmcp as the session transport's sink.
pub(crate) struct QueueSink {
    tx: mpsc::Sender<String>,
    user: Arc<UserState>,
}

impl Sink<ServerJsonRpcMessage> for QueueSink {
    type Error = QueueFull;

    fn poll_ready(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), QueueFull>> {
        // Never wait: a full queue ends the session in `start_send`.
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, message: ServerJsonRpcMessage) -> Result<(), QueueFull> {
        if self.user.is_over_unread_bytes() {
            return Err(QueueFull);
        }
        let data = serde_json::to_string(&message).map_err(|_| QueueFull)?;
        let len = data.len();
        self.tx.try_send(data).map_err(|_| QueueFull)?;
        self.user.add_unread(len);
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), QueueFull>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), QueueFull>> {
        Poll::Ready(Ok(()))
    }
}

/// The receiving half, read by the SSE response. Dropping it forgets what was left unread.
pub(crate) struct QueuedMessages {
    rx: mpsc::Receiver<String>,
    user: Arc<UserState>,
}

impl futures::Stream for QueuedMessages {
    type Item = String;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<String>> {
        let polled = self.rx.poll_recv(cx);
        if let Poll::Ready(Some(data)) = &polled {
            self.user.remove_unread(data.len());
        }
        polled
    }
}

impl Drop for QueuedMessages {
    fn drop(&mut self) {
        self.rx.close();
        while let Ok(data) = self.rx.try_recv() {
            self.user.remove_unread(data.len());
        }
    }
}
