-- "Is this the lead's first touchpoint" probes a lead's touchpoints.
CREATE INDEX IF NOT EXISTS touchpoints_unified_id ON mart.touchpoints (unified_id)
