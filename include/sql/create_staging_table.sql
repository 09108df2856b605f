-- Payload is parsed into jsonb as it streams in, on PostgreSQL's own core while the next page is
-- fetched, so the merge only moves it. Ids sort bytewise ("C"): the merge's DISTINCT ON needs no
-- locale-aware comparisons.
CREATE TEMP TABLE {stage} (
    seq                bigint      NOT NULL,
    record_id          text        COLLATE "C" NOT NULL,
    payload            jsonb       NOT NULL,
    payload_hash       text        NOT NULL,
    source_updated_at  timestamptz,
    counted            boolean     NOT NULL
) ON COMMIT DROP
