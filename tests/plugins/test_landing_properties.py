"""Property tests of the landing against a real warehouse: random vendor data, windows, pages, crashes.

A "vendor truth" (records with unique ids, random JSON payloads given as the vendor's exact bytes, a
time in a six-hour span) is landed window by window: windows of random bounds that together cover the
span, some overlapping, landed in a random order, each split into random pages (with duplicates of
earlier records, empty pages, random whitespace), some landings crashing mid-way and re-run, some
windows re-run for nothing. A model of the merge's contract (insert, unchanged, stale, update) is
kept beside the warehouse and every landing is checked against it, rows and counts; a crashed landing
must leave the raw table exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from itertools import count

import orjson
import psycopg
import pytest
from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st

from lead_pipelines.leadconduit.settings import RAW_TABLE
from lead_pipelines.common.errors import IncompleteWindowError, RecordError
from lead_pipelines.common.http_hook import HttpStats
from lead_pipelines.common.landing import RecordRules, Target, land_pages
from lead_pipelines.common.records import decode_page
from lead_pipelines.common.sync import Checks, sync_window
from lead_pipelines.common.warehouse import connect
from lead_pipelines.common.windows import Window

TABLE = "leadconduit_events"
SPAN_START = datetime(2024, 6, 1, tzinfo=timezone.utc)
SPAN_MINUTES = 6 * 60
SPAN_MS = SPAN_MINUTES * 60_000
START_MS = int(SPAN_START.timestamp() * 1000)

PLAIN_RULES = RecordRules(time_field="ts", time_unit="ms", counted=lambda record: True)
UPDATE_RULES = RecordRules(time_field="ts", time_unit="ms", updated_field="updated_at", updated_unit="iso",
                           counted=lambda record: True)

PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


class VendorWentAway(ConnectionError):
    """The page generator's crash: the vendor stopped answering after some pages."""


class CrashAfterMerge(RuntimeError):
    """A crash after the merge and before the commit (the worker died, a later check failed)."""


# --------------------------------------------------------------------------------------------------
# JSON text, written by hand so the vendor's exact bytes (big numbers, many digits, escapes) are known.
# --------------------------------------------------------------------------------------------------

#: Pieces that are easy to get wrong on the way through COPY and the NUL/surrogate detection: a
#: literal backslash followed by text that looks like an escape must stay text.
TRICKY_TEXT = ["\\", "\\N", "\\u0000", "\\ud800", "\\\\u0000", "\t", "\n", "\r\n", '"', "\u2028", "\x7f",
               "\x01", "é", "日本", "😀", " ", "\\.", "\\t"]
CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
TEXT = st.lists(st.one_of(st.text(CHARS, max_size=4), st.sampled_from(TRICKY_TEXT)), max_size=3).map("".join)
STRING_STYLES = ("orjson", "ascii", "utf8")
#: Separators inside containers: compact (orjson's), spaced, and pretty (newlines, tabs, CR).
SEPARATORS = [(",", ":"), (", ", ": "), (",\n  ", ": "), (" ,\t", "\t:\r\n")]


def json_string(text: str, style: str) -> str:
    if style == "orjson":
        return orjson.dumps(text).decode()
    return json.dumps(text, ensure_ascii=style == "ascii")


@st.composite
def decimal_text(draw) -> str:
    """A JSON number with many digits, as text: float rounding would show."""
    sign = draw(st.sampled_from(["", "-"]))
    whole = draw(st.one_of(st.just("0"), st.integers(1, 10**30).map(str)))
    frac = draw(st.text("0123456789", min_size=1, max_size=40))
    exponent = draw(st.one_of(st.just(""), st.builds(lambda e, s, p: f"{e}{p}{s}", st.sampled_from("eE"),
                                                     st.integers(0, 60).map(str), st.sampled_from(["", "+", "-"]))))
    return f"{sign}{whole}.{frac}{exponent}"


NUMBERS = st.one_of(
    st.integers(-(2**40), 2**40).map(str),
    st.integers(-(10**40), 10**40).map(str),  # well beyond 64 bits
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: orjson.dumps(f).decode()),
    decimal_text(),
    st.sampled_from(["-0", "0.0", "-0.0", "1E400", "1e-300", "0.1000000000000000055511151231257827",
                     "18446744073709551616", "-9223372036854775809", "1.0", "1.000"]),
)
STRINGS = st.builds(json_string, TEXT, st.sampled_from(STRING_STYLES))
LEAVES = st.one_of(st.sampled_from(["null", "true", "false"]), NUMBERS, STRINGS)


def _array(items: list[str], sep: tuple[str, str]) -> str:
    return "[" + sep[0].join(items) + "]"


def _object(members: dict[str, str], style: str, sep: tuple[str, str]) -> str:
    return "{" + sep[0].join(f"{json_string(k, style)}{sep[1]}{v}" for k, v in members.items()) + "}"


JSON_VALUES = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        st.builds(_array, st.lists(children, max_size=4), st.sampled_from(SEPARATORS)),
        st.builds(_object, st.dictionaries(TEXT, children, max_size=4), st.sampled_from(STRING_STYLES),
                  st.sampled_from(SEPARATORS)),
    ),
    max_leaves=6,
)

# --------------------------------------------------------------------------------------------------
# The vendor's truth.
# --------------------------------------------------------------------------------------------------

_INTEGER_TEXT = re.compile(r"-?(?:0|[1-9][0-9]*)")


def can_be_integer(rid: str) -> bool:
    """Whether the id may be sent as a JSON integer (the id rule: ``7`` and ``"7"`` are one id)."""
    return bool(_INTEGER_TEXT.fullmatch(rid)) and rid != "-0"


@dataclass(frozen=True)
class Version:
    """One version of a record, exactly as the vendor sends it."""

    raw: bytes
    updated_us: int | None  # epoch microseconds of its updated_at, exactly (None: no update time)

    @property
    def hash(self) -> str:
        return hashlib.md5(self.raw).hexdigest()


@dataclass(frozen=True)
class Record:
    rid: str  # the id per the id rule
    ts: int  # epoch ms of the record's own time (the window it belongs to)
    versions: tuple[Version, ...]


def moment_of(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=us)


def iso_text(us: int, style: str, timespec: str) -> str:
    """The same instant written as vendors do: ``Z``, ``+00:00`` or another offset."""
    moment = moment_of(us)
    if style == "Z":
        return moment.isoformat(timespec=timespec).replace("+00:00", "Z")
    if style == "+00:00":
        return moment.isoformat(timespec=timespec)
    return moment.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat(timespec=timespec)


#: Values orjson writes back byte for byte: such pages take the landing's fast path.
PLAIN_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(allow_nan=False, allow_infinity=False),
              TEXT),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=6,
)


@st.composite
def record_text(draw, rid: str, ts: int, updated: str | None) -> bytes:
    """One record's bytes: id (integer or text where the id rule allows), time, payload, extra fields.

    Either orjson's compact form of plain values (what most vendors send: the fast path) or
    handwritten text with big and precise numbers, escapes and whitespace (the exact path).
    """
    integer_id = can_be_integer(rid) and draw(st.booleans())
    if integer_id and not -(2**63) <= int(rid) < 2**64:
        pass  # orjson cannot write it: handwritten below
    elif draw(st.booleans()):
        record = {"id": int(rid) if integer_id else rid, "ts": ts, "p": draw(PLAIN_VALUES)}
        if updated is not None:
            record["updated_at"] = updated
        return orjson.dumps(record)
    if integer_id:
        id_json = rid
    else:
        id_json = json_string(rid, draw(st.sampled_from(STRING_STYLES)))
    fields = [("id", id_json), ("ts", str(ts)), ("p", draw(JSON_VALUES))]
    if updated is not None:
        fields.append(("updated_at", json.dumps(updated)))
    extra = draw(st.dictionaries(TEXT.filter(lambda k: k not in {"id", "ts", "p", "updated_at"}), JSON_VALUES,
                                 max_size=2))
    fields.extend((json.dumps(k), v) for k, v in extra.items())
    fields = draw(st.permutations(fields))
    sep = draw(st.sampled_from(SEPARATORS))
    key_style = draw(st.sampled_from(STRING_STYLES))
    body = sep[0].join(f"{k if k.startswith(chr(34)) else json_string(k, key_style)}{sep[1]}{v}" for k, v in fields)
    return ("{" + body + "}").encode("utf-8")


TEXT_IDS = st.text(CHARS, min_size=1, max_size=10) | st.sampled_from(["007", "-0", " ", "a\tb", "x\\N", "7.0"])
INT_IDS = st.one_of(st.integers(-1000, 10**6), st.integers(2**64, 2**100), st.integers(-(2**100), -(2**63) - 1))
IDS = st.one_of(TEXT_IDS, INT_IDS.map(str))


@st.composite
def truths(draw, *, max_versions: int, timespec: str = "milliseconds") -> list[Record]:
    """Records with unique ids (by the id rule), each with 1..max_versions versions in time order.

    :param timespec: Precision of ``updated_at``: ``milliseconds`` (versions at least 1 ms apart) or
        ``microseconds`` (versions often less than 1 ms apart).
    """
    size = draw(st.integers(0, 16))
    rids = draw(st.lists(IDS, min_size=size, max_size=size, unique=True))
    records = []
    for rid in rids:
        ts = START_MS + draw(st.one_of(st.integers(0, SPAN_MINUTES - 1).map(lambda m: m * 60_000),
                                       st.integers(0, SPAN_MS - 1)))
        n = draw(st.integers(1, max_versions))
        versions = []
        if max_versions == 1:
            versions.append(Version(draw(record_text(rid, ts, None)), None))
        else:
            if timespec == "milliseconds":
                offsets = st.integers(0, 10**8).map(lambda ms: ms * 1000)
            else:
                offsets = st.integers(0, 3000)  # microseconds: versions inside the same millisecond
            for offset in sorted(draw(st.lists(offsets, min_size=n, max_size=n, unique=True))):
                updated_us = ts * 1000 + offset
                text = iso_text(updated_us, draw(st.sampled_from(["Z", "+00:00", "+05:30"])), timespec)
                versions.append(Version(draw(record_text(rid, ts, text)), updated_us))
        records.append(Record(rid, ts, tuple(versions)))
    return records


# --------------------------------------------------------------------------------------------------
# Windows and the landing plan.
# --------------------------------------------------------------------------------------------------


def window_of(start_minute: int, end_minute: int) -> Window:
    return Window(SPAN_START + timedelta(minutes=start_minute), SPAN_START + timedelta(minutes=end_minute))


@st.composite
def windows(draw) -> list[Window]:
    """Windows covering the span (hourly or random cuts), plus random overlapping ones."""
    if draw(st.booleans()):
        cuts = [60 * h for h in range(1, 6)]
    else:
        cuts = sorted(draw(st.sets(st.integers(1, SPAN_MINUTES - 1), max_size=5)))
    bounds = [0, *cuts, SPAN_MINUTES]
    found = [window_of(a, b) for a, b in zip(bounds, bounds[1:])]
    for _ in range(draw(st.integers(0, 3))):
        start = draw(st.integers(0, SPAN_MINUTES - 1))
        found.append(window_of(start, draw(st.integers(start + 1, SPAN_MINUTES))))
    return found


def in_window(record: Record, window: Window) -> bool:
    return int(window.start.timestamp() * 1000) <= record.ts < int(window.end.timestamp() * 1000)


Occurrence = tuple[int, int]  # (index of the record in the truth, index of the version sent)


@dataclass
class Landing:
    """One try at landing one window."""

    window: Window
    via: str  # "land" (land_pages in a transaction) or "sync" (sync_window)
    pages: list[list[Occurrence]]
    page_seps: list[str]
    crash: str | None = None  # None, "pages", "after_merge", "count", "stray"
    crash_after: int = 0  # pages yielded before the generator fails (crash == "pages")
    stray: Occurrence | None = None  # a record of another window slipped into the last page

    def __repr__(self) -> str:
        crash = f", crash={self.crash!r}" + (f" after {self.crash_after} page(s)" if self.crash == "pages" else "")
        crash += f", stray={self.stray}" if self.stray is not None else ""
        return f"Landing({self.window}, via={self.via!r}, pages={self.pages}{crash})"


@st.composite
def pages_for(draw, truth: list[Record], window: Window) -> tuple[list[list[Occurrence]], list[str]]:
    """The window's records in a random order, split into random pages, with duplicates and empty pages.

    Each copy of a record is any of its versions: the vendor answers with what it holds at the time.
    """

    def version(i: int) -> int:
        return draw(st.integers(0, len(truth[i].versions) - 1))

    members = [i for i, record in enumerate(truth) if in_window(record, window)]
    order = draw(st.permutations(members))
    pages: list[list[Occurrence]] = [[]]
    for position, i in enumerate(order):
        if position and draw(st.integers(0, 2)) == 0:
            pages.append([])
        pages[-1].append((i, version(i)))
    located = [(p, i) for p, page in enumerate(pages) for i, _ in page]
    for _ in range(draw(st.integers(0, 3)) if located else 0):
        page_no, i = draw(st.sampled_from(located))
        target = pages[draw(st.integers(page_no, len(pages) - 1))]
        target.insert(draw(st.integers(0, len(target))), (i, version(i)))
    for _ in range(draw(st.integers(0, 1))):
        pages.insert(draw(st.integers(0, len(pages))), [])
    seps = [draw(st.sampled_from([",", ",", ", ", ",\n", " ,\r\n\t"])) for _ in pages]
    return pages, seps


@st.composite
def plans(draw, truth: list[Record], versioned: bool) -> tuple[list[Window], list[Landing]]:
    """Every window at least once in a random order, re-runs, crashes each followed later by a retry."""
    found = draw(windows())
    order = list(draw(st.permutations(range(len(found)))))
    for _ in range(draw(st.integers(0, 3))):
        order.insert(draw(st.integers(0, len(order))), draw(st.integers(0, len(found) - 1)))
    plan: list[Landing] = []
    crashes = 0
    for w in order:
        window = found[w]
        via = draw(st.sampled_from(["land", "sync"]))
        pages, seps = draw(pages_for(truth, window))
        landing = Landing(window, via, pages, seps)
        if crashes < 4 and draw(st.integers(0, 3)) == 0:
            crashes += 1
            kinds = ["pages", "after_merge" if via == "land" else "count"]
            outside = [i for i, record in enumerate(truth) if not in_window(record, window)]
            if outside:
                kinds.append("stray")
            landing.crash = draw(st.sampled_from(kinds))
            landing.crash_after = draw(st.integers(0, len(pages)))
            if landing.crash == "stray":
                i = draw(st.sampled_from(outside))
                landing.stray = (i, draw(st.integers(0, len(truth[i].versions) - 1)))
            plan.append(landing)
            # The retry: now or later, with the vendor paging (and updating) differently.
            retry_pages, retry_seps = draw(pages_for(truth, window))
            retry = Landing(window, draw(st.sampled_from(["land", "sync"])), retry_pages, retry_seps)
            plan.append(retry)
            continue
        plan.append(landing)
    # Move each retry to a random later place than its crash.
    for index in range(len(plan) - 1, -1, -1):
        if plan[index].crash is not None:
            retry = plan.pop(index + 1)
            plan.insert(draw(st.integers(index + 1, len(plan))), retry)
    if versioned:
        # The newest version of every record reaches the warehouse at least once, in a landing that commits.
        for i, record in enumerate(truth):
            carriers = [(n, p, k) for n, landing in enumerate(plan) if landing.crash is None
                        for p, page in enumerate(landing.pages) for k, (j, _) in enumerate(page) if j == i]
            n, p, k = draw(st.sampled_from(carriers))
            plan[n].pages[p][k] = (i, len(record.versions) - 1)
    return found, plan


# --------------------------------------------------------------------------------------------------
# The model of the merge, and running a plan against the warehouse.
# --------------------------------------------------------------------------------------------------


@dataclass
class Row:
    version: Version
    first_run_id: int
    last_run_id: int
    change_count: int = 0


@dataclass
class Model:
    """What raw.<table> must hold: the merge's contract applied to what was landed."""

    truth: list[Record]
    rows: dict[str, Row] = field(default_factory=dict)

    def apply(self, landing: Landing, run_id: int) -> tuple[dict[str, int], set[str]]:
        """Apply one committed landing; return its expected counts and the ids it writes."""
        chosen: dict[str, tuple[int, Version]] = {}
        seq = 0
        for page in landing.pages:
            for i, v in page:
                seq += 1
                record, version = self.truth[i], self.truth[i].versions[v]
                key = (version.updated_us is not None, version.updated_us or 0, seq)
                held = chosen.get(record.rid)
                if held is None or key > held[0]:
                    chosen[record.rid] = (key, version)
        counts = {"inserted": 0, "updated": 0, "unchanged": 0, "stale": 0}
        written = set()
        for rid, (_, version) in chosen.items():
            row = self.rows.get(rid)
            if row is None:
                self.rows[rid] = Row(version, run_id, run_id)
                counts["inserted"] += 1
                written.add(rid)
            elif row.version.hash == version.hash:
                counts["unchanged"] += 1
            elif (version.updated_us is not None and row.version.updated_us is not None
                  and version.updated_us < row.version.updated_us):
                counts["stale"] += 1
            else:
                row.version, row.last_run_id, row.change_count = version, run_id, row.change_count + 1
                counts["updated"] += 1
                written.add(rid)
        return counts, written


def snapshot(check: psycopg.Connection) -> dict[str, tuple]:
    """``record_id -> (payload_hash, first_run_id, last_run_id, change_count, xmin, last_loaded_at)``."""
    found = check.execute(
        f"SELECT record_id, payload_hash, first_run_id, last_run_id, change_count, xmin::text, last_loaded_at "
        f"FROM {RAW_TABLE}"
    ).fetchall()
    return {row[0]: tuple(row[1:]) for row in found}


def page_bodies(truth: list[Record], landing: Landing) -> list[bytes]:
    pages = [list(page) for page in landing.pages]
    if landing.stray is not None:
        pages[-1].append(landing.stray)
    return [
        b"[" + sep.encode().join(truth[i].versions[v].raw for i, v in page) + b"]"
        for page, sep in zip(pages, landing.page_seps, strict=True)
    ]


def reset(check: psycopg.Connection) -> None:
    """Empty the raw and ops tables (as ``Warehouse.reset``, on the open superuser connection)."""
    tables = check.execute("""
        SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('raw', 'ops') AND c.relkind IN ('r', 'p')
          AND (n.nspname, c.relname) <> ('ops', 'schema_migrations')
    """).fetchall()
    check.execute(f"TRUNCATE {', '.join(t for (t,) in tables)} RESTART IDENTITY")


def takes_fast_path(body: bytes) -> bool:
    """Whether orjson writes the page back byte for byte (the landing's fast path), for statistics."""
    try:
        return b"[" + b",".join(orjson.dumps(r) for r in orjson.loads(body)) + b"]" == body
    except orjson.JSONDecodeError:
        return False


def run_plan(check: psycopg.Connection, truth: list[Record], plan: list[Landing], rules: RecordRules) -> Model:
    """Land the plan, checking the warehouse against the model after every landing; return the model."""
    reset(check)
    model = Model(truth)
    event(f"{len(truth) // 5 * 5}+ records, {len(plan) // 5 * 5}+ landings")
    direct_runs = count(1_000_001)
    before: dict[str, tuple] = {}
    with connect() as conn:
        for step, landing in enumerate(plan):
            note(f"step {step}: {landing!r}")
            event(f"landing via {landing.via}, crash {landing.crash}")
            bodies = page_bodies(truth, landing)
            # Recorded here: sync_window reads pages on a read-ahead thread, where hypothesis
            # cannot record events.
            for body in bodies:
                if body != b"[]":
                    event(f"page path fast={takes_fast_path(body)}")

            def pages(bodies=bodies, landing=landing):
                for number, body in enumerate(bodies):
                    if landing.crash == "pages" and number == landing.crash_after:
                        raise VendorWentAway(f"vendor went away after {number} page(s)")
                    yield decode_page(body)
                if landing.crash == "pages":
                    raise VendorWentAway("vendor went away after the last page")

            distinct = len({truth[i].rid for page in landing.pages for i, _ in page})
            expected_error = {None: None, "pages": VendorWentAway, "after_merge": CrashAfterMerge,
                              "count": IncompleteWindowError, "stray": RecordError}[landing.crash]
            target = Target("leadconduit", "LeadConduit", "events", "/events", TABLE, landing.window)
            try:
                if landing.via == "land":
                    run_id = next(direct_runs)
                    with conn.transaction():
                        result = land_pages(conn, target, pages(), run_id=run_id, rules=rules)
                        if landing.crash == "after_merge":
                            raise CrashAfterMerge("the worker died before the commit")
                else:
                    vendor_count = distinct + (1 if landing.crash == "count" else 0)
                    summary = sync_window(target=target, pages=pages, http_stats=HttpStats(), rules=rules,
                                          checks=Checks(vendor_count=lambda n=vendor_count: n, lock_wait_seconds=5))
                    run_id, result = summary.run_id, summary.landing
                    assert summary.status == "success"
            except Exception as exc:
                if expected_error is None or not isinstance(exc, expected_error):
                    raise
                assert snapshot(check) == before, f"step {step}: a crashed landing changed the raw table"
                continue
            assert expected_error is None, f"step {step}: the landing should have failed with {expected_error}"

            counts, written = model.apply(landing, run_id)
            got = {k: getattr(result, k) for k in counts}
            assert got == counts, f"step {step}: landing counts"
            assert result.records == sum(map(len, landing.pages))
            assert result.counted == distinct
            after = snapshot(check)
            expected = {rid: (row.version.hash, row.first_run_id, row.last_run_id, row.change_count)
                        for rid, row in model.rows.items()}
            assert {rid: values[:4] for rid, values in after.items()} == expected, f"step {step}: rows"
            untouched = {rid: values[4:] for rid, values in before.items() if rid not in written}
            assert {rid: after[rid][4:] for rid in untouched} == untouched, (
                f"step {step}: a row not written by the model moved (xmin or last_loaded_at)")
            before = after
    return model


def assert_payloads_exact(check: psycopg.Connection, model: Model) -> None:
    """Every row's payload is the record as the vendor sent it: same jsonb, same numbers, same hash."""
    ids = list(model.rows)
    raws = [row.version.raw.decode("utf-8") for row in model.rows.values()]
    wrong = check.execute(
        f"SELECT u.id FROM unnest(%s::text[], %s::text[]) AS u(id, raw) "
        f"LEFT JOIN {RAW_TABLE} AS r ON r.record_id = u.id "
        f"WHERE r.record_id IS NULL OR r.payload <> u.raw::jsonb OR r.payload::text <> u.raw::jsonb::text "
        f"OR r.payload_hash <> md5(u.raw)",
        (ids, raws),
    ).fetchall()
    assert wrong == []
    stored = dict(check.execute(f"SELECT record_id, payload::text FROM {RAW_TABLE}").fetchall())
    assert stored.keys() == model.rows.keys()
    for rid, row in model.rows.items():
        assert json.loads(stored[rid], parse_float=Decimal) == json.loads(row.version.raw, parse_float=Decimal)
    assert check.execute("SELECT count(*) FROM ops.quarantine").fetchall() == [(0,)]


def assert_audit(check: psycopg.Connection, plan: list[Landing]) -> None:
    """One audit row per sync_window call, failed exactly where the landing crashed."""
    statuses = [status for (status,) in check.execute("SELECT status FROM ops.sync_runs ORDER BY run_id")]
    assert statuses == ["failed" if landing.crash else "success" for landing in plan if landing.via == "sync"]
    landed = {(landing.window.start, landing.window.end) for landing in plan if landing.via == "sync" and not landing.crash}
    assert set(check.execute("SELECT window_start, window_end FROM ops.sync_windows").fetchall()) == landed


# --------------------------------------------------------------------------------------------------
# The properties.
# --------------------------------------------------------------------------------------------------


@st.composite
def unchanged_vendor(draw):
    truth = draw(truths(max_versions=1))
    windows_, plan = draw(plans(truth, versioned=False))
    return truth, windows_, plan


@st.composite
def updating_vendor(draw, timespec: str = "milliseconds"):
    truth = draw(truths(max_versions=3, timespec=timespec))
    windows_, plan = draw(plans(truth, versioned=True))
    return truth, windows_, plan


@pytest.fixture(scope="module")
def check(warehouse):
    """A superuser connection of the scratch warehouse (autocommit) to reset and read it."""
    with psycopg.connect(warehouse.conninfo, autocommit=True) as connection:
        yield connection


# A failing example is shrunk for up to five minutes (Hypothesis' own limit): more than the suite's
# default timeout, which would kill the test before it prints the minimal example. Passing runs take
# seconds.
@pytest.mark.timeout(900)
@PROPERTY_SETTINGS
@given(scenario=unchanged_vendor())
def test_any_pages_windows_order_reruns_and_crashes_land_the_same_table(check, scenario):
    truth, _, plan = scenario
    model = run_plan(check, truth, plan, PLAIN_RULES)

    assert sorted(model.rows) == sorted(record.rid for record in truth), "one row per vendor record"
    first_landing = {}
    for landing in plan:
        if landing.crash is None:
            for page in landing.pages:
                for i, _ in page:
                    first_landing.setdefault(truth[i].rid, landing)
    assert first_landing.keys() == model.rows.keys()
    rows = check.execute(f"SELECT record_id, change_count, first_run_id = last_run_id FROM {RAW_TABLE}").fetchall()
    assert len(rows) == len(truth)
    assert all(changes == 0 and same for _, changes, same in rows), "nothing changed at the vendor"
    assert_payloads_exact(check, model)
    assert_audit(check, plan)


def assert_newest_versions(check: psycopg.Connection, truth: list[Record], model: Model) -> None:
    assert {rid: row.version for rid, row in model.rows.items()} == {r.rid: r.versions[-1] for r in truth}
    stored = dict(check.execute(f"SELECT record_id, source_updated_at FROM {RAW_TABLE}").fetchall())
    assert stored == {r.rid: moment_of(r.versions[-1].updated_us) for r in truth}, "the vendor's update time, exactly"


@pytest.mark.timeout(900)
@PROPERTY_SETTINGS
@given(scenario=updating_vendor())
def test_the_newest_version_wins_whatever_the_order(check, scenario):
    truth, _, plan = scenario
    model = run_plan(check, truth, plan, UPDATE_RULES)

    assert_newest_versions(check, truth, model)
    assert_payloads_exact(check, model)
    assert_audit(check, plan)


def _minimal_microsecond_scenario():
    """Record "a": version 0 updated at 05:00:00.000100Z, version 1 at 05:00:00.000900Z (0.8 ms later).

    The newer version lands first, then the older one: the older one replaces it.
    """
    ts = START_MS + 5 * 3_600_000
    versions = tuple(
        Version(b'{"id":"a","ts":%d,"v":%d,"updated_at":"%s"}' % (ts, v, iso_text(updated, "Z", "microseconds").encode()),
                updated)
        for v, updated in enumerate((ts * 1000 + 100, ts * 1000 + 900))
    )
    truth = [Record("a", ts, versions)]
    window = window_of(300, 360)
    plan = [Landing(window, "land", [[(0, 1)]], [","]), Landing(window, "land", [[(0, 0)]], [","])]
    return truth, [window], plan


@settings(PROPERTY_SETTINGS)
@example(scenario=_minimal_microsecond_scenario())
@given(scenario=updating_vendor(timespec="microseconds"))
def test_the_newest_version_wins_with_microsecond_update_times(check, scenario):
    truth, _, plan = scenario
    model = run_plan(check, truth, plan, UPDATE_RULES)

    assert_newest_versions(check, truth, model)


def test_versions_one_millisecond_apart_keep_their_order(check):
    reset(check)
    window = Window(datetime(2004, 3, 7, 23, tzinfo=timezone.utc), datetime(2004, 3, 8, 1, tzinfo=timezone.utc))
    target = Target("leadconduit", "LeadConduit", "events", "/events", TABLE, window)
    older = b'{"id":"a","v":"older","updated_at":"2004-03-08T00:00:00.000Z"}'
    newer = b'{"id":"a","v":"newer","updated_at":"2004-03-08T00:00:00.001Z"}'
    rules = RecordRules(updated_field="updated_at", updated_unit="iso")
    with connect() as conn:
        for run_id, raw in enumerate((newer, older), start=1):
            with conn.transaction():
                land_pages(conn, target, [decode_page(b"[" + raw + b"]")], run_id=run_id, rules=rules)

    assert check.execute(f"SELECT payload->>'v', source_updated_at FROM {RAW_TABLE}").fetchall() == [
        ("newer", datetime(2004, 3, 8, 0, 0, 0, 1000, tzinfo=timezone.utc))
    ]
