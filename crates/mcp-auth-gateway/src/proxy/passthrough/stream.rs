//! An upstream's SSE answer passed on chunk by chunk, ended by the request timeout (except for
//! a stream meant to stay open) with the caller's JSON-RPC error as the last event.

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use axum::body::Bytes;
use futures::{Stream, stream::BoxStream};
use std::future::Future as _;
use tokio::time::{Instant, Sleep};

use super::errors::upstream_error;

pub(super) struct Deadline {
    upstream: BoxStream<'static, reqwest::Result<Bytes>>,
    /// `None`: no deadline (a `subscriptions/listen` stream).
    deadline: Option<Pin<Box<Sleep>>>,
    /// The event that ends a stream cut short (the caller's id is in it).
    timed_out: Option<Bytes>,
    /// True once the stream has ended, one way or the other.
    done: bool,
    /// True when the last chunk passed on ended an event: the timeout's event then follows
    /// cleanly, and otherwise ends the partial one first.
    at_boundary: bool,
}

impl Deadline {
    pub(super) fn new(
        upstream: impl Stream<Item = reqwest::Result<Bytes>> + Send + 'static,
        deadline: Option<Instant>,
        request: &[u8],
        timeout: Duration,
    ) -> Self {
        use futures::StreamExt as _;
        let timed_out =
            deadline.map(|_| Bytes::from(upstream_error::timed_out_event(request, timeout)));
        Self {
            upstream: upstream.boxed(),
            deadline: deadline.map(|at| Box::pin(tokio::time::sleep_until(at))),
            timed_out,
            done: false,
            at_boundary: true,
        }
    }
}

impl Stream for Deadline {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.upstream.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                if !chunk.is_empty() {
                    self.at_boundary = chunk.ends_with(b"\n\n") || chunk.ends_with(b"\r\n\r\n");
                }
                return Poll::Ready(Some(Ok(chunk)));
            }
            Poll::Ready(Some(Err(_))) => {
                self.done = true;
                return Poll::Ready(Some(Err(std::io::Error::other("the upstream stream broke"))));
            }
            Poll::Ready(None) => {
                self.done = true;
                return Poll::Ready(None);
            }
            Poll::Pending => {}
        }
        let expired =
            self.deadline.as_mut().is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready());
        if !expired {
            return Poll::Pending;
        }
        self.done = true;
        let event = self.timed_out.take().unwrap_or_default();
        let event = if self.at_boundary {
            event
        } else {
            Bytes::from([b"\n\n".as_slice(), &event].concat())
        };
        Poll::Ready(Some(Ok(event)))
    }
}
