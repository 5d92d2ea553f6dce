//! [`RequestContext`]: what an [`AuthProvider`](super::AuthProvider) may look at.
//!
//! The context borrows from the incoming request, so building one costs nothing on the hot
//! path. Its `Debug` lists header *names* only, because the headers hold the bearer token.

use std::{borrow::Cow, fmt, net::SocketAddr};

use http::{HeaderMap, HeaderName, header::AUTHORIZATION};

use super::AuthError;

/// The header a request id is read from when none is given explicitly. Behind the
/// [`wrap_server`](crate::wrap_server) router it always holds the request's id: the client's
/// when sane, else one the router made (see [`crate::log_ids`]); the response carries it too.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The transport a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportKind {
    /// Newline-delimited JSON-RPC over stdin/stdout; identity comes from the environment.
    Stdio,
    /// Streamable HTTP (either protocol era).
    StreamableHttp,
    /// The legacy 2024-11-05 HTTP+SSE transport.
    LegacySse,
}

/// The parts of a request an auth provider may use: headers, transport, query, peer address and
/// request id.
#[derive(Clone, Copy)]
pub struct RequestContext<'a> {
    headers: &'a HeaderMap,
    transport: TransportKind,
    query: Option<&'a str>,
    peer_addr: Option<SocketAddr>,
    request_id: Option<&'a str>,
}

impl<'a> RequestContext<'a> {
    /// A context over `headers`; the request id defaults to the `X-Request-ID` header.
    pub fn new(transport: TransportKind, headers: &'a HeaderMap) -> Self {
        const REQUEST_ID: HeaderName = HeaderName::from_static(REQUEST_ID_HEADER);
        let request_id = headers.get(REQUEST_ID).and_then(|v| v.to_str().ok());
        Self { headers, transport, query: None, peer_addr: None, request_id }
    }

    /// Sets the raw (still percent-encoded) query string, without the leading `?`.
    pub fn with_query(mut self, query: &'a str) -> Self {
        self.query = Some(query);
        self
    }

    /// Sets the remote socket address.
    pub fn with_peer_addr(mut self, peer_addr: SocketAddr) -> Self {
        self.peer_addr = Some(peer_addr);
        self
    }

    /// Sets the request id explicitly.
    pub fn with_request_id(mut self, request_id: &'a str) -> Self {
        self.request_id = Some(request_id);
        self
    }

    /// The request headers.
    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }

    /// One header's value, if present and valid visible ASCII.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The transport the request arrived on.
    pub fn transport(&self) -> TransportKind {
        self.transport
    }

    /// The raw query string, if any.
    pub fn query(&self) -> Option<&'a str> {
        self.query
    }

    /// The first value of query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<Cow<'a, str>> {
        let query = self.query?;
        url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// The remote socket address, when the transport has one.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer_addr
    }

    /// The request id, for correlating logs: over HTTP through the library's router, the id
    /// its response's `X-Request-ID` and log lines carry; `None` over stdio.
    pub fn request_id(&self) -> Option<&'a str> {
        self.request_id
    }

    /// The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1; the scheme is
    /// case-insensitive). A missing header is [`AuthError::MissingCredentials`]; any other
    /// scheme, an empty token or more than one `Authorization` header is
    /// [`AuthError::MalformedHeader`].
    pub fn bearer_token(&self) -> Result<&'a str, AuthError> {
        let mut values = self.headers.get_all(AUTHORIZATION).iter();
        let value = values.next().ok_or(AuthError::MissingCredentials)?;
        if values.next().is_some() {
            return Err(AuthError::MalformedHeader);
        }
        // What `to_str` accepts, given a header value's own rules (no control bytes but tab),
        // checked eight bytes at a time rather than one: the token is most of a request head.
        let value = Some(value.as_bytes())
            .filter(|bytes| bytes.is_ascii())
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .ok_or(AuthError::MalformedHeader)?;
        let (scheme, token) = value.split_once(' ').ok_or(AuthError::MalformedHeader)?;
        let token = token.trim_start_matches(' ');
        if !scheme.eq_ignore_ascii_case("bearer")
            || token.is_empty()
            || memchr::memchr(b' ', token.as_bytes()).is_some()
        {
            return Err(AuthError::MalformedHeader);
        }
        Ok(token)
    }
}

impl fmt::Debug for RequestContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestContext")
            .field("transport", &self.transport)
            .field("header_names", &self.headers.keys().collect::<Vec<_>>())
            .field("has_query", &self.query.is_some())
            .field("peer_addr", &self.peer_addr)
            .field("request_id", &self.request_id)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn bearer_token_parsing() {
        type Case<'a> = (&'a [(&'a str, &'a str)], Result<&'a str, AuthError>);
        let cases: &[Case] = &[
            (&[("authorization", "Bearer abc.def.ghi")], Ok("abc.def.ghi")),
            (&[("authorization", "bearer abc")], Ok("abc")),
            (&[("authorization", "BEARER abc")], Ok("abc")),
            (&[], Err(AuthError::MissingCredentials)),
            (&[("authorization", "Basic dXNlcjpwdw==")], Err(AuthError::MalformedHeader)),
            (&[("authorization", "Bearer")], Err(AuthError::MalformedHeader)),
            (&[("authorization", "Bearer ")], Err(AuthError::MalformedHeader)),
            (&[("authorization", "Bearer a b")], Err(AuthError::MalformedHeader)),
            (&[("authorization", "Bearer tok\u{e9}n")], Err(AuthError::MalformedHeader)),
            (
                &[("authorization", "Bearer a"), ("authorization", "Bearer b")],
                Err(AuthError::MalformedHeader),
            ),
        ];
        for (pairs, expected) in cases {
            let map = headers(pairs);
            let ctx = RequestContext::new(TransportKind::StreamableHttp, &map);
            assert_eq!(&ctx.bearer_token(), expected, "headers {pairs:?}");
        }
    }

    #[test]
    fn request_id_query_and_debug() {
        let map = headers(&[("x-request-id", "r-1"), ("authorization", "Bearer s3cr3t")]);
        let ctx = RequestContext::new(TransportKind::LegacySse, &map).with_query("a=1&b=x%20y");
        assert_eq!(ctx.request_id(), Some("r-1"));
        assert_eq!(ctx.query_param("b").as_deref(), Some("x y"));
        assert_eq!(ctx.query_param("c"), None);
        let printed = format!("{ctx:?}");
        assert!(printed.contains("authorization") && !printed.contains("s3cr3t"), "{printed}");
    }
}
