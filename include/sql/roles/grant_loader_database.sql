-- TEMPORARY: the landing streams each window into a temporary staging table.
GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {loader}
