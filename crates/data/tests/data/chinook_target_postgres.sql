-- The Chinook schema redesigned for the new service (PostgreSQL): snake_case plural tables and
-- snake_case columns, money as integer cents, timestamps with zone. `{schema}` is replaced by
-- the test's own schema. Written for Ficus; the data comes from Chinook (MIT, see
-- examples/chinook/data/LICENSE.md).
CREATE TABLE {schema}.genres (genre_id integer PRIMARY KEY, name text);
CREATE TABLE {schema}.media_types (media_type_id integer PRIMARY KEY, name text);
CREATE TABLE {schema}.artists (artist_id integer PRIMARY KEY, name text);
CREATE TABLE {schema}.albums (album_id integer PRIMARY KEY, title text NOT NULL, artist_id integer NOT NULL);
CREATE TABLE {schema}.tracks (track_id integer PRIMARY KEY, name text NOT NULL, album_id integer,
    media_type_id integer NOT NULL, genre_id integer, composer text, milliseconds integer NOT NULL,
    bytes integer, unit_price_cents bigint NOT NULL);
CREATE TABLE {schema}.employees (employee_id integer PRIMARY KEY, last_name text NOT NULL,
    first_name text NOT NULL, title text, reports_to integer, birth_date timestamptz,
    hire_date timestamptz, address text, city text, state text, country text, postal_code text,
    phone text, fax text, email text);
CREATE TABLE {schema}.customers (customer_id integer PRIMARY KEY, first_name text NOT NULL,
    last_name text NOT NULL, company text, address text, city text, state text, country text,
    postal_code text, phone text, fax text, email text NOT NULL, support_rep_id integer);
CREATE TABLE {schema}.invoices (invoice_id integer PRIMARY KEY, customer_id integer NOT NULL,
    invoiced_at timestamptz NOT NULL, billing_address text, billing_city text, billing_state text,
    billing_country text, billing_postal_code text, total_cents bigint NOT NULL);
CREATE TABLE {schema}.invoice_lines (invoice_line_id integer PRIMARY KEY, invoice_id integer NOT NULL,
    track_id integer NOT NULL, unit_price_cents bigint NOT NULL, quantity integer NOT NULL);
CREATE TABLE {schema}.playlists (playlist_id integer PRIMARY KEY, name text);
CREATE TABLE {schema}.playlist_tracks (playlist_id integer NOT NULL, track_id integer NOT NULL,
    PRIMARY KEY (playlist_id, track_id));
