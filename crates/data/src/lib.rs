//! The data engine of Ficus: copies a domain's history from the source database to the target
//! (backfill) and proves the two agree (verify), across SQLite, PostgreSQL and MariaDB/MySQL,
//! through the table mappings of the plan.
//!
//! Values cross engines as text: each source value is rendered by SQL in the source's dialect
//! into a form every target parses (see [`dialect`]), so no row is decoded into Rust types on
//! the copy path. Verify renders both sides into one checksum text per row (canonical, or each
//! engine's own text where both declared types agree) and hashes each chunk inside each
//! database (see [`mod@verify`]).

pub mod backfill;
pub mod capture;
mod checkpoint;
pub mod db;
pub mod dialect;
pub mod error;
pub mod introspect;
mod keyset;
mod myread;
pub mod pgcopy;
mod pgread;
mod rate;
mod read;
mod render;
pub mod repair;
pub mod resolve;
pub mod throttle;
pub mod types;
pub mod verify;
mod write;

pub use backfill::{BackfillOptions, BackfillReport, Progress, backfill};
pub use capture::{CaptureOptions, CaptureStatus, Lag};
pub use db::{Db, Session};
pub use error::{DataError, Side};
pub use repair::{RepairReport, repair};
pub use resolve::{ResolvedTable, resolve_reverse, resolve_tables};
pub use verify::{VerifyOptions, VerifyReport, verify};
