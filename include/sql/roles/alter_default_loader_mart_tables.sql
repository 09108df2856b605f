-- Mart tables the owner creates later (new migrations) get the same grants.
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA mart GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {loader}
