//! The resource shapes of the JSON API (customers, invoices with lines, tracks, pages) and the
//! validation of request bodies, identical for both services.

use serde::{Deserialize, Serialize};

use super::convert::{Cents, MAX_CENTS, Timestamp};
use super::problem::Problem;

/// Largest id or integer the legacy `INT` columns hold.
pub const MAX_INT: i64 = i32::MAX as i64;

/// A page of a collection: `{"items":[…],"limit":L,"offset":O,"total":N}`, items ordered by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Page size asked for (1..=100).
    pub limit: i64,
    /// Number of items skipped.
    pub offset: i64,
    /// Number of items in the whole collection.
    pub total: i64,
}

/// A customer as served: every field present, nullable ones as `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: i64,
    pub first_name: String,
    pub last_name: String,
    pub company: Option<String>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
    pub postal_code: Option<String>,
    pub phone: Option<String>,
    pub fax: Option<String>,
    pub email: String,
    /// Employee id of the support representative.
    pub support_rep_id: Option<i64>,
}

/// Body of `POST /customers` and `PUT /customers/{id}`: a customer without `id`. Required:
/// `first_name`, `last_name`, `email`; the others may be omitted or `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerInput {
    pub first_name: String,
    pub last_name: String,
    pub company: Option<String>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
    pub postal_code: Option<String>,
    pub phone: Option<String>,
    pub fax: Option<String>,
    pub email: String,
    pub support_rep_id: Option<i64>,
}

impl CustomerInput {
    /// Checks lengths (the legacy column sizes, in characters), non-empty required text and id
    /// ranges. Errors: 422.
    pub fn validate(&self) -> Result<(), Problem> {
        required("first_name", &self.first_name, 40)?;
        required("last_name", &self.last_name, 20)?;
        optional("company", self.company.as_deref(), 80)?;
        optional("address", self.address.as_deref(), 70)?;
        optional("city", self.city.as_deref(), 40)?;
        optional("state", self.state.as_deref(), 40)?;
        optional("country", self.country.as_deref(), 40)?;
        optional("postal_code", self.postal_code.as_deref(), 10)?;
        optional("phone", self.phone.as_deref(), 24)?;
        optional("fax", self.fax.as_deref(), 24)?;
        required("email", &self.email, 60)?;
        if let Some(rep) = self.support_rep_id {
            id("support_rep_id", rep)?;
        }
        Ok(())
    }

    /// The customer this input describes, with id `id`.
    pub fn into_customer(self, id: i64) -> Customer {
        Customer {
            id,
            first_name: self.first_name,
            last_name: self.last_name,
            company: self.company,
            address: self.address,
            city: self.city,
            state: self.state,
            country: self.country,
            postal_code: self.postal_code,
            phone: self.phone,
            fax: self.fax,
            email: self.email,
            support_rep_id: self.support_rep_id,
        }
    }
}

/// An invoice as served, with its lines ordered by line id. `total` is the sum of
/// `unit_price * quantity` over the lines, in currency units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
    pub id: i64,
    pub customer_id: i64,
    /// RFC 3339 UTC, e.g. `"2021-01-01T00:00:00Z"`.
    pub invoice_date: Timestamp,
    pub billing_address: Option<String>,
    pub billing_city: Option<String>,
    pub billing_state: Option<String>,
    pub billing_country: Option<String>,
    pub billing_postal_code: Option<String>,
    pub total: Cents,
    pub lines: Vec<InvoiceLine>,
}

/// One invoice line as served; `unit_price` is the track's price when the line was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceLine {
    pub id: i64,
    pub track_id: i64,
    pub unit_price: Cents,
    pub quantity: i64,
}

/// Body of `POST /invoices` and `PUT /invoices/{id}`: header fields and lines without ids,
/// prices or total (the service takes each line's price from its track and sums the total).
/// Required: `customer_id`, `invoice_date` (RFC 3339), `lines` (may be empty).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceInput {
    pub customer_id: i64,
    pub invoice_date: Timestamp,
    pub billing_address: Option<String>,
    pub billing_city: Option<String>,
    pub billing_state: Option<String>,
    pub billing_country: Option<String>,
    pub billing_postal_code: Option<String>,
    pub lines: Vec<LineInput>,
}

/// One line of an [`InvoiceInput`]: a track and a quantity (1..=2147483647).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineInput {
    pub track_id: i64,
    pub quantity: i64,
}

/// At most this many lines per invoice.
pub const MAX_LINES: usize = 1000;

impl InvoiceInput {
    /// Checks lengths, id and quantity ranges and the number of lines. Errors: 422. (That the
    /// customer and tracks exist, and that the total fits, is checked against the database.)
    pub fn validate(&self) -> Result<(), Problem> {
        id("customer_id", self.customer_id)?;
        optional("billing_address", self.billing_address.as_deref(), 70)?;
        optional("billing_city", self.billing_city.as_deref(), 40)?;
        optional("billing_state", self.billing_state.as_deref(), 40)?;
        optional("billing_country", self.billing_country.as_deref(), 40)?;
        optional("billing_postal_code", self.billing_postal_code.as_deref(), 10)?;
        if self.lines.len() > MAX_LINES {
            return Err(Problem::unprocessable(format!("lines: at most {MAX_LINES} lines")));
        }
        for (i, line) in self.lines.iter().enumerate() {
            id(&format!("lines[{i}].track_id"), line.track_id)?;
            if !(1..=MAX_INT).contains(&line.quantity) {
                return Err(Problem::unprocessable(format!(
                    "lines[{i}].quantity: must be between 1 and {MAX_INT}"
                )));
            }
        }
        Ok(())
    }
}

/// Prices `lines` with `prices` (the current price of each line's track, `None` if the track
/// does not exist) and returns each line's unit price and the invoice total. Errors: 422 for an unknown track or a total above
/// 99 999 999.99.
pub fn price_lines(
    lines: &[LineInput],
    prices: &[Option<Cents>],
) -> Result<(Vec<Cents>, Cents), Problem> {
    let mut total: i64 = 0;
    let mut unit_prices = Vec::with_capacity(lines.len());
    for (i, (line, price)) in lines.iter().zip(prices).enumerate() {
        let Some(price) = price else {
            return Err(Problem::unprocessable(format!(
                "lines[{i}].track_id: track {} does not exist",
                line.track_id
            )));
        };
        total = price
            .0
            .checked_mul(line.quantity)
            .and_then(|amount| total.checked_add(amount))
            .filter(|t| *t <= MAX_CENTS)
            .ok_or_else(|| Problem::unprocessable("total: exceeds 99999999.99"))?;
        unit_prices.push(*price);
    }
    Ok((unit_prices, Cents(total)))
}

/// A track as served: every field present, nullable ones as `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Track {
    pub id: i64,
    pub name: String,
    pub album_id: Option<i64>,
    pub media_type_id: i64,
    pub genre_id: Option<i64>,
    pub composer: Option<String>,
    /// Duration in milliseconds.
    pub milliseconds: i64,
    /// File size in bytes.
    pub bytes: Option<i64>,
    pub unit_price: Cents,
}

/// Body of `POST /tracks` and `PUT /tracks/{id}`: a track without `id`. Required: `name`,
/// `media_type_id`, `milliseconds`, `unit_price` (a number with at most two decimals).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackInput {
    pub name: String,
    pub album_id: Option<i64>,
    pub media_type_id: i64,
    pub genre_id: Option<i64>,
    pub composer: Option<String>,
    pub milliseconds: i64,
    pub bytes: Option<i64>,
    pub unit_price: Cents,
}

impl TrackInput {
    /// Checks lengths, id ranges, non-negative sizes and price. Errors: 422.
    pub fn validate(&self) -> Result<(), Problem> {
        required("name", &self.name, 200)?;
        if let Some(album) = self.album_id {
            id("album_id", album)?;
        }
        id("media_type_id", self.media_type_id)?;
        if let Some(genre) = self.genre_id {
            id("genre_id", genre)?;
        }
        optional("composer", self.composer.as_deref(), 220)?;
        non_negative("milliseconds", self.milliseconds)?;
        if let Some(bytes) = self.bytes {
            non_negative("bytes", bytes)?;
        }
        if !(0..=MAX_CENTS).contains(&self.unit_price.0) {
            return Err(Problem::unprocessable("unit_price: must be between 0 and 99999999.99"));
        }
        Ok(())
    }

    /// The track this input describes, with id `id`.
    pub fn into_track(self, id: i64) -> Track {
        Track {
            id,
            name: self.name,
            album_id: self.album_id,
            media_type_id: self.media_type_id,
            genre_id: self.genre_id,
            composer: self.composer,
            milliseconds: self.milliseconds,
            bytes: self.bytes,
            unit_price: self.unit_price,
        }
    }
}

fn required(field: &str, value: &str, max_chars: usize) -> Result<(), Problem> {
    if value.trim().is_empty() {
        return Err(Problem::unprocessable(format!("{field}: must not be empty")));
    }
    optional(field, Some(value), max_chars)
}

fn optional(field: &str, value: Option<&str>, max_chars: usize) -> Result<(), Problem> {
    match value {
        Some(v) if v.chars().count() > max_chars => {
            Err(Problem::unprocessable(format!("{field}: at most {max_chars} characters")))
        }
        Some(v) if v.contains('\0') => {
            Err(Problem::unprocessable(format!("{field}: must not contain NUL")))
        }
        _ => Ok(()),
    }
}

fn id(field: &str, value: i64) -> Result<(), Problem> {
    if (1..=MAX_INT).contains(&value) {
        Ok(())
    } else {
        Err(Problem::unprocessable(format!("{field}: must be an id between 1 and {MAX_INT}")))
    }
}

fn non_negative(field: &str, value: i64) -> Result<(), Problem> {
    if (0..=MAX_INT).contains(&value) {
        Ok(())
    } else {
        Err(Problem::unprocessable(format!("{field}: must be between 0 and {MAX_INT}")))
    }
}
