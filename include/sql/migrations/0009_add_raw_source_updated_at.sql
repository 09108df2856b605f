-- The vendor's own update time of a record, where the stream has one: the merge never replaces a
-- newer version with an older one. New raw tables get the column from create_raw_table.sql.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'raw' LOOP
        EXECUTE format('ALTER TABLE raw.%I ADD COLUMN IF NOT EXISTS source_updated_at timestamptz', t.tablename);
    END LOOP;
END
$$
