-- Sequences the owner creates later (bigserial columns of new tables) get the same grants.
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA raw, ops GRANT USAGE, SELECT ON SEQUENCES TO {loader}
