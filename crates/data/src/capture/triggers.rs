//! The source-side objects of change capture, per engine: the changelog table and the row
//! triggers that append the key of every inserted, updated or deleted row to it.
//!
//! Changelog `ficus_changelog` (in the schema of the domain's first source table):
//! `seq` (auto-increment, the order of changes), `domain`, `table_name` (the mapping's target
//! name, which is unique in a domain), `op` (`I`, `U`, `D`), `key_json` (the key as a JSON array
//! of transfer text, as the backfill reads keys) and `changed_us` (the source clock, Unix
//! microseconds). An update that changes the key logs the old key too, so the old row is
//! deleted in the target. Triggers carry no row values: the applier re-reads the row.
//! `TRUNCATE` fires no row trigger and is not captured.

use crate::db::Db;
use crate::dialect::Dialect;
use crate::resolve::ResolvedTable;
use ficus_model::mapping::Engine;
use md5::{Digest, Md5};

/// Where the changelog of a set of tables lives: quoted, in the schema of the first source
/// table (SQLite: the main schema, as triggers there cannot name another schema).
pub(crate) fn changelog_table(source: &Db, tables: &[ResolvedTable]) -> String {
    let d = source.dialect();
    let schema = tables.first().and_then(|t| schema_of(&t.source_name));
    match (source.engine(), schema) {
        (Engine::Sqlite, _) | (_, None) => d.quote("ficus_changelog"),
        (_, Some(s)) => format!("{}.{}", d.quote(s), d.quote("ficus_changelog")),
    }
}

fn schema_of(name: &str) -> Option<&str> {
    name.split_once('.').map(|(s, _)| s)
}

/// The stem of a table's trigger names: `ficus_cdc_` and 12 hex digits of the MD5 of the
/// capture label and the source table (short, stable, unique per label and table).
pub(crate) fn stem(label: &str, t: &ResolvedTable) -> String {
    let digest = Md5::digest(format!("{label}\0{}", t.source_name).as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("ficus_cdc_{hex}")
}

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `CREATE TABLE IF NOT EXISTS` for the changelog and its (domain, seq) index.
pub(crate) fn create_changelog(engine: Engine, changelog: &str) -> Vec<String> {
    match engine {
        Engine::MySql => vec![format!(
            "CREATE TABLE IF NOT EXISTS {changelog} (seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, \
             domain VARCHAR(64) NOT NULL, table_name VARCHAR(255) NOT NULL, op CHAR(1) NOT NULL, \
             key_json TEXT NOT NULL, changed_us BIGINT NOT NULL, KEY ficus_changelog_domain (domain, seq)) \
             ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
        )],
        Engine::Postgres => vec![
            format!(
                "CREATE TABLE IF NOT EXISTS {changelog} (seq bigserial PRIMARY KEY, \
                 domain varchar(64) NOT NULL, table_name varchar(255) NOT NULL, op char(1) NOT NULL, \
                 key_json text NOT NULL, changed_us bigint NOT NULL)"
            ),
            format!(
                "CREATE INDEX IF NOT EXISTS ficus_changelog_domain ON {changelog} (domain, seq)"
            ),
        ],
        Engine::Sqlite => vec![
            format!(
                "CREATE TABLE IF NOT EXISTS {changelog} (seq INTEGER PRIMARY KEY AUTOINCREMENT, \
                 domain TEXT NOT NULL, table_name TEXT NOT NULL, op TEXT NOT NULL, \
                 key_json TEXT NOT NULL, changed_us INTEGER NOT NULL)"
            ),
            format!(
                "CREATE INDEX IF NOT EXISTS ficus_changelog_domain ON {changelog} (domain, seq)"
            ),
        ],
    }
}

/// The key of `NEW` or `OLD` (`row`) as the JSON text the changelog stores.
fn key_json(d: &dyn Dialect, t: &ResolvedTable, row: &str) -> String {
    let items: Vec<String> = t
        .key
        .iter()
        .map(|k| d.transfer(t.columns[k.index].class, &format!("{row}.{}", k.source_expr)))
        .collect();
    d.json_text_array(&items)
}

/// `OLD` key equal to `NEW` key (NULL-safe).
fn same_key(d: &dyn Dialect, t: &ResolvedTable) -> String {
    let eq = match d.engine() {
        Engine::MySql => "<=>",
        Engine::Postgres => "IS NOT DISTINCT FROM",
        Engine::Sqlite => "IS",
    };
    let parts: Vec<String> =
        t.key.iter().map(|k| format!("OLD.{0} {eq} NEW.{0}", k.source_expr)).collect();
    format!("({})", parts.join(" AND "))
}

/// Statements that (re)install the triggers of one table (dropping earlier ones first).
pub(crate) fn install(source: &Db, changelog: &str, label: &str, t: &ResolvedTable) -> Vec<String> {
    let d = source.dialect();
    let stem = stem(label, t);
    let now = d.now_micros();
    let head = format!("INSERT INTO {changelog} (domain, table_name, op, key_json, changed_us)");
    let values = |op: &str, row: &str| {
        format!(
            "{head} VALUES ({}, {}, '{op}', {}, {now})",
            literal(label),
            literal(&t.name),
            key_json(d, t, row)
        )
    };
    let old_key_if_changed = format!(
        "{head} SELECT {}, {}, 'U', {}, {now}{} WHERE NOT {}",
        literal(label),
        literal(&t.name),
        key_json(d, t, "OLD"),
        if d.engine() == Engine::MySql { " FROM DUAL" } else { "" },
        same_key(d, t)
    );
    let mut out = remove(source, label, t);
    match source.engine() {
        Engine::MySql => {
            let name = |suffix: &str| trigger_name(source, t, &format!("{stem}_{suffix}"));
            let on = &t.source_table;
            out.push(format!(
                "CREATE TRIGGER {} AFTER INSERT ON {on} FOR EACH ROW {}",
                name("i"),
                values("I", "NEW")
            ));
            out.push(format!(
                "CREATE TRIGGER {} AFTER UPDATE ON {on} FOR EACH ROW {}",
                name("u"),
                values("U", "NEW")
            ));
            out.push(format!(
                "CREATE TRIGGER {} AFTER UPDATE ON {on} FOR EACH ROW {old_key_if_changed}",
                name("k")
            ));
            out.push(format!(
                "CREATE TRIGGER {} AFTER DELETE ON {on} FOR EACH ROW {}",
                name("d"),
                values("D", "OLD")
            ));
        }
        Engine::Postgres => {
            let func = trigger_name(source, t, &stem);
            out.push(format!(
                "CREATE OR REPLACE FUNCTION {func}() RETURNS trigger LANGUAGE plpgsql AS $ficus$\n\
                 BEGIN\n\
                 IF TG_OP = 'INSERT' THEN {};\n\
                 ELSIF TG_OP = 'UPDATE' THEN {};\n\
                 IF NOT {} THEN {}; END IF;\n\
                 ELSE {};\n\
                 END IF;\n\
                 RETURN NULL;\n\
                 END $ficus$",
                values("I", "NEW"),
                values("U", "NEW"),
                same_key(d, t),
                values("U", "OLD"),
                values("D", "OLD"),
            ));
            out.push(format!(
                "CREATE TRIGGER {} AFTER INSERT OR UPDATE OR DELETE ON {} FOR EACH ROW EXECUTE FUNCTION {func}()",
                d.quote(&stem),
                t.source_table
            ));
        }
        Engine::Sqlite => {
            let on = &t.source_table;
            let name = |suffix: &str| d.quote(&format!("{stem}_{suffix}"));
            out.push(format!(
                "CREATE TRIGGER {} AFTER INSERT ON {on} BEGIN {}; END",
                name("i"),
                values("I", "NEW")
            ));
            out.push(format!(
                "CREATE TRIGGER {} AFTER UPDATE ON {on} BEGIN {}; {old_key_if_changed}; END",
                name("u"),
                values("U", "NEW")
            ));
            out.push(format!(
                "CREATE TRIGGER {} AFTER DELETE ON {on} BEGIN {}; END",
                name("d"),
                values("D", "OLD")
            ));
        }
    }
    out
}

/// A trigger (MariaDB/MySQL) or function (PostgreSQL) name in the source table's schema.
fn trigger_name(source: &Db, t: &ResolvedTable, name: &str) -> String {
    let d = source.dialect();
    match schema_of(&t.source_name) {
        Some(s) if source.engine() != Engine::Sqlite => format!("{}.{}", d.quote(s), d.quote(name)),
        _ => d.quote(name),
    }
}

/// Statements that remove one table's triggers (and PostgreSQL function); each tolerates
/// their absence.
pub(crate) fn remove(source: &Db, label: &str, t: &ResolvedTable) -> Vec<String> {
    let d = source.dialect();
    let stem = stem(label, t);
    match source.engine() {
        Engine::MySql => ["i", "u", "k", "d"]
            .iter()
            .map(|s| {
                format!(
                    "DROP TRIGGER IF EXISTS {}",
                    trigger_name(source, t, &format!("{stem}_{s}"))
                )
            })
            .collect(),
        Engine::Postgres => vec![
            format!("DROP TRIGGER IF EXISTS {} ON {}", d.quote(&stem), t.source_table),
            format!("DROP FUNCTION IF EXISTS {}()", trigger_name(source, t, &stem)),
        ],
        Engine::Sqlite => ["i", "u", "d"]
            .iter()
            .map(|s| format!("DROP TRIGGER IF EXISTS {}", d.quote(&format!("{stem}_{s}"))))
            .collect(),
    }
}

/// A query counting this table's installed capture triggers (one text column), with its
/// parameters.
pub(crate) fn count_installed(
    source: &Db,
    label: &str,
    t: &ResolvedTable,
) -> (String, Vec<Option<String>>) {
    let like = format!("{}%", stem(label, t));
    match source.engine() {
        Engine::MySql => (
            "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.TRIGGERS \
             WHERE TRIGGER_SCHEMA = COALESCE(?, DATABASE()) AND TRIGGER_NAME LIKE ?"
                .to_owned(),
            vec![schema_of(&t.source_name).map(str::to_owned), Some(like)],
        ),
        Engine::Postgres => (
            "SELECT CAST(COUNT(*) AS text) FROM pg_trigger WHERE tgrelid = to_regclass($1) \
             AND tgname LIKE $2 AND NOT tgisinternal"
                .to_owned(),
            vec![Some(t.source_table.clone()), Some(like)],
        ),
        Engine::Sqlite => (
            "SELECT CAST(COUNT(*) AS TEXT) FROM sqlite_master WHERE type = 'trigger' AND name LIKE ?1"
                .to_owned(),
            vec![Some(like)],
        ),
    }
}
