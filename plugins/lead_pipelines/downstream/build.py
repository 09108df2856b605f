"""Build the marts from the raw tables: links, unified leads, touchpoints, then per-period aggregates.

The set-based work is SQL (``include/sql/``) run inside PostgreSQL. Python does only what SQL cannot do
well, normalizing emails and phones (:mod:`lead_pipelines.identity`), and it does so streaming: a
server-side cursor over the raw rows written since the last build, COPY into a temporary table.

**Incremental by sync run.** Every raw row carries ``last_run_id``, the sync run (``ops.sync_runs``)
that last wrote it. A build reads each raw table's rows with ``last_run_id`` above what the previous
build read (``mart.build_state``) and up to the high watermark: the lowest run id still landing, minus
one (a run commits its rows after runs with higher ids may have), so nothing is skipped. A build's cost
follows what landed since the previous build, not the history.

**Periods.** A build returns the hours whose inputs it changed; :func:`rebuild_aggregates` rebuilds
those hours and their days (plus the run's own window, so re-running a window rebuilds exactly it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from lead_pipelines.common.warehouse import statement

if TYPE_CHECKING:
    import psycopg

    from lead_pipelines.common.windows import Window

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
#: A 'running' sync run older than this is taken as killed (it committed nothing) by the watermark.
STALE_RUN_SECONDS = 3 * 3600
#: Raw rows fetched (and copied into the stage) at a time.
BATCH_ROWS = 5000


@dataclass(frozen=True)
class IdentitySource:
    """A raw table whose records name a person, and the SQL that reads their email and phone.

    :param source: Vendor name (``mart.lead_links.source``).
    :param stream: Stream name.
    :param select: SQL file returning ``record_id, occurred_at, email_raw, phone_raw, region``.
    """

    source: str
    stream: str
    select: str

    @property
    def raw_table(self) -> str:
        """The raw table read, e.g. ``raw.leadconduit_events``."""
        return f"raw.{self.source}_{self.stream}"


@dataclass(frozen=True)
class TouchpointSource:
    """A raw table of submissions or visits, and the SQL that upserts them into ``mart.touchpoints``."""

    source: str
    stream: str
    upsert: str

    @property
    def raw_table(self) -> str:
        """The raw table read."""
        return f"raw.{self.source}_{self.stream}"


IDENTITY_SOURCES: tuple[IdentitySource, ...] = (
    IdentitySource("leadconduit", "events", "select_identity_leadconduit_events"),
    IdentitySource("getlandy", "leads", "select_identity_getlandy_leads"),
    IdentitySource("leadboxer", "leads", "select_identity_leadboxer_leads"),
)
TOUCHPOINT_SOURCES: tuple[TouchpointSource, ...] = (
    TouchpointSource("leadconduit", "events", "upsert_touchpoints_leadconduit"),
    TouchpointSource("getlandy", "leads", "upsert_touchpoints_getlandy"),
    TouchpointSource("leadboxer", "sessions", "upsert_touchpoints_leadboxer"),
)
#: Raw tables whose day rows feed the engagement columns (rebuilt with each day).
ENGAGEMENT_TABLES = ("raw.pirsch_visitor", "raw.giosg_sidedata", "raw.giosg_workflows")


@dataclass
class BuildSummary:
    """What one build read and changed."""

    high_watermark: int = 0
    records_read: dict[str, int] = field(default_factory=dict)
    linked: int = 0
    unified_leads_touched: int = 0
    touched_hours: list[datetime] = field(default_factory=list)

    def line(self) -> str:
        """One log line."""
        read = ", ".join(f"{t} {n}" for t, n in self.records_read.items() if n) or "nothing new"
        return (f"read up to sync run {self.high_watermark}: {read}; {self.linked} records linked, "
                f"{self.unified_leads_touched} unified leads rebuilt, {len(self.touched_hours)} hours touched")


def _stage_identities(conn: psycopg.Connection, source: IdentitySource, lo: int, hi: int,
                      fold_provider_aliases: bool) -> tuple[int, int]:
    """Stream one identity source's new rows through the normalizers into ``link_stage``.

    :return: (rows read, rows staged with a key).
    """
    from lead_pipelines.common.landing import copy_text
    from lead_pipelines.identity import normalize_email, normalize_phone

    read = keyed = 0
    # A COPY holds the connection: fetch a batch from the server-side cursor, then copy it in.
    with conn.cursor(name=f"identity_{source.source}_{source.stream}") as rows:
        rows.execute(statement(source.select), {"lo": lo, "hi": hi})
        while batch := rows.fetchmany(BATCH_ROWS):
            lines = []
            for record_id, occurred_at, email_raw, phone_raw, region in batch:
                email = normalize_email(email_raw, fold_provider_aliases=fold_provider_aliases)
                phone = normalize_phone(phone_raw, region or "US")
                keyed += email is not None or phone is not None
                lines.append("\t".join((source.source, source.stream, copy_text(record_id), occurred_at.isoformat(),
                                        copy_text(email), copy_text(phone))))
            read += len(batch)
            with conn.cursor().copy(statement("copy_link_stage")) as copy:
                copy.write("\n".join(lines) + "\n")
    return read, keyed


def _exists(conn: psycopg.Connection, table: str) -> bool:
    (found,) = conn.execute(statement("select_table_exists"), (table,)).fetchone()
    return bool(found)


def build_links(conn: psycopg.Connection, *, fold_provider_aliases: bool = False) -> BuildSummary:
    """Link every raw record written since the last build, rebuild the people it touches; one transaction.

    :param conn: An open connection (committed on success).
    :param fold_provider_aliases: Fold Gmail dots and ``+tags`` into the email key (opt-in; see
        :func:`lead_pipelines.identity.normalize_email`).
    :return: What was read and which hours' aggregates need a rebuild.
    """
    summary = BuildSummary()
    with conn.transaction():
        conn.execute(statement("lock_mart_build"))
        for name in ("create_link_stage", "create_build_affected", "create_build_touched"):
            conn.execute(statement(name))
        # Per raw table: (read up to, may read up to now).
        bounds: dict[str, tuple[int, int]] = {}
        sources = {s.raw_table: (s.source, s.stream) for s in (*IDENTITY_SOURCES, *TOUCHPOINT_SOURCES)}
        for table, (vendor, stream) in sorted(sources.items()):
            if _exists(conn, table):
                (lo,) = conn.execute(statement("select_build_state"), {"raw_table": table}).fetchone()
                (hi,) = conn.execute(statement("select_build_high_watermark"),
                                     {"vendor": vendor, "stream": stream,
                                      "stale_seconds": STALE_RUN_SECONDS}).fetchone()
                bounds[table] = (lo, max(lo, hi))
        summary.high_watermark = max((hi for _lo, hi in bounds.values()), default=0)
        for source in IDENTITY_SOURCES:
            if source.raw_table in bounds:
                lo, hi = bounds[source.raw_table]
                read, keyed = _stage_identities(conn, source, lo, hi, fold_provider_aliases)
                summary.records_read[source.raw_table] = read
                summary.linked += keyed
        for name in ("insert_build_affected", "delete_unlinked_records", "upsert_lead_links",
                     "resolve_phone_links", "insert_build_affected", "record_unified_lead_merges",
                     "delete_affected_unified_leads", "insert_affected_unified_leads"):
            conn.execute(statement(name))
        for source in TOUCHPOINT_SOURCES:
            if source.raw_table in bounds:
                lo, hi = bounds[source.raw_table]
                conn.execute(statement(source.upsert), {"lo": lo, "hi": hi})
        conn.execute(statement("refresh_touchpoint_leads"))
        (summary.unified_leads_touched,) = conn.execute(statement("select_build_affected_count")).fetchone()
        summary.touched_hours = [h for (h,) in conn.execute(statement("select_build_touched"))]
        for table, (_lo, hi) in bounds.items():
            conn.execute(statement("upsert_build_state"), {"raw_table": table, "last_run_id": hi})
    log.info("Marts: %s", summary.line())
    return summary


def periods(hours: Iterable[datetime], window: Window | None = None) -> tuple[list[datetime], list[datetime]]:
    """Return the hours and UTC days to rebuild: the touched hours plus the window's, and their days.

    :param hours: Hours whose inputs changed.
    :param window: The run's window (all of its hours are rebuilt, changed or not).
    """
    found = {h.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0) for h in hours}
    if window is not None:
        cursor = window.start.replace(minute=0, second=0, microsecond=0)
        while cursor < window.end:
            found.add(cursor)
            cursor += HOUR
    days = {h.replace(hour=0) for h in found}
    return sorted(found), sorted(days)


def rebuild_aggregates(conn: psycopg.Connection, hours: Sequence[datetime], days: Sequence[datetime]) -> int:
    """Replace the aggregates of the given hours and days in one transaction; return the rows written.

    :param conn: An open connection (committed on success).
    :param hours: Hour starts (UTC).
    :param days: Day starts (UTC midnights).
    """
    written = 0
    with conn.transaction():
        conn.execute(statement("lock_mart_build"))
        for grain, step, starts in (("hour", "1 hour", list(hours)), ("day", "1 day", list(days))):
            if not starts:
                continue
            args = {"grain": grain, "step": step, "periods": starts}
            conn.execute(statement("delete_lead_aggregates"), args)
            written += conn.execute(statement("insert_lead_aggregates"), args).rowcount
            if grain == "day" and all(_exists(conn, t) for t in ENGAGEMENT_TABLES):
                written += conn.execute(statement("insert_engagement_aggregates"), {"periods": starts}).rowcount
    log.info("Aggregates: %d rows over %d hours and %d days", written, len(hours), len(days))
    return written
