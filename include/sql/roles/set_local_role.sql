-- Until reset_role or the end of the transaction, what follows is created as (and owned by) this role.
SET LOCAL ROLE {role}
