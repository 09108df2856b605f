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
);
CREATE INDEX IF NOT EXISTS lead_links_email_key ON mart.lead_links (email_key) WHERE email_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS lead_links_phone_key ON mart.lead_links (phone_key) WHERE phone_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS lead_links_unified_id ON mart.lead_links (unified_id);
CREATE INDEX IF NOT EXISTS lead_links_occurred_at ON mart.lead_links (occurred_at);

-- One row per person, rebuilt from its links whenever a window touches it.
CREATE TABLE IF NOT EXISTS mart.unified_leads (
    unified_id     text        PRIMARY KEY,
    matched_by     text        NOT NULL CHECK (matched_by IN ('email', 'phone')),
    email_key      text,
    phone_key      text,
    first_seen_at  timestamptz NOT NULL,
    first_source   text        NOT NULL,
    last_seen_at   timestamptz NOT NULL,
    sources        text[]      NOT NULL,
    record_count   integer     NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS unified_leads_first_seen_at ON mart.unified_leads (first_seen_at);

-- A unified lead known only by phone that a later email record of the same phone absorbed: its old
-- id points at the new one, so nothing that kept the old id dangles.
CREATE TABLE IF NOT EXISTS mart.unified_lead_merges (
    old_id     text        PRIMARY KEY,
    new_id     text        NOT NULL,
    merged_at  timestamptz NOT NULL DEFAULT now()
);

-- Every submission or visit: where and how a person (or, for visits, a known lead) came in.
CREATE TABLE IF NOT EXISTS mart.touchpoints (
    source        text        NOT NULL,
    stream        text        NOT NULL,
    record_id     text        NOT NULL,
    occurred_at   timestamptz NOT NULL,
    unified_id    text,
    kind          text        NOT NULL CHECK (kind IN ('submission', 'visit')),
    channel       text        NOT NULL,
    landing_page  text,
    flow          text,
    utm_source    text,
    utm_medium    text,
    utm_campaign  text,
    outcome       text,
    PRIMARY KEY (source, stream, record_id)
);
CREATE INDEX IF NOT EXISTS touchpoints_occurred_at ON mart.touchpoints (occurred_at);
CREATE INDEX IF NOT EXISTS touchpoints_unified_id ON mart.touchpoints (unified_id);

-- Per hour and per day, per source and channel. A window's rows are rebuilt as a whole.
-- Lead sources fill the lead columns; pirsch (channel 'web') and giosg (channel = workflow) fill
-- the engagement columns of their day rows.
CREATE TABLE IF NOT EXISTS mart.lead_aggregates (
    grain               text        NOT NULL CHECK (grain IN ('hour', 'day')),
    period_start        timestamptz NOT NULL,
    period_end          timestamptz NOT NULL,
    source              text        NOT NULL,
    channel             text        NOT NULL,
    touchpoints         integer     NOT NULL DEFAULT 0,
    new_leads           integer     NOT NULL DEFAULT 0,
    multi_source_leads  integer     NOT NULL DEFAULT 0,
    outcome_success     integer     NOT NULL DEFAULT 0,
    outcome_failure     integer     NOT NULL DEFAULT 0,
    outcome_error       integer     NOT NULL DEFAULT 0,
    visitors            integer     NOT NULL DEFAULT 0,
    views               integer     NOT NULL DEFAULT 0,
    sessions            integer     NOT NULL DEFAULT 0,
    interactions        integer     NOT NULL DEFAULT 0,
    built_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (grain, period_start, source, channel)
);
