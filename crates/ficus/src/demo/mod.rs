//! `ficus demo`: the Chinook example end to end. Starts the legacy and new services over real
//! data, the gateway and the admin API on free loopback ports, drives a steady mixed load, walks
//! the `invoices` domain through all five phases and one rollback, and prints a report.

mod load;
mod report;
mod services;
mod walk;

use crate::cli::{DemoArgs, Output};
use crate::exit::{CliError, Exit};
use crate::server;
use anyhow::Context;
use ficus_model::Plan;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;

/// The plan of the demo; ports and paths are filled in at start.
fn plan_text(gateway: u16, admin: u16, legacy: u16, new: u16, state: &str) -> String {
    format!(
        r#"
[listener]
address = "127.0.0.1:{gateway}"
max_body_bytes = 1_048_576

[admin]
address = "127.0.0.1:{admin}"
token_env = "FICUS_DEMO_TOKEN"

[state]
path = "{state}"

[upstreams.legacy]
url = "http://127.0.0.1:{legacy}"
connect_timeout = "1s"
request_timeout = "10s"
pool_max_idle = 64

[upstreams.new]
url = "http://127.0.0.1:{new}"
connect_timeout = "1s"
request_timeout = "10s"
pool_max_idle = 64

[unmatched]
upstream = "legacy"

[domains.invoices]
phase = "legacy"
sticky = {{ header = "x-customer-id" }}
routes = [
  {{ methods = ["GET", "POST"], path = "/invoices", id_pointer = "/id" }},
  {{ methods = ["GET", "PUT", "DELETE"], path = "/invoices/{{id}}" }},
]

[domains.customers]
phase = "legacy"
sticky = {{ path = "id" }}
routes = [
  {{ methods = ["GET", "POST"], path = "/customers" }},
  {{ methods = ["GET", "PUT", "DELETE"], path = "/customers/{{id}}" }},
]

# Still served by legacy; half of its reads are also sent to new and compared.
[domains.tracks]
phase = "legacy"
shadow_percent = 50
routes = [
  {{ methods = ["GET", "POST"], path = "/tracks" }},
  {{ methods = ["GET", "PUT", "DELETE"], path = "/tracks/{{id}}" }},
]

[domains.tracks.shadow]
in_legacy = true
noise_percent = 25
"#
    )
}

async fn bind() -> anyhow::Result<TcpListener> {
    TcpListener::bind("127.0.0.1:0").await.context("bind a free loopback port")
}

pub async fn run(args: &DemoArgs) -> Result<(), CliError> {
    tokio::select! {
        result = demo(args) => result,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("\nficus demo: interrupted; everything it started has stopped");
            Err(CliError::new(Exit::Interrupted, anyhow::anyhow!("interrupted")))
        }
    }
}

async fn demo(args: &DemoArgs) -> Result<(), CliError> {
    let dir =
        tempfile::Builder::new().prefix("ficus-demo-").tempdir().context("make a temp dir")?;
    eprintln!("ficus demo: preparing the Chinook services in {}", dir.path().display());
    let services = services::start(dir.path()).await?;

    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let gateway_listener = server::bind_gateway(loopback)?;
    let admin_listener = bind().await?;
    let state = dir.path().join("ficus-state.db");
    let text = plan_text(
        gateway_listener.local_addr().context("gateway port")?.port(),
        admin_listener.local_addr().context("admin port")?.port(),
        services.legacy.port(),
        services.new.port(),
        &state.display().to_string(),
    );
    let plan = Arc::new(
        Plan::parse(&text, "demo plan", dir.path())
            .map_err(|e| CliError::new(Exit::InvalidPlan, e))?,
    );
    let token = format!("demo-{:016x}", rand::random::<u64>());
    let server =
        server::start(Arc::clone(&plan), token.clone(), gateway_listener, admin_listener).await?;
    let admin_url = format!("http://{}", server.admin_addr);
    eprintln!(
        "ficus demo: legacy on http://{}, new on http://{}, gateway on http://{}, admin API on {admin_url}",
        services.legacy, services.new, server.gateway_addr
    );

    let started = Instant::now();
    let load = load::Load::start(
        args.clients,
        server.gateway_addr,
        [services.legacy, services.new],
        Arc::clone(&plan),
        server.control.handle(),
    );
    let walk = walk::walk(&admin_url, &token, args.step).await;
    let stats = load.stop().await;
    let walk = walk?;
    let metrics = walk::fetch_metrics(&admin_url).await?;
    let audit = walk::fetch_audit(&admin_url).await?;
    let diffs = walk::fetch_diffs(&admin_url, "tracks").await?;
    let report = report::Report::new(
        &stats,
        &metrics,
        &walk,
        &audit,
        report::Shadow::new(&diffs),
        started.elapsed(),
        &admin_url,
    );
    match args.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report.to_json()).map_err(anyhow::Error::from)?
        ),
        Output::Text => report.print(),
    }
    if args.hold {
        eprintln!(
            "ficus demo: holding. Try: FICUS_ADMIN_URL={admin_url} FICUS_ADMIN_TOKEN={token} ficus status   (Ctrl-C stops)"
        );
        let _ = tokio::signal::ctrl_c().await;
    }
    server.shutdown(std::time::Duration::ZERO).await?;
    services.stop().await;
    drop(dir);
    if report.client_errors() > 0 {
        return Err(CliError::new(
            Exit::Failure,
            anyhow::anyhow!("{} client-visible errors during the demo", report.client_errors()),
        ));
    }
    Ok(())
}
