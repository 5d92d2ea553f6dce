//! Write progress of a connection, so that a client that stopped reading cannot hold a response
//! — its bytes, its in-flight slot, its user's caps — for ever.
//!
//! hyper has no write timeout. The socket is wrapped instead: a write that returns `Pending`
//! (the kernel's buffers are full: the client is not reading) marks the connection blocked
//! from that moment, and any write that goes through clears the mark. The connection's
//! watchdog closes a connection blocked for longer than
//! [`response_write_timeout`](crate::http::HttpOptions::response_write_timeout). A client that
//! reads, however slowly, makes writes go through and is never cut.

use std::{
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use pin_project_lite::pin_project;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    time::Instant,
};

/// `blocked_since_ms` while writes go through.
const NOT_BLOCKED: u64 = u64::MAX;

/// Since when a connection's writes have been blocked, if they are.
pub(super) struct WriteStall {
    opened: Instant,
    /// Milliseconds after `opened`; [`NOT_BLOCKED`] when the last write went through.
    blocked_since_ms: AtomicU64,
}

impl WriteStall {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self { opened: Instant::now(), blocked_since_ms: AtomicU64::new(NOT_BLOCKED) })
    }

    fn blocked(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(NOT_BLOCKED - 1);
        // The first `Pending` starts the clock; later ones do not restart it.
        let _ = self.blocked_since_ms.compare_exchange(
            NOT_BLOCKED,
            ms,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    fn progressed(&self) {
        self.blocked_since_ms.store(NOT_BLOCKED, Ordering::Release);
    }

    /// When writes became blocked; `None` while they go through.
    pub(super) fn blocked_since(&self) -> Option<Instant> {
        match self.blocked_since_ms.load(Ordering::Acquire) {
            NOT_BLOCKED => None,
            ms => Some(self.opened + Duration::from_millis(ms)),
        }
    }

    fn observe<T>(&self, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match &poll {
            Poll::Pending => self.blocked(),
            Poll::Ready(_) => self.progressed(),
        }
        poll
    }
}

pin_project! {
    /// A socket whose writes report to a [`WriteStall`].
    pub(super) struct Watched<S> {
        #[pin]
        inner: S,
        stall: Arc<WriteStall>,
    }
}

impl<S> Watched<S> {
    pub(super) fn new(inner: S, stall: Arc<WriteStall>) -> Self {
        Self { inner, stall }
    }
}

impl<S: AsyncRead> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.project().inner.poll_read(cx, buf)
    }
}

impl<S: AsyncWrite> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        this.stall.observe(this.inner.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        this.stall.observe(this.inner.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    /// A flush that waits counts as blocked; one that completes is no progress by itself (a
    /// TCP socket's flush always completes), so it leaves the clock as it is.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.project();
        let poll = this.inner.poll_flush(cx);
        if poll.is_pending() {
            this.stall.blocked();
        }
        poll
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}
