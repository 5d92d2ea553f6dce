//! The GCRA (generic cell rate algorithm) as one Lua script: read the key's theoretical
//! arrival time (TAT), decide, write the new TAT with a TTL — atomically, in one round trip
//! (`EVALSHA`; redis-rs loads the script and retries once when Redis answers `NOSCRIPT`, after
//! a restart or a `SCRIPT FLUSH`).
//!
//! The same algorithm as governor's, which the local [`KeyedLimiter`] uses: one request every
//! `interval = period / requests`, up to `burst` back to back. Time is Redis' own (`TIME`), so
//! replicas whose clocks disagree still share one schedule. Times are whole microseconds since
//! the epoch (< 2^53, exact in Lua's doubles).
//!
//! [`KeyedLimiter`]: mcp_auth::middleware::rate_limit::KeyedLimiter

use std::time::Duration;

use mcp_auth::middleware::rate_limit::{RateLimitExceeded, RateLimitStatus};

/// KEYS[1]: the caller's key. ARGV[1]: the emission interval in µs; ARGV[2]: the burst.
/// Returns `{allowed (0|1), remaining, retry_after µs, reset µs}`.
pub(crate) const SCRIPT: &str = r#"
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now) or now
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - interval * burst
if now < allow_at then
  return {0, 0, allow_at - now, tat - now}
end
-- The key lives exactly as long as it says anything: past new_tat it equals a fresh key.
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.max(1, math.ceil((new_tat - now) / 1000)))
return {1, math.floor((now - allow_at) / interval), 0, new_tat - now}
"#;

/// What the script answered, as the library's types.
pub(crate) fn decode(
    answer: &[i64],
    burst: u32,
) -> Result<Result<RateLimitStatus, RateLimitExceeded>, String> {
    let &[allowed, remaining, retry_us, reset_us] = answer else {
        return Err(format!("unexpected script answer of {} values", answer.len()));
    };
    let micros = |value: i64| Duration::from_micros(u64::try_from(value).unwrap_or(0));
    let remaining = u32::try_from(remaining).unwrap_or(0).min(burst);
    let status = RateLimitStatus::new(burst, remaining, micros(reset_us));
    Ok(if allowed == 1 {
        Ok(status)
    } else {
        Err(RateLimitExceeded::new(
            micros(retry_us),
            RateLimitStatus::new(burst, 0, micros(reset_us)),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_become_the_library_types() {
        let ok = decode(&[1, 2, 0, 1_000_000], 3).unwrap().unwrap();
        assert_eq!((ok.limit, ok.remaining, ok.reset), (3, 2, Duration::from_secs(1)));
        let refused = decode(&[0, 0, 400_000, 2_400_000], 3).unwrap().unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_millis(400));
        assert_eq!(refused.retry_after_secs(), 1);
        assert_eq!((refused.status.remaining, refused.status.reset_secs()), (0, 3));
        assert!(decode(&[1, 2], 3).is_err());
    }
}
