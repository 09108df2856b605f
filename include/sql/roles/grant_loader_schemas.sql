-- USAGE only: the loader creates nothing in raw or ops (mart: see grant_loader_mart.sql).
GRANT USAGE ON SCHEMA raw, ops TO {loader}
