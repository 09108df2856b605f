"""`make reliability`: every fault the sandbox can inject, against every stream in the registry.

Each cell runs one stream's DAG for one window through Airflow (its own retries included) while the
sandbox or the warehouse misbehaves, then compares the raw table with the sandbox's ground truth:

- **lost**: records of the window the vendor holds that are not in the raw table;
- **duplicated**: rows in the raw table that are not records of the window, or that appear twice;
- **outcome**: ``landed exactly`` (the DAG run succeeded, its retries included), or ``failed clearly,
  then completed`` (the run failed with an error naming the vendor and the window, left the
  warehouse as it was, and a re-run once the fault was gone completed the window).

A new source joins the matrix by being in ``lead_pipelines.registry`` with a sandbox simulator:
the scenarios read its endpoint, DAG and table from its settings. ``python -m devtools.reliability``
runs the full matrix on a private embedded PostgreSQL (it restarts and stops that server); the
``--short`` form leaves out the scenarios that restart the warehouse or kill processes, and
``tests/integration/test_reliability_matrix.py`` runs it inside ``make test``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg

from devtools.paths import ROOT, STATE

WINDOW_START = datetime(2024, 6, 1, 5, tzinfo=timezone.utc)
EVENTS_PER_HOUR = 1500
EXACT = "landed exactly"
RERUN = "failed clearly, then completed"


@dataclass(frozen=True)
class Scenario:
    """One fault, and how it is brought about.

    :param name: Row label of the matrix.
    :param faults: Sandbox fault specs for the stream's endpoint (``vendor`` and ``path`` are added).
    :param action: ``run`` (in this process), or one that needs more: ``pg_restart``, ``pg_down``,
        ``kill_between_pages``, ``kill_in_merge``, ``concurrent``.
    :param outcomes: The outcomes that pass.
    :param full_only: Left out of the short form (needs a restartable warehouse, or subprocesses).
    """

    name: str
    faults: tuple[dict[str, Any], ...] = ()
    action: str = "run"
    outcomes: tuple[str, ...] = (EXACT,)
    full_only: bool = False


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("429 with Retry-After", ({"kind": "429", "after": 1, "retry_after": 1},)),
    Scenario("429 without Retry-After", ({"kind": "429", "after": 1, "retry_after": -1},)),
    Scenario("500", ({"kind": "500", "after": 1},)),
    Scenario("502", ({"kind": "502", "after": 1},)),
    Scenario("503", ({"kind": "503", "after": 1},)),
    Scenario("connection reset", ({"kind": "reset", "after": 1},)),
    Scenario("read timeout", ({"kind": "slow", "after": 1, "delay": 3},)),
    Scenario("truncated body", ({"kind": "truncated", "after": 1},)),
    Scenario("malformed JSON", ({"kind": "malformed", "after": 1},)),
    Scenario("HTML error page", ({"kind": "html", "after": 1, "status": 502},)),
    Scenario("empty page mid-window", ({"kind": "empty", "after": 1},)),
    Scenario("duplicates across pages", ({"kind": "duplicates", "after": 1, "times": -1, "count": 5},)),
    Scenario("page size capped at 100", ({"kind": "page_cap", "cap": 100, "times": -1},)),
    # A hook that filters the window locally (a day-granular vendor filter) lands exactly; one that
    # trusts the vendor's filter must fail clearly. Either way nothing of another window may land.
    Scenario("window filter ignored", ({"kind": "ignore_window", "times": -1},), outcomes=(RERUN, EXACT)),
    Scenario("redirect loop", ({"kind": "redirect_loop", "times": -1},), outcomes=(RERUN,)),
    Scenario("redirect to another host", ({"kind": "redirect_host", "times": -1},), outcomes=(RERUN,)),
    Scenario("key echoed in an error", ({"kind": "echo", "after": 1, "status": 500},)),
    Scenario("PostgreSQL restart mid-window", ({"kind": "slow", "after": 1, "delay": 1.5},), "pg_restart",
             full_only=True),
    Scenario("PostgreSQL down when the run fails", ({"kind": "slow", "after": 1, "delay": 1.5},), "pg_down",
             outcomes=(RERUN,), full_only=True),
    Scenario("SIGKILL between pages", ({"kind": "slow", "after": 1, "delay": 30},), "kill_between_pages",
             outcomes=(RERUN,), full_only=True),
    Scenario("SIGKILL inside the merge", (), "kill_in_merge", outcomes=(RERUN,), full_only=True),
    Scenario("two runs of one window at once", ({"kind": "slow", "after": 1, "delay": 2},), "concurrent",
             full_only=True),
)


@dataclass(frozen=True)
class StreamCase:
    """One registered stream: what a cell needs to run it and to judge it."""

    vendor: str
    display_name: str
    stream: str
    endpoint: str
    dag_id: str
    table: str
    lookback: timedelta = timedelta(0)
    #: Reads its parents from another stream's landing (``after``) or is mapped over them.
    fan_out: bool = False
    #: The source's window length (hourly sources run the matrix's hour, daily ones its day).
    interval: timedelta = timedelta(hours=1)
    #: Landed by one mapped task per partition: each partition commits on its own.
    mapped: bool = False

    @property
    def task_id(self) -> str:
        """Return the stream's landing task (a cell runs it and what it depends on)."""
        return f"land_{self.stream}"

    @property
    def label(self) -> str:
        """Return ``vendor.stream``."""
        return f"{self.vendor}.{self.stream}"

    @property
    def audit(self) -> tuple[str, str, str]:
        """Return the parameters of ``vendor = %s AND (stream = %s OR stream LIKE %s)``: a mapped
        stream's runs are audited per partition as ``<stream>/<partition>``."""
        return self.vendor, self.stream, f"{self.stream}/%"


#: Faults that test a stream's own paging (the others test the transport, shared by a source's streams).
PAGING_KINDS = frozenset({"empty", "duplicates", "page_cap", "ignore_window"})


def representative_streams() -> list[StreamCase]:
    """Return each source's first stream and every fan-out stream: the short matrix of ``make test``."""
    cases = registered_streams()
    firsts = {case.vendor: case for case in reversed(cases)}
    return [case for case in cases if case.fan_out or firsts[case.vendor] is case]


def registered_streams() -> list[StreamCase]:
    """Return every stream of every source in the registry."""
    from lead_pipelines.registry import SOURCES

    return [
        StreamCase(source.vendor, source.display_name, stream.name, stream.endpoint or f"/{stream.name}",
                   source.dag_id, source.raw_table(stream), stream.lookback,
                   bool(stream.after or stream.partitioned_by), source.interval, stream.partitioned_by is not None)
        for source in SOURCES for stream in source.streams
    ]


@dataclass
class Cell:
    """The result of one scenario on one stream."""

    scenario: str
    stream: str
    truth: int = 0
    pages: int = 0
    lost: int = 0
    duplicated: int = 0
    outcome: str = ""
    ok: bool = False
    note: str = ""


@dataclass
class PgControl:
    """Restart or stop the warehouse server (only a private embedded one may be)."""

    restart: Callable[[], None]
    stop: Callable[[], None]
    start: Callable[[], None]


@dataclass
class Matrix:
    """Runs scenarios against a sandbox, a warehouse and an in-process Airflow runner.

    :param sandbox: A running :class:`sandbox.process.SandboxProcess`.
    :param warehouse: A :class:`devtools.testing.Warehouse` (superuser access for reading and reset).
    :param runner: A :class:`devtools.runner.InProcessRunner`.
    :param pg: Restart and stop the warehouse; None leaves those scenarios out.
    """

    sandbox: Any
    warehouse: Any
    runner: Any
    pg: PgControl | None = None
    window: Any = None
    cells: list[Cell] = field(default_factory=list)

    def __post_init__(self) -> None:
        from lead_pipelines.common.windows import Window

        self.window = self.window or Window(WINDOW_START, WINDOW_START + timedelta(hours=1))

    def window_for(self, case: StreamCase) -> Any:
        """Return the window a stream's cells run: the matrix's hour, or the day (or longer) holding it."""
        from lead_pipelines.common.windows import Window

        if case.interval <= self.window.end - self.window.start:
            return self.window
        start = self.window.start.replace(hour=0, minute=0, second=0, microsecond=0)
        return Window(start, start + case.interval)

    # -- running ---------------------------------------------------------------------------

    def run(self, scenarios: tuple[Scenario, ...] = SCENARIOS, streams: list[StreamCase] | None = None,
            *, short: bool = False, echo: Callable[[str], None] = lambda line: None) -> list[Cell]:
        """Run every scenario on every stream and return the cells."""
        for case in streams or registered_streams():
            for scenario in scenarios:
                if short and scenario.full_only:
                    continue
                if scenario.action in ("pg_restart", "pg_down") and self.pg is None:
                    continue
                began = time.monotonic()
                cell = self.run_cell(case, scenario)
                self.cells.append(cell)
                echo(f"{cell.stream:<22} {cell.scenario:<36} lost {cell.lost} dup {cell.duplicated} "
                     f"{cell.outcome}{' ' + cell.note if cell.note else ''} ({time.monotonic() - began:.1f}s)"
                     f"{'' if cell.ok else '  <-- FAIL'}")
        return self.cells

    def run_cell(self, case: StreamCase, scenario: Scenario) -> Cell:
        """Run one scenario on one stream and judge it against the sandbox's ground truth."""
        cell = Cell(scenario.name, case.label)
        self.warehouse.reset()
        self.sandbox.client.reset()
        truth = self.truth(case)
        cell.truth = len(truth)
        for spec in scenario.faults:
            self.sandbox.client.add_fault(case.vendor, path=case.endpoint, **spec)
        try:
            first_ok = self._act(case, scenario, cell)
        except Exception as exc:  # the harness itself failed: show it in the cell
            cell.outcome, cell.note = "harness error", f"{type(exc).__name__}: {exc}"[:200]
            return cell
        if first_ok:
            cell.outcome = EXACT
        else:
            # A killed process or an unreachable warehouse cannot record its own failure: the next
            # run of the window must find the run left 'running' and mark it abandoned.
            silent = scenario.action in ("pg_down", "kill_between_pages", "kill_in_merge")
            clear, why = self._failed_clearly(case, silent=silent)
            self.sandbox.client.clear_faults()
            rerun = self.runner.run_window(case.dag_id, self.window_for(case), only=case.task_id)
            if silent and not self._abandoned():
                clear, why = False, "the re-run did not mark the dead run abandoned"
            if not clear:
                cell.outcome, cell.note = "failed unclearly", why
            elif rerun.state != "success":
                cell.outcome, cell.note = "re-run failed", self._last_error(case)
            else:
                cell.outcome = RERUN
        landed = self.landed(case)
        # A mapped stream's window is the sum of its partitions' latest successful runs.
        cell.pages = self.warehouse.query(
            "SELECT coalesce(sum(pages), 0) FROM (SELECT DISTINCT ON (stream) pages FROM ops.sync_runs "
            "WHERE vendor = %s AND (stream = %s OR stream LIKE %s) AND status = 'success' "
            "ORDER BY stream, run_id DESC) AS latest",
            case.audit)[0][0]
        cell.lost = len(truth - set(landed))
        cell.duplicated = len(set(landed) - truth) + (len(landed) - len(set(landed)))
        running = self.warehouse.query("SELECT count(*) FROM ops.sync_runs WHERE status = 'running'")[0][0]
        if running:
            cell.note = (cell.note + f" {running} audit row(s) left running").strip()
        cell.ok = cell.lost == 0 and cell.duplicated == 0 and cell.outcome in scenario.outcomes and not running
        return cell

    def _act(self, case: StreamCase, scenario: Scenario, cell: Cell) -> bool:
        action = scenario.action
        if action == "run":
            return self.runner.run_window(case.dag_id, self.window_for(case), only=case.task_id).state == "success"
        if action == "pg_restart":
            # The DAG's own retry must find the server back: give each retry the few seconds a restart
            # takes on a busy machine (the runner otherwise retries at once; production waits minutes).
            with self._when_copying(case, self.pg.restart) as acted, self._retry_delay(case, 3.0):
                state = self.runner.run_window(case.dag_id, self.window_for(case), only=case.task_id).state
            if not acted.is_set():
                raise RuntimeError("the landing was never caught streaming: PostgreSQL was not restarted")
            return state == "success"
        if action == "pg_down":
            done = threading.Event()
            with self._when_copying(case, self.pg.stop, after=lambda: (done.wait(120), self.pg.start())) as acted:
                state = self.runner.run_window(case.dag_id, self.window_for(case), only=case.task_id).state
                done.set()
            if not acted.is_set():
                raise RuntimeError("the landing was never caught streaming: PostgreSQL was not stopped")
            return state == "success"
        if action == "kill_between_pages":
            self._kill_subprocess_run(case, until=lambda log, _: self._between_pages(case, log))
            return False
        if action == "kill_in_merge":
            self._kill_in_merge(case)
            return False
        if action == "concurrent":
            results = self._subprocess_runs(case, count=2)
            # A DAG may land several streams: judge this stream's runs only.
            mine = case.audit
            waited = self.warehouse.query(
                "SELECT max(lock_wait_seconds) FROM ops.sync_runs WHERE vendor = %s AND (stream = %s OR stream LIKE %s)", mine)[0][0] or 0
            statuses = sorted(s for (s,) in self.warehouse.query(
                "SELECT status FROM ops.sync_runs WHERE vendor = %s AND (stream = %s OR stream LIKE %s)", mine))
            cell.note = f"statuses {statuses}, second waited {waited:.1f}s"
            # Two runs of each partition of a mapped stream, else two runs.
            return all(code == 0 for code in results) and set(statuses) == {"success"} and len(statuses) >= 2
        raise ValueError(f"unknown action {action}")

    @contextmanager
    def _retry_delay(self, case: StreamCase, seconds: float) -> Iterator[None]:
        """Give the stream's DAG tasks a retry delay of ``seconds`` for the duration of the block."""
        tasks = self.runner.dagbag.get_dag(case.dag_id).tasks
        saved = [task.retry_delay for task in tasks]
        for task in tasks:
            task.retry_delay = timedelta(seconds=seconds)
        try:
            yield
        finally:
            for task, delay in zip(tasks, saved, strict=True):
                task.retry_delay = delay

    def _between_pages(self, case: StreamCase, log: str) -> bool:
        """Tell whether the stream's run is between two pages: its first page staged, or answered.

        A first page may hold nothing of the window (a day-granular vendor filter), so nothing is
        staged: then the run's audit row is open and the vendor has answered its first call, while
        the second call hangs on the injected slow answer.
        """
        if f"{case.label} {self.window_for(case)}: page 1 staged" in log:
            return True
        running = self.warehouse.query(
            "SELECT count(*) FROM ops.sync_runs WHERE vendor = %s AND (stream = %s OR stream LIKE %s) AND status = 'running'",
            case.audit)[0][0]
        return bool(running) and any(r["path"] == case.endpoint for r in self.sandbox.client.requests(case.vendor))

    # -- warehouse and processes -----------------------------------------------------------

    @contextmanager
    def _when_copying(self, case: StreamCase, act: Callable[[], None],
                      after: Callable[[], Any] | None = None) -> Iterator[threading.Event]:
        """Call ``act`` from a thread once the landing is streaming its pages (COPY in progress).

        Yields an event that is set once ``act`` has run.
        """
        stop = threading.Event()
        acted = threading.Event()

        def watch() -> None:
            deadline = time.monotonic() + 60
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    rows = self.warehouse.query(
                        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s AND state = 'active'",
                        (f"COPY %stage_{case.table}%",))
                except psycopg.Error:
                    rows = [(0,)]
                if rows[0][0]:
                    act()
                    acted.set()
                    if after is not None:
                        after()
                    return
                time.sleep(0.05)

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        try:
            yield acted
        finally:
            stop.set()
            thread.join(180)

    def _abandoned(self) -> bool:
        return bool(self.warehouse.query("SELECT count(*) FROM ops.sync_runs WHERE status = 'abandoned'")[0][0])

    def _subprocess_env(self, home: Path) -> dict[str, str]:
        return {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}"}

    def _start_run(self, case: StreamCase, home: Path, log: Path) -> subprocess.Popen[bytes]:
        home.mkdir(parents=True, exist_ok=True)
        return subprocess.Popen(
            [sys.executable, "-m", "devtools.run_window", case.dag_id, self.window_for(case).start.isoformat(),
             self.window_for(case).end.isoformat(), "--hours", str(case.interval / timedelta(hours=1))],
            cwd=ROOT, env=self._subprocess_env(home), stdout=log.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _subprocess_runs(self, case: StreamCase, count: int) -> list[int]:
        with tempfile.TemporaryDirectory(prefix="reliability-") as tmp:
            procs = [self._start_run(case, Path(tmp) / f"airflow{i}", Path(tmp) / f"run{i}.log") for i in range(count)]
            codes = []
            for proc in procs:
                try:
                    codes.append(proc.wait(300))
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    codes.append(-9)
            return codes

    def _kill_subprocess_run(self, case: StreamCase, until: Callable[[str, Any], bool]) -> None:
        with tempfile.TemporaryDirectory(prefix="reliability-") as tmp:
            log = Path(tmp) / "run.log"
            proc = self._start_run(case, Path(tmp) / "airflow", log)
            try:
                deadline = time.monotonic() + 120
                while not until(log.read_text(errors="replace"), proc):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the run was not caught in time: {log.read_text(errors='replace')[-500:]}")
                    time.sleep(0.1)
                time.sleep(0.3)
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)

    def _kill_in_merge(self, case: StreamCase) -> None:
        """Hold the raw table so the run's merge waits inside its statement, then kill the run."""
        with psycopg.connect(self.warehouse.conninfo) as blocker:
            blocker.execute(f"LOCK TABLE raw.{case.table} IN SHARE ROW EXCLUSIVE MODE")

            def merging(_log: str, _proc: Any) -> bool:
                return bool(self.warehouse.query(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE '%%WITH src AS%%'")[0][0])

            self._kill_subprocess_run(case, until=merging)
            blocker.rollback()
        # The killed run's backend finishes the statement, finds its client gone and rolls back.
        deadline = time.monotonic() + 30
        while self.warehouse.query("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%%WITH src AS%%' "
                                   "AND pid <> pg_backend_pid()")[0][0] and time.monotonic() < deadline:
            time.sleep(0.1)

    # -- judging ---------------------------------------------------------------------------

    def truth(self, case: StreamCase) -> set[str]:
        """Return the ids of the window's records at the vendor (the sandbox's ground truth).

        A stream that re-reads a trailing overlap holds the overlap's records too.
        """
        found = self.sandbox.client.truth(case.vendor, self.window_for(case).start - case.lookback, self.window_for(case).end,
                                          stream=case.stream)
        return {str(i) for i in found["ids"]}

    def landed(self, case: StreamCase) -> list[str]:
        """Return the record ids in the stream's raw table."""
        return [rid for (rid,) in self.warehouse.query(f"SELECT record_id FROM raw.{case.table}")]

    def _last_error(self, case: StreamCase, limit: int | None = 200) -> str:
        rows = self.warehouse.query(
            "SELECT error FROM ops.sync_runs WHERE vendor = %s AND (stream = %s OR stream LIKE %s) AND error IS NOT NULL "
            "ORDER BY run_id DESC LIMIT 1", case.audit)
        return (rows[0][0] or "")[:limit] if rows else "no error recorded"

    def _failed_clearly(self, case: StreamCase, *, silent: bool = False) -> tuple[bool, str]:
        """Tell whether the failed run left nothing behind and an error naming the vendor and the window."""
        # The partitions of a mapped stream commit on their own: those that landed stay, complete.
        if self.landed(case) and not case.mapped:
            return False, "a failed run left rows behind"
        if silent:
            return True, ""
        error = self._last_error(case, limit=None)
        clear = error.startswith(case.display_name) and str(self.window_for(case)) in error
        return clear, "" if clear else f"error does not name vendor and window: {error[:120]}"


def render(cells: list[Cell]) -> str:
    """Return the matrix as a Markdown table: scenario × stream, lost / duplicated / outcome."""
    streams = list(dict.fromkeys(c.stream for c in cells))
    scenarios = list(dict.fromkeys(c.scenario for c in cells))
    by = {(c.scenario, c.stream): c for c in cells}
    lines = ["| scenario | " + " | ".join(streams) + " |", "| --- |" + " --- |" * len(streams)]
    for scenario in scenarios:
        row = []
        for stream in streams:
            cell = by.get((scenario, stream))
            if cell is None:
                row.append("n/a")
                continue
            mark = "" if cell.ok else " **FAIL**"
            row.append(f"lost {cell.lost}, dup {cell.duplicated}: {cell.outcome}{mark}")
        lines.append(f"| {scenario} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the matrix on a private embedded PostgreSQL and the sandbox; exit 1 if any cell fails."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="leave out warehouse restarts and process kills")
    parser.add_argument("--scenario", action="append", help="run only scenarios whose name contains this")
    args = parser.parse_args(argv)
    began = time.monotonic()
    out_dir = STATE / "reliability"
    out_dir.mkdir(parents=True, exist_ok=True)
    from devtools.airflow_env import configure

    configure(out_dir / "airflow")
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from devtools.testing import Warehouse, set_sandbox_connections
    from devtools.warehouse import embedded_server, scratch_database_name
    from sandbox.process import SandboxProcess

    print(f"reliability: starting a private embedded PostgreSQL in {out_dir / 'pgdata'} ...", flush=True)
    server = embedded_server(out_dir / "pgdata")
    warehouse = Warehouse(server, scratch_database_name("leads_reliability"))
    try:
        warehouse.create()
        os.environ["AIRFLOW_CONN_LEADS_WAREHOUSE"] = warehouse.airflow_conn
        with SandboxProcess(seed=7, start=WINDOW_START - timedelta(hours=5), end=WINDOW_START + timedelta(hours=5),
                            events_per_hour=EVENTS_PER_HOUR, log_path=out_dir / "sandbox.log") as sandbox:
            set_sandbox_connections(sandbox.url)
            from devtools.runner import InProcessRunner

            runner = InProcessRunner()
            matrix = Matrix(sandbox, warehouse, runner, pg=_pg_control(server))
            scenarios = tuple(s for s in SCENARIOS if not args.scenario or any(k in s.name for k in args.scenario))
            print(f"reliability: {len(scenarios)} scenarios × {len(registered_streams())} stream(s); Airflow's task "
                  f"logs go to {out_dir / 'airflow.log'}", flush=True)
            with _output_to(out_dir / "airflow.log") as echo:
                cells = matrix.run(scenarios, short=args.short, echo=echo)
    finally:
        warehouse.drop()
        server.stop()
    table = render(cells)
    failed = [c for c in cells if not c.ok]
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    report = (f"Fault matrix of {stamp}: {len(cells)} cells, {len(failed)} failed, "
              f"{time.monotonic() - began:.0f}s\n\n{table}\n")
    (out_dir / "latest.md").write_text(report)
    print()
    print(report)
    print(f"reliability: written to {out_dir / 'latest.md'}")
    return 1 if failed else 0


@contextmanager
def _output_to(path: Path) -> Iterator[Callable[[str], None]]:
    """Send this process's stdout and stderr (Airflow's task logs) to ``path``; yield a printer to the terminal."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.open("ab") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        terminal = os.fdopen(os.dup(saved[0]), "w", buffering=1)
        try:
            yield lambda line: print(line, file=terminal, flush=True)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            terminal.close()
            for fd in saved:
                os.close(fd)


def _pg_control(server: Any) -> PgControl | None:
    """Restart and stop the embedded server with its own pg_ctl (it keeps its socket options)."""
    embedded = getattr(server, "embedded", None)
    if embedded is None:
        return None
    from pgserver._commands import pg_ctl

    def ctl(*args: str) -> None:
        pg_ctl(["-w", *args], pgdata=embedded.pgdata, user=embedded.system_user, timeout=60)

    opts = (Path(embedded.pgdata) / "postmaster.opts").read_text().split(None, 1)
    options = opts[1].strip() if len(opts) > 1 else ""

    def start() -> None:
        ctl("-o", _strip_data_option(options), "-l", str(embedded.log), "start")

    return PgControl(restart=lambda: ctl("-m", "fast", "restart"), stop=lambda: ctl("-m", "fast", "stop"),
                     start=start)


def _strip_data_option(options: str) -> str:
    # postmaster.opts reads: "-D" "/path" "-h" "" "-k" "/sock"; pg_ctl adds -D itself.
    parts = json.loads("[" + ", ".join(f'"{p}"' for p in options.replace('"', "").split()) + "]")
    kept, skip = [], False
    for part in parts:
        if skip:
            skip = False
            continue
        if part == "-D":
            skip = True
            continue
        kept.append(part)
    return " ".join(kept) if "-h" not in kept else " ".join(kept).replace("-h", '-h ""', 1)


if __name__ == "__main__":
    sys.exit(main())
