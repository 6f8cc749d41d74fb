-- The embedded write queue: writes the authoritative side accepted, waiting to be replayed on
-- the secondary (deleted once delivered), and dead letters (state 'dead'). Delivery is in `seq`
-- order per (domain, entity).
CREATE TABLE write_queue (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    domain          TEXT NOT NULL,
    route           TEXT NOT NULL,
    entity          TEXT NOT NULL,
    method          TEXT NOT NULL,
    target          TEXT NOT NULL,
    headers         TEXT NOT NULL,
    body            BLOB NOT NULL,
    to_side         TEXT NOT NULL CHECK (to_side IN ('legacy', 'new')),
    authoritative_id TEXT,
    accepted_at_ms  INTEGER NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    last_error      TEXT,
    last_status     INTEGER
);
CREATE INDEX write_queue_entity ON write_queue (domain, entity, seq) WHERE state = 'pending';
CREATE INDEX write_queue_ready ON write_queue (state, next_attempt_ms, seq);

-- Per domain: delivery attempts, writes delivered, dead-lettered and discarded, since the start.
CREATE TABLE write_stats (
    domain          TEXT PRIMARY KEY NOT NULL,
    replayed        INTEGER NOT NULL DEFAULT 0,
    succeeded       INTEGER NOT NULL DEFAULT 0,
    dead_lettered   INTEGER NOT NULL DEFAULT 0,
    discarded       INTEGER NOT NULL DEFAULT 0
);
