//! Structured logs with tracing: JSON when stderr is not a terminal, human text when it is.
//! The filter comes from `FICUS_LOG` (default `info`).

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Install the global subscriber. `default` is the filter when `FICUS_LOG` is unset.
pub fn init(default: &str) {
    let filter = EnvFilter::try_from_env("FICUS_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = if std::io::stderr().is_terminal() {
        builder.with_ansi(std::env::var_os("NO_COLOR").is_none()).try_init()
    } else {
        builder.json().flatten_event(true).with_current_span(false).try_init()
    };
    // Already installed (tests calling twice): keep the first.
    drop(result);
}
