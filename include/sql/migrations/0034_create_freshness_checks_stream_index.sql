-- The status page and people read a stream's latest check first.
CREATE INDEX IF NOT EXISTS freshness_checks_stream_checked ON ops.freshness_checks (vendor, stream, checked_at DESC)
