-- Pushes out of the warehouse (see plugins/lead_pipelines/downstream/README.md).
--
-- ops.push_outbox: one row per event sent (or to send) to a target. Each aggregate has a
-- deterministic aggregate_key; version 1 is its first send, a later version a documented correction
-- sent because the aggregate changed after it was sent. push_key (aggregate_key + version) travels
-- with the event, so an outcome lost on the wire is resolved by reading it back before any resend.
-- state: pending (committed, not sent) -> sending (committed before the call; outcome unknown until
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
);
CREATE INDEX IF NOT EXISTS push_outbox_open ON ops.push_outbox (target, state) WHERE state <> 'sent';
CREATE INDEX IF NOT EXISTS push_outbox_period ON ops.push_outbox (target, grain, period_start);

-- Report definitions kept at a vendor (LeadConduit reports): what was asked, the vendor's id once known.
CREATE TABLE IF NOT EXISTS ops.vendor_reports (
    vendor           text        NOT NULL,
    name             text        NOT NULL,
    report_id        text,
    definition_hash  text        NOT NULL,
    state            text        NOT NULL CHECK (state IN ('creating', 'synced')),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (vendor, name)
);

-- A vendor's report numbers beside the warehouse's, per window, group and column.
CREATE TABLE IF NOT EXISTS ops.report_reconciliation (
    vendor           text        NOT NULL,
    report_name      text        NOT NULL,
    window_start     timestamptz NOT NULL,
    window_end       timestamptz NOT NULL,
    group_key        text        NOT NULL,
    column_name      text        NOT NULL,
    vendor_value     numeric,
    warehouse_value  numeric,
    difference       numeric,
    tolerance        numeric     NOT NULL,
    within_tolerance boolean     NOT NULL,
    checked_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (vendor, report_name, window_start, window_end, group_key, column_name)
)
