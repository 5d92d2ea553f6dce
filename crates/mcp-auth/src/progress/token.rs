//! Finding a request's progress token (`params._meta.progressToken`, MCP basic/utilities
//! progress) — the original looked at `body._meta` and so never found a standard client's.

use std::sync::LazyLock;

use memchr::memmem::Finder;
use serde::Deserialize;
use serde_json::value::RawValue;

/// Longer tokens are served but not monitored (the table stays small).
pub(crate) const MAX_TOKEN_BYTES: usize = 256;

/// Whether `text` (one server message) is a progress notification.
pub(crate) fn is_progress_notification(text: &[u8]) -> bool {
    memchr::memmem::find(text, b"notifications/progress").is_some()
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    params: Option<Params<'a>>,
}

#[derive(Deserialize)]
struct Params<'a> {
    #[serde(rename = "_meta", borrow)]
    meta: Option<Meta<'a>>,
}

#[derive(Deserialize)]
struct Meta<'a> {
    #[serde(rename = "progressToken", borrow)]
    progress_token: Option<&'a RawValue>,
}

/// The progress token of the first message of `body` that has one, as its JSON text (a string
/// or an integer, per the spec; anything else is not a token). Bodies that cannot hold one are
/// not parsed: this runs on every POST.
pub(crate) fn progress_token(body: &[u8]) -> Option<String> {
    // Built once: `memmem::find` would build its searcher on every call, most of its cost here.
    static FINDER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"progressToken\""));
    FINDER.find(body)?;
    // Not an untagged enum: serde buffers those, and a borrowed raw value cannot be buffered.
    let batch = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let messages = if batch {
        serde_json::from_slice::<Vec<Message<'_>>>(body).ok()?
    } else {
        vec![serde_json::from_slice::<Message<'_>>(body).ok()?]
    };
    messages.into_iter().find_map(|m| {
        let token = m.params?.meta?.progress_token?.get();
        let is_token = token.starts_with('"') || token.parse::<i64>().is_ok();
        is_token.then(|| token.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_found_in_params_meta_only() {
        let call = |meta: &str| {
            format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"slow",{meta}}}}}"#
            )
        };
        assert_eq!(
            progress_token(call(r#""_meta":{"progressToken":"op-1"}"#).as_bytes()),
            Some(r#""op-1""#.to_owned())
        );
        assert_eq!(
            progress_token(call(r#""_meta":{"progressToken":0}"#).as_bytes()),
            Some("0".to_owned()),
            "token 0 is a token (the original skipped it)"
        );
        // Where the original looked: not where the spec puts it.
        let top = r#"{"jsonrpc":"2.0","id":1,"method":"ping","_meta":{"progressToken":"x"}}"#;
        assert_eq!(progress_token(top.as_bytes()), None);
        assert_eq!(progress_token(call(r#""_meta":{"progressToken":1.5}"#).as_bytes()), None);
        assert_eq!(progress_token(call(r#""_meta":{"progressToken":{"a":1}}"#).as_bytes()), None);
        assert_eq!(progress_token(call(r#""_meta":{}"#).as_bytes()), None);
        assert_eq!(progress_token(b"not json \"progressToken\""), None);
    }

    #[test]
    fn a_batch_gives_its_first_token() {
        let batch = r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},
            {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"_meta":{"progressToken":7}}}]"#;
        assert_eq!(progress_token(batch.as_bytes()), Some("7".to_owned()));
    }

    #[test]
    fn progress_notifications_are_recognised() {
        let n = br#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}"#;
        assert!(is_progress_notification(n));
        assert!(!is_progress_notification(br#"{"jsonrpc":"2.0","id":1,"result":{}}"#));
    }
}
