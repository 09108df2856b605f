"""Raw landing shared by every source: pages in, one merge out, memory flat however many pages come.

Each record's bytes, exactly as the vendor sent them, are streamed with COPY into a temporary staging
table, then merged into ``raw.<vendor>_<stream>`` by ``record_id`` in one statement. A record the
warehouse cannot hold faithfully (no usable id, not an object, content jsonb cannot represent) goes
to ``ops.quarantine`` with its bytes and a reason instead, and the rest of the window lands. The
caller owns the transaction: nothing is visible until it commits, so a failed or killed run leaves
the warehouse as it was.

The id rule, the same for every source: a text id is used as given; an integer id and its decimal
text are the same id (``7`` and ``"7"``); any other value (a float such as ``1.0``, a boolean, an
array, an object, null, a missing or empty id, an id over :data:`MAX_ID_BYTES`) is quarantined.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import psycopg

from lead_pipelines.common.errors import LandingError, RecordError, WarehouseError
from lead_pipelines.common.records import Page, kind_of
from lead_pipelines.common.warehouse import statement

if TYPE_CHECKING:
    from lead_pipelines.common.windows import Window

#: Longest id kept, in UTF-8 bytes: far below what the primary key's btree index can hold (~2700).
MAX_ID_BYTES = 1024
#: A window that needs more pages than this has a cursor that never ends; settings may raise it.
DEFAULT_MAX_PAGES = 10_000

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(value: str | None) -> str:
    """Return a value as a field of COPY's text format (``\\N`` for NULL)."""
    return "\\N" if value is None else value.translate(_COPY_ESCAPES)


@dataclass(frozen=True)
class Target:
    """Where a landing goes and how its errors name it.

    :param vendor: Vendor key, e.g. ``leadconduit``.
    :param display_name: The vendor's name in messages, e.g. ``LeadConduit``.
    :param stream: Stream name, e.g. ``events``.
    :param endpoint: The vendor endpoint the stream reads, e.g. ``/events``.
    :param table: Raw table without schema.
    :param window: The data interval landed.
    """

    vendor: str
    display_name: str
    stream: str
    endpoint: str
    table: str
    window: Window

    def error(self, detail: str, *, page: int | None = None, position: int | None = None,
              cls: type[LandingError] = LandingError) -> LandingError:
        """Return an error of class ``cls`` naming this target, the page and the record position."""
        return cls(self.display_name, self.endpoint, self.window, detail, page=page, position=position)


@dataclass(frozen=True)
class RecordRules:
    """How to read a stream's records: id, own timestamp, update time, and what the vendor counts.

    :param id_field: Top-level field holding the record's id.
    :param time_field: Top-level field with the record's own time; when set, every record must lie
        in the window (a vendor that ignores the window filter fails the run instead of landing
        another window's records under this one).
    :param time_unit: ``ms`` or ``s`` (epoch numbers) or ``iso`` (ISO 8601 text) for ``time_field``.
    :param updated_field: Top-level field with the record's update time; when set, the merge never
        replaces a stored version with an older one.
    :param updated_unit: Unit of ``updated_field``, as ``time_unit``.
    :param counted: Tells which records the vendor's own count for the window includes.
    :param max_pages: More pages than this in one window fail the run (a runaway cursor).
    :param lookback: Records may lie this long before the window starts (a stream that re-reads a
        trailing overlap because its records change).
    """

    id_field: str = "id"
    time_field: str | None = None
    time_unit: str = "ms"
    updated_field: str | None = None
    updated_unit: str = "iso"
    counted: Callable[[Any], bool] | None = None
    max_pages: int = DEFAULT_MAX_PAGES
    lookback: timedelta = timedelta(0)


@dataclass
class LandingResult:
    """What one landing did to its raw table.

    ``records`` counts what the vendor sent (a record sent twice in one window counts twice);
    ``inserted + updated + unchanged + stale`` counts distinct record ids landed; ``quarantined``
    counts distinct records set aside in ``ops.quarantine``; ``counted`` is how many distinct
    records the vendor's own count for the window should match (landed and quarantined).
    """

    pages: int = 0
    records: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0
    quarantined: int = 0
    counted: int = 0
    last_record_id: str | None = None
    quarantine_reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Return the counts as a plain dict (safe for XCom and logs)."""
        return asdict(self)


def record_id_of(record: Any, id_field: str = "id") -> tuple[str | None, str | None]:
    """Apply the id rule: return ``(id, None)``, or ``(None, why not)``.

    :param record: One decoded record.
    :param id_field: The field holding the id.
    """
    if not isinstance(record, dict):
        return None, f"the record is {kind_of(record)}, not a JSON object"
    value = record.get(id_field)
    if isinstance(value, str):
        if not value:
            return None, f"its {id_field!r} is empty"
        if len(value) * 4 > MAX_ID_BYTES and len(value.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
            return None, f"its {id_field!r} is longer than {MAX_ID_BYTES} bytes"
        return value, None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value), None
    if value is None:
        return None, f"it has no {id_field!r}" if id_field not in record else f"its {id_field!r} is null"
    return None, f"its {id_field!r} is {kind_of(value)} (ids must be text or integers)"


def _given_id(value: str | None, record: Any) -> tuple[str | None, str | None]:
    if not isinstance(record, dict):
        return None, f"the record is {kind_of(record)}, not a JSON object"
    if not value:
        return None, "its natural key could not be derived (a dimension is missing)"
    if len(value) * 4 > MAX_ID_BYTES and len(value.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        return None, f"its natural key is longer than {MAX_ID_BYTES} bytes"
    return value, None


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)


def to_datetime(value: Any, unit: str) -> datetime | None:
    """Return a record time as an aware datetime, exactly (no float rounding), or None when unreadable.

    :param value: The field's value.
    :param unit: ``ms`` or ``s`` (epoch numbers) or ``iso`` (ISO 8601 text; no offset means UTC).
    """
    if unit == "iso":
        if not isinstance(value, str):
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    micros = Decimal(str(value)) * (1000 if unit == "ms" else 1_000_000)
    try:
        return _EPOCH + timedelta(microseconds=int(micros))
    except (OverflowError, ValueError, ArithmeticError):
        return None


def to_epoch_ms(value: Any, unit: str) -> int | None:
    """Return a record time as whole epoch milliseconds (floor), or None when it cannot be read.

    :param value: The field's value.
    :param unit: ``ms``, ``s`` or ``iso``.
    """
    if unit == "ms" and isinstance(value, int) and not isinstance(value, bool):
        return value  # the common case, kept cheap
    moment = to_datetime(value, unit)
    return None if moment is None else (moment - _EPOCH) // _MS


def _storable(text: str | None) -> str | None:
    """Return ``text`` if a PostgreSQL text column can hold it (no NUL, valid UTF-8), else None."""
    if text is None or "\x00" in text:
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return text


def _updated_text(record: dict[str, Any], rules: RecordRules) -> bytes:
    if rules.updated_field is None:
        return b"\\N"
    moment = to_datetime(record.get(rules.updated_field), rules.updated_unit)
    if moment is None:
        return b"\\N"
    return moment.isoformat().encode()


def _copy_payload(raw: bytes) -> bytes:
    # COPY's text format: backslash, tab, newline and carriage return must be escaped. orjson's
    # compact output has no raw control characters, so only pretty-printed bodies pay for the rest.
    raw = raw.replace(b"\\", b"\\\\")
    if b"\n" in raw or b"\t" in raw or b"\r" in raw:
        raw = raw.replace(b"\t", b"\\t").replace(b"\n", b"\\n").replace(b"\r", b"\\r")
    return raw


@dataclass
class _Quarantined:
    page: int
    position: int
    record_id: str | None
    reason: str
    raw: bytes
    counted: bool


def _as_page(page: Page | Sequence[Any]) -> Page:
    return page if isinstance(page, Page) else Page.from_records(page)


def land_pages(
    conn: psycopg.Connection,
    target: Target,
    pages: Iterable[Page | Sequence[Any]],
    *,
    run_id: int,
    rules: RecordRules = RecordRules(),
    on_page: Callable[[int, int], None] | None = None,
    on_staged: Callable[[psycopg.Cursor, str], object] | None = None,
) -> LandingResult:
    """Stream pages into a staging table, then merge them into ``raw.<table>`` in one statement.

    Runs inside the caller's transaction and does not commit.

    :param conn: Warehouse connection with an open transaction.
    :param target: The vendor, stream, endpoint, raw table and window.
    :param pages: :class:`~lead_pipelines.common.records.Page` objects (or lists of decoded records).
    :param run_id: The ``ops.sync_runs`` row landing these records.
    :param rules: The stream's id, time and count rules.
    :param on_page: Called with ``(page_number, records_in_page)`` after each page is staged.
    :param on_staged: Called with ``(cursor, staging_table)`` after the merge, while the staged window
        is still there (schema drift profiles it); must not raise.
    :raises LandingError: Naming the vendor, endpoint, window, page and record position.
    """
    stage = f"stage_{target.table}"
    result = LandingResult()
    quarantined: list[_Quarantined] = []
    window_lo = int((target.window.start - rules.lookback).timestamp() * 1000)
    window_hi = int(target.window.end.timestamp() * 1000)
    page_no = 0
    try:
        with conn.cursor() as cur:
            cur.execute(statement("create_staging_table", stage=stage))
            with cur.copy(statement("copy_staging_records", stage=stage)) as copy:
                for incoming in pages:
                    page = _as_page(incoming)
                    if not len(page):
                        continue
                    page_no += 1
                    if page_no > rules.max_pages:
                        raise target.error(
                            f"more than {rules.max_pages} pages in one window: the vendor's cursor keeps moving; "
                            "nothing was landed (raise the stream's max_pages if the window really is this large)",
                            page=page_no,
                        )
                    copy.write(_stage_page(page, page_no, result, rules, target, quarantined, window_lo, window_hi))
                    result.pages = page_no
                    result.records += len(page)
                    if on_page is not None:
                        on_page(page_no, len(page))
            row = cur.execute(
                statement("merge_raw_records", stage=stage, table=f"raw.{target.table}"), {"run_id": run_id}
            ).fetchone()
            distinct, inserted, updated, stale, counted = row
            result.counted = counted
            if quarantined:
                _quarantine(cur, target, run_id, quarantined, result)
            if on_staged is not None:
                on_staged(cur, stage)
            # Dropped now rather than at commit, so one transaction can land the same stream twice.
            cur.execute(statement("drop_staging_table", stage=stage))
    except LandingError:
        raise
    except psycopg.Error as exc:
        raise _warehouse_error(target, exc, page_no, result.pages) from None
    result.inserted, result.updated, result.stale = inserted, updated, stale
    result.unchanged = distinct - inserted - updated - stale
    return result


def _stage_page(page: Page, page_no: int, result: LandingResult, rules: RecordRules, target: Target,
                quarantined: list[_Quarantined], window_lo: int, window_hi: int) -> bytes:
    # The hot loop of every landing: one pass per record, locals only, the common case first.
    lines = []
    append = lines.append
    seq = result.records
    counted_rule = rules.counted
    id_field, time_field, time_unit = rules.id_field, rules.time_field, rules.time_unit
    dated = rules.updated_field is not None
    problems = page.problems
    given = page.ids
    md5 = hashlib.md5
    rid = None
    for index, (record, raw) in enumerate(zip(page.records, page.raw, strict=True)):
        value = record.get(id_field) if type(record) is dict else None
        if given is not None:
            rid, problem = _given_id(given[index], record)
        elif type(value) is str and 0 < len(value) <= MAX_ID_BYTES // 4:
            rid, problem = value, None  # a short text id: valid, whatever its bytes
        else:
            rid, problem = record_id_of(record, id_field)
        if problems is not None and problems[index] is not None:
            problem = problems[index]
        counted = counted_rule is not None and type(record) is dict and bool(counted_rule(record))
        if problem is not None:
            quarantined.append(_Quarantined(page_no, index + 1, _storable(rid), problem, raw, counted))
            continue
        if time_field is not None:
            moment = to_epoch_ms(record.get(time_field), time_unit)
            if moment is not None and not window_lo <= moment < window_hi:
                side = "before the window starts" if moment < window_lo else "at or after the window ends"
                raise target.error(
                    f"a record's {time_field!r} is {side}: the vendor did not apply the window filter, "
                    "so nothing of this window was landed",
                    page=page_no, position=index + 1, cls=RecordError,
                )
        append(
            b"%d\t%s\t%s\t%s\t%s\t%s\n" % (
                seq + index, rid.translate(_COPY_ESCAPES).encode("utf-8", "surrogatepass"), _copy_payload(raw),
                md5(raw, usedforsecurity=False).hexdigest().encode(),
                _updated_text(record, rules) if dated else b"\\N", b"t" if counted else b"f",
            )
        )
        result.last_record_id = rid
    return b"".join(lines)


def _quarantine(cur: psycopg.Cursor, target: Target, run_id: int, items: list[_Quarantined],
                result: LandingResult) -> None:
    seen: dict[str, _Quarantined] = {}
    for item in items:
        seen[hashlib.sha256(item.raw).hexdigest()] = item  # the same bad record twice is one record
    params = [
        {
            "vendor": target.vendor, "stream": target.stream, "window_start": target.window.start,
            "window_end": target.window.end, "run_id": run_id, "page": item.page, "position": item.position,
            "record_id": item.record_id, "reason": item.reason, "raw": item.raw, "raw_sha256": digest,
        }
        for digest, item in seen.items()
    ]
    cur.executemany(statement("upsert_quarantined_record"), params)
    result.quarantined = len(seen)
    result.counted += sum(item.counted for item in seen.values())
    for item in seen.values():
        result.quarantine_reasons[item.reason] = result.quarantine_reasons.get(item.reason, 0) + 1


def describe_warehouse_error(exc: psycopg.Error, verb: str = "failed") -> str:
    """Describe a PostgreSQL failure by its class and primary message only: its detail may quote a record.

    :param exc: The psycopg error.
    :param verb: What the warehouse did, e.g. ``refused the landing``.
    """
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(exc, psycopg.OperationalError) and not sqlstate:
        return "the warehouse connection was lost"
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    return f"the warehouse {verb} ({type(exc).__name__}{f' {sqlstate}' if sqlstate else ''}{f': {primary}' if primary else ''})"


def _warehouse_error(target: Target, exc: psycopg.Error, page_no: int, staged: int) -> LandingError:
    detail = describe_warehouse_error(exc, "refused the landing")
    if page_no > staged:
        return target.error(f"{detail} while staging this page; nothing of this window was landed",
                            page=page_no, cls=WarehouseError)
    where = f" after staging {staged} page(s)" if staged else ""
    return target.error(f"{detail}{where}; nothing of this window was landed", cls=WarehouseError)
