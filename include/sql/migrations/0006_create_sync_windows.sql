CREATE TABLE IF NOT EXISTS ops.sync_windows (
    vendor        text        NOT NULL,
    stream        text        NOT NULL,
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    last_run_id   bigint      NOT NULL,
    records       integer     NOT NULL,
    landed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (vendor, stream, window_start, window_end)
)
