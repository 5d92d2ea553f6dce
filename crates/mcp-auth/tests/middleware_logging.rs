//! `with_logging` logs one `tool.call` span and an outcome per call, and never a secret: not
//! the caller's credential, not a secret-looking argument (at any depth), not the result unless
//! asked to.
//!
//! Each test captures everything (TRACE, all targets) with a subscriber scoped to its own
//! current-thread runtime, then greps the capture.

mod support;

use std::sync::Arc;

use mcp_auth::{
    Credential, CredentialError, Principal, TokenResolver, UserIdLogging,
    middleware::{LoggingConfig, with_logging},
    tool::{ToolCall, ToolContext, ToolError, with_auth},
};
use rmcp::model::CallToolResult;
use serde_json::{Value, json};
use support::log_capture::capture_logs;
use tower::{ServiceBuilder, ServiceExt, service_fn};

const API_KEY: &str = "sk-SECRET1";
const PASSWORD: &str = "pw-SECRET2";
const CREDENTIAL: &str = "ghp-SECRET3-credential";
const RESULT_TOKEN: &str = "tok-SECRET4";

/// Runs `f` with every log line of this thread going to the returned capture.
async fn captured<F: Future>(f: F) -> (F::Output, String) {
    let (capture, _default) = capture_logs();
    let output = f.await;
    (output, capture.text())
}

/// Always resolves the same secret credential.
struct FixedResolver;

#[async_trait::async_trait]
impl TokenResolver for FixedResolver {
    async fn resolve(&self, _: &Principal, _: &str) -> Result<Credential, CredentialError> {
        Ok(Credential::new(CREDENTIAL.to_owned()))
    }
}

fn secret_args() -> serde_json::Map<String, Value> {
    json!({
        "query": "hello",
        "api_key": API_KEY,
        "nested": { "password": PASSWORD, "list": [{ "Authorization": PASSWORD }] },
    })
    .as_object()
    .cloned()
    .unwrap()
}

/// A call of `t` by alice, whose credential resolves to [`CREDENTIAL`].
fn alice_call(args: serde_json::Map<String, Value>) -> ToolCall {
    let context = ToolContext::new(Principal::new("alice").unwrap())
        .with_resolver(Arc::new(FixedResolver), "github");
    ToolCall::new("t", args, context)
}

/// The original's kind of tool: it gets the credential and uses it.
fn credential_using_tool() -> mcp_auth::tool::ToolService {
    with_auth(|args, access_token, user_id| async move {
        assert_eq!(access_token.expose(), CREDENTIAL, "the tool got the credential");
        tracing::debug!(%user_id, "tool working");
        Ok::<_, ToolError>(format!("searched for {}", args["query"]))
    })
}

fn assert_no_secrets(logs: &str) {
    for secret in [API_KEY, PASSWORD, CREDENTIAL, RESULT_TOKEN] {
        assert!(!logs.contains(secret), "{secret} was logged:\n{logs}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn logged_arguments_are_redacted_and_the_credential_never_appears() {
    let tool = ServiceBuilder::new()
        .layer(with_logging(LoggingConfig::default().with_log_arguments(true)))
        .service(credential_using_tool());

    let (result, logs) = captured(tool.oneshot(alice_call(secret_args()))).await;

    assert!(result.is_ok());
    assert_no_secrets(&logs);
    assert!(logs.contains("hello"), "the harmless argument is logged:\n{logs}");
    assert!(logs.contains(r#""api_key":"[redacted]""#), "{logs}");
    assert!(logs.contains(r#""Authorization":"[redacted]""#), "inside arrays too:\n{logs}");
    let span = format!("tool.call{{user={} tool=t", UserIdLogging::default().tag("alice"));
    assert!(logs.contains(&span), "the span and its fields, the user by tag:\n{logs}");
    assert!(logs.contains("duration_ms="), "{logs}");
    assert!(logs.contains(r#"outcome="ok""#), "{logs}");
    assert!(logs.contains("tool working"), "the handler's own events are in the span:\n{logs}");
}

#[tokio::test(flavor = "current_thread")]
async fn the_span_names_the_user_as_the_calls_context_says() {
    let tool = ServiceBuilder::new().layer(with_logging(LoggingConfig::default())).service(
        service_fn(|_call: ToolCall| async { Ok::<_, ToolError>(CallToolResult::success(vec![])) }),
    );
    let raw = UserIdLogging::default().with_raw_ids(true);
    let call = |user_ids: UserIdLogging| {
        let context = ToolContext::new(Principal::new("alice").unwrap());
        ToolCall::new("t", Default::default(), context.with_user_id_logging(user_ids))
    };

    let (_, tagged) = captured(tool.clone().oneshot(call(UserIdLogging::default()))).await;
    let (_, named) = captured(tool.oneshot(call(raw))).await;

    assert!(!tagged.contains("alice"), "{tagged}");
    assert!(named.contains("tool.call{user=alice tool=t}"), "{named}");
}

#[tokio::test(flavor = "current_thread")]
async fn arguments_and_results_are_not_logged_by_default() {
    let tool = ServiceBuilder::new()
        .layer(with_logging(LoggingConfig::default()))
        .service(credential_using_tool());

    let (result, logs) = captured(tool.oneshot(alice_call(secret_args()))).await;

    assert!(result.is_ok());
    assert_no_secrets(&logs);
    assert!(!logs.contains("hello"), "an argument was logged:\n{logs}");
    assert!(!logs.contains("searched for"), "the result was logged:\n{logs}");
    assert!(logs.contains(r#"outcome="ok""#), "{logs}");
}

#[tokio::test(flavor = "current_thread")]
async fn logged_results_are_redacted_too() {
    let tool = ServiceBuilder::new()
        .layer(with_logging(LoggingConfig::default().with_log_results(true)))
        .service(service_fn(|_call: ToolCall| async {
            Ok::<_, ToolError>(CallToolResult::structured(
                json!({ "answer": 42, "session_token": RESULT_TOKEN }),
            ))
        }));

    let (_, logs) = captured(tool.oneshot(alice_call(secret_args()))).await;

    assert!(logs.contains("42"), "the result is logged:\n{logs}");
    // Both copies: the structured content and its JSON text block.
    assert_no_secrets(&logs);
}

#[tokio::test(flavor = "current_thread")]
async fn extra_redact_patterns_apply_and_match_any_case() {
    let config = LoggingConfig::default().with_log_arguments(true).with_extra_redact_pattern("SSN");
    let tool = ServiceBuilder::new().layer(with_logging(config)).service(service_fn(
        |_call: ToolCall| async { Ok::<_, ToolError>(CallToolResult::success(vec![])) },
    ));
    let args = json!({ "customer_ssn": "078-05-1120", "query": "hello" });

    let (_, logs) = captured(tool.oneshot(alice_call(args.as_object().cloned().unwrap()))).await;

    assert!(!logs.contains("078-05-1120"), "{logs}");
    assert!(logs.contains("hello"), "{logs}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_failure_is_logged_by_kind_without_its_message() {
    let tool = ServiceBuilder::new().layer(with_logging(LoggingConfig::default())).service(
        service_fn(|_call: ToolCall| async {
            Err::<CallToolResult, _>(ToolError::failed(format!("upstream said {RESULT_TOKEN}")))
        }),
    );

    let (result, logs) = captured(tool.oneshot(alice_call(secret_args()))).await;

    assert!(result.is_err());
    assert!(logs.contains(r#"outcome="tool_error""#), "{logs}");
    assert_no_secrets(&logs);
}

#[tokio::test(flavor = "current_thread")]
async fn a_rejection_is_logged_with_its_kind() {
    let tool = ServiceBuilder::new().layer(with_logging(LoggingConfig::default())).service(
        service_fn(|_call: ToolCall| async {
            Err::<CallToolResult, _>(ToolError::RateLimited {
                retry_after: std::time::Duration::from_secs(3),
            })
        }),
    );

    let (_, logs) = captured(tool.oneshot(alice_call(secret_args()))).await;

    assert!(logs.contains(r#"outcome="rate_limited""#), "{logs}");
    assert!(logs.contains("WARN"), "rejections are warnings:\n{logs}");
}

#[test]
fn redaction_reaches_every_depth_and_ignores_case_and_separators() {
    let redacted = LoggingConfig::default().redact(&json!({
        "a": [{ "b": { "X-Api-Key": "k", "keep": 1 } }],
        "cookies": ["c"],
        "privatE-Key": { "pem": "p" },
        "apiKey": "k",
    }));

    assert_eq!(
        redacted,
        json!({
            "a": [{ "b": { "X-Api-Key": "[redacted]", "keep": 1 } }],
            "cookies": "[redacted]",
            "privatE-Key": "[redacted]",
            "apiKey": "[redacted]",
        })
    );
}
