-- One reconciled cell of a vendor report: the vendor's number beside the warehouse's for a window,
-- group and column; re-checking the same window replaces the cell.
INSERT INTO ops.report_reconciliation AS r (
    vendor, report_name, window_start, window_end, group_key, column_name,
    vendor_value, warehouse_value, difference, tolerance, within_tolerance, checked_at
)
VALUES (
    %(vendor)s, %(report_name)s, %(window_start)s, %(window_end)s, %(group_key)s, %(column_name)s,
    %(vendor_value)s, %(warehouse_value)s, %(difference)s, %(tolerance)s, %(within_tolerance)s, now()
)
ON CONFLICT (vendor, report_name, window_start, window_end, group_key, column_name) DO UPDATE
    SET vendor_value = EXCLUDED.vendor_value,
        warehouse_value = EXCLUDED.warehouse_value,
        difference = EXCLUDED.difference,
        tolerance = EXCLUDED.tolerance,
        within_tolerance = EXCLUDED.within_tolerance,
        checked_at = EXCLUDED.checked_at
