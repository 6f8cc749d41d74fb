//! `chinook-legacy`: serves the legacy Chinook API over a Chinook SQLite file, a MariaDB/MySQL
//! database, or (by default) a fresh copy of the embedded Chinook in a temp dir.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use ficus_example_chinook::cli::{self, Command};
use ficus_example_chinook::{legacy, write_chinook_sqlite};

const USAGE: &str = "\
usage: chinook-legacy [--listen ADDR] [--db PATH|mysql://USER@HOST:PORT/DB]

  --listen ADDR   address to serve on (default 127.0.0.1:8001; port 0 picks one)
  --db VALUE      a Chinook SQLite file, or a mysql:// URL of a database loaded from
                  Chinook_MySql.sql; default: a fresh copy of the embedded Chinook in a temp dir";

#[tokio::main]
async fn main() -> ExitCode {
    cli::init_logging();
    let default = SocketAddr::from(([127, 0, 0, 1], 8001));
    let args = match cli::parse_args(std::env::args().skip(1), default) {
        Ok(Command::Run(args)) => args,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("chinook-legacy: {error:#}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("chinook-legacy: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: cli::Args) -> anyhow::Result<()> {
    let db = match args.db.as_deref() {
        Some(url) if url.starts_with("mysql://") || url.starts_with("mariadb://") => {
            legacy::open_mysql(url).await?
        }
        Some(path) => legacy::open_sqlite(Path::new(path)).await?,
        None => {
            let path = write_chinook_sqlite(&cli::fresh_temp_dir("chinook-legacy")?)?;
            println!("chinook-legacy database: {}", path.display());
            legacy::open_sqlite(&path).await?
        }
    };
    cli::serve("chinook-legacy", args.listen, legacy::router(db)).await
}
