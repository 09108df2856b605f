-- One stream's freshness as a scheduled run judged it.
INSERT INTO ops.freshness_checks
    (vendor, stream, checked_at, last_window_end, lag_seconds, allowed_seconds, fresh, dag_run_id)
VALUES (%(vendor)s, %(stream)s, %(checked_at)s, %(last_window_end)s, %(lag_seconds)s, %(allowed_seconds)s,
        %(fresh)s, %(dag_run_id)s)
