//! The `ficus` binary: parses the command line, sets up logging and the runtime, runs one
//! command and turns its result into a documented exit code.

mod background;
mod cli;
mod client;
mod commands;
mod data_cmd;
mod demo;
mod diffs;
mod exit;
mod logging;
mod serve;
mod server;
mod telemetry;
mod writes;

use clap::Parser;
use cli::{Cli, Command};
use exit::CliError;
use std::process::ExitCode;

/// mimalloc: the gateway allocates small, short-lived buffers per request; glibc malloc took
/// ~12% of the gateway's user time in `bench/gateway.sh` profiles.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `verify` waits on the two databases, which do its work on the same cores: one thread
    // spares the client the cross-thread wake-ups of a multi-threaded runtime (client CPU
    // 0.51 vs 0.64 s, bench/README.md "Verify, session 9"). Everything else serves or copies
    // on every core.
    let mut builder = match cli.command {
        Command::Verify(_) => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ficus: start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ficus: {e}");
            ExitCode::from(e.exit as u8)
        }
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Serve { plan } => {
            logging::init("info");
            serve::run(&plan).await
        }
        Command::Validate { plan, output } => commands::validate(&plan, output),
        Command::Status { domain, admin } => commands::status(domain.as_deref(), &admin).await,
        Command::Advance { domain, change, admin } => {
            commands::advance(&domain, &change, &admin).await
        }
        Command::Rollback { domain, to, force, change, admin } => {
            commands::rollback(&domain, to.as_deref(), force, &change, &admin).await
        }
        Command::Set { domain, read_new_percent, shadow_percent, change, admin } => {
            commands::set(&domain, read_new_percent, shadow_percent, &change, &admin).await
        }
        Command::Audit { domain, limit, admin } => {
            commands::audit(domain.as_deref(), limit, &admin).await
        }
        Command::Diffs { domain, examples, action, admin } => {
            diffs::run(&domain, examples, action, &admin).await
        }
        Command::Backfill(args) => {
            logging::init("warn");
            data_cmd::backfill(&args).await
        }
        Command::Verify(args) => {
            logging::init("warn");
            data_cmd::verify(&args).await
        }
        Command::Writes { domain, action, admin } => writes::run(domain, action, &admin).await,
        Command::Capture(args) => {
            logging::init("warn");
            data_cmd::capture::run(&args).await
        }
        Command::Repair(args) => {
            logging::init("warn");
            data_cmd::repair::run(&args).await
        }
        Command::Demo(args) => {
            logging::init("warn");
            demo::run(&args).await
        }
    }
}
