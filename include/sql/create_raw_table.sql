-- {table} is formatted by code from a source's settings, never from vendor data.
CREATE TABLE IF NOT EXISTS {table} (
    record_id          text        PRIMARY KEY,
    payload            jsonb       NOT NULL,
    payload_hash       text        NOT NULL,
    first_loaded_at    timestamptz NOT NULL,
    first_run_id       bigint      NOT NULL,
    last_loaded_at     timestamptz NOT NULL,
    last_run_id        bigint      NOT NULL,
    change_count       integer     NOT NULL DEFAULT 0,
    source_updated_at  timestamptz
)
