//! One request on its way from hyper to the router: it gets the peer address (axum's
//! `ConnectInfo<SocketAddr>`, which auth providers see as `RequestContext::peer_addr`), a body
//! deadline, and an in-flight mark that lasts until its response body is done.

use std::{
    convert::Infallible,
    error::Error as StdError,
    fmt,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, ready},
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    extract::ConnectInfo,
    http::{HeaderValue, Request, Response, StatusCode, Version, header},
};
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower::ServiceExt as _;

use super::connection::{InFlight, Limits};

type BoxError = Box<dyn StdError + Send + Sync>;

/// Runs the router on `request`. A body the client did not deliver within the body timeout
/// turns whatever the handler answered (rmcp says 500, a body extractor 400 or 413) into `408`.
pub(super) async fn handle(
    limits: Arc<Limits>,
    peer: SocketAddr,
    in_flight: InFlight,
    mut request: Request<Incoming>,
) -> Result<Response<Tracked>, Infallible> {
    request.extensions_mut().insert(ConnectInfo(peer));
    let version = request.version();
    let expired = (!request.body().is_end_stream()).then(|| Arc::new(AtomicBool::new(false)));
    let request = match &expired {
        Some(expired) => request.map(|body| {
            Body::new(Deadline {
                body,
                timeout: limits.request_body_timeout,
                sleep: None,
                expired: expired.clone(),
            })
        }),
        None => request.map(Body::new),
    };
    let Ok(mut response) = limits.router.clone().oneshot(request).await;
    if expired.is_some_and(|expired| expired.load(Ordering::Acquire)) {
        tracing::debug!(%peer, "request body not received in time");
        response = body_timeout(limits.request_body_timeout, version);
    }
    Ok(response.map(|body| Tracked { body, _in_flight: in_flight }))
}

/// `408` as a JSON-RPC error without an id, like the crate's other transport errors.
fn body_timeout(timeout: Duration, version: Version) -> Response<Body> {
    let message = format!("Request body not received within {} s", timeout.as_secs_f32());
    let mut response =
        crate::http::errors::jsonrpc_error(StatusCode::REQUEST_TIMEOUT, -32600, &message);
    // RFC 9110 §15.5.9: 408 means the server closes the connection rather than keep waiting,
    // and it SHOULD say so. (HTTP/2 has no `Connection` header: the stream ends instead.)
    if version <= Version::HTTP_11 {
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

pin_project! {
    /// A request body that must be read in full within `timeout` of the handler's first read.
    ///
    /// The clock starts at the first poll, not when the headers arrive: authentication and
    /// instance creation run before the body is read, and their time is the server's, not the
    /// client's. (tower-http's `RequestBodyDeadline` starts at once, and reports its timeout
    /// only as an error the handler sees; the answer here must be 408 whatever the handler
    /// makes of it, hence `expired`.)
    struct Deadline {
        #[pin]
        body: Incoming,
        timeout: Duration,
        #[pin]
        sleep: Option<Sleep>,
        expired: Arc<AtomicBool>,
    }
}

impl HttpBody for Deadline {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        if let Poll::Ready(frame) = this.body.poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        if this.sleep.is_none() {
            this.sleep.set(Some(tokio::time::sleep(*this.timeout)));
        }
        if let Some(sleep) = this.sleep.as_pin_mut() {
            ready!(sleep.poll(cx));
        }
        this.expired.store(true, Ordering::Release);
        Poll::Ready(Some(Err(Box::new(BodyTimeout))))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The error a [`Deadline`] body ends with.
#[derive(Debug)]
struct BodyTimeout;

impl fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("request body not received in time")
    }
}

impl StdError for BodyTimeout {}

/// A response body that keeps its request in flight (for the idle watchdog) until it is done:
/// an SSE stream open for an hour is an hour of activity.
pub(super) struct Tracked {
    body: Body,
    _in_flight: InFlight,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
