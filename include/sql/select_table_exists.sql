-- Whether a table exists (and is visible to this role).
SELECT to_regclass(%s) IS NOT NULL
