//! Starts the whole server in this process — control plane, gateway and admin API on given
//! listeners — and stops it in order. Shared by `ficus serve` and `ficus demo`.

use crate::background::{self, RELAY_NICE};
use anyhow::Context;
use ficus_control::admin::{self, AdminState};
use ficus_control::queue::nats::{Nats, NatsQueue, NatsRelay};
use ficus_control::queue::{EmbeddedQueue, QueueProbe, Relay};
use ficus_control::{Control, Store};
use ficus_gateway::replay::WriteQueue;
use ficus_gateway::{Gateway, workers};
use ficus_model::{Plan, QueueBackend, TokenSource};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long `/readyz` reports 503 before the listener stops accepting, so load balancers move
/// traffic away first.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);
/// How long in-flight requests get to finish after the listener stops accepting.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The actor recorded for changes the server makes by itself.
const SERVER_ACTOR: &str = "ficus-serve";

/// A running server.
pub struct Server {
    pub gateway_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub control: Arc<Control>,
    draining: Arc<AtomicBool>,
    stop: watch::Sender<bool>,
    gateway: workers::Workers,
    admin_task: JoinHandle<std::io::Result<()>>,
    reconcile_task: JoinHandle<()>,
    /// Stops the relay once the gateway has drained (writes accepted while draining are queued
    /// too); what is still queued stays on disk for the next start.
    stop_relay: watch::Sender<bool>,
    relay_task: JoinHandle<()>,
}

/// Read the admin token from where the plan says.
///
/// # Errors
/// The variable is unset or empty, or the file cannot be read or is empty.
pub fn resolve_token(source: &TokenSource) -> anyhow::Result<String> {
    let token = match source {
        TokenSource::Env(var) => std::env::var(var).with_context(|| {
            format!(
                "admin token: set the environment variable {var} (or admin.token_file in the plan)"
            )
        })?,
        TokenSource::File(path) => std::fs::read_to_string(path)
            .with_context(|| format!("admin token: read {}", path.display()))?,
    };
    let token = token.trim().to_owned();
    anyhow::ensure!(!token.is_empty(), "admin token is empty");
    Ok(token)
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// The number of gateway workers: the plan's, or one per available core.
pub fn worker_count(plan: &Plan) -> usize {
    plan.listener.workers.unwrap_or_else(default_workers)
}

/// One gateway worker per available core.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Bind the gateway's listener on `addr`.
///
/// # Errors
/// The address is taken or not local.
pub fn bind_gateway(addr: SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    workers::bind(addr).context("gateway listener (listener.address)")
}

/// Open the store, publish the first routing table and start serving on the given listeners
/// (from [`bind_gateway`]).
///
/// # Errors
/// The store cannot be opened or migrated, or a worker cannot start.
pub async fn start(
    plan: Arc<Plan>,
    token: String,
    gateway_listener: std::net::TcpListener,
    admin_listener: TcpListener,
) -> anyhow::Result<Server> {
    let metrics = crate::telemetry::metrics();
    let store = Store::open(&plan.state_path).await.context("open the state store")?;
    let control = Arc::new(Control::start(Arc::clone(&plan), store, SERVER_ACTOR).await?);
    let gateway_addr = gateway_listener.local_addr()?;
    let admin_addr = admin_listener.local_addr()?;
    let (stop, stop_rx) = watch::channel(false);
    let draining = Arc::new(AtomicBool::new(false));

    let (stop_relay, relay_rx) = watch::channel(false);
    let (queue, probe, relay_task) = start_queue(&plan, control.store(), relay_rx).await?;

    let handle = control.handle();
    let make = || Gateway::from_plan(Arc::clone(&handle), &plan).with_queue(Arc::clone(&queue));
    let gateway = workers::start(
        gateway_listener,
        worker_count(&plan),
        make,
        plan.listener.pin_workers,
        stop_rx.clone(),
        DRAIN_TIMEOUT,
    )?;
    let app = admin::router(AdminState {
        control: Arc::clone(&control),
        token: token.into(),
        metrics,
        draining: Arc::clone(&draining),
        queue: probe,
    });
    let admin_task = tokio::spawn(
        axum::serve(admin_listener, app)
            .with_graceful_shutdown(stopped(stop_rx.clone()))
            .into_future(),
    );
    let reconcile_task = {
        let control = Arc::clone(&control);
        let rx = stop_rx;
        tokio::spawn(async move { control.run_reconcile_loop(stopped(rx)).await })
    };
    tracing::info!(%gateway_addr, %admin_addr, domains = plan.domains.len(), "ficus is serving");
    Ok(Server {
        gateway_addr,
        admin_addr,
        control,
        draining,
        stop,
        gateway,
        admin_task,
        reconcile_task,
        stop_relay,
        relay_task,
    })
}

/// Start the plan's write queue and its relay (stopped by `relay_rx`).
///
/// # Errors
/// NATS cannot be reached, or its stream or consumer cannot be set up.
async fn start_queue(
    plan: &Plan,
    store: &Store,
    relay_rx: watch::Receiver<bool>,
) -> anyhow::Result<(Arc<dyn WriteQueue>, QueueProbe, JoinHandle<()>)> {
    let upstreams = ficus_gateway::Upstreams::from_plan(plan);
    let config = plan.write_queue.clone();
    Ok(match &plan.write_queue.backend {
        QueueBackend::Embedded => {
            let appended = Arc::new(tokio::sync::Notify::new());
            let queue = EmbeddedQueue::start(store.clone(), Arc::clone(&appended))
                .context("start the write queue's writer thread")?;
            let relay = Relay::new(store.clone(), queue.clone(), upstreams, config, appended);
            let task = background::spawn("ficus-relay", RELAY_NICE, relay.run(stopped(relay_rx)))
                .context("start the write queue's relay thread")?;
            (Arc::new(queue), QueueProbe::Embedded, task)
        }
        QueueBackend::Nats { url, stream } => {
            let nats = Nats::connect(url, stream).await.context("start the NATS write queue")?;
            let relay = NatsRelay::start(nats.clone(), store.clone(), upstreams, config)
                .await
                .context("start the NATS write queue's relay")?;
            let queue = NatsQueue::new(nats.clone(), store.clone());
            let task = background::spawn("ficus-relay", RELAY_NICE, relay.run(stopped(relay_rx)))
                .context("start the write queue's relay thread")?;
            (Arc::new(queue), QueueProbe::Nats(Box::new(nats)), task)
        }
    })
}

impl Server {
    /// Stop in order: report not-ready for `grace`, stop accepting, drain in-flight requests,
    /// stop the admin API and the reconcile loop, close the store.
    ///
    /// # Errors
    /// Requests were still in flight at the drain deadline, or a task failed.
    pub async fn shutdown(self, grace: Duration) -> anyhow::Result<()> {
        self.draining.store(true, Ordering::Relaxed);
        tracing::info!(?grace, "draining: /readyz now answers 503");
        tokio::time::sleep(grace).await;
        let _ = self.stop.send(true);
        let workers = self.gateway;
        let gateway =
            tokio::task::spawn_blocking(move || workers.join()).await.context("gateway workers")?;
        let admin = self.admin_task.await.context("admin task")?;
        self.reconcile_task.await.context("reconcile task")?;
        let _ = self.stop_relay.send(true);
        self.relay_task.await.context("relay task")?;
        // Examples found since the last tick go to the store before it closes.
        if let Err(e) = self.control.sync_shadow().await {
            tracing::warn!(error = %e, "storing the last shadow findings failed");
        }
        self.control.store().close().await;
        gateway.context("drain the gateway")?;
        admin.context("admin API")?;
        tracing::info!("stopped");
        Ok(())
    }
}
