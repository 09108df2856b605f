-- What the reliability work added to each try: quarantined and stale records, the vendor's own count,
-- and how long the run waited for another run of the same window.
ALTER TABLE ops.sync_runs
    ADD COLUMN IF NOT EXISTS quarantined      integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS stale            integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS vendor_count     integer,
    ADD COLUMN IF NOT EXISTS counted          integer,
    ADD COLUMN IF NOT EXISTS lock_wait_seconds double precision NOT NULL DEFAULT 0
