-- The password arrives already hashed (a SCRAM verifier computed by the client), bound by the client
-- because utility statements take no server-side parameters: the clear text never reaches the server.
ALTER ROLE {role} PASSWORD %(password)s
