//! New `/tracks`: the `tracks` table with prices in integer cents; a track on an invoice line
//! cannot be deleted.

use axum::Json;
use axum::extract::State;

use super::{AppState, delete_error, insert_error, write_error};
use crate::api::idempotency::{KeyStore, KeyedRequest};
use crate::api::problem::with_retry;
use crate::api::{
    Answer, ApiJson, AuthoritativeId, Cents, Id, IdempotencyKey, Page, Paging, Problem, Track,
    TrackInput,
};

macro_rules! columns {
    () => {
        "id, name, album_id, media_type_id, genre_id, composer, milliseconds, bytes, \
         unit_price_cents"
    };
}

const COUNT: &str = "SELECT COUNT(*) FROM tracks";
const LIST: &str = concat!("SELECT ", columns!(), " FROM tracks ORDER BY id LIMIT ? OFFSET ?");
const GET: &str = concat!("SELECT ", columns!(), " FROM tracks WHERE id = ?");
const EXISTS: &str = "SELECT id FROM tracks WHERE id = ?";
const INSERT: &str = concat!(
    "INSERT INTO tracks (",
    columns!(),
    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
);
const UPDATE: &str = "UPDATE tracks SET name = ?, album_id = ?, media_type_id = ?, genre_id = ?, \
     composer = ?, milliseconds = ?, bytes = ?, unit_price_cents = ? WHERE id = ?";
const ON_INVOICE: &str = "SELECT id FROM invoice_lines WHERE track_id = ? LIMIT 1";
const DELETE: &str = "DELETE FROM tracks WHERE id = ?";

type Row = (i64, String, Option<i64>, i64, Option<i64>, Option<String>, i64, Option<i64>, i64);

fn from_row(r: Row) -> Track {
    Track {
        id: r.0,
        name: r.1,
        album_id: r.2,
        media_type_id: r.3,
        genre_id: r.4,
        composer: r.5,
        milliseconds: r.6,
        bytes: r.7,
        unit_price: Cents(r.8),
    }
}

/// `GET /tracks?limit&offset` → a page of tracks ordered by id.
pub(super) async fn list(
    State(state): State<AppState>,
    paging: Paging,
) -> Result<Json<Page<Track>>, Problem> {
    let mut tx = state.pool.begin().await?;
    let (total,): (i64,) = sqlx::query_as(COUNT).fetch_one(&mut *tx).await?;
    let rows: Vec<Row> =
        sqlx::query_as(LIST).bind(paging.limit).bind(paging.offset).fetch_all(&mut *tx).await?;
    tx.commit().await?;
    let items = rows.into_iter().map(from_row).collect();
    Ok(Json(Page { items, limit: paging.limit, offset: paging.offset, total }))
}

/// `GET /tracks/{id}` → the track, or 404.
pub(super) async fn get(State(state): State<AppState>, Id(id): Id) -> Result<Json<Track>, Problem> {
    let row: Option<Row> = sqlx::query_as(GET).bind(id).fetch_optional(&state.pool).await?;
    row.map(|r| Json(from_row(r))).ok_or_else(|| Problem::not_found("track", id))
}

/// `POST /tracks` → 201 with the track; 409 if `Ficus-Authoritative-Id` names an existing track;
/// 422 for an invalid body.
pub(super) async fn create(
    State(state): State<AppState>,
    IdempotencyKey(key): IdempotencyKey,
    AuthoritativeId(asked): AuthoritativeId,
    ApiJson(input): ApiJson<TrackInput>,
) -> Result<Answer, Problem> {
    input.validate()?;
    with_retry(|| insert(&state, key.as_ref(), asked, &input)).await
}

async fn insert(
    state: &AppState,
    key: Option<&KeyedRequest>,
    asked: Option<i64>,
    input: &TrackInput,
) -> Result<Answer, Problem> {
    let (_guard, mut tx) = state.begin_write().await?;
    if let Some(answer) = tx.replay_or_claim(key).await? {
        return Ok(answer);
    }
    if let Some(id) = asked
        && sqlx::query(EXISTS).bind(id).fetch_optional(&mut *tx).await?.is_some()
    {
        return Err(Problem::conflict(format!("track {id} already exists")));
    }
    let (id,): (i64,) = sqlx::query_as(INSERT)
        .bind(asked)
        .bind(&input.name)
        .bind(input.album_id)
        .bind(input.media_type_id)
        .bind(input.genre_id)
        .bind(&input.composer)
        .bind(input.milliseconds)
        .bind(input.bytes)
        .bind(input.unit_price.0)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| insert_error(e, "track", asked))?;
    let answer = Answer::created("/tracks", id, &input.clone().into_track(id))?;
    tx.record(key, &answer).await?;
    tx.commit().await?;
    Ok(answer)
}

/// `PUT /tracks/{id}` → 200 with the replaced track; 404 if absent; 422 as for create.
pub(super) async fn replace(
    State(state): State<AppState>,
    IdempotencyKey(key): IdempotencyKey,
    Id(id): Id,
    ApiJson(input): ApiJson<TrackInput>,
) -> Result<Answer, Problem> {
    input.validate()?;
    with_retry(|| update(&state, key.as_ref(), id, &input)).await
}

async fn update(
    state: &AppState,
    key: Option<&KeyedRequest>,
    id: i64,
    input: &TrackInput,
) -> Result<Answer, Problem> {
    let (_guard, mut tx) = state.begin_write().await?;
    if let Some(answer) = tx.replay_or_claim(key).await? {
        return Ok(answer);
    }
    let done = sqlx::query(UPDATE)
        .bind(&input.name)
        .bind(input.album_id)
        .bind(input.media_type_id)
        .bind(input.genre_id)
        .bind(&input.composer)
        .bind(input.milliseconds)
        .bind(input.bytes)
        .bind(input.unit_price.0)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(write_error)?;
    if done.rows_affected() == 0 {
        return Err(Problem::not_found("track", id));
    }
    let answer = Answer::ok(&input.clone().into_track(id))?;
    tx.record(key, &answer).await?;
    tx.commit().await?;
    Ok(answer)
}

/// `DELETE /tracks/{id}` → 204; 404 if absent; 409 if the track is on an invoice line.
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
        return Err(Problem::not_found("track", id));
    }
    if sqlx::query(ON_INVOICE).bind(id).fetch_optional(&mut *tx).await?.is_some() {
        return Err(Problem::conflict(format!("track {id} is on invoice lines")));
    }
    sqlx::query(DELETE)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| delete_error(e, "track", id))?;
    let answer = Answer::no_content();
    tx.record(key, &answer).await?;
    tx.commit().await?;
    Ok(answer)
}
