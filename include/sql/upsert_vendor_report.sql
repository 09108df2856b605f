-- A report definition kept at a vendor: 'creating' is committed before the (not idempotent) create
-- call, 'synced' once the vendor's report is known; a null report_id never erases a known one.
INSERT INTO ops.vendor_reports AS r (vendor, name, report_id, definition_hash, state, updated_at)
VALUES (%(vendor)s, %(name)s, %(report_id)s, %(definition_hash)s, %(state)s, now())
ON CONFLICT (vendor, name) DO UPDATE
    SET report_id = coalesce(EXCLUDED.report_id, r.report_id),
        definition_hash = EXCLUDED.definition_hash,
        state = EXCLUDED.state,
        updated_at = EXCLUDED.updated_at
