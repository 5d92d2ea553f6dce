//! The gateway's log without the secrets a URL may carry.
//!
//! rmcp's and reqwest's errors name the URL they failed on, query included — rmcp logs them
//! itself, at ERROR, from its transport worker — and an operator may keep an API key there
//! (`url = "https://mcp.example.com/mcp?key=…"`). So every line the binary logs goes through
//! [`RedactingStderr`]: it keeps each URL's scheme, host, port and path, what an operator needs
//! to find the fault, and replaces its query with `[redacted]`, as `mcp-auth check` shows it.

use std::io;

use mcp_auth::secret::REDACTED;
use tracing_subscriber::fmt::MakeWriter;

/// Standard error, each formatted log line with its URLs' queries redacted ([`url_queries`]).
/// tracing's fmt layer formats an event whole and writes it in one call, so a URL is never
/// split across writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct RedactingStderr;

impl<'a> MakeWriter<'a> for RedactingStderr {
    type Writer = RedactingWriter;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter
    }
}

/// The writer of [`RedactingStderr`].
#[derive(Debug)]
pub struct RedactingWriter;

impl io::Write for RedactingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut stderr = io::stderr().lock();
        // Most lines hold no URL: written as they are.
        if !buf.windows(4).any(|w| w == b"http") {
            stderr.write_all(buf)?;
        } else {
            stderr.write_all(url_queries(&String::from_utf8_lossy(buf)).as_bytes())?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

/// `text` with the query of every `http://` or `https://` URL in it replaced by `[redacted]`.
pub fn url_queries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = find_url(rest) {
        let (before, url_and_after) = rest.split_at(start);
        out.push_str(before);
        // A URL in an error message ends at whitespace, or at the quote or bracket around it;
        // in a JSON line, also at a `\` (an escaped quote or newline after it: kept, or the
        // line would no longer be JSON).
        let end = url_and_after
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '>' | ']' | '\\'))
            .unwrap_or(url_and_after.len());
        let (url, after) = url_and_after.split_at(end);
        match url.split_once('?') {
            Some((base, _query)) => {
                out.push_str(base);
                out.push('?');
                out.push_str(REDACTED);
            }
            None => out.push_str(url),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Where the next `http://` or `https://` starts in `text`.
fn find_url(text: &str) -> Option<usize> {
    match (text.find("http://"), text.find("https://")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::url_queries;

    #[test]
    fn a_urls_query_is_redacted_and_the_rest_of_the_message_kept() {
        assert_eq!(
            url_queries(
                "error sending request for url (http://127.0.0.1:1/mcp?key=kept-in-the-url): \
                 connection refused"
            ),
            "error sending request for url (http://127.0.0.1:1/mcp?[redacted]): connection refused"
        );
    }

    #[test]
    fn every_url_is_redacted_and_text_without_a_query_is_unchanged() {
        let text = "a https://h/x?a=1&b=2 b \"http://g/?s\" c http://plain/path";
        assert_eq!(
            url_queries(text),
            "a https://h/x?[redacted] b \"http://g/?[redacted]\" c http://plain/path"
        );
        assert_eq!(url_queries("no url at all?"), "no url at all?");
    }

    #[test]
    fn a_json_line_stays_json_with_its_queries_redacted() {
        let line = serde_json::json!({
            "message": "failed: \"http://u/mcp?key=s3cret\"\nnext http://v/?k=s3cret",
            "url": "https://w/x?token=s3cret",
        })
        .to_string();
        let redacted = url_queries(&line);
        let parsed: serde_json::Value = serde_json::from_str(&redacted).expect(&redacted);
        assert_eq!(
            parsed["message"],
            "failed: \"http://u/mcp?[redacted]\"\nnext http://v/?[redacted]"
        );
        assert_eq!(parsed["url"], "https://w/x?[redacted]");
        assert!(!redacted.contains("s3cret"), "{redacted}");
    }
}
