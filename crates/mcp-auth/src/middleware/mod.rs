//! Tool middleware: tower layers for [`ToolService`](crate::tool::ToolService)s, each usable
//! alone and documented with an example.
//!
//! - [`rate_limit`]: per-user (or per-user-and-tool) GCRA rate limiting, [`with_rate_limit`].
//! - [`logging`]: a `tool.call` span per call and an outcome event, arguments and results
//!   redacted and off by default, [`with_logging`].
//! - [`concurrency`]: at most *n* calls of one user in flight, [`with_concurrency_limit`].
//! - [`timeout`]: a deadline that cancels the handler, [`with_timeout`].
//! - [`retry`]: jittered exponential backoff for idempotent calls, [`with_retry`].
//!
//! Compose them with [`tower::ServiceBuilder`]: the first layer listed is the outermost, so it
//! sees the call first and the result last (as in the original's `compose(...)`).
//!
//! # The recommended stack
//!
//! ```
//! # use std::time::Duration;
//! # use mcp_auth::middleware::*;
//! # use mcp_auth::tool::{ToolError, tool_fn};
//! # let tool = tool_fn(|_args, _ctx| async { Ok::<_, ToolError>("done") });
//! let tool = tower::ServiceBuilder::new()
//!     .layer(with_logging(LoggingConfig::default()))
//!     .layer(with_rate_limit(RateLimitConfig::per_minute(60)))
//!     .layer(with_concurrency_limit(4))
//!     .layer(with_timeout(Duration::from_secs(30)))
//!     .layer(with_retry(RetryConfig::default()))
//!     .service(tool);
//! ```
//!
//! Outermost first, and why:
//!
//! 1. **logging** sees every call and every outcome, the rejections of the layers below
//!    included (`rate_limited`, `timed_out`, `cancelled` while queued), and its span covers
//!    their events and the handler's;
//! 2. **rate limit** before any work: a call over the limit costs a map lookup, and never takes
//!    a concurrency slot or starts a timer;
//! 3. **concurrency limit** before the timeout, so the deadline measures the call's own work,
//!    not its wait for a slot. The wait is still bounded: the calls ahead of it are under the
//!    timeout, and a cancelled call leaves the queue at once;
//! 4. **timeout outside retry**: the deadline bounds the whole retry loop, backoff sleeps
//!    included, so it is the longest a caller waits, whatever the retry settings. On expiry the
//!    attempt in progress is cancelled and no further one starts. For a per-attempt limit as
//!    well, add a second, shorter `with_timeout` *inside* `with_retry`; its
//!    [`ToolError::TimedOut`](crate::tool::ToolError::TimedOut) is transient and is retried;
//! 5. **retry** innermost, around the tool alone, so a retry repeats only the tool, not the rate
//!    limit or the concurrency slot (the attempts of one call count once against both).

pub mod concurrency;
pub mod logging;
pub mod rate_limit;
pub mod retry;
pub mod timeout;

#[doc(inline)]
pub use self::rate_limit::{RateLimitConfig, RateLimitLayer, with_rate_limit};
#[doc(inline)]
pub use self::{
    concurrency::{ConcurrencyLimitConfig, ConcurrencyLimitLayer, with_concurrency_limit},
    logging::{LoggingConfig, LoggingLayer, with_logging},
    retry::{RetryConfig, RetryLayer, with_retry},
    timeout::{TimeoutLayer, with_timeout},
};
