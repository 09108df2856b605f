-- Status page, panel "outbox": per push target, ops.push_outbox's open rows by state (pending:
-- committed, not sent; sending: sent or being sent, outcome not known yet), the rows sent for the
-- periods within %(span)s of the target's newest period, and the oldest row not sent.
-- Index-driven on any history: the open rows through the partial index push_outbox_open (target,
-- state) WHERE state <> 'sent'; the targets and grains by a skip scan of push_outbox_period (target,
-- grain, period_start), then per target and grain a backward probe and a range read of it.
WITH RECURSIVE kinds AS (
    (SELECT o.target, o.grain FROM ops.push_outbox AS o ORDER BY o.target, o.grain, o.period_start LIMIT 1)
    UNION ALL
    SELECT later.target, later.grain
    FROM kinds AS k
    CROSS JOIN LATERAL (
        SELECT o.target, o.grain FROM ops.push_outbox AS o
        WHERE (o.target, o.grain) > (k.target, k.grain)
        ORDER BY o.target, o.grain, o.period_start
        LIMIT 1
    ) AS later
),
recent AS (
    SELECT k.target, sum(s.sent) AS sent, max(s.last_sent_at) AS last_sent_at
    FROM kinds AS k
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE o.state = 'sent') AS sent, max(o.sent_at) AS last_sent_at
        FROM ops.push_outbox AS o
        WHERE o.target = k.target AND o.grain = k.grain
          AND o.period_start > (SELECT max(p.period_start) FROM ops.push_outbox AS p
                                 WHERE p.target = k.target AND p.grain = k.grain) - %(span)s::interval
    ) AS s
    GROUP BY k.target
),
open AS (
    SELECT o.target,
           count(*) FILTER (WHERE o.state = 'pending') AS pending,
           count(*) FILTER (WHERE o.state = 'sending') AS sending
    FROM ops.push_outbox AS o
    WHERE o.state <> 'sent'
    GROUP BY o.target
)
SELECT t.target                          AS target,
       coalesce(op.pending, 0)           AS pending,
       coalesce(op.sending, 0)           AS sending,
       coalesce(r.sent, 0)               AS sent,
       r.last_sent_at                    AS last_sent_at,
       u.push_key                        AS oldest_unresolved,
       u.state                           AS oldest_unresolved_state,
       u.grain                           AS oldest_unresolved_grain,
       u.period_start                    AS oldest_unresolved_period,
       u.attempts                        AS oldest_unresolved_attempts,
       u.created_at                      AS oldest_unresolved_at,
       now() - u.created_at              AS oldest_unresolved_age
FROM (SELECT DISTINCT k.target FROM kinds AS k) AS t
LEFT JOIN open AS op ON op.target = t.target
LEFT JOIN recent AS r ON r.target = t.target
LEFT JOIN LATERAL (
    SELECT o.push_key, o.state, o.grain, o.period_start, o.attempts, o.created_at
    FROM ops.push_outbox AS o
    WHERE o.target = t.target AND o.state <> 'sent'
    ORDER BY o.created_at, o.push_key
    LIMIT 1
) AS u ON true
ORDER BY t.target
