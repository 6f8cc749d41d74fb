//! demo placeholder
use crate::cli::DemoArgs; use crate::exit::CliError;
pub async fn run(_a: &DemoArgs) -> Result<(), CliError> { Err(anyhow::anyhow!("demo not built yet").into()) }
