//! The stdio wire: newline-delimited JSON-RPC (MCP stdio transport), read with a bounded line
//! buffer, with every unusable line answered rather than dropped.
//!
//! rmcp's own `AsyncRwTransport` ignores a line that is not JSON (rust-sdk#938, for fear of
//! error storms with a peer that echoes). JSON-RPC 2.0 §5.1 asks for an answer, and a client
//! that made a mistake learns nothing from silence, so this transport answers:
//!
//! | line | answer (`id: null`, JSON-RPC 2.0 §5) |
//! |---|---|
//! | not JSON (or not UTF-8) | `-32700` Parse error |
//! | JSON, but not a JSON-RPC message | `-32600` Invalid Request |
//! | longer than [`MAX_LINE_BYTES`] | `-32600`, sent as soon as the limit is passed; the rest of the line is discarded as it arrives, never buffered |
//! | blank; a notification rmcp ignores for compatibility (LSP `$/…`) | nothing |
//! | shaped like a response (`result`/`error`, no `method`), or an error response without `id` | nothing: answering answers is how two peers would ping-pong errors forever |
//!
//! Every message delivered carries the process's identity as synthetic request [`Parts`].

use std::{marker::PhantomData, sync::Arc};

use futures::{SinkExt, StreamExt};
use http::request::Parts;
use rmcp::{
    RoleServer,
    model::{ErrorCode, JsonRpcMessage},
    service::{RxJsonRpcMessage, TxJsonRpcMessage},
    transport::{
        Transport,
        async_rw::{JsonRpcMessageCodec, JsonRpcMessageCodecError},
    },
};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    sync::Mutex,
};
use tokio_util::{
    bytes::{BufMut, BytesMut},
    codec::{Decoder, Encoder, FramedRead, FramedWrite},
};

/// Longest accepted line (one message), in bytes: the same 4 MiB the HTTP transports accept as
/// a request body by default, so a message fit for one transport fits the other.
pub(crate) const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// A UTF-8 byte order mark, which RFC 8259 §8.1 lets a parser ignore (as rmcp does).
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// What one input line turned into.
enum Inbound {
    Message(Box<RxJsonRpcMessage<RoleServer>>),
    /// An error response to write back (the line was unusable).
    Refused(Value),
}

/// Splits input into lines of at most `max` bytes and parses each.
struct InboundCodec {
    max: usize,
    /// How much of the buffer is known to hold no newline.
    scanned: usize,
    /// Dropping the rest of an over-long line, up to its newline.
    discarding: bool,
    /// rmcp's decoder, used on the slow path only, for its compatibility rules.
    rmcp: JsonRpcMessageCodec<RxJsonRpcMessage<RoleServer>>,
}

impl InboundCodec {
    fn new(max: usize) -> Self {
        Self { max, scanned: 0, discarding: false, rmcp: JsonRpcMessageCodec::default() }
    }

    fn too_long(&self) -> Inbound {
        let message = format!("Invalid Request: message longer than {} bytes", self.max);
        Inbound::Refused(error_reply(ErrorCode::INVALID_REQUEST, &message))
    }

    /// One complete line, without its `\n`.
    fn parse(&mut self, line: &[u8]) -> Option<Inbound> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        if line.len() > self.max {
            return Some(self.too_long());
        }
        let json = line.strip_prefix(UTF8_BOM).unwrap_or(line);
        // The fast path is exactly rmcp's first step.
        match serde_json::from_slice::<RxJsonRpcMessage<RoleServer>>(json) {
            Ok(message) => deliver(message),
            Err(_) => self.refuse(line),
        }
    }

    /// The slow path: let rmcp's decoder apply its compatibility rules (it skips non-MCP
    /// notifications), then classify what is left.
    fn refuse(&mut self, line: &[u8]) -> Option<Inbound> {
        let mut framed = BytesMut::with_capacity(line.len() + 1);
        framed.extend_from_slice(line);
        framed.put_u8(b'\n');
        let category = match self.rmcp.decode(&mut framed) {
            Ok(Some(message)) => return deliver(message),
            Ok(None) => return None,
            Err(JsonRpcMessageCodecError::Serde(e)) => e.classify(),
            Err(_) => serde_json::error::Category::Syntax,
        };
        match category {
            serde_json::error::Category::Data => {
                if is_response_shaped(line) {
                    tracing::debug!("ignoring an invalid response-shaped message on stdio");
                    return None;
                }
                tracing::debug!("answering a JSON line that is no JSON-RPC message with -32600");
                Some(Inbound::Refused(error_reply(ErrorCode::INVALID_REQUEST, "Invalid Request")))
            }
            _ => {
                // The line itself is never logged: it may hold a token.
                tracing::debug!("answering an unparsable line with -32700");
                Some(Inbound::Refused(error_reply(ErrorCode::PARSE_ERROR, "Parse error")))
            }
        }
    }
}

/// An error response without an id answers nothing we sent (our requests always carry one).
fn deliver(message: RxJsonRpcMessage<RoleServer>) -> Option<Inbound> {
    match &message {
        JsonRpcMessage::Error(error) if error.id.is_none() => {
            tracing::debug!("ignoring an error response without id on stdio");
            None
        }
        _ => Some(Inbound::Message(Box::new(message))),
    }
}

fn is_response_shaped(line: &[u8]) -> bool {
    let json = line.strip_prefix(UTF8_BOM).unwrap_or(line);
    match serde_json::from_slice::<Value>(json) {
        Ok(Value::Object(object)) => {
            !object.contains_key("method")
                && (object.contains_key("result") || object.contains_key("error"))
        }
        _ => false,
    }
}

/// JSON-RPC 2.0 §5: "If there was an error in detecting the id in the Request object (e.g.
/// Parse error/Invalid Request), it MUST be Null." (The HTTP transports' error bodies agree.)
fn error_reply(code: ErrorCode, message: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": null, "error": { "code": code.0, "message": message } })
}

impl Decoder for InboundCodec {
    type Item = Inbound;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Inbound>, std::io::Error> {
        loop {
            let newline = buf[self.scanned..].iter().position(|b| *b == b'\n');
            let Some(offset) = newline else {
                if self.discarding {
                    buf.clear();
                    self.scanned = 0;
                    return Ok(None);
                }
                if buf.len() > self.max {
                    // Answer now and drop what follows up to the newline: the line is never
                    // held in full, however long it is.
                    buf.clear();
                    self.scanned = 0;
                    self.discarding = true;
                    return Ok(Some(self.too_long()));
                }
                self.scanned = buf.len();
                return Ok(None);
            };
            let line = buf.split_to(self.scanned + offset + 1);
            self.scanned = 0;
            if std::mem::take(&mut self.discarding) {
                continue;
            }
            if let Some(inbound) = self.parse(&line[..line.len() - 1]) {
                return Ok(Some(inbound));
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Inbound>, std::io::Error> {
        if let Some(inbound) = self.decode(buf)? {
            return Ok(Some(inbound));
        }
        // A last line without its newline is still a line.
        let rest = buf.split();
        self.scanned = 0;
        if std::mem::take(&mut self.discarding) {
            return Ok(None);
        }
        Ok(self.parse(&rest))
    }
}

/// What is written: rmcp's messages and our error replies, one JSON document per line.
#[derive(Default)]
struct OutboundCodec;

impl Encoder<TxJsonRpcMessage<RoleServer>> for OutboundCodec {
    type Error = std::io::Error;

    fn encode(
        &mut self,
        message: TxJsonRpcMessage<RoleServer>,
        buf: &mut BytesMut,
    ) -> Result<(), std::io::Error> {
        serde_json::to_writer(buf.writer(), &message)?;
        buf.put_u8(b'\n');
        Ok(())
    }
}

impl Encoder<Value> for OutboundCodec {
    type Error = std::io::Error;

    fn encode(&mut self, reply: Value, buf: &mut BytesMut) -> Result<(), std::io::Error> {
        serde_json::to_writer(buf.writer(), &reply)?;
        buf.put_u8(b'\n');
        Ok(())
    }
}

type Writer<W> = Arc<Mutex<Option<FramedWrite<W, OutboundCodec>>>>;

/// An error reply being written from inside `receive`, which rmcp polls in a `select!` and may
/// cancel: the state survives the cancellation, so a reply is neither lost nor sent twice.
enum Pending {
    Queue(Value),
    Flush,
}

/// The stdio transport: bounded line reads, answered errors, identity on every message.
pub(crate) struct LineTransport<R, W> {
    read: FramedRead<R, InboundCodec>,
    write: Writer<W>,
    pending: Option<Pending>,
    parts: Parts,
    _role: PhantomData<fn() -> RoleServer>,
}

impl<R: AsyncRead, W: AsyncWrite> LineTransport<R, W> {
    pub(crate) fn new(read: R, write: W, parts: Parts, max_line_bytes: usize) -> Self {
        Self {
            read: FramedRead::new(read, InboundCodec::new(max_line_bytes)),
            write: Arc::new(Mutex::new(Some(FramedWrite::new(write, OutboundCodec)))),
            pending: None,
            parts,
            _role: PhantomData,
        }
    }
}

impl<R, W> LineTransport<R, W>
where
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
{
    /// Writes the pending reply; false when the output is gone.
    async fn write_pending(&mut self) -> bool {
        let Some(state) = self.pending.as_mut() else { return true };
        let mut write = self.write.lock().await;
        let Some(framed) = write.as_mut() else { return false };
        if let Pending::Queue(reply) = state {
            if framed.feed(reply.take()).await.is_err() {
                return false;
            }
            *state = Pending::Flush;
        }
        if SinkExt::<Value>::flush(framed).await.is_err() {
            return false;
        }
        self.pending = None;
        true
    }
}

impl<R, W> Transport<RoleServer> for LineTransport<R, W>
where
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let write = self.write.clone();
        async move {
            match write.lock().await.as_mut() {
                Some(framed) => framed.send(item).await,
                None => Err(std::io::Error::new(
                    std::io::ErrorKind::NotConnected,
                    "the stdio transport is closed",
                )),
            }
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            if !self.write_pending().await {
                return None;
            }
            match self.read.next().await? {
                Ok(Inbound::Message(message)) => {
                    let mut message = *message;
                    message.insert_extension(clone_parts(&self.parts));
                    return Some(message);
                }
                Ok(Inbound::Refused(reply)) => self.pending = Some(Pending::Queue(reply)),
                Err(e) => {
                    tracing::error!("error reading stdin: {e}");
                    return None;
                }
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        drop(self.write.lock().await.take());
        Ok(())
    }
}

/// `Parts` is not `Clone`; rebuild the synthetic one with the same extensions.
fn clone_parts(parts: &Parts) -> Parts {
    let (mut copy, ()) = http::Request::new(()).into_parts();
    copy.extensions = parts.extensions.clone();
    copy
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(codec: &mut InboundCodec, input: &[u8]) -> Vec<Option<i64>> {
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(item) = codec.decode(&mut buf).unwrap() {
            out.push(match item {
                Inbound::Message(_) => None,
                Inbound::Refused(reply) => reply["error"]["code"].as_i64(),
            });
        }
        out
    }

    #[test]
    fn an_over_long_line_is_answered_once_and_never_held() {
        let mut codec = InboundCodec::new(16);
        let mut buf = BytesMut::from(&[b'a'; 17][..]);
        assert!(matches!(codec.decode(&mut buf).unwrap(), Some(Inbound::Refused(_))));
        assert!(buf.is_empty(), "the line so far was dropped");
        for _ in 0..100 {
            buf.extend_from_slice(&[b'a'; 1000]);
            assert!(codec.decode(&mut buf).unwrap().is_none());
            assert!(buf.is_empty(), "the rest is dropped as it arrives");
        }
        buf.extend_from_slice(b"aaa\nnot json\n");
        assert_eq!(decode_all(&mut codec, &buf), [Some(-32700)]);
    }

    #[test]
    fn a_line_arriving_whole_over_the_limit_is_refused() {
        let mut codec = InboundCodec::new(16);
        let mut input = vec![b' '; 20];
        input.push(b'\n');
        // Blank, however long: nothing.
        assert_eq!(decode_all(&mut codec, &input), []);
        let line = "{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":1}\n";
        assert_eq!(decode_all(&mut codec, line.as_bytes()), [Some(-32600)]);
        assert_eq!(decode_all(&mut InboundCodec::new(1024), line.as_bytes()), [None]);
    }

    #[test]
    fn several_lines_in_one_read_are_all_seen() {
        let mut codec = InboundCodec::new(1024);
        let input =
            b"x\n{}\n\n{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":1}\r\n\xEF\xBB\xBF1\n";
        assert_eq!(decode_all(&mut codec, input), [Some(-32700), Some(-32600), None, Some(-32600)]);
    }
}
