//! [`RequestIdLayer`]: the outermost layer of every server's router. It gives each request an
//! id, runs the request's handling in a `request` span carrying it, and answers with it.
//!
//! - **The id** is the client's `X-Request-ID` when it is one value of 1 to 64 visible ASCII
//!   characters (no spaces, no control characters: it lands in log lines), else one made here:
//!   a random prefix drawn once per process, `-`, and a counter (`k3v9q0c2hx7m-1041`). No
//!   random UUID per request: one atomic increment and one small allocation (the header
//!   value, shared by the request, the response and the span). The counter shows a client how
//!   many requests this process numbered between two of its own.
//! - **The request** gets the id in its `X-Request-ID` header (an insane one replaced), which is
//!   what [`RequestContext::request_id`](crate::auth::RequestContext::request_id) reads, and
//!   what the server's handlers see.
//! - **The span** `request{request_id=…}` is entered whenever the handling is polled, so every
//!   line logged meanwhile — refusals, security events, instance creation, errors — carries the
//!   id. It is an ERROR-level span so that it is enabled whenever anything is logged at all: a
//!   span below the filter's level would be disabled, and the warnings logged inside it would
//!   lose the id. With no subscriber interested it is never built.
//! - **The response** carries `X-Request-ID`, refusals (`401`, `403`, `404`, `429`, …) and the
//!   Protected Resource Metadata included. A body still to be produced (an SSE stream, a
//!   proxied answer: no exact size) is polled inside the span too, so what is logged while it
//!   streams carries the id; a complete body is not wrapped. Work the server hands to tasks of
//!   its own (rmcp's session workers) runs outside the span.
//!
//! stdio has no request ids: one process serves one user, and its lines are few.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        LazyLock,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll, ready},
};

use axum::{
    body::{Body, Bytes},
    extract::Request,
    response::Response,
};
use http::{HeaderMap, HeaderName, HeaderValue};
use http_body::{Body as _, Frame, SizeHint};
use pin_project_lite::pin_project;
use tower::{Layer, Service};
use tracing::Span;

use crate::auth::REQUEST_ID_HEADER;

/// `X-Request-ID`.
const REQUEST_ID: HeaderName = HeaderName::from_static(REQUEST_ID_HEADER);

/// The longest client id used as it is.
const MAX_CLIENT_ID_LEN: usize = 64;

/// Characters of the random prefix: 12 of Crockford's base32, 60 random bits.
const PREFIX_LEN: usize = 12;

/// Gives each request an id, in the request's and the response's `X-Request-ID` and in a
/// `request` span around its handling (see [`crate::log_ids`]). Every
/// [`wrap_server`](crate::wrap_server) router has it outermost; put it around routes of your
/// own served beside them:
///
/// ```
/// use mcp_auth::http::RequestIdLayer;
/// let admin = axum::Router::new()
///     .route("/ready", axum::routing::get(|| async { "ready" }))
///     .layer(RequestIdLayer);
/// # let _: axum::Router = admin;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestIdService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestIdService { inner }
    }
}

/// The service of [`RequestIdLayer`].
#[derive(Debug, Clone)]
pub struct RequestIdService<S> {
    inner: S,
}

impl<S> Service<Request> for RequestIdService<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = RequestIdFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let id = assign(request.headers_mut());
        let span = tracing::error_span!("request", request_id = %Shown(&id));
        let inner = span.in_scope(|| self.inner.call(request));
        RequestIdFuture { inner, span, id: Some(id) }
    }
}

pin_project! {
    /// The response future of [`RequestIdService`].
    pub struct RequestIdFuture<F> {
        #[pin]
        inner: F,
        span: Span,
        id: Option<HeaderValue>,
    }
}

impl<F, E> Future for RequestIdFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let polled = {
            let _entered = this.span.enter();
            ready!(this.inner.poll(cx))
        };
        let mut response = polled?;
        if let Some(id) = this.id.take() {
            response.headers_mut().insert(REQUEST_ID, id);
        }
        let body = response.body();
        if !this.span.is_disabled() && !body.is_end_stream() && body.size_hint().exact().is_none() {
            // Moved, not cloned: the future is done with it.
            let span = std::mem::replace(this.span, Span::none());
            response = response.map(|inner| Body::new(InSpan { inner, span }));
        }
        Poll::Ready(Ok(response))
    }
}

/// A response body polled inside its request's span.
struct InSpan {
    inner: Body,
    span: Span,
}

impl http_body::Body for InSpan {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let _entered = this.span.enter();
        Pin::new(&mut this.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The request's id: its one `X-Request-ID` when sane, else a new one, written into `headers`.
fn assign(headers: &mut HeaderMap) -> HeaderValue {
    let mut given = headers.get_all(REQUEST_ID).iter();
    if let (Some(value), None) = (given.next(), given.next())
        && is_sane(value.as_bytes())
    {
        return value.clone();
    }
    let id = generate();
    headers.insert(REQUEST_ID, id.clone());
    id
}

/// 1 to [`MAX_CLIENT_ID_LEN`] visible ASCII characters.
fn is_sane(id: &[u8]) -> bool {
    (1..=MAX_CLIENT_ID_LEN).contains(&id.len()) && id.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// The process's prefix and counter.
struct Generator {
    prefix: [u8; PREFIX_LEN],
    next: AtomicU64,
}

static GENERATOR: LazyLock<Generator> = LazyLock::new(|| {
    const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let bits: u64 = rand::random();
    let prefix = std::array::from_fn(|i| CROCKFORD[((bits >> (5 * i)) & 31) as usize]);
    Generator { prefix, next: AtomicU64::new(1) }
});

/// A new id: the process's prefix, `-`, the next number; formatted on the stack.
fn generate() -> HeaderValue {
    let generator = &*GENERATOR;
    let mut number = generator.next.fetch_add(1, Ordering::Relaxed);
    let mut text = [0u8; PREFIX_LEN + 1 + 20];
    text[..PREFIX_LEN].copy_from_slice(&generator.prefix);
    text[PREFIX_LEN] = b'-';
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (number % 10) as u8;
        number /= 10;
        if number == 0 {
            break;
        }
    }
    let len = PREFIX_LEN + 1 + (digits.len() - start);
    text[PREFIX_LEN + 1..len].copy_from_slice(&digits[start..]);
    // Letters, digits and `-` only: always a valid header value.
    HeaderValue::from_bytes(&text[..len]).unwrap_or(HeaderValue::from_static("-"))
}

/// An id as the span shows it (ids are visible ASCII, checked or made so).
struct Shown<'a>(&'a HeaderValue);

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.to_str().unwrap_or("-"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sane_client_id_is_kept_and_anything_else_replaced() {
        for kept in ["abc-123", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"] {
            let mut headers = HeaderMap::new();
            headers.insert(REQUEST_ID, HeaderValue::from_static(kept));
            assert_eq!(assign(&mut headers), kept);
            assert_eq!(headers[REQUEST_ID], kept);
        }
        let long = "a".repeat(MAX_CLIENT_ID_LEN + 1);
        for replaced in ["", "with space", "tab\there", long.as_str(), "caf\u{e9}"] {
            let mut headers = HeaderMap::new();
            headers.insert(REQUEST_ID, HeaderValue::from_bytes(replaced.as_bytes()).unwrap());
            let id = assign(&mut headers);
            assert_ne!(id, replaced);
            assert_eq!(headers[REQUEST_ID], id, "the request carries the id it was given");
        }
        let mut two = HeaderMap::new();
        two.append(REQUEST_ID, HeaderValue::from_static("one"));
        two.append(REQUEST_ID, HeaderValue::from_static("two"));
        let id = assign(&mut two);
        assert!(id != "one" && id != "two");
        assert_eq!(two.get_all(REQUEST_ID).iter().count(), 1);
    }

    #[test]
    fn generated_ids_share_the_prefix_and_differ() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
        assert_eq!(a[..=PREFIX_LEN], b[..=PREFIX_LEN]);
        assert!(is_sane(a.as_bytes()) && a.len() <= PREFIX_LEN + 21, "{a}");
        assert!(a[PREFIX_LEN + 1..].bytes().all(|c| c.is_ascii_digit()), "{a}");
    }
}
