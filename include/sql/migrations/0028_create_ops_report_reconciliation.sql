-- A vendor's report numbers beside the warehouse's, per window, group and column.
CREATE TABLE IF NOT EXISTS ops.report_reconciliation (
    vendor           text        NOT NULL,
    report_name      text        NOT NULL,
    window_start     timestamptz NOT NULL,
    window_end       timestamptz NOT NULL,
    group_key        text        NOT NULL,
    column_name      text        NOT NULL,
    vendor_value     numeric,
    warehouse_value  numeric,
    difference       numeric,
    tolerance        numeric     NOT NULL,
    within_tolerance boolean     NOT NULL,
    checked_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (vendor, report_name, window_start, window_end, group_key, column_name)
)
