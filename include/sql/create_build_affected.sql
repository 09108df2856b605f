-- The unified leads one build touches (rebuilt from their links at the end of the build).
CREATE TEMPORARY TABLE build_affected (unified_id text PRIMARY KEY) ON COMMIT DROP
