"""Raw landing shared by every source: pages in, one merge out, memory flat however many pages come.

Pages are streamed with COPY into a temporary staging table, then merged into ``raw.<vendor>_<stream>``
by ``record_id`` in one statement. The caller owns the transaction: nothing is visible until it
commits, so a failed or killed run leaves the raw table as it was.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import orjson

from lead_pipelines.common.warehouse import statement

if TYPE_CHECKING:
    import psycopg

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
# A JSON \u0000 escape not itself preceded by an escaped backslash (an even run of backslashes).
_NUL_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")


@dataclass
class LandingResult:
    """What one landing did to its raw table.

    ``records`` counts what the vendor sent (a record sent twice in one window counts twice);
    ``inserted + updated + unchanged`` counts distinct record ids.
    """

    pages: int = 0
    records: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    last_record_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the counts as a plain dict (safe for XCom and logs)."""
        return asdict(self)


class RecordIdError(ValueError):
    """A record has no usable id; landing it would break the merge key."""


def field_record_id(field: str) -> Callable[[Mapping[str, Any]], str]:
    """Return a function that reads a record's id from a top-level field.

    :param field: Name of the field, e.g. ``id`` or ``use_id``.
    """

    def record_id(record: Mapping[str, Any]) -> str:
        value = record.get(field) if isinstance(record, Mapping) else None
        if value is None or value == "":
            raise RecordIdError(f"a record has no {field!r} field: keys {sorted(record)[:10] if isinstance(record, Mapping) else type(record).__name__}")
        return str(value)

    return record_id


def encode_record(record: Any) -> tuple[bytes, str]:
    """Return a record's canonical JSON and its hash; the hash is what unchanged re-runs compare.

    PostgreSQL's jsonb cannot hold the NUL character, so a ``\\u0000`` in a string becomes U+FFFD in
    the stored payload (the hash is of the record as sent); without this one such record would fail
    its whole window on every run.

    :param record: One decoded JSON record.
    """
    payload = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    digest = hashlib.md5(payload, usedforsecurity=False).hexdigest()
    if b"\\u0000" in payload:
        payload = _NUL_ESCAPE.sub(rb"\1\\ufffd", payload)
    return payload, digest


def _copy_block(page: Sequence[Any], start_seq: int, record_id: Callable[[Any], str]) -> tuple[bytes, str | None]:
    lines = []
    rid = None
    for offset, record in enumerate(page):
        rid = record_id(record)
        payload, digest = encode_record(record)
        # orjson escapes control characters inside strings, so only backslashes need COPY escaping.
        lines.append(
            b"%d\t%s\t%s\t%s\n"
            % (start_seq + offset, rid.translate(_COPY_ESCAPES).encode(), payload.replace(b"\\", b"\\\\"), digest.encode())
        )
    return b"".join(lines), rid


def land_pages(
    conn: psycopg.Connection,
    table: str,
    pages: Iterable[Sequence[Any]],
    *,
    run_id: int,
    record_id: Callable[[Any], str],
    on_page: Callable[[int, int], None] | None = None,
) -> LandingResult:
    """Stream pages into a staging table, then merge them into ``raw.<table>`` in one statement.

    Runs inside the caller's transaction and does not commit.

    :param conn: Warehouse connection with an open transaction.
    :param table: Raw table name without schema, e.g. ``leadconduit_events``.
    :param pages: Lists of decoded records, one page at a time.
    :param run_id: The ``ops.sync_runs`` row landing these records.
    :param record_id: Returns a record's id (see :func:`field_record_id`).
    :param on_page: Called with ``(page_number, records_in_page)`` after each page is staged.
    """
    stage = f"stage_{table}"
    result = LandingResult()
    with conn.cursor() as cur:
        cur.execute(statement("create_staging_table", stage=stage))
        with cur.copy(statement("copy_staging_records", stage=stage)) as copy:
            for page in pages:
                if not page:
                    continue
                block, last = _copy_block(page, result.records, record_id)
                copy.write(block)
                result.pages += 1
                result.records += len(page)
                result.last_record_id = last
                if on_page is not None:
                    on_page(result.pages, len(page))
        distinct, inserted, updated = cur.execute(
            statement("merge_raw_records", stage=stage, table=f"raw.{table}"), {"run_id": run_id}
        ).fetchone()
        # Dropped now rather than at commit, so one transaction can land the same stream twice.
        cur.execute(statement("drop_staging_table", stage=stage))
    result.inserted, result.updated = inserted, updated
    result.unchanged = distinct - inserted - updated
    return result
