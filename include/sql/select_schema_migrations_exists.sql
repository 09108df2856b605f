-- From the catalog, which needs no privilege on ops: migrate checks what is missing before any DDL.
SELECT EXISTS (
    SELECT FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = 'ops' AND c.relname = 'schema_migrations'
)
