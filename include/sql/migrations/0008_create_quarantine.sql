-- Records the warehouse cannot hold faithfully, kept with their bytes exactly as received.
-- One row per distinct record (by its bytes) and window; a re-run of the window refreshes last_run_id.
CREATE TABLE IF NOT EXISTS ops.quarantine (
    quarantine_id    bigserial   PRIMARY KEY,
    vendor           text        NOT NULL,
    stream           text        NOT NULL,
    window_start     timestamptz NOT NULL,
    window_end       timestamptz NOT NULL,
    first_run_id     bigint      NOT NULL,
    last_run_id      bigint      NOT NULL,
    page             integer     NOT NULL,
    position         integer     NOT NULL,
    record_id        text,
    reason           text        NOT NULL,
    raw              bytea       NOT NULL,
    raw_sha256       text        NOT NULL,
    first_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (vendor, stream, window_start, window_end, raw_sha256)
)
