//! [`Counted`]: the upstream transport, counting progress notifications as they are read.
//!
//! rmcp hands every incoming notification to a task of its own but the answer to a request
//! straight to the waiting caller, so an upstream's last progress notification can reach the
//! proxy after the answer that followed it — and be dropped, its call being over. Counted here,
//! in the transport's order, the notifications of a call are known by the time its answer is,
//! and [`forward`](super::forward) waits for them to be passed on before it answers.

use std::{borrow::Cow, future::Future};

use rmcp::{
    RoleClient,
    model::{JsonRpcMessage, ServerNotification},
    service::{RxJsonRpcMessage, TxJsonRpcMessage},
    transport::Transport,
};

use super::routes::Routes;

/// An upstream transport that reports each progress notification to `routes` as it is read.
pub(crate) struct Counted<T> {
    inner: T,
    routes: Routes,
}

impl<T> Counted<T> {
    pub(crate) fn new(inner: T, routes: Routes) -> Self {
        Self { inner, routes }
    }
}

impl<T: Transport<RoleClient>> Transport<RoleClient> for Counted<T> {
    type Error = T::Error;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        let message = self.inner.receive().await?;
        if let JsonRpcMessage::Notification(notification) = &message
            && let ServerNotification::ProgressNotification(progress) = &notification.notification
        {
            self.routes.progress_received(&progress.params.progress_token);
        }
        Some(message)
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}
