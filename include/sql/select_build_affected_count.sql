-- How many unified leads this build touched.
SELECT count(*) FROM build_affected
