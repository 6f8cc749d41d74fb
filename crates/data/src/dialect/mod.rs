//! SQL per engine: quoting, transforms, and the two renderings every value gets — *transfer*
//! text (what the target parses on the copy path) and *canonical* text (what verify hashes, equal
//! for equal data on every engine). One module per engine implements [`Dialect`].
//!
//! Canonical text by class (NULL stays NULL):
//!
//! | class | canonical text |
//! |---|---|
//! | int | decimal digits, `-` for negatives |
//! | decimal | the value without trailing fractional zeros (`1.50` → `1.5`, `2.00` → `2`) |
//! | float | rounded to 6 decimal places, then as decimal |
//! | text | the UTF-8 text as is |
//! | timestamp | UTC microseconds since 1970-01-01 (a value without zone is UTC) |
//! | date | `YYYY-MM-DD` |
//! | bool | `1` or `0` |
//! | bytes | lower-case hex |
//! | uuid | lower-case text |
//!
//! A row's canonical text joins its columns (target name order) with `,`, each as
//! `CHAR_LENGTH:text` or `N` for NULL, so NULL and `''` differ and no separator is ambiguous.
//!
//! Verify's chunk checksums hash a cheaper rendering where both sides' declared types already
//! agree ([`CheckForm`], decided per column pair by [`check_form`]): integers as the engine's
//! digits, decimals of equal declared scale as the engine's own text, timestamps as ISO text
//! without trailing fractional zeros, UTF-8 text as its bytes framed by two bytes UTF-8 never
//! holds (instead of a length prefix). Equal text under a form still means equal canonical
//! text, so a checksum that matches proves the rows equal; every other pair is checksummed
//! over its canonical text.

mod mysql;
mod postgres;
mod sqlite;

use crate::types::{Class, Shape};
use ficus_model::mapping::{CastType, Constant, Engine, Transform};

pub use mysql::MySql;
pub use postgres::Postgres;
pub use sqlite::Sqlite;

/// The SQL of one engine. Every method returns an SQL fragment; `expr` arguments are SQL
/// expressions already valid in this dialect.
pub trait Dialect: Sync + Send {
    /// The engine this dialect speaks.
    fn engine(&self) -> Engine;

    /// A quoted identifier.
    fn quote(&self, ident: &str) -> String;

    /// A quoted `name` or `schema.name`.
    fn table(&self, name: &str) -> String {
        name.split('.').map(|p| self.quote(p)).collect::<Vec<_>>().join(".")
    }

    /// The `n`-th (1-based) bind placeholder.
    fn placeholder(&self, n: usize) -> String;

    /// `expr` cast to a portable type.
    fn cast(&self, to: CastType, expr: &str) -> String;

    /// A constant as an SQL literal.
    fn constant(&self, c: &Constant) -> String {
        match c {
            Constant::Null => "NULL".to_owned(),
            Constant::Bool(b) => if *b { "1" } else { "0" }.to_owned(),
            Constant::Int(i) => i.to_string(),
            Constant::Float(f) => format!("{f:?}"),
            Constant::Text(s) => format!("'{}'", s.replace('\'', "''")),
        }
    }

    /// `expr` with a built-in transform applied.
    fn transform(&self, t: &Transform, expr: &str) -> String {
        match t {
            Transform::None => expr.to_owned(),
            Transform::Cast(c) => self.cast(*c, expr),
            Transform::MoneyToCents => self.money_to_cents(expr),
            Transform::CentsToMoney => self.cents_to_money(expr),
            Transform::TimestampUtc { offset_minutes } => self.shift_minutes(expr, -offset_minutes),
            Transform::Trim => format!("TRIM({expr})"),
        }
    }

    /// `round(expr * 100)` as an integer.
    fn money_to_cents(&self, expr: &str) -> String;

    /// Integer cents as a decimal amount (`expr / 100`, exact).
    fn cents_to_money(&self, expr: &str) -> String;

    /// A timestamp moved by `minutes`.
    fn shift_minutes(&self, expr: &str, minutes: i32) -> String;

    /// Text the target engines parse for a value of `class` (see the module docs), or NULL.
    fn transfer(&self, class: Class, expr: &str) -> String;

    /// The canonical text of a value of `class` (see the module docs), or NULL.
    fn canon(&self, class: Class, expr: &str) -> String;

    /// A text bind parameter `ph` read as a value of `class`, for comparisons with a column.
    fn param(&self, class: Class, ph: &str) -> String;

    /// The parameter holding transfer text, as it is written into a column of `class`.
    fn insert_param(&self, class: Class, ph: &str) -> String {
        match class {
            Class::Bytes => format!("UNHEX({ph})"),
            _ => ph.to_owned(),
        }
    }

    /// Concatenation of text expressions (each non-NULL).
    fn concat(&self, parts: &[String]) -> String {
        parts.join(" || ")
    }

    /// Verify's row checksum value from its parts in order ([`check_row`]): each
    /// [`CheckPart::Text`] as it is; each [`CheckPart::Framed`] as the bytes of its UTF-8 text,
    /// or the byte `0xFE` for NULL, then the byte `0xFF`. Engines that cannot build bytes
    /// (the default, SQLite) never get a framed column from [`check_form`]; should one come,
    /// it is rendered length-prefixed like [`CheckForm::Canon`], which only makes it differ.
    fn check_concat(&self, parts: &[CheckPart]) -> String {
        let texts: Vec<String> = parts
            .iter()
            .map(|p| match p {
                CheckPart::Text(t) => t.clone(),
                CheckPart::Framed { expr: t, .. } => format!(
                    "COALESCE({}, 'N')",
                    self.concat(&[self.to_text(&self.char_length(t)), "':'".to_owned(), t.clone()])
                ),
            })
            .collect();
        self.concat(&texts)
    }

    /// Length in characters of a text expression.
    fn char_length(&self, expr: &str) -> String {
        format!("LENGTH({expr})")
    }

    /// `expr` as text (for counts and sums).
    fn to_text(&self, expr: &str) -> String;

    /// The text of a value in verify's chunk checksum under `form`, for a column of this side
    /// shaped `shape` (NULL stays NULL). The default, and every engine's rendering of
    /// [`CheckForm::Canon`], is [`Dialect::canon`].
    fn check_text(&self, form: CheckForm, shape: Shape, class: Class, expr: &str) -> String {
        let _ = (form, shape);
        self.canon(class, expr)
    }

    /// The SHA-256 (FIPS 180-4) of an expression's bytes as 64 lower-case hex digits: of its
    /// UTF-8 text, or of its bytes when `bytes` (a binary value, as [`check_row`] of framed
    /// columns is). `None` when the engine has no SHA-256 ([`mod@crate::verify`] then hashes
    /// the fetched text the same way).
    ///
    /// Verify's digest is SHA-256 rather than MD5 because it is the cheaper of the two on the
    /// servers it runs beside: OpenSSL hashes it with the CPU's SHA extensions (x86 SHA-NI,
    /// ARMv8 SHA2) at ≈ 2.4 × MD5's bytes per second here (`openssl speed`: 1.45 vs
    /// 0.61 GB/s), and MD5 was ≈ 11 % of MariaDB's CPU for a chunk checksum.
    fn sha256(&self, expr: &str, bytes: bool) -> Option<String> {
        let _ = (expr, bytes);
        None
    }

    /// A query returning one row for the rows of `c.table` matching `c.pred`: their count, the
    /// SHA-256 ([`Dialect::sha256`]; NULL for no rows) of their `c.row` values concatenated in
    /// key order (`c.order`), and `1` when the concatenation was cut short by a length limit
    /// (the digest then proves nothing), else `0` — checked only when `c.find_cut` (a cut
    /// digest can match only another cut one, from the same engine). `None` when the engine
    /// has no SHA-256: [`mod@crate::verify`] then hashes the fetched row texts the same way.
    fn chunk_digest(&self, c: &ChunkSql<'_>) -> Option<String> {
        let _ = c;
        None
    }

    /// A query returning, per bucket of the rows of `c.table` matching `c.pred`, one row:
    /// the bucket (`bucket`, an SQL integer expression; its text), the count, the SHA-256 of
    /// the bucket's `c.row` values concatenated in key order (`c.order`, explicit: rows are
    /// grouped), and the cut flag as in [`Dialect::chunk_digest`]. Buckets without rows have
    /// no row. `None` when the engine has no SHA-256.
    fn bucket_digest(&self, c: &ChunkSql<'_>, bucket: &str) -> Option<String> {
        let _ = (c, bucket);
        None
    }

    /// A query returning one row for the rows of `c.table` matching `c.pred`, in no
    /// particular order: their count (text) and all of them packed into one binary value —
    /// per row each of `keys` (SQL text expressions) followed by the byte `0xFD`, then the
    /// row's checksum text `c.row` (binary when `c.bytes`), then `0xFC`. Neither byte occurs
    /// in UTF-8 text nor in a checksum text (UTF-8, ASCII and the framing bytes `0xFE`/`0xFF`),
    /// so the client splits the value unambiguously. A row whose key is NULL is left out (the
    /// count then disagrees). `None`: the engine returns the rows one by one.
    fn packed_rows(&self, c: &ChunkSql<'_>, keys: &[String]) -> Option<String> {
        let _ = (c, keys);
        None
    }

    /// Integer division of two integer expressions, rounded toward zero.
    fn int_div(&self, a: &str, b: &str) -> String {
        format!("({a}) / ({b})")
    }

    /// Whether row-value comparison `(a, b) > (?, ?)` is used well by this engine's planner;
    /// otherwise the expanded `a > ? OR (a = ? AND b > ?)` form is generated.
    fn row_values(&self) -> bool {
        true
    }

    /// The clause that makes a `SELECT` a locking read (rows cannot change until the
    /// transaction ends), with a leading space; empty where a transaction-wide lock does it.
    fn lock_rows(&self) -> &'static str {
        ""
    }

    /// The current time as whole microseconds since the Unix epoch (a BIGINT), from the
    /// database's clock.
    fn now_micros(&self) -> String;

    /// A JSON array of text expressions, rendered as text (`["a", "1"]`).
    fn json_text_array(&self, items: &[String]) -> String;

    /// `LIMIT n OFFSET m`.
    fn limit_offset(&self, limit: u64, offset: u64) -> String {
        format!("LIMIT {limit} OFFSET {offset}")
    }
}

/// How one column pair enters verify's chunk checksum. Decided once per pair from both
/// declared types ([`check_form`]); each side renders it with [`Dialect::check_text`] for its
/// own [`Shape`], and equal values give equal text on both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckForm {
    /// The canonical text (module docs), length-prefixed: any pair.
    #[default]
    Canon,
    /// Integer columns on both sides: the engine's digits.
    Digits,
    /// Decimal columns with declared scales on both sides: the engine's own text when both
    /// scales are equal (`trim = false`; always that many fractional digits), else each side's
    /// text without trailing fractional zeros (`trim = true`; `1.5000` → `1.5`, `2.00` → `2`).
    Decimal {
        /// The scales differ.
        trim: bool,
    },
    /// Timestamps read in UTC on both sides ([`Shape::Timestamp`]): `YYYY-MM-DD HH:MM:SS`,
    /// then `.` and the fraction of a second without trailing zeros when it is not zero —
    /// PostgreSQL's own text of a `timestamp`; MariaDB/MySQL trim their fixed-width fraction.
    IsoTimestamp,
    /// Text columns stored as UTF-8 on both sides ([`Shape::Utf8Text`]): the text's bytes,
    /// or `0xFE` for NULL, then `0xFF` ([`CheckPart::Framed`]). UTF-8 never holds either byte
    /// (RFC 3629 §1), so the field ends at the first `0xFF` and NULL differs from every text
    /// without a length prefix — counting characters was a third of MariaDB's checksum CPU.
    Utf8,
}

/// One part of verify's row checksum value ([`check_row`], [`Dialect::check_concat`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckPart {
    /// A text expression, never NULL, whose text never holds the bytes `0xFE` or `0xFF`.
    Text(String),
    /// A UTF-8 text expression, framed as [`CheckForm::Utf8`] says; NULL only when
    /// `nullable` (else the NULL test is left out).
    Framed { expr: String, nullable: bool },
}

/// The [`CheckForm`] of a column pair: `source` and `target` are each side's engine and
/// declared [`Shape`]; `plain` says the source value is the source column unchanged (no
/// transform, constant or SQL). The cheaper forms need MariaDB/MySQL or PostgreSQL on both
/// sides; every other pair gets [`CheckForm::Canon`].
pub fn check_form(source: (Engine, Shape), target: (Engine, Shape), plain: bool) -> CheckForm {
    let served = |e: Engine| matches!(e, Engine::MySql | Engine::Postgres);
    if !plain || !served(source.0) || !served(target.0) {
        return CheckForm::Canon;
    }
    match (source.1, target.1) {
        (Shape::Int, Shape::Int) => CheckForm::Digits,
        (Shape::Decimal { scale: a }, Shape::Decimal { scale: b }) => {
            CheckForm::Decimal { trim: a != b }
        }
        (Shape::Timestamp { .. }, Shape::Timestamp { .. }) => CheckForm::IsoTimestamp,
        (Shape::Utf8Text, Shape::Utf8Text) => CheckForm::Utf8,
        _ => CheckForm::Canon,
    }
}

/// The parts of a chunk checksum query ([`Dialect::chunk_digest`]).
#[derive(Debug, Clone, Copy)]
pub struct ChunkSql<'a> {
    /// A row's checksum text ([`check_row`]).
    pub row: &'a str,
    /// The quoted table.
    pub table: &'a str,
    /// The chunk's predicate (its key range and the filter).
    pub pred: &'a str,
    /// The key's `ORDER BY` list.
    pub order: &'a str,
    /// Whether a digest cut by a length limit must be reported.
    pub find_cut: bool,
    /// Whether `row` is binary ([`check_row_is_bytes`]) rather than text.
    pub bytes: bool,
}

/// One column of a checksummed row: class, expression on this side, form, this side's shape,
/// and whether this side's column is declared `NOT NULL`.
#[derive(Debug, Clone)]
pub struct CheckColumn {
    pub class: Class,
    pub expr: String,
    pub form: CheckForm,
    pub shape: Shape,
    pub not_null: bool,
}

/// One row's value in verify's chunk checksum. First the columns not under [`CheckForm::Utf8`]
/// (in target name order), each its [`Dialect::check_text`] — as `CHAR_LENGTH:text` under
/// [`CheckForm::Canon`], as is under the other forms (their texts never hold `,` or `;` nor
/// equal `N`) — or `N` for NULL, joined with `,` and ended by `;`; then each
/// [`CheckForm::Utf8`] column framed ([`CheckPart::Framed`]). Every field ends where a reader
/// knowing the columns can tell, so rows concatenate without ambiguity. Text on every engine
/// when no column is framed; bytes (PostgreSQL `bytea`, a MariaDB binary string) otherwise.
///
/// A `NOT NULL` column under a form other than [`CheckForm::Canon`] goes in without its NULL
/// test: those forms render a value as the column's own text, never NULL for a value (the
/// canonical forms convert, and a conversion can give NULL — MariaDB's `TIMESTAMPDIFF` of a
/// zero date — which must stay `N`, or `CONCAT` would make the whole row NULL and
/// `GROUP_CONCAT` skip it). The text is the same, each side decides for its own column, and
/// the test cost MariaDB ≈ 5 % of a chunk checksum for two such columns of six (measured).
pub fn check_row(d: &dyn Dialect, columns: &[CheckColumn]) -> String {
    let never_null = |c: &CheckColumn| c.not_null && c.form != CheckForm::Canon;
    let mut parts = Vec::with_capacity(columns.len() * 2 + 1);
    let plain = columns.iter().filter(|c| c.form != CheckForm::Utf8);
    for (i, c) in plain.enumerate() {
        if i > 0 {
            parts.push(CheckPart::Text("','".to_owned()));
        }
        let text = d.check_text(c.form, c.shape, c.class, &c.expr);
        let field = match c.form {
            CheckForm::Canon => {
                d.concat(&[d.to_text(&d.char_length(&text)), "':'".to_owned(), text])
            }
            _ => text,
        };
        parts.push(CheckPart::Text(if never_null(c) {
            field
        } else {
            format!("COALESCE({field}, 'N')")
        }));
    }
    parts.push(CheckPart::Text("';'".to_owned()));
    for c in columns.iter().filter(|c| c.form == CheckForm::Utf8) {
        parts.push(CheckPart::Framed {
            expr: d.check_text(c.form, c.shape, c.class, &c.expr),
            nullable: !never_null(c),
        });
    }
    d.check_concat(&parts)
}

/// Whether [`check_row`] of these columns is binary (it holds a framed UTF-8 part) rather
/// than text.
pub fn check_row_is_bytes(columns: &[CheckColumn]) -> bool {
    columns.iter().any(|c| c.form == CheckForm::Utf8)
}

/// The dialect of an engine.
pub fn of(engine: Engine) -> &'static dyn Dialect {
    match engine {
        Engine::Sqlite => &Sqlite,
        Engine::Postgres => &Postgres,
        Engine::MySql => &MySql,
    }
}

/// Double every `q` in `ident` and wrap it in `q`.
fn quote_with(ident: &str, q: char) -> String {
    let mut s = String::with_capacity(ident.len() + 2);
    s.push(q);
    for ch in ident.chars() {
        if ch == q {
            s.push(q);
        }
        s.push(ch);
    }
    s.push(q);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(src: (Engine, &str), tgt: (Engine, &str)) -> CheckForm {
        use crate::types::shape;
        check_form((src.0, shape(src.0, src.1)), (tgt.0, shape(tgt.0, tgt.1)), true)
    }

    #[test]
    fn agreeing_declared_types_get_the_cheaper_forms() {
        let (my, pg) = (Engine::MySql, Engine::Postgres);
        assert_eq!(form((my, "bigint(20)"), (pg, "bigint")), CheckForm::Digits);
        assert_eq!(form((my, "int(11)"), (pg, "integer")), CheckForm::Digits);
        assert_eq!(
            form((my, "decimal(12,4)"), (pg, "numeric(12,4)")),
            CheckForm::Decimal { trim: false }
        );
        assert_eq!(
            form((my, "decimal(12,4)"), (pg, "numeric(14,6)")),
            CheckForm::Decimal { trim: true }
        );
        let iso = form((my, "datetime(6)"), (pg, "timestamp(6) without time zone"));
        assert_eq!(iso, CheckForm::IsoTimestamp);
        assert_eq!(
            form((my, "datetime(3)"), (pg, "timestamp without time zone")),
            CheckForm::IsoTimestamp
        );
        let back = form((pg, "numeric(10,2)"), (my, "decimal(10,2)"));
        assert_eq!(back, CheckForm::Decimal { trim: false });
    }

    #[test]
    fn other_pairs_keep_the_canonical_text() {
        let (my, pg, lite) = (Engine::MySql, Engine::Postgres, Engine::Sqlite);
        // Types that differ in kind, an unconstrained numeric, a zoned timestamp, text, SQLite.
        assert_eq!(form((my, "int(11)"), (pg, "numeric(12,2)")), CheckForm::Canon);
        assert_eq!(form((my, "decimal(12,4)"), (pg, "numeric")), CheckForm::Canon);
        assert_eq!(
            form((my, "datetime(6)"), (pg, "timestamp(6) with time zone")),
            CheckForm::Canon
        );
        // Text whose bytes are not known to be UTF-8 (a declared type says no charset).
        assert_eq!(form((my, "varchar(100)"), (pg, "text")), CheckForm::Canon);
        assert_eq!(form((lite, "INTEGER"), (pg, "bigint")), CheckForm::Canon);
        // A transformed, constant or SQL value is never taken as the column's own text.
        let int = (Engine::MySql, Shape::Int);
        assert_eq!(check_form(int, (pg, Shape::Int), false), CheckForm::Canon);
        let utf8 = (Engine::MySql, Shape::Utf8Text);
        assert_eq!(check_form(utf8, (pg, Shape::Utf8Text), false), CheckForm::Canon);
        assert_eq!(check_form(utf8, (lite, Shape::Utf8Text), true), CheckForm::Canon);
    }

    #[test]
    fn utf8_text_on_both_sides_is_framed_after_the_other_columns() {
        let utf8 = |e| (e, Shape::Utf8Text);
        let (my, pg) = (Engine::MySql, Engine::Postgres);
        assert_eq!(check_form(utf8(my), utf8(pg), true), CheckForm::Utf8);
        assert_eq!(check_form(utf8(pg), utf8(my), true), CheckForm::Utf8);
        assert_eq!(check_form(utf8(my), utf8(my), true), CheckForm::Utf8);
        let col = |expr: &str, form, shape| CheckColumn {
            class: if form == CheckForm::Utf8 { Class::Text } else { Class::Int },
            expr: expr.to_owned(),
            form,
            shape,
            not_null: false,
        };
        let cols = [
            col("a", CheckForm::Utf8, Shape::Utf8Text),
            col("b", CheckForm::Digits, Shape::Int),
            col("c", CheckForm::Utf8, Shape::Utf8Text),
            col("d", CheckForm::Digits, Shape::Int),
        ];
        assert_eq!(
            check_row(&MySql, &cols),
            "CONCAT(COALESCE(b, 'N'), ',', COALESCE(d, 'N'), ';', \
             COALESCE(a, CAST(X'FE' AS BINARY)), CAST(X'FF' AS BINARY), \
             COALESCE(c, CAST(X'FE' AS BINARY)), CAST(X'FF' AS BINARY))"
        );
        assert_eq!(
            check_row(&Postgres, &cols),
            "textsend(COALESCE(CAST(b AS text), 'N') || ',' || COALESCE(CAST(d AS text), 'N') || ';') \
             || COALESCE(textsend(a), decode('fe', 'hex')) || decode('ff', 'hex') \
             || COALESCE(textsend(c), decode('fe', 'hex')) || decode('ff', 'hex')"
        );
        // Without a framed column the row stays text, as before.
        assert_eq!(check_row(&Postgres, &cols[1..2]), "COALESCE(CAST(b AS text), 'N') || ';'");
    }

    #[test]
    fn not_null_columns_lose_their_null_test_except_in_the_canonical_form() {
        let col = |expr: &str, form, shape, class| CheckColumn {
            class,
            expr: expr.to_owned(),
            form,
            shape,
            not_null: true,
        };
        let cols = [
            col("a", CheckForm::Utf8, Shape::Utf8Text, Class::Text),
            col("b", CheckForm::Digits, Shape::Int, Class::Int),
            // A conversion can give NULL for a value (a MariaDB zero date): the test stays.
            col("t", CheckForm::Canon, Shape::Other, Class::Timestamp),
        ];
        assert_eq!(
            check_row(&MySql, &cols),
            "CONCAT(b, ',', COALESCE(CONCAT(CAST(CHAR_LENGTH(CAST(TIMESTAMPDIFF(MICROSECOND, \
             '1970-01-01 00:00:00', t) AS CHAR)) AS CHAR), ':', CAST(TIMESTAMPDIFF(MICROSECOND, \
             '1970-01-01 00:00:00', t) AS CHAR)), 'N'), ';', a, CAST(X'FF' AS BINARY))"
        );
        assert_eq!(
            check_row(&Postgres, &cols[..2]),
            "textsend(CAST(b AS text) || ';') || textsend(a) || decode('ff', 'hex')"
        );
    }
}
