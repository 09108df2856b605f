-- The match keys of one build, computed in Python (lead_pipelines.identity) and copied in.
CREATE TEMPORARY TABLE link_stage (
    source       text        NOT NULL,
    stream       text        NOT NULL,
    record_id    text        NOT NULL,
    occurred_at  timestamptz NOT NULL,
    email_key    text,
    phone_key    text
) ON COMMIT DROP
