//! [`GuardedBody`]: every admitted response's body. It keeps the request's hold on the user's
//! entry and in-flight slot until the body ends, counts the bytes handed to the connection that
//! the client has not yet taken, and ends a stream when the token it was opened with expires
//! (or, for a stream that answers no request, when the server begins to shut down).
//!
//! Unread bytes: hyper asks for the next frame only once it has room in its own bounded write
//! buffer, i.e. once the client has read most of the previous one. So the frame last handed to
//! hyper is what a client that stopped reading leaves in memory, and that is what is counted
//! against the user's [`max_unread_response_bytes_per_user`](crate::Limits).

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::{Duration, SystemTime},
};

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::admission::Held;

/// A response body holding its request's resources until it ends.
pub(crate) struct GuardedBody {
    inner: Body,
    held: Held,
    /// Bytes of the frame last handed to hyper, counted as unread.
    outstanding: usize,
    /// When the stream must end (its token's expiry plus leeway).
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The server's shutdown, for a stream that answers no request: it would otherwise hold
    /// its connection, and the drain, for the whole grace period.
    shutdown: Option<Pin<Box<WaitForCancellationFutureOwned>>>,
}

impl GuardedBody {
    pub(crate) fn new(inner: Body, held: Held, ends_at: Option<SystemTime>) -> Self {
        let deadline = ends_at.map(|at| {
            let left = at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO);
            Box::pin(tokio::time::sleep(left))
        });
        Self { inner, held, outstanding: 0, deadline, shutdown: None }
    }

    /// Also ends the body once `shutdown` is cancelled.
    pub(crate) fn ending_on(mut self, shutdown: CancellationToken) -> Self {
        self.shutdown = Some(Box::pin(shutdown.cancelled_owned()));
        self
    }

    fn settle(&mut self) {
        if self.outstanding > 0 {
            self.held.user.remove_unread(self.outstanding);
            self.outstanding = 0;
        }
    }
}

impl http_body::Body for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        // hyper asking again means it took the last frame off our hands.
        this.settle();
        if let Some(deadline) = &mut this.deadline
            && deadline.as_mut().poll(cx).is_ready()
        {
            tracing::debug!("stream closed: the token it was opened with has expired");
            return Poll::Ready(None);
        }
        if let Some(shutdown) = &mut this.shutdown
            && shutdown.as_mut().poll(cx).is_ready()
        {
            tracing::debug!("stream closed: the server is shutting down");
            return Poll::Ready(None);
        }
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            this.outstanding = data.len();
            this.held.user.add_unread(data.len());
        }
        polled
    }

    // Not ended while a frame is outstanding, even when it was the last (a JSON answer is one
    // frame): hyper then asks once more, when the client has taken it, and only that gives the
    // bytes back. Ended at once, hyper would drop the body with the whole answer still unread
    // in its buffer, and the user's cap would count nothing.
    fn is_end_stream(&self) -> bool {
        self.outstanding == 0 && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for GuardedBody {
    fn drop(&mut self) {
        self.settle();
    }
}

/// When a stream opened with a token expiring at `expires_at` must end.
pub(crate) fn stream_end(
    expires_at: Option<SystemTime>,
    leeway: Option<Duration>,
) -> Option<SystemTime> {
    expires_at?.checked_add(leeway?)
}
