-- The record that names the person: a LeadBoxer session's lead, the record itself elsewhere.
CREATE INDEX IF NOT EXISTS touchpoints_lead_record ON mart.touchpoints (source, lead_record_id)
