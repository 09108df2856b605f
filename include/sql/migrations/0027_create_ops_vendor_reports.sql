-- Report definitions kept at a vendor (LeadConduit reports): what was asked, the vendor's id once known.
CREATE TABLE IF NOT EXISTS ops.vendor_reports (
    vendor           text        NOT NULL,
    name             text        NOT NULL,
    report_id        text,
    definition_hash  text        NOT NULL,
    state            text        NOT NULL CHECK (state IN ('creating', 'synced')),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (vendor, name)
)
