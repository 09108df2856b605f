-- Payload stays text here: only new or changed records are parsed into jsonb by the merge.
CREATE TEMP TABLE {stage} (
    seq                bigint      NOT NULL,
    record_id          text        NOT NULL,
    payload            text        NOT NULL,
    payload_hash       text        NOT NULL,
    source_updated_at  timestamptz,
    counted            boolean     NOT NULL
) ON COMMIT DROP
