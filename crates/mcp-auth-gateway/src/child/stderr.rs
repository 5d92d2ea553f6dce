//! A child's stderr, forwarded to the gateway's log one line at a time.
//!
//! Servers print their diagnostics (and the supervisor its own, prefixed
//! `mcp-auth supervisor:`) on stderr. Each line becomes one INFO event with the server's name
//! and the user as every other log line names them (their keyed tag, unless `[log]` says
//! `log_user_ids`), so that an operator can tell whose server said what. We cannot scrub what a
//! child prints, but nothing of ours is added: not the credential, not the environment.
//!
//! A child may print without end (a loop, a user's input echoed back): its lines are rate
//! limited, and what is over the limit is counted, not logged, so one user's server cannot
//! flood the gateway's log. The pipe is still read to its end, so the child never blocks on it.

use std::{fmt::Write as _, num::NonZeroU32};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// The longest line logged; the rest of a longer line is dropped (the event says so).
pub const MAX_LINE_BYTES: usize = 8 * 1024;

/// Lines logged per second per child, sustained; [`STDERR_BURST`] may come at once (a start-up
/// banner, a stack trace).
pub const STDERR_LINES_PER_SECOND: u32 = 50;

/// Lines a child may print at once before the rate applies.
pub const STDERR_BURST: u32 = 200;

/// Reads `stderr` until its end and logs every line. Invalid UTF-8 is replaced (lossy), control
/// characters are escaped (a child cannot forge log lines or terminal sequences).
pub(crate) async fn forward(stderr: impl AsyncRead + Unpin, server: String, user_hash: String) {
    let mut reader = BufReader::with_capacity(MAX_LINE_BYTES, stderr);
    let mut line = Line::default();
    let mut budget = Budget::new();
    loop {
        let (used, ended) = match reader.fill_buf().await {
            Ok([]) | Err(_) => {
                if !line.bytes.is_empty() || line.truncated {
                    budget.log(&mut line, &server, &user_hash);
                }
                budget.report_dropped(&server, &user_hash);
                return;
            }
            Ok(buf) => match buf.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    line.push(&buf[..end]);
                    (end + 1, true)
                }
                None => {
                    line.push(buf);
                    (buf.len(), false)
                }
            },
        };
        reader.consume(used);
        if ended {
            budget.log(&mut line, &server, &user_hash);
        }
    }
}

/// The child's rate of logged lines, and the lines dropped over it since the last report.
struct Budget {
    limiter: DefaultDirectRateLimiter,
    dropped: u64,
}

impl Budget {
    fn new() -> Self {
        let rate = NonZeroU32::new(STDERR_LINES_PER_SECOND).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(STDERR_BURST).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: RateLimiter::direct(Quota::per_second(rate).allow_burst(burst)),
            dropped: 0,
        }
    }

    /// Logs `line` if the child is within its rate (first saying how many were dropped before
    /// it), and counts it otherwise; either way the next line starts empty.
    fn log(&mut self, line: &mut Line, server: &str, user_hash: &str) {
        if self.limiter.check().is_ok() {
            self.report_dropped(server, user_hash);
            line.log(server, user_hash);
        } else {
            self.dropped += 1;
            line.clear();
        }
    }

    fn report_dropped(&mut self, server: &str, user_hash: &str) {
        if self.dropped > 0 {
            tracing::warn!(
                server = %server,
                user = %user_hash,
                dropped = self.dropped,
                "server stderr: lines dropped, over {STDERR_LINES_PER_SECOND} lines/s"
            );
            self.dropped = 0;
        }
    }
}

/// The line being read: its first [`MAX_LINE_BYTES`] bytes.
#[derive(Default)]
struct Line {
    bytes: Vec<u8>,
    truncated: bool,
}

impl Line {
    fn push(&mut self, chunk: &[u8]) {
        let room = MAX_LINE_BYTES - self.bytes.len();
        if chunk.len() > room {
            self.truncated = true;
        }
        self.bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }

    /// Logs the line and starts the next one.
    fn log(&mut self, server: &str, user_hash: &str) {
        let text = String::from_utf8_lossy(&self.bytes);
        let text = printable(text.strip_suffix('\r').unwrap_or(&text));
        if self.truncated {
            tracing::info!(server = %server, user = %user_hash, line = %text, truncated = true, "server stderr");
        } else {
            tracing::info!(server = %server, user = %user_hash, line = %text, "server stderr");
        }
        self.clear();
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.truncated = false;
    }
}

/// `text` with its control characters (other than tab) escaped as `\u{…}`.
fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\t') {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() && c != '\t' {
            let _ = write!(out, "{}", c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("plain\ttext"), "plain\ttext");
        assert_eq!(printable("\u{1b}[31mred\rX"), "\\u{1b}[31mred\\u{d}X");
    }

    #[test]
    fn a_long_line_keeps_its_first_bytes() {
        let mut line = Line::default();
        line.push(&[b'a'; MAX_LINE_BYTES - 1]);
        assert!(!line.truncated);
        line.push(b"bc");
        assert!(line.truncated);
        assert_eq!(line.bytes.len(), MAX_LINE_BYTES);
        assert_eq!(line.bytes.last(), Some(&b'b'));
    }
}
