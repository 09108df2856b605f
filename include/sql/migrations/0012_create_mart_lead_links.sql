-- The downstream marts (see plugins/lead_pipelines/downstream/README.md).
--
-- mart.lead_links: every raw record that names a person, with its match keys (lead_pipelines.identity)
-- and the unified lead it belongs to. A unified lead's id is derived from its match key (the email
-- key, or the phone key of a person known only by phone), so it does not depend on the order records
-- arrive in and does not change when a later source joins the same person.
CREATE TABLE IF NOT EXISTS mart.lead_links (
    source       text        NOT NULL,
    stream       text        NOT NULL,
    record_id    text        NOT NULL,
    occurred_at  timestamptz NOT NULL,
    email_key    text,
    phone_key    text,
    unified_id   text        NOT NULL,
    linked_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, stream, record_id)
)
