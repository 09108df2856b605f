-- Records without an email join by phone key (resolve_phone_links.sql).
CREATE INDEX IF NOT EXISTS lead_links_phone_key ON mart.lead_links (phone_key) WHERE phone_key IS NOT NULL
