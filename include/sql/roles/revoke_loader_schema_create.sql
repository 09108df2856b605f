-- In case a role that existed before the setup was granted more.
REVOKE CREATE ON SCHEMA raw, ops FROM {loader}
