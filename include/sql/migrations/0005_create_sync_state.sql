CREATE TABLE IF NOT EXISTS ops.sync_state (
    vendor               text        NOT NULL,
    stream               text        NOT NULL,
    watermark            timestamptz NOT NULL,
    cursor               jsonb       NOT NULL DEFAULT '{}'::jsonb,
    last_success_run_id  bigint      NOT NULL,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (vendor, stream)
)
