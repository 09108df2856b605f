-- CREATE: the migrations run CREATE SCHEMA IF NOT EXISTS, which checks it even when the schema exists.
GRANT CONNECT, CREATE ON DATABASE {database} TO {owner}
