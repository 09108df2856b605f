"""The status page's panels: one SQL statement each (``include/sql/status/<name>.sql``) over ``ops`` and ``mart``.

Every panel lists the streams of :mod:`lead_pipelines.registry` in its order, so a new source appears on
the page without UI code. Each runs in its own read-only transaction: a panel that fails (the
warehouse has no ``ops.schema_drift`` yet) leaves the others intact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from psycopg import errors as pg_errors

from lead_pipelines.common.warehouse import statement

if TYPE_CHECKING:
    from collections.abc import Callable

    import psycopg

#: How far back from a stream's newest window the "recent" panel reads.
RECENT_SPAN = timedelta(hours=48)
#: The "failures" panel reads the warehouse's last FAILURE_TRIES tries, and shows FAILURE_LIMIT per stream.
FAILURE_TRIES = 5000
FAILURE_LIMIT = 5
#: How many schema changes the "drift" panel shows per stream.
DRIFT_LIMIT = 10
#: The periods (back from a push target's newest) whose sent rows the "outbox" panel counts.
OUTBOX_SPAN = timedelta(days=7)


@dataclass(frozen=True)
class Column:
    """One column of a panel's table.

    :param key: The statement's column name (and the JSON row's key).
    :param header: The column's header on the page.
    """

    key: str
    header: str


@dataclass(frozen=True)
class Panel:
    """A panel of the status page.

    :param name: The SQL file under ``include/sql/status/`` and the JSON route ``/panels/<name>``.
    :param title: The panel's heading.
    :param description: One sentence under the heading: what the rows are.
    :param columns: What the page shows of each row (the JSON carries every column).
    :param params: Builds the statement's parameters (from the registry).
    :param optional_table: A table the panel tolerates missing; the panel then says so, empty.
    """

    name: str
    title: str
    description: str
    columns: tuple[Column, ...]
    params: Callable[[], dict[str, Any]]
    optional_table: str | None = None
    empty: str = "nothing to show"


@dataclass
class PanelResult:
    """What one panel found: its rows as dicts of JSON-ready values, or a note where it could not run."""

    panel: Panel
    rows: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None

    def as_json(self) -> dict[str, Any]:
        """Return the panel as the JSON route serves it."""
        return {"name": self.panel.name, "title": self.panel.title, "description": self.panel.description,
                "columns": [c.key for c in self.panel.columns], "rows": self.rows, "note": self.note}


def _streams() -> list[tuple[Any, Any]]:
    """Return ``(source, stream)`` for every registered stream, in the registry's order."""
    from lead_pipelines.registry import SOURCES

    return [(source, stream) for source in SOURCES for stream in source.streams]


def stream_params() -> dict[str, Any]:
    """Return the registered streams as parallel arrays: vendors, stream names, partitioned flags."""
    pairs = _streams()
    return {"vendors": [source.vendor for source, _ in pairs], "streams": [stream.name for _, stream in pairs],
            "partitioned": [stream.partitioned_by is not None for _, stream in pairs]}


def _freshness_params() -> dict[str, Any]:
    pairs = _streams()
    return {**stream_params(), "freshness": [source.freshness for source, _ in pairs]}


def _recent_params() -> dict[str, Any]:
    return {**stream_params(), "span": RECENT_SPAN}


def _failure_params() -> dict[str, Any]:
    return {**stream_params(), "tries": FAILURE_TRIES, "limit": FAILURE_LIMIT}


def _drift_params() -> dict[str, Any]:
    return {**stream_params(), "limit": DRIFT_LIMIT}


def _columns(*pairs: str) -> tuple[Column, ...]:
    """Return columns from ``"key:Header"`` strings."""
    return tuple(Column(*pair.split(":", 1)) for pair in pairs)


PANELS: tuple[Panel, ...] = (
    Panel(
        name="freshness",
        title="Freshness",
        description="Per stream, the newest window landed and how old its end is, against the source's "
                    "freshness target; and whether unified_leads has read it into the marts.",
        columns=_columns("stream:Stream", "window_start:Newest window from", "window_end:to", "records:Records",
                         "age:Age", "freshness:Target", "late:Late", "in_marts:In marts"),
        params=_freshness_params,
    ),
    Panel(
        name="recent",
        title="Recent windows",
        description=f"Per stream, the tries of the windows in the {RECENT_SPAN.total_seconds() / 3600:.0f} h "
                    "up to its newest window: records received (successful tries), rows inserted and "
                    "updated, records quarantined.",
        columns=_columns("stream:Stream", "first_window_start:From", "last_window_end:To", "windows:Windows",
                         "runs:Tries", "failed:Failed", "records:Records", "inserted:Inserted",
                         "updated:Updated", "quarantined:Quarantined"),
        params=_recent_params,
    ),
    Panel(
        name="failures",
        title="Failures",
        description=f"Per stream, the newest failed or abandoned tries (at most {FAILURE_LIMIT}) among the "
                    f"last {FAILURE_TRIES:,} tries of all streams, with the first line of the error; "
                    "resolved: a later try of the window succeeded.",
        columns=_columns("stream:Stream", "window_start:Window from", "window_end:to", "status:Status",
                         "try_number:Try", "task_id:Task", "error_line:Error", "resolved:Resolved"),
        params=_failure_params,
        empty="no failed tries",
    ),
    Panel(
        name="drift",
        title="Schema drift",
        description=f"Per stream, the newest changes (at most {DRIFT_LIMIT}) to the fields its records carry: "
                    "new, vanished and retyped, by JSON path.",
        columns=_columns("stream:Stream", "change:Change", "path:Path", "old_type:Was", "new_type:Now",
                         "window_start:Window from", "detected_at:Detected"),
        params=_drift_params,
        optional_table="ops.schema_drift",
        empty="no schema changes recorded",
    ),
    Panel(
        name="outbox",
        title="Push outbox",
        description="Per push target, the events not sent yet (pending: not sent; sending: outcome not "
                    f"known yet), those sent for the periods of the {OUTBOX_SPAN.days} days up to its newest, "
                    "and the oldest one not sent.",
        columns=_columns("target:Target", "pending:Pending", "sending:Sending", "sent:Sent (recent periods)",
                         "last_sent_at:Last sent", "oldest_unresolved:Oldest unresolved",
                         "oldest_unresolved_state:Its state", "oldest_unresolved_age:Its age"),
        params=lambda: {"span": OUTBOX_SPAN},
        empty="nothing pushed yet",
    ),
)

BY_NAME: dict[str, Panel] = {panel.name: panel for panel in PANELS}


def jsonable(value: Any) -> Any:
    """Return a statement's value as JSON carries it: times in ISO 8601 (UTC), durations in seconds."""
    if isinstance(value, datetime):
        return (value.astimezone(timezone.utc) if value.tzinfo else value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def run_panel(conn: psycopg.Connection, panel: Panel) -> PanelResult:
    """Run one panel's statement in its own read-only transaction.

    :param conn: A warehouse connection (not in autocommit).
    :param panel: The panel.
    :raises psycopg.Error: The statement failed for another reason than the panel's optional table.
    """
    try:
        cursor = conn.execute(statement(f"status/{panel.name}"), panel.params())
        names = [column.name for column in cursor.description]
        rows = [{name: jsonable(value) for name, value in zip(names, row)} for row in cursor.fetchall()]
    except pg_errors.UndefinedTable:
        if panel.optional_table is None:
            raise
        return PanelResult(panel, note=f"{panel.optional_table} does not exist in this warehouse yet "
                                       "(run make migrate as the owner role)")
    finally:
        conn.rollback()
    return PanelResult(panel, rows=rows)


def run_panels(conn: psycopg.Connection) -> list[PanelResult]:
    """Run every panel, in page order."""
    return [run_panel(conn, panel) for panel in PANELS]
