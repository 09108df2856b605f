-- The loader is what the sync DAGs log in as (the leads_warehouse connection): it writes raw and ops.
CREATE ROLE {loader} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
