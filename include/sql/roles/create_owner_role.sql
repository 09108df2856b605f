-- The owner owns the schemas raw, mart and ops and runs the migrations: DDL, nothing cluster-wide.
CREATE ROLE {owner} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
