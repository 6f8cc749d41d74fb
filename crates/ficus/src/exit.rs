//! Exit codes of the CLI (listed in `ficus --help`) and the error that carries one.

use std::fmt;

/// A documented exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Failure = 1,
    Usage = 2,
    Refused = 3,
    NotAuthorised = 4,
    InvalidPlan = 5,
    Interrupted = 130,
}

/// An error that ends the command with a specific exit code.
#[derive(Debug)]
pub struct CliError {
    pub exit: Exit,
    pub error: anyhow::Error,
}

impl CliError {
    pub fn new(exit: Exit, error: impl Into<anyhow::Error>) -> CliError {
        CliError { exit, error: error.into() }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl From<anyhow::Error> for CliError {
    fn from(error: anyhow::Error) -> CliError {
        CliError { exit: Exit::Failure, error }
    }
}
