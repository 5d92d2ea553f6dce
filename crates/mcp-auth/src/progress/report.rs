//! The JSON documents of `/progress/stats` and `/progress/metrics`, with the original's field
//! names, and the health checks.

use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::time::Instant;

use super::{ProgressOptions, Stream, millis};

/// `GET {base}/progress/stats`: the caller's own streams and everyone's counts.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ProgressStats {
    /// The caller's streams.
    pub user: UserStats,
    /// All users' streams, counted.
    pub global: GlobalStats,
    /// When this was taken (RFC 3339, UTC).
    pub timestamp: String,
}

/// One user's streams.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UserStats {
    /// The caller (their own id).
    pub user_id: String,
    pub active_streams: usize,
    pub total_messages: u64,
    /// Bytes of the progress messages sent, whole.
    pub total_bytes: u64,
    /// Milliseconds since the oldest stream started (0 without streams).
    pub oldest_stream_age: u64,
}

/// Counts over every user, and nothing that names one.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct GlobalStats {
    pub active_streams: usize,
    pub total_messages: u64,
    pub user_count: usize,
    /// Requests that asked for progress while the table was full (served, not monitored).
    pub untracked: u64,
}

/// `GET {base}/progress/metrics`: every stream, and the health checks.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ProgressReport {
    /// Oldest first.
    pub metrics: Vec<StreamMetrics>,
    pub health: Health,
    /// When this was taken (RFC 3339, UTC).
    pub timestamp: String,
}

/// One stream in detail. Times are milliseconds (since the Unix epoch for instants).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct StreamMetrics {
    pub user_id: String,
    /// The client's token, as it sent it (a string or a number).
    pub progress_token: serde_json::Value,
    pub start_time: u64,
    pub last_update: u64,
    pub duration: u64,
    pub message_count: u64,
    pub bytes_transferred: u64,
    pub average_message_size: f64,
    pub messages_per_second: f64,
}

/// The health checks' findings. `healthy` is `issues.is_empty()`; warnings do not count.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct Health {
    pub healthy: bool,
    /// Stale streams (no message for [`ProgressOptions::stale_after`]).
    pub issues: Vec<String>,
    /// Very old streams, and streams sending faster than allowed.
    pub warnings: Vec<String>,
}

/// `stream` as seen at `now` (monotonic) and `wall` (the same moment on the clock).
pub(super) fn metrics_of(stream: &Stream, now: Instant, wall: SystemTime) -> StreamMetrics {
    let epoch_ms = |at: Instant| {
        let ago = now.saturating_duration_since(at);
        wall.checked_sub(ago)
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, millis)
    };
    let duration = now.saturating_duration_since(stream.started);
    let messages = stream.messages.load(std::sync::atomic::Ordering::Relaxed);
    let bytes = stream.bytes.load(std::sync::atomic::Ordering::Relaxed);
    let seconds = duration.as_secs_f64();
    StreamMetrics {
        user_id: stream.user.to_string(),
        progress_token: serde_json::from_str(&stream.token).unwrap_or_default(),
        start_time: epoch_ms(stream.started),
        last_update: epoch_ms(stream.last_update()),
        duration: millis(duration),
        message_count: messages,
        bytes_transferred: bytes,
        average_message_size: if messages == 0 { 0.0 } else { bytes as f64 / messages as f64 },
        messages_per_second: if seconds > 0.0 { messages as f64 / seconds } else { 0.0 },
    }
}

/// The original's three checks, with thresholds from `options`.
pub(super) fn health(streams: &[StreamMetrics], options: &ProgressOptions) -> Health {
    let mut health = Health::default();
    let minutes = |ms: u64| ms / 60_000;
    for s in streams {
        // The clock's rounding may put the last update a millisecond past now.
        let since_update = (s.start_time + s.duration).saturating_sub(s.last_update);
        if Duration::from_millis(since_update) >= options.stale_after {
            health.issues.push(format!(
                "Stream {} for user {} is stale ({} minutes since update)",
                s.progress_token,
                s.user_id,
                minutes(since_update)
            ));
        }
        if Duration::from_millis(s.duration) >= options.very_old_after {
            health.warnings.push(format!(
                "Stream {} for user {} is very old ({} minutes)",
                s.progress_token,
                s.user_id,
                minutes(s.duration)
            ));
        }
        if s.messages_per_second > options.high_rate_per_second {
            health.warnings.push(format!(
                "Stream {} has high message rate ({:.1}/sec)",
                s.progress_token, s.messages_per_second
            ));
        }
    }
    health.healthy = health.issues.is_empty();
    health
}

/// `at` as RFC 3339 in UTC, with milliseconds (what JavaScript's `toISOString` gives).
pub(super) fn timestamp(at: SystemTime) -> String {
    let at = time::OffsetDateTime::from(at);
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    at.format(&format).unwrap_or_default()
}
