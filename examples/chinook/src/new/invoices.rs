//! New `/invoices`: the `invoices` and `invoice_lines` tables with money in integer cents; line
//! prices come from `tracks`, header and lines are written in one transaction.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;

use super::{AppState, insert_error, write_error};
use crate::api::idempotency::{KeyStore, KeyedRequest};
use crate::api::model::price_lines;
use crate::api::problem::with_retry;
use crate::api::{
    Answer, ApiJson, AuthoritativeId, Cents, Id, IdempotencyKey, Invoice, InvoiceInput,
    InvoiceLine, Page, Paging, Problem, Timestamp,
};

macro_rules! columns {
    () => {
        "id, customer_id, invoice_date, billing_address, billing_city, billing_state, \
         billing_country, billing_postal_code, total_cents"
    };
}

macro_rules! line_columns {
    () => {
        "id, invoice_id, track_id, unit_price_cents, quantity"
    };
}

const COUNT: &str = "SELECT COUNT(*) FROM invoices";
const LIST: &str = concat!("SELECT ", columns!(), " FROM invoices ORDER BY id LIMIT ? OFFSET ?");
const GET: &str = concat!("SELECT ", columns!(), " FROM invoices WHERE id = ?");
const LINES_BETWEEN: &str = concat!(
    "SELECT ",
    line_columns!(),
    " FROM invoice_lines WHERE invoice_id BETWEEN ? AND ? ORDER BY invoice_id, id"
);
const LINES_OF: &str =
    concat!("SELECT ", line_columns!(), " FROM invoice_lines WHERE invoice_id = ? ORDER BY id");
const EXISTS: &str = "SELECT id FROM invoices WHERE id = ?";
const CUSTOMER_EXISTS: &str = "SELECT id FROM customers WHERE id = ?";
const TRACK_PRICE: &str = "SELECT unit_price_cents FROM tracks WHERE id = ?";
const INSERT: &str = concat!(
    "INSERT INTO invoices (",
    columns!(),
    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
);
const UPDATE: &str = "UPDATE invoices SET customer_id = ?, invoice_date = ?, billing_address = ?, \
     billing_city = ?, billing_state = ?, billing_country = ?, billing_postal_code = ?, \
     total_cents = ? WHERE id = ?";
const INSERT_LINE: &str = "INSERT INTO invoice_lines (invoice_id, track_id, unit_price_cents, \
     quantity) VALUES (?, ?, ?, ?) RETURNING id";
const DELETE_LINES: &str = "DELETE FROM invoice_lines WHERE invoice_id = ?";
const DELETE: &str = "DELETE FROM invoices WHERE id = ?";

type Row = (
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
);

type LineRow = (i64, i64, i64, i64, i64);

fn from_rows(r: Row, lines: Vec<InvoiceLine>) -> Result<Invoice, Problem> {
    let invoice_date = Timestamp::parse_rfc3339(&r.2).map_err(|error| {
        tracing::error!(%error, "bad invoice_date in the new database");
        Problem::internal()
    })?;
    Ok(Invoice {
        id: r.0,
        customer_id: r.1,
        invoice_date,
        billing_address: r.3,
        billing_city: r.4,
        billing_state: r.5,
        billing_country: r.6,
        billing_postal_code: r.7,
        total: Cents(r.8),
        lines,
    })
}

/// Assembles invoices from header rows and their line rows (lines in line-id order).
fn assemble(rows: Vec<Row>, line_rows: &[LineRow]) -> Result<Vec<Invoice>, Problem> {
    let mut by_invoice: HashMap<i64, Vec<InvoiceLine>> = HashMap::new();
    for &(id, invoice_id, track_id, unit_price, quantity) in line_rows {
        by_invoice.entry(invoice_id).or_default().push(InvoiceLine {
            id,
            track_id,
            unit_price: Cents(unit_price),
            quantity,
        });
    }
    rows.into_iter()
        .map(|r| {
            let lines = by_invoice.remove(&r.0).unwrap_or_default();
            from_rows(r, lines)
        })
        .collect()
}

/// `GET /invoices?limit&offset` → a page of invoices (with lines) ordered by id.
pub(super) async fn list(
    State(state): State<AppState>,
    paging: Paging,
) -> Result<Json<Page<Invoice>>, Problem> {
    let mut tx = state.pool.begin().await?;
    let (total,): (i64,) = sqlx::query_as(COUNT).fetch_one(&mut *tx).await?;
    let rows: Vec<Row> =
        sqlx::query_as(LIST).bind(paging.limit).bind(paging.offset).fetch_all(&mut *tx).await?;
    let lines: Vec<LineRow> = match (rows.first(), rows.last()) {
        (Some(first), Some(last)) => {
            sqlx::query_as(LINES_BETWEEN).bind(first.0).bind(last.0).fetch_all(&mut *tx).await?
        }
        _ => Vec::new(),
    };
    tx.commit().await?;
    let items = assemble(rows, &lines)?;
    Ok(Json(Page { items, limit: paging.limit, offset: paging.offset, total }))
}

/// `GET /invoices/{id}` → the invoice with its lines, or 404.
pub(super) async fn get(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<Json<Invoice>, Problem> {
    let mut tx = state.pool.begin().await?;
    let row: Option<Row> = sqlx::query_as(GET).bind(id).fetch_optional(&mut *tx).await?;
    let Some(row) = row else {
        return Err(Problem::not_found("invoice", id));
    };
    let lines: Vec<LineRow> = sqlx::query_as(LINES_OF).bind(id).fetch_all(&mut *tx).await?;
    tx.commit().await?;
    let mut invoices = assemble(vec![row], &lines)?;
    invoices.pop().map(Json).ok_or_else(Problem::internal)
}

/// `POST /invoices` → 201 with the invoice; 409 if `Ficus-Authoritative-Id` names an existing
/// invoice; 422 for an invalid body, an unknown customer or track, or a total above
/// 99 999 999.99. Honours `Idempotency-Key`.
pub(super) async fn create(
    State(state): State<AppState>,
    IdempotencyKey(key): IdempotencyKey,
    AuthoritativeId(asked): AuthoritativeId,
    ApiJson(input): ApiJson<InvoiceInput>,
) -> Result<Answer, Problem> {
    input.validate()?;
    with_retry(|| write(&state, key.as_ref(), Write::Create { asked }, &input)).await
}

/// `PUT /invoices/{id}` → 200 with the invoice, header and lines replaced (lines get new ids,
/// prices from the tracks now); 404 if absent; 422 as for create. Honours `Idempotency-Key`.
pub(super) async fn replace(
    State(state): State<AppState>,
    IdempotencyKey(key): IdempotencyKey,
    Id(id): Id,
    ApiJson(input): ApiJson<InvoiceInput>,
) -> Result<Answer, Problem> {
    input.validate()?;
    with_retry(|| write(&state, key.as_ref(), Write::Replace { id }, &input)).await
}

#[derive(Clone, Copy)]
enum Write {
    Create { asked: Option<i64> },
    Replace { id: i64 },
}

async fn write(
    state: &AppState,
    key: Option<&KeyedRequest>,
    how: Write,
    input: &InvoiceInput,
) -> Result<Answer, Problem> {
    let (_guard, mut tx) = state.begin_write().await?;
    if let Some(answer) = tx.replay_or_claim(key).await? {
        return Ok(answer);
    }
    if let Write::Replace { id } = how
        && sqlx::query(EXISTS).bind(id).fetch_optional(&mut *tx).await?.is_none()
    {
        return Err(Problem::not_found("invoice", id));
    }
    let customer = input.customer_id;
    if sqlx::query(CUSTOMER_EXISTS).bind(customer).fetch_optional(&mut *tx).await?.is_none() {
        return Err(Problem::unprocessable(format!(
            "customer_id: customer {customer} does not exist"
        )));
    }
    let mut known: HashMap<i64, Option<Cents>> = HashMap::new();
    let mut prices = Vec::with_capacity(input.lines.len());
    for line in &input.lines {
        if let std::collections::hash_map::Entry::Vacant(e) = known.entry(line.track_id) {
            let price: Option<(i64,)> =
                sqlx::query_as(TRACK_PRICE).bind(line.track_id).fetch_optional(&mut *tx).await?;
            e.insert(price.map(|(cents,)| Cents(cents)));
        }
        prices.push(known.get(&line.track_id).copied().flatten());
    }
    let (unit_prices, total) = price_lines(&input.lines, &prices)?;
    let date = input.invoice_date.to_rfc3339();
    let id = match how {
        Write::Create { asked } => {
            if let Some(id) = asked
                && sqlx::query(EXISTS).bind(id).fetch_optional(&mut *tx).await?.is_some()
            {
                return Err(Problem::conflict(format!("invoice {id} already exists")));
            }
            let (id,): (i64,) = sqlx::query_as(INSERT)
                .bind(asked)
                .bind(customer)
                .bind(&date)
                .bind(&input.billing_address)
                .bind(&input.billing_city)
                .bind(&input.billing_state)
                .bind(&input.billing_country)
                .bind(&input.billing_postal_code)
                .bind(total.0)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| insert_error(e, "invoice", asked))?;
            id
        }
        Write::Replace { id } => {
            sqlx::query(UPDATE)
                .bind(customer)
                .bind(&date)
                .bind(&input.billing_address)
                .bind(&input.billing_city)
                .bind(&input.billing_state)
                .bind(&input.billing_country)
                .bind(&input.billing_postal_code)
                .bind(total.0)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(write_error)?;
            sqlx::query(DELETE_LINES).bind(id).execute(&mut *tx).await?;
            id
        }
    };
    let mut lines = Vec::with_capacity(input.lines.len());
    for (line, unit_price) in input.lines.iter().zip(unit_prices) {
        let (line_id,): (i64,) = sqlx::query_as(INSERT_LINE)
            .bind(id)
            .bind(line.track_id)
            .bind(unit_price.0)
            .bind(line.quantity)
            .fetch_one(&mut *tx)
            .await
            .map_err(write_error)?;
        lines.push(InvoiceLine {
            id: line_id,
            track_id: line.track_id,
            unit_price,
            quantity: line.quantity,
        });
    }
    let invoice = Invoice {
        id,
        customer_id: customer,
        invoice_date: input.invoice_date,
        billing_address: input.billing_address.clone(),
        billing_city: input.billing_city.clone(),
        billing_state: input.billing_state.clone(),
        billing_country: input.billing_country.clone(),
        billing_postal_code: input.billing_postal_code.clone(),
        total,
        lines,
    };
    let answer = match how {
        Write::Create { .. } => Answer::created("/invoices", id, &invoice)?,
        Write::Replace { .. } => Answer::ok(&invoice)?,
    };
    tx.record(key, &answer).await?;
    tx.commit().await?;
    Ok(answer)
}

/// `DELETE /invoices/{id}` → 204, its lines deleted with it; 404 if absent. Honours
/// `Idempotency-Key`.
pub(super) async fn delete(
    State(state): State<AppState>,
    IdempotencyKey(key): IdempotencyKey,
    Id(id): Id,
) -> Result<Answer, Problem> {
    with_retry(|| remove(&state, key.as_ref(), id)).await
}

async fn remove(state: &AppState, key: Option<&KeyedRequest>, id: i64) -> Result<Answer, Problem> {
    let (_guard, mut tx) = state.begin_write().await?;
    if let Some(answer) = tx.replay_or_claim(key).await? {
        return Ok(answer);
    }
    sqlx::query(DELETE_LINES).bind(id).execute(&mut *tx).await?;
    let done = sqlx::query(DELETE).bind(id).execute(&mut *tx).await?;
    if done.rows_affected() == 0 {
        return Err(Problem::not_found("invoice", id));
    }
    let answer = Answer::no_content();
    tx.record(key, &answer).await?;
    tx.commit().await?;
    Ok(answer)
}
