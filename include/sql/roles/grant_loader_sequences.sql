-- nextval() of bigserial columns (ops.sync_runs.run_id) needs USAGE.
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA raw, ops TO {loader}
