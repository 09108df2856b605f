-- One key for the whole warehouse: concurrent migrate tasks queue here, then see each other's work.
SELECT pg_advisory_xact_lock(hashtext('lead_pipelines.migrate'))
