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

/// What verify's cheaper checksum forms need to know of a declared column type: whether the
/// engine's own text of the column is already a fixed, comparable rendering of its value
/// (see [`crate::dialect::CheckForm`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shape {
    /// An integer type (`tinyint` … `bigint`, `smallint` … `bigint`): its text is its digits.
    Int,
    /// A decimal with a declared scale (`decimal(12,4)`, `numeric(12,4)`, `numeric(12)`): its
    /// text always has exactly `scale` fractional digits.
    Decimal {
        /// Declared fractional digits.
        scale: u32,
    },
    /// A timestamp whose text is `YYYY-MM-DD HH:MM:SS` and up to `precision` fractional digits
    /// of a second, in UTC (MariaDB/MySQL `datetime(p)` and `timestamp(p)` — sessions run in
    /// UTC; PostgreSQL `timestamp(p) without time zone`, `p` = 6 when not declared).
    Timestamp {
        /// Declared fractional digits of a second (0–6).
        precision: u32,
    },
    /// A MariaDB/MySQL text column in `utf8mb4`, or a PostgreSQL `text`/`varchar` column in a
    /// UTF8 database: its bytes already are the UTF-8 of the canonical text, so no conversion
    /// is needed, and never hold `0xFE` or `0xFF` (both engines refuse or replace invalid
    /// UTF-8 on input) ([`crate::introspect::ColumnInfo::shape`]).
    Utf8Text,
    /// Anything else (SQLite types, unconstrained `numeric`, `timestamp with time zone`, …).
    #[default]
    Other,
}

/// The [`Shape`] of a declared column type of `engine` (as in [`classify`]).
pub fn shape(engine: Engine, declared: &str) -> Shape {
    let t = declared.trim().to_ascii_lowercase();
    let base = t.split(['(', ' ']).next().unwrap_or("");
    // The numbers inside the first parentheses: `(12,4)` → [12, 4]; none → [].
    let args: Vec<u32> = match t.split_once('(').and_then(|(_, r)| r.split_once(')')) {
        Some((inner, _)) => {
            let parsed: Option<Vec<u32>> =
                inner.split(',').map(|n| n.trim().parse::<u32>().ok()).collect();
            match parsed {
                Some(v) => v,
                None => return Shape::Other,
            }
        }
        None => Vec::new(),
    };
    match (engine, base) {
        (Engine::MySql, "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint")
        | (Engine::Postgres, "smallint" | "integer" | "bigint") => Shape::Int,
        (Engine::MySql, "decimal" | "numeric") => match args.as_slice() {
            [_, s] => Shape::Decimal { scale: *s },
            [_] | [] => Shape::Decimal { scale: 0 },
            _ => Shape::Other,
        },
        (Engine::Postgres, "numeric" | "decimal") => match args.as_slice() {
            [_, s] => Shape::Decimal { scale: *s },
            [_] => Shape::Decimal { scale: 0 },
            _ => Shape::Other,
        },
        (Engine::MySql, "datetime" | "timestamp") => match args.as_slice() {
            [p] if *p <= 6 => Shape::Timestamp { precision: *p },
            [] => Shape::Timestamp { precision: 0 },
            _ => Shape::Other,
        },
        (Engine::Postgres, "timestamp") if t.ends_with("without time zone") => {
            match args.as_slice() {
                [p] if *p <= 6 => Shape::Timestamp { precision: *p },
                [] => Shape::Timestamp { precision: 6 },
                _ => Shape::Other,
            }
        }
        _ => Shape::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_of_declared_types() {
        assert_eq!(shape(Engine::MySql, "bigint(20)"), Shape::Int);
        assert_eq!(shape(Engine::MySql, "int(10) unsigned"), Shape::Int);
        assert_eq!(shape(Engine::Postgres, "integer"), Shape::Int);
        assert_eq!(shape(Engine::MySql, "decimal(12,4)"), Shape::Decimal { scale: 4 });
        assert_eq!(shape(Engine::MySql, "decimal(12,4) unsigned"), Shape::Decimal { scale: 4 });
        assert_eq!(shape(Engine::Postgres, "numeric(12,4)"), Shape::Decimal { scale: 4 });
        assert_eq!(shape(Engine::Postgres, "numeric(12)"), Shape::Decimal { scale: 0 });
        assert_eq!(shape(Engine::Postgres, "numeric"), Shape::Other);
        assert_eq!(shape(Engine::MySql, "datetime(6)"), Shape::Timestamp { precision: 6 });
        assert_eq!(shape(Engine::MySql, "timestamp"), Shape::Timestamp { precision: 0 });
        assert_eq!(
            shape(Engine::Postgres, "timestamp without time zone"),
            Shape::Timestamp { precision: 6 }
        );
        assert_eq!(
            shape(Engine::Postgres, "timestamp(3) without time zone"),
            Shape::Timestamp { precision: 3 }
        );
        assert_eq!(shape(Engine::Postgres, "timestamp(6) with time zone"), Shape::Other);
        assert_eq!(shape(Engine::MySql, "year(4)"), Shape::Other);
        assert_eq!(shape(Engine::Sqlite, "INTEGER"), Shape::Other);
    }

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
