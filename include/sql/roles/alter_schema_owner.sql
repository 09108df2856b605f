-- A warehouse migrated before the roles existed: its schemas pass to the owner.
ALTER SCHEMA {schema} OWNER TO {owner}
