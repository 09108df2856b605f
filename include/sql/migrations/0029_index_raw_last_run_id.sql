-- The marts read each raw table incrementally by last_run_id (the sync run that last wrote a row):
-- index it on the raw tables that exist; create_raw_table_run_index.sql does the same for new ones.
DO $$
DECLARE t record;
BEGIN
    FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'raw' LOOP
        EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON raw.%I (last_run_id)', t.tablename || '_last_run_id', t.tablename);
    END LOOP;
END
$$
