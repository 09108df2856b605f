-- The landing's INSERT ... ON CONFLICT DO UPDATE, the audit rows and the state: no DELETE, no TRUNCATE.
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA raw, ops TO {loader}
