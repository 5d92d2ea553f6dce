//! The session era through the fast path: each caller session is forwarded to an upstream
//! session of its own, every POST, GET and DELETE of it as it came, through the library's
//! session hook ([`mcp_auth::WrapServerBuilder::session_handler`]).
//!
//! The library keeps the caller's sessions (their ids, their binding to the user, the caps) and
//! hands this the upstream's id for the caller's session; this adds it to the request and
//! reports when the upstream opened or ended one. Since a caller session is one upstream
//! session, nothing needs translating: the caller's progress tokens, the upstream's requests
//! to the caller (sampling, elicitation, roots) and their answers, its notifications on the GET
//! stream, all pass as they are, and reach that caller only.

use std::sync::Arc;

use axum::{body::Bytes, response::Response};
use http::{HeaderValue, Method, Request, StatusCode};
use mcp_auth::http::{SessionAnswer, SessionChange};

use super::{
    Passthrough, SESSION_ID, errors::upstream_error, is_event_stream, passes, upstream_headers,
};

impl Passthrough {
    /// Forwards one request of a session-era caller: in the upstream session `theirs`, or, for a
    /// request without one (`initialize`), as it is, and an upstream session it opens is
    /// reported to the library.
    pub async fn forward_session(
        &self,
        request: Request<Bytes>,
        theirs: Option<Arc<str>>,
    ) -> SessionAnswer {
        let (parts, body) = request.into_parts();
        let own = match &self.headers {
            Ok(own) => own,
            Err(reason) => return kept(upstream_error::unrenderable(&body, reason)),
        };
        let mut headers = upstream_headers(&parts.headers, own);
        if let Some(theirs) = theirs.as_deref().and_then(|t| HeaderValue::from_str(t).ok()) {
            headers.insert(SESSION_ID, theirs);
        }
        let method = parts.method;
        let deadline = tokio::time::Instant::now() + self.timeout;
        let answer = match self.exchange(method.clone(), &headers, &body, deadline).await {
            Ok(answer) => answer,
            Err(failed) if method == Method::POST => return kept(failed),
            Err(failed) => return kept(upstream_error::bad_gateway(failed)),
        };
        let status = answer.status();
        let in_session = theirs.is_some();
        match method {
            _ if status == StatusCode::NOT_FOUND && in_session => {
                ended(upstream_error::session_gone())
            }
            // The upstream does not offer a GET stream, or does not let clients end sessions.
            Method::GET | Method::DELETE if status == StatusCode::METHOD_NOT_ALLOWED => {
                kept(bare(StatusCode::METHOD_NOT_ALLOWED))
            }
            Method::DELETE if status.is_success() => ended(bare(StatusCode::OK)),
            Method::GET if status.is_success() && is_event_stream(answer.headers()) => {
                // The session's own stream: open as long as the caller holds it.
                kept(self.pass_on(answer, body, deadline, None).await)
            }
            Method::POST if status.is_success() => {
                let opened = answer
                    .headers()
                    .get(SESSION_ID)
                    .filter(|_| !in_session)
                    .and_then(|id| id.to_str().ok())
                    .map(Arc::<str>::from);
                let response = self.pass_on(answer, body, deadline, Some(deadline)).await;
                match opened {
                    Some(id) => SessionAnswer { response, change: SessionChange::Opened(id) },
                    None => kept(response),
                }
            }
            // The protocol's own refusals, in JSON-RPC, are the caller's to read.
            _ if passes(status, answer.headers()) => {
                kept(self.pass_on(answer, body, deadline, Some(deadline)).await)
            }
            // A POST's failure is its JSON-RPC error, as in the stateless era.
            Method::POST => kept(upstream_error::refused(&body, status)),
            // Forgotten here whatever the upstream made of it: the client is done with it.
            Method::DELETE => ended(refusal_without_id(&body, status)),
            _ => kept(refusal_without_id(&body, status)),
        }
    }
}

/// A GET's or DELETE's failure, which has no request id to answer: a refusal of the request
/// itself keeps its 4xx (a GET without a session, say), anything else is the gateway's 502.
fn refusal_without_id(body: &[u8], status: StatusCode) -> Response {
    let the_callers = status.is_client_error() && !matches!(status.as_u16(), 401 | 403 | 407);
    if the_callers {
        upstream_error::rejected(status)
    } else {
        upstream_error::bad_gateway(upstream_error::refused(body, status))
    }
}

fn kept(response: Response) -> SessionAnswer {
    SessionAnswer { response, change: SessionChange::None }
}

fn ended(response: Response) -> SessionAnswer {
    SessionAnswer { response, change: SessionChange::Ended }
}

fn bare(status: StatusCode) -> Response {
    let mut response = Response::new(axum::body::Body::empty());
    *response.status_mut() = status;
    response
}
