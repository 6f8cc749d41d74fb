//! Column lists and declared types of tables, read from each engine's catalogue.

use crate::db::Db;
use crate::error::{DataError, Side};
use crate::types::{Class, Shape, classify, shape};
use ficus_model::mapping::Engine;

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnInfo {
    /// The name as the catalogue spells it.
    pub name: String,
    /// The declared type (`format_type()` on PostgreSQL, `COLUMN_TYPE` on MariaDB/MySQL).
    pub declared: String,
    pub class: Class,
    /// The character set of a MariaDB/MySQL text column (`utf8mb4`, `latin1`…), `UTF8` for a
    /// PostgreSQL `text` or `varchar` column in a UTF8 database; `None` for other columns.
    pub charset: Option<String>,
    /// Declared `NOT NULL`.
    pub not_null: bool,
}

impl ColumnInfo {
    /// The [`Shape`] of this column of `engine`: [`Shape::Utf8Text`] for a MariaDB/MySQL
    /// `char`/`varchar`/`text` column in `utf8mb4` or a PostgreSQL `text`/`varchar` column in
    /// a UTF8 database, else [`shape`] of its declared type.
    pub fn shape(&self, engine: Engine) -> Shape {
        let t = self.declared.to_ascii_lowercase();
        let base = t.split(['(', ' ']).next().unwrap_or("");
        let text =
            matches!(base, "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext");
        if engine == Engine::MySql && text && self.charset.as_deref() == Some("utf8mb4") {
            return Shape::Utf8Text;
        }
        if engine == Engine::Postgres && self.charset.as_deref() == Some("UTF8") {
            return Shape::Utf8Text;
        }
        shape(engine, &self.declared)
    }
}

/// The columns of `table` (`name` or `schema.name`) in table order; empty when the table does
/// not exist.
///
/// # Errors
/// [`DataError::Sql`] when the catalogue cannot be read.
pub async fn columns(db: &Db, side: Side, table: &str) -> Result<Vec<ColumnInfo>, DataError> {
    let (schema, name) = match table.split_once('.') {
        Some((s, n)) => (Some(s.to_owned()), n.to_owned()),
        None => (None, table.to_owned()),
    };
    let (sql, params): (&str, Vec<Option<String>>) = match db {
        Db::Postgres(_) => (
            // A `text`/`varchar` column's "charset" is the database's encoding, when UTF8.
            "SELECT CAST(a.attname AS text), format_type(a.atttypid, a.atttypmod), \
             CASE WHEN a.atttypid IN ('text'::regtype, 'varchar'::regtype) \
             AND current_setting('server_encoding') = 'UTF8' THEN 'UTF8' END, \
             CASE WHEN a.attnotnull THEN '1' ELSE '0' END \
             FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 \
             AND NOT a.attisdropped ORDER BY a.attnum",
            vec![Some(db.dialect().table(table))],
        ),
        Db::MySql(_) => (
            "SELECT CAST(COLUMN_NAME AS CHAR), CAST(COLUMN_TYPE AS CHAR), CAST(CHARACTER_SET_NAME AS CHAR), \
             IF(IS_NULLABLE = 'NO', '1', '0') \
             FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            vec![schema, Some(name)],
        ),
        Db::Sqlite(_) => (
            "SELECT name, type, NULL, CAST(\"notnull\" AS TEXT) \
             FROM pragma_table_info(?1, COALESCE(?2, 'main')) ORDER BY cid",
            vec![Some(name), schema],
        ),
    };
    let rows = db
        .fetch_texts(sql, &params)
        .await
        .map_err(DataError::sql(side, format!("read the columns of {table}")))?;
    let engine = db.engine();
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let mut it = r.into_iter();
            let name = it.next().flatten()?;
            let declared = it.next().flatten().unwrap_or_default();
            let charset = it.next().flatten();
            let not_null = it.next().flatten().as_deref() == Some("1");
            let class = classify(engine, &declared);
            Some(ColumnInfo { name, declared, class, charset, not_null })
        })
        .collect())
}
