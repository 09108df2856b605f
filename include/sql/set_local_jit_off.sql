-- For the rest of the landing transaction (only its bookkeeping statements follow the drift step):
-- PostgreSQL's JIT would spend longer compiling the drift walk's plan (~0.5 s) than the walk takes.
SET LOCAL jit = off
