//! Keep-alive HTTP/1.1 connections to one upstream, owned by one gateway worker.
//!
//! A request takes an idle connection (or opens one), and the exchange runs in the request's
//! own task ([`crate::h1`]); the connection comes back when the answer's body has been read to
//! its end — a connection carries one exchange at a time. Kept deliberately small: the
//! gateway worker is single-threaded, so the idle list is a short uncontended lock and there
//! is no per-request hashing by origin (one pool per upstream). An idle connection the
//! upstream closed is noticed before use; if the upstream closes one just as a request goes
//! out, an idempotent request without a body is sent once more on a fresh connection, and
//! nothing else is ever resent.

use crate::body::Body;
use crate::h1::{self, Conn, H1Error, Recycle, RequestFraming, ResponseBody};
use http::{HeaderValue, Request, Response};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// Why an exchange with the upstream failed.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("connect to {addr}: {source}")]
    Connect { addr: String, source: std::io::Error },
    #[error("connect to {addr}: no answer within {timeout:?}")]
    ConnectTimeout { addr: String, timeout: Duration },
    #[error("exchange with the upstream failed")]
    Exchange(#[source] H1Error),
}

impl PoolError {
    /// Whether the connection was never established (nothing was sent).
    pub fn is_connect(&self) -> bool {
        matches!(self, PoolError::Connect { .. } | PoolError::ConnectTimeout { .. })
    }
}

/// The body of an upstream's answer; its connection returns to the pool when it has been read
/// to the end.
pub(crate) type PooledBody = ResponseBody<WeakPool>;

/// The way back into a pool for a connection whose answer has been read.
#[derive(Debug)]
pub(crate) struct WeakPool(Weak<Pool>);

impl Recycle for WeakPool {
    fn recycle(&self, conn: Conn) {
        if let Some(pool) = self.0.upgrade() {
            pool.put_back(conn);
        }
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
    idle: Mutex<Vec<Conn>>,
}

impl Pool {
    pub fn new(addr: String, connect_timeout: Duration, max_idle: usize) -> Arc<Pool> {
        let host = HeaderValue::from_str(&addr).unwrap_or(HeaderValue::from_static("localhost"));
        Arc::new(Pool { addr, host, connect_timeout, max_idle, idle: Mutex::new(Vec::new()) })
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Conn>> {
        // The list holds whole values only; a panic elsewhere cannot leave it inconsistent.
        self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// An idle connection ready to send, most recently used first (its socket is warmest).
    /// Ones the upstream closed meanwhile are dropped.
    fn take_idle(&self) -> Option<Conn> {
        let mut idle = self.idle();
        while let Some(mut conn) = idle.pop() {
            if conn.idle_usable() {
                return Some(conn);
            }
        }
        None
    }

    async fn connect(&self) -> Result<Conn, PoolError> {
        tokio::time::timeout(self.connect_timeout, Conn::connect(&self.addr))
            .await
            .map_err(|_| PoolError::ConnectTimeout {
                addr: self.addr.clone(),
                timeout: self.connect_timeout,
            })?
            .map_err(|source| PoolError::Connect { addr: self.addr.clone(), source })
    }

    fn put_back(&self, conn: Conn) {
        let mut idle = self.idle();
        if idle.len() < self.max_idle {
            idle.push(conn);
        }
    }

    /// Send `req` (origin-form target) on a pooled connection and read the answer's head; the
    /// body is read as the returned response's body is polled.
    ///
    /// # Errors
    /// [`PoolError`]: the connection could not be made, or the exchange failed.
    pub async fn send(
        self: &Arc<Self>,
        req: Request<Body>,
    ) -> Result<Response<PooledBody>, PoolError> {
        let (parts, body) = req.into_parts();
        let framing = RequestFraming::of(&parts, &body);
        let mut head = Vec::with_capacity(512);
        h1::encode_head(&parts, &self.host, framing, &mut head);
        let head_request = parts.method == http::Method::HEAD;
        // A stale idle connection can only be retried with a request that may be sent twice
        // and whose body is not consumed by the first try.
        let may_resend = matches!(framing, RequestFraming::None | RequestFraming::Length(0))
            && is_idempotent(&parts.method);
        let mut body = (!matches!(framing, RequestFraming::None)).then_some(body);
        let mut resent = false;
        loop {
            let (mut conn, reused) = match self.take_idle() {
                Some(conn) => (conn, true),
                None => (self.connect().await?, false),
            };
            match conn.exchange(&head, body.take(), framing, head_request).await {
                Ok((head, framing, reusable)) => {
                    let body =
                        ResponseBody::new(conn, framing, reusable, WeakPool(Arc::downgrade(self)));
                    let mut resp = Response::new(body);
                    *resp.status_mut() = head.status;
                    *resp.version_mut() = head.version;
                    *resp.headers_mut() = head.headers;
                    return Ok(resp);
                }
                Err(e) if reused && may_resend && !resent && e.is_stale_connection() => {
                    resent = true;
                    body = None;
                }
                Err(e) => return Err(PoolError::Exchange(e)),
            }
        }
    }
}

/// Methods whose repetition has the same effect as one request (RFC 9110 §9.2.2).
fn is_idempotent(method: &http::Method) -> bool {
    matches!(
        *method,
        http::Method::GET
            | http::Method::HEAD
            | http::Method::OPTIONS
            | http::Method::TRACE
            | http::Method::PUT
            | http::Method::DELETE
    )
}
