//! Table mappings of a domain's data section: which database each side is, and how each source
//! table becomes a target table (key, renames, transforms, filter, version). Pure values; the
//! `ficus-data` crate turns them into SQL per engine.

use std::time::Duration;

/// The data section of a domain: the two databases and the tables copied between them.
#[derive(Debug, Clone, PartialEq)]
pub struct DataConfig {
    /// The legacy database rows are copied from.
    pub source: DbUrl,
    /// The new database rows are copied into (also holds the `ficus_checkpoint` table).
    pub target: DbUrl,
    /// Rows per backfill chunk (one read, one write transaction, one checkpoint).
    pub chunk_rows: u64,
    /// Rows per verify chunk (one checksum per side).
    pub verify_chunk_rows: u64,
    /// Backfill rate limit in rows per second across all workers; `None` for no limit.
    pub rate_rows_per_second: Option<u64>,
    /// Backfill workers per table, each on a disjoint key range.
    pub workers: usize,
    /// How long verify waits before re-checking suspect rows, so replication or capture lag is
    /// not reported as drift.
    pub recheck_delay: Duration,
    /// Adaptive throttling of the backfill on source load; `None` for none.
    pub throttle: Option<Throttle>,
    /// Tables in plan order.
    pub tables: Vec<TableMapping>,
}

/// How often the backfill throttle reads its probe by default (and waits between reads while
/// paused).
pub const DEFAULT_THROTTLE_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Adaptive throttling: before each chunk the backfill reads `probe` on the source (at most
/// every `check_interval`) and waits while it reads above `max`.
#[derive(Debug, Clone, PartialEq)]
pub struct Throttle {
    pub probe: Probe,
    /// Pause while the probe reads above this value (threads, seconds, or the query's unit).
    pub max: f64,
    /// How often the probe is read, and how long a paused chunk waits before reading it again.
    pub check_interval: Duration,
}

/// What the throttle measures on the source.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// MariaDB/MySQL `Threads_running` (threads executing a statement right now).
    ThreadsRunning,
    /// PostgreSQL replication lag in seconds: the largest `replay_lag` in `pg_stat_replication`
    /// (0 without replicas).
    ReplicationLag,
    /// A query in the source's dialect returning one number.
    Sql(String),
}

/// Where a database URL comes from. Resolved when a data command runs, never by `validate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbUrl {
    /// Written in the plan, e.g. `postgres://app@db/new` or `sqlite:legacy.db`.
    Literal(String),
    /// Read from this environment variable.
    Env(String),
}

/// The database engine a URL names, from its scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// `sqlite:`
    Sqlite,
    /// `postgres://` or `postgresql://`
    Postgres,
    /// `mysql://` or `mariadb://` (MariaDB and MySQL speak the same protocol)
    MySql,
}

impl Engine {
    /// The engine of a database URL, from its scheme; `None` for an unknown scheme.
    pub fn of_url(url: &str) -> Option<Engine> {
        let scheme = url.split(':').next()?;
        match scheme {
            "sqlite" => Some(Engine::Sqlite),
            "postgres" | "postgresql" => Some(Engine::Postgres),
            "mysql" | "mariadb" => Some(Engine::MySql),
            _ => None,
        }
    }

    /// Lower-case name used in plans and messages: `sqlite`, `postgres`, `mysql`.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
            Engine::MySql => "mysql",
        }
    }
}

/// One source table copied into one target table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableMapping {
    /// Source table, `name` or `schema.name`.
    pub source: String,
    /// Target table, `name` or `schema.name`.
    pub target: String,
    /// Source key columns, in key order (one or several, any orderable type). They must be
    /// unique in the source and map to target columns without a transform, so both sides order
    /// rows the same way.
    pub key: Vec<String>,
    /// Source column whose value decides conflicts: a target row whose mapped version is newer
    /// than the incoming one is never overwritten.
    pub version: Option<String>,
    /// A row filter: an SQL predicate in the source's dialect (`"Total > 0"`).
    pub filter: Option<String>,
    /// How source column names become target names when no column entry says otherwise.
    pub rename_all: RenameRule,
    /// Copy source columns that have no explicit entry (renamed by `rename_all`).
    pub copy_unlisted: bool,
    /// Source columns never copied.
    pub exclude: Vec<String>,
    /// Explicit target columns, in plan order.
    pub columns: Vec<ColumnMapping>,
}

impl TableMapping {
    /// The target column a source column lands in: an explicit plain entry (`from`, no
    /// transform) wins, else `rename_all` applied, unless the column is excluded or unlisted
    /// columns are not copied. Used for key and version columns.
    pub fn plain_target_of(&self, source_column: &str) -> Option<String> {
        for c in &self.columns {
            if let ColumnValue::Column { from, transform: Transform::None } = &c.value
                && from == source_column
            {
                return Some(c.target.clone());
            }
        }
        let taken = self.columns.iter().any(|c| match &c.value {
            ColumnValue::Column { from, .. } => from == source_column,
            _ => false,
        });
        if taken || !self.copy_unlisted || self.exclude.iter().any(|e| e == source_column) {
            return None;
        }
        Some(self.rename_all.apply(source_column))
    }
}

/// How an unlisted source column's name becomes the target column's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RenameRule {
    /// Same name.
    #[default]
    None,
    /// `InvoiceLineId` → `invoice_line_id`, `BillingPostalCode` → `billing_postal_code`.
    SnakeCase,
    /// `InvoiceId` → `invoiceid`.
    Lowercase,
}

impl RenameRule {
    /// Apply the rule to one column name.
    pub fn apply(self, name: &str) -> String {
        match self {
            RenameRule::None => name.to_owned(),
            RenameRule::Lowercase => name.to_lowercase(),
            RenameRule::SnakeCase => snake_case(name),
        }
    }
}

/// `InvoiceLineId` → `invoice_line_id`; `HTTPCode` → `http_code`; `already_snake` unchanged.
fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &ch) in chars.iter().enumerate() {
        if ch.is_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None => false,
                Some('_') => false,
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) => p.is_uppercase() && next.is_some_and(char::is_lowercase),
            };
            if boundary {
                out.push('_');
            }
            out.extend(ch.to_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// One target column and where its value comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMapping {
    pub target: String,
    pub value: ColumnValue,
}

/// Where a target column's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValue {
    /// A source column, possibly transformed.
    Column { from: String, transform: Transform },
    /// A constant (the same in every row).
    Const(Constant),
    /// An SQL expression over the source row, written per source dialect; the one for the
    /// source's engine is used and a missing one is an error when the command runs.
    Sql(DialectSql),
}

/// An SQL expression written once per dialect.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DialectSql {
    pub sqlite: Option<String>,
    pub postgres: Option<String>,
    pub mysql: Option<String>,
}

impl DialectSql {
    /// The expression for one engine.
    pub fn for_engine(&self, engine: Engine) -> Option<&str> {
        match engine {
            Engine::Sqlite => self.sqlite.as_deref(),
            Engine::Postgres => self.postgres.as_deref(),
            Engine::MySql => self.mysql.as_deref(),
        }
    }
}

/// A constant column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Constant {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

/// A transform applied to a source column on the way to the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transform {
    /// The value as it is (a rename at most).
    None,
    /// A cast to a portable type.
    Cast(CastType),
    /// A decimal amount of money to integer cents: `round(v * 100)`.
    MoneyToCents,
    /// Integer cents to a decimal amount of money: `v / 100` (the inverse of `MoneyToCents`).
    CentsToMoney,
    /// A timestamp written in local time at a fixed UTC offset, to UTC: `v - offset`.
    /// Offset 0 for a value already in UTC (or a zone-aware value, which every engine reads
    /// in UTC).
    TimestampUtc { offset_minutes: i32 },
    /// Leading and trailing spaces removed.
    Trim,
}

impl Transform {
    /// The transform that takes a target value back to its source column, for the reverse
    /// direction (new → legacy). Exact for a rename, money ↔ cents and a fixed-offset
    /// timestamp; a cast becomes a plain copy (the destination column's type decides how the
    /// value is written); `trim` becomes a plain copy too, so the spaces it removed are not
    /// restored.
    pub fn inverse(&self) -> Transform {
        match self {
            Transform::None | Transform::Cast(_) | Transform::Trim => Transform::None,
            Transform::MoneyToCents => Transform::CentsToMoney,
            Transform::CentsToMoney => Transform::MoneyToCents,
            Transform::TimestampUtc { offset_minutes } => {
                Transform::TimestampUtc { offset_minutes: -offset_minutes }
            }
        }
    }
}

/// Portable cast targets, rendered per dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CastType {
    /// A 64-bit signed integer.
    Integer,
    /// An exact decimal with `precision` digits, `scale` of them after the point.
    Decimal { precision: u8, scale: u8 },
    /// A double-precision float.
    Float,
    /// Text.
    Text,
    /// A timestamp without zone (UTC by convention).
    Timestamp,
    /// A calendar date.
    Date,
    /// A boolean.
    Boolean,
}

impl std::str::FromStr for CastType {
    type Err = String;

    /// `integer`, `bigint`, `int`, `decimal(P,S)`, `numeric(P,S)`, `float`, `double`, `text`,
    /// `timestamp`, `date`, `boolean`/`bool`.
    fn from_str(s: &str) -> Result<CastType, String> {
        let t = s.trim().to_ascii_lowercase();
        let simple = match t.as_str() {
            "integer" | "int" | "bigint" => Some(CastType::Integer),
            "float" | "double" | "real" => Some(CastType::Float),
            "text" | "string" => Some(CastType::Text),
            "timestamp" | "datetime" => Some(CastType::Timestamp),
            "date" => Some(CastType::Date),
            "boolean" | "bool" => Some(CastType::Boolean),
            _ => None,
        };
        if let Some(c) = simple {
            return Ok(c);
        }
        let args = t
            .strip_prefix("decimal(")
            .or_else(|| t.strip_prefix("numeric("))
            .and_then(|r| r.strip_suffix(')'));
        let bad = || {
            format!(
                "{s:?} is not a cast type; expected integer, decimal(P,S), float, text, timestamp, date or boolean"
            )
        };
        let args = args.ok_or_else(bad)?;
        let (p, sc) = args.split_once(',').ok_or_else(bad)?;
        let precision: u8 = p.trim().parse().map_err(|_| bad())?;
        let scale: u8 = sc.trim().parse().map_err(|_| bad())?;
        if precision == 0 || precision > 65 || scale > precision || scale > 30 {
            return Err(format!(
                "{s:?}: precision must be 1-65 and scale 0-30, no larger than the precision"
            ));
        }
        Ok(CastType::Decimal { precision, scale })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_of_chinook_names() {
        let r = RenameRule::SnakeCase;
        assert_eq!(r.apply("InvoiceLineId"), "invoice_line_id");
        assert_eq!(r.apply("BillingPostalCode"), "billing_postal_code");
        assert_eq!(r.apply("HTTPCode"), "http_code");
        assert_eq!(r.apply("already_snake"), "already_snake");
        assert_eq!(r.apply("Address2"), "address2");
        assert_eq!(r.apply("SupportRepId"), "support_rep_id");
    }

    #[test]
    fn cast_types_parse() {
        assert_eq!("decimal(10, 2)".parse(), Ok(CastType::Decimal { precision: 10, scale: 2 }));
        assert_eq!("BIGINT".parse(), Ok(CastType::Integer));
        assert!("decimal(2,3)".parse::<CastType>().is_err());
        assert!("varchar".parse::<CastType>().is_err());
    }

    #[test]
    fn engines_from_urls() {
        assert_eq!(Engine::of_url("postgresql://x/y"), Some(Engine::Postgres));
        assert_eq!(Engine::of_url("mariadb://x/y"), Some(Engine::MySql));
        assert_eq!(Engine::of_url("sqlite:a.db"), Some(Engine::Sqlite));
        assert_eq!(Engine::of_url("oracle://x"), None);
    }
}
