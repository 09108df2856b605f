-- The time a run waited for its call slots under the vendor's rate limit (see 0010).
ALTER TABLE ops.sync_runs ADD COLUMN IF NOT EXISTS http_paced_seconds double precision NOT NULL DEFAULT 0
