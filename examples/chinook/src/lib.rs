//! Two honest HTTP services over the Chinook sample database, used by the Ficus demo: `legacy`
//! (the schema as shipped, SQLite or MariaDB) and `new` (a redesigned SQLite schema), same JSON API.

pub mod api;
pub mod cli;
pub mod data;
pub mod legacy;
pub mod new;
pub mod quirks;
mod sqlite;

pub use data::write_chinook_sqlite;
pub use quirks::Quirks;
