//! Whether an http upstream speaks the stateless era, learnt once per server from its answer to
//! `server/discover` (the era's own probe, as clients use it).

use std::{
    sync::{
        Mutex,
        atomic::{AtomicU8, Ordering},
    },
    time::Duration,
};

use tokio::time::Instant;

use http::{HeaderMap, HeaderValue, header};

const UNKNOWN: u8 = 0;
const MODERN: u8 = 1;
const LEGACY: u8 = 2;

/// The version the fast path forwards (and the probe asks for).
const STATELESS_ERA: &str = "2026-07-28";

/// The largest probe answer read.
const MAX_PROBE_ANSWER: usize = 64 * 1024;

/// How long after a probe that got no answer the next one may be sent. Meanwhile requests take
/// the session-era path at once: a hung upstream must not cost each request a probe's wait on
/// top of its own.
const PROBE_BACKOFF: Duration = Duration::from_secs(10);

/// What one server's upstream speaks; shared by all of its users' instances.
#[derive(Debug, Default)]
pub struct UpstreamEra {
    state: AtomicU8,
    /// No probe before this instant (set when a probe got no answer).
    next_probe: Mutex<Option<Instant>>,
}

impl UpstreamEra {
    /// True when the upstream serves 2026-07-28 requests; probes it the first time. An upstream
    /// that cannot be asked (down, refusing this user's credential, failing) is asked again on
    /// a request at least [`PROBE_BACKOFF`] later, and meanwhile its requests take the
    /// session-era path, which reports why.
    pub async fn is_modern(
        &self,
        client: &reqwest::Client,
        url: &reqwest::Url,
        headers: &HeaderMap,
        timeout: Duration,
    ) -> bool {
        match self.state.load(Ordering::Relaxed) {
            MODERN => true,
            LEGACY => false,
            _ if self.backing_off() => false,
            _ => match probe(client, url, headers, timeout).await {
                Some(modern) => {
                    let (state, era) = if modern {
                        (MODERN, "2026-07-28: its stateless requests are forwarded as they come")
                    } else {
                        (LEGACY, "the session era only: every request goes through the proxy")
                    };
                    if self.state.swap(state, Ordering::Relaxed) == UNKNOWN {
                        let upstream = url.origin().ascii_serialization();
                        tracing::info!(%upstream, "the upstream speaks {era}");
                    }
                    modern
                }
                None => {
                    let mut next = self.next_probe.lock().unwrap_or_else(|e| e.into_inner());
                    *next = Some(Instant::now() + PROBE_BACKOFF);
                    false
                }
            },
        }
    }

    fn backing_off(&self) -> bool {
        let next = self.next_probe.lock().unwrap_or_else(|e| e.into_inner());
        next.is_some_and(|at| Instant::now() < at)
    }
}

/// `Some(true)` when `server/discover` lists 2026-07-28, `Some(false)` when the upstream
/// answers it any other way, `None` when it could not be asked.
async fn probe(
    client: &reqwest::Client,
    url: &reqwest::Url,
    own: &HeaderMap,
    timeout: Duration,
) -> Option<bool> {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": "mcp-auth-discover",
        "method": "server/discover",
        "params": {"_meta": {
            "io.modelcontextprotocol/protocolVersion": STATELESS_ERA,
            "io.modelcontextprotocol/clientInfo": {
                "name": "mcp-auth-gateway",
                "version": env!("CARGO_PKG_VERSION"),
            },
            "io.modelcontextprotocol/clientCapabilities": {},
        }},
    });
    let mut headers = own.clone();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json, text/event-stream"));
    headers.insert("mcp-protocol-version", HeaderValue::from_static(STATELESS_ERA));
    headers.insert("mcp-method", HeaderValue::from_static("server/discover"));
    let asked = async {
        let mut answer = client.post(url.clone()).headers(headers).json(&body).send().await.ok()?;
        let status = answer.status();
        if matches!(status.as_u16(), 401 | 403 | 407 | 408 | 429) || status.is_server_error() {
            return None;
        }
        let mut text = Vec::new();
        while let Some(chunk) = answer.chunk().await.ok()? {
            text.extend_from_slice(&chunk);
            if text.len() > MAX_PROBE_ANSWER {
                return Some(false);
            }
        }
        Some(status.is_success() && lists_stateless_era(&text))
    };
    tokio::time::timeout(timeout, asked).await.ok().flatten()
}

/// True when `answer` (a JSON body, or SSE events whose data is JSON) holds a result whose
/// `supportedVersions` names 2026-07-28.
fn lists_stateless_era(answer: &[u8]) -> bool {
    let lists = |message: &[u8]| {
        serde_json::from_slice::<serde_json::Value>(message).ok().is_some_and(|message| {
            message["result"]["supportedVersions"]
                .as_array()
                .is_some_and(|versions| versions.iter().any(|v| v == STATELESS_ERA))
        })
    };
    if lists(answer) {
        return true;
    }
    answer
        .split(|&b| b == b'\n')
        .filter_map(|line| line.strip_prefix(b"data:"))
        .any(|data| lists(data.trim_ascii()))
}

#[cfg(test)]
mod tests {
    use std::{
        sync::{
            Arc,
            atomic::{AtomicUsize, Ordering},
        },
        time::Duration,
    };

    use http::HeaderMap;

    use super::{PROBE_BACKOFF, UpstreamEra, lists_stateless_era};

    #[tokio::test(start_paused = true)]
    async fn an_upstream_that_does_not_answer_is_probed_again_only_after_the_backoff() {
        // Accepts connections and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url =
            reqwest::Url::parse(&format!("http://{}/mcp", listener.local_addr().unwrap())).unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                held.push(socket);
            }
        });
        let (era, client, headers) =
            (UpstreamEra::default(), reqwest::Client::new(), HeaderMap::new());
        let timeout = Duration::from_secs(1);
        assert!(!era.is_modern(&client, &url, &headers, timeout).await);
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        // Within the backoff: no probe, no wait.
        let started = tokio::time::Instant::now();
        assert!(!era.is_modern(&client, &url, &headers, timeout).await);
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        tokio::time::advance(PROBE_BACKOFF).await;
        assert!(!era.is_modern(&client, &url, &headers, timeout).await);
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn finds_the_era_in_json_and_in_sse() {
        let versions = r#"{"supportedVersions":["2025-11-25","2026-07-28"]}"#;
        let json = format!(r#"{{"jsonrpc":"2.0","id":1,"result":{versions}}}"#).into_bytes();
        let json = json.as_slice();
        assert!(lists_stateless_era(json));
        let sse = [b"event: message\ndata: ".as_slice(), json, b"\n\n"].concat();
        assert!(lists_stateless_era(&sse));
        assert!(!lists_stateless_era(
            br#"{"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2025-11-25"]}}"#
        ));
        assert!(!lists_stateless_era(
            br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no"}}"#
        ));
        assert!(!lists_stateless_era(b"Bad Request: session id required"));
    }
}
