//! Plan errors: each names the key path and the line, and says what would be valid.

use std::fmt;

/// One problem in a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanIssue {
    /// Dotted key path, e.g. `domains.invoices.routes[0].path`; empty for the whole file.
    pub path: String,
    /// 1-based line in the plan file, when known.
    pub line: Option<usize>,
    pub message: String,
}

/// A plan that could not be read or checked. Lists every problem found by the checks (a syntax
/// or type error stops at the first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PlanError {
    /// The file name shown in messages.
    pub origin: String,
    pub issues: Vec<PlanIssue>,
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.issues.len();
        writeln!(f, "{}: {} problem{} in the plan", self.origin, n, if n == 1 { "" } else { "s" })?;
        for issue in &self.issues {
            write!(f, "  {}", self.origin)?;
            if let Some(line) = issue.line {
                write!(f, ":{line}")?;
            }
            if issue.path.is_empty() {
                writeln!(f, ": {}", issue.message)?;
            } else {
                writeln!(f, ": `{}`: {}", issue.path, issue.message)?;
            }
        }
        Ok(())
    }
}

/// 1-based line of a byte offset in `src`.
pub(crate) fn line_of_offset(src: &str, offset: usize) -> usize {
    src.get(..offset).map_or(1, |s| s.bytes().filter(|b| *b == b'\n').count() + 1)
}
