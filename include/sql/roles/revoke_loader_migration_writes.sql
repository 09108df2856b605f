-- The loader reads the ledger (migrate's up-to-date check) but never records a migration.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ops.schema_migrations FROM {loader}
