-- The new service's schema: snake_case tables, integer ids, money as integer cents,
-- timestamps as UTC ISO-8601 text (e.g. 2021-01-01T00:00:00Z).

CREATE TABLE customers (
    id             INTEGER PRIMARY KEY,
    first_name     TEXT NOT NULL,
    last_name      TEXT NOT NULL,
    company        TEXT,
    address        TEXT,
    city           TEXT,
    state          TEXT,
    country        TEXT,
    postal_code    TEXT,
    phone          TEXT,
    fax            TEXT,
    email          TEXT NOT NULL,
    support_rep_id INTEGER
) STRICT;

CREATE TABLE tracks (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL,
    album_id         INTEGER,
    media_type_id    INTEGER NOT NULL,
    genre_id         INTEGER,
    composer         TEXT,
    milliseconds     INTEGER NOT NULL,
    bytes            INTEGER,
    unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents >= 0)
) STRICT;

CREATE TABLE invoices (
    id                  INTEGER PRIMARY KEY,
    customer_id         INTEGER NOT NULL REFERENCES customers (id),
    invoice_date        TEXT NOT NULL,
    billing_address     TEXT,
    billing_city        TEXT,
    billing_state       TEXT,
    billing_country     TEXT,
    billing_postal_code TEXT,
    total_cents         INTEGER NOT NULL
) STRICT;

CREATE INDEX invoices_customer_id ON invoices (customer_id);

CREATE TABLE invoice_lines (
    id               INTEGER PRIMARY KEY,
    invoice_id       INTEGER NOT NULL REFERENCES invoices (id),
    track_id         INTEGER NOT NULL REFERENCES tracks (id),
    unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents >= 0),
    quantity         INTEGER NOT NULL CHECK (quantity > 0)
) STRICT;

CREATE INDEX invoice_lines_invoice_id ON invoice_lines (invoice_id);
CREATE INDEX invoice_lines_track_id ON invoice_lines (track_id);
