-- ALTER TABLE ... OWNER TO also takes views and sequences; a table's indexes and sequences follow it.
ALTER TABLE {relation} OWNER TO {owner}
