//! [`with_logging`]: one `tracing` span per tool call and one event when it ends.
//!
//! The span is `tool.call` with the fields `user` and `tool` (and `arguments`, when asked for),
//! so everything the handler and the inner layers log carries them. `user` names the caller as
//! the call's [`ToolContext::user_id_logging`](crate::tool::ToolContext::user_id_logging)
//! says: a keyed tag unless raw ids were asked for ([`crate::log_ids`]). The closing event has
//! `duration_ms` and `outcome`: `ok`, `tool_error` (the tool ran and reported a failure), or the
//! kind of [`ToolError`] (`rate_limited`, `timed_out`, `cancelled`, `unauthenticated`,
//! `credential_error`, `invalid_arguments`).
//!
//! The original's `withLogging` printed arguments and results as they were. Here nothing the
//! caller sent is logged unless [`LoggingConfig::log_arguments`] is on, and then every value
//! under a key that looks secret (`api_key`, `apiKey`, `password`, `authorization`, … at any
//! depth, ignoring case and separators) is replaced by `"[redacted]"`. Results, and the message
//! of a tool's own failure (which is its result), are logged only with
//! [`LoggingConfig::log_results`], redacted the same way. The caller's credential is never
//! touched by this layer.

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use futures::future::BoxFuture;
use rmcp::model::CallToolResult;
use serde_json::{Map, Value};
use tower::{Layer, Service};
use tracing::Instrument;

use crate::tool::{ToolCall, ToolError};

/// What replaces a redacted value.
pub const REDACTED: &str = "[redacted]";

/// Key fragments whose values are redacted by default (matched ignoring case and separators).
pub const DEFAULT_REDACT_PATTERNS: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "apikey",
    "api_key",
    "authorization",
    "cookie",
    "credential",
    "private_key",
];

/// What [`with_logging`] logs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoggingConfig {
    /// Log the call's arguments, redacted (default false).
    pub log_arguments: bool,
    /// Log the call's result, redacted (default false).
    pub log_results: bool,
    /// A value whose key contains one of these is redacted (default [`DEFAULT_REDACT_PATTERNS`]).
    /// Matching ignores case and separators, so `api_key` also catches `apiKey`, `API-KEY` and
    /// `X-Api-Key`.
    pub redact_patterns: Vec<String>,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            log_arguments: false,
            log_results: false,
            redact_patterns: DEFAULT_REDACT_PATTERNS.iter().map(|p| (*p).to_owned()).collect(),
        }
    }
}

impl LoggingConfig {
    /// Sets [`Self::log_arguments`].
    pub fn with_log_arguments(mut self, log: bool) -> Self {
        self.log_arguments = log;
        self
    }

    /// Sets [`Self::log_results`].
    pub fn with_log_results(mut self, log: bool) -> Self {
        self.log_results = log;
        self
    }

    /// Replaces [`Self::redact_patterns`] (the defaults included) with `patterns`.
    pub fn with_redact_patterns(mut self, patterns: impl IntoIterator<Item = String>) -> Self {
        self.redact_patterns = patterns.into_iter().collect();
        self
    }

    /// Adds `pattern` to [`Self::redact_patterns`], keeping the others.
    pub fn with_extra_redact_pattern(mut self, pattern: impl Into<String>) -> Self {
        self.redact_patterns.push(pattern.into());
        self
    }

    /// `value` with every value under a key matching [`Self::redact_patterns`] (in objects at
    /// any depth, arrays included) replaced by [`REDACTED`].
    pub fn redact(&self, value: &Value) -> Value {
        redact(value, &normalize_patterns(&self.redact_patterns))
    }
}

/// Lower-cased, without separators: the form keys are compared in.
fn normalize(key: &str) -> String {
    key.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// The patterns in [`normalize`]d form; empty ones dropped (they would match every key).
fn normalize_patterns(patterns: &[String]) -> Vec<String> {
    patterns.iter().map(|p| normalize(p)).filter(|p| !p.is_empty()).collect()
}

/// Redacts with patterns already [`normalize`]d.
fn redact(value: &Value, patterns: &[String]) -> Value {
    match value {
        Value::Object(map) => Value::Object(redact_map(map, patterns)),
        Value::Array(items) => Value::Array(items.iter().map(|v| redact(v, patterns)).collect()),
        other => other.clone(),
    }
}

fn redact_map(map: &Map<String, Value>, patterns: &[String]) -> Map<String, Value> {
    map.iter()
        .map(|(key, value)| {
            let normalized = normalize(key);
            let value = if patterns.iter().any(|p| normalized.contains(p.as_str())) {
                Value::String(REDACTED.to_owned())
            } else {
                redact(value, patterns)
            };
            (key.clone(), value)
        })
        .collect()
}

/// The original's `withLogging`, with redaction and structured fields.
///
/// ```
/// use mcp_auth::{middleware::{LoggingConfig, with_logging}, tool::{ToolError, tool_fn}};
/// let tool = tower::ServiceBuilder::new()
///     .layer(with_logging(LoggingConfig::default().with_log_arguments(true)))
///     .service(tool_fn(|_args, _ctx| async { Ok::<_, ToolError>("done") }));
/// ```
pub fn with_logging(config: LoggingConfig) -> LoggingLayer {
    LoggingLayer::new(config)
}

/// Applies [`Logging`] to a tool service. See [`with_logging`].
#[derive(Debug, Clone)]
pub struct LoggingLayer {
    config: Arc<LoggingConfig>,
}

impl LoggingLayer {
    /// A layer logging as `config` says.
    pub fn new(mut config: LoggingConfig) -> Self {
        // Normalised once here, so calls compare without re-normalising the patterns.
        config.redact_patterns = normalize_patterns(&config.redact_patterns);
        Self { config: Arc::new(config) }
    }
}

impl<S> Layer<S> for LoggingLayer {
    type Service = Logging<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Logging { inner, config: self.config.clone() }
    }
}

/// A tool service that logs its calls. See [`with_logging`].
#[derive(Debug, Clone)]
pub struct Logging<S> {
    inner: S,
    config: Arc<LoggingConfig>,
}

impl<S> Logging<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, consuming the logging layer.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> Service<ToolCall> for Logging<S>
where
    S: Service<ToolCall, Response = CallToolResult, Error = ToolError>,
    S::Future: Send + 'static,
{
    type Response = CallToolResult;
    type Error = ToolError;
    type Future = BoxFuture<'static, Result<CallToolResult, ToolError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, call: ToolCall) -> Self::Future {
        // User ids are validated free of control characters, so they cannot forge log lines.
        let span = tracing::info_span!(
            "tool.call",
            user = %call.context.user_id_logging().tag(call.context.user_id()),
            tool = %call.name,
            arguments = tracing::field::Empty,
        );
        if self.config.log_arguments && !span.is_disabled() {
            let arguments =
                Value::Object(redact_map(&call.arguments, &self.config.redact_patterns));
            span.record("arguments", tracing::field::display(&arguments));
        }
        let started = tokio::time::Instant::now();
        let work = span.in_scope(|| self.inner.call(call));
        let config = self.config.clone();
        Box::pin(
            async move {
                let result = work.await;
                log_outcome(&config, &result, started.elapsed().as_millis() as u64);
                result
            }
            .instrument(span),
        )
    }
}

fn log_outcome(
    config: &LoggingConfig,
    result: &Result<CallToolResult, ToolError>,
    duration_ms: u64,
) {
    match result {
        Ok(output) => {
            let outcome = if output.is_error == Some(true) { "tool_error" } else { "ok" };
            let logged = config.log_results.then(|| redact_result(output, &config.redact_patterns));
            tracing::info!(duration_ms, outcome, result = logged.as_deref(), "tool call finished");
        }
        // The tool's own failure message is what the user sees as its result: logged as one.
        Err(ToolError::Failed(message)) => {
            let logged = config.log_results.then_some(message.as_str());
            tracing::info!(
                duration_ms,
                outcome = "tool_error",
                result = logged,
                "tool call finished"
            );
        }
        // `InvalidArguments` messages may quote the arguments: kind only.
        Err(error @ ToolError::InvalidArguments(_)) => {
            tracing::warn!(duration_ms, outcome = error_kind(error), "tool call failed");
        }
        Err(error) => {
            tracing::warn!(duration_ms, outcome = error_kind(error), %error, "tool call failed");
        }
    }
}

/// The result as JSON, with secret-looking keys redacted in the structured content and in text
/// blocks that hold JSON.
fn redact_result(output: &CallToolResult, patterns: &[String]) -> String {
    let Ok(mut value) = serde_json::to_value(output) else {
        return "[unserializable result]".to_owned();
    };
    if let Some(blocks) = value.get_mut("content").and_then(Value::as_array_mut) {
        for block in blocks {
            if let Some(text) = block.get_mut("text")
                && let Some(parsed) =
                    text.as_str().and_then(|t| serde_json::from_str::<Value>(t).ok())
                && (parsed.is_object() || parsed.is_array())
            {
                *text = Value::String(redact(&parsed, patterns).to_string());
            }
        }
    }
    redact(&value, patterns).to_string()
}

/// The `outcome` name of an error, shared with the retry layer's events.
pub(crate) fn error_kind(error: &ToolError) -> &'static str {
    match error {
        ToolError::Unauthenticated(_) => "unauthenticated",
        ToolError::Credential(_) => "credential_error",
        ToolError::RateLimited { .. } => "rate_limited",
        ToolError::TimedOut { .. } => "timed_out",
        ToolError::Cancelled => "cancelled",
        ToolError::InvalidArguments(_) => "invalid_arguments",
        ToolError::Failed(_) => "tool_error",
    }
}
