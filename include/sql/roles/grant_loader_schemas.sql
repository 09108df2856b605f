-- USAGE only: the loader creates nothing in raw or ops, and gets nothing at all on mart.
GRANT USAGE ON SCHEMA raw, ops TO {loader}
