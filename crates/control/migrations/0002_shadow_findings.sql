-- Shadow findings kept by the control plane: fields marked as known differences (each an ignore
-- rule of its route; marking and unmarking are audited), and a bounded sample of full examples
-- of differences.
CREATE TABLE known_difference (
    domain      TEXT NOT NULL,
    route       TEXT NOT NULL,
    field       TEXT NOT NULL,
    actor       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (domain, route, field)
);

CREATE TABLE diff_example (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    domain      TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    route       TEXT NOT NULL,
    -- The sorted differing fields, joined by newlines: retention keeps a few of each kind.
    signature   TEXT NOT NULL,
    -- JSON array of the differing fields, for filtering by field.
    fields      TEXT NOT NULL,
    -- The whole example as JSON.
    example     TEXT NOT NULL
);
CREATE INDEX diff_example_domain ON diff_example (domain, id);
CREATE INDEX diff_example_kind ON diff_example (domain, route, signature, id);
