//! The fast path to an http upstream: a stateless-era (2026-07-28) request is forwarded as it
//! came — its body untouched, its routing headers kept — with the user's rendered headers and
//! nothing else of the caller's, and the upstream's answer streams back as it comes.
//!
//! Nothing is parsed on the way in or out: the caller's progress tokens, input-required
//! results and `subscriptions/listen` stream are its own and reach it unchanged, and closing
//! the answer (the era's cancellation) closes the upstream request. What the gateway still
//! does is everything the library did before the request got here (auth, rate limit, the
//! user's credential and instance), plus bounds: the request timeout, a cap on a JSON answer,
//! and its own JSON-RPC error — never the upstream's internals — when the upstream fails.
//!
//! Used only for an upstream that answers `server/discover` with 2026-07-28 among its
//! versions ([`era`]); an older one keeps the session-era proxy, which translates.

mod era;
mod errors;
mod in_task;
mod session;
mod stream;

use std::{sync::Arc, time::Duration};

use axum::{
    body::{Body, Bytes},
    response::Response,
};
use http::{HeaderMap, HeaderName, Method, Request, StatusCode, header};
use http_body_util::{BodyDataStream, BodyExt as _, Limited, combinators::UnsyncBoxBody};
use mcp_auth::http::Stateless;
use tokio::time::Instant;

use self::{era::UpstreamEra, errors::upstream_error, in_task::InTaskClient, stream::Deadline};

/// The longest JSON answer passed on (an SSE answer streams, and is bounded by the library's
/// per-user account of unread bytes instead).
const MAX_JSON_ANSWER: usize = 16 * 1024 * 1024;

/// The method whose answer is a stream meant to stay open: the request timeout does not end it.
const LISTEN: &str = "subscriptions/listen";

/// What all users of one http upstream share: whether it speaks the stateless era (learnt on
/// first use) and, for a plain `http` one, the connections the in-task client keeps.
#[derive(Default)]
pub struct SharedRoute {
    era: UpstreamEra,
    in_task: Option<InTaskClient>,
}

impl SharedRoute {
    pub fn new(url: &reqwest::Url) -> Self {
        // reqwest honours the proxy variables; so must every request to this upstream.
        let proxied = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
            .iter()
            .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()));
        let in_task = if proxied { None } else { InTaskClient::for_url(url) };
        Self { era: UpstreamEra::default(), in_task }
    }
}

/// One user's route to an http upstream.
pub struct Passthrough {
    client: reqwest::Client,
    url: reqwest::Url,
    /// The user's rendered headers; `Err` is why they could not be rendered (the session-era
    /// path reports it, as for every other request).
    headers: Result<HeaderMap, String>,
    shared: Arc<SharedRoute>,
    timeout: Duration,
}

impl Passthrough {
    pub fn new(
        client: reqwest::Client,
        url: reqwest::Url,
        headers: Result<HeaderMap, String>,
        shared: Arc<SharedRoute>,
        timeout: Duration,
    ) -> Self {
        Self { client, url, headers, shared, timeout }
    }

    /// Forwards `request` when the upstream speaks its era, and declines it otherwise.
    pub async fn forward(&self, request: Request<Bytes>) -> Stateless {
        let Ok(own) = &self.headers else { return Stateless::Declined(request) };
        if !self.shared.era.is_modern(&self.client, &self.url, own, self.timeout).await {
            return Stateless::Declined(request);
        }
        let (parts, body) = request.into_parts();
        let listen = parts.headers.get("mcp-method").is_some_and(|m| m == LISTEN);
        let headers = upstream_headers(&parts.headers, own);
        let deadline = tokio::time::Instant::now() + self.timeout;
        let answer = match self.exchange(Method::POST, &headers, &body, deadline).await {
            Ok(answer) => answer,
            Err(failed) => return Stateless::Answered(failed),
        };
        if !passes(answer.status(), answer.headers()) {
            return Stateless::Answered(upstream_error::refused(&body, answer.status()));
        }
        let stream_deadline = (!listen).then_some(deadline);
        Stateless::Answered(self.pass_on(answer, body, deadline, stream_deadline).await)
    }

    /// Sends the request and waits for the answer's head until `deadline`; the gateway's own
    /// JSON-RPC error when the upstream cannot be reached or does not answer in time.
    async fn exchange(
        &self,
        method: Method,
        headers: &HeaderMap,
        body: &Bytes,
        deadline: Instant,
    ) -> Result<Response<AnswerBody>, Response> {
        match tokio::time::timeout_at(deadline, self.send(method, headers, body)).await {
            Err(_) => Err(upstream_error::timed_out(body, self.timeout)),
            Ok(Err(())) => Err(upstream_error::unreachable(body)),
            Ok(Ok(answer)) => Ok(answer),
        }
    }

    /// The caller's response from an upstream answer that [`passes`]: its status, media type and
    /// caching headers, and its body, streamed when it is SSE (and then cut at
    /// `stream_deadline`, if any) or read whole by `deadline` and capped.
    async fn pass_on(
        &self,
        answer: Response<AnswerBody>,
        request: Bytes,
        deadline: Instant,
        stream_deadline: Option<Instant>,
    ) -> Response {
        let mut response = Response::builder().status(answer.status());
        for name in [header::CONTENT_TYPE, header::CACHE_CONTROL, X_ACCEL_BUFFERING] {
            if let Some(value) = answer.headers().get(&name) {
                response = response.header(name, value);
            }
        }
        let sse = is_event_stream(answer.headers());
        let answer = answer.into_body();
        let body = if sse {
            let chunks = BodyDataStream::new(answer);
            Body::from_stream(Deadline::new(chunks, stream_deadline, request, self.timeout))
        } else {
            match tokio::time::timeout_at(deadline, read_capped(answer)).await {
                Ok(Ok(whole)) => Body::from(whole),
                Ok(Err(())) => return upstream_error::too_large(&request),
                Err(_) => return upstream_error::timed_out(&request, self.timeout),
            }
        };
        response.body(body).unwrap_or_else(|_| upstream_error::unreachable(&[]))
    }

    /// Sends the request through the in-task client when there is one, else through reqwest.
    async fn send(
        &self,
        method: Method,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Result<Response<AnswerBody>, ()> {
        if let Some(in_task) = &self.shared.in_task {
            let answer = in_task.send(method, headers, body).await.map_err(drop)?;
            return Ok(answer.map(|body| body.map_err(std::io::Error::other).boxed_unsync()));
        }
        let sent = self.client.request(method, self.url.clone());
        let sent = sent.headers(headers.clone()).body(body.clone());
        let answer = http::Response::from(sent.send().await.map_err(drop)?);
        Ok(answer.map(|body| body.map_err(std::io::Error::other).boxed_unsync()))
    }
}

/// An answer's body from either client; its error is only ever "the upstream broke off".
type AnswerBody = UnsyncBoxBody<Bytes, std::io::Error>;

const X_ACCEL_BUFFERING: HeaderName = HeaderName::from_static("x-accel-buffering");
const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");
const SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");

/// A success, or the protocol's own refusals (a JSON-RPC error with a 4xx: bad headers, an
/// unsupported version, an unknown method), are the caller's to read; anything else would show
/// the upstream's internals (an HTML error page, a redirect) or its view of the gateway's
/// credential.
fn passes(status: StatusCode, headers: &HeaderMap) -> bool {
    status.is_success()
        || (status.is_client_error()
            && !matches!(status.as_u16(), 401 | 403 | 407)
            && (is_event_stream(headers) || is_json(headers)))
}

/// What the upstream gets: the caller's headers it needs ([`forwarded_headers`]) and the
/// user's own rendered ones.
fn upstream_headers(from: &HeaderMap, own: &HeaderMap) -> HeaderMap {
    let mut headers = forwarded_headers(from);
    for (name, value) in own {
        headers.insert(name.clone(), value.clone());
    }
    headers
}

/// The caller's headers the upstream needs to serve the request: its media types, its
/// protocol version, the era's routing headers (`Mcp-Method`, `Mcp-Name`, the `Mcp-Param-*` a
/// tool mirrors, which intermediaries must pass on) and the event id a GET stream resumes
/// from. Nothing else: not its `Authorization` or `Cookie`, not a session id (the upstream's
/// own is added where it has one), not what a browser adds.
fn forwarded_headers(from: &HeaderMap) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(8);
    for (name, value) in from {
        let keep = name == header::CONTENT_TYPE
            || name == header::ACCEPT
            || name == LAST_EVENT_ID
            || (name.as_str().starts_with("mcp-") && name != SESSION_ID);
        if keep {
            headers.append(name.clone(), value.clone());
        }
    }
    headers
}

fn is_event_stream(headers: &HeaderMap) -> bool {
    media_type_is(headers, "text/event-stream")
}

fn is_json(headers: &HeaderMap) -> bool {
    media_type_is(headers, "application/json")
}

fn media_type_is(headers: &HeaderMap, wanted: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_start().get(..wanted.len()))
        .is_some_and(|v| v.eq_ignore_ascii_case(wanted))
}

/// The whole answer, or `Err` past [`MAX_JSON_ANSWER`] or on a broken connection.
async fn read_capped(answer: AnswerBody) -> Result<Bytes, ()> {
    let whole = Limited::new(answer, MAX_JSON_ANSWER).collect().await;
    whole.map(|whole| whole.to_bytes()).map_err(drop)
}
