//! [`ListFilter`]: rewrites the `tools/list` answers of a Streamable HTTP response to leave out
//! the tools the caller may not call — a JSON body whole, an SSE body event by event as it
//! streams (a stream that stays open is never held back). An event that outgrows
//! [`sse_events::MAX_EVENT_BYTES`] and the rest after it pass unfiltered: the calls are still
//! refused, hiding is a courtesy and not the boundary.

use std::{collections::HashSet, sync::Arc};

use axum::{
    body::{Body, Bytes},
    http::header,
    response::Response,
};
use futures::Stream;
use http_body_util::BodyExt;

use super::{
    sse_events,
    tool_scopes::{Asked, Listed, ToolScopes, list_ids},
};

/// What to filter: the answers to these `tools/list` ids, for a caller holding `granted`.
pub(crate) struct ListFilter {
    scopes: Arc<ToolScopes>,
    lists: HashSet<String>,
    granted: Vec<String>,
}

impl ListFilter {
    /// `None` when `asked` lists no tools.
    pub(crate) fn new(scopes: &Arc<ToolScopes>, asked: &Asked, granted: &[String]) -> Option<Self> {
        if asked.lists.is_empty() {
            return None;
        }
        Some(Self { scopes: scopes.clone(), lists: list_ids(asked), granted: granted.to_vec() })
    }

    /// What one JSON-RPC message is to this filter (see [`Listed`]).
    pub(crate) fn message(&self, text: &[u8]) -> Listed {
        self.scopes.filter_message(text, &self.lists, &self.granted)
    }

    /// One JSON-RPC message, filtered if it answers one of the listed ids; `None`: unchanged.
    fn filtered(&self, text: &[u8]) -> Option<Vec<u8>> {
        match self.message(text) {
            Listed::Filtered(text) => Some(text),
            Listed::Other | Listed::Kept => None,
        }
    }

    /// `response` with its `tools/list` answers filtered.
    pub(crate) fn apply(self, response: Response) -> Response {
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let (mut parts, body) = response.into_parts();
        let body = if content_type.starts_with("application/json") {
            // A JSON answer is one finite message.
            let whole = async move {
                let bytes = body.collect().await?.to_bytes();
                Ok::<_, axum::Error>(self.filtered(&bytes).map_or(bytes, Bytes::from))
            };
            Body::from_stream(futures::stream::once(whole))
        } else if content_type.starts_with("text/event-stream") {
            Body::from_stream(self.events(body.into_data_stream()))
        } else {
            return Response::from_parts(parts, body);
        };
        parts.headers.remove(header::CONTENT_LENGTH);
        Response::from_parts(parts, body)
    }

    /// The SSE stream, each complete event filtered.
    fn events(
        self,
        stream: impl Stream<Item = Result<Bytes, axum::Error>> + Send + Unpin + 'static,
    ) -> impl Stream<Item = Result<Bytes, axum::Error>> + Send + 'static {
        sse_events::map(stream, move |event| self.event(event))
    }

    /// One SSE event with its data (one JSON-RPC message) filtered, other fields kept.
    fn event(&self, event: Vec<u8>) -> Vec<u8> {
        let Some(filtered) = self.filtered(sse_events::data(&event).as_bytes()) else {
            return event;
        };
        let text = String::from_utf8_lossy(&event);
        let mut out = Vec::with_capacity(filtered.len() + 64);
        let mut written = false;
        for line in text.lines() {
            if line.starts_with("data:") {
                if !written {
                    out.extend_from_slice(b"data: ");
                    out.extend_from_slice(&filtered);
                    out.push(b'\n');
                    written = true;
                }
            } else if !line.is_empty() {
                out.extend_from_slice(line.as_bytes());
                out.push(b'\n');
            }
        }
        out.push(b'\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use futures::StreamExt;
    use serde_json::{Value, json};

    use super::*;

    fn filter() -> ListFilter {
        let by_tool = HashMap::from([("admin".to_owned(), vec!["mcp:admin".to_owned()])]);
        let scopes = Arc::new(ToolScopes::new(by_tool, true));
        let asked = Asked { calls: vec![], lists: vec![json!(1)] };
        ListFilter::new(&scopes, &asked, &[]).unwrap()
    }

    const ANSWER: &str =
        r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"admin"},{"name":"echo"}]}}"#;

    #[tokio::test]
    async fn an_sse_answer_split_across_chunks_is_filtered_and_other_events_kept() {
        let text =
            format!("id: 0\nretry: 5\ndata: \n\nevent: message\ndata: {ANSWER}\r\n\r\n: done\n\n");
        let chunks: Vec<Result<Bytes, axum::Error>> =
            text.as_bytes().chunks(7).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        let out: Vec<u8> = filter()
            .events(futures::stream::iter(chunks))
            .map(|c| c.unwrap().to_vec())
            .concat()
            .await;
        let out = String::from_utf8(out).unwrap();
        // Re-serialised: keys in serde_json's order.
        let expected = r#"{"id":1,"jsonrpc":"2.0","result":{"tools":[{"name":"echo"}]}}"#;
        assert_eq!(
            out,
            format!("id: 0\nretry: 5\ndata: \n\nevent: message\ndata: {expected}\n\n: done\n\n")
        );
    }

    #[tokio::test]
    async fn a_json_answer_is_filtered_whole() {
        let response = Response::builder()
            .header("content-type", "application/json")
            .header("content-length", ANSWER.len())
            .body(Body::from(ANSWER))
            .unwrap();
        let response = filter().apply(response);
        assert!(response.headers().get("content-length").is_none());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let answer: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(answer["result"]["tools"], json!([{"name":"echo"}]));
    }
}
