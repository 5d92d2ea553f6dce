//! `Host` and `Origin` checks (DNS-rebinding protection), and CORS.
//!
//! MCP transports spec (2025-11-25, 2026-07-28): "Servers MUST validate the `Origin` header on all
//! incoming connections"; "If the `Origin` header is present and invalid, servers MUST respond
//! with HTTP 403 Forbidden". The `Host` check stops a rebinding attack before the `Origin` check
//! is even needed. Both run before authentication, on every route.
//!
//! The rules, in order:
//!
//! 1. **A well-formed, single `Host`** (RFC 9110 §7.2: a server MUST answer `400` to a request
//!    with more than one `Host` field line or an invalid value). `Host` is `host[:port]`: no
//!    userinfo (`127.0.0.1:80@evil.example` names `evil.example` to some parsers and
//!    `127.0.0.1` to others), a numeric port. When the request target also carries an authority
//!    (absolute-form, or HTTP/2 `:authority`), the two must agree. Otherwise `400`.
//! 2. **An allowed host name** ([`AllowedHosts`]), else `403`.
//! 3. **An allowed `Origin`**, when one is sent (at most one, RFC 6454 §7.3), else `403`. An
//!    origin is allowed when configured (or `*`), or when it is *this* origin: same scheme,
//!    host and port (RFC 6454 §5), ports compared after filling in the scheme's default. This
//!    server speaks plain HTTP, so its scheme is `http` — unless the request carries
//!    `X-Forwarded-Proto: https`, as a TLS-terminating proxy in front sets it. Believing that
//!    header is safe *for this check*: a page on another origin cannot add it to a request
//!    without a CORS preflight, and the preflight itself (which does not carry it) meets this
//!    same check and is refused; a non-browser client can send any `Origin` anyway. So
//!    `Origin: https://127.0.0.1:PORT` against a plain-http `127.0.0.1:PORT` is refused, while
//!    a browser behind a TLS proxy that sets `X-Forwarded-Proto` still counts as same-origin
//!    (without that header, list the public origin in `cors_origins`).

use std::{
    cell::RefCell,
    future::{Ready, ready},
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
};

use axum::{
    extract::{ConnectInfo, Request},
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header, uri::Authority},
    response::Response,
};
use futures::future::Either;
use tower::{Layer, Service};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::{AllowedHosts, HttpOptions, errors::jsonrpc_error};
use crate::admission::SecurityLog;

const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// What the guard needs, precomputed once.
pub(crate) struct Guard {
    /// Unique among the process's guards.
    id: u64,
    hosts: AllowedHosts,
    origins: Vec<String>,
    any_origin: bool,
    /// Refusals are security events.
    log: Arc<SecurityLog>,
}

impl Guard {
    pub(crate) fn new(options: &HttpOptions, log: Arc<SecurityLog>) -> Arc<Self> {
        Self::build(options, log, false)
    }

    /// `Host` checked, any `Origin` allowed: for documents any page may read (the metadata).
    pub(crate) fn for_public_documents(options: &HttpOptions, log: Arc<SecurityLog>) -> Arc<Self> {
        Self::build(options, log, true)
    }

    fn build(options: &HttpOptions, log: Arc<SecurityLog>, any_origin: bool) -> Arc<Self> {
        let any_origin = any_origin || options.cors_origins.iter().any(|o| o.trim() == "*");
        let origins = options
            .cors_origins
            .iter()
            .filter(|o| o.trim() != "*")
            .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
            .collect();
        let hosts = match &options.allowed_hosts {
            AllowedHosts::List(list) => {
                AllowedHosts::List(list.iter().map(|h| h.to_ascii_lowercase()).collect())
            }
            other => other.clone(),
        };
        let id = GUARD_IDS.fetch_add(1, Ordering::Relaxed);
        Arc::new(Self { id, hosts, origins, any_origin, log })
    }

    fn host_allowed(&self, host: Option<&Authority>) -> bool {
        let name = match host {
            Some(host) => host.host(),
            None => return self.hosts == AllowedHosts::Any,
        };
        match &self.hosts {
            AllowedHosts::Any => true,
            AllowedHosts::Loopback => LOOPBACK_HOSTS.iter().any(|h| h.eq_ignore_ascii_case(name)),
            AllowedHosts::List(list) => {
                LOOPBACK_HOSTS.iter().any(|h| h.eq_ignore_ascii_case(name))
                    || list.iter().any(|h| h.eq_ignore_ascii_case(name))
            }
        }
    }

    /// An origin is allowed when configured, or when it is the server's own: the `Host` it
    /// names was already accepted, and `scheme` is the one the request arrived with.
    fn origin_allowed(&self, origin: &str, host: Option<&Authority>, scheme: Scheme) -> bool {
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        if self.any_origin || self.origins.contains(&origin) {
            return true;
        }
        host.is_some_and(|host| is_same_origin(&origin, host, scheme))
    }
}

/// The scheme a request arrived with, as the client saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Http,
    Https,
}

impl Scheme {
    /// `https` only when a proxy in front says so (see the module docs for why that header may
    /// be believed here): the first `X-Forwarded-Proto` entry is the client-facing hop.
    fn of(headers: &HeaderMap) -> Self {
        let forwarded = headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim);
        match forwarded {
            Some(proto) if proto.eq_ignore_ascii_case("https") => Self::Https,
            _ => Self::Http,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }
}

/// RFC 6454 §5: same scheme, host and port. `origin` must be a serialised origin
/// (`scheme://host[:port]`, no userinfo, path or query); anything else, `null` included, is
/// never this server's own.
fn is_same_origin(origin: &str, host: &Authority, scheme: Scheme) -> bool {
    let Some((origin_scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    if origin_scheme != scheme.as_str() {
        return false;
    }
    match parse_authority(rest) {
        Some(origin) => same_authority(&origin, host, scheme.default_port()),
        None => false,
    }
}

fn same_authority(a: &Authority, b: &Authority, default_port: u16) -> bool {
    a.host().eq_ignore_ascii_case(b.host())
        && a.port_u16().unwrap_or(default_port) == b.port_u16().unwrap_or(default_port)
}

/// `host[:port]` and nothing else: no userinfo, a port of 1–5 digits that fits a `u16`, or an
/// empty one (`host:`, which RFC 3986 §3.2.3 allows and reads as the scheme's default port).
/// `Authority` alone accepts userinfo and leaves a bad port unparsed rather than refused.
fn parse_authority(text: &str) -> Option<Authority> {
    if text.is_empty() || text.contains('@') {
        return None;
    }
    let authority: Authority = text.parse().ok()?;
    if authority.as_str() != text {
        return None;
    }
    match &text[authority.host().len()..] {
        "" | ":" => Some(authority),
        port => {
            let digits = port.strip_prefix(':')?;
            let valid = (1..=5).contains(&digits.len())
                && digits.bytes().all(|b| b.is_ascii_digit())
                && digits.parse::<u16>().is_ok();
            valid.then_some(authority)
        }
    }
}

/// The one value of header `name`; `None` when it is absent or repeated.
fn only_value<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a HeaderValue> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    values.next().is_none().then_some(first)
}

/// The request's host, from `Host` and/or the request target's authority; `Err` with the
/// reason when it is ambiguous or malformed (a `400`).
fn request_host(request: &Request) -> Result<Option<Authority>, &'static str> {
    let mut values = request.headers().get_all(header::HOST).iter();
    let (first, second) = (values.next(), values.next());
    if second.is_some() {
        return Err("Bad Request: more than one Host header");
    }
    let from_header = match first {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(parse_authority)
                .ok_or("Bad Request: malformed Host header")?,
        ),
        None => None,
    };
    let from_target = match request.uri().authority() {
        Some(authority) => Some(
            parse_authority(authority.as_str())
                .ok_or("Bad Request: malformed authority in the request target")?,
        ),
        None => None,
    };
    match (from_header, from_target) {
        // RFC 9112 §3.2.2 / RFC 9113 §8.3.1: the target's authority wins; a `Host` that names
        // something else is a request smuggling attempt or a confused proxy.
        (Some(header), Some(target)) => {
            let default_port = Scheme::of(request.headers()).default_port();
            if same_authority(&header, &target, default_port) {
                Ok(Some(target))
            } else {
                Err("Bad Request: Host does not match the request target")
            }
        }
        (header, target) => Ok(target.or(header)),
    }
}

/// The guard as a tower layer, outermost on every route: `400` for an ambiguous or malformed
/// `Host` or `Origin`, `403` for a foreign `Host` or a disallowed `Origin`; anything else goes
/// to the inner service as it came. A plain service rather than axum's `from_fn`, which boxes
/// and clones on every request (~8,000 instructions per request under callgrind).
#[derive(Clone)]
pub(crate) struct GuardLayer(pub(crate) Arc<Guard>);

impl<S> Layer<S> for GuardLayer {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> GuardService<S> {
        GuardService { guard: self.0.clone(), inner }
    }
}

/// See [`GuardLayer`].
#[derive(Clone)]
pub(crate) struct GuardService<S> {
    guard: Arc<Guard>,
    inner: S,
}

impl<S> Service<Request> for GuardService<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let Some((status, code, reason)) = self.guard.refusal(&request) else {
            return Either::Right(self.inner.call(request));
        };
        let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
        self.guard.log.host_or_origin_refused(reason, peer);
        Either::Left(ready(Ok(jsonrpc_error(status, code, reason))))
    }
}

/// Gives each [`Guard`] an id of its own, for [`LAST_ACCEPTED`].
static GUARD_IDS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The `Host` value this thread last saw accepted, by which guard, for a request with
    /// nothing else to check (one `Host`, no `Origin`, no authority in the target): the verdict
    /// depends on those bytes and the guard's fixed rules only, and nearly every request to a
    /// server names the same host. Parsing it again costs ~2,000 instructions per request. A
    /// copy, not the header itself, which would keep the request's read buffer alive.
    static LAST_ACCEPTED: RefCell<(u64, Vec<u8>)> = const { RefCell::new((u64::MAX, Vec::new())) };
}

impl Guard {
    /// Why `request` is refused (status, JSON-RPC code, message), if it is.
    fn refusal(&self, request: &Request) -> Option<(StatusCode, i64, &'static str)> {
        let headers = request.headers();
        let plain = request.uri().authority().is_none() && !headers.contains_key(header::ORIGIN);
        let host = plain.then(|| only_value(headers, &header::HOST)).flatten();
        let same = |last: &(u64, Vec<u8>), host: &HeaderValue| {
            last.0 == self.id && last.1 == host.as_bytes()
        };
        if let Some(host) = host
            && LAST_ACCEPTED.with_borrow(|last| same(last, host))
        {
            return None;
        }
        let refusal = self.check(request);
        if let (None, Some(host)) = (refusal, host) {
            LAST_ACCEPTED.with_borrow_mut(|last| {
                last.0 = self.id;
                last.1.clear();
                last.1.extend_from_slice(host.as_bytes());
            });
        }
        refusal
    }

    /// The checks themselves, in the order of the module docs.
    fn check(&self, request: &Request) -> Option<(StatusCode, i64, &'static str)> {
        let host = match request_host(request) {
            Ok(host) => host,
            Err(reason) => return Some((StatusCode::BAD_REQUEST, -32600, reason)),
        };
        if !self.host_allowed(host.as_ref()) {
            return Some((StatusCode::FORBIDDEN, -32000, "Forbidden: Host header is not allowed"));
        }
        let mut origins = request.headers().get_all(header::ORIGIN).iter();
        let (origin, second) = (origins.next(), origins.next());
        if second.is_some() {
            return Some((
                StatusCode::BAD_REQUEST,
                -32600,
                "Bad Request: more than one Origin header",
            ));
        }
        // The scheme is read only when there is an origin to compare (most requests have none).
        let allowed = |o: &HeaderValue| {
            let scheme = Scheme::of(request.headers());
            o.to_str().is_ok_and(|o| self.origin_allowed(o, host.as_ref(), scheme))
        };
        match origin {
            Some(origin) if !allowed(origin) => {
                Some((StatusCode::FORBIDDEN, -32000, "Forbidden: Origin is not allowed"))
            }
            _ => None,
        }
    }
}

/// CORS for the configured origins, with the original's methods, headers and max age, plus the
/// MCP headers clients send today. `None` when no origin is configured.
pub(crate) fn cors(options: &HttpOptions) -> Option<CorsLayer> {
    if options.cors_origins.is_empty() {
        return None;
    }
    let mut allow_headers: Vec<HeaderName> = [
        "content-type",
        "authorization",
        "x-request-id",
        "mcp-session-id",
        "mcp-protocol-version",
        "mcp-method",
        "mcp-name",
        "last-event-id",
    ]
    .into_iter()
    .map(HeaderName::from_static)
    .collect();
    allow_headers.extend(
        options.cors_allowed_headers.iter().filter_map(|h| HeaderName::try_from(h.as_str()).ok()),
    );
    let expose = ["mcp-session-id", "x-request-id", "www-authenticate", "retry-after"]
        .map(HeaderName::from_static);
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
        .allow_headers(allow_headers)
        .expose_headers(expose)
        .max_age(std::time::Duration::from_secs(86_400));
    let layer = if options.cors_origins.iter().any(|o| o.trim() == "*") {
        // Browsers refuse credentials with a wildcard origin, so none are allowed then.
        layer.allow_origin(AllowOrigin::any())
    } else {
        let origins: Vec<HeaderValue> =
            options.cors_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
        layer.allow_origin(origins).allow_credentials(true)
    };
    Some(layer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authority(text: &str) -> Authority {
        parse_authority(text).unwrap_or_else(|| panic!("{text} should parse"))
    }

    #[test]
    fn hosts_are_host_and_port_only() {
        assert_eq!(authority("localhost:8080").host(), "localhost");
        assert_eq!(authority("[::1]:8080").host(), "[::1]");
        assert_eq!(authority("example.com").host(), "example.com");
        // An empty port is allowed, and means the default one.
        assert_eq!(authority("127.0.0.1:").port_u16(), None);
        assert!(same_authority(&authority("localhost:"), &authority("localhost:80"), 80));
        for bad in [
            "",
            "127.0.0.1:80@evil.example",
            "user@127.0.0.1",
            "127.0.0.1:80:90",
            "127.0.0.1:abc",
            "127.0.0.1:99999",
            "127.0.0.1:0080000",
            "[::1",
            "::1",
            "host/path",
            "host name",
        ] {
            assert!(parse_authority(bad).is_none(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn loopback_hosts_only_by_default() {
        let guard = Guard::new(&HttpOptions::default(), Arc::default());
        assert!(guard.host_allowed(Some(&authority("127.0.0.1:3000"))));
        assert!(guard.host_allowed(Some(&authority("[::1]:3000"))));
        assert!(!guard.host_allowed(Some(&authority("evil.example.com"))));
        assert!(!guard.host_allowed(None));
    }

    #[test]
    fn origins_must_be_configured_or_same_origin() {
        let options = HttpOptions::default().with_cors_origins(["https://app.example.com"]);
        let guard = Guard::new(&options, Arc::default());
        let host = authority("127.0.0.1:8080");
        let allowed = |origin: &str, scheme| guard.origin_allowed(origin, Some(&host), scheme);
        assert!(allowed("https://app.example.com", Scheme::Http));
        assert!(allowed("http://127.0.0.1:8080", Scheme::Http));
        assert!(!allowed("https://127.0.0.1:8080", Scheme::Http), "the scheme is part of it");
        assert!(allowed("https://127.0.0.1:8080", Scheme::Https));
        assert!(!allowed("http://127.0.0.1:8080", Scheme::Https));
        assert!(!allowed("http://evil.example.com", Scheme::Http));
        assert!(!allowed("http://127.0.0.1:8081", Scheme::Http));
        assert!(!allowed("http://127.0.0.1:8080/path", Scheme::Http));
        assert!(!allowed("http://x@127.0.0.1:8080", Scheme::Http));
        assert!(!allowed("null", Scheme::Http));
    }

    #[test]
    fn default_ports_are_filled_in() {
        let guard = Guard::new(&HttpOptions::default(), Arc::default());
        let plain = authority("localhost");
        assert!(guard.origin_allowed("http://localhost:80", Some(&plain), Scheme::Http));
        assert!(guard.origin_allowed("https://localhost", Some(&plain), Scheme::Https));
        assert!(!guard.origin_allowed("https://localhost:80", Some(&plain), Scheme::Https));
    }

    fn request(host: &str, extra: &[(&str, &str)]) -> Request {
        let mut request = Request::builder().uri("/mcp").header(header::HOST, host);
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        request.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn a_host_accepted_before_is_accepted_by_that_guard_only_and_only_alone() {
        let any = Guard::new(
            &HttpOptions::default().with_allowed_hosts(AllowedHosts::Any),
            Arc::default(),
        );
        let loopback = Guard::new(&HttpOptions::default(), Arc::default());
        let forbidden =
            Some((StatusCode::FORBIDDEN, -32000, "Forbidden: Host header is not allowed"));
        assert_eq!(any.refusal(&request("evil.example", &[])), None);
        assert_eq!(any.refusal(&request("evil.example", &[])), None, "remembered");
        assert_eq!(loopback.refusal(&request("evil.example", &[])), forbidden, "another guard's");
        assert_eq!(loopback.refusal(&request("127.0.0.1:1", &[])), None);
        // What the remembered verdict does not cover is checked in full.
        let origin = [("origin", "http://evil.example")];
        let refused = Some((StatusCode::FORBIDDEN, -32000, "Forbidden: Origin is not allowed"));
        assert_eq!(loopback.refusal(&request("127.0.0.1:1", &origin)), refused);
        let twice = [("host", "127.0.0.1:1")];
        let (status, _, reason) = loopback.refusal(&request("127.0.0.1:1", &twice)).unwrap();
        assert_eq!(
            (status, reason),
            (StatusCode::BAD_REQUEST, "Bad Request: more than one Host header")
        );
    }
}
