//! Value classes: the engine-neutral kind of a column (integer, decimal, timestamp…), decided from
//! its declared type. A class picks how a value is rendered for transfer and for checksums.

use ficus_model::mapping::Engine;

/// The engine-neutral kind of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// Whole numbers (any width).
    Int,
    /// Exact decimals; compared by value (`1.5` equals `1.50`).
    Decimal,
    /// Binary floats; compared rounded to 6 decimal places.
    Float,
    /// Text, compared as UTF-8 (4-byte characters included).
    Text,
    /// Timestamps, compared as UTC microseconds since the epoch; values without a zone are
    /// taken as UTC.
    Timestamp,
    /// Calendar dates.
    Date,
    /// Booleans (`1`/`0`).
    Bool,
    /// Byte strings, compared as lower-case hex.
    Bytes,
    /// UUIDs, compared as lower-case text.
    Uuid,
}

/// The class of a declared column type of `engine`: `format_type()` text on PostgreSQL,
/// `COLUMN_TYPE` on MariaDB/MySQL, the declared type on SQLite. Unknown types are [`Class::Text`].
pub fn classify(engine: Engine, declared: &str) -> Class {
    let t = declared.trim().to_ascii_lowercase();
    let base = t.split(['(', ' ']).next().unwrap_or("");
    match engine {
        Engine::Postgres => match base {
            "smallint" | "integer" | "bigint" | "int" | "int2" | "int4" | "int8" | "oid" => {
                Class::Int
            }
            "numeric" | "decimal" | "money" => Class::Decimal,
            "real" | "double" | "float4" | "float8" => Class::Float,
            "timestamp" => Class::Timestamp,
            "date" => Class::Date,
            "boolean" | "bool" => Class::Bool,
            "bytea" => Class::Bytes,
            "uuid" => Class::Uuid,
            _ => Class::Text,
        },
        Engine::MySql => match base {
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "year"
            | "bit" => Class::Int,
            "decimal" | "numeric" => Class::Decimal,
            "float" | "double" | "real" => Class::Float,
            "datetime" | "timestamp" => Class::Timestamp,
            "date" => Class::Date,
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
                Class::Bytes
            }
            "uuid" => Class::Uuid,
            _ => Class::Text,
        },
        // SQLite: the affinity rules of https://sqlite.org/datatype3.html §3.1, after the
        // names that conventionally carry dates, times and booleans.
        Engine::Sqlite => {
            if t.contains("timestamp") || t.contains("datetime") {
                Class::Timestamp
            } else if t == "date" {
                Class::Date
            } else if t.starts_with("bool") {
                Class::Bool
            } else if t.contains("int") {
                Class::Int
            } else if t.contains("char") || t.contains("clob") || t.contains("text") {
                Class::Text
            } else if t.contains("blob") {
                Class::Bytes
            } else if t.contains("real") || t.contains("floa") || t.contains("doub") {
                Class::Float
            } else if t.is_empty() {
                Class::Text
            } else {
                Class::Decimal
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_of_common_types() {
        assert_eq!(classify(Engine::Postgres, "timestamp with time zone"), Class::Timestamp);
        assert_eq!(classify(Engine::Postgres, "numeric(10,2)"), Class::Decimal);
        assert_eq!(classify(Engine::Postgres, "character varying(40)"), Class::Text);
        assert_eq!(classify(Engine::Postgres, "double precision"), Class::Float);
        assert_eq!(classify(Engine::MySql, "int(11)"), Class::Int);
        assert_eq!(classify(Engine::MySql, "decimal(10,2)"), Class::Decimal);
        assert_eq!(classify(Engine::MySql, "varchar(160)"), Class::Text);
        assert_eq!(classify(Engine::MySql, "datetime(6)"), Class::Timestamp);
        assert_eq!(classify(Engine::Sqlite, "NUMERIC(10,2)"), Class::Decimal);
        assert_eq!(classify(Engine::Sqlite, "NVARCHAR(160)"), Class::Text);
        assert_eq!(classify(Engine::Sqlite, "INTEGER"), Class::Int);
        assert_eq!(classify(Engine::Sqlite, "DATETIME"), Class::Timestamp);
    }
}
