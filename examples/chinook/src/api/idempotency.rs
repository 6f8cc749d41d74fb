//! The `Idempotency-Key` request header, after the IETF draft "The Idempotency-Key HTTP Header
//! Field" (draft-ietf-httpapi-idempotency-key-header): a client (here: Ficus replaying a write
//! to the other side of a dual write) sends the same key with every retry of one non-idempotent
//! request (`POST`, and `PUT`/`DELETE` whose effects are not safe to repeat blindly), and the
//! resource answers each retry with the outcome of the first execution instead of writing again.
//!
//! How both services implement it:
//!
//! - **Key** (draft §2.1): the field value is a Structured Field String (`"…"`, RFC 8941); a bare
//!   value is accepted too. Keys are compared byte for byte, must be 1-[`MAX_KEY_BYTES`] bytes,
//!   and are scoped to the service (one table per database).
//! - **Fingerprint** (draft §2.2): the request is identified by its method and path; reusing a
//!   key for another method or path is answered 422 (draft §2.7: "Idempotency-Key reused for a
//!   different request").
//! - **Enforcement** (draft §2.6): the lookup of the key, the write and the storing of the key
//!   with the answer (status and body) happen in the *same* database transaction, so either both
//!   the write and its key are committed or neither is. Only successful answers (2xx) are stored:
//!   a failed request writes nothing and stores no key, so its retry is simply evaluated again.
//!   A retry of a stored request gets the stored status and body (and `Location` for a 201)
//!   without touching the data.
//! - **Concurrency** (draft §2.7 suggests 409 for a request still in flight; we do better for
//!   replays): the write first claims the key by inserting its row (primary key). A concurrent
//!   request with the same key blocks on (MariaDB) or is serialized behind (SQLite) that row; when
//!   the first commits, the second's claim fails as a duplicate, its transaction rolls back and is
//!   retried, and the retry answers the stored outcome. Two racing duplicates thus write once.
//! - **Expiry** (draft §2.3): keys are kept; `created_at` lets an operator prune old ones.
//! - A request without the header is not affected.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::problem::{self, Problem};

/// The request header carrying the idempotency key.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// Longest key accepted, in bytes (the key column is `VARCHAR(255)`); longer ones are a 400.
pub const MAX_KEY_BYTES: usize = 255;

/// Detail of the 422 answered when a key comes back with another method or path.
pub const KEY_REUSED: &str = "Idempotency-Key reused for a different request";

/// The key table of the new service and of legacy on SQLite (`CREATE TABLE IF NOT EXISTS`).
pub const SQLITE_TABLE: &str = "CREATE TABLE IF NOT EXISTS idempotency_keys (
    `key`      TEXT NOT NULL PRIMARY KEY,
    method     TEXT NOT NULL,
    path       TEXT NOT NULL,
    status     INTEGER NOT NULL,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)";

/// The key table of legacy on MariaDB/MySQL (`CREATE TABLE IF NOT EXISTS`). The key is ASCII
/// with a binary collation: keys differing only in case are different keys.
pub const MYSQL_TABLE: &str = "CREATE TABLE IF NOT EXISTS idempotency_keys (
    `key`      VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    method     VARCHAR(16) NOT NULL,
    path       VARCHAR(1024) NOT NULL,
    status     INT NOT NULL,
    body       MEDIUMTEXT NOT NULL,
    created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4";

const LOOKUP: &str = "SELECT method, path, status, body FROM idempotency_keys WHERE `key` = ?";
const CLAIM: &str =
    "INSERT INTO idempotency_keys (`key`, method, path, status, body) VALUES (?, ?, ?, 0, '')";
const RECORD: &str = "UPDATE idempotency_keys SET status = ?, body = ? WHERE `key` = ?";

/// A keyed write request: the key and the request it was first used for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedRequest {
    /// The key, unquoted.
    pub key: String,
    /// Request method, e.g. `POST`.
    pub method: String,
    /// Request path without query, e.g. `/customers/7`.
    pub path: String,
}

/// The optional `Idempotency-Key` header of a write, with the request's method and path.
/// Rejection: a key that is empty, not visible ASCII, a malformed quoted string, or longer than
/// [`MAX_KEY_BYTES`] bytes → 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(pub Option<KeyedRequest>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(IDEMPOTENCY_KEY_HEADER) else {
            return Ok(Self(None));
        };
        let key = parse_key(value)?;
        Ok(Self(Some(KeyedRequest {
            key,
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path().to_owned(),
        })))
    }
}

/// Parses an `Idempotency-Key` field value: a Structured Field String (`"abc"`, with `\"` and
/// `\\` escapes) or, leniently, a bare value (`abc`). Errors: 400 as for [`IdempotencyKey`].
pub fn parse_key(value: &HeaderValue) -> Result<String, Problem> {
    let bad = |why: &str| Problem::bad_request(format!("{IDEMPOTENCY_KEY_HEADER}: {why}"));
    let text = value.to_str().map_err(|_| bad("must be visible ASCII"))?.trim();
    let key = match text.strip_prefix('"') {
        Some(quoted) => unquote(quoted).ok_or_else(|| bad("malformed quoted string"))?,
        None => text.to_owned(),
    };
    if key.is_empty() {
        return Err(bad("must not be empty"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(bad(&format!("must be at most {MAX_KEY_BYTES} bytes")));
    }
    Ok(key)
}

/// The content of an RFC 8941 sf-string after its opening quote, or `None` if malformed.
fn unquote(rest: &str) -> Option<String> {
    let mut out = String::with_capacity(rest.len());
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                escaped @ ('"' | '\\') => out.push(escaped),
                _ => return None,
            },
            '"' => return chars.next().is_none().then_some(out),
            c if c == ' ' || c.is_ascii_graphic() => out.push(c),
            _ => return None,
        }
    }
    None
}

/// The answer of a successful write, built inside its transaction so that it can be stored with
/// the key: status, JSON body (empty for 204) and, for 201, `Location`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    status: StatusCode,
    body: String,
    location: Option<String>,
}

impl Answer {
    /// `201 Created`, `Location: {collection}/{id}`, `body` as JSON.
    pub fn created<T: Serialize>(collection: &str, id: i64, body: &T) -> Result<Self, Problem> {
        Ok(Self {
            status: StatusCode::CREATED,
            body: to_json(body)?,
            location: Some(format!("{collection}/{id}")),
        })
    }

    /// `200 OK` with `body` as JSON.
    pub fn ok<T: Serialize>(body: &T) -> Result<Self, Problem> {
        Ok(Self { status: StatusCode::OK, body: to_json(body)?, location: None })
    }

    /// `204 No Content`.
    pub fn no_content() -> Self {
        Self { status: StatusCode::NO_CONTENT, body: String::new(), location: None }
    }

    /// Rebuilds a stored answer of a request to `path`: a 201's `Location` is `path/{id}` with
    /// the `id` of the stored body (creates are posted to the collection).
    fn stored(path: &str, status: i64, body: String) -> Result<Self, Problem> {
        let status = u16::try_from(status)
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .filter(StatusCode::is_success)
            .ok_or_else(|| {
                tracing::error!(status, "bad stored status of an idempotency key");
                Problem::internal()
            })?;
        let location = if status == StatusCode::CREATED {
            let id = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("id").and_then(serde_json::Value::as_i64));
            id.map(|id| format!("{}/{id}", path.trim_end_matches('/')))
        } else {
            None
        };
        Ok(Self { status, body, location })
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

fn to_json<T: Serialize>(body: &T) -> Result<String, Problem> {
    serde_json::to_string(body).map_err(|error| {
        tracing::error!(%error, "cannot serialize an answer");
        Problem::internal()
    })
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        if self.body.is_empty() {
            return self.status.into_response();
        }
        let mut response = (self.status, self.body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(location) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            headers.insert(header::LOCATION, location);
        }
        response
    }
}

/// The key table, used from inside a write transaction (SQLite and MariaDB/MySQL).
///
/// A keyed write runs: [`replay_or_claim`](Self::replay_or_claim) first; if it returns an
/// answer, answer that and write nothing (the transaction is dropped, i.e. rolled back);
/// otherwise do the write, [`record`](Self::record) the answer, commit.
pub(crate) trait KeyStore {
    /// With no key: `Ok(None)`. With a key already stored: its answer, or 422 if it was stored
    /// for another method or path. Otherwise claims the key (inserts its row, completed by
    /// [`record`](Self::record) before commit) and returns `Ok(None)`. A concurrent request that
    /// claimed the key first makes this fail with a retryable problem (the retry replays).
    async fn replay_or_claim(
        &mut self,
        request: Option<&KeyedRequest>,
    ) -> Result<Option<Answer>, Problem>;

    /// Stores `answer` for the key claimed by [`replay_or_claim`](Self::replay_or_claim); no-op
    /// without a key.
    async fn record(
        &mut self,
        request: Option<&KeyedRequest>,
        answer: &Answer,
    ) -> Result<(), Problem>;
}

macro_rules! key_store {
    ($db:ty) => {
        impl KeyStore for sqlx::Transaction<'_, $db> {
            async fn replay_or_claim(
                &mut self,
                request: Option<&KeyedRequest>,
            ) -> Result<Option<Answer>, Problem> {
                let Some(request) = request else {
                    return Ok(None);
                };
                let stored: Option<(String, String, i64, String)> =
                    sqlx::query_as(LOOKUP).bind(&request.key).fetch_optional(&mut **self).await?;
                if let Some((method, path, status, body)) = stored {
                    if method != request.method || path != request.path {
                        return Err(Problem::unprocessable(KEY_REUSED));
                    }
                    return Answer::stored(&path, status, body).map(Some);
                }
                sqlx::query(CLAIM)
                    .bind(&request.key)
                    .bind(&request.method)
                    .bind(&request.path)
                    .execute(&mut **self)
                    .await
                    .map_err(claim_error)?;
                Ok(None)
            }

            async fn record(
                &mut self,
                request: Option<&KeyedRequest>,
                answer: &Answer,
            ) -> Result<(), Problem> {
                let Some(request) = request else {
                    return Ok(());
                };
                sqlx::query(RECORD)
                    .bind(i64::from(answer.status.as_u16()))
                    .bind(&answer.body)
                    .bind(&request.key)
                    .execute(&mut **self)
                    .await?;
                Ok(())
            }
        }
    };
}

key_store!(sqlx::Sqlite);
key_store!(sqlx::MySql);

/// A duplicate key on claiming means a concurrent request with the same key committed first:
/// retry (the retry finds its answer). Anything else as [`Problem::from`].
fn claim_error(error: sqlx::Error) -> Problem {
    if problem::is_unique_violation(&error) {
        return Problem { retryable: true, ..Problem::internal() };
    }
    Problem::from(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Result<String, Problem> {
        parse_key(&HeaderValue::from_str(value).map_err(|_| Problem::internal())?)
    }

    #[test]
    fn keys_parse_as_sf_strings_or_bare() {
        assert_eq!(parse("\"8e03978e-40d5\"").ok().as_deref(), Some("8e03978e-40d5"));
        assert_eq!(parse("abc-1").ok().as_deref(), Some("abc-1"));
        assert_eq!(parse(r#""a\"b\\c""#).ok().as_deref(), Some(r#"a"b\c"#));
        assert_eq!(parse(&"k".repeat(255)).ok().map(|k| k.len()), Some(255));
        for bad in ["", "\"\"", "\"open", "\"a\"b", r#""a\x""#, &"k".repeat(256)] {
            assert_eq!(parse(bad).map_err(|p| p.status), Err(StatusCode::BAD_REQUEST), "{bad}");
        }
    }

    #[test]
    fn stored_created_answer_gets_its_location_back() {
        let answer = Answer::created("/tracks", 7, &serde_json::json!({"id": 7})).ok();
        let stored = answer.as_ref().map(|a| Answer::stored("/tracks", 201, a.body.clone()));
        assert_eq!(stored.and_then(Result::ok), answer);
        assert!(Answer::stored("/tracks", 0, String::new()).is_err());
    }
}
