//! `ApiTokenResolver` against a real tenant manager (`tenant_manager/`): what a request looks
//! like (service token, encoded path values, headers), the answers it accepts, configuration
//! checks, and logs that never carry a secret.

mod support;
mod tenant_manager;

use std::{
    io,
    sync::{Arc, Mutex},
    time::{Duration, UNIX_EPOCH},
};

use mcp_auth::{ApiTokenResolver, Environment, Principal, TokenResolver};
use serde_json::json;
use tenant_manager::*;

// --- Request shape and response variants ---

#[tokio::test]
async fn service_token_is_sent_as_bearer_and_path_values_are_url_encoded() {
    let manager = Manager::start().await;
    // The reply exists only at the correctly encoded path: any other encoding is a 404.
    manager.reply(
        "/api/credentials/alice%20smith%2Fops/git%20hub",
        Reply::ok(json!({ "accessToken": "ghp_encoded" })),
    );
    let resolver = manager.resolver().build().unwrap();
    let principal = Principal::new("alice smith/ops").unwrap();

    let credential = resolver.resolve(&principal, "git hub").await.unwrap();

    assert_eq!(credential.secret().expose(), "ghp_encoded");
    assert_eq!(manager.header_values("authorization"), [format!("Bearer {SERVICE_TOKEN}")]);
    assert_eq!(manager.header_values("accept"), ["application/json"]);
    assert_eq!(manager.paths(), ["/api/credentials/alice%20smith%2Fops/git%20hub"]);
}

#[tokio::test]
async fn every_placeholder_of_a_custom_endpoint_path_is_replaced() {
    let manager = Manager::start().await;
    manager.reply("/v2/a%2Fb/creds/github/owner/a%2Fb", Reply::ok(json!({ "token": "ghp_v2" })));
    // The trailing `/` of the base URL must not double the path's leading one.
    let resolver = ApiTokenResolver::builder(format!("{}/", manager.url()), SERVICE_TOKEN)
        .endpoint_path("/v2/:userId/creds/:resourceType/owner/:userId")
        .build()
        .unwrap();

    let credential = resolver.resolve(&Principal::new("a/b").unwrap(), "github").await.unwrap();

    assert_eq!(credential.secret().expose(), "ghp_v2");
    assert_eq!(manager.paths(), ["/v2/a%2Fb/creds/github/owner/a%2Fb"]);
}

#[tokio::test]
async fn a_dot_dot_user_id_never_reaches_another_endpoint() {
    let manager = Manager::start().await;
    // `/api/credentials/../github` would normalise to `/api/github`.
    manager.reply("/api/github", Reply::ok(json!({ "accessToken": "ghp_someone_elses" })));
    let resolver = manager.resolver().build().unwrap();

    let err = resolver.resolve(&Principal::new("..").unwrap(), "github").await.unwrap_err();

    assert_eq!(err, not_found("github"));
    assert_eq!(manager.calls(), 0);
}

#[tokio::test]
async fn custom_headers_are_sent_but_cannot_replace_authorization() {
    let manager = Manager::start().await;
    manager.grant("alice", "github", json!({ "accessToken": "ghp_x" }));
    let resolver = manager.resolver().header("X-Tenant", "acme").build().unwrap();
    resolver.resolve(&alice(), "github").await.unwrap();

    assert_eq!(manager.header_values("x-tenant"), ["acme"]);
    for name in ["Authorization", "authorization", "AUTHORIZATION"] {
        let err = manager.resolver().header(name, "Bearer stolen").build().unwrap_err();
        assert_eq!(err.key, "tenant_api.headers", "{name}");
    }
}

#[tokio::test]
async fn access_token_with_an_rfc3339_expires_at_parses() {
    let manager = Manager::start().await;
    manager.grant(
        "alice",
        "github",
        json!({ "access_token": "ghp_snake", "expires_at": "2100-01-01T00:00:00Z" }),
    );
    let resolver = manager.resolver().build().unwrap();

    let credential = resolver.resolve(&alice(), "github").await.unwrap();

    assert_eq!(credential.secret().expose(), "ghp_snake");
    assert_eq!(credential.expires_at(), Some(UNIX_EPOCH + Duration::from_secs(4_102_444_800)));
}

#[tokio::test]
async fn token_with_an_epoch_millis_expires_at_parses() {
    let manager = Manager::start().await;
    // The original example manager's wire format, canned: the built-in tenant manager answers
    // in RFC 3339 (the test above), so this body is the double's even when store-backed.
    let body = json!({ "token": "ghp_bare", "expiresAt": 4_102_444_800_250u64 });
    manager.reply("/api/credentials/alice/github", Reply::ok(body));
    let resolver = manager.resolver().build().unwrap();

    let credential = resolver.resolve(&alice(), "github").await.unwrap();

    assert_eq!(credential.secret().expose(), "ghp_bare");
    let expected = UNIX_EPOCH + Duration::from_millis(4_102_444_800_250);
    assert_eq!(credential.expires_at(), Some(expected));
}

#[tokio::test]
async fn epoch_seconds_expires_at_parses() {
    let manager = Manager::start().await;
    manager.grant(
        "alice",
        "github",
        json!({ "accessToken": "ghp_s", "expiresAt": 4_102_444_800u64 }),
    );
    let resolver = manager.resolver().build().unwrap();

    let credential = resolver.resolve(&alice(), "github").await.unwrap();

    assert_eq!(credential.expires_at(), Some(UNIX_EPOCH + Duration::from_secs(4_102_444_800)));
}

// --- Configuration ---

#[test]
fn empty_service_token_is_refused_without_being_shown() {
    let err = ApiTokenResolver::builder("https://tenants.example.com", "  ").build().unwrap_err();

    assert_eq!(err.key, "tenant_api.service_token");
    assert_eq!(err.value, "[redacted]");
}

#[test]
fn endpoint_path_must_start_with_a_slash_and_name_the_user() {
    for path in ["api/credentials/:userId", "/api/credentials/:resourceType"] {
        let err = ApiTokenResolver::builder("https://tenants.example.com", SERVICE_TOKEN)
            .endpoint_path(path)
            .build()
            .unwrap_err();
        assert_eq!(err.key, "tenant_api.endpoint_path", "{path}");
    }
}

#[test]
fn plain_http_to_a_remote_host_is_refused_unless_allowed_outside_production() {
    let remote = "http://tenants.internal:8080/";
    let build = |allow: bool, environment: Environment| {
        ApiTokenResolver::builder(remote, SERVICE_TOKEN)
            .allow_insecure_http(allow)
            .environment(environment)
            .build()
    };

    let err = build(false, Environment::Development).unwrap_err();
    assert_eq!(err.key, "tenant_api.tenant_manager_url");
    assert!(build(true, Environment::Development).is_ok());
    assert!(build(true, Environment::Production).is_err());
}

#[test]
fn credentials_in_the_tenant_manager_url_are_refused_and_not_echoed() {
    let err = ApiTokenResolver::builder("https://user:hunter2@tenants.example.com", SERVICE_TOKEN)
        .build()
        .unwrap_err();

    assert_eq!(err.key, "tenant_api.tenant_manager_url");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn debug_output_never_shows_the_service_token() {
    let builder = ApiTokenResolver::builder("https://tenants.example.com", SERVICE_TOKEN)
        .header("X-Api-Key", "header-secret-77");
    let resolver = builder.clone().build().unwrap();

    let printed = format!("{builder:?} {resolver:?}");

    assert!(printed.contains("tenants.example.com"), "{printed}");
    assert!(!printed.contains(SERVICE_TOKEN) && !printed.contains("header-secret-77"), "{printed}");
}

// --- Logs ---

/// Collects everything the `fmt` subscriber writes.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn logs_never_contain_the_service_token_the_credential_or_a_body() {
    let logs = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_env_filter("mcp_auth=trace")
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let manager = Manager::start().await;
    manager.grant("alice", "github", json!({ "accessToken": "ghp_logged_never" }));
    // An unusable body that still carries a secret-looking value.
    manager.grant("alice", "slack", json!({ "accessToken": 5, "refresh": "xoxb_body_secret" }));
    manager.reply("/api/credentials/alice/jira", Reply::status(401));
    // A zero TTL: the next resolve of github refreshes, fails and serves the stale credential.
    let resolver = manager.resolver().cache_ttl(Duration::ZERO).build().unwrap();

    resolver.resolve(&alice(), "github").await.unwrap();
    resolver.resolve(&alice(), "slack").await.unwrap_err();
    resolver.resolve(&alice(), "jira").await.unwrap_err();
    manager.set_mode(Mode::ServiceUnavailable);
    resolver.resolve(&alice(), "github").await.unwrap(); // stale, with warnings

    let printed = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    // The user by their tag (under the process's key, the resolver's default), not their id.
    let alice = format!("user={}", mcp_auth::UserIdLogging::default().tag("alice"));
    assert!(printed.contains(&alice) && printed.contains("status=401"), "logs captured: {printed}");
    assert!(!printed.contains("alice"), "the user id was logged: {printed}");
    for secret in [SERVICE_TOKEN, "ghp_logged_never", "xoxb_body_secret"] {
        assert!(!printed.contains(secret), "{secret} leaked into: {printed}");
    }
}
