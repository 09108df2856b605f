"""Keep the package's LeadConduit reports in step with the code, run them, reconcile with the warehouse.

``POST /reports`` is not idempotent, so a report is found by name first (``GET /reports``); the
intent to create is committed to ``ops.vendor_reports`` before the call, and a create whose answer
was lost (timeout, reset, 5xx) is followed by a second look-up, never by a blind second create.
Names carry :data:`PREFIX`: a report without it is the user's and is never touched.

A report run counts **events** (not leads) by creation time (``end_timestamp``) between inclusive
``start`` and ``end``; the warehouse side counts the landed ``raw.leadconduit_events`` the same way
over the half-open window, and one row per (group, column) lands in ``ops.report_reconciliation``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from lead_pipelines.common.errors import VendorAPIError, VendorRejectedError
from lead_pipelines.common.warehouse import statement
from lead_pipelines.leadconduit.settings import EVENT_TYPES, SOURCE, STATS_OUTCOMES

if TYPE_CHECKING:
    import psycopg

    from lead_pipelines.common.windows import Window
    from lead_pipelines.leadconduit.hook import LeadConduitHook

log = logging.getLogger(__name__)

#: Every report this package keeps is named with this prefix; no other report is ever changed.
PREFIX = "lead-pipelines: "
#: Columns the warehouse can count: ``<type>``, ``<type>-<outcome>``, ``<type>-submitted``.
_COLUMN = re.compile(r"^(%s)(?:-(success|failure|error|submitted))?$" % "|".join(map(re.escape, EVENT_TYPES)))
#: Fields LeadConduit keeps itself: never sent back in an update.
_VENDOR_KEPT = ("token", "created_at", "updated_at")
#: Creates tried at most, each after a look-up found that the one before did not land.
MAX_CREATES = 3
SOURCE_COLUMNS = ("source", "source-success", "source-failure", "source-error")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class ReportDefinition:
    """A report this package keeps at LeadConduit.

    :param name: The report's name, starting with :data:`PREFIX`.
    :param group_by: Dotted event paths to group by, e.g. ``vars.source.id``.
    :param columns: Count columns the warehouse can reproduce (see :data:`_COLUMN`).
    """

    name: str
    group_by: tuple[str, ...]
    columns: tuple[str, ...] = SOURCE_COLUMNS

    def __post_init__(self) -> None:
        if not self.name.startswith(PREFIX):
            raise ValueError(f"report name {self.name!r} must start with {PREFIX!r}")
        unknown = [c for c in self.columns if not _COLUMN.match(c)]
        if unknown or not self.columns:
            raise ValueError(f"report {self.name!r}: columns {unknown} cannot be counted in the warehouse")

    def body(self) -> dict[str, Any]:
        """Return the definition as LeadConduit takes it."""
        return {"name": self.name, "columns": list(self.columns), "group_by": list(self.group_by)}

    def definition_hash(self) -> str:
        """Return a stable hash of :meth:`body`, stored in ``ops.vendor_reports``."""
        return hashlib.sha256(json.dumps(self.body(), sort_keys=True).encode()).hexdigest()

    def differs(self, report: dict[str, Any]) -> bool:
        """Tell whether the vendor's report counts something else than this definition.

        :param report: The report as LeadConduit lists it.
        """
        return (list(report.get("columns") or []) != list(self.columns)
                or list(report.get("group_by") or []) != list(self.group_by)
                or bool(report.get("rules")))

    def types(self) -> list[str]:
        """Return the event types the columns count."""
        return sorted({_COLUMN.match(c).group(1) for c in self.columns})  # type: ignore[union-attr]


#: The reports the package keeps.
REPORTS: tuple[ReportDefinition, ...] = (
    ReportDefinition(f"{PREFIX}leads by source", ("vars.source.id",)),
    ReportDefinition(f"{PREFIX}leads by flow", ("vars.flow.id",)),
)


@dataclass
class ReportSummary:
    """What one :func:`sync_reports` call did."""

    created: int = 0
    #: Creates whose answer was lost, found by name afterwards (also counted in ``created``).
    adopted: int = 0
    updated: int = 0
    #: Duplicate reports with one of our names deleted (the oldest is kept).
    deduplicated: int = 0
    unchanged: int = 0
    rows_reconciled: int = 0
    mismatches: int = 0
    report_ids: dict[str, str] = field(default_factory=dict)


def sync_reports(
    conn: psycopg.Connection,
    hook: LeadConduitHook,
    window: Window,
    *,
    tolerance: float = 0.0,
    reports: tuple[ReportDefinition, ...] = REPORTS,
) -> ReportSummary:
    """Make each definition exist once at LeadConduit, run it for ``window`` and reconcile it.

    :param conn: A warehouse connection (the loader role suffices); committed here.
    :param hook: The LeadConduit hook.
    :param window: The half-open data interval to run and reconcile.
    :param tolerance: Relative tolerance: a cell is within it when
        ``|vendor - warehouse| <= tolerance * max(vendor, 1)``.
    :param reports: The definitions to keep.
    """
    summary = ReportSummary()
    for definition in reports:
        summary.report_ids[definition.name] = _ensure_report(conn, hook, definition, summary)
    for definition in reports:
        _reconcile(conn, hook, definition, summary.report_ids[definition.name], window, tolerance, summary)
    log.info(
        "LeadConduit reports for window %s: created %d (adopted %d), updated %d, deduplicated %d, "
        "unchanged %d; %d cells reconciled, %d above tolerance %g",
        window, summary.created, summary.adopted, summary.updated, summary.deduplicated, summary.unchanged,
        summary.rows_reconciled, summary.mismatches, tolerance,
    )
    return summary


# -- keeping the definitions ----------------------------------------------------------------------


def _ensure_report(conn: psycopg.Connection, hook: LeadConduitHook, definition: ReportDefinition,
                   summary: ReportSummary) -> str:
    """Return the id of the one report named like ``definition``, creating or updating it as needed."""
    found = _named(hook.list_reports(), definition.name)
    if not found:
        _record(conn, definition, None, "creating")
        report = _create(hook, definition, summary)
    else:
        report = _keep_oldest(hook, found, summary)
        if definition.differs(report):
            report = hook.update_report(report["id"], _update_body(report, definition))
            summary.updated += 1
            log.info("LeadConduit report %r (%s) updated to the package's definition", definition.name, report["id"])
        else:
            summary.unchanged += 1
    _record(conn, definition, report["id"], "synced")
    return report["id"]


def _create(hook: LeadConduitHook, definition: ReportDefinition, summary: ReportSummary) -> dict[str, Any]:
    """Create the report; after a failure the vendor may have acted on, look it up before trying again."""
    for attempt in range(1, MAX_CREATES + 1):
        try:
            report = hook.create_report(definition.body())
        except VendorRejectedError:
            raise
        except VendorAPIError as exc:
            found = _named(hook.list_reports(), definition.name)
            if found:
                log.warning("LeadConduit POST /reports for %r failed (%s) but the report was created: adopting it",
                            definition.name, exc.vendor_detail)
                summary.created += 1
                summary.adopted += 1
                return _keep_oldest(hook, found, summary)
            if attempt == MAX_CREATES:
                raise
            log.warning("LeadConduit POST /reports for %r failed (%s) and no report has the name: creating again",
                        definition.name, exc.vendor_detail)
            continue
        summary.created += 1
        log.info("LeadConduit report %r created (%s)", definition.name, report["id"])
        return report
    raise AssertionError("unreachable")  # pragma: no cover


def _keep_oldest(hook: LeadConduitHook, found: list[dict[str, Any]], summary: ReportSummary) -> dict[str, Any]:
    """Delete every report but the oldest of several with one name, and return the oldest."""
    ordered = sorted(found, key=lambda r: (str(r.get("created_at") or ""), r["id"]))
    keep, extra = ordered[0], ordered[1:]
    for report in extra:
        _delete(hook, report["id"])
        summary.deduplicated += 1
        log.warning("LeadConduit report %r existed %d times: deleted duplicate %s, kept the oldest %s",
                    keep["name"], len(ordered), report["id"], keep["id"])
    return keep


def _delete(hook: LeadConduitHook, report_id: str) -> None:
    try:
        hook.delete_report(report_id)
    except VendorRejectedError as exc:
        if exc.status != 404:  # already gone: a delete retried after a lost answer
            raise


def _named(reports: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [r for r in reports if r.get("name") == name and isinstance(r.get("id"), str)]


def _update_body(report: dict[str, Any], definition: ReportDefinition) -> dict[str, Any]:
    """Return the full definition to PUT: the vendor's other fields as they are, ours over them."""
    kept = {k: v for k, v in report.items() if k not in _VENDOR_KEPT}
    body = {**kept, **definition.body()}
    if report.get("rules"):
        body["rules"] = []  # our counts have no filter; a rule added at the vendor would skew them
    return body


def _record(conn: psycopg.Connection, definition: ReportDefinition, report_id: str | None, state: str) -> None:
    """Upsert the definition's row in ``ops.vendor_reports`` and commit, before any call that follows."""
    conn.execute(statement("upsert_vendor_report"), {
        "vendor": SOURCE.vendor, "name": definition.name, "report_id": report_id,
        "definition_hash": definition.definition_hash(), "state": state,
    })
    conn.commit()


# -- reconciling ----------------------------------------------------------------------------------


def _reconcile(conn: psycopg.Connection, hook: LeadConduitHook, definition: ReportDefinition, report_id: str,
               window: Window, tolerance: float, summary: ReportSummary) -> None:
    """Run one report for the window and store each cell beside the warehouse's number."""
    vendor = _vendor_cells(hook.run_report(report_id, window), definition)
    warehouse = _warehouse_cells(conn, definition, window)
    cells = []
    for group in sorted(vendor.keys() | warehouse.keys()):
        for column in definition.columns:
            cells.append(_cell(definition, window, group, column, vendor.get(group, {}).get(column, 0),
                               warehouse.get(group, {}).get(column, 0), tolerance))
    with conn.cursor() as cur:
        cur.executemany(statement("upsert_report_reconciliation"), cells)
    conn.commit()
    summary.rows_reconciled += len(cells)
    summary.mismatches += sum(not c["within_tolerance"] for c in cells)


def _cell(definition: ReportDefinition, window: Window, group: str, column: str, vendor_value: float,
          warehouse_value: float, tolerance: float) -> dict[str, Any]:
    """Return one reconciliation row, logging it when the difference is above tolerance."""
    difference = vendor_value - warehouse_value
    within = abs(difference) <= tolerance * max(vendor_value, 1)
    if not within:
        log.warning("LeadConduit report %r window %s group %s column %s: vendor %s, warehouse %s "
                    "(difference %s, tolerance %g)", definition.name, window, group, column, vendor_value,
                    warehouse_value, difference, tolerance)
    return {
        "vendor": SOURCE.vendor, "report_name": definition.name, "window_start": window.start,
        "window_end": window.end, "group_key": group, "column_name": column, "vendor_value": vendor_value,
        "warehouse_value": warehouse_value, "difference": difference, "tolerance": tolerance,
        "within_tolerance": within,
    }


def group_key(definition: ReportDefinition, values: list[Any] | tuple[Any, ...]) -> str:
    """Return the text naming a report group, e.g. ``vars.source.id=5ad8...``.

    :param definition: The report.
    :param values: The group's value per ``group_by`` path, text or None.
    """
    return ", ".join(f"{path}={'null' if v is None else v}" for path, v in zip(definition.group_by, values))


def _vendor_cells(rows: list[dict[str, Any]], definition: ReportDefinition) -> dict[str, dict[str, float]]:
    """Return group -> column -> the vendor's number, from a report run's rows."""
    cells: dict[str, dict[str, float]] = {}
    for row in rows:
        key = group_key(definition, [_text(row.get(path)) for path in definition.group_by])
        cells[key] = {c: row[c] for c in definition.columns if isinstance(row.get(c), (int, float))}
    return cells


def _text(value: Any) -> str | None:
    """Return a group value as the warehouse's ``#>>`` renders it."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _warehouse_cells(conn: psycopg.Connection, definition: ReportDefinition,
                     window: Window) -> dict[str, dict[str, float]]:
    """Return group -> column -> the warehouse's count of landed events, as the report counts them."""
    rows = conn.execute(statement("select_leadconduit_report_counts"), {
        "group_by": list(definition.group_by), "types": definition.types(),
        "start_ms": _epoch_ms(window.start), "end_ms": _epoch_ms(window.end),
    }).fetchall()
    counts: dict[str, dict[str, int]] = {}
    for values, event_type, outcome, events in rows:
        cell = counts.setdefault(group_key(definition, values), {})
        for column in _columns_counting(event_type, outcome):
            cell[column] = cell.get(column, 0) + events
    conn.commit()
    return counts


def _columns_counting(event_type: str, outcome: str | None) -> list[str]:
    """Return the report columns an event of this type and outcome adds one to."""
    columns = [event_type, f"{event_type}-{outcome}"]
    if outcome in STATS_OUTCOMES:
        columns.append(f"{event_type}-submitted")
    return columns


def _epoch_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)
