//! Turns a plan's [`TableMapping`] into a [`ResolvedTable`] against the live schemas: every
//! target column with its source expression (in the source's dialect) and its value class
//! (from the target's declared type).

use crate::db::Db;
use crate::dialect::{CheckForm, check_form};
use crate::error::{DataError, Side};
use crate::introspect::{ColumnInfo, columns};
use crate::pgcopy::{Wire, wire};
use crate::types::{Class, Shape};
use ficus_model::mapping::{
    ColumnMapping, ColumnValue, Engine, RenameRule, TableMapping, Transform,
};

/// One target column of a resolved table.
#[derive(Debug, Clone)]
pub struct ResolvedColumn {
    /// Target column name.
    pub target: String,
    /// The value in the source's dialect (a quoted column, a transform over one, a constant or
    /// the mapping's SQL).
    pub source_expr: String,
    /// The value class, from the target column's declared type.
    pub class: Class,
    /// The source column and transform the value comes from; `None` for a constant or SQL.
    pub origin: Option<(String, Transform)>,
    /// How verify checksums this column ([`check_form`] of both declared types).
    pub check: CheckForm,
    /// The source column's [`Shape`] when the value is that column unchanged, else
    /// [`Shape::Other`].
    pub source_shape: Shape,
    /// The target column's [`Shape`].
    pub target_shape: Shape,
    /// The value is a source column unchanged that is declared `NOT NULL`.
    pub source_not_null: bool,
    /// The target column is declared `NOT NULL`.
    pub target_not_null: bool,
    /// This column is read as it is: the source (MariaDB/MySQL or PostgreSQL) sends it in a
    /// binary form the reader renders as its transfer text (`crate::db`'s MariaDB reader,
    /// `crate::pgread`), so the source's SQL converts nothing ([`reads_raw`]).
    pub source_raw: bool,
    /// How the backfill sends this column in PostgreSQL's binary `COPY` ([`crate::pgcopy::wire`]
    /// of its declared type); `None` for another engine or a type sent as text only.
    pub copy: Option<Wire>,
}

/// One key column.
#[derive(Debug, Clone)]
pub struct KeyColumn {
    /// Index into [`ResolvedTable::columns`].
    pub index: usize,
    /// The quoted source column.
    pub source_expr: String,
    /// Class of the source column (for comparisons on the source).
    pub source_class: Class,
}

/// A table mapping checked against both schemas.
#[derive(Debug, Clone)]
pub struct ResolvedTable {
    /// The target table as written in the plan (names checkpoints and reports).
    pub name: String,
    /// The source table as written in the plan (`name` or `schema.name`).
    pub source_name: String,
    /// Quoted source table.
    pub source_table: String,
    /// Quoted target table.
    pub target_table: String,
    /// Quoted checkpoint table in the target table's schema.
    pub checkpoint_table: String,
    /// Target columns in name order.
    pub columns: Vec<ResolvedColumn>,
    /// Key columns in key order.
    pub key: Vec<KeyColumn>,
    /// Index into `columns` of the version column.
    pub version: Option<usize>,
    /// Row filter in the source's dialect.
    pub filter: Option<String>,
}

impl ResolvedTable {
    /// Every target column's binary `COPY` encoding, in column order; `None` when a column has
    /// none (the table is then copied in text format).
    pub(crate) fn copy_wires(&self) -> Option<Vec<crate::pgcopy::Wire>> {
        self.columns.iter().map(|c| c.copy).collect()
    }

    /// The target key columns as (quoted name, class).
    pub fn target_key(&self, target: &Db) -> Vec<(String, Class)> {
        let d = target.dialect();
        self.key
            .iter()
            .map(|k| (d.quote(&self.columns[k.index].target), self.columns[k.index].class))
            .collect()
    }

    /// The source key columns as (expression, class).
    pub fn source_key(&self) -> Vec<(String, Class)> {
        self.key.iter().map(|k| (k.source_expr.clone(), k.source_class)).collect()
    }
}

/// Resolve every mapping of a domain.
///
/// # Errors
/// [`DataError::Mapping`] naming the table and what does not fit (a missing table, source
/// column or target column, an SQL expression without a version for the source's engine);
/// [`DataError::Sql`] when a catalogue cannot be read.
pub async fn resolve_tables(
    source: &Db,
    target: &Db,
    mappings: &[TableMapping],
) -> Result<Vec<ResolvedTable>, DataError> {
    let mut out = Vec::with_capacity(mappings.len());
    for m in mappings {
        let src_cols = columns(source, Side::Source, &m.source).await?;
        let tgt_cols = columns(target, Side::Target, &m.target).await?;
        out.push(resolve(source, target, m, &src_cols, &tgt_cols)?);
    }
    Ok(out)
}

/// Resolve every mapping of a domain in the reverse direction (new → legacy): `new` is read,
/// `legacy` written. Each table is resolved forward first, then inverted column by column with
/// [`Transform::inverse`]: key, version and every column copied from a source column come
/// back (renames undone, cents to money, the timestamp offset re-applied; casts and `trim` as
/// plain copies); constants and SQL columns have no inverse and are not written (the legacy
/// column keeps its value, or its default in a new row); the filter does not apply.
///
/// # Errors
/// As [`resolve_tables`], for either direction.
pub async fn resolve_reverse(
    legacy: &Db,
    new: &Db,
    mappings: &[TableMapping],
) -> Result<Vec<ResolvedTable>, DataError> {
    let forward = resolve_tables(legacy, new, mappings).await?;
    let inverted: Vec<TableMapping> =
        mappings.iter().zip(&forward).map(|(m, f)| invert(m, f)).collect();
    resolve_tables(new, legacy, &inverted).await
}

/// The mapping new → legacy of one forward-resolved table.
fn invert(m: &TableMapping, f: &ResolvedTable) -> TableMapping {
    let columns = f
        .columns
        .iter()
        .filter_map(|c| {
            let (source, transform) = c.origin.as_ref()?;
            Some(ColumnMapping {
                target: source.clone(),
                value: ColumnValue::Column {
                    from: c.target.clone(),
                    transform: transform.inverse(),
                },
            })
        })
        .collect();
    let origin_of = |i: usize| f.columns[i].target.clone();
    TableMapping {
        source: m.target.clone(),
        target: m.source.clone(),
        key: f.key.iter().map(|k| origin_of(k.index)).collect(),
        version: f.version.map(origin_of),
        filter: None,
        rename_all: RenameRule::None,
        copy_unlisted: false,
        exclude: Vec::new(),
        columns,
    }
}

fn find<'a>(cols: &'a [ColumnInfo], name: &str) -> Option<&'a ColumnInfo> {
    cols.iter()
        .find(|c| c.name == name)
        .or_else(|| cols.iter().find(|c| c.name.eq_ignore_ascii_case(name)))
}

/// A resolved target column `t` whose value is `source_expr`, with its checksum form;
/// `source_col` is the source column when the value is that column unchanged.
fn column(
    source: &Db,
    target: &Db,
    t: &ColumnInfo,
    source_expr: String,
    origin: Option<(String, Transform)>,
    source_col: Option<&ColumnInfo>,
) -> ResolvedColumn {
    let source_shape = source_col.map_or(Shape::Other, |s| s.shape(source.engine()));
    let target_shape = t.shape(target.engine());
    let plain = source_shape != Shape::Other;
    ResolvedColumn {
        target: t.name.clone(),
        source_expr,
        class: t.class,
        origin,
        check: check_form((source.engine(), source_shape), (target.engine(), target_shape), plain),
        source_shape,
        target_shape,
        source_not_null: plain && source_col.is_some_and(|s| s.not_null),
        target_not_null: t.not_null,
        source_raw: source_col
            .is_some_and(|s| reads_raw(source.engine(), s, source_shape, t.class)),
        copy: (target.engine() == Engine::Postgres).then(|| wire(&t.declared)).flatten(),
    }
}

/// Whether a source column `s` of `engine` and `shape`, unchanged, is read as it is into a
/// target column of `class`: an integer, a decimal with a declared scale, a timestamp without
/// zone, or UTF-8 text, each into a column of its own class; on MariaDB/MySQL not a `tinyint`
/// (sqlx cannot tell the sign of a `tinyint(1)`), and SQLite never. The binary protocols send
/// integers, timestamps (and PostgreSQL's numerics) as binary values, rendered by the readers
/// exactly as `CAST(… AS CHAR)`, `DATE_FORMAT` and `to_char` would; MariaDB's decimals and all
/// text as their text. Reading them raw saves MariaDB ≈ 0.4 s of CPU per million rows of the
/// bench's table (0.87–0.96 s against 0.49–0.53 s); PostgreSQL's `to_char` of a timestamp
/// alone costs ≈ 0.2 s per million.
fn reads_raw(engine: Engine, s: &ColumnInfo, shape: Shape, class: Class) -> bool {
    let tinyint = s.declared.trim().to_ascii_lowercase().starts_with("tinyint");
    if engine == Engine::Sqlite || (engine == Engine::MySql && tinyint) {
        return false;
    }
    matches!(
        (class, shape),
        (Class::Int, Shape::Int)
            | (Class::Decimal, Shape::Decimal { .. })
            | (Class::Timestamp, Shape::Timestamp { .. })
            | (Class::Text, Shape::Utf8Text)
    )
}

fn resolve(
    source: &Db,
    target: &Db,
    m: &TableMapping,
    src_cols: &[ColumnInfo],
    tgt_cols: &[ColumnInfo],
) -> Result<ResolvedTable, DataError> {
    let err = |msg: String| DataError::mapping(&m.target, msg);
    if src_cols.is_empty() {
        return Err(err(format!("source table {} not found (or has no columns)", m.source)));
    }
    if tgt_cols.is_empty() {
        return Err(err(format!("target table {} not found (or has no columns)", m.target)));
    }
    let sd = source.dialect();
    let src_col = |name: &str| {
        find(src_cols, name)
            .ok_or_else(|| err(format!("source column {name:?} not found in {}", m.source)))
    };
    let tgt_col = |name: &str| {
        find(tgt_cols, name)
            .ok_or_else(|| err(format!("target column {name:?} not found in {}", m.target)))
    };
    let mut cols: Vec<ResolvedColumn> = Vec::new();
    let mut used_sources: Vec<String> = Vec::new();
    for c in &m.columns {
        let t = tgt_col(&c.target)?;
        let mut origin = None;
        let mut plain_source = None;
        let expr = match &c.value {
            ColumnValue::Column { from, transform } => {
                let s = src_col(from)?;
                used_sources.push(s.name.clone());
                origin = Some((s.name.clone(), transform.clone()));
                if *transform == Transform::None {
                    plain_source = Some(s);
                }
                sd.transform(transform, &sd.quote(&s.name))
            }
            ColumnValue::Const(k) => sd.constant(k),
            ColumnValue::Sql(d) => d
                .for_engine(source.engine())
                .ok_or_else(|| {
                    err(format!(
                        "column {:?} has no sql for {}",
                        c.target,
                        source.engine().as_str()
                    ))
                })?
                .to_owned(),
        };
        cols.push(column(source, target, t, format!("({expr})"), origin, plain_source));
    }
    if m.copy_unlisted {
        for s in src_cols {
            if used_sources.contains(&s.name)
                || m.exclude.iter().any(|e| e.eq_ignore_ascii_case(&s.name))
            {
                continue;
            }
            let name = m.rename_all.apply(&s.name);
            if cols.iter().any(|c| c.target.eq_ignore_ascii_case(&name)) {
                continue;
            }
            let t = tgt_col(&name).map_err(|_| {
                err(format!("source column {:?} becomes {name:?}, which {} does not have; map it under columns or list it in exclude", s.name, m.target))
            })?;
            let origin = Some((s.name.clone(), Transform::None));
            cols.push(column(source, target, t, sd.quote(&s.name), origin, Some(s)));
        }
    }
    cols.sort_by(|a, b| a.target.cmp(&b.target));
    let mut key = Vec::with_capacity(m.key.len());
    for k in &m.key {
        let s = src_col(k)?;
        let target_name = m
            .plain_target_of(k)
            .ok_or_else(|| err(format!("key column {k:?} is not copied unchanged")))?;
        let index = cols
            .iter()
            .position(|c| c.target.eq_ignore_ascii_case(&target_name))
            .ok_or_else(|| err(format!("key column {k:?} has no target column {target_name:?}")))?;
        key.push(KeyColumn { index, source_expr: sd.quote(&s.name), source_class: s.class });
    }
    let version = match &m.version {
        None => None,
        Some(v) => {
            let s = src_col(v)?;
            let quoted = sd.quote(&s.name);
            let by_plain = m
                .plain_target_of(v)
                .and_then(|t| cols.iter().position(|c| c.target.eq_ignore_ascii_case(&t)));
            let by_explicit = m.columns.iter().find_map(|c| match &c.value {
                ColumnValue::Column { from, .. } if from.eq_ignore_ascii_case(v) => {
                    cols.iter().position(|rc| rc.target == c.target)
                }
                _ => None,
            });
            let i = by_plain
                .or(by_explicit)
                .ok_or_else(|| err(format!("version column {v:?} is not copied")))?;
            let _ = quoted;
            Some(i)
        }
    };
    let td = target.dialect();
    let checkpoint_table = match m.target.split_once('.') {
        Some((schema, _)) => format!("{}.{}", td.quote(schema), td.quote("ficus_checkpoint")),
        None => td.quote("ficus_checkpoint"),
    };
    Ok(ResolvedTable {
        name: m.target.clone(),
        source_name: m.source.clone(),
        source_table: sd.table(&m.source),
        target_table: td.table(&m.target),
        checkpoint_table,
        columns: cols,
        key,
        version,
        filter: m.filter.clone(),
    })
}
