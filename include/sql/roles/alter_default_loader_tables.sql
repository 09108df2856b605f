-- Tables the owner creates later (new migrations, new vendors' raw tables) get the same grants.
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA raw, ops GRANT SELECT, INSERT, UPDATE ON TABLES TO {loader}
