-- A unified lead is rebuilt from its links.
CREATE INDEX IF NOT EXISTS lead_links_unified_id ON mart.lead_links (unified_id)
