-- mart is for transformations: the loader has no USAGE on it, so it can reach nothing there.
REVOKE ALL ON SCHEMA mart FROM {loader}
