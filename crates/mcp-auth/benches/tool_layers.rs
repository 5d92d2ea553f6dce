//! Cost per call of the tool middleware around a trivial tool, against the bare tool:
//!
//! * `bare`: the tool alone;
//! * `logging+rate_limit+timeout`: the usual minimum, no subscriber installed (what the layers
//!   themselves cost);
//! * `logging+rate_limit+timeout/fmt_subscriber`: the same with a `tracing_subscriber::fmt`
//!   subscriber at INFO writing to a sink (what a real server also pays to format the events);
//! * `full_stack`: logging, rate limit, concurrency limit, timeout and retry, no subscriber.
//! * `only/<layer>`: each layer alone, to see where the stack's cost goes.
//!
//! The rate limit is set far above the bench's rate, so every call is counted and allowed.
//!
//! Run: `cargo bench -p mcp-auth --bench tool_layers`

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mcp_auth::{
    Principal,
    middleware::{
        LoggingConfig, RateLimitConfig, RetryConfig, with_concurrency_limit, with_logging,
        with_rate_limit, with_retry, with_timeout,
    },
    tool::{ToolCall, ToolContext, ToolError, ToolService},
};
use rmcp::model::CallToolResult;
use serde_json::json;
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

fn trivial_tool() -> ToolService {
    ToolService::new(service_fn(|_call: ToolCall| {
        std::future::ready(Ok::<_, ToolError>(CallToolResult::success(vec![])))
    }))
}

fn unlimited() -> RateLimitConfig {
    // The fastest quota governor accepts: one request per nanosecond.
    RateLimitConfig::per_second(1_000_000_000)
}

/// Times one call through a clone of `tool`, as a server dispatching to it would.
fn bench_stack<S>(c: &mut Criterion, rt: &tokio::runtime::Runtime, name: &str, tool: S)
where
    S: Service<ToolCall, Response = CallToolResult, Error = ToolError> + Clone,
{
    let args = json!({ "query": "hello", "limit": 10 }).as_object().cloned().unwrap();
    let context = ToolContext::new(Principal::new("user-1234").unwrap()).with_idempotent(true);
    let call = ToolCall::new("search", args, context);
    c.bench_function(&format!("tool_call/{name}"), |b| {
        b.to_async(rt).iter(|| tool.clone().oneshot(call.clone()))
    });
}

fn bench(c: &mut Criterion) {
    // Current-thread, so a subscriber set as this thread's default sees the calls.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();

    bench_stack(c, &rt, "bare", trivial_tool());

    let usual = || {
        ServiceBuilder::new()
            .layer(with_logging(LoggingConfig::default()))
            .layer(with_rate_limit(unlimited()))
            .layer(with_timeout(Duration::from_secs(30)))
            .service(trivial_tool())
    };
    bench_stack(c, &rt, "logging+rate_limit+timeout", usual());
    {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_writer(std::io::sink)
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        bench_stack(c, &rt, "logging+rate_limit+timeout/fmt_subscriber", usual());
    }

    let full = ServiceBuilder::new()
        .layer(with_logging(LoggingConfig::default()))
        .layer(with_rate_limit(unlimited()))
        .layer(with_concurrency_limit(64))
        .layer(with_timeout(Duration::from_secs(30)))
        .layer(with_retry(RetryConfig::default()))
        .service(trivial_tool());
    bench_stack(c, &rt, "full_stack", full);

    let only = |layer: &str| format!("only/{layer}");
    let tool = trivial_tool;
    let logging = ServiceBuilder::new().layer(with_logging(LoggingConfig::default()));
    bench_stack(c, &rt, &only("logging"), logging.service(tool()));
    let rate_limit = ServiceBuilder::new().layer(with_rate_limit(unlimited()));
    bench_stack(c, &rt, &only("rate_limit"), rate_limit.service(tool()));
    let concurrency = ServiceBuilder::new().layer(with_concurrency_limit(64));
    bench_stack(c, &rt, &only("concurrency_limit"), concurrency.service(tool()));
    let timeout = ServiceBuilder::new().layer(with_timeout(Duration::from_secs(30)));
    bench_stack(c, &rt, &only("timeout"), timeout.service(tool()));
    let retry = ServiceBuilder::new().layer(with_retry(RetryConfig::default()));
    bench_stack(c, &rt, &only("retry"), retry.service(tool()));
}

criterion_group!(benches, bench);
criterion_main!(benches);
