//! Keep-alive HTTP/1.1 connections to one upstream, owned by one gateway worker.
//!
//! A request takes an idle connection (or opens one), sends, and gives the connection back
//! when the response body has been read to its end — a connection carries one exchange at a
//! time. Kept deliberately small: the gateway worker is single-threaded, so the idle list is a
//! short uncontended lock and there is no per-request hashing by origin (one pool per
//! upstream). A request that an idle connection refused before sending anything (the upstream
//! closed it meanwhile) is retried once on another connection; nothing that reached the
//! upstream is ever resent.

use crate::body::{Body, BoxError};
use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;

/// Why an exchange with the upstream failed.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("connect to {addr}: {source}")]
    Connect { addr: String, source: std::io::Error },
    #[error("connect to {addr}: no answer within {timeout:?}")]
    ConnectTimeout { addr: String, timeout: Duration },
    #[error("HTTP/1.1 handshake with {addr}: {source}")]
    Handshake { addr: String, source: hyper::Error },
    #[error("exchange with the upstream failed")]
    Exchange(#[source] hyper::Error),
}

impl PoolError {
    /// Whether the connection was never established (nothing was sent).
    pub fn is_connect(&self) -> bool {
        matches!(
            self,
            PoolError::Connect { .. }
                | PoolError::ConnectTimeout { .. }
                | PoolError::Handshake { .. }
        )
    }
}

/// The pool of one upstream.
#[derive(Debug)]
pub struct Pool {
    /// `host:port` to connect to.
    addr: String,
    /// The `Host` header of every request sent here.
    host: HeaderValue,
    connect_timeout: Duration,
    max_idle: usize,
    idle: Mutex<Vec<SendRequest<Body>>>,
}

impl Pool {
    pub fn new(addr: String, connect_timeout: Duration, max_idle: usize) -> Arc<Pool> {
        let host = HeaderValue::from_str(&addr).unwrap_or(HeaderValue::from_static("localhost"));
        Arc::new(Pool { addr, host, connect_timeout, max_idle, idle: Mutex::new(Vec::new()) })
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<SendRequest<Body>>> {
        // The list holds whole values only; a panic elsewhere cannot leave it inconsistent.
        self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A connection ready to send, most recently used first (its socket is warmest). Closed
    /// ones are dropped; one still finishing its last exchange stays for a later request.
    fn take_idle(&self) -> Option<SendRequest<Body>> {
        let mut idle = self.idle();
        idle.retain(|s| !s.is_closed());
        let i = idle.iter().rposition(SendRequest::is_ready)?;
        Some(idle.swap_remove(i))
    }

    async fn connect(&self) -> Result<SendRequest<Body>, PoolError> {
        let stream = tokio::time::timeout(self.connect_timeout, TcpStream::connect(&self.addr))
            .await
            .map_err(|_| PoolError::ConnectTimeout {
                addr: self.addr.clone(),
                timeout: self.connect_timeout,
            })?
            .map_err(|source| PoolError::Connect { addr: self.addr.clone(), source })?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|source| PoolError::Handshake { addr: self.addr.clone(), source })?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }

    fn put_back(&self, sender: SendRequest<Body>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle();
        if idle.len() < self.max_idle {
            idle.push(sender);
        }
    }

    /// Send `req` (origin-form target) on a pooled connection.
    ///
    /// # Errors
    /// [`PoolError`]: the connection could not be made, or the exchange failed.
    pub async fn send(
        self: &Arc<Self>,
        mut req: Request<Body>,
    ) -> Result<Response<PooledBody>, PoolError> {
        req.headers_mut().insert(http::header::HOST, self.host.clone());
        let mut retried = false;
        loop {
            let (mut sender, reused) = match self.take_idle() {
                Some(s) => (s, true),
                None => (self.connect().await?, false),
            };
            match sender.try_send_request(req).await {
                Ok(resp) => {
                    let (parts, body) = resp.into_parts();
                    let body = PooledBody {
                        inner: body,
                        sender: Some(sender),
                        pool: Arc::downgrade(self),
                    };
                    return Ok(Response::from_parts(parts, body));
                }
                Err(mut e) => match e.take_message() {
                    // Refused before anything was written: safe to send on another connection.
                    Some(back) if reused && !retried => {
                        retried = true;
                        req = back;
                    }
                    _ => return Err(PoolError::Exchange(e.into_error())),
                },
            }
        }
    }
}

/// A response body that gives its connection back to the pool once read to the end. Dropped
/// early, the connection is closed with it (an unread body cannot be skipped safely).
#[derive(Debug)]
pub struct PooledBody {
    inner: Incoming,
    sender: Option<SendRequest<Body>>,
    pool: Weak<Pool>,
}

impl PooledBody {
    fn release(&mut self) {
        if let (Some(sender), Some(pool)) = (self.sender.take(), self.pool.upgrade()) {
            pool.put_back(sender);
        }
    }
}

impl http_body::Body for PooledBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.release(),
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => self.release(),
            Poll::Ready(Some(Err(_))) => self.sender = None,
            _ => {}
        }
        polled.map(|f| f.map(|r| r.map_err(|e| -> BoxError { Box::new(e) })))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
