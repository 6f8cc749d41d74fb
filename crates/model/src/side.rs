//! The two sides of a migration: the `legacy` and the `new` upstream.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One of the two upstreams of every domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Side {
    /// The system being replaced.
    Legacy,
    /// The system replacing it.
    New,
}

impl Side {
    /// Both sides, legacy first.
    pub const BOTH: [Side; 2] = [Side::Legacy, Side::New];

    /// The name used in plans, metrics labels and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Legacy => "legacy",
            Side::New => "new",
        }
    }

    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::Legacy => Side::New,
            Side::New => Side::Legacy,
        }
    }

    /// Index for per-side arrays: legacy 0, new 1.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
