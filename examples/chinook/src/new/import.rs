//! One-time import of the Chinook data into the new schema: ATTACH the Chinook SQLite file
//! read-only and convert with INSERT…SELECT (money to cents, dates to UTC ISO-8601).

use std::path::Path;

use anyhow::{Context, bail};
use sqlx::{Connection, SqlitePool};

const ATTACH: &str = "ATTACH DATABASE ? AS chinook";
const DETACH: &str = "DETACH DATABASE chinook";
const ROWS: &str = "SELECT (SELECT COUNT(*) FROM customers) + (SELECT COUNT(*) FROM invoices) \
     + (SELECT COUNT(*) FROM invoice_lines) + (SELECT COUNT(*) FROM tracks)";

const IMPORT: [&str; 4] = [
    "INSERT INTO customers (id, first_name, last_name, company, address, city, state, country, \
     postal_code, phone, fax, email, support_rep_id) \
     SELECT CustomerId, FirstName, LastName, Company, Address, City, State, Country, PostalCode, \
     Phone, Fax, Email, SupportRepId FROM chinook.Customer ORDER BY CustomerId",
    "INSERT INTO tracks (id, name, album_id, media_type_id, genre_id, composer, milliseconds, \
     bytes, unit_price_cents) \
     SELECT TrackId, Name, AlbumId, MediaTypeId, GenreId, Composer, Milliseconds, Bytes, \
     CAST(ROUND(UnitPrice * 100) AS INTEGER) FROM chinook.Track ORDER BY TrackId",
    "INSERT INTO invoices (id, customer_id, invoice_date, billing_address, billing_city, \
     billing_state, billing_country, billing_postal_code, total_cents) \
     SELECT InvoiceId, CustomerId, strftime('%Y-%m-%dT%H:%M:%SZ', InvoiceDate), BillingAddress, \
     BillingCity, BillingState, BillingCountry, BillingPostalCode, \
     CAST(ROUND(Total * 100) AS INTEGER) FROM chinook.Invoice ORDER BY InvoiceId",
    "INSERT INTO invoice_lines (id, invoice_id, track_id, unit_price_cents, quantity) \
     SELECT InvoiceLineId, InvoiceId, TrackId, CAST(ROUND(UnitPrice * 100) AS INTEGER), Quantity \
     FROM chinook.InvoiceLine ORDER BY InvoiceLineId",
];

/// Imports the Chinook data if the four tables are empty; returns whether it did.
pub(super) async fn import_if_empty(pool: &SqlitePool, chinook: &Path) -> anyhow::Result<bool> {
    let (rows,): (i64,) = sqlx::query_as(ROWS).fetch_one(pool).await?;
    if rows > 0 {
        return Ok(false);
    }
    if !chinook.is_file() {
        bail!("{} does not exist", chinook.display());
    }
    // ATTACH is per connection and not allowed inside a transaction: use a dedicated connection
    // and close it afterwards so the attachment never leaks into the pool.
    let mut conn = pool.acquire().await?;
    conn.close_on_drop();
    let uri = read_only_uri(chinook)?;
    sqlx::query(ATTACH).bind(uri).execute(&mut *conn).await.context("ATTACH")?;
    let result = async {
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
        let (rows,): (i64,) = sqlx::query_as(ROWS).fetch_one(&mut *tx).await?;
        if rows > 0 {
            return Ok(false);
        }
        for statement in IMPORT {
            sqlx::query(statement).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(true)
    }
    .await;
    sqlx::query(DETACH).execute(&mut *conn).await.ok();
    let imported = result?;
    if imported {
        tracing::info!(source = %chinook.display(), "imported Chinook into the new schema");
    }
    Ok(imported)
}

/// `file:` URI opening `path` read-only, with the characters URIs reserve escaped.
fn read_only_uri(path: &Path) -> anyhow::Result<String> {
    let Some(text) = path.to_str() else {
        bail!("{} is not a UTF-8 path", path.display());
    };
    let mut uri = String::from("file:");
    for c in text.chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push_str("?mode=ro");
    Ok(uri)
}
