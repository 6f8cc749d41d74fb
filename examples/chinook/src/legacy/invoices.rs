//! Legacy `/invoices`: the shipped `Invoice` and `InvoiceLine` tables; line prices come from
//! `Track`, the total is summed in cents, header and lines are written in one transaction.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;

use super::{AppState, BeginWrite, cents, delete_error, insert_error, timestamp, write_error};
use crate::api::idempotency::{KeyStore, KeyedRequest};
use crate::api::model::price_lines;
use crate::api::problem::with_retry;
use crate::api::{
    Answer, ApiJson, AuthoritativeId, Cents, Id, IdempotencyKey, Invoice, InvoiceInput,
    InvoiceLine, Page, Paging, Problem,
};

macro_rules! columns {
    () => {
        "InvoiceId, CustomerId, CAST(InvoiceDate AS CHAR), BillingAddress, BillingCity, \
         BillingState, BillingCountry, BillingPostalCode, CAST(Total AS CHAR)"
    };
}

macro_rules! line_columns {
    () => {
        "InvoiceLineId, InvoiceId, TrackId, CAST(UnitPrice AS CHAR), Quantity"
    };
}

const COUNT: &str = "SELECT COUNT(*) FROM Invoice";
const LIST: &str =
    concat!("SELECT ", columns!(), " FROM Invoice ORDER BY InvoiceId LIMIT ? OFFSET ?");
const GET: &str = concat!("SELECT ", columns!(), " FROM Invoice WHERE InvoiceId = ?");
const LINES_BETWEEN: &str = concat!(
    "SELECT ",
    line_columns!(),
    " FROM InvoiceLine WHERE InvoiceId BETWEEN ? AND ? ORDER BY InvoiceId, InvoiceLineId"
);
const LINES_OF: &str = concat!(
    "SELECT ",
    line_columns!(),
    " FROM InvoiceLine WHERE InvoiceId = ? ORDER BY InvoiceLineId"
);
const EXISTS: &str = "SELECT InvoiceId FROM Invoice WHERE InvoiceId = ?";
const NEXT_ID: &str = "SELECT COALESCE(MAX(InvoiceId), 0) + 1 FROM Invoice";
const NEXT_LINE_ID: &str = "SELECT COALESCE(MAX(InvoiceLineId), 0) + 1 FROM InvoiceLine";
const CUSTOMER_EXISTS: &str = "SELECT CustomerId FROM Customer WHERE CustomerId = ?";
const TRACK_PRICE: &str = "SELECT CAST(UnitPrice AS CHAR) FROM Track WHERE TrackId = ?";
const INSERT: &str = "INSERT INTO Invoice (InvoiceId, CustomerId, InvoiceDate, BillingAddress, \
     BillingCity, BillingState, BillingCountry, BillingPostalCode, Total) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ? / 100.0)";
const UPDATE: &str = "UPDATE Invoice SET CustomerId = ?, InvoiceDate = ?, BillingAddress = ?, \
     BillingCity = ?, BillingState = ?, BillingCountry = ?, BillingPostalCode = ?, \
     Total = ? / 100.0 WHERE InvoiceId = ?";
const INSERT_LINE: &str = "INSERT INTO InvoiceLine (InvoiceLineId, InvoiceId, TrackId, UnitPrice, \
     Quantity) VALUES (?, ?, ?, ? / 100.0, ?)";
const DELETE_LINES: &str = "DELETE FROM InvoiceLine WHERE InvoiceId = ?";
const DELETE: &str = "DELETE FROM Invoice WHERE InvoiceId = ?";

type Row = (
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

type LineRow = (i64, i64, i64, String, i64);

fn from_rows(r: Row, lines: Vec<InvoiceLine>) -> Result<Invoice, Problem> {
    Ok(Invoice {
        id: r.0,
        customer_id: r.1,
        invoice_date: timestamp(&r.2)?,
        billing_address: r.3,
        billing_city: r.4,
        billing_state: r.5,
        billing_country: r.6,
        billing_postal_code: r.7,
        total: cents(&r.8)?,
        lines,
    })
}

fn line_from_row(r: &LineRow) -> Result<InvoiceLine, Problem> {
    Ok(InvoiceLine { id: r.0, track_id: r.2, unit_price: cents(&r.3)?, quantity: r.4 })
}

/// Assembles invoices from header rows and their line rows (lines in line-id order).
fn assemble(rows: Vec<Row>, line_rows: &[LineRow]) -> Result<Vec<Invoice>, Problem> {
    let mut by_invoice: HashMap<i64, Vec<InvoiceLine>> = HashMap::new();
    for line in line_rows {
        by_invoice.entry(line.1).or_default().push(line_from_row(line)?);
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
    let (total, rows, lines) = on_engine!(&state.db, |pool| {
        let mut tx = pool.begin().await?;
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
        (total, rows, lines)
    });
    let items = assemble(rows, &lines)?;
    Ok(Json(Page { items, limit: paging.limit, offset: paging.offset, total }))
}

/// `GET /invoices/{id}` → the invoice with its lines, or 404.
pub(super) async fn get(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<Json<Invoice>, Problem> {
    let (row, lines) = on_engine!(&state.db, |pool| {
        let mut tx = pool.begin().await?;
        let row: Option<Row> = sqlx::query_as(GET).bind(id).fetch_optional(&mut *tx).await?;
        let lines: Vec<LineRow> = match row {
            Some(_) => sqlx::query_as(LINES_OF).bind(id).fetch_all(&mut *tx).await?,
            None => Vec::new(),
        };
        tx.commit().await?;
        (row, lines)
    });
    let row = row.ok_or_else(|| Problem::not_found("invoice", id))?;
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
    let _guard = state.write_guard().await;
    on_engine!(&state.db, |pool| {
        let mut tx = pool.begin_write().await?;
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
                let text: Option<(String,)> = sqlx::query_as(TRACK_PRICE)
                    .bind(line.track_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let price = match text {
                    Some((text,)) => Some(cents(&text)?),
                    None => None,
                };
                e.insert(price);
            }
            prices.push(known.get(&line.track_id).copied().flatten());
        }
        let (unit_prices, total) = price_lines(&input.lines, &prices)?;
        let date = input.invoice_date.to_legacy();
        let id = match how {
            Write::Create { asked: Some(id) } => {
                if sqlx::query(EXISTS).bind(id).fetch_optional(&mut *tx).await?.is_some() {
                    return Err(Problem::conflict(format!("invoice {id} already exists")));
                }
                id
            }
            Write::Create { asked: None } => {
                sqlx::query_as::<_, (i64,)>(NEXT_ID).fetch_one(&mut *tx).await?.0
            }
            Write::Replace { id } => id,
        };
        match how {
            Write::Create { asked } => {
                sqlx::query(INSERT)
                    .bind(id)
                    .bind(customer)
                    .bind(&date)
                    .bind(&input.billing_address)
                    .bind(&input.billing_city)
                    .bind(&input.billing_state)
                    .bind(&input.billing_country)
                    .bind(&input.billing_postal_code)
                    .bind(total.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| insert_error(e, "invoice", id, asked.is_some()))?;
            }
            Write::Replace { .. } => {
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
            }
        }
        let mut lines = Vec::with_capacity(input.lines.len());
        if !input.lines.is_empty() {
            let (mut line_id,): (i64,) = sqlx::query_as(NEXT_LINE_ID).fetch_one(&mut *tx).await?;
            for (line, unit_price) in input.lines.iter().zip(unit_prices) {
                sqlx::query(INSERT_LINE)
                    .bind(line_id)
                    .bind(id)
                    .bind(line.track_id)
                    .bind(unit_price.0)
                    .bind(line.quantity)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| insert_error(e, "invoice line", line_id, false))?;
                lines.push(InvoiceLine {
                    id: line_id,
                    track_id: line.track_id,
                    unit_price,
                    quantity: line.quantity,
                });
                line_id += 1;
            }
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
    })
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
    let _guard = state.write_guard().await;
    on_engine!(&state.db, |pool| {
        let mut tx = pool.begin_write().await?;
        if let Some(answer) = tx.replay_or_claim(key).await? {
            return Ok(answer);
        }
        if sqlx::query(EXISTS).bind(id).fetch_optional(&mut *tx).await?.is_none() {
            return Err(Problem::not_found("invoice", id));
        }
        sqlx::query(DELETE_LINES).bind(id).execute(&mut *tx).await?;
        sqlx::query(DELETE)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| delete_error(e, "invoice", id))?;
        let answer = Answer::no_content();
        tx.record(key, &answer).await?;
        tx.commit().await?;
        Ok(answer)
    })
}
