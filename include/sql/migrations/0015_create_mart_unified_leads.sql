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
)
