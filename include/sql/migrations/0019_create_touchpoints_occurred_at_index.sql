-- Aggregates read one period's touchpoints.
CREATE INDEX IF NOT EXISTS touchpoints_occurred_at ON mart.touchpoints (occurred_at)
