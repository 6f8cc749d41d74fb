//! `chinook-new`: serves the new Chinook API over its own SQLite file, importing the embedded
//! Chinook data on first start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use ficus_example_chinook::cli::{self, Command};
use ficus_example_chinook::{new, write_chinook_sqlite};

const USAGE: &str = "\
usage: chinook-new [--listen ADDR] [--db PATH]

  --listen ADDR   address to serve on (default 127.0.0.1:8002; port 0 picks one)
  --db PATH       the new service's SQLite file, created and filled from the embedded Chinook
                  if missing or empty; default: a new file in a temp dir";

#[tokio::main]
async fn main() -> ExitCode {
    cli::init_logging();
    let default = SocketAddr::from(([127, 0, 0, 1], 8002));
    let args = match cli::parse_args(std::env::args().skip(1), default) {
        Ok(Command::Run(args)) => args,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("chinook-new: {error:#}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("chinook-new: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: cli::Args) -> anyhow::Result<()> {
    let scratch = cli::fresh_temp_dir("chinook-new")?;
    let path = args.db.map_or_else(|| scratch.join("new.sqlite"), PathBuf::from);
    let chinook = write_chinook_sqlite(&scratch)?;
    let pool = new::open(&path, &chinook).await?;
    // The Chinook copy was only the import source; drop it (and the dir, if now empty).
    std::fs::remove_file(&chinook).ok();
    std::fs::remove_dir(&scratch).ok();
    println!("chinook-new database: {}", path.display());
    cli::serve("chinook-new", args.listen, new::router(pool)).await
}
