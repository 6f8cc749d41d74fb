//! Legacy `/tracks`: the shipped `Track` table; album, media type and genre must exist, and a
//! track on an invoice line cannot be deleted (playlist entries go with it).

use axum::Json;
use axum::extract::State;

use super::{AppState, BeginWrite, cents, delete_error, insert_error, write_error};
use crate::api::idempotency::{KeyStore, KeyedRequest};
use crate::api::problem::with_retry;
use crate::api::{
    Answer, ApiJson, AuthoritativeId, Id, IdempotencyKey, Page, Paging, Problem, Track, TrackInput,
};

macro_rules! columns {
    () => {
        "TrackId, Name, AlbumId, MediaTypeId, GenreId, Composer, Milliseconds, Bytes, \
         CAST(UnitPrice AS CHAR)"
    };
}

const COUNT: &str = "SELECT COUNT(*) FROM Track";
const LIST: &str = concat!("SELECT ", columns!(), " FROM Track ORDER BY TrackId LIMIT ? OFFSET ?");
const GET: &str = concat!("SELECT ", columns!(), " FROM Track WHERE TrackId = ?");
const EXISTS: &str = "SELECT TrackId FROM Track WHERE TrackId = ?";
const NEXT_ID: &str = "SELECT COALESCE(MAX(TrackId), 0) + 1 FROM Track";
const ALBUM_EXISTS: &str = "SELECT AlbumId FROM Album WHERE AlbumId = ?";
const MEDIA_TYPE_EXISTS: &str = "SELECT MediaTypeId FROM MediaType WHERE MediaTypeId = ?";
const GENRE_EXISTS: &str = "SELECT GenreId FROM Genre WHERE GenreId = ?";
const INSERT: &str = "INSERT INTO Track (TrackId, Name, AlbumId, MediaTypeId, GenreId, Composer, \
     Milliseconds, Bytes, UnitPrice) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ? / 100.0)";
const UPDATE: &str = "UPDATE Track SET Name = ?, AlbumId = ?, MediaTypeId = ?, GenreId = ?, \
     Composer = ?, Milliseconds = ?, Bytes = ?, UnitPrice = ? / 100.0 WHERE TrackId = ?";
const ON_INVOICE: &str = "SELECT InvoiceLineId FROM InvoiceLine WHERE TrackId = ? LIMIT 1";
const DELETE_FROM_PLAYLISTS: &str = "DELETE FROM PlaylistTrack WHERE TrackId = ?";
const DELETE: &str = "DELETE FROM Track WHERE TrackId = ?";

type Row = (i64, String, Option<i64>, i64, Option<i64>, Option<String>, i64, Option<i64>, String);

fn from_row(r: Row) -> Result<Track, Problem> {
    Ok(Track {
        id: r.0,
        name: r.1,
        album_id: r.2,
        media_type_id: r.3,
        genre_id: r.4,
        composer: r.5,
        milliseconds: r.6,
        bytes: r.7,
        unit_price: cents(&r.8)?,
    })
}

/// `GET /tracks?limit&offset` → a page of tracks ordered by id.
pub(super) async fn list(
    State(state): State<AppState>,
    paging: Paging,
) -> Result<Json<Page<Track>>, Problem> {
    let (total, rows) = on_engine!(&state.db, |pool| {
        let mut tx = pool.begin().await?;
        let (total,): (i64,) = sqlx::query_as(COUNT).fetch_one(&mut *tx).await?;
        let rows: Vec<Row> =
            sqlx::query_as(LIST).bind(paging.limit).bind(paging.offset).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        (total, rows)
    });
    let items = rows.into_iter().map(from_row).collect::<Result<_, _>>()?;
    Ok(Json(Page { items, limit: paging.limit, offset: paging.offset, total }))
}

/// `GET /tracks/{id}` → the track, or 404.
pub(super) async fn get(State(state): State<AppState>, Id(id): Id) -> Result<Json<Track>, Problem> {
    let row: Option<Row> =
        on_engine!(&state.db, |pool| sqlx::query_as(GET).bind(id).fetch_optional(pool).await?);
    match row {
        Some(r) => Ok(Json(from_row(r)?)),
        None => Err(Problem::not_found("track", id)),
    }
}

/// `POST /tracks` → 201 with the track; 409 if `Ficus-Authoritative-Id` names an existing track;
/// 422 for an invalid body or an unknown album, media type or genre. Honours `Idempotency-Key`.
pub(super) async fn create(
    State(state): State<AppState>,
    IdempotencyKey(key): IdempotencyKey,
    AuthoritativeId(asked): AuthoritativeId,
    ApiJson(input): ApiJson<TrackInput>,
) -> Result<Answer, Problem> {
    input.validate()?;
    with_retry(|| insert(&state, key.as_ref(), asked, &input)).await
}

/// Checks inside `$tx` that the album, media type and genre of `$input` exist (422 if not).
macro_rules! check_references {
    ($tx:expr, $input:expr) => {
        if let Some(album) = $input.album_id {
            if sqlx::query(ALBUM_EXISTS).bind(album).fetch_optional(&mut *$tx).await?.is_none() {
                return Err(unknown("album_id", "album", album));
            }
        }
        let media_type = $input.media_type_id;
        if sqlx::query(MEDIA_TYPE_EXISTS)
            .bind(media_type)
            .fetch_optional(&mut *$tx)
            .await?
            .is_none()
        {
            return Err(unknown("media_type_id", "media type", media_type));
        }
        if let Some(genre) = $input.genre_id {
            if sqlx::query(GENRE_EXISTS).bind(genre).fetch_optional(&mut *$tx).await?.is_none() {
                return Err(unknown("genre_id", "genre", genre));
            }
        }
    };
}

async fn insert(
    state: &AppState,
    key: Option<&KeyedRequest>,
    asked: Option<i64>,
    input: &TrackInput,
) -> Result<Answer, Problem> {
    let _guard = state.write_guard().await;
    on_engine!(&state.db, |pool| {
        let mut tx = pool.begin_write().await?;
        if let Some(answer) = tx.replay_or_claim(key).await? {
            return Ok(answer);
        }
        check_references!(tx, input);
        let id = match asked {
            Some(id) => {
                if sqlx::query(EXISTS).bind(id).fetch_optional(&mut *tx).await?.is_some() {
                    return Err(Problem::conflict(format!("track {id} already exists")));
                }
                id
            }
            None => sqlx::query_as::<_, (i64,)>(NEXT_ID).fetch_one(&mut *tx).await?.0,
        };
        sqlx::query(INSERT)
            .bind(id)
            .bind(&input.name)
            .bind(input.album_id)
            .bind(input.media_type_id)
            .bind(input.genre_id)
            .bind(&input.composer)
            .bind(input.milliseconds)
            .bind(input.bytes)
            .bind(input.unit_price.0)
            .execute(&mut *tx)
            .await
            .map_err(|e| insert_error(e, "track", id, asked.is_some()))?;
        let answer = Answer::created("/tracks", id, &input.clone().into_track(id))?;
        tx.record(key, &answer).await?;
        tx.commit().await?;
        Ok(answer)
    })
}

/// `PUT /tracks/{id}` → 200 with the replaced track; 404 if absent; 422 as for create. Honours
/// `Idempotency-Key`.
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
    let _guard = state.write_guard().await;
    on_engine!(&state.db, |pool| {
        let mut tx = pool.begin_write().await?;
        if let Some(answer) = tx.replay_or_claim(key).await? {
            return Ok(answer);
        }
        if sqlx::query(EXISTS).bind(id).fetch_optional(&mut *tx).await?.is_none() {
            return Err(Problem::not_found("track", id));
        }
        check_references!(tx, input);
        sqlx::query(UPDATE)
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
        let answer = Answer::ok(&input.clone().into_track(id))?;
        tx.record(key, &answer).await?;
        tx.commit().await?;
        Ok(answer)
    })
}

/// `DELETE /tracks/{id}` → 204 (its playlist entries are removed too); 404 if absent; 409 if the
/// track is on an invoice line. Honours `Idempotency-Key`.
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
            return Err(Problem::not_found("track", id));
        }
        if sqlx::query(ON_INVOICE).bind(id).fetch_optional(&mut *tx).await?.is_some() {
            return Err(Problem::conflict(format!("track {id} is on invoice lines")));
        }
        sqlx::query(DELETE_FROM_PLAYLISTS).bind(id).execute(&mut *tx).await?;
        sqlx::query(DELETE)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| delete_error(e, "track", id))?;
        let answer = Answer::no_content();
        tx.record(key, &answer).await?;
        tx.commit().await?;
        Ok(answer)
    })
}

fn unknown(field: &str, what: &str, id: i64) -> Problem {
    Problem::unprocessable(format!("{field}: {what} {id} does not exist"))
}
