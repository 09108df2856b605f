-- Rebuild the touched unified leads from their links (absorbed ones stay gone).
DELETE FROM mart.unified_leads WHERE unified_id IN (SELECT unified_id FROM build_affected)
