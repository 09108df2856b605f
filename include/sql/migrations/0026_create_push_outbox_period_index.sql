-- A window's aggregates and their sends.
CREATE INDEX IF NOT EXISTS push_outbox_period ON ops.push_outbox (target, grain, period_start)
