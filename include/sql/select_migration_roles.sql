-- Who is migrating, and who owns the warehouse (ops, else raw): named when the first may not migrate.
SELECT current_user,
       (SELECT pg_catalog.pg_get_userbyid(n.nspowner) FROM pg_catalog.pg_namespace AS n
        WHERE n.nspname IN ('ops', 'raw') ORDER BY n.nspname = 'ops' DESC LIMIT 1)
