-- The unified_leads DAG rebuilds the marts as the loader: it reads and rewrites mart's tables (DELETE
-- included: a window's aggregates are replaced as a whole) but creates nothing there.
GRANT USAGE ON SCHEMA mart TO {loader}
