-- How far each raw table has been read into the marts: the highest ops.sync_runs.run_id whose
-- writes were processed (raw rows carry last_run_id, see lead_pipelines.downstream.build).
CREATE TABLE IF NOT EXISTS mart.build_state (
    raw_table    text        PRIMARY KEY,
    last_run_id  bigint      NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
)
