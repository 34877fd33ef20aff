-- so8t audit trail schema (version 1).
--
-- Five append-only tables share ONE hash chain: `seq` is a global position (1, 2, 3, ...) across all of them,
-- and every row stores prev_hash (row_hash of seq - 1) and row_hash (SHA-256 over the row's canonical
-- encoding; see so8t/audit/chain.py). The store appends inside BEGIN IMMEDIATE, so positions never collide.
--
-- Content columns (decision_log.input_text, ocr_summary, output_text) are retention-governed: the purge may set
-- them to NULL. Their *_sha256 columns are chained and never change, so the chain verifies after a purge.
-- Every other column is immutable: triggers below reject UPDATE and DELETE.

CREATE TABLE IF NOT EXISTS identity_contract (
    seq          INTEGER PRIMARY KEY,
    identity_id  INTEGER NOT NULL UNIQUE,
    created_at   TEXT    NOT NULL,
    role_prompt  TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL CHECK (json_valid(fingerprint) AND json_type(fingerprint) = 'object'),
    diff         TEXT    NOT NULL CHECK (json_valid(diff) AND json_type(diff) = 'array'),
    prev_hash    TEXT    NOT NULL CHECK (length(prev_hash) = 64),
    row_hash     TEXT    NOT NULL CHECK (length(row_hash) = 64)
);

CREATE TABLE IF NOT EXISTS policy_state (
    seq          INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL CHECK (length(name) > 0),
    version      INTEGER NOT NULL CHECK (version >= 1),
    content      TEXT    NOT NULL CHECK (json_valid(content) AND json_type(content) = 'object'),
    checksum     TEXT    NOT NULL CHECK (length(checksum) = 64),
    diff         TEXT    NOT NULL CHECK (json_valid(diff) AND json_type(diff) = 'array'),
    applied_at   TEXT    NOT NULL,
    prev_hash    TEXT    NOT NULL CHECK (length(prev_hash) = 64),
    row_hash     TEXT    NOT NULL CHECK (length(row_hash) = 64),
    UNIQUE (name, version)
);

CREATE TABLE IF NOT EXISTS decision_log (
    seq                 INTEGER PRIMARY KEY,
    request_id          TEXT    NOT NULL UNIQUE,
    created_at          TEXT    NOT NULL,
    identity_id         INTEGER NOT NULL REFERENCES identity_contract (identity_id),
    policy_name         TEXT    NOT NULL,
    policy_version      INTEGER NOT NULL,
    input_sha256        TEXT,
    input_text          TEXT,
    ocr_summary_sha256  TEXT,
    ocr_summary         TEXT,
    image_sha256s       TEXT    NOT NULL CHECK (json_valid(image_sha256s) AND json_type(image_sha256s) = 'array'),
    decision            TEXT    NOT NULL CHECK (decision IN ('ALLOW', 'ESCALATE', 'DENY')),
    scores              TEXT    NOT NULL CHECK (json_valid(scores) AND json_type(scores) = 'object'),
    reasons             TEXT    NOT NULL CHECK (json_valid(reasons) AND json_type(reasons) = 'array'),
    output_sha256       TEXT,
    output_text         TEXT,
    latency_ms          REAL    CHECK (latency_ms IS NULL OR latency_ms >= 0),
    error               TEXT,
    prev_hash           TEXT    NOT NULL CHECK (length(prev_hash) = 64),
    row_hash            TEXT    NOT NULL CHECK (length(row_hash) = 64),
    FOREIGN KEY (policy_name, policy_version) REFERENCES policy_state (name, version),
    CHECK (input_text IS NULL OR input_sha256 IS NOT NULL),
    CHECK (ocr_summary IS NULL OR ocr_summary_sha256 IS NOT NULL),
    CHECK (output_text IS NULL OR output_sha256 IS NOT NULL)
);
CREATE INDEX IF NOT EXISTS decision_log_created_at ON decision_log (created_at);
CREATE INDEX IF NOT EXISTS decision_log_decision ON decision_log (decision, seq);

CREATE TABLE IF NOT EXISTS review_log (
    seq          INTEGER PRIMARY KEY,
    request_id   TEXT    NOT NULL UNIQUE REFERENCES decision_log (request_id),
    verdict      TEXT    NOT NULL CHECK (verdict IN ('APPROVE', 'REJECT')),
    reviewer     TEXT    NOT NULL CHECK (length(reviewer) > 0),
    note         TEXT    NOT NULL,
    reviewed_at  TEXT    NOT NULL,
    prev_hash    TEXT    NOT NULL CHECK (length(prev_hash) = 64),
    row_hash     TEXT    NOT NULL CHECK (length(row_hash) = 64)
);

CREATE TABLE IF NOT EXISTS audit_log (
    seq          INTEGER PRIMARY KEY,
    created_at   TEXT    NOT NULL,
    event_type   TEXT    NOT NULL CHECK (length(event_type) > 0),
    payload      TEXT    NOT NULL CHECK (json_valid(payload) AND json_type(payload) = 'object'),
    prev_hash    TEXT    NOT NULL CHECK (length(prev_hash) = 64),
    row_hash     TEXT    NOT NULL CHECK (length(row_hash) = 64)
);
CREATE INDEX IF NOT EXISTS audit_log_event_type ON audit_log (event_type, seq);

-- Only an ESCALATE decision can be reviewed (the store checks first and gives a clearer message).
CREATE TRIGGER IF NOT EXISTS review_log_escalated_only BEFORE INSERT ON review_log
WHEN (SELECT decision FROM decision_log WHERE request_id = NEW.request_id) IS NOT 'ESCALATE'
BEGIN SELECT RAISE(ABORT, 'review_log: only ESCALATE decisions can be reviewed'); END;

-- Append-only guards.
CREATE TRIGGER IF NOT EXISTS identity_contract_no_update BEFORE UPDATE ON identity_contract
BEGIN SELECT RAISE(ABORT, 'identity_contract is append-only: rows cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS identity_contract_no_delete BEFORE DELETE ON identity_contract
BEGIN SELECT RAISE(ABORT, 'identity_contract is append-only: rows cannot be deleted'); END;

CREATE TRIGGER IF NOT EXISTS policy_state_no_update BEFORE UPDATE ON policy_state
BEGIN SELECT RAISE(ABORT, 'policy_state is append-only: rows cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS policy_state_no_delete BEFORE DELETE ON policy_state
BEGIN SELECT RAISE(ABORT, 'policy_state is append-only: rows cannot be deleted'); END;

CREATE TRIGGER IF NOT EXISTS decision_log_no_update BEFORE UPDATE OF
    seq, request_id, created_at, identity_id, policy_name, policy_version, input_sha256, ocr_summary_sha256,
    image_sha256s, decision, scores, reasons, output_sha256, latency_ms, error, prev_hash, row_hash
ON decision_log
BEGIN SELECT RAISE(ABORT, 'decision_log is append-only: chained columns cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS decision_log_purge_only BEFORE UPDATE OF input_text, ocr_summary, output_text
ON decision_log
WHEN (NEW.input_text IS NOT NULL AND NEW.input_text IS NOT OLD.input_text)
  OR (NEW.ocr_summary IS NOT NULL AND NEW.ocr_summary IS NOT OLD.ocr_summary)
  OR (NEW.output_text IS NOT NULL AND NEW.output_text IS NOT OLD.output_text)
BEGIN SELECT RAISE(ABORT, 'decision_log content can only be purged (set to NULL), never rewritten'); END;
CREATE TRIGGER IF NOT EXISTS decision_log_no_delete BEFORE DELETE ON decision_log
BEGIN SELECT RAISE(ABORT, 'decision_log is append-only: rows cannot be deleted'); END;

CREATE TRIGGER IF NOT EXISTS review_log_no_update BEFORE UPDATE ON review_log
BEGIN SELECT RAISE(ABORT, 'review_log is append-only: rows cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS review_log_no_delete BEFORE DELETE ON review_log
BEGIN SELECT RAISE(ABORT, 'review_log is append-only: rows cannot be deleted'); END;

CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: rows cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: rows cannot be deleted'); END;

-- Every chained row in chain order, for ad-hoc queries and the store's head lookup.
CREATE VIEW IF NOT EXISTS chain (table_name, seq, prev_hash, row_hash) AS
          SELECT 'identity_contract', seq, prev_hash, row_hash FROM identity_contract
UNION ALL SELECT 'policy_state', seq, prev_hash, row_hash FROM policy_state
UNION ALL SELECT 'decision_log', seq, prev_hash, row_hash FROM decision_log
UNION ALL SELECT 'review_log', seq, prev_hash, row_hash FROM review_log
UNION ALL SELECT 'audit_log', seq, prev_hash, row_hash FROM audit_log;
