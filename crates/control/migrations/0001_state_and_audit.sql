-- The control-plane store: each domain's live state, and the append-only audit log.
CREATE TABLE domain_state (
    domain      TEXT PRIMARY KEY NOT NULL,
    phase       TEXT NOT NULL,
    read_new_bp INTEGER NOT NULL CHECK (read_new_bp BETWEEN 0 AND 10000),
    shadow_bp   INTEGER NOT NULL CHECK (shadow_bp BETWEEN 0 AND 10000),
    updated_at  TEXT NOT NULL
);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    domain      TEXT NOT NULL,
    action      TEXT NOT NULL,
    from_phase  TEXT,
    to_phase    TEXT,
    reason      TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX audit_log_domain ON audit_log (domain, id);

-- Append-only: an audit entry, once written, is never changed or removed.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
