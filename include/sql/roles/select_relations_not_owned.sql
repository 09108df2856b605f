-- Tables, views and standalone sequences in raw, mart and ops that another role owns (a warehouse
-- migrated before the roles existed, or by a superuser). Indexes and the sequences of serial or
-- identity columns are left out: they follow their table.
SELECT n.nspname || '.' || c.relname AS relation
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname IN ('raw', 'mart', 'ops')
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
  AND c.relowner IS DISTINCT FROM (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = %(owner)s)
  AND NOT EXISTS (
      SELECT FROM pg_catalog.pg_depend AS d
      WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
        AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i')
  )
ORDER BY 1
