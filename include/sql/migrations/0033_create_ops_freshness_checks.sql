-- One row per stream each time a sync DAG's scheduled run judges freshness: how old the stream's
-- last landed window end was against the source's allowance, and who checked.
CREATE TABLE IF NOT EXISTS ops.freshness_checks (
    check_id         bigserial        PRIMARY KEY,
    vendor           text             NOT NULL,
    stream           text             NOT NULL,
    checked_at       timestamptz      NOT NULL DEFAULT now(),
    last_window_end  timestamptz,
    lag_seconds      double precision,
    allowed_seconds  double precision NOT NULL,
    fresh            boolean          NOT NULL,
    dag_run_id       text
)
