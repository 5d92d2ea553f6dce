//! An instance's own answer to stateless-era POSTs: the hook a proxy uses to forward a
//! 2026-07-28 request as it came, instead of through rmcp's server (and, behind it, a client).
//!
//! Everything before the hook is unchanged: the request was authenticated, rate-limited, its
//! credential resolved and its instance pinned; its credential headers are gone and its
//! [`Principal`](crate::auth::Principal) is in the extensions. The answer is held like any
//! other (in-flight slot, unread bytes, token expiry) until its body ends.

use std::{future::Future, pin::Pin, sync::Arc};

use axum::{body::Bytes, response::Response};
use http::Request;

/// What a [stateless handler](crate::WrapServerBuilder::stateless_handler) made of a request.
pub enum Stateless {
    /// The answer to send, as is.
    Answered(Response),
    /// Not this handler's request: it goes to rmcp's server as usual.
    Declined(Request<Bytes>),
}

/// The boxed future a stateless handler returns.
pub type StatelessFuture = Pin<Box<dyn Future<Output = Stateless> + Send>>;

/// The hook's type: the caller's instance and the request.
pub(crate) type StatelessHandler<H> =
    dyn Fn(Arc<H>, Request<Bytes>) -> StatelessFuture + Send + Sync;
