-- The quality gate looks at the unified leads active in a window.
CREATE INDEX IF NOT EXISTS unified_leads_first_seen_at ON mart.unified_leads (first_seen_at)
