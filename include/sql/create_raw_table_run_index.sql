-- {index} and {table} are formatted by code from a source's settings. The marts read raw tables by
-- last_run_id (see migration 0014).
CREATE INDEX IF NOT EXISTS {index} ON {table} (last_run_id)
