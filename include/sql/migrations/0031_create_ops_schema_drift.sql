-- Schema drift, one row per field that appeared ('new'), disappeared ('vanished') or carried a JSON
-- type it never had before ('retyped') in a window, against what the stream had seen until then.
CREATE TABLE IF NOT EXISTS ops.schema_drift (
    drift_id      bigserial   PRIMARY KEY,
    vendor        text        NOT NULL,
    stream        text        NOT NULL,
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    run_id        bigint      NOT NULL,
    change        text        NOT NULL CHECK (change IN ('new', 'vanished', 'retyped')),
    path          text        NOT NULL,
    old_type      text,
    new_type      text,
    detected_at   timestamptz NOT NULL DEFAULT now()
)
