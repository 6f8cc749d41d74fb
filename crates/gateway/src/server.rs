//! The listener: accepts TCP connections and serves HTTP/1.1 (Ficus's own, [`crate::h1`]) and h2c
//! (prior knowledge, hyper) on one port; on shutdown stops accepting and drains in-flight requests up to a deadline.

use crate::forward::Gateway;
use crate::h1::server::{self as h1, Served};
use crate::headers::ClientAddr;
use crate::rewind::Rewind;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

/// The listener stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("in-flight requests did not finish within {0:?}; closed them")]
    DrainTimeout(Duration),
}

/// A connection accepted by another thread and handed to this worker.
#[derive(Debug)]
pub(crate) struct Handoff {
    pub stream: std::net::TcpStream,
    pub client: std::net::SocketAddr,
    /// Released when the connection ends: the acceptor counts each worker's open connections.
    pub load: LoadGuard,
}

/// One open connection counted against a worker.
#[derive(Debug)]
pub(crate) struct LoadGuard {
    pub loads: Arc<[AtomicUsize]>,
    pub worker: usize,
}

impl Drop for LoadGuard {
    fn drop(&mut self) {
        if let Some(l) = self.loads.get(self.worker) {
            l.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Where connections come from.
pub(crate) enum Source {
    /// Accept them here.
    Listener(TcpListener),
    /// Receive them from an acceptor on another thread.
    Handoff(mpsc::UnboundedReceiver<Handoff>),
}

impl Source {
    async fn next(
        &mut self,
    ) -> Option<std::io::Result<(TcpStream, std::net::SocketAddr, Option<LoadGuard>)>> {
        match self {
            Source::Listener(l) => Some(l.accept().await.map(|(s, a)| (s, a, None))),
            Source::Handoff(rx) => {
                let h = rx.recv().await?;
                Some(TcpStream::from_std(h.stream).map(|s| (s, h.client, Some(h.load))))
            }
        }
    }
}

/// Serve `gateway` on `listener` until `shutdown` resolves, then drain for up to `drain`.
///
/// # Errors
/// [`ServeError::DrainTimeout`] when connections were still busy at the deadline.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) -> Result<(), ServeError> {
    serve_from(Source::Listener(listener), gateway, shutdown, drain).await
}

/// [`serve`] over any [`Source`] of connections.
pub(crate) async fn serve_from(
    mut source: Source,
    gateway: Arc<Gateway>,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) -> Result<(), ServeError> {
    let mut h2 = http2::Builder::new(TokioExecutor::new());
    // No automatic `Date`: a proxy passes on the upstream's, and adds one only where it is
    // missing (`forward`), instead of hyper checking the clock for every response.
    h2.timer(TokioTimer::new()).auto_date_header(false);
    let h2 = Arc::new(h2);
    let graceful = GracefulShutdown::new();
    // HTTP/1.x connections watch this: idle ones close at once, busy ones after their answer.
    let (stop_tx, stop_rx) = watch::channel(false);
    // Connection tasks, kept so the drain deadline can close the ones still running.
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // Reap finished connections so the set does not grow with every connection ever served.
        while connections.try_join_next().is_some() {}
        let (stream, client, load) = tokio::select! {
            accepted = source.next() => match accepted {
                Some(Ok(conn)) => conn,
                // The acceptor is gone: only happens at shutdown.
                None => break,
                Some(Err(e)) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let gateway = Arc::clone(&gateway);
        let h2 = Arc::clone(&h2);
        let watcher = graceful.watcher();
        let stop = stop_rx.clone();
        connections.spawn(async move {
            let _load = load;
            let peer = Arc::new(ClientAddr::new(client));
            let Served::H2 { stream, read } =
                h1::serve(stream, Arc::clone(&gateway), Arc::clone(&peer), stop).await
            else {
                return;
            };
            let service = service_fn(move |req| {
                let gateway = Arc::clone(&gateway);
                let peer = Arc::clone(&peer);
                async move { Ok::<_, Infallible>(handle(gateway, req, peer).await) }
            });
            let conn = h2.serve_connection(TokioIo::new(Rewind::new(read, stream)), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(%client, error = %e, "connection ended with an error");
            }
        });
    }
    drop(source);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(drain, async {
        graceful.shutdown().await;
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.abort_all();
        while connections.join_next().await.is_some() {}
        return Err(ServeError::DrainTimeout(drain));
    }
    Ok(())
}

/// Serve one request. A request that may change something (not GET, HEAD, OPTIONS or TRACE)
/// runs in its own task, so a client hanging up cannot cut it short between the authoritative
/// side's answer and the write queue's append: the write may already be applied there, and the
/// other side must get it too.
pub(crate) async fn handle<B>(
    gateway: Arc<Gateway>,
    req: hyper::Request<B>,
    peer: Arc<ClientAddr>,
) -> hyper::Response<crate::body::Body>
where
    B: hyper::body::Body<Data = bytes::Bytes> + Send + Sync + 'static,
    B::Error: Into<crate::body::BoxError>,
{
    if req.method().is_safe() {
        return gateway.handle(req, &peer).await;
    }
    match tokio::spawn(async move { gateway.handle(req, &peer).await }).await {
        Ok(resp) => resp,
        Err(e) => match e.try_into_panic() {
            // As if it had panicked inline: the connection ends.
            Ok(panic) => std::panic::resume_unwind(panic),
            // Cancelled: only when the worker's runtime shuts down.
            Err(_) => {
                let mut resp = hyper::Response::new(crate::body::full(""));
                *resp.status_mut() = hyper::StatusCode::SERVICE_UNAVAILABLE;
                resp
            }
        },
    }
}
