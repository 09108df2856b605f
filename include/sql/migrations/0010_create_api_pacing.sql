-- Calls to a rate-limited vendor are spaced out through one row per vendor endpoint: every task,
-- run and worker that calls it reserves its slot here, so the vendor's per-minute limit holds across
-- parallel tasks and backfill runs alike (see lead_pipelines.common.pacing).
CREATE TABLE IF NOT EXISTS ops.api_pacing (
    pace_key text PRIMARY KEY,
    next_at  timestamptz NOT NULL
)
