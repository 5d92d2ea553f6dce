//! [`RedisRevocations`]: a revocation recorded by any process reaches every replica within a
//! second, and a replica that was cut off from Redis when it happened catches up when it
//! reconnects.
//!
//! The record is a Redis stream, `{prefix}revocations`: [`RedisRevocations::revoke`] appends
//! the user id (`XADD`, the stream capped at [`DEFAULT_MAX_ENTRIES`]), and each replica's
//! [`RevocationListener`] blocks in `XREAD` after the last entry it handled. That is pub/sub
//! whose messages stay: an entry's id is the revocation epoch, each listener remembers the last
//! one it handled, and after a disconnection it reads on from there, so it misses nothing that
//! is still in the stream. The script that appends also records the id of the newest entry the
//! cap trimmed (`{prefix}revocations:trimmed`); if that is past a reconnecting listener's epoch,
//! entries it never read are gone, it cannot tell whose they were, and it reports
//! [`Revoked::Everyone`]. A new listener starts at its own start time less [`CLOCK_SLACK`]
//! rather than at the stream's end, so a revocation made while it was starting, before it
//! reached Redis, is not lost either.
//!
//! The stream holds user ids as given (the handler needs them to find what to drop), for as
//! long as the cap keeps them; Redis should be reachable by the replicas only. A Redis restart
//! without persistence loses the record, and with it what a replica cut off at that moment had
//! not read yet: run Redis with AOF (docs/scale-out.md).

use std::{
    future::Future,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use redis::{
    AsyncCommands, AsyncConnectionConfig,
    aio::MultiplexedConnection,
    streams::{StreamReadOptions, StreamReadReply},
};

use crate::RedisConnection;

/// How many revocations the stream keeps (the oldest go first): enough that a replica cut off
/// for a while still finds every one it missed.
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

/// How far before its own start a new listener reads: covers a replica's clock running ahead
/// of Redis' (stream ids are Redis' clock). Reading a little history twice only drops a cached
/// credential again.
pub const CLOCK_SLACK: Duration = Duration::from_secs(5);

/// How long one `XREAD` waits for a new entry before it is sent again. A new entry answers it
/// at once; this only bounds how long a dead connection can go unnoticed (with
/// [`READ_TIMEOUT`]).
const BLOCK: Duration = Duration::from_secs(2);

/// The longest wait for any answer on the listener's connection.
const READ_TIMEOUT: Duration = Duration::from_secs(4);

/// The first and the longest pause between reconnection attempts.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The longest wait for a `revoke`: not on any request's path, and a first call also connects.
const REVOKE_TIMEOUT: Duration = Duration::from_secs(2);

/// The entry field holding the user id.
const USER_FIELD: &str = "user";

/// Appends a revocation, trimming the stream to its cap first and recording the newest id the
/// trim removed: atomic, so no listener can see the trim without the record. KEYS: the stream,
/// the record; ARGV: the cap, the user id. Answers the new entry's id.
const APPEND_SCRIPT: &str = r"
local over = redis.call('XLEN', KEYS[1]) - tonumber(ARGV[1]) + 1
if over > 0 then
  local gone = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', over)
  redis.call('SET', KEYS[2], gone[#gone][1])
  redis.call('XTRIM', KEYS[1], 'MAXLEN', tonumber(ARGV[1]) - 1)
end
return redis.call('XADD', KEYS[1], '*', 'user', ARGV[2])
";

/// What a listener reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    /// This user was revoked: drop everything cached of them.
    User(String),
    /// Revocations were missed and cannot be named: drop everything cached of everyone.
    Everyone,
}

/// A revocation that could not be recorded (Redis is down or slow). Never holds the user id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the revocation was not recorded in Redis: {0}")]
pub struct RevokeError(String);

/// The revocation record of a deployment; cheap to clone.
#[derive(Debug, Clone)]
pub struct RedisRevocations {
    connection: RedisConnection,
    stream_key: String,
    /// The id of the newest entry trimmed away.
    trimmed_key: String,
    max_entries: usize,
    append: redis::Script,
}

impl RedisRevocations {
    /// The record under `{prefix}revocations` on `connection`.
    pub fn new(connection: &RedisConnection) -> Self {
        Self {
            connection: connection.clone(),
            stream_key: format!("{}revocations", connection.key_prefix),
            trimmed_key: format!("{}revocations:trimmed", connection.key_prefix),
            max_entries: DEFAULT_MAX_ENTRIES,
            append: redis::Script::new(APPEND_SCRIPT),
        }
    }

    /// Sets how many revocations the stream keeps (at least 1).
    pub fn with_max_entries(mut self, max_entries: usize) -> Self {
        self.max_entries = max_entries.max(1);
        self
    }

    /// The stream's key (for tests and operators).
    pub fn stream_key(&self) -> &str {
        &self.stream_key
    }

    /// Records that `user_id` is revoked; every listener reports it. Returns the entry's id
    /// (the new epoch).
    pub async fn revoke(&self, user_id: &str) -> Result<String, RevokeError> {
        let mut manager = self.connection.manager.clone();
        let mut invocation = self.append.key(&self.stream_key);
        invocation.key(&self.trimmed_key).arg(self.max_entries).arg(user_id);
        let add = invocation.invoke_async::<String>(&mut manager);
        match tokio::time::timeout(REVOKE_TIMEOUT.max(self.connection.timeout), add).await {
            Ok(Ok(id)) => Ok(id),
            Ok(Err(error)) => Err(RevokeError(error.to_string())),
            Err(_) => Err(RevokeError(format!("no answer within {REVOKE_TIMEOUT:?}"))),
        }
    }

    /// Starts listening: `on_revoked` is called, one at a time and in order, for every
    /// revocation recorded from about now on (and for [`Revoked::Everyone`] when some were
    /// missed). Runs on its own connection until the returned listener is dropped; Redis being
    /// down only delays it. Must be called within a Tokio runtime.
    pub fn listen<F, Fut>(&self, on_revoked: F) -> RevocationListener
    where
        F: FnMut(Revoked) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let started = SystemTime::now().checked_sub(CLOCK_SLACK).unwrap_or(UNIX_EPOCH);
        let millis = started.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
        let epoch = Arc::new(Mutex::new(EntryId { millis: millis as u64, seq: 0 }));
        let reader = Reader {
            client: self.connection.client.clone(),
            stream_key: self.stream_key.clone(),
            trimmed_key: self.trimmed_key.clone(),
            epoch: epoch.clone(),
        };
        let task = tokio::spawn(reader.run(on_revoked));
        RevocationListener { task, epoch }
    }
}

/// A running listener; dropping it stops it.
#[derive(Debug)]
pub struct RevocationListener {
    task: tokio::task::JoinHandle<()>,
    epoch: Arc<Mutex<EntryId>>,
}

impl RevocationListener {
    /// The id of the last revocation handled (or where reading started): the epoch a
    /// reconnection reads on from.
    pub fn epoch(&self) -> String {
        self.epoch.lock().expect("epoch lock").to_string()
    }
}

impl Drop for RevocationListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A stream entry id, `MILLIS-SEQ`, ordered as Redis orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct EntryId {
    millis: u64,
    seq: u64,
}

impl EntryId {
    fn parse(id: &str) -> Option<Self> {
        let (millis, seq) = id.split_once('-')?;
        Some(Self { millis: millis.parse().ok()?, seq: seq.parse().ok()? })
    }
}

impl std::fmt::Display for EntryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.millis, self.seq)
    }
}

/// The listener's task.
struct Reader {
    client: redis::Client,
    stream_key: String,
    trimmed_key: String,
    epoch: Arc<Mutex<EntryId>>,
}

impl Reader {
    async fn run<F, Fut>(self, mut on_revoked: F)
    where
        F: FnMut(Revoked) -> Fut,
        Fut: Future<Output = ()>,
    {
        let mut backoff = MIN_BACKOFF;
        let mut outage: Option<String> = None;
        loop {
            match self.session(&mut on_revoked, &mut outage, &mut backoff).await {
                Ok(never) => match never {},
                Err(reason) => {
                    if outage.is_none() {
                        tracing::warn!(
                            %reason,
                            "revocations: cannot read from Redis; revocations recorded meanwhile \
                             are applied once it answers"
                        );
                    }
                    outage = Some(reason);
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// One connection's life: catch up, then read until something fails.
    async fn session<F, Fut>(
        &self,
        on_revoked: &mut F,
        outage: &mut Option<String>,
        backoff: &mut Duration,
    ) -> Result<std::convert::Infallible, String>
    where
        F: FnMut(Revoked) -> Fut,
        Fut: Future<Output = ()>,
    {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(READ_TIMEOUT))
            .set_response_timeout(Some(READ_TIMEOUT));
        let mut connection = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|error| error.to_string())?;
        if self.missed_trimmed_entries(&mut connection).await? {
            tracing::warn!(
                "revocations: some were trimmed from Redis before this replica read them; \
                 dropping what is cached of every user"
            );
            on_revoked(Revoked::Everyone).await;
        }
        if outage.take().is_some() {
            tracing::info!(epoch = %self.epoch(), "revocations: reading from Redis again");
        }
        *backoff = MIN_BACKOFF;
        let options = StreamReadOptions::default().block(BLOCK.as_millis() as usize).count(256);
        loop {
            let from = self.epoch().to_string();
            let reply: Option<StreamReadReply> = connection
                .xread_options(&[&self.stream_key], &[&from], &options)
                .await
                .map_err(|error| error.to_string())?;
            let entries = reply.into_iter().flat_map(|reply| reply.keys).flat_map(|key| key.ids);
            for entry in entries {
                let Some(id) = EntryId::parse(&entry.id) else { continue };
                match entry.get::<String>(USER_FIELD) {
                    Some(user) => on_revoked(Revoked::User(user)).await,
                    None => tracing::warn!(entry = %entry.id, "revocations: entry without a user"),
                }
                *self.epoch.lock().expect("epoch lock") = id;
            }
        }
    }

    fn epoch(&self) -> EntryId {
        *self.epoch.lock().expect("epoch lock")
    }

    /// Whether entries after this reader's epoch were trimmed away unread.
    async fn missed_trimmed_entries(
        &self,
        connection: &mut MultiplexedConnection,
    ) -> Result<bool, String> {
        let trimmed: Option<String> =
            connection.get(&self.trimmed_key).await.map_err(|error| error.to_string())?;
        let trimmed = trimmed.as_deref().and_then(EntryId::parse);
        Ok(trimmed.is_some_and(|trimmed| trimmed > self.epoch()))
    }
}

#[cfg(test)]
mod tests {
    use super::EntryId;

    #[test]
    fn entry_ids_order_by_time_then_sequence() {
        let parse = |id| EntryId::parse(id).unwrap();
        assert!(parse("1700000000000-5") < parse("1700000000001-0"));
        assert!(parse("1700000000000-5") > parse("1700000000000-4"));
        assert_eq!(parse("12-3").to_string(), "12-3");
        assert_eq!(EntryId::parse("12"), None);
        assert_eq!(EntryId::parse("a-1"), None);
    }
}
