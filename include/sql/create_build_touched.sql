-- The hours whose aggregates one build changed the inputs of.
CREATE TEMPORARY TABLE build_touched (hour timestamptz PRIMARY KEY) ON COMMIT DROP
