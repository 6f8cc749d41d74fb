//! Plumbing shared by the `chinook-legacy` and `chinook-new` binaries: hand-rolled flag parsing,
//! a fresh temp dir for the embedded Chinook copy, logging, and serving until Ctrl-C/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use axum::Router;
use tokio::net::TcpListener;

/// Flags common to both binaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// `--listen ADDR`: address to bind (port 0 picks a free port).
    pub listen: SocketAddr,
    /// `--db VALUE`: database path (or, for legacy, a `mysql://` URL); `None` if not given.
    pub db: Option<String>,
}

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the service.
    Run(Args),
    /// `--help`/`-h`: print usage and exit.
    Help,
}

/// Parses `--listen ADDR` (default `default_listen`), `--db VALUE`, `--help`; `--flag=value`
/// works too. Errors: unknown flag, missing value, unparsable address.
pub fn parse_args(
    args: impl IntoIterator<Item = String>,
    default_listen: SocketAddr,
) -> anyhow::Result<Command> {
    let mut listen = default_listen;
    let mut db = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg, None),
        };
        let mut value = |name: &str| {
            inline.clone().or_else(|| args.next()).with_context(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--listen" => {
                let text = value("--listen")?;
                listen =
                    text.parse().with_context(|| format!("--listen {text:?}: not an ADDR:PORT"))?;
            }
            "--db" => db = Some(value("--db")?),
            "--help" | "-h" => return Ok(Command::Help),
            other => bail!("unknown argument {other:?}"),
        }
    }
    Ok(Command::Run(Args { listen, db }))
}

/// Creates a fresh directory `<system temp>/<prefix>-<pid>-<nanos>` and returns it.
pub fn fresh_temp_dir(prefix: &str) -> anyhow::Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

/// Binds `listen`, prints `listening on http://ADDR` (the real address) to stdout, and serves
/// `router` until Ctrl-C or SIGTERM, then drains open connections.
///
/// Errors: the address cannot be bound; the server fails.
pub async fn serve(name: &str, listen: SocketAddr, router: Router) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    println!("{name} listening on http://{addr}");
    axum::serve(listener, router).with_graceful_shutdown(shutdown()).await?;
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> anyhow::Result<Command> {
        let default = SocketAddr::from(([127, 0, 0, 1], 8001));
        parse_args(args.iter().map(|s| (*s).to_owned()), default)
    }

    #[test]
    fn flags() {
        let default = SocketAddr::from(([127, 0, 0, 1], 8001));
        assert_eq!(parse(&[]).ok(), Some(Command::Run(Args { listen: default, db: None })));
        let got = parse(&["--listen", "127.0.0.1:9000", "--db=x.sqlite"]).ok();
        let want =
            Args { listen: SocketAddr::from(([127, 0, 0, 1], 9000)), db: Some("x.sqlite".into()) };
        assert_eq!(got, Some(Command::Run(want)));
        assert_eq!(parse(&["-h"]).ok(), Some(Command::Help));
        assert!(parse(&["--listen"]).is_err());
        assert!(parse(&["--listen", "nope"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
    }
}
