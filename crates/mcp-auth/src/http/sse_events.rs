//! An SSE response body seen one complete event at a time, for the layers that look at what a
//! server sends (the `tools/list` filter, progress counting). Events are passed on as soon as
//! they are complete: a stream that stays open is never held back.

use axum::body::Bytes;
use futures::{Stream, StreamExt};

/// The most an SSE event may hold while waiting for its end; past it, that event and the rest
/// of the stream pass as they come, unseen.
pub(crate) const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// `stream` with each complete event (its blank line included) replaced by `each(event)`.
pub(crate) fn map<S, F>(stream: S, each: F) -> impl Stream<Item = Result<Bytes, axum::Error>> + Send
where
    S: Stream<Item = Result<Bytes, axum::Error>> + Send + Unpin + 'static,
    F: FnMut(Vec<u8>) -> Vec<u8> + Send + 'static,
{
    let state = Events { stream, buffer: Vec::new(), each: Some(each), done: false };
    futures::stream::unfold(state, |mut state| async move {
        let item = state.next().await?;
        Some((item, state))
    })
}

struct Events<S, F> {
    stream: S,
    buffer: Vec<u8>,
    /// `None` once an event outgrew [`MAX_EVENT_BYTES`]: the rest passes as it comes.
    each: Option<F>,
    done: bool,
}

impl<S, F> Events<S, F>
where
    S: Stream<Item = Result<Bytes, axum::Error>> + Unpin,
    F: FnMut(Vec<u8>) -> Vec<u8>,
{
    async fn next(&mut self) -> Option<Result<Bytes, axum::Error>> {
        loop {
            if let Some(each) = &mut self.each {
                if let Some(end) = event_end(&self.buffer) {
                    let event: Vec<u8> = self.buffer.drain(..end).collect();
                    return Some(Ok(Bytes::from(each(event))));
                }
                if self.buffer.len() > MAX_EVENT_BYTES {
                    self.each = None;
                }
            }
            if (self.each.is_none() || self.done) && !self.buffer.is_empty() {
                return Some(Ok(Bytes::from(std::mem::take(&mut self.buffer))));
            }
            if self.done {
                return None;
            }
            match self.stream.next().await {
                Some(Ok(chunk)) => self.buffer.extend_from_slice(&chunk),
                Some(Err(error)) => {
                    self.done = true;
                    return Some(Err(error));
                }
                None => self.done = true,
            }
        }
    }
}

/// Where the first complete event of `buffer` ends (after its blank line), LF or CRLF.
fn event_end(buffer: &[u8]) -> Option<usize> {
    let lf = memchr::memmem::find(buffer, b"\n\n").map(|i| i + 2);
    let crlf = memchr::memmem::find(buffer, b"\r\n\r\n").map(|i| i + 4);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The data of one SSE event (its `data:` lines joined by newlines): one JSON-RPC message.
pub(crate) fn data(event: &[u8]) -> String {
    let text = String::from_utf8_lossy(event);
    let data: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(|d| d.strip_prefix(' ').unwrap_or(d))
        .collect();
    data.join("\n")
}
