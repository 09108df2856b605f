-- Status page, once per request before its panels: no JIT (it compiles for tens of milliseconds where
-- the panels' index reads take a few), and a statement timeout, so a slow warehouse cannot hold the
-- API server's worker. Session settings: the caller commits.
SELECT set_config('jit', 'off', false), set_config('statement_timeout', %(statement_timeout)s, false)
