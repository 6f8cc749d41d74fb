//! One side of a comparison: which table, how its key and columns read, and the three queries
//! verify runs on it (chunk checksum, rows of a range, key at an offset).
//!
//! The checksum is reladiff's (and data-diff's before it): per chunk, `COUNT(*)` and the sum of
//! a 60-bit slice (the last 15 hex digits) of the MD5 of each row's canonical text, computed by
//! the database. Equal data gives equal sums on every engine because the canonical text is
//! (see [`crate::dialect`]). SQLite has no MD5: its canonical rows are fetched and hashed here.

use crate::db::{Db, TextRow};
use crate::dialect::canon_row;
use crate::error::{DataError, Side};
use crate::keyset::{KeyRange, Query, aliased, order_by};
use crate::resolve::ResolvedTable;
use crate::types::Class;
use md5::{Digest, Md5};

/// A table on one side.
pub(crate) struct View<'a> {
    pub db: &'a Db,
    pub side: Side,
    pub name: String,
    table: String,
    key: Vec<(String, Class)>,
    /// Canonical inputs per target column: (class, expression on this side).
    cols: Vec<(Class, String)>,
    key_idx: Vec<usize>,
    filter: Option<String>,
}

/// Row count and hash sum of a range (`None` sum for no rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checksum {
    pub count: u64,
    pub sum: Option<String>,
}

/// A row of a range: key as transfer text (for later queries), then canonical column texts.
#[derive(Debug, Clone)]
pub(crate) struct CanonRow {
    pub key: Vec<String>,
    pub cols: Vec<Option<String>>,
}

impl<'a> View<'a> {
    pub fn source(db: &'a Db, t: &ResolvedTable) -> View<'a> {
        View {
            db,
            side: Side::Source,
            name: t.name.clone(),
            table: t.source_table.clone(),
            key: t.source_key(),
            cols: t.columns.iter().map(|c| (c.class, c.source_expr.clone())).collect(),
            key_idx: t.key.iter().map(|k| k.index).collect(),
            filter: t.filter.clone(),
        }
    }

    pub fn target(db: &'a Db, t: &ResolvedTable) -> View<'a> {
        let d = db.dialect();
        View {
            db,
            side: Side::Target,
            name: t.name.clone(),
            table: t.target_table.clone(),
            key: t.target_key(db),
            cols: t.columns.iter().map(|c| (c.class, d.quote(&c.target))).collect(),
            key_idx: t.key.iter().map(|k| k.index).collect(),
            filter: None,
        }
    }

    fn err(&self, doing: &str) -> impl FnOnce(sqlx::Error) -> DataError {
        DataError::sql(self.side, format!("{doing} ({})", self.name))
    }

    /// Count and hash sum of the rows in `range`.
    pub async fn checksum(&self, range: &KeyRange) -> Result<Checksum, DataError> {
        let d = self.db.dialect();
        let mut q = Query::new(d);
        let pred = q.range(&self.key, range, self.filter.as_deref());
        let row = canon_row(d, &self.cols);
        if let Some(sum) = d.hash_sum(&row) {
            let sql =
                format!("SELECT {}, {sum} FROM {} WHERE {pred}", d.to_text("COUNT(*)"), self.table);
            let rows =
                self.db.fetch_texts(&sql, &q.params).await.map_err(self.err("checksum a chunk"))?;
            let mut it = rows.into_iter().next().unwrap_or_default().into_iter();
            let count = it.next().flatten().and_then(|c| c.parse().ok()).unwrap_or(0);
            return Ok(Checksum { count, sum: it.next().flatten() });
        }
        let sql = format!("SELECT {row} FROM {} WHERE {pred}", self.table);
        let rows =
            self.db.fetch_texts(&sql, &q.params).await.map_err(self.err("checksum a chunk"))?;
        let mut sum: u128 = 0;
        for r in &rows {
            sum += u128::from(row_hash(r.first().cloned().flatten().as_deref().unwrap_or("")));
        }
        Ok(Checksum { count: rows.len() as u64, sum: (!rows.is_empty()).then(|| sum.to_string()) })
    }

    /// Every row of `range` in key order.
    pub async fn rows(&self, range: &KeyRange) -> Result<Vec<CanonRow>, DataError> {
        let d = self.db.dialect();
        let mut q = Query::new(d);
        let pred = q.range(&self.key, range, self.filter.as_deref());
        let sql = format!("{} WHERE {pred} ORDER BY {}", self.select_rows(), order_by(&self.key));
        let rows = self.db.fetch_texts(&sql, &q.params).await.map_err(self.err("read rows"))?;
        Ok(self.split_rows(rows))
    }

    /// The rows with these keys (transfer text), in no particular order.
    pub async fn rows_by_key(&self, keys: &[Vec<String>]) -> Result<Vec<CanonRow>, DataError> {
        let d = self.db.dialect();
        let mut out = Vec::with_capacity(keys.len());
        for batch in keys.chunks(100) {
            let mut q = Query::new(d);
            let ors: Vec<String> = batch.iter().map(|k| q.equals(&self.key, k)).collect();
            let filter = self.filter.as_deref().map(|f| format!(" AND ({f})")).unwrap_or_default();
            let sql = format!("{} WHERE ({}){filter}", self.select_rows(), ors.join(" OR "));
            let rows = self
                .db
                .fetch_texts(&sql, &q.params)
                .await
                .map_err(self.err("re-read suspect rows"))?;
            out.extend(self.split_rows(rows));
        }
        Ok(out)
    }

    /// The rows with these keys, read inside `tx` with a locking read (`FOR UPDATE` where the
    /// engine has it), so they cannot change before the transaction ends.
    pub async fn rows_by_key_locked(
        &self,
        tx: &mut crate::db::DbTx,
        keys: &[Vec<String>],
    ) -> Result<Vec<CanonRow>, DataError> {
        let d = self.db.dialect();
        let lock = match self.db.engine() {
            ficus_model::mapping::Engine::Sqlite => "",
            _ => " FOR UPDATE",
        };
        let mut out = Vec::with_capacity(keys.len());
        for batch in keys.chunks(100) {
            let mut q = Query::new(d);
            let ors: Vec<String> = batch.iter().map(|k| q.equals(&self.key, k)).collect();
            let sql = format!("{} WHERE ({}){lock}", self.select_rows(), ors.join(" OR "));
            let rows =
                tx.fetch_texts(&sql, &q.params).await.map_err(self.err("lock rows to repair"))?;
            out.extend(self.split_rows(rows));
        }
        Ok(out)
    }

    fn select_rows(&self) -> String {
        let d = self.db.dialect();
        let mut select: Vec<String> = self
            .key_idx
            .iter()
            .map(|&i| d.transfer(self.cols[i].0, &self.key[self.key_pos(i)].0))
            .collect();
        select.extend(self.cols.iter().map(|(class, e)| d.canon(*class, e)));
        format!("SELECT {} FROM {}", aliased(&select), self.table)
    }

    fn key_pos(&self, col: usize) -> usize {
        self.key_idx.iter().position(|&i| i == col).unwrap_or(0)
    }

    fn split_rows(&self, rows: Vec<TextRow>) -> Vec<CanonRow> {
        let k = self.key_idx.len();
        rows.into_iter()
            .map(|mut r| {
                let cols = r.split_off(k.min(r.len()));
                CanonRow { key: r.into_iter().map(Option::unwrap_or_default).collect(), cols }
            })
            .collect()
    }

    /// The canonical key of a row (what both sides agree on).
    pub fn canon_key(&self, row: &CanonRow) -> Vec<Option<String>> {
        self.key_idx.iter().map(|&i| row.cols.get(i).cloned().flatten()).collect()
    }

    /// Rows of the table (after the filter).
    pub async fn count(&self) -> Result<u64, DataError> {
        let d = self.db.dialect();
        let filter = self.filter.as_deref().map(|f| format!(" WHERE ({f})")).unwrap_or_default();
        let sql = format!("SELECT {} FROM {}{filter}", d.to_text("COUNT(*)"), self.table);
        let rows = self.db.fetch_texts(&sql, &[]).await.map_err(self.err("count rows"))?;
        Ok(rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .and_then(|s| s.parse().ok())
            .unwrap_or(0))
    }

    /// MIN and MAX of a single integer key (after the filter); `None` for other keys or when
    /// the table is empty.
    pub async fn int_min_max(&self) -> Result<Option<(i128, i128)>, DataError> {
        if self.key.len() != 1 || self.key[0].1 != Class::Int {
            return Ok(None);
        }
        let d = self.db.dialect();
        let k = &self.key[0].0;
        let filter = self.filter.as_deref().map(|f| format!(" WHERE ({f})")).unwrap_or_default();
        let sql = format!(
            "SELECT {}, {} FROM {}{filter}",
            d.to_text(&format!("MIN({k})")),
            d.to_text(&format!("MAX({k})")),
            self.table
        );
        let rows = self.db.fetch_texts(&sql, &[]).await.map_err(self.err("read the key span"))?;
        let row = rows.into_iter().next().unwrap_or_default();
        let num = |i: usize| row.get(i).cloned().flatten().and_then(|s| s.parse::<i128>().ok());
        Ok(num(0).zip(num(1)))
    }

    /// The key (transfer text) of the row at `offset` within `range`, in key order.
    pub async fn key_at(
        &self,
        range: &KeyRange,
        offset: u64,
    ) -> Result<Option<Vec<String>>, DataError> {
        let d = self.db.dialect();
        let mut q = Query::new(d);
        let pred = q.range(&self.key, range, self.filter.as_deref());
        let select: Vec<String> = self
            .key_idx
            .iter()
            .zip(&self.key)
            .map(|(&i, (e, _))| d.transfer(self.cols[i].0, e))
            .collect();
        let sql = format!(
            "SELECT {} FROM {} WHERE {pred} ORDER BY {} {}",
            aliased(&select),
            self.table,
            order_by(&self.key),
            d.limit_offset(1, offset)
        );
        let rows = self
            .db
            .fetch_texts(&sql, &q.params)
            .await
            .map_err(self.err("find a chunk boundary"))?;
        Ok(rows.into_iter().next().map(|r| r.into_iter().map(Option::unwrap_or_default).collect()))
    }
}

/// The hash of a row's canonical columns as 16 hex digits: [`row_hash`] of the row's canonical
/// text (`CHAR_LENGTH:text` or `N` per column, joined with `,`, as [`crate::dialect::canon_row`]
/// renders it in SQL).
pub(crate) fn canon_hash(cols: &[Option<String>]) -> String {
    let text: Vec<String> = cols
        .iter()
        .map(|c| match c {
            Some(s) => format!("{}:{s}", s.chars().count()),
            None => "N".to_owned(),
        })
        .collect();
    format!("{:016x}", row_hash(&text.join(",")))
}

/// The last 15 hex digits of the MD5 of `text`, as an integer (reladiff's `md5_as_int`).
pub(crate) fn row_hash(text: &str) -> u64 {
    let d = Md5::digest(text.as_bytes());
    // Bytes 9..16 hold hex digits 18..32; the high nibble of byte 8 is digit 17, dropped.
    let mut v: u64 = u64::from(d[8] & 0x0f);
    for b in &d[9..16] {
        v = (v << 8) | u64::from(*b);
    }
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn row_hash_is_the_last_15_hex_digits() {
        // md5("") = d41d8cd98f00b204e9800998ecf8427e; digits 18..32 = 9800998ecf8427e.
        assert_eq!(super::row_hash(""), 0x9800998ecf8427e);
    }
}
