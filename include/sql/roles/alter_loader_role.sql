-- Brings a role that existed before the setup to the same attributes as a new one.
ALTER ROLE {loader} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
