//! One side of a comparison: which table, how its key and columns read, and the three queries
//! verify runs on it (chunk checksum, rows of a range, key at an offset).
//!
//! A chunk's checksum is its row count and the SHA-256 of its rows' checksum texts
//! ([`crate::dialect::check_row`]) concatenated in key order, computed by the database in one
//! aggregate (`GROUP_CONCAT` / `string_agg`) — one hash per chunk instead of reladiff's MD5 per
//! row. Equal data gives equal digests on every engine because the checksum text is equal for
//! equal values (see [`crate::dialect`]); rows read in another order only make a chunk look
//! different, and it is then bisected down to rows compared one by one. SQLite has no SHA-256: its
//! checksum texts are fetched in key order and hashed here.

use crate::db::{Db, TextRow};
use crate::dialect::{CheckColumn, ChunkSql, check_row, check_row_is_bytes};
use crate::error::{DataError, Side};
use crate::keyset::{KeyRange, Query, aliased, order_by};
use crate::resolve::ResolvedTable;
use crate::types::Class;
use md5::Md5;
use sha2::{Digest, Sha256};

/// A table on one side.
pub(crate) struct View<'a> {
    pub db: &'a Db,
    pub side: Side,
    pub name: String,
    table: String,
    key: Vec<(String, Class)>,
    /// Canonical inputs per target column: (class, expression on this side).
    cols: Vec<(Class, String)>,
    /// A row's checksum text on this side ([`check_row`]), and whether it is binary.
    row: String,
    row_bytes: bool,
    key_idx: Vec<usize>,
    filter: Option<String>,
    /// The other side can cut its chunk digests too (both MariaDB/MySQL), so a cut must be
    /// found ([`crate::dialect::Dialect::chunk_digest`]).
    find_cut: bool,
}

/// Buckets of a range of a single integer key: the key `id` falls in bucket
/// `clamp(floor((id − lo − 1) · parts / width), 0, parts − 1)`, so bucket `k` holds the keys in
/// `(lo + ⌈k · width / parts⌉, lo + ⌈(k + 1) · width / parts⌉]`, the first and last also any
/// keys of the range below or above ([`Buckets::range`]). All values fit in a BIGINT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Buckets {
    pub lo: i64,
    pub width: i64,
    pub parts: i64,
}

impl Buckets {
    /// The buckets of the keys `(lo, lo + width]`, or `None` when the arithmetic could leave
    /// a BIGINT (the caller then compares rows directly).
    pub fn new(lo: i128, width: i128, parts: u64) -> Option<Buckets> {
        let parts = i128::from(parts);
        let fits = |v: i128| i64::try_from(v).is_ok();
        let ok = width >= 1
            && parts >= 2
            && fits(lo)
            && fits(lo + width)
            && width.checked_mul(parts).is_some_and(|p| p <= i128::from(i64::MAX) / 2);
        ok.then_some(Buckets { lo: lo as i64, width: width as i64, parts: parts as i64 })
    }

    /// The sub-range of `range` that bucket `k` covers.
    pub fn range(&self, range: &KeyRange, k: usize) -> KeyRange {
        let (lo, w, n) = (i128::from(self.lo), i128::from(self.width), i128::from(self.parts));
        let bound = |j: i128| Some(vec![(lo + (j * w + n - 1) / n).to_string()]);
        let k = k as i128;
        KeyRange {
            lo: if k == 0 { range.lo.clone() } else { bound(k) },
            hi: if k + 1 >= n { range.hi.clone() } else { bound(k + 1) },
        }
    }
}

/// Row count and digest of a range (`None` digest for no rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checksum {
    pub count: u64,
    pub digest: Option<String>,
    /// `false` when the database could not hash the whole range (a length limit): the
    /// checksum then matches nothing and the range is bisected.
    pub complete: bool,
}

impl Checksum {
    /// A checksum from a query's texts: count, digest, and the cut flag (`0` = not cut).
    fn from_texts(texts: impl IntoIterator<Item = Option<String>>) -> Checksum {
        let mut it = texts.into_iter();
        let count = it.next().flatten().and_then(|c| c.parse().ok()).unwrap_or(0);
        let digest = it.next().flatten();
        let cut = it.next().flatten().is_some_and(|c| c != "0");
        Checksum { count, digest, complete: !cut }
    }

    /// Whether two sides' checksums prove their ranges equal.
    pub fn matches(&self, other: &Checksum) -> bool {
        self.complete && other.complete && self == other
    }
}

/// A row's digest: key as transfer text (for later queries), canonical key (what both sides
/// agree on), and its checksum text itself when fetched, else that text's SHA-256 in hex.
#[derive(Debug, Clone)]
pub(crate) struct RowDigest {
    pub key: Vec<String>,
    pub canon_key: Vec<Option<String>>,
    pub digest: Vec<u8>,
}

/// A row of a range: key as transfer text (for later queries), then canonical column texts.
#[derive(Debug, Clone)]
pub(crate) struct CanonRow {
    pub key: Vec<String>,
    pub cols: Vec<Option<String>>,
}

impl<'a> View<'a> {
    pub fn source(db: &'a Db, t: &ResolvedTable) -> View<'a> {
        let check: Vec<CheckColumn> = t
            .columns
            .iter()
            .map(|c| CheckColumn {
                class: c.class,
                expr: c.source_expr.clone(),
                form: c.check,
                shape: c.source_shape,
                not_null: c.source_not_null,
            })
            .collect();
        View {
            db,
            side: Side::Source,
            name: t.name.clone(),
            table: t.source_table.clone(),
            key: t.source_key(),
            cols: t.columns.iter().map(|c| (c.class, c.source_expr.clone())).collect(),
            row: check_row(db.dialect(), &check),
            row_bytes: check_row_is_bytes(&check),
            key_idx: t.key.iter().map(|k| k.index).collect(),
            filter: t.filter.clone(),
            find_cut: true,
        }
    }

    pub fn target(db: &'a Db, t: &ResolvedTable) -> View<'a> {
        let d = db.dialect();
        let check: Vec<CheckColumn> = t
            .columns
            .iter()
            .map(|c| CheckColumn {
                class: c.class,
                expr: d.quote(&c.target),
                form: c.check,
                shape: c.target_shape,
                not_null: c.target_not_null,
            })
            .collect();
        View {
            db,
            side: Side::Target,
            name: t.name.clone(),
            table: t.target_table.clone(),
            key: t.target_key(db),
            cols: t.columns.iter().map(|c| (c.class, d.quote(&c.target))).collect(),
            row: check_row(d, &check),
            row_bytes: check_row_is_bytes(&check),
            key_idx: t.key.iter().map(|k| k.index).collect(),
            filter: None,
            find_cut: true,
        }
    }

    /// This view compared with a table in `other`: whether cut chunk digests must be found
    /// depends on the other side's engine.
    pub fn against(mut self, other: &Db) -> View<'a> {
        self.find_cut = other.engine() == ficus_model::mapping::Engine::MySql;
        self
    }

    /// The parts of a query over this view's rows matching `pred`.
    fn chunk_sql<'s>(&'s self, pred: &'s str, order: &'s str, find_cut: bool) -> ChunkSql<'s> {
        ChunkSql {
            row: &self.row,
            table: &self.table,
            pred,
            order,
            find_cut,
            bytes: self.row_bytes,
        }
    }

    fn err(&self, doing: &str) -> impl FnOnce(sqlx::Error) -> DataError {
        DataError::sql(self.side, format!("{doing} ({})", self.name))
    }

    /// Count and digest of the rows in `range`.
    pub async fn checksum(&self, range: &KeyRange) -> Result<Checksum, DataError> {
        let d = self.db.dialect();
        let mut q = Query::new(d);
        let pred = q.range(&self.key, range, self.filter.as_deref());
        let order = order_by(&self.key);
        let c = self.chunk_sql(&pred, &order, self.find_cut);
        if let Some(sql) = d.chunk_digest(&c) {
            let rows = match self.db.fetch_texts(&sql, &q.params).await {
                Ok(rows) => rows,
                // PostgreSQL: a chunk's text over 1 GB (program_limit_exceeded); count only.
                Err(e) if sql_state(&e).as_deref() == Some("54000") => {
                    let sql = format!(
                        "SELECT {} FROM {} WHERE {pred}",
                        d.to_text("COUNT(*)"),
                        self.table
                    );
                    let rows = self
                        .db
                        .fetch_texts(&sql, &q.params)
                        .await
                        .map_err(self.err("count a chunk"))?;
                    let count = rows
                        .first()
                        .and_then(|r| r.first().cloned().flatten())
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(0);
                    return Ok(Checksum { count, digest: None, complete: false });
                }
                Err(e) => return Err(self.err("checksum a chunk")(e)),
            };
            return Ok(Checksum::from_texts(rows.into_iter().next().unwrap_or_default()));
        }
        let sql = format!("SELECT {} FROM {} WHERE {pred} ORDER BY {order}", self.row, self.table);
        let rows =
            self.db.fetch_texts(&sql, &q.params).await.map_err(self.err("checksum a chunk"))?;
        let mut sha = Sha256::new();
        for r in &rows {
            sha.update(r.first().cloned().flatten().unwrap_or_default().as_bytes());
        }
        let digest = (!rows.is_empty()).then(|| hex(&sha.finalize()));
        Ok(Checksum { count: rows.len() as u64, digest, complete: true })
    }

    /// Count and digest of each of `buckets.parts` buckets of `range` (a single integer key),
    /// in one query: see [`Buckets`]. `None` when the engine cannot (no SHA-256, or a bucket's
    /// text over PostgreSQL's 1 GB), else one checksum per bucket index, all-zero for buckets
    /// without rows.
    pub async fn bucket_checksums(
        &self,
        range: &KeyRange,
        buckets: &Buckets,
    ) -> Result<Option<Vec<Checksum>>, DataError> {
        let d = self.db.dialect();
        let mut q = Query::new(d);
        let k = &self.key[0].0;
        // Bound in text order, before the predicate: MariaDB's `?` are positional.
        let last = q.bind(Class::Int, &(buckets.parts - 1).to_string());
        let lo = q.bind(Class::Int, &buckets.lo.to_string());
        let parts = q.bind(Class::Int, &buckets.parts.to_string());
        let width = q.bind(Class::Int, &buckets.width.to_string());
        let div = d.int_div(&format!("({k} - {lo} - 1) * {parts}"), &width);
        let bucket = format!("LEAST({last}, GREATEST(0, {div}))");
        let pred = q.range(&self.key, range, self.filter.as_deref());
        let order = order_by(&self.key);
        let c = self.chunk_sql(&pred, &order, true);
        let Some(sql) = d.bucket_digest(&c, &bucket) else { return Ok(None) };
        let rows = match self.db.fetch_texts(&sql, &q.params).await {
            Ok(rows) => rows,
            // PostgreSQL: a bucket's text over 1 GB (program_limit_exceeded); rows instead.
            Err(e) if sql_state(&e).as_deref() == Some("54000") => return Ok(None),
            Err(e) => return Err(self.err("checksum buckets")(e)),
        };
        let empty = Checksum { count: 0, digest: None, complete: true };
        let mut out = vec![empty; buckets.parts as usize];
        for r in rows {
            let mut it = r.into_iter();
            let b: Option<usize> = it.next().flatten().and_then(|b| b.parse().ok());
            if let Some(slot) = b.and_then(|b| out.get_mut(b)) {
                *slot = Checksum::from_texts(it);
            }
        }
        Ok(Some(out))
    }

    /// The digest of every row of `range` (in no particular order): one query returning, per
    /// row, its key and its checksum text's SHA-256, so a differing range is narrowed down to
    /// rows without reading their columns. `fetch`: the checksum texts themselves are the
    /// digests (both sides must fetch) — for short rows the cheaper way (a hash and its hex per row
    /// cost MariaDB more than sending the row's text; measured in `bench/README.md`). Fetched
    /// texts come packed into one value per side where the engine can
    /// ([`crate::dialect::Dialect::packed_rows`]): a result row each cost the client ≈ 1.3 µs
    /// in sqlx's row handling. An engine without SHA-256 fetches the texts either way and hashes
    /// them here when not `fetch`.
    pub async fn row_digests(
        &self,
        range: &KeyRange,
        fetch: bool,
    ) -> Result<Vec<RowDigest>, DataError> {
        let d = self.db.dialect();
        let mut q = Query::new(d);
        let pred = q.range(&self.key, range, self.filter.as_deref());
        let mut select: Vec<String> = self
            .key_idx
            .iter()
            .zip(&self.key)
            .map(|(&i, (e, _))| d.transfer(self.cols[i].0, e))
            .collect();
        select.extend(self.key_idx.iter().map(|&i| d.canon(self.cols[i].0, &self.cols[i].1)));
        if fetch {
            // In no order, never cut silently: no `ORDER BY`, no cut flag.
            if let Some(sql) = d.packed_rows(&self.chunk_sql(&pred, "", false), &select) {
                let rows = self
                    .db
                    .fetch_texts_then_bytes(&sql, &q.params)
                    .await
                    .map_err(self.err("read a range's rows"))?;
                let (texts, packed) = rows.into_iter().next().unwrap_or_default();
                let count = texts.first().cloned().flatten().and_then(|c| c.parse().ok());
                if let Some(out) =
                    count.and_then(|n| unpack(packed.as_deref(), self.key_idx.len(), n))
                {
                    return Ok(out);
                }
                // Cut by a length limit (or a NULL key): the rows one by one, below.
            }
        }
        let hashed = d.sha256(&self.row, self.row_bytes).filter(|_| !fetch);
        let in_db = hashed.is_some();
        select.push(hashed.unwrap_or_else(|| self.row.clone()));
        let sql = format!("SELECT {} FROM {} WHERE {pred}", aliased(&select), self.table);
        let k = self.key_idx.len();
        let digest = |mut r: TextRow, last: Option<Vec<u8>>| {
            let last = last.unwrap_or_default();
            let digest =
                if fetch || in_db { last } else { hex(&Sha256::digest(last)).into_bytes() };
            let canon_key = r.split_off(k.min(r.len()));
            RowDigest {
                key: r.into_iter().map(Option::unwrap_or_default).collect(),
                canon_key,
                digest,
            }
        };
        let rows = self
            .db
            .fetch_texts_then_bytes(&sql, &q.params)
            .await
            .map_err(self.err("read row digests"))?;
        Ok(rows.into_iter().map(|(r, last)| digest(r, last)).collect())
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

/// The row digests of a packed range ([`crate::dialect::Dialect::packed_rows`]) of `count`
/// rows, each `k` key texts and `k` canonical key texts, every one followed by `0xFD`, then
/// the checksum text (the digest), then `0xFC`. `None` when the value was cut short (no
/// final `0xFC`, or fewer rows than counted) or a key is not UTF-8.
fn unpack(packed: Option<&[u8]>, k: usize, count: u64) -> Option<Vec<RowDigest>> {
    let Some(mut rest) = packed else { return (count == 0).then(Vec::new) };
    // Every row takes at least its `0xFC`: the count cannot reserve more than that.
    let mut out = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(rest.len()));
    let text = |f: Option<&[u8]>| f.and_then(|f| String::from_utf8(f.to_vec()).ok());
    while !rest.is_empty() {
        let end = rest.iter().position(|&b| b == 0xFC)?;
        let (row, tail) = rest.split_at(end);
        rest = &tail[1..];
        let mut fields = row.splitn(2 * k + 1, |&b| b == 0xFD);
        let key = (0..k).map(|_| text(fields.next())).collect::<Option<Vec<_>>>()?;
        let canon_key = (0..k).map(|_| text(fields.next()).map(Some)).collect::<Option<_>>()?;
        let digest = fields.next()?.to_vec();
        out.push(RowDigest { key, canon_key, digest });
    }
    (out.len() as u64 == count).then_some(out)
}

/// The SQLSTATE of a database error.
fn sql_state(e: &sqlx::Error) -> Option<String> {
    e.as_database_error().and_then(|d| d.code()).map(|c| c.into_owned())
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// The hash of a row's canonical columns as 16 hex digits: [`row_hash`] of the row's canonical
/// text (`CHAR_LENGTH:text` or `N` per column, joined with `,`). Repair compares it with the
/// report's `target_hash`.
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
/// Names a row in reports; chunk checksums hash whole chunks instead.
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

    #[test]
    fn a_packed_range_unpacks_to_its_rows_and_a_cut_one_to_none() {
        // Two rows of a single key: key text, canonical key, checksum text (with framing).
        let packed = b"7\xfd7\xfd1.5,N;caf\xc3\xa9\xff\xfc12\xfd12\xfd\xfe\xff\xfc".to_vec();
        let rows = super::unpack(Some(&packed), 1, 2).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].key, vec!["7".to_owned()]);
        assert_eq!(rows[0].canon_key, vec![Some("7".to_owned())]);
        assert_eq!(rows[0].digest, b"1.5,N;caf\xc3\xa9\xff".to_vec());
        assert_eq!(rows[1].key, vec!["12".to_owned()]);
        assert_eq!(rows[1].digest, b"\xfe\xff".to_vec());
        // Cut inside the last row, or after a whole row, or a key that is not UTF-8.
        assert!(super::unpack(Some(&packed[..packed.len() - 1]), 1, 2).is_none());
        assert!(super::unpack(Some(&packed[..18]), 1, 2).is_none());
        assert!(super::unpack(Some(&packed[..17]), 1, 2).is_none());
        assert!(super::unpack(Some(b"\xc3\xfd1\xfdx\xfc"), 1, 1).is_none());
        // No rows: NULL from the aggregate.
        assert_eq!(super::unpack(None, 1, 0).map(|r| r.len()), Some(0));
        assert!(super::unpack(None, 1, 3).is_none());
        // A composite key.
        let rows = super::unpack(Some(b"a\xfd2\xfda\xfd2\xfdrow\xfc"), 2, 1).unwrap();
        assert_eq!(rows[0].key, vec!["a".to_owned(), "2".to_owned()]);
        assert_eq!(rows[0].digest, b"row".to_vec());
    }

    #[test]
    fn buckets_cover_a_range_exactly_as_the_sql_formula_assigns_keys() {
        use super::{Buckets, KeyRange};
        for (lo, width, parts) in [(0i64, 100i64, 32i64), (-7, 5, 32), (1000, 2500, 32), (3, 33, 4)]
        {
            let b = Buckets::new(lo.into(), width.into(), parts as u64).unwrap();
            let range = KeyRange { lo: Some(vec![lo.to_string()]), hi: None };
            // Keys below and above the span (written meanwhile) fall in the first and last.
            for id in lo - 3..=lo + width + 3 {
                let k = ((id - lo - 1) * parts).div_euclid(width).clamp(0, parts - 1);
                // SQL's division rounds toward zero; both agree once clamped at 0.
                let toward_zero = ((id - lo - 1) * parts / width).clamp(0, parts - 1);
                assert_eq!(k, toward_zero);
                let r = b.range(&range, k as usize);
                let inside = |bound: &Option<Vec<String>>, after: bool| {
                    bound.as_ref().is_none_or(|v| {
                        let v: i64 = v[0].parse().unwrap();
                        if after { id > v } else { id <= v }
                    })
                };
                // The first bucket keeps the range's own lower bound (keys above `lo` only).
                if id > lo {
                    assert!(
                        inside(&r.lo, true) && inside(&r.hi, false),
                        "{id} not in bucket {k}: {r:?}"
                    );
                }
                for other in (0..parts).filter(|&o| o != k) {
                    let r = b.range(&range, other as usize);
                    assert!(
                        !(id > lo && inside(&r.lo, true) && inside(&r.hi, false)),
                        "{id} also in {other}"
                    );
                }
            }
        }
        // Arithmetic that could leave a BIGINT is refused.
        assert!(Buckets::new(i128::from(i64::MIN) - 1, 10, 32).is_none());
        assert!(Buckets::new(0, i128::from(i64::MAX), 32).is_none());
    }
}
