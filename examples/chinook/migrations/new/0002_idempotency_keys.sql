-- Idempotency keys (IETF draft-ietf-httpapi-idempotency-key-header): one row per
-- `Idempotency-Key` of a successful write, with the request it was used for (method, path)
-- and the answer (status, JSON body) replayed to every retry. Written in the write's transaction.

CREATE TABLE idempotency_keys (
    `key`      TEXT NOT NULL PRIMARY KEY,
    method     TEXT NOT NULL,
    path       TEXT NOT NULL,
    status     INTEGER NOT NULL,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
