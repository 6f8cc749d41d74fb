-- Verify runs recorded by `ficus verify`: when, over which tables, how many rows on each side
-- and how many confirmed differences — what the admin API shows and the gate "recent
-- verification clean" reads. The newest 100 per domain are kept.
CREATE TABLE verify_run (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    domain          TEXT NOT NULL,
    finished_at_ms  INTEGER NOT NULL,
    seconds         REAL NOT NULL,
    scope           TEXT NOT NULL,
    source_rows     INTEGER NOT NULL,
    target_rows     INTEGER NOT NULL,
    differences     INTEGER NOT NULL,
    report          TEXT NOT NULL
);
CREATE INDEX verify_run_domain ON verify_run (domain, id);
