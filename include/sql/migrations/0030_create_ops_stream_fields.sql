-- The fields each stream's records have carried: one row per (path, JSON type), e.g.
-- 'vars.lead.email.normal' string, 'tags[]' string (array elements). consecutive_runs counts the
-- stream's profiled windows in a row that carried it (the "vanished" rule reads it).
CREATE TABLE IF NOT EXISTS ops.stream_fields (
    vendor             text        NOT NULL,
    stream             text        NOT NULL,
    path               text        NOT NULL,
    json_type          text        NOT NULL,
    first_seen_run_id  bigint      NOT NULL,
    last_seen_run_id   bigint      NOT NULL,
    first_seen_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at       timestamptz NOT NULL DEFAULT now(),
    consecutive_runs   integer     NOT NULL DEFAULT 1,
    PRIMARY KEY (vendor, stream, path, json_type)
)
