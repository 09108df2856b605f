-- Reserve the next call slot of a rate-limited endpoint: slots are spaced by the interval, and the
-- answer is how many seconds the caller waits before its call (0 when the endpoint has been idle).
INSERT INTO ops.api_pacing AS p (pace_key, next_at)
VALUES (%(pace_key)s, clock_timestamp() + make_interval(secs => %(interval)s))
ON CONFLICT (pace_key) DO UPDATE
    SET next_at = greatest(p.next_at, clock_timestamp()) + make_interval(secs => %(interval)s)
RETURNING greatest(extract(epoch FROM p.next_at - clock_timestamp()) - %(interval)s, 0)::double precision AS wait_seconds
