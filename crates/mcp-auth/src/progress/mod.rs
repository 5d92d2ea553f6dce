//! Progress monitoring: the original package's `/progress/stats` and `/progress/metrics`,
//! without its leaks.
//!
//! A *progress stream* is a request that asked for progress (`params._meta.progressToken`),
//! from the moment it is admitted until its answer ends. The transports register one per such
//! request and count the `notifications/progress` messages sent back on it (their whole bytes).
//! Streams are keyed by an id of their own, never by the client's token, so two users' token
//! `1` never meet; a stream ends when its response does, and one whose response never ends is
//! swept after [`ProgressOptions::idle_timeout`] without a message.
//!
//! The table is bounded in total and per user. A request over either bound is still served;
//! it is only not monitored (and counted in `untracked`). Each stream costs about 140 bytes
//! (a test bounds it under 1 KB).

mod report;
mod token;

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime},
};

use tokio::time::Instant;

use crate::config::ConfigError;

#[doc(inline)]
pub use self::report::{
    GlobalStats, Health, ProgressReport, ProgressStats, StreamMetrics, UserStats,
};
pub(crate) use self::token::{is_progress_notification, progress_token};

/// How progress streams are monitored. `Default` is the original's behaviour with bounds.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProgressOptions {
    /// Monitor progress streams and serve `{base}/progress/stats` (default `true`).
    pub enabled: bool,
    /// The scope that `{base}/progress/metrics` (every user's streams) requires. Without one,
    /// that endpoint is not served (404).
    pub admin_scope: Option<String>,
    /// A stream with no message for this long is swept (default 5 min).
    pub idle_timeout: Duration,
    /// How often the table is swept, at most (default 60 s). Sweeping happens when the table is
    /// used (a stream starts, a report is asked for), so an unused table costs nothing.
    pub sweep_interval: Duration,
    /// Health: a stream without a message for this long is an issue (default 2 min).
    pub stale_after: Duration,
    /// Health: a stream older than this is a warning (default 1 h).
    pub very_old_after: Duration,
    /// Health: a stream sending more messages per second than this is a warning (default 100).
    pub high_rate_per_second: f64,
    /// Streams monitored at once, all users together (default 10,000).
    pub max_streams: usize,
    /// Streams monitored at once for one user (default 100).
    pub max_streams_per_user: usize,
}

impl Default for ProgressOptions {
    fn default() -> Self {
        Self {
            enabled: true,
            admin_scope: None,
            idle_timeout: Duration::from_secs(5 * 60),
            sweep_interval: Duration::from_secs(60),
            stale_after: Duration::from_secs(2 * 60),
            very_old_after: Duration::from_secs(60 * 60),
            high_rate_per_second: 100.0,
            max_streams: 10_000,
            max_streams_per_user: 100,
        }
    }
}

impl ProgressOptions {
    /// Sets [`admin_scope`](Self::admin_scope).
    pub fn with_admin_scope(mut self, scope: impl Into<String>) -> Self {
        self.admin_scope = Some(scope.into());
        self
    }

    /// Turns monitoring (and `{base}/progress/*`) off.
    pub fn disabled() -> Self {
        Self { enabled: false, ..Self::default() }
    }

    /// The monitor these options describe, `None` when disabled.
    pub(crate) fn monitor(self) -> Result<Option<Arc<ProgressMonitor>>, ConfigError> {
        if !self.enabled {
            return Ok(None);
        }
        if let Some(scope) = &self.admin_scope {
            crate::auth::check_scope("progress.admin_scope", scope)?;
        }
        for (key, value) in [
            ("progress.max_streams", self.max_streams),
            ("progress.max_streams_per_user", self.max_streams_per_user),
        ] {
            if value == 0 {
                return Err(ConfigError::invalid(key, 0, "at least 1"));
            }
        }
        let rate = self.high_rate_per_second;
        if !(rate.is_finite() && rate > 0.0) {
            return Err(ConfigError::invalid("progress.high_rate_per_second", rate, "above 0"));
        }
        Ok(Some(Arc::new(ProgressMonitor::new(self))))
    }
}

/// The progress streams of one wrapped server.
#[derive(Debug)]
pub struct ProgressMonitor {
    options: ProgressOptions,
    table: Mutex<Table>,
    next_id: AtomicU64,
    /// Requests that asked for progress while the table was full.
    untracked: AtomicU64,
}

#[derive(Debug)]
struct Table {
    streams: HashMap<u64, Arc<Stream>>,
    per_user: HashMap<Arc<str>, usize>,
    last_sweep: Instant,
}

/// One monitored stream. Counters are atomics: a message is counted without the table's lock.
#[derive(Debug)]
pub(crate) struct Stream {
    id: u64,
    user: Arc<str>,
    /// The client's token as JSON text (a string or a number).
    token: Box<str>,
    started: Instant,
    /// Milliseconds after `started` of the last message (or of the start).
    last_ms: AtomicU64,
    messages: AtomicU64,
    bytes: AtomicU64,
}

/// A stream being monitored; dropping it (the response ended) ends the stream.
#[derive(Debug)]
pub(crate) struct Tracked {
    monitor: Arc<ProgressMonitor>,
    stream: Arc<Stream>,
}

impl Tracked {
    /// One progress message of `bytes` sent to the client.
    pub(crate) fn record(&self, bytes: usize) {
        let stream = &self.stream;
        stream.messages.fetch_add(1, Ordering::Relaxed);
        stream.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        stream.last_ms.store(millis(stream.started.elapsed()), Ordering::Relaxed);
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.monitor.lock().remove(&self.stream);
    }
}

impl ProgressMonitor {
    /// An empty monitor.
    pub fn new(options: ProgressOptions) -> Self {
        let table =
            Table { streams: HashMap::new(), per_user: HashMap::new(), last_sweep: Instant::now() };
        Self { options, table: Mutex::new(table), next_id: AtomicU64::new(1), untracked: 0.into() }
    }

    /// The options it runs with.
    pub fn options(&self) -> &ProgressOptions {
        &self.options
    }

    /// Starts monitoring `user`'s request with progress token `token` (its JSON text); `None`
    /// when a bound is reached or the token is unreasonably long.
    pub(crate) fn start(self: &Arc<Self>, user: &str, token: &str) -> Option<Tracked> {
        if token.len() > token::MAX_TOKEN_BYTES {
            self.untracked.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let now = Instant::now();
        let mut table = self.lock();
        table.sweep_if_due(now, &self.options);
        let per_user = table.per_user.get(user).copied().unwrap_or(0);
        if table.streams.len() >= self.options.max_streams
            || per_user >= self.options.max_streams_per_user
        {
            drop(table);
            self.untracked.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        // One allocation of the user id per user, shared by all of their streams.
        let user: Arc<str> = match table.per_user.get_key_value(user) {
            Some((key, _)) => key.clone(),
            None => user.into(),
        };
        let stream = Arc::new(Stream {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            user: user.clone(),
            token: token.into(),
            started: now,
            last_ms: AtomicU64::new(0),
            messages: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        });
        table.streams.insert(stream.id, stream.clone());
        *table.per_user.entry(user).or_insert(0) += 1;
        Some(Tracked { monitor: self.clone(), stream })
    }

    /// `user`'s own streams, and counts of everyone's (no other user id, no token).
    pub fn stats(&self, user: &str) -> ProgressStats {
        let now = Instant::now();
        let mut table = self.lock();
        table.sweep_if_due(now, &self.options);
        let mut user_stats = UserStats { user_id: user.to_owned(), ..UserStats::default() };
        let mut global = GlobalStats {
            active_streams: table.streams.len(),
            user_count: table.per_user.len(),
            untracked: self.untracked.load(Ordering::Relaxed),
            ..GlobalStats::default()
        };
        for stream in table.streams.values() {
            let messages = stream.messages.load(Ordering::Relaxed);
            global.total_messages += messages;
            if *stream.user == *user {
                user_stats.active_streams += 1;
                user_stats.total_messages += messages;
                user_stats.total_bytes += stream.bytes.load(Ordering::Relaxed);
                let age = millis(now.saturating_duration_since(stream.started));
                user_stats.oldest_stream_age = user_stats.oldest_stream_age.max(age);
            }
        }
        ProgressStats { user: user_stats, global, timestamp: report::timestamp(SystemTime::now()) }
    }

    /// Every stream in detail, with the health checks: for administrators only.
    pub fn report(&self) -> ProgressReport {
        let now = Instant::now();
        let wall = SystemTime::now();
        let mut table = self.lock();
        table.sweep_if_due(now, &self.options);
        let mut streams: Vec<StreamMetrics> =
            table.streams.values().map(|stream| report::metrics_of(stream, now, wall)).collect();
        drop(table);
        streams.sort_by_key(|s| s.start_time);
        let health = report::health(&streams, &self.options);
        ProgressReport { metrics: streams, health, timestamp: report::timestamp(wall) }
    }

    /// Streams monitored now.
    pub fn active_streams(&self) -> usize {
        self.lock().streams.len()
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // Only whole inserts and removes happen under the lock: a poisoned table is consistent.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Table {
    fn remove(&mut self, stream: &Stream) {
        if self.streams.remove(&stream.id).is_none() {
            return; // swept already
        }
        if let Some(count) = self.per_user.get_mut(&stream.user) {
            *count -= 1;
            if *count == 0 {
                self.per_user.remove(&stream.user);
            }
        }
    }

    /// Drops the streams idle for `idle_timeout`, at most once per `sweep_interval`.
    fn sweep_if_due(&mut self, now: Instant, options: &ProgressOptions) {
        if now.saturating_duration_since(self.last_sweep) < options.sweep_interval {
            return;
        }
        self.last_sweep = now;
        let idle: Vec<Arc<Stream>> = self
            .streams
            .values()
            .filter(|s| s.idle_for(now) >= options.idle_timeout)
            .cloned()
            .collect();
        for stream in idle {
            tracing::warn!(
                idle_secs = stream.idle_for(now).as_secs(),
                "swept a progress stream that sent nothing for too long"
            );
            self.remove(&stream);
        }
    }
}

impl Stream {
    fn last_update(&self) -> Instant {
        self.started + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }

    fn idle_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.last_update())
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
