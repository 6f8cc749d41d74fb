//! Checks a domain's `[domains.NAME.data]` section and its `[[domains.NAME.data.tables]]` into a
//! [`DataConfig`]: the source and target databases and the table mappings between them.
//!
//! ```toml
//! [domains.invoices.data]
//! source_env = "LEGACY_DATABASE_URL"   # or source = "mysql://root@127.0.0.1/legacy"
//! target_env = "NEW_DATABASE_URL"      # or target = "postgres://app@127.0.0.1/new"
//! chunk_rows = 1000                    # backfill rows per chunk and checkpoint
//! rate_rows_per_second = 5000          # optional
//! workers = 2                          # per table, disjoint key ranges
//! [domains.invoices.data.throttle]     # optional: pause chunks while the source is busy
//! probe = "threads_running"            # or "replication_lag" (PostgreSQL), or sql = "SELECT …"
//! max = 25                             # pause while the probe reads above this
//! check_interval = "1s"
//!
//! [[domains.invoices.data.tables]]
//! source = "Invoice"
//! target = "billing.invoices"
//! key = ["InvoiceId"]
//! rename_all = "snake_case"            # unlisted columns: InvoiceDate → invoice_date
//! version = "UpdatedAt"                # optional; a newer target row is never overwritten
//! filter = "Total > 0"                 # optional; SQL in the source's dialect
//! exclude = ["Secret"]
//! [domains.invoices.data.tables.columns]
//! id = "InvoiceId"                                         # rename
//! total_cents = { from = "Total", transform = "money_to_cents" }
//! issued_at = { from = "InvoiceDate", transform = "timestamp_utc", offset = "+02:00" }
//! price = { from = "Price", cast = "decimal(12,4)" }
//! region = { value = "eu" }
//! slug = { sql = { postgres = "lower(\"Name\")", mysql = "LOWER(`Name`)" } }
//! ```

use super::check::Checker;
use super::locate::Seg;
use crate::defaults;
use crate::mapping::{
    CastType, ColumnMapping, ColumnValue, Constant, DataConfig, DbUrl, DialectSql, Engine, Probe,
    RenameRule, TableMapping, Throttle, Transform,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawData {
    pub source: Option<String>,
    pub source_env: Option<String>,
    pub target: Option<String>,
    pub target_env: Option<String>,
    pub chunk_rows: Option<u64>,
    pub verify_chunk_rows: Option<u64>,
    pub rate_rows_per_second: Option<u64>,
    pub workers: Option<usize>,
    #[serde(default, with = "humantime_serde::option")]
    pub recheck_delay: Option<Duration>,
    pub throttle: Option<RawThrottle>,
    #[serde(default)]
    pub tables: Vec<RawTable>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawThrottle {
    /// `threads_running` (MariaDB/MySQL) or `replication_lag` (PostgreSQL); or `sql`.
    pub probe: Option<String>,
    pub sql: Option<String>,
    pub max: f64,
    #[serde(default, with = "humantime_serde::option")]
    pub check_interval: Option<Duration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTable {
    pub source: String,
    pub target: Option<String>,
    pub key: Vec<String>,
    pub version: Option<String>,
    pub filter: Option<String>,
    pub rename_all: Option<String>,
    pub copy_unlisted: Option<bool>,
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Target column → a source column name, or a table (`from`/`transform`/`cast`/`offset`,
    /// `value`, or `sql`). Checked by hand so each mistake names its key.
    #[serde(default)]
    pub columns: BTreeMap<String, toml::Value>,
}

pub(super) fn check(c: &mut Checker<'_>, domain: &str, raw: RawData) -> DataConfig {
    use Seg::{Index, Key};
    let at = |k: &'static str| [Key("domains"), Key(domain), Key("data"), Key(k)];
    let source = url(c, &at("source"), raw.source, raw.source_env, "source");
    let target = url(c, &at("target"), raw.target, raw.target_env, "target");
    let mut positive = |k, v: Option<u64>, d: u64| {
        let v = v.unwrap_or(d);
        if v == 0 {
            c.issue(&at(k), "must be at least 1");
        }
        v
    };
    let chunk_rows = positive("chunk_rows", raw.chunk_rows, defaults::BACKFILL_CHUNK_ROWS);
    let verify_chunk_rows =
        positive("verify_chunk_rows", raw.verify_chunk_rows, defaults::VERIFY_CHUNK_ROWS);
    if raw.rate_rows_per_second == Some(0) {
        c.issue(&at("rate_rows_per_second"), "must be at least 1; leave it out for no limit");
    }
    let workers = raw.workers.unwrap_or(1);
    if !(1..=64).contains(&workers) {
        c.issue(&at("workers"), "must be from 1 to 64");
    }
    if raw.tables.is_empty() {
        c.issue(
            &at("tables"),
            "a data section needs at least one table, e.g. [[domains.NAME.data.tables]] source = \"Invoice\", key = [\"InvoiceId\"]",
        );
    }
    let mut tables = Vec::with_capacity(raw.tables.len());
    for (i, t) in raw.tables.into_iter().enumerate() {
        let path = [Key("domains"), Key(domain), Key("data"), Key("tables"), Index(i)];
        tables.push(table(c, &path, t));
    }
    for (i, t) in tables.iter().enumerate() {
        if tables[..i].iter().any(|o| o.target == t.target) {
            let path = [Key("domains"), Key(domain), Key("data"), Key("tables"), Index(i)];
            c.issue(&path, format!("target table {:?} is mapped twice", t.target));
        }
    }
    let throttle = raw.throttle.map(|t| {
        let p = [Key("domains"), Key(domain), Key("data"), Key("throttle"), Key("probe")];
        let probe = match (t.probe.as_deref(), t.sql) {
            (Some("threads_running"), None) => Probe::ThreadsRunning,
            (Some("replication_lag"), None) => Probe::ReplicationLag,
            (None, Some(sql)) => Probe::Sql(sql),
            (Some(other), None) => {
                c.issue(&p, format!("probe {other:?} is not known; expected threads_running or replication_lag (or sql = \"…\")"));
                Probe::ThreadsRunning
            }
            (Some(_), Some(_)) => {
                c.issue(&p, "set either probe or sql, not both");
                Probe::ThreadsRunning
            }
            (None, None) => {
                c.issue(&p, "a throttle needs probe = \"threads_running\" | \"replication_lag\" or sql = \"SELECT …\"");
                Probe::ThreadsRunning
            }
        };
        if !(t.max.is_finite() && t.max >= 0.0) {
            c.issue(&[Key("domains"), Key(domain), Key("data"), Key("throttle"), Key("max")], "must be a number of at least 0");
        }
        Throttle {
            probe,
            max: t.max,
            check_interval: t.check_interval.unwrap_or(crate::mapping::DEFAULT_THROTTLE_CHECK_INTERVAL),
        }
    });
    DataConfig {
        throttle,
        source,
        target,
        chunk_rows,
        verify_chunk_rows,
        rate_rows_per_second: raw.rate_rows_per_second.filter(|r| *r > 0),
        workers: workers.clamp(1, 64),
        recheck_delay: raw.recheck_delay.unwrap_or(defaults::VERIFY_RECHECK_DELAY),
        tables,
    }
}

fn url(
    c: &mut Checker<'_>,
    path: &[Seg<'_>],
    literal: Option<String>,
    env: Option<String>,
    side: &str,
) -> DbUrl {
    match (literal, env) {
        (Some(_), Some(_)) => {
            c.issue(path, format!("set either {side} or {side}_env, not both"));
            DbUrl::Env(String::new())
        }
        (Some(u), None) => {
            if Engine::of_url(&u).is_none() {
                c.issue(
                    path,
                    "not a database URL; expected postgres://…, mysql://…, mariadb://… or sqlite:…",
                );
            }
            DbUrl::Literal(u)
        }
        (None, Some(e)) if e.trim().is_empty() => {
            c.issue(path, format!("{side}_env must name an environment variable"));
            DbUrl::Env(e)
        }
        (None, Some(e)) => DbUrl::Env(e),
        (None, None) => {
            c.issue(
                path,
                format!("set {side} (a database URL) or {side}_env (the variable holding it)"),
            );
            DbUrl::Env(String::new())
        }
    }
}

fn valid_table_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() <= 2 && parts.iter().all(|p| valid_ident(p))
}

/// Identifiers are quoted in generated SQL; still, refuse quotes and control characters so a
/// name can never close its quoting.
fn valid_ident(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && !name.chars().any(|ch| ch.is_control() || matches!(ch, '"' | '`' | '.' | '\\'))
}

fn table(c: &mut Checker<'_>, path: &[Seg<'_>], raw: RawTable) -> TableMapping {
    let sub = |k: &'static str| {
        let mut p = path.to_vec();
        p.push(Seg::Key(k));
        p
    };
    if !valid_table_name(&raw.source) {
        c.issue(
            &sub("source"),
            format!("{:?} is not a table name; expected name or schema.name", raw.source),
        );
    }
    let target = raw.target.unwrap_or_else(|| raw.source.clone());
    if !valid_table_name(&target) {
        c.issue(
            &sub("target"),
            format!("{target:?} is not a table name; expected name or schema.name"),
        );
    }
    if raw.key.is_empty() {
        c.issue(&sub("key"), "name at least one key column, e.g. key = [\"InvoiceId\"]");
    }
    for (i, k) in raw.key.iter().enumerate() {
        if !valid_ident(k) || raw.key[..i].contains(k) {
            let mut p = sub("key");
            p.push(Seg::Index(i));
            c.issue(&p, format!("{k:?} is not a valid key column or is listed twice"));
        }
    }
    let rename_all = match raw.rename_all.as_deref() {
        None | Some("none") => RenameRule::None,
        Some("snake_case") => RenameRule::SnakeCase,
        Some("lowercase") => RenameRule::Lowercase,
        Some(other) => {
            c.issue(
                &sub("rename_all"),
                format!(
                    "{other:?} is not valid; expected \"none\", \"snake_case\" or \"lowercase\""
                ),
            );
            RenameRule::None
        }
    };
    let mut columns = Vec::with_capacity(raw.columns.len());
    for (name, value) in &raw.columns {
        let mut p = sub("columns");
        p.push(Seg::Key(name));
        if !valid_ident(name) {
            c.issue(&p, format!("{name:?} is not a valid column name"));
        }
        if let Some(v) = column(c, &p, value) {
            columns.push(ColumnMapping { target: name.clone(), value: v });
        }
    }
    let mapping = TableMapping {
        source: raw.source,
        target,
        key: raw.key,
        version: raw.version,
        filter: raw.filter.filter(|f| !f.trim().is_empty()),
        rename_all,
        copy_unlisted: raw.copy_unlisted.unwrap_or(true),
        exclude: raw.exclude,
        columns,
    };
    for (i, k) in mapping.key.iter().enumerate() {
        if mapping.plain_target_of(k).is_none() {
            let mut p = sub("key");
            p.push(Seg::Index(i));
            c.issue(
                &p,
                format!("key column {k:?} must reach the target unchanged (a plain copy or rename, no transform, not excluded)"),
            );
        }
    }
    if let Some(v) = &mapping.version
        && !mapping
            .columns
            .iter()
            .any(|cm| matches!(&cm.value, ColumnValue::Column { from, .. } if from == v))
        && mapping.plain_target_of(v).is_none()
    {
        c.issue(&sub("version"), format!("version column {v:?} is not copied to the target"));
    }
    mapping
}

fn column(c: &mut Checker<'_>, p: &[Seg<'_>], value: &toml::Value) -> Option<ColumnValue> {
    let t = match value {
        toml::Value::String(from) => {
            return Some(ColumnValue::Column { from: from.clone(), transform: Transform::None });
        }
        toml::Value::Table(t) => t,
        _ => {
            c.issue(p, "expected a source column name or a table such as { from = \"Total\", transform = \"money_to_cents\" }");
            return None;
        }
    };
    const KEYS: [&str; 6] = ["from", "transform", "cast", "offset", "value", "sql"];
    if let Some(k) = t.keys().find(|k| !KEYS.contains(&k.as_str())) {
        c.issue(p, format!("unknown key {k:?}; expected some of {}", KEYS.join(", ")));
        return None;
    }
    let text = |k: &str| t.get(k).and_then(toml::Value::as_str);
    let kinds = ["from", "value", "sql"].iter().filter(|k| t.contains_key(**k)).count();
    if kinds != 1 {
        c.issue(p, "set exactly one of from (a source column), value (a constant) or sql (an expression per dialect)");
        return None;
    }
    if let Some(v) = t.get("value") {
        let constant = match v {
            toml::Value::String(s) => Constant::Text(s.clone()),
            toml::Value::Integer(i) => Constant::Int(*i),
            toml::Value::Float(f) => Constant::Float(*f),
            toml::Value::Boolean(b) => Constant::Bool(*b),
            _ => {
                c.issue(p, "value must be a string, integer, float or boolean");
                return None;
            }
        };
        return Some(ColumnValue::Const(constant));
    }
    if let Some(sql) = t.get("sql") {
        let Some(s) = sql.as_table() else {
            c.issue(
                p,
                "sql must be a table such as { postgres = \"…\", mysql = \"…\", sqlite = \"…\" }",
            );
            return None;
        };
        let mut d = DialectSql::default();
        for (k, v) in s {
            let Some(v) = v.as_str().map(str::to_owned) else {
                c.issue(p, format!("sql.{k} must be a string"));
                continue;
            };
            match k.as_str() {
                "postgres" => d.postgres = Some(v),
                "mysql" => d.mysql = Some(v),
                "sqlite" => d.sqlite = Some(v),
                _ => c.issue(
                    p,
                    format!("sql.{k} is not an engine; expected postgres, mysql or sqlite"),
                ),
            }
        }
        return Some(ColumnValue::Sql(d));
    }
    let Some(from) = text("from") else {
        c.issue(p, "from must be a source column name");
        return None;
    };
    let transform = match (text("transform"), text("cast")) {
        (Some(_), Some(_)) => {
            c.issue(p, "set either transform or cast, not both");
            Transform::None
        }
        (None, Some(cast)) => match cast.parse::<CastType>() {
            Ok(ct) => Transform::Cast(ct),
            Err(e) => {
                c.issue(p, e);
                Transform::None
            }
        },
        (None, None) => Transform::None,
        (Some("money_to_cents"), None) => Transform::MoneyToCents,
        (Some("cents_to_money"), None) => Transform::CentsToMoney,
        (Some("trim"), None) => Transform::Trim,
        (Some("timestamp_utc"), None) => {
            let offset = text("offset").unwrap_or("+00:00");
            match parse_offset(offset) {
                Some(offset_minutes) => Transform::TimestampUtc { offset_minutes },
                None => {
                    c.issue(
                        p,
                        format!(
                            "offset {offset:?} is not valid; expected ±HH:MM such as \"+02:00\""
                        ),
                    );
                    Transform::None
                }
            }
        }
        (Some(other), None) => {
            c.issue(
                p,
                format!("transform {other:?} is not known; expected money_to_cents, cents_to_money, timestamp_utc or trim (or cast = \"…\")"),
            );
            Transform::None
        }
    };
    if t.contains_key("offset") && !matches!(transform, Transform::TimestampUtc { .. }) {
        c.issue(p, "offset only applies to transform = \"timestamp_utc\"");
    }
    Some(ColumnValue::Column { from: from.to_owned(), transform })
}

/// `+02:00` → 120, `-05:30` → -330.
fn parse_offset(s: &str) -> Option<i32> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if h > 14 || m > 59 || h < 0 || m < 0 {
        return None;
    }
    Some(sign * (h * 60 + m))
}

#[cfg(test)]
mod tests {
    use crate::Plan;
    use crate::mapping::{CastType, ColumnValue, Constant, DbUrl, RenameRule, Transform};
    use std::path::Path;

    const HEAD: &str = "[upstreams]\nlegacy = { url = \"http://127.0.0.1:1\" }\nnew = { url = \"http://127.0.0.1:2\" }\n[domains.d]\nroutes = [{ path = \"/x\" }]\n";

    fn parse(data: &str) -> Result<Plan, String> {
        Plan::parse(&format!("{HEAD}{data}"), "p.toml", Path::new(".")).map_err(|e| e.to_string())
    }

    #[test]
    fn a_throttle_is_checked_and_its_mistakes_name_the_key() {
        let table = "[[domains.d.data.tables]]\nsource = \"t\"\nkey = [\"id\"]\n";
        let head = "[domains.d.data]\nsource = \"mysql://x/y\"\ntarget = \"postgres://x/y\"\n";
        let plan = parse(&format!(
            "{head}[domains.d.data.throttle]\nprobe = \"threads_running\"\nmax = 25\ncheck_interval = \"500ms\"\n{table}"
        ))
        .unwrap();
        let t = plan.domain("d").unwrap().data.clone().unwrap().throttle.unwrap();
        assert_eq!(t.probe, crate::mapping::Probe::ThreadsRunning);
        assert_eq!((t.max, t.check_interval), (25.0, std::time::Duration::from_millis(500)));
        let plan = parse(&format!(
            "{head}[domains.d.data.throttle]\nsql = \"SELECT 1\"\nmax = 0.5\n{table}"
        ))
        .unwrap();
        let t = plan.domain("d").unwrap().data.clone().unwrap().throttle.unwrap();
        assert_eq!(t.probe, crate::mapping::Probe::Sql("SELECT 1".into()));
        assert_eq!(t.check_interval, crate::mapping::DEFAULT_THROTTLE_CHECK_INTERVAL);
        let err =
            parse(&format!("{head}[domains.d.data.throttle]\nprobe = \"load\"\nmax = 1\n{table}"))
                .unwrap_err();
        assert!(err.contains("domains.d.data.throttle.probe") && err.contains("\"load\""), "{err}");
        let err = parse(&format!("{head}[domains.d.data.throttle]\nmax = 1\n{table}")).unwrap_err();
        assert!(err.contains("a throttle needs probe"), "{err}");
    }

    #[test]
    fn transforms_invert_for_the_reverse_direction() {
        assert_eq!(Transform::MoneyToCents.inverse(), Transform::CentsToMoney);
        assert_eq!(Transform::CentsToMoney.inverse(), Transform::MoneyToCents);
        assert_eq!(
            Transform::TimestampUtc { offset_minutes: 120 }.inverse(),
            Transform::TimestampUtc { offset_minutes: -120 }
        );
        assert_eq!(Transform::Trim.inverse(), Transform::None);
        assert_eq!(Transform::Cast(CastType::Integer).inverse(), Transform::None);
    }

    #[test]
    fn offsets() {
        assert_eq!(super::parse_offset("+02:00"), Some(120));
        assert_eq!(super::parse_offset("-05:30"), Some(-330));
        assert_eq!(super::parse_offset("02:00"), None);
        assert_eq!(super::parse_offset("+15:00"), None);
    }

    #[test]
    fn a_full_data_section_is_checked_into_the_model() {
        let plan = parse(
            "[domains.d.data]\nsource_env = \"LEGACY_DB\"\ntarget = \"postgres://app@db/new\"\nchunk_rows = 100\nworkers = 2\nrate_rows_per_second = 500\n\
             [[domains.d.data.tables]]\nsource = \"Invoice\"\ntarget = \"billing.invoices\"\nkey = [\"InvoiceId\"]\nrename_all = \"snake_case\"\nversion = \"UpdatedAt\"\nfilter = \"Total > 0\"\n\
             [domains.d.data.tables.columns]\nid = \"InvoiceId\"\ntotal_cents = { from = \"Total\", transform = \"money_to_cents\" }\n\
             issued_at = { from = \"InvoiceDate\", transform = \"timestamp_utc\", offset = \"+02:00\" }\nprice = { from = \"Price\", cast = \"decimal(12,4)\" }\n\
             region = { value = \"eu\" }\nslug = { sql = { postgres = \"lower(x)\", mysql = \"LOWER(x)\" } }\n",
        )
        .unwrap();
        let data = plan.domain("d").unwrap().data.clone().unwrap();
        assert_eq!(data.source, DbUrl::Env("LEGACY_DB".into()));
        assert_eq!((data.chunk_rows, data.workers, data.rate_rows_per_second), (100, 2, Some(500)));
        let t = &data.tables[0];
        assert_eq!(
            (t.rename_all, t.key.clone()),
            (RenameRule::SnakeCase, vec!["InvoiceId".to_owned()])
        );
        assert_eq!(t.plain_target_of("InvoiceId").as_deref(), Some("id"));
        assert_eq!(t.plain_target_of("UpdatedAt").as_deref(), Some("updated_at"));
        let by = |n: &str| t.columns.iter().find(|c| c.target == n).unwrap().value.clone();
        assert_eq!(
            by("total_cents"),
            ColumnValue::Column { from: "Total".into(), transform: Transform::MoneyToCents }
        );
        assert_eq!(
            by("issued_at"),
            ColumnValue::Column {
                from: "InvoiceDate".into(),
                transform: Transform::TimestampUtc { offset_minutes: 120 }
            }
        );
        assert_eq!(
            by("price"),
            ColumnValue::Column {
                from: "Price".into(),
                transform: Transform::Cast(CastType::Decimal { precision: 12, scale: 4 })
            }
        );
        assert_eq!(by("region"), ColumnValue::Const(Constant::Text("eu".into())));
        assert!(
            matches!(by("slug"), ColumnValue::Sql(d) if d.postgres.as_deref() == Some("lower(x)"))
        );
    }

    #[test]
    fn mistakes_name_their_key_and_line() {
        let e = parse(
            "[domains.d.data]\nsource = \"oracle://x\"\nsource_env = \"X\"\n\
             [[domains.d.data.tables]]\nsource = \"T\"\nkey = [\"Id\"]\n\
             [domains.d.data.tables.columns]\nId = { from = \"Id\", transform = \"upper\" }\n",
        )
        .unwrap_err();
        assert!(
            e.contains(
                "p.toml:7: `domains.d.data.source`: set either source or source_env, not both"
            ),
            "{e}"
        );
        assert!(
            e.contains("`domains.d.data.tables[0].columns.Id`: transform \"upper\" is not known"),
            "{e}"
        );
        let e = parse(
            "[domains.d.data]\nsource = \"sqlite:a\"\ntarget = \"sqlite:b\"\n\
             [[domains.d.data.tables]]\nsource = \"T\"\nkey = [\"Id\"]\n\
             [domains.d.data.tables.columns]\nId = { from = \"Id\", transform = \"trim\" }\n",
        )
        .unwrap_err();
        assert!(e.contains("`domains.d.data.tables[0].key[0]`: key column \"Id\" must reach the target unchanged"), "{e}");
        let e = parse("[domains.d.data]\ntarget = \"postgres://x\"\n").unwrap_err();
        assert!(e.contains("set source (a database URL) or source_env"), "{e}");
        assert!(e.contains("needs at least one table"), "{e}");
        let e =
            parse("[domains.d.data]\nsource = \"sqlite:a\"\ntarget = \"sqlite:b\"\nbogus = 1\n")
                .unwrap_err();
        assert!(e.contains("unknown field `bogus`"), "{e}");
    }
}
