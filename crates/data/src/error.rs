//! Errors of the data engine; each says which database (source or target) failed and what was
//! being done.

use std::fmt;

/// Which database an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The database rows are copied from.
    Source,
    /// The database rows are copied into.
    Target,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Source => "source",
            Side::Target => "target",
        })
    }
}

/// A data engine failure.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A database URL that names no supported engine, or an unset URL variable.
    #[error("{side} database: {message}")]
    Url { side: Side, message: String },
    /// A database statement failed.
    #[error("{side} database: {doing}: {source}")]
    Sql {
        side: Side,
        doing: String,
        #[source]
        source: sqlx::Error,
    },
    /// The mapping does not fit the tables as they are (a missing table or column, an SQL
    /// transform without a version for this engine, a key that is not unique…).
    #[error("table {table}: {message}")]
    Mapping { table: String, message: String },
    /// A checkpoint row that cannot be read back (edited by hand, or from another version).
    #[error("checkpoint of {table}: {message}")]
    Checkpoint { table: String, message: String },
}

impl DataError {
    /// Wrap an sqlx error with the side and what was being done.
    pub fn sql(side: Side, doing: impl Into<String>) -> impl FnOnce(sqlx::Error) -> DataError {
        let doing = doing.into();
        move |source| DataError::Sql { side, doing, source }
    }

    /// A mapping problem of one table.
    pub fn mapping(table: &str, message: impl Into<String>) -> DataError {
        DataError::Mapping { table: table.to_owned(), message: message.into() }
    }
}
