//! `subscriptions/listen` (2026-07-28), relayed: the caller's subscription opens one on the
//! upstream session of its era with the filter the caller was granted, and each change the
//! upstream reports is passed on under the caller's own subscription id, until either side
//! ends it. Closing the caller's stream drops the upstream subscription, which cancels it.
//!
//! rmcp acknowledges the caller's subscription before the upstream has acknowledged ours, so a
//! change in between would be lost; once the upstream's is open, the caller is told each list
//! it subscribed to may have changed (one `list_changed` each), and re-lists what did.

use rmcp::{
    ErrorData as McpError,
    service::{SubscriptionContext, SubscriptionSendError},
};

use super::link::{UpstreamLink, request_failed};

/// Relays one subscription until the caller or the upstream ends it.
pub(crate) async fn relay(
    link: &UpstreamLink,
    context: SubscriptionContext,
) -> Result<(), McpError> {
    let live = link.get().await.map_err(|e| McpError::internal_error(e.to_string(), None))?;
    let mut upstream = tokio::select! {
        () = context.cancelled() => return Ok(()),
        opened = live.peer.listen(context.accepted().clone()) => {
            opened.map_err(|error| request_failed(&error))?
        }
    };
    // Whatever changed before the upstream's subscription was open: the caller re-lists.
    let granted = upstream.acknowledged().clone();
    let sink = context.sink();
    if granted.tools_list_changed == Some(true) && closed(sink.notify_tool_list_changed().await) {
        return Ok(());
    }
    if granted.prompts_list_changed == Some(true) && closed(sink.notify_prompt_list_changed().await)
    {
        return Ok(());
    }
    if granted.resources_list_changed == Some(true)
        && closed(sink.notify_resource_list_changed().await)
    {
        return Ok(());
    }
    loop {
        tokio::select! {
            () = context.cancelled() => return Ok(()),
            next = upstream.next() => match next {
                Ok(Some(change)) => {
                    if closed(context.sink().send(change).await) {
                        return Ok(());
                    }
                }
                // The upstream ended it gracefully: so does the caller's.
                Ok(None) => return Ok(()),
                Err(error) => return Err(request_failed(&error)),
            }
        }
    }
}

/// True when the caller's subscription has ended. A change outside what the caller was granted
/// (the upstream acknowledged more than it was asked, say) is not the caller's: skipped.
fn closed(sent: Result<(), SubscriptionSendError>) -> bool {
    match sent {
        Ok(()) => false,
        Err(SubscriptionSendError::SubscriptionClosed) => true,
        Err(error) => {
            tracing::debug!(%error, "an upstream change not passed on");
            false
        }
    }
}
