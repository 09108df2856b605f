-- A rebuild replaces the periods' rows as a whole (a source/channel that vanished leaves no stale row).
DELETE FROM mart.lead_aggregates WHERE grain = %(grain)s AND period_start = ANY(%(periods)s::timestamptz[])
