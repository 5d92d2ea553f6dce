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
    upstream: BoxStream<'static, std::io::Result<Bytes>>,
    /// `None`: no deadline (a `subscriptions/listen` stream).
    deadline: Option<Pin<Box<Sleep>>>,
    /// The request (for its id) and the timeout, to write the event that ends a stream cut
    /// short; built only then, so the usual answer costs no parse of the request.
    request: Bytes,
    timeout: Duration,
    /// True once the stream has ended, one way or the other.
    done: bool,
    /// True when the last chunk passed on ended an event: the timeout's event then follows
    /// cleanly, and otherwise ends the partial one first.
    at_boundary: bool,
}

impl Deadline {
    pub(super) fn new(
        upstream: impl Stream<Item = std::io::Result<Bytes>> + Send + 'static,
        deadline: Option<Instant>,
        request: Bytes,
        timeout: Duration,
    ) -> Self {
        use futures::StreamExt as _;
        Self {
            upstream: upstream.boxed(),
            deadline: deadline.map(|at| Box::pin(tokio::time::sleep_until(at))),
            request,
            timeout,
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
        let event = upstream_error::timed_out_event(&self.request, self.timeout);
        let event = if self.at_boundary { event } else { [b"\n\n".as_slice(), &event].concat() };
        let event = Bytes::from(event);
        Poll::Ready(Some(Ok(event)))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Bytes;
    use futures::{StreamExt as _, stream};
    use tokio::time::Instant;

    use super::Deadline;

    const REQUEST: &[u8] = br#"{"jsonrpc":"2.0","id":"r-1","method":"tools/call"}"#;

    /// An upstream that sent `first` and then went quiet.
    fn stalled(first: &'static [u8]) -> impl futures::Stream<Item = std::io::Result<Bytes>> {
        stream::iter([Ok(Bytes::from_static(first))]).chain(stream::pending())
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_stream_ends_at_the_deadline_with_the_callers_error() {
        let timeout = Duration::from_secs(5);
        let first = b"event: message\ndata: {\"method\":\"notifications/progress\"}\n\n";
        let mut body = Deadline::new(
            stalled(first),
            Some(Instant::now() + timeout),
            Bytes::from_static(REQUEST),
            timeout,
        );
        assert_eq!(body.next().await.unwrap().unwrap(), Bytes::from_static(first));
        let started = Instant::now();
        let last = body.next().await.unwrap().unwrap();
        assert_eq!(started.elapsed(), timeout);
        assert_eq!(
            std::str::from_utf8(&last).unwrap(),
            "event: message\ndata: {\"error\":{\"code\":-32001,\"message\":\"the upstream server \
             did not answer within 5s\"},\"id\":\"r-1\",\"jsonrpc\":\"2.0\"}\n\n"
        );
        assert!(body.next().await.is_none(), "the stream ends after the error");
    }

    #[tokio::test(start_paused = true)]
    async fn a_partial_event_is_closed_before_the_error_event() {
        let timeout = Duration::from_secs(1);
        let mut body = Deadline::new(
            stalled(b"data: {\"half"),
            Some(Instant::now() + timeout),
            Bytes::from_static(REQUEST),
            timeout,
        );
        body.next().await.unwrap().unwrap();
        let last = body.next().await.unwrap().unwrap();
        assert!(last.starts_with(b"\n\nevent: message\ndata: {\"error\""), "{last:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_without_a_deadline_stays_open() {
        let mut body = Deadline::new(
            stalled(b"data: {}\n\n"),
            None,
            Bytes::from_static(REQUEST),
            Duration::from_secs(1),
        );
        body.next().await.unwrap().unwrap();
        let still_open =
            tokio::time::timeout(Duration::from_secs(24 * 3600), body.next()).await.is_err();
        assert!(still_open, "a listen stream is not cut by the request timeout");
    }
}
