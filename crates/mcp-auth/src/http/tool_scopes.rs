//! Per-tool scopes. A `tools/call` of a tool whose scopes the token lacks is refused with the
//! `403 insufficient_scope` challenge before any server sees it; a `tools/list` answer leaves
//! out the tools the caller may not call (unless configured otherwise).
//!
//! Both work on the wire, so they cover every server behind `wrap_server`, the gateway's
//! forwarded upstreams included: the request body is read anyway (for its size limit and
//! error codes), and only a `tools/list` answer is rewritten.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use serde_json::Value;

/// The scopes each tool needs, beyond the server's own.
#[derive(Debug, Default)]
pub(crate) struct ToolScopes {
    by_tool: HashMap<String, Vec<String>>,
    /// Leave tools the caller may not call out of `tools/list` (the default).
    hide: bool,
}

/// What a POSTed body asks that tool scopes care about.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Asked {
    /// Tools called.
    pub(crate) calls: Vec<String>,
    /// Ids of `tools/list` requests.
    pub(crate) lists: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(Message),
    Many(Vec<Message>),
}

#[derive(Deserialize)]
struct Message {
    method: Option<String>,
    id: Option<Value>,
    params: Option<Params>,
}

#[derive(Deserialize)]
struct Params {
    name: Option<String>,
}

impl ToolScopes {
    pub(crate) fn new(by_tool: HashMap<String, Vec<String>>, hide: bool) -> Self {
        Self { by_tool, hide }
    }

    /// What `body` asks. Not JSON-RPC: nothing (the server answers it with its own error).
    pub(crate) fn inspect(&self, body: &[u8]) -> Asked {
        let messages = match serde_json::from_slice::<OneOrMany>(body) {
            Ok(OneOrMany::One(message)) => vec![message],
            Ok(OneOrMany::Many(messages)) => messages,
            Err(_) => return Asked::default(),
        };
        let mut asked = Asked::default();
        for message in messages {
            match message.method.as_deref() {
                Some("tools/call") => {
                    let name = message.params.and_then(|p| p.name).unwrap_or_default();
                    asked.calls.push(name);
                }
                Some("tools/list") if self.hide => asked.lists.extend(message.id),
                _ => {}
            }
        }
        asked
    }

    /// The first called tool whose scopes `granted` lacks: every scope it needs (`server`'s
    /// and its own, the complete set for the operation) and the missing ones.
    pub(crate) fn refused(
        &self,
        asked: &Asked,
        server: &[String],
        granted: &[String],
    ) -> Option<(Vec<String>, Vec<String>)> {
        asked.calls.iter().find_map(|tool| {
            let own = self.by_tool.get(tool)?;
            let missing: Vec<String> =
                own.iter().filter(|s| !granted.contains(s)).cloned().collect();
            if missing.is_empty() {
                return None;
            }
            let mut needed = server.to_vec();
            needed.extend(own.iter().filter(|s| !server.contains(s)).cloned());
            Some((needed, missing))
        })
    }

    fn permits(&self, tool: &str, granted: &[String]) -> bool {
        self.by_tool.get(tool).is_none_or(|own| own.iter().all(|s| granted.contains(s)))
    }

    /// What `text` (one JSON-RPC message) is to a filter of the `tools/list` requests `lists`:
    /// the answer to one of them, with the tools `granted` may not call left out, or not.
    pub(crate) fn filter_message(
        &self,
        text: &[u8],
        lists: &HashSet<String>,
        granted: &[String],
    ) -> Listed {
        let Ok(mut message) = serde_json::from_slice::<Value>(text) else {
            return Listed::Other;
        };
        if !message.get("id").is_some_and(|id| lists.contains(&id.to_string())) {
            return Listed::Other;
        }
        let tools = message.get_mut("result").and_then(|r| r.get_mut("tools"));
        let Some(tools) = tools.and_then(Value::as_array_mut) else {
            // An error answer, say: nothing to hide, and the request is answered.
            return Listed::Kept;
        };
        let before = tools.len();
        tools.retain(|tool| {
            tool.get("name").and_then(Value::as_str).is_none_or(|name| self.permits(name, granted))
        });
        if tools.len() == before {
            return Listed::Kept;
        }
        serde_json::to_vec(&message).map_or(Listed::Kept, Listed::Filtered)
    }
}

/// A message, to a filter of `tools/list` answers.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Listed {
    /// Not the answer to one of its requests.
    Other,
    /// The answer, with nothing to leave out.
    Kept,
    /// The answer, with tools left out: its new text.
    Filtered(Vec<u8>),
}

/// The ids of `asked`'s `tools/list` requests, as their JSON text (how answers are matched).
pub(crate) fn list_ids(asked: &Asked) -> HashSet<String> {
    asked.lists.iter().map(Value::to_string).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn scopes() -> ToolScopes {
        let by_tool = HashMap::from([("admin".to_owned(), vec!["mcp:admin".to_owned()])]);
        ToolScopes::new(by_tool, true)
    }

    #[test]
    fn calls_and_lists_are_found_in_single_messages_and_batches() {
        let single = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin"}}"#;
        assert_eq!(scopes().inspect(single).calls, ["admin"]);
        let batch = br#"[{"jsonrpc":"2.0","id":"a","method":"tools/list"},
                         {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"x"}}]"#;
        assert_eq!(
            scopes().inspect(batch),
            Asked { calls: vec!["x".to_owned()], lists: vec![json!("a")] }
        );
        assert_eq!(scopes().inspect(b"not json"), Asked::default());
        let shown = ToolScopes::new(HashMap::new(), false);
        assert!(shown.inspect(br#"{"id":1,"method":"tools/list"}"#).lists.is_empty());
    }

    #[test]
    fn a_refusal_names_every_scope_needed_and_the_missing_ones() {
        let asked = Asked { calls: vec!["other".to_owned(), "admin".to_owned()], lists: vec![] };
        let server = ["mcp:tools".to_owned()];
        assert_eq!(
            scopes().refused(&asked, &server, &server),
            Some((
                vec!["mcp:tools".to_owned(), "mcp:admin".to_owned()],
                vec!["mcp:admin".to_owned()]
            ))
        );
        assert_eq!(scopes().refused(&asked, &server, &["mcp:admin".to_owned()]), None);
    }

    #[test]
    fn only_the_answer_to_a_listed_id_is_filtered() {
        let answer =
            json!({"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"admin"},{"name":"echo"}]}});
        let text = serde_json::to_vec(&answer).unwrap();
        let ids = HashSet::from(["7".to_owned()]);
        let Listed::Filtered(filtered) = scopes().filter_message(&text, &ids, &[]) else {
            panic!("filtered")
        };
        let filtered: Value = serde_json::from_slice(&filtered).unwrap();
        assert_eq!(filtered["result"]["tools"], json!([{"name":"echo"}]));
        let other = HashSet::from(["8".to_owned()]);
        assert_eq!(scopes().filter_message(&text, &other, &[]), Listed::Other);
        let granted = ["mcp:admin".to_owned()];
        assert_eq!(scopes().filter_message(&text, &ids, &granted), Listed::Kept);
        let error = br#"{"jsonrpc":"2.0","id":7,"error":{"code":-32603,"message":"x"}}"#;
        assert_eq!(scopes().filter_message(error, &ids, &[]), Listed::Kept);
    }
}
