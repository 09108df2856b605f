-- A unified lead known only by phone that a later email record of the same phone absorbed: its old
-- id points at the new one, so nothing that kept the old id dangles.
CREATE TABLE IF NOT EXISTS mart.unified_lead_merges (
    old_id     text        PRIMARY KEY,
    new_id     text        NOT NULL,
    merged_at  timestamptz NOT NULL DEFAULT now()
)
