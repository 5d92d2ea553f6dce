//! Session-era Streamable HTTP served by the caller's instance itself: the hook a proxy uses to
//! forward a 2025-era session (its POSTs, its GET stream, its DELETE) to an upstream session as
//! it came, instead of through rmcp's server and, behind it, a client.
//!
//! Everything before the hook is unchanged: the request was authenticated, rate-limited, its
//! credential resolved and its instance pinned; its credential headers are gone and its
//! [`Principal`](crate::auth::Principal) is in the extensions; a session id it names was found
//! in the user's own table (404 otherwise), and a request that opens one found room under the
//! session caps. The hook sees the handler's own value for the session, never the client's id,
//! and its answer is held like any other (in-flight slot, unread bytes, token expiry) until its
//! body ends.

use std::{future::Future, pin::Pin, sync::Arc};

use axum::{body::Bytes, response::Response};
use http::{HeaderValue, Request};

use crate::instances::HookedSessions;

/// What a [session handler](crate::WrapServerBuilder::session_handler) did to the caller's
/// session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionChange {
    /// Nothing: the session (or the lack of one) goes on.
    None,
    /// Opened a session, known to the handler by this value (an upstream's session id, say). The
    /// library gives the client an id of its own for it, in `Mcp-Session-Id`.
    Opened(Arc<str>),
    /// Ended the caller's session (a DELETE, or the handler found it gone): its id is forgotten,
    /// and the client's next request with it gets 404.
    Ended,
}

/// A session handler's answer: the response to send, and what became of the session.
pub struct SessionAnswer {
    pub response: Response,
    pub change: SessionChange,
}

/// The boxed future a session handler returns.
pub type SessionFuture = Pin<Box<dyn Future<Output = SessionAnswer> + Send>>;

/// The hook's type: the caller's instance, the request (its `Mcp-Session-Id` removed) and the
/// handler's own value for the caller's session, if the request names one.
pub(crate) type SessionHandler<H> =
    dyn Fn(Arc<H>, Request<Bytes>, Option<Arc<str>>) -> SessionFuture + Send + Sync;

/// Applies the handler's `change` to the user's `table` and gives the client its response: a
/// new session's id set by the library, the handler's own `Mcp-Session-Id` never passed on.
pub(super) fn settle(
    answer: SessionAnswer,
    table: &HookedSessions,
    session_id: Option<&str>,
) -> Response {
    let SessionAnswer { mut response, change } = answer;
    let headers = response.headers_mut();
    headers.remove(super::streamable::SESSION_ID);
    match change {
        SessionChange::None => {}
        SessionChange::Opened(theirs) => {
            if let Some(ended) = session_id {
                table.end(ended);
            }
            let id = table.open(theirs);
            if let Ok(value) = HeaderValue::from_str(&id) {
                headers.insert(super::streamable::SESSION_ID, value);
            }
        }
        SessionChange::Ended => {
            if let Some(ended) = session_id {
                table.end(ended);
            }
        }
    }
    response
}
