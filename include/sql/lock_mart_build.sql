-- One mart build at a time (parallel backfill runs queue here), released at commit.
SELECT pg_advisory_xact_lock(hashtext('lead_pipelines.mart_build'))
