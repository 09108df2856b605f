"""Space out calls to a rate-limited vendor so they stay under its limit, across tasks and workers.

A vendor that allows N calls a minute gets one call every ``60 / N`` seconds per limited key (an
endpoint, or the whole API). A *pacer* hands out those slots: it answers how long a caller waits
before its call. :class:`WarehousePacer` keeps the slots in ``ops.api_pacing``, so every task, run
and Celery worker sharing the warehouse shares them too; :class:`LocalPacer` keeps them in this
process (a hook used on its own, or a warehouse that cannot be reached).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateLimit:
    """A vendor's documented limit: ``calls`` per ``period_seconds``, per endpoint or for the whole API.

    :param calls: Calls allowed per period.
    :param period_seconds: The period (60 for a per-minute limit).
    :param per_endpoint: Each endpoint has its own budget (else one budget for every call).
    """

    calls: float
    period_seconds: float = 60.0
    per_endpoint: bool = True

    @property
    def interval(self) -> float:
        """Return the seconds between two calls under this limit."""
        return self.period_seconds / self.calls


class Pacer(Protocol):
    """Hands out call slots."""

    def reserve(self, key: str, interval: float) -> float:
        """Reserve the next slot of ``key`` and return the seconds to wait before using it."""


class LocalPacer:
    """Slots kept in this process: shared by every hook of the process, not beyond it."""

    _lock = threading.Lock()
    _next: dict[str, float] = {}

    def reserve(self, key: str, interval: float) -> float:
        """Reserve the next slot of ``key`` and return the seconds to wait before using it.

        :param key: What the limit applies to, e.g. ``LeadBoxer:/v1/leads``.
        :param interval: Seconds between two slots.
        """
        with self._lock:
            now = time.monotonic()
            slot = max(self._next.get(key, now), now)
            self._next[key] = slot + interval
            return slot - now


class WarehousePacer:
    """Slots kept in the warehouse (``ops.api_pacing``), shared by every process that lands there.

    :param conn_id: The warehouse's Airflow connection.
    """

    def __init__(self, conn_id: str) -> None:
        self.conn_id = conn_id
        self._conn = None
        self._fallback: LocalPacer | None = None

    def reserve(self, key: str, interval: float) -> float:
        """Reserve the next slot of ``key`` in the warehouse and return the seconds to wait.

        Falls back to this process's slots when the warehouse cannot be reached: the vendor's 429
        answers (with their ``Retry-After``) remain the backstop.

        :param key: What the limit applies to.
        :param interval: Seconds between two slots.
        """
        if self._fallback is not None:
            return self._fallback.reserve(key, interval)
        import psycopg

        from lead_pipelines.common.warehouse import connect, statement

        try:
            if self._conn is None or self._conn.closed:
                self._conn = connect(self.conn_id)
                self._conn.autocommit = True
            row = self._conn.execute(statement("reserve_api_slot"), {"pace_key": key, "interval": interval}).fetchone()
            return float(row[0])
        except psycopg.Error as exc:
            log.warning("pacing in this process only: the warehouse's ops.api_pacing is not usable (%s)",
                        type(exc).__name__)
            self.close()
            self._fallback = LocalPacer()
            return self._fallback.reserve(key, interval)

    def close(self) -> None:
        """Close the warehouse connection, if one was opened."""
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
