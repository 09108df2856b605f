-- PostgreSQL 15's default, applied on older servers too: nobody but its owner creates in public.
REVOKE CREATE ON SCHEMA public FROM PUBLIC
