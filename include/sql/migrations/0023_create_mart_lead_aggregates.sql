-- Per hour and per day, per source and channel; a period's rows are rebuilt as a whole.
-- Lead sources fill the lead columns, pirsch (channel 'web') and giosg (channel = workflow) fill
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
)
