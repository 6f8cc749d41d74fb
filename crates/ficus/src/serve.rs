//! `ficus serve`: run until SIGTERM or SIGINT, then drain; a second signal exits at once.

use crate::exit::{CliError, Exit};
use crate::server;
use anyhow::Context;
use ficus_model::Plan;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

pub async fn run(plan_path: &Path) -> Result<(), CliError> {
    let plan = Plan::load(plan_path).map_err(|e| CliError::new(Exit::InvalidPlan, e))?;
    let token = server::resolve_token(&plan.admin.token)?;
    let gateway_listener = server::bind_gateway(plan.listener.address)?;
    let admin_listener = TcpListener::bind(plan.admin.address)
        .await
        .with_context(|| format!("listen on {} (admin.address)", plan.admin.address))?;
    let server = server::start(Arc::new(plan), token, gateway_listener, admin_listener).await?;
    eprintln!(
        "ficus: gateway on http://{}, admin API on http://{}",
        server.gateway_addr, server.admin_addr
    );

    let mut term = signal(SignalKind::terminate()).context("install SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("install SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
    tokio::select! {
        result = server.shutdown(server::SHUTDOWN_GRACE) => result.map_err(CliError::from),
        _ = term.recv() => Err(CliError::new(Exit::Interrupted, anyhow::anyhow!("second signal: exiting at once"))),
        _ = int.recv() => Err(CliError::new(Exit::Interrupted, anyhow::anyhow!("second signal: exiting at once"))),
    }
}
