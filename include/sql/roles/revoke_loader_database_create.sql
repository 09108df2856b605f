-- The loader creates no schema (a role that existed before the setup may have been granted it).
REVOKE CREATE ON DATABASE {database} FROM {loader}
