"""`make bench`: land the same LeadConduit events every way we compare ourselves with, side by side.

One sandbox serves ``--size`` events (spread over ``--hours`` hourly buckets) over HTTP in pages of
1000; one PostgreSQL takes them. Each line runs in a fresh process, so its peak RSS is its own, and
the lines are interleaved (repeat 1 of every line, then repeat 2, ...) so a slow minute of the
machine hits them all alike:

- the HTTP read ceiling (read and discard; and read plus orjson decoding);
- the raw COPY limit (the same records as COPY text, psycopg 3, no HTTP; stage and upsert on re-run);
- this project: the DAG's ``land_events`` task executed as Airflow's task runner does, for one
  window holding everything, and for the same data as hourly windows; first load and unchanged re-run;
- stock Airflow: ``HttpOperator`` paging that collects every page, then ``PostgresHook.insert_rows``;
- dlt's ``rest_api`` source with the same paging, merged on ``id`` (in its own environment).

Then, each repeat: every DAG file's parse time in a fresh interpreter (``bench.parse_dags``, also
written to ``parse.md``/``parse.json``; ``make bench-parse`` runs it alone) and the task time of a small
hourly window (~400 records); once: our landing of one window of ``--memory-size`` records (peak RSS
growth) and a cProfile of our landing. Before each run the bench waits for the machine to be quiet,
and measures a run again when another job took a share of a core meanwhile. Results go to
``bench/results/<name>.json``, ``.md`` and ``-profile.txt``; the tables are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bench.lines.measure import RESULT_PREFIX
from devtools.paths import DAGS, ROOT, STATE

RESULTS = ROOT / "bench" / "results"
SEED = 7
PAGE_SIZE = 1000
DAY = datetime(2024, 6, 1, tzinfo=timezone.utc)
#: The small window's data lives on its own day, in its own sandbox (400 events an hour).
SMALL_DAY = DAY + timedelta(days=3)
SMALL_EVENTS = 400
TASK_ID = "land_events"
COPY_TABLE = "bench_copy.events"
STOCK_TABLE = "bench_stock.events"
DLT_DATASET = "bench_dlt"
HTTP_CONN_ID = "bench_http"
STOCK_WAREHOUSE_CONN_ID = "bench_warehouse"


@dataclass(frozen=True)
class Line:
    """One way of landing (or only reading) the records, and the phases it is measured in."""

    key: str
    label: str
    phases: tuple[str, ...] = ("first", "rerun")


LINES = (
    Line("http_ceiling", "HTTP read ceiling: requests, read and discard", ("first",)),
    Line("http_parse", "HTTP read + orjson.loads of each page", ("first",)),
    Line("raw_copy", "raw COPY into (record_id text primary key, payload jsonb), no HTTP"),
    Line("project", "this project: land_events task, one window"),
    Line("project_hourly", "this project: the same data as hourly windows"),
    Line("stock_airflow", "stock Airflow: HttpOperator paging + insert_rows(replace=True)"),
    Line("dlt", "dlt rest_api -> postgres, merge on id"),
)
LINE_KEYS = tuple(line.key for line in LINES)
#: ``--smoke``: every line and every extra at a size that runs in well under a minute, measured as it comes.
SMOKE = {"size": 2000, "hours": 2, "repeats": 1, "memory_size": 3000, "profile": False, "quiet_wait": 0.0,
         "retries": 0}
#: The machine is quiet when, with nothing of the bench running, less than this many cores are busy ...
QUIET_CORES = 0.15
#: ... for this many seconds in a row.
QUIET_SECONDS = 1.0
#: A run is disturbed when other processes took more than this share of a core while it ran.
DISTURBED_SHARE = 0.2


@dataclass
class Data:
    """The records every line lands: how many, their bytes on the wire, the pages that carry them."""

    records: int
    body_bytes: int
    #: Query parameters of every request a pager makes, the final empty page included.
    pages: list[dict[str, Any]]
    copy_file: Path


@dataclass
class Outcome:
    """Everything measured, as the report reads it."""

    config: dict[str, Any]
    runs: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    dag_parse: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    small_window: list[dict[str, Any]] = field(default_factory=list)
    memory: dict[str, Any] | None = None
    profile: str | None = None


def vendor_timestamp(moment: datetime) -> str:
    """Format a moment as the LeadConduit hook sends it (``2024-06-01T00:00:00.000Z``)."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def window_params(start: datetime, end: datetime) -> dict[str, Any]:
    """Return the ``/events`` parameters of a window as every pager here sends them (end inclusive)."""
    return {"start": vendor_timestamp(start), "end": vendor_timestamp(end - timedelta(milliseconds=1)),
            "sort": "asc", "limit": PAGE_SIZE}


def compile_bytecode() -> None:
    """Compile the environment's and the project's modules to bytecode where that is not done yet.

    A deployed Airflow loads its modules from bytecode; an environment installed by uv has none
    until a process writes it, and never under ``PYTHONDONTWRITEBYTECODE``: every task process would
    then compile Airflow from source (seconds), which is not what a task pays in production.
    """
    import compileall
    import sysconfig

    paths = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    paths |= {str(ROOT / name) for name in ("plugins", "dags", "bench", "devtools", "sandbox")}
    for path in sorted(paths):
        compileall.compile_dir(path, quiet=2, workers=0)


def leadconduit_conn(url: str, key: str) -> str:
    """Return the LeadConduit connection with the production defaults (timeouts, attempts)."""
    return json.dumps({"conn_type": "leadconduit", "host": url, "password": key})


class Bench:
    """Set up the sandbox and the warehouse, run each line in its own process, and collect the results."""

    def __init__(self, args: argparse.Namespace, stack: ExitStack) -> None:
        self.args = args
        self.stack = stack
        self.work = Path(tempfile.mkdtemp(prefix="run-", dir=self._state_dir()))
        if not args.keep:
            stack.callback(shutil.rmtree, self.work, ignore_errors=True)
        (self.work / "logs").mkdir()
        self._children = 0
        self.start = DAY
        self.end = DAY + timedelta(hours=args.hours)

    @staticmethod
    def _state_dir() -> Path:
        path = STATE / "bench"
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -- set-up ---------------------------------------------------------------------------------

    def set_up(self) -> None:
        """Start the sandbox, make the warehouse and the comparison tables, and read the data once."""
        from devtools.airflow_env import configure

        # Before anything imports Airflow: every child inherits a private AIRFLOW_HOME.
        configure(self.work / "airflow")
        compile_bytecode()
        import psycopg

        from devtools.testing import Warehouse
        from devtools.warehouse import any_server, scratch_database_name
        from sandbox.vendors.leadconduit import DEFAULT_API_KEY

        self.key = DEFAULT_API_KEY
        self.server = any_server(prefer_embedded=self.args.embedded)
        self.stack.callback(self.server.stop)
        self.warehouse = Warehouse(self.server, scratch_database_name("leads_bench"))
        self.stack.callback(self.warehouse.drop)
        self.warehouse.create()
        self.admin = psycopg.connect(self.warehouse.conninfo, autocommit=True)
        self.stack.callback(self.admin.close)
        for table in (COPY_TABLE, STOCK_TABLE):
            self.admin.execute(f"CREATE SCHEMA IF NOT EXISTS {table.split('.')[0]}")
            self.admin.execute(f"CREATE TABLE {table} (record_id text PRIMARY KEY, payload jsonb NOT NULL)")
        self.postgres_version = self.admin.execute("SHOW server_version").fetchone()[0]

        per_hour = max(1, round(self.args.size / self.args.hours))
        self.sandbox = self._sandbox(self.start, self.end, per_hour, "sandbox", self.stack)
        self.data = self._warm_up(self.sandbox.vendor_url("leadconduit"), self.start, self.end, self.work / "records.copy")
        truth = self.sandbox.client.leadconduit_truth(self.start, self.end)["count"]
        if truth != self.data.records:
            raise RuntimeError(f"the warm-up read {self.data.records} events, the sandbox holds {truth}")
        self.env = {
            **os.environ,
            "AIRFLOW_CONN_LEADS_WAREHOUSE": self.warehouse.airflow_conn,
            "AIRFLOW_CONN_LEADCONDUIT_DEFAULT": leadconduit_conn(self.sandbox.vendor_url("leadconduit"), self.key),
            f"AIRFLOW_CONN_{HTTP_CONN_ID.upper()}": json.dumps({
                "conn_type": "http", "host": self.sandbox.vendor_url("leadconduit"), "login": "API", "password": self.key}),
            f"AIRFLOW_CONN_{STOCK_WAREHOUSE_CONN_ID.upper()}": self.server.airflow_conn(self.warehouse.dbname),
        }

    def _sandbox(self, start: datetime, end: datetime, per_hour: int, name: str, stack: ExitStack):
        """Start a sandbox serving ``per_hour`` events an hour in ``[start, end)``, stopped with ``stack``."""
        from sandbox.process import SandboxProcess

        proc = SandboxProcess(seed=SEED, start=start, end=end, events_per_hour=per_hour,
                              options={"leadconduit-api-key": self.key}, log_path=self.work / "logs" / f"{name}.log")
        # Keep every generated hour in memory (the default cache holds 200,000 events): each pass
        # of every line is then served, never regenerated, however large --size is.
        cache = max(200_000, int(per_hour * (end - start) / timedelta(hours=1) * 1.5))
        proc.args += ["--leadconduit-max-cached-events", str(cache)]
        stack.enter_context(proc)
        return proc

    def _warm_up(self, url: str, start: datetime, end: datetime, copy_file: Path) -> Data:
        """Page the whole range once: fills the sandbox's cache, records the cursors, writes the COPY file."""
        import orjson
        import requests

        session = requests.Session()
        session.auth = ("API", self.key)
        session.headers["Accept"] = "application/json"
        base = window_params(start, end)
        pages, records, body_bytes, after = [], 0, 0, None
        with open(copy_file, "wb") as out:
            while True:
                params = {**base, "after_id": after} if after else dict(base)
                pages.append(params)
                response = session.get(f"{url}/events", params=params, timeout=120)
                response.raise_for_status()
                body = response.content
                body_bytes += len(body)
                page = orjson.loads(body)
                if not page:
                    break
                raw = [orjson.dumps(record) for record in page]
                if b"[" + b",".join(raw) + b"]" != body:
                    raise RuntimeError("the sandbox's page is not orjson's compact form: the COPY file would differ")
                # COPY text format: the compact JSON has no tab or newline, only backslashes to double.
                out.write(b"".join(b"%s\t%s\n" % (r["id"].encode(), b.replace(b"\\", b"\\\\"))
                                   for r, b in zip(page, raw, strict=True)))
                records += len(page)
                after = page[-1]["id"]
        return Data(records, body_bytes, pages, copy_file)

    # -- one child process ------------------------------------------------------------------------

    def child(self, module: str, spec: dict[str, Any], *, env: dict[str, str] | None = None,
              python: str | os.PathLike[str] | None = None, records: int = 0) -> dict[str, Any]:
        """Run ``bench.lines.<module>`` in a fresh process and return its result, or ``{"error": ...}``.

        Around it, the CPU the sandbox and PostgreSQL spent is sampled, and the whole process's wall
        time (interpreter start, imports and exit included) is recorded.
        """
        import resource

        from bench.system import busy_cpu, postgres_cpu, process_cpu

        waited = self.wait_for_quiet() if self.args.quiet_wait > 0 else 0.0
        self._children += 1
        spec_file = self.work / f"spec-{self._children:03d}.json"
        spec_file.write_text(json.dumps(spec, default=str))
        log_file = self.work / "logs" / f"{self._children:03d}-{module}.log"
        sandbox_pid = self.sandbox.proc.pid if self.sandbox.proc else None
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        before = (process_cpu(sandbox_pid) if sandbox_pid else None, postgres_cpu(), busy_cpu())
        began = time.perf_counter()
        timeout = 180 + records / 200
        try:
            with open(log_file, "wb") as log:
                done = subprocess.run([str(python or sys.executable), "-m", f"bench.lines.{module}", str(spec_file)],
                                      cwd=ROOT, env=env or self.env, stdout=subprocess.PIPE, stderr=log,
                                      timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f} s (log: {log_file})"}
        wall = time.perf_counter() - began
        after = (process_cpu(sandbox_pid) if sandbox_pid else None, postgres_cpu(), busy_cpu())
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        process_cpu_seconds = (reaped.ru_utime + reaped.ru_stime) - (children.ru_utime + children.ru_stime)
        lines = [ln for ln in done.stdout.decode(errors="replace").splitlines() if ln.startswith(RESULT_PREFIX)]
        if done.returncode != 0 or not lines:
            tail = log_file.read_text(errors="replace").strip().splitlines()[-12:]
            return {"error": f"exit {done.returncode}: " + "\n".join(tail)}
        result = json.loads(lines[-1][len(RESULT_PREFIX):])
        result["process_seconds"] = wall
        result["sandbox_cpu_seconds"] = None if None in (before[0], after[0]) else after[0] - before[0]
        result["postgres_cpu_seconds"] = None if None in (before[1], after[1]) else after[1] - before[1]
        result["process_cpu_seconds"] = process_cpu_seconds
        result["waited_for_quiet_seconds"] = waited
        if None not in before and None not in after:
            # Whatever else kept the cores busy meanwhile (another job on the machine skews every number).
            ours = process_cpu_seconds + (after[0] - before[0]) + (after[1] - before[1])
            result["other_cpu_seconds"] = max(0.0, (after[2] - before[2]) - ours)
        return result

    # -- the lines --------------------------------------------------------------------------------

    def reset(self, key: str) -> None:
        """Empty what a line lands into, before its first load (not timed)."""
        if key == "raw_copy":
            self.admin.execute(f"TRUNCATE {COPY_TABLE}")
        elif key == "stock_airflow":
            self.admin.execute(f"TRUNCATE {STOCK_TABLE}")
        elif key == "dlt":
            self.admin.execute(f"DROP SCHEMA IF EXISTS {DLT_DATASET}, {DLT_DATASET}_staging CASCADE")
            shutil.rmtree(self.work / "dlt-pipelines", ignore_errors=True)
        elif key.startswith("project"):
            self.warehouse.reset()

    def settle(self) -> None:
        """Flush PostgreSQL's dirty pages before a timed run, so no line pays for the previous one's writes."""
        self.admin.execute("CHECKPOINT")

    def wait_for_quiet(self) -> float:
        """Wait (up to ``--quiet-wait`` seconds) until nothing keeps a core busy; return the seconds waited.

        On a shared machine another job (a test run, a build) steals a core from whichever line
        happens to run: the bench waits for it to pass (and for PostgreSQL's autovacuum of the
        previous line's table) rather than measure it.
        """
        from bench.system import busy_cpu

        began = time.monotonic()
        quiet_since = None
        while time.monotonic() - began < self.args.quiet_wait:
            before = busy_cpu()
            time.sleep(0.5)
            after = busy_cpu()
            if before is None or after is None:
                break
            now = time.monotonic()
            if (after - before) / 0.5 < QUIET_CORES:
                quiet_since = quiet_since or now
                if now - quiet_since >= QUIET_SECONDS:
                    break
            else:
                quiet_since = None
        return time.monotonic() - began

    def disturbed(self, result: dict[str, Any]) -> bool:
        """Tell whether other processes took a noticeable share of a core while this run was measured."""
        other = result.get("other_cpu_seconds")
        return other is not None and other > max(0.3, DISTURBED_SHARE * result["process_seconds"])

    def measure(self, line: Line, phase: str) -> dict[str, Any]:
        """Run a phase; run it again (``--retries`` times at most) while another job disturbed it."""
        for attempt in range(self.args.retries + 1):
            result = self.run_phase(line, phase)
            result["attempts"] = attempt + 1
            if "error" in result or not self.disturbed(result) or attempt == self.args.retries:
                break
            print(f"  (another process took {result['other_cpu_seconds']:.1f} CPU s during that run: once more)",
                  flush=True)
        result["disturbed"] = "error" not in result and self.disturbed(result)
        return result

    def run_phase(self, line: Line, phase: str) -> dict[str, Any]:
        """Run one phase of one line in a fresh process and check what it did."""
        if phase == "first":
            self.reset(line.key)
        self.settle()
        records = self.data.records
        key = line.key
        if key in ("http_ceiling", "http_parse"):
            result = self.child("http_ceiling", {
                "url": f"{self.sandbox.vendor_url('leadconduit')}/events", "key": self.key, "pages": self.data.pages,
                "records": records, "parse": key == "http_parse"}, records=records)
        elif key == "raw_copy":
            result = self.child("raw_copy", {"conninfo": self.warehouse.conninfo, "table": COPY_TABLE,
                                             "file": str(self.data.copy_file), "phase": phase,
                                             "records": records}, records=records)
        elif key in ("project", "project_hourly"):
            hours = [(self.start, self.end)] if key == "project" else [
                (self.start + timedelta(hours=h), self.start + timedelta(hours=h + 1)) for h in range(self.args.hours)]
            result = self.project(hours, records=records)
        elif key == "stock_airflow":
            window = window_params(self.start, self.end)
            result = self.child("stock_airflow", {
                "http_conn_id": HTTP_CONN_ID, "postgres_conn_id": STOCK_WAREHOUSE_CONN_ID, "table": STOCK_TABLE,
                "page_size": PAGE_SIZE, "start": window["start"], "end": window["end"]}, records=records)
        elif key == "dlt":
            result = self.dlt(records)
        else:
            raise ValueError(f"unknown line {key!r}")
        result["phase"] = phase
        result["problems"] = self.check(line, phase, result, records)
        return result

    def project(self, windows: list[tuple[datetime, datetime]], *, records: int, env: dict[str, str] | None = None,
                profile: Path | None = None, preload: bool = True) -> dict[str, Any]:
        """Run the DAG's landing task over ``windows`` in one fresh process.

        :param preload: Import the whole package before the baseline (a landing line); off, the time
            and memory include what ``execute`` imports on first use (a task's start).
        """
        spec = {"dag_file": str(DAGS / "leadconduit_sync.py"), "task_id": TASK_ID,
                "windows": [[a.isoformat(), b.isoformat()] for a, b in windows],
                "profile": str(profile) if profile else None, "preload": preload}
        return self.child("project", spec, env=env, records=records)

    def dlt(self, records: int) -> dict[str, Any]:
        """Run the dlt line in dlt's own environment, or report why that environment is missing."""
        from bench.dlt_env import DltUnavailable, ensure_dlt

        try:
            python = ensure_dlt(self.args.uv)
        except DltUnavailable as exc:
            return {"error": f"dlt unavailable: {exc}", "unavailable": True}
        host = self.server.host
        location = f"@/{self.warehouse.dbname}?host={host}" if host.startswith("/") else (
            f"@{host}:{self.server.port or 5432}/{self.warehouse.dbname}")
        window = window_params(self.start, self.end)
        spec = {"base_url": self.sandbox.vendor_url("leadconduit"), "key": self.key, "start": window["start"],
                "end": window["end"], "page_size": PAGE_SIZE, "dataset": DLT_DATASET,
                "pipelines_dir": str(self.work / "dlt-pipelines"),
                # dlt insists on a password; the server trusts local connections and ignores it.
                "credentials": f"postgresql://{self.server.user}:unused{location}"}
        env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false", "DLT_DATA_DIR": str(self.work / "dlt-data"),
               "RUNTIME__LOG_LEVEL": "WARNING"}
        return self.child("dlt_rest_api", spec, env=env, python=python, records=records)

    def check(self, line: Line, phase: str, result: dict[str, Any], records: int) -> list[str]:
        """Return what looks wrong with a run: a wrong count, rows written by an unchanged re-run, ..."""
        if "error" in result:
            return [result["error"].splitlines()[0] if result.get("unavailable") else result["error"]]
        problems = []
        if result.get("records") != records:
            problems.append(f"{result.get('records')} records, expected {records}")
        if not result.get("seconds", 0) > 0:
            problems.append("no time measured")
        table = {"raw_copy": COPY_TABLE, "stock_airflow": STOCK_TABLE, "dlt": f"{DLT_DATASET}.events",
                 "project": "raw.leadconduit_events", "project_hourly": "raw.leadconduit_events"}.get(line.key)
        if table and phase == "first":
            (rows,) = self.admin.execute(f"SELECT count(*) FROM {table}").fetchone()
            if rows != records:
                problems.append(f"{table} holds {rows} rows after the first load, expected {records}")
        if line.key.startswith("project") and phase == "rerun" and result.get("rows_written"):
            problems.append(f"the unchanged re-run wrote {result['rows_written']} rows")
        if line.key.startswith("project") and result.get("http_retries"):
            problems.append(f"{result['http_retries']} HTTP retries: the sandbox or the machine struggled")
        return problems

    # -- once-only measurements -------------------------------------------------------------------

    def dag_parse(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Parse each DAG file in a fresh interpreter, after the task runner's imports and cold (``bench.parse_dags``)."""
        from bench import parse_dags

        env = parse_dags.child_env(self.work / "parse-home")
        return {path.name: {mode: parse_dags.measure(path, mode, env) for mode in parse_dags.MODES}
                for path in parse_dags.dag_files()}

    def small_window(self) -> tuple[tuple[datetime, datetime], int, dict[str, str]]:
        """Start a sandbox at ~400 events an hour; return its hour closest to 400, the count, the env to land it."""
        proc = self._sandbox(SMALL_DAY, SMALL_DAY + timedelta(hours=24), SMALL_EVENTS, "sandbox-small", self.stack)
        counts = {}
        for h in range(24):
            start = SMALL_DAY + timedelta(hours=h)
            counts[start] = proc.client.leadconduit_truth(start, start + timedelta(hours=1))["count"]
        start = min(counts, key=lambda s: abs(counts[s] - SMALL_EVENTS))
        env = {**self.env, "AIRFLOW_CONN_LEADCONDUIT_DEFAULT": leadconduit_conn(proc.vendor_url("leadconduit"), self.key)}
        return (start, start + timedelta(hours=1)), counts[start], env

    def land_small(self, hour: tuple[datetime, datetime], records: int, env: dict[str, str]) -> dict[str, Any]:
        """Land the small hourly window as a first load in a fresh process: its task time after start-up."""
        self.reset("project")
        self.settle()
        result = self.project([hour], records=records, env=env, preload=False)
        result["problems"] = self.check(Line("small_window", "small"), "first", result, records)
        return result

    def memory_check(self, size: int) -> dict[str, Any]:
        """Land one window of ``size`` records once (our line, first load) for its peak RSS growth."""
        per_hour = max(1, round(size / 24))
        end = self.start + timedelta(hours=24)
        with ExitStack() as local:
            proc = self._sandbox(self.start, end, per_hour, "sandbox-memory", local)
            total = 0
            for h in range(24):  # generate every hour now, not while the landing is measured
                start = self.start + timedelta(hours=h)
                total += proc.client.leadconduit_truth(start, start + timedelta(hours=1))["count"]
            env = {**self.env, "AIRFLOW_CONN_LEADCONDUIT_DEFAULT": leadconduit_conn(proc.vendor_url("leadconduit"), self.key)}
            self.reset("project")
            self.settle()
            main_sandbox, self.sandbox = self.sandbox, proc  # sample this sandbox's CPU
            try:
                result = self.project([(self.start, end)], records=total, env=env)
            finally:
                self.sandbox = main_sandbox
        result["problems"] = self.check(Line("memory", "memory"), "first", result, total)
        return result

    def profile(self, out: Path, small: tuple[tuple[datetime, datetime], int, dict[str, str]] | None) -> str | None:
        """Profile our one-window first load (and the small window as a task starts) into ``out``."""
        import io
        import pstats

        runs = [("one window, first load, the package imported beforehand", [(self.start, self.end)],
                 self.data.records, None, True)]
        if small is not None:
            hour, records, env = small
            runs.append(("the small hourly window as a fresh task lands it (imports inside execute included)",
                         [hour], records, env, False))
        buffer = io.StringIO()
        for number, (title, windows, records, env, preload) in enumerate(runs, 1):
            self.reset("project")
            self.settle()
            raw = self.work / f"profile-{number}.prof"
            result = self.project(windows, records=records, env=env, profile=raw, preload=preload)
            if "error" in result or not raw.exists():
                buffer.write(f"({title}: no profile: {result.get('error', 'nothing written')[:500]})\n\n")
                continue
            stats = pstats.Stats(str(raw), stream=buffer)
            stats.strip_dirs()
            buffer.write(f"######## cProfile of the land_events task: {title}, {records} records "
                         f"({result['seconds']:.2f} s under the profiler)\n\n== by own time ==\n")
            stats.sort_stats("tottime").print_stats(30)
            buffer.write("== by cumulative time ==\n")
            stats.sort_stats("cumulative").print_stats(35)
        out.write_text(buffer.getvalue())
        return out.name


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000, help="events the sandbox serves (default 100000)")
    parser.add_argument("--hours", type=int, default=24, help="hourly windows the events are spread over")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of every line (default 3)")
    parser.add_argument("--lines", default=",".join(LINE_KEYS),
                        help=f"comma-separated lines to run (default all: {','.join(LINE_KEYS)})")
    parser.add_argument("--memory-size", type=int, default=1_000_000,
                        help="records of the one-window memory check (0: skip; default 1000000)")
    parser.add_argument("--no-extras", action="store_true", help="skip DAG parse times and the small window")
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=True,
                        help="write a cProfile of our one-window first load next to the results")
    parser.add_argument("--smoke", action="store_true",
                        help="a tiny run of every line to check the harness works (what make test runs): "
                             + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in SMOKE.items()))
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--name", default="latest", help="results file stem (default latest)")
    parser.add_argument("--uv", help="uv for dlt's environment (default .state/tools/bin/uv)")
    parser.add_argument("--quiet-wait", type=float, default=120.0,
                        help="seconds to wait before each run for other jobs to leave the cores idle (0: never)")
    parser.add_argument("--retries", type=int, default=2,
                        help="times a run disturbed by another job is measured again (default 2)")
    parser.add_argument("--embedded", action="store_true",
                        help="use the embedded PostgreSQL even if one answers at 127.0.0.1:5432")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, specs, COPY file)")
    args = parser.parse_args(argv)
    if args.smoke:
        vars(args).update(SMOKE)
    args.lines = [key.strip() for key in args.lines.split(",") if key.strip()]
    unknown = set(args.lines) - set(LINE_KEYS)
    if unknown:
        parser.error(f"unknown lines {sorted(unknown)}; choose from {', '.join(LINE_KEYS)}")
    if args.size < 1 or args.hours < 1 or args.repeats < 1:
        parser.error("--size, --hours and --repeats must be at least 1")
    return args


def _say(text: str) -> None:
    print(text, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the bench, print the table, write the results; exit 1 if a line failed or looked wrong."""
    from bench import report
    from bench.system import load_average, machine

    args = parse_args(argv)
    began = time.monotonic()
    lines = [line for line in LINES if line.key in args.lines]
    with ExitStack() as stack:
        bench = Bench(args, stack)
        _say(f"setting up: sandbox with ~{args.size} events over {args.hours} h, warehouse, warm-up read")
        bench.set_up()
        data = bench.data
        _say(f"  {data.records} events, {data.body_bytes / data.records:.0f} bytes each on the wire, "
             f"{len(data.pages)} requests a pass")
        outcome = Outcome(config={
            "size": args.size, "records": data.records, "body_bytes": data.body_bytes, "hours": args.hours,
            "page_size": PAGE_SIZE, "repeats": args.repeats, "seed": SEED, "lines": args.lines,
            "memory_size": args.memory_size, "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "load_average": load_average(), "bytecode": "compiled before the runs",
        })
        for repeat in range(1, args.repeats + 1):
            for line in lines:
                for phase in line.phases:
                    result = bench.measure(line, phase)
                    outcome.runs.setdefault(line.key, {}).setdefault(phase, []).append(result)
                    _say(f"[{repeat}/{args.repeats}] {line.label} ({phase}): {report.describe_run(result)}")
            if not args.no_extras:
                for name, modes in bench.dag_parse().items():
                    for mode, result in modes.items():
                        outcome.dag_parse.setdefault(name, {}).setdefault(mode, []).append(result)
                    _say(f"[{repeat}/{args.repeats}] parse {name}: " + ", ".join(
                        f"{mode} {report.seconds_of(r)}" for mode, r in modes.items()))
                if repeat == 1:
                    small_hour, small_records, small_env = bench.small_window()
                    outcome.config["small_window"] = {"start": small_hour[0].isoformat(), "records": small_records}
                result = bench.land_small(small_hour, small_records, small_env)
                outcome.small_window.append(result)
                _say(f"[{repeat}/{args.repeats}] small window ({small_records} records): task time "
                     f"{report.seconds_of(result)}")
        if args.memory_size and args.memory_size > data.records:
            _say(f"memory check: one window of ~{args.memory_size} records")
            outcome.memory = bench.memory_check(args.memory_size)
            _say(f"  {report.describe_run(outcome.memory)}")
        args.results_dir.mkdir(parents=True, exist_ok=True)
        if args.profile and "project" in args.lines:
            _say("profiling our landing")
            small = None if args.no_extras else (small_hour, small_records, small_env)
            outcome.profile = bench.profile(args.results_dir / f"{args.name}-profile.txt", small)
        outcome.config["seconds"] = round(time.monotonic() - began, 1)
        outcome.config["machine"] = machine(ROOT, bench.postgres_version)
    summary = report.summarise(outcome, LINES)
    paths = report.write(summary, args.results_dir, args.name)
    if outcome.dag_parse:
        from bench import parse_dags

        stem = "parse" if args.name == "latest" else f"{args.name}-parse"
        paths = [*paths, *parse_dags.write(parse_dags.summarise(outcome.dag_parse), args.results_dir, stem)]
    _say("")
    _say(report.text_table(summary))
    _say(f"\nwrote {', '.join(str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p) for p in paths)}")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
