-- The status page and people read a stream's latest drift first.
CREATE INDEX IF NOT EXISTS schema_drift_stream_detected ON ops.schema_drift (vendor, stream, detected_at DESC)
