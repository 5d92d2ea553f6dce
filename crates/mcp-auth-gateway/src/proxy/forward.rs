//! Forwarding one downstream request to the upstream: the caller's progress token mapped both
//! ways, cancellation passed on, and an answer — a result or a JSON-RPC error — within the
//! request timeout, whatever the upstream does.

use std::time::Duration;

use rmcp::{
    ErrorData as McpError, RoleServer,
    model::{
        CancelledNotificationParam, ClientRequest, ErrorCode, RequestMetaObject, ResultType,
        ServerResult,
    },
    service::{PeerRequestOptions, RequestContext},
};

use super::link::UpstreamLink;

/// Longest wait, after the upstream's answer, for its earlier progress notifications to be
/// passed on (`counted.rs`); each takes a queue push, so this bounds only a stuck caller.
const PROGRESS_WAIT: Duration = Duration::from_secs(1);

/// JSON-RPC code for a request that timed out (the TypeScript SDK's `RequestTimeout`).
pub(crate) const REQUEST_TIMEOUT: ErrorCode = ErrorCode(-32001);

/// The caller's client capabilities, in a 2026-07-28 request's `_meta`.
const CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";

/// The caller's `_meta` as the upstream should see it: without the progress token (rmcp sets
/// its own) and without the 2026-07-28 lifecycle keys, which describe the caller's link to the
/// gateway, not ours to the upstream — except, on a link of that era (`modern`), the caller's
/// own capabilities: what the upstream may ask of it (an input-required result for sampling,
/// say) is for the caller to say, not the gateway.
fn upstream_meta(meta: &RequestMetaObject, modern: bool) -> Option<RequestMetaObject> {
    let mut meta = meta.clone();
    meta.retain(|key, _| {
        key != "progressToken"
            && (!key.starts_with("io.modelcontextprotocol/")
                || (modern && key == CLIENT_CAPABILITIES))
    });
    (!meta.is_empty()).then_some(meta)
}

/// Sends `request` upstream on behalf of the downstream call described by `context`.
pub(crate) async fn forward(
    link: &UpstreamLink,
    request: ClientRequest,
    context: &RequestContext<RoleServer>,
    timeout: Duration,
) -> Result<ServerResult, McpError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let live = tokio::time::timeout_at(deadline, link.get())
        .await
        .map_err(|_| timed_out(timeout))?
        .map_err(|error| McpError::internal_error(error.to_string(), None))?;
    // `#[non_exhaustive]`: built from the default, then filled in.
    let mut options = PeerRequestOptions::no_options();
    options.meta = upstream_meta(&context.meta, link.modern);
    // Registered before the upstream's first progress or request is looked up (`routes.rs`).
    let registering = link.routes.registering.write().await;
    let handle = live
        .peer
        .send_request_with_option(request, options)
        .await
        .map_err(|_| exited_before_answering())?;
    let progress =
        context.meta.get_progress_token().map(|mine| (handle.progress_token.clone(), mine));
    let in_flight = link.routes.start(context.id.clone(), context.peer.clone(), progress);
    drop(registering);
    let upstream_id = handle.id.clone();
    let answer = tokio::select! {
        answer = handle.rx => answer,
        () = context.ct.cancelled() => {
            cancel_upstream(&live.peer, upstream_id, "the client cancelled the request").await;
            return Err(McpError::internal_error("the request was cancelled", None));
        }
        () = tokio::time::sleep_until(deadline) => {
            cancel_upstream(&live.peer, upstream_id, "the gateway's request timeout passed").await;
            return Err(timed_out(timeout));
        }
    };
    // The progress the upstream sent before its answer goes out first.
    in_flight.progress_passed_on(PROGRESS_WAIT.min(timeout)).await;
    match answer {
        Ok(Ok(mut result)) => {
            fill_result_type(&mut result);
            Ok(result)
        }
        Ok(Err(rmcp::ServiceError::McpError(error))) => Err(error),
        Ok(Err(other)) => Err(super::link::request_failed(&other)),
        // The responder was dropped: the upstream's connection ended mid-call.
        Err(_) => Err(exited_before_answering()),
    }
}

/// Restores the SEP-2322 `resultType: "complete"` that the upstream's answer lacks because the
/// upstream session is a legacy (`initialize`) one, where the field does not exist. rmcp's server
/// sends it to a 2026-07-28 caller (which requires it: every result must carry `resultType`) and
/// strips it again for a legacy caller; left absent, a 2026-07-28 caller would get results
/// without it. The variants are those of rmcp's `strip_result_type_for_legacy_peer`.
fn fill_result_type(result: &mut ServerResult) {
    let result_type = match result {
        ServerResult::CompleteResult(r) => &mut r.result_type,
        ServerResult::GetPromptResult(r) => &mut r.result_type,
        ServerResult::ListPromptsResult(r) => &mut r.result_type,
        ServerResult::ListResourcesResult(r) => &mut r.result_type,
        ServerResult::ListResourceTemplatesResult(r) => &mut r.result_type,
        ServerResult::ReadResourceResult(r) => &mut r.result_type,
        ServerResult::ListToolsResult(r) => &mut r.result_type,
        ServerResult::CallToolResult(r) => &mut r.result_type,
        _ => return,
    };
    result_type.get_or_insert(ResultType::COMPLETE);
}

async fn cancel_upstream(
    peer: &rmcp::Peer<rmcp::RoleClient>,
    id: rmcp::model::RequestId,
    reason: &str,
) {
    let params = CancelledNotificationParam::new(Some(id), Some(reason.to_owned()));
    let _ = peer.notify_cancelled(params).await;
}

fn timed_out(timeout: Duration) -> McpError {
    McpError::new(
        REQUEST_TIMEOUT,
        format!("the upstream server did not answer within {} ms", timeout.as_millis()),
        None,
    )
}

fn exited_before_answering() -> McpError {
    McpError::internal_error("the upstream server exited before answering", None)
}
