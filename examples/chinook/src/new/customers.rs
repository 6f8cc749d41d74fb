//! New `/customers`: the `customers` table; a customer with invoices cannot be deleted.

use axum::Json;
use axum::extract::State;

use super::{AppState, delete_error, insert_error, write_error};
use crate::api::idempotency::{KeyStore, KeyedRequest};
use crate::api::problem::with_retry;
use crate::api::{
    Answer, ApiJson, AuthoritativeId, Customer, CustomerInput, Id, IdempotencyKey, Page, Paging,
    Problem,
};

macro_rules! columns {
    () => {
        "id, first_name, last_name, company, address, city, state, country, postal_code, phone, \
         fax, email, support_rep_id"
    };
}

const COUNT: &str = "SELECT COUNT(*) FROM customers";
const LIST: &str = concat!("SELECT ", columns!(), " FROM customers ORDER BY id LIMIT ? OFFSET ?");
const GET: &str = concat!("SELECT ", columns!(), " FROM customers WHERE id = ?");
const EXISTS: &str = "SELECT id FROM customers WHERE id = ?";
const INSERT: &str = concat!(
    "INSERT INTO customers (",
    columns!(),
    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
);
const UPDATE: &str = "UPDATE customers SET first_name = ?, last_name = ?, company = ?, \
     address = ?, city = ?, state = ?, country = ?, postal_code = ?, phone = ?, fax = ?, \
     email = ?, support_rep_id = ? WHERE id = ?";
const HAS_INVOICES: &str = "SELECT id FROM invoices WHERE customer_id = ? LIMIT 1";
const DELETE: &str = "DELETE FROM customers WHERE id = ?";

type Row = (
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<i64>,
);

fn from_row(r: Row) -> Customer {
    Customer {
        id: r.0,
        first_name: r.1,
        last_name: r.2,
        company: r.3,
        address: r.4,
        city: r.5,
        state: r.6,
        country: r.7,
        postal_code: r.8,
        phone: r.9,
        fax: r.10,
        email: r.11,
        support_rep_id: r.12,
    }
}

/// `GET /customers?limit&offset` → a page of customers ordered by id.
pub(super) async fn list(
    State(state): State<AppState>,
    paging: Paging,
) -> Result<Json<Page<Customer>>, Problem> {
    let mut tx = state.pool.begin().await?;
    let (total,): (i64,) = sqlx::query_as(COUNT).fetch_one(&mut *tx).await?;
    let rows: Vec<Row> =
        sqlx::query_as(LIST).bind(paging.limit).bind(paging.offset).fetch_all(&mut *tx).await?;
    tx.commit().await?;
    let items = rows.into_iter().map(from_row).collect();
    Ok(Json(Page { items, limit: paging.limit, offset: paging.offset, total }))
}

/// `GET /customers/{id}` → the customer, or 404.
pub(super) async fn get(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<Json<Customer>, Problem> {
    let row: Option<Row> = sqlx::query_as(GET).bind(id).fetch_optional(&state.pool).await?;
    row.map(|r| Json(from_row(r))).ok_or_else(|| Problem::not_found("customer", id))
}

/// `POST /customers` → 201 with the customer; 409 if `Ficus-Authoritative-Id` names an existing
/// customer; 422 for an invalid body.
pub(super) async fn create(
    State(state): State<AppState>,
    IdempotencyKey(key): IdempotencyKey,
    AuthoritativeId(asked): AuthoritativeId,
    ApiJson(input): ApiJson<CustomerInput>,
) -> Result<Answer, Problem> {
    input.validate()?;
    with_retry(|| insert(&state, key.as_ref(), asked, &input)).await
}

async fn insert(
    state: &AppState,
    key: Option<&KeyedRequest>,
    asked: Option<i64>,
    input: &CustomerInput,
) -> Result<Answer, Problem> {
    let (_guard, mut tx) = state.begin_write().await?;
    if let Some(answer) = tx.replay_or_claim(key).await? {
        return Ok(answer);
    }
    if let Some(id) = asked
        && sqlx::query(EXISTS).bind(id).fetch_optional(&mut *tx).await?.is_some()
    {
        return Err(Problem::conflict(format!("customer {id} already exists")));
    }
    let (id,): (i64,) = sqlx::query_as(INSERT)
        .bind(asked)
        .bind(&input.first_name)
        .bind(&input.last_name)
        .bind(&input.company)
        .bind(&input.address)
        .bind(&input.city)
        .bind(&input.state)
        .bind(&input.country)
        .bind(&input.postal_code)
        .bind(&input.phone)
        .bind(&input.fax)
        .bind(&input.email)
        .bind(input.support_rep_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| insert_error(e, "customer", asked))?;
    let answer = Answer::created("/customers", id, &input.clone().into_customer(id))?;
    tx.record(key, &answer).await?;
    tx.commit().await?;
    Ok(answer)
}

/// `PUT /customers/{id}` → 200 with the replaced customer; 404 if absent; 422 as for create.
pub(super) async fn replace(
    State(state): State<AppState>,
    IdempotencyKey(key): IdempotencyKey,
    Id(id): Id,
    ApiJson(input): ApiJson<CustomerInput>,
) -> Result<Answer, Problem> {
    input.validate()?;
    with_retry(|| update(&state, key.as_ref(), id, &input)).await
}

async fn update(
    state: &AppState,
    key: Option<&KeyedRequest>,
    id: i64,
    input: &CustomerInput,
) -> Result<Answer, Problem> {
    let (_guard, mut tx) = state.begin_write().await?;
    if let Some(answer) = tx.replay_or_claim(key).await? {
        return Ok(answer);
    }
    let done = sqlx::query(UPDATE)
        .bind(&input.first_name)
        .bind(&input.last_name)
        .bind(&input.company)
        .bind(&input.address)
        .bind(&input.city)
        .bind(&input.state)
        .bind(&input.country)
        .bind(&input.postal_code)
        .bind(&input.phone)
        .bind(&input.fax)
        .bind(&input.email)
        .bind(input.support_rep_id)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(write_error)?;
    if done.rows_affected() == 0 {
        return Err(Problem::not_found("customer", id));
    }
    let answer = Answer::ok(&input.clone().into_customer(id))?;
    tx.record(key, &answer).await?;
    tx.commit().await?;
    Ok(answer)
}

/// `DELETE /customers/{id}` → 204; 404 if absent; 409 if the customer has invoices.
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
    if sqlx::query(EXISTS).bind(id).fetch_optional(&mut *tx).await?.is_none() {
        return Err(Problem::not_found("customer", id));
    }
    if sqlx::query(HAS_INVOICES).bind(id).fetch_optional(&mut *tx).await?.is_some() {
        return Err(Problem::conflict(format!("customer {id} has invoices")));
    }
    sqlx::query(DELETE)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| delete_error(e, "customer", id))?;
    let answer = Answer::no_content();
    tx.record(key, &answer).await?;
    tx.commit().await?;
    Ok(answer)
}
