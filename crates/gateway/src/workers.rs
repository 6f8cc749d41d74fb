//! Thread-per-core serving, as nginx's worker processes do: each worker thread (pinned to a
//! core unless the plan says not to) runs its own single-threaded runtime and its own upstream
//! connection pools, so a request and its upstream exchange never cross threads (no
//! cross-thread wake-ups on the hot path). One acceptor hands each new connection to the
//! worker with the fewest open connections, so a burst of connections is spread evenly (a hash
//! of the address, as `SO_REUSEPORT` does, or a race to `accept`, leaves one worker with more
//! and a worse tail latency).

use crate::forward::Gateway;
use crate::server::{Handoff, LoadGuard, ServeError, Source, serve_from};
use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Backlog of the gateway's listening socket.
const LISTEN_BACKLOG: i32 = 1024;

/// A worker could not be started or failed.
#[derive(Debug, thiserror::Error)]
pub enum WorkersError {
    #[error("listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("gateway worker {index}: {source}")]
    Start { index: usize, source: std::io::Error },
    #[error("gateway worker {index}: {source}")]
    Serve { index: usize, source: ServeError },
    #[error("gateway worker {index} panicked")]
    Panicked { index: usize },
}

/// Bind the gateway's listening socket on `addr` (port 0 picks a free port). A plain std
/// listener: the acceptor registers it with its runtime.
///
/// # Errors
/// [`WorkersError::Bind`] when the address is taken or not local.
pub fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, WorkersError> {
    let bind_one = || -> std::io::Result<std::net::TcpListener> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        socket.set_tcp_nodelay(true)?;
        socket.bind(&addr.into())?;
        socket.listen(LISTEN_BACKLOG)?;
        socket.set_nonblocking(true)?;
        Ok(socket.into())
    };
    bind_one().map_err(|source| WorkersError::Bind { addr, source })
}

/// Running gateway workers.
#[derive(Debug)]
pub struct Workers {
    threads: Vec<std::thread::JoinHandle<Result<(), ServeError>>>,
}

fn runtime(index: usize) -> Result<tokio::runtime::Runtime, WorkersError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| WorkersError::Start { index, source })
}

/// Start `count` workers serving connections from `listener`. `make` builds each worker's
/// [`Gateway`] (its own upstream pools). With `pin`, worker `i` runs only on the `i`-th CPU
/// the process may use (see [`crate::affinity`]); a refused pin is logged and the worker runs
/// unpinned. When `stop` turns true the acceptor stops and every worker drains for up to
/// `drain`.
///
/// # Errors
/// [`WorkersError::Start`] when a thread or runtime cannot be created.
pub fn start(
    listener: std::net::TcpListener,
    count: usize,
    make: impl Fn() -> Gateway,
    pin: bool,
    stop: watch::Receiver<bool>,
    drain: Duration,
) -> Result<Workers, WorkersError> {
    let count = count.max(1);
    let allowed = if pin { crate::affinity::allowed_cpus() } else { Vec::new() };
    let loads: Arc<[AtomicUsize]> = (0..count).map(|_| AtomicUsize::new(0)).collect();
    let mut senders = Vec::with_capacity(count);
    let mut threads = Vec::with_capacity(count + 1);
    for index in 0..count {
        let (tx, rx) = mpsc::unbounded_channel();
        senders.push(tx);
        let gateway = Arc::new(make());
        let mut stop = stop.clone();
        let rt = runtime(index)?;
        let cpu = crate::affinity::cpu_for(index, &allowed);
        let thread = std::thread::Builder::new()
            .name(format!("ficus-gateway-{index}"))
            .spawn(move || {
                if let Some(cpu) = cpu
                    && let Err(e) = crate::affinity::pin_current_thread(cpu)
                {
                    tracing::warn!(worker = index, cpu, error = %e, "gateway worker not pinned");
                }
                rt.block_on(async move {
                    let shutdown = async move {
                        let _ = stop.wait_for(|s| *s).await;
                    };
                    serve_from(Source::Handoff(rx), gateway, shutdown, drain).await
                })
            })
            .map_err(|source| WorkersError::Start { index, source })?;
        threads.push(thread);
    }
    let rt = runtime(count)?;
    let mut stop = stop;
    let acceptor = std::thread::Builder::new()
        .name("ficus-acceptor".into())
        .spawn(move || {
            rt.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!(error = %e, "the gateway cannot use its listener");
                        return Ok(());
                    }
                };
                loop {
                    tokio::select! {
                        accepted = listener.accept() => match accepted {
                            Ok((stream, client)) => dispatch(stream, client, &loads, &senders),
                            Err(e) => {
                                // Out of file descriptors and the like: back off, don't spin.
                                tracing::warn!(error = %e, "accept failed");
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                        },
                        _ = stop.wait_for(|s| *s) => break,
                    }
                }
                // Dropping the senders ends each worker's stream of connections.
                Ok(())
            })
        })
        .map_err(|source| WorkersError::Start { index: count, source })?;
    threads.push(acceptor);
    Ok(Workers { threads })
}

/// Hand a new connection to the worker with the fewest open connections.
fn dispatch(
    stream: tokio::net::TcpStream,
    client: SocketAddr,
    loads: &Arc<[AtomicUsize]>,
    senders: &[mpsc::UnboundedSender<Handoff>],
) {
    let _ = stream.set_nodelay(true);
    let worker = (0..loads.len()).min_by_key(|i| loads[*i].load(Ordering::Relaxed)).unwrap_or(0);
    let stream = match stream.into_std() {
        Ok(s) => s,
        Err(e) => return tracing::warn!(error = %e, "could not hand over a connection"),
    };
    loads[worker].fetch_add(1, Ordering::Relaxed);
    let load = LoadGuard { loads: Arc::clone(loads), worker };
    if let Some(tx) = senders.get(worker) {
        // A closed channel means the worker stopped; the connection is dropped with the guard.
        let _ = tx.send(Handoff { stream, client, load });
    }
}

impl Workers {
    /// Wait for every worker to finish (after `stop` was set). Blocks the calling thread: call
    /// it from `spawn_blocking`.
    ///
    /// # Errors
    /// The first worker that failed to drain in time or panicked.
    pub fn join(self) -> Result<(), WorkersError> {
        let mut first = Ok(());
        for (index, t) in self.threads.into_iter().enumerate() {
            let result = match t.join() {
                Ok(Ok(())) => Ok(()),
                Ok(Err(source)) => Err(WorkersError::Serve { index, source }),
                Err(_) => Err(WorkersError::Panicked { index }),
            };
            if first.is_ok() {
                first = result;
            }
        }
        first
    }
}
