"""Schema drift: the fields a window's records carry, against what their stream has seen before.

While a window is staged (inside the landing transaction, after the merge), one statement
(``include/sql/profile_staged_fields.sql``) walks the staged records' JSON in PostgreSQL and keeps
each distinct field: its path (``vars.lead.email.normal``; array elements as ``tags[]``) and its JSON
type (``object``, ``array``, ``string``, ``number``, ``boolean``, ``null``). It compares them with the
stream's fields in ``ops.stream_fields``, records the differences in ``ops.schema_drift`` and names
them in the task log. The rules:

- **baseline**: a stream's first profiled window records its fields and reports no drift;
- **new**: a path the stream has never carried;
- **retyped**: a known path carries a non-null type it never had, where it had another non-null
  type (a field that is sometimes null is not drift);
- **vanished**: a path that each of the stream's last :data:`VANISH_AFTER` profiled windows carried
  is absent from this one (reported once; an optional field that comes and goes is not drift).
  Judged only when the window had records and every record and path was walked.

Bounds keep it cheap beside the landing: :data:`MAX_DEPTH` levels, at most :data:`MAX_RECORDS`
records per window (an even sample of a larger one), :data:`MAX_PATHS` distinct fields; scalars keep
only their type and repeated values are walked once. Drift never fails a load: the step runs in a
savepoint, and any error is logged and rolled back to it, leaving the landing untouched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg

from lead_pipelines.common.landing import describe_warehouse_error
from lead_pipelines.common.warehouse import statement

if TYPE_CHECKING:
    from lead_pipelines.common.landing import Target

log = logging.getLogger(__name__)

#: Levels of nesting walked (``a.b.c`` is three).
MAX_DEPTH = 8
#: Records of one window walked; a larger window is profiled on an even sample of as many (no "vanished").
MAX_RECORDS = 5_000
#: Distinct (path, type) pairs kept per window (vendor keys that are data would grow without end).
MAX_PATHS = 2_000
#: A path must have been in this many profiled windows in a row before its absence counts as vanished.
VANISH_AFTER = 3
#: Changes named in the task log's drift line; the rest are counted (all are in ops.schema_drift).
LOG_LIMIT = 10


@dataclass
class Drift:
    """What profiling one window found.

    :param fields: Distinct (path, type) pairs the window carried.
    :param baseline: This was the stream's first profiled window (nothing reported).
    :param whole: Every record and path was walked (otherwise "vanished" is not judged).
    :param changes: ``(change, path, old_type, new_type)`` per change, as recorded.
    """

    fields: int = 0
    baseline: bool = False
    whole: bool = True
    changes: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)

    def describe(self, limit: int = LOG_LIMIT) -> str:
        """Return one line naming the changes (at most ``limit`` of them)."""
        if not self.fields:
            return "no fields to profile (no records)"
        if self.baseline:
            return f"schema baseline recorded: {self.fields} fields"
        if not self.changes:
            return f"no schema drift ({self.fields} fields)"
        counts = {kind: sum(c[0] == kind for c in self.changes) for kind in ("new", "retyped", "vanished")}
        named = ", ".join(_name(c) for c in self.changes[:limit])
        more = f", and {len(self.changes) - limit} more" if len(self.changes) > limit else ""
        summary = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
        return f"schema drift: {summary}: {named}{more} (ops.schema_drift)"


def _name(change: tuple[str, str, str | None, str | None]) -> str:
    kind, path, old, new = change
    if kind == "new":
        return f"new {path}: {new}"
    if kind == "vanished":
        return f"vanished {path} (was {old})"
    return f"retyped {path}: {old} -> {new}"


def profile_window(cur: psycopg.Cursor, stage: str, target: Target, run_id: int) -> Drift | None:
    """Profile the staged window's fields, record drift, log one line; never raise.

    Runs in a savepoint of the caller's transaction: an error is logged and rolled back to it, and
    the landing goes on as if profiling had not been tried.

    :param cur: A cursor in the landing transaction, with the staging table present.
    :param stage: The staging table's name.
    :param target: The vendor, stream and window.
    :param run_id: The ``ops.sync_runs`` row landing the window.
    :returns: What was found, or None when profiling failed.
    """
    try:
        with cur.connection.transaction():
            cur.execute(statement("set_local_jit_off"))
            row = cur.execute(statement("profile_staged_fields", stage=stage), _params(target, run_id)).fetchone()
    except Exception as exc:  # drift never fails a load
        # Class and primary message only: a PostgreSQL error's detail may quote a record.
        reason = describe_warehouse_error(exc) if isinstance(exc, psycopg.Error) else type(exc).__name__
        log.warning("%s.%s %s: schema drift not checked (%s); the landing goes on",
                    target.vendor, target.stream, target.window, reason)
        return None
    fields, baseline, whole, changes = row
    drift = Drift(fields, baseline, whole, [tuple(c) for c in changes])
    log_drift(target, drift)
    return drift


def log_drift(target: Target, drift: Drift) -> None:
    """Write the drift line to the task log: a warning when fields changed, else info."""
    level = logging.WARNING if drift.changes else logging.INFO
    partial = "" if drift.whole else f" (a sample of {MAX_RECORDS} records or {MAX_PATHS} fields only: vanished not judged)"
    log.log(level, "%s.%s %s: %s%s", target.vendor, target.stream, target.window, drift.describe(), partial)


def _params(target: Target, run_id: int) -> dict[str, Any]:
    return {
        "vendor": target.vendor, "stream": target.stream, "window_start": target.window.start,
        "window_end": target.window.end, "run_id": run_id, "max_depth": MAX_DEPTH,
        "max_records": MAX_RECORDS, "max_paths": MAX_PATHS, "vanish_after": VANISH_AFTER,
    }
