-- Read and rewrite every mart table (rebuilds replace rows); no TRUNCATE, no DDL.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA mart TO {loader}
