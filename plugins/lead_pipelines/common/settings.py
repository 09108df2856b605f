"""Frozen settings that describe one source: what a DAG factory needs, nothing read at parse time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

#: The warehouse's Airflow connection id (postgres), a public contract.
WAREHOUSE_CONN_ID = "leads_warehouse"

#: The logical host in raw-table Asset URIs: assets name data, not a deployment's address.
ASSET_HOST = "leads-warehouse:5432/leads"


@dataclass(frozen=True)
class StreamSettings:
    """One endpoint of a vendor landed into one raw table.

    :param name: Stream name; the raw table is ``raw.<vendor>_<name>``.
    :param record_id_field: Top-level field that identifies a record across runs.
    :param endpoint: The vendor endpoint read, named in errors (e.g. ``/events``).
    :param time_field: Top-level field with the record's own time; every record must lie in its window.
    :param time_unit: ``ms``, ``s`` (epoch numbers) or ``iso`` (text) for ``time_field``.
    :param updated_field: Top-level field with the record's update time: never replace newer by older.
    :param updated_unit: Unit of ``updated_field``.
    :param max_pages: Pages one window may take before the run fails as a runaway cursor.
    """

    name: str
    record_id_field: str = "id"
    endpoint: str = ""
    time_field: str | None = None
    time_unit: str = "ms"
    updated_field: str | None = None
    updated_unit: str = "iso"
    max_pages: int = 10_000


@dataclass(frozen=True)
class SourceSettings:
    """Everything the DAG factory needs to build one vendor's sync DAG.

    :param vendor: Lower-case vendor key, used in table names and ``ops`` rows.
    :param display_name: The vendor's name as people write it, used in messages.
    :param dag_id: Public DAG id.
    :param conn_id: Default Airflow connection id.
    :param cron: Schedule; windows are the intervals between two ticks.
    :param interval: Length of one window (matches ``cron``).
    :param start_date: First window a catch-up or backfill may ask for.
    :param streams: The streams this DAG lands.
    :param lock_wait_seconds: How long a run waits for another run of the same window.
    """

    vendor: str
    display_name: str
    dag_id: str
    conn_id: str
    cron: str
    interval: timedelta
    start_date: datetime
    streams: tuple[StreamSettings, ...]
    owner: str = "lead-pipelines"
    retries: int = 3
    retry_delay: timedelta = timedelta(minutes=5)
    tags: tuple[str, ...] = field(default=())
    lock_wait_seconds: float = 600.0

    def raw_table(self, stream: StreamSettings) -> str:
        """Return the raw table's name (without schema) for ``stream``."""
        return f"{self.vendor}_{stream.name}"

    def asset_uri(self, stream: StreamSettings) -> str:
        """Return the Asset URI of ``stream``'s raw table, in the postgres provider's shape."""
        return f"postgres://{ASSET_HOST}/raw/{self.raw_table(stream)}"


def utc(year: int, month: int, day: int) -> datetime:
    """Return midnight UTC of a date, for settings' start dates."""
    return datetime(year, month, day, tzinfo=timezone.utc)
