-- Pushes out of the warehouse (see plugins/lead_pipelines/downstream/README.md).
--
-- ops.push_outbox: one row per event sent (or to send) to a target. Each aggregate has a
-- deterministic aggregate_key. Version 1 is its first send, a later version a documented correction
-- sent because the aggregate changed after it was sent. push_key (aggregate_key + version) travels
-- with the event, so an outcome lost on the wire is resolved by reading it back before any resend.
-- state: pending (committed, not sent) -> sending (committed before the call, outcome unknown until
-- marked) -> sent (2xx seen, or found by read-back).
-- marked) -> sent (2xx seen, or found by read-back).
CREATE TABLE IF NOT EXISTS ops.push_outbox (
    push_key        text        PRIMARY KEY,
    target          text        NOT NULL,
    aggregate_key   text        NOT NULL,
    version         integer     NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('aggregate', 'correction')),
    grain           text        NOT NULL,
    period_start    timestamptz NOT NULL,
    payload         jsonb       NOT NULL,
    content_hash    text        NOT NULL,
    state           text        NOT NULL CHECK (state IN ('pending', 'sending', 'sent')),
    attempts        integer     NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempted_at    timestamptz,
    sent_at         timestamptz,
    resolved_by     text,
    UNIQUE (target, aggregate_key, version)
)
