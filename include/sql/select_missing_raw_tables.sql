-- The raw tables (names without schema) that do not exist yet, in the order asked; read from the catalog.
SELECT wanted.name
FROM unnest(%(tables)s::text[]) WITH ORDINALITY AS wanted(name, position)
WHERE NOT EXISTS (
    SELECT FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = 'raw' AND c.relname = wanted.name AND c.relkind IN ('r', 'p')
)
ORDER BY wanted.position
