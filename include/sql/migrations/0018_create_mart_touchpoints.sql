-- Every submission or visit: where and how a person (or, for visits, a known lead) came in.
CREATE TABLE IF NOT EXISTS mart.touchpoints (
    source          text        NOT NULL,
    stream          text        NOT NULL,
    record_id       text        NOT NULL,
    lead_record_id  text        NOT NULL,
    occurred_at     timestamptz NOT NULL,
    unified_id      text,
    kind          text        NOT NULL CHECK (kind IN ('submission', 'visit')),
    channel       text        NOT NULL,
    landing_page  text,
    flow          text,
    utm_source    text,
    utm_medium    text,
    utm_campaign  text,
    outcome       text,
    PRIMARY KEY (source, stream, record_id)
)
