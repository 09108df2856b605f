"""`make distributed-check`: the docker-compose topology, natively: the DAGs on Airflow's CeleryExecutor.

``python -m devtools.distributed`` starts, each as a separate process in a session of its own (logs
under ``.state/distributed/logs/``): ``airflow api-server``, ``scheduler``, ``dag-processor`` and two
``airflow celery worker`` (``worker-a``, ``worker-b``), against

- PostgreSQL: the server at 127.0.0.1:5432 (else the project's embedded one), on two databases it
  creates, Airflow's metadata (also Celery's result backend) and the warehouse, both dropped at the end;
- Redis as the Celery broker: 127.0.0.1:6379 when it answers PING, else a ``redis-server`` it starts on
  a free port (Makefile installs Debian's when neither exists);
- the sandbox (the vendor simulators), with the connections and per-vendor pools stored in the metadata
  database as ``airflow-init`` does for docker-compose.

Then it triggers every registered source's DAG for the window holding ``WINDOW_START`` (an hour for
hourly sources, the day for daily ones), waits, triggers every other DAG in ``dags/`` (``unified_leads``)
for the hour, and checks, from Airflow's own records (``task_instance``: state, hostname, queue and the
Celery task id), that

- every task instance succeeded on the check's Celery queue, on one of the two workers, both workers ran
  tasks, and each Celery task id is in the log of the worker that ran it (and not the other's);
- every raw table holds exactly the sandbox's records of its window, and downstream built unified leads
  and pushed exactly its outbox to the Pirsch simulator.

It stops everything it started, also on failure or Ctrl-C, and exits 0 only if every check holds.

Both workers run on this machine, so each is given a hostname of its own (``LEAD_PIPELINES_HOSTNAME``,
read by ``[core] hostname_callable`` = :func:`hostname`), as each worker container has in docker-compose.
Scheduled and asset-triggered runs are off (``[scheduler] use_job_schedule``): only the check's runs run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from devtools.airflow_local import (LocalAirflow, _shown, _stop_on_signals, _update_lock, free_port, sqlalchemy_url,
                                   stop_session)
from devtools.paths import DAGS, ROOT, STATE

HOME = STATE / "distributed"
WORKERS = ("worker-a", "worker-b")
#: Each worker runs two tasks at once; four ready tasks keep both busy.
WORKER_CONCURRENCY = 2
#: The sandbox has data from 2024-06-01 to 2024-06-03; every DAG runs the window holding this instant.
WINDOW_START = datetime(2024, 6, 1, 10, tzinfo=timezone.utc)
DOWNSTREAM_INTERVAL = timedelta(hours=1)
HOSTNAME_ENV = "LEAD_PIPELINES_HOSTNAME"
#: Settings the check gives every component that docker-compose.yaml sets for every container too
#: (tests/deploy checks it): the same configuration, run natively.
DEPLOYMENT_SETTINGS = ("AIRFLOW__CORE__EXECUTOR", "AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CELERY__RESULT_BACKEND",
                       "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "AIRFLOW__API_AUTH__JWT_SECRET",
                       "AIRFLOW__API__SECRET_KEY", "AIRFLOW__CORE__FERNET_KEY")
RUN_TIMEOUT = 900.0
LOCAL_REDIS = ("127.0.0.1", 6379)


def hostname() -> str:
    """``[core] hostname_callable`` of the check: the worker's own name, else this machine's FQDN."""
    return os.environ.get(HOSTNAME_ENV) or socket.getfqdn()


def redis_answers(host: str, port: int) -> bool:
    """Return whether a Redis server answers PING at ``host:port``."""
    import redis

    try:
        return bool(redis.Redis(host=host, port=port, socket_connect_timeout=1, socket_timeout=2).ping())
    except redis.RedisError:
        return False


@dataclass(frozen=True)
class TaskRecord:
    """One task instance as Airflow recorded it."""

    dag_id: str
    task_id: str
    map_index: int
    state: str | None
    hostname: str | None
    queue: str | None
    celery_task_id: str | None

    @property
    def name(self) -> str:
        """``dag.task`` (with ``[i]`` for a mapped instance)."""
        return f"{self.dag_id}.{self.task_id}" + (f"[{self.map_index}]" if self.map_index >= 0 else "")


def check_placement(records: list[TaskRecord], queue: str, worker_logs: dict[str, str]) -> list[str]:
    """Return what is wrong with where the task instances ran (empty when every check holds).

    :param records: The check's task instances.
    :param queue: The Celery queue every one must have gone through.
    :param worker_logs: Worker name (its hostname) to the text of its log.
    """
    problems = []
    if not records:
        return ["no task instances recorded"]
    for r in records:
        if r.state not in ("success", "skipped"):
            problems.append(f"{r.name} ended {r.state}")
        if r.queue != queue:
            problems.append(f"{r.name} went through queue {r.queue!r}, not {queue!r}")
        if r.hostname not in worker_logs:
            problems.append(f"{r.name} ran on {r.hostname!r}, not on a Celery worker of the check")
            continue
        if not r.celery_task_id or r.celery_task_id not in worker_logs[r.hostname]:
            problems.append(f"{r.name}: its Celery task id is not in {r.hostname}'s log")
        others = [w for w in worker_logs if w != r.hostname and r.celery_task_id and r.celery_task_id in worker_logs[w]]
        if others:
            problems.append(f"{r.name}: its Celery task id is also in {', '.join(others)}'s log")
    idle = [w for w in worker_logs if not any(r.hostname == w for r in records)]
    if idle:
        problems.append(f"no task ran on {', '.join(idle)}")
    return problems


class CeleryAirflow(LocalAirflow):
    """api-server, scheduler, dag-processor and Celery workers as separate processes; see the module docstring.

    The constructor takes :class:`LocalAirflow`'s arguments plus ``workers`` (names) and ``broker_url``
    (default: 127.0.0.1:6379 if Redis answers there, else a ``redis-server`` started on a free port).
    """

    components = ("metadatabase", "scheduler", "dag_processor")

    def __init__(self, *, workers: tuple[str, ...] = WORKERS, broker_url: str | None = None, **kwargs) -> None:
        """Configure (nothing starts until :meth:`start`)."""
        super().__init__(**kwargs)
        self.workers = workers
        self.broker_url = broker_url
        self.broker_started = False
        self.queue = f"lead_pipelines_check_{secrets.token_hex(3)}"
        self.processes: dict[str, subprocess.Popen] = {}
        self.process_hostname = socket.gethostname()

    def worker_log(self, worker: str) -> Path:
        """Where worker ``worker`` writes its log."""
        return self.logs / f"{worker}.log"

    @property
    def logs(self) -> Path:
        """The folder of the components' logs."""
        return self.home / "logs"

    def _environ(self) -> dict[str, str]:
        from cryptography.fernet import Fernet

        shutil.rmtree(self.logs, ignore_errors=True)  # the lock is held: these are an earlier run's
        if self.broker_url is None:
            self.broker_url = self._start_broker()
        env = super()._environ()
        metadata = sqlalchemy_url(self.server, self.metadata_db)
        env.update({
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{metadata}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
            "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.queue,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "devtools.distributed.hostname",
            # Shared by every component, as docker-compose passes them from .env: tokens the API server
            # issues must verify on the workers, and connections stored by one must decrypt on the others.
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            # The check's own: its runs only, on its own queue, under each worker's own hostname.
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        })
        assert set(DEPLOYMENT_SETTINGS) <= set(env), set(DEPLOYMENT_SETTINGS) - set(env)
        return env

    def _start_broker(self) -> str:
        """Return Redis's URL: the local one if it answers, else a ``redis-server`` started here."""
        if redis_answers(*LOCAL_REDIS):
            self._stack.callback(self._forget_queue, *LOCAL_REDIS)
            return f"redis://{LOCAL_REDIS[0]}:{LOCAL_REDIS[1]}/0"
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("no Redis answers at 127.0.0.1:6379 and no redis-server is on PATH "
                               "(make distributed-check installs Debian's redis-server)")
        port = free_port()
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self._stack.enter_context(open(self.logs / "redis.log", "ab"))  # noqa: SIM115
        proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no"], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        self._stack.callback(stop_session, proc)
        _update_lock(self.lock_path, redis=proc.pid)
        deadline = time.monotonic() + 30
        while not redis_answers("127.0.0.1", port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start: {(self.logs / 'redis.log').read_text()[-2000:]}")
            time.sleep(0.2)
        self.broker_started = True
        return f"redis://127.0.0.1:{port}/0"

    def _forget_queue(self, host: str, port: int) -> None:
        """Delete what the check's queue left in a Redis it shares (kombu's bindings, stray messages)."""
        import redis

        with contextlib.suppress(redis.RedisError), redis.Redis(host=host, port=port, socket_timeout=2) as client:
            keys = list(client.scan_iter(match=f"*{self.queue}*"))
            if keys:
                client.delete(*keys)

    def _start_airflow(self, env: dict[str, str]) -> None:
        """Start each component as its own process, in a session of its own."""
        airflow = str(Path(sys.executable).parent / "airflow")
        commands = {
            "api-server": ([airflow, "api-server"], {}),
            "scheduler": ([airflow, "scheduler"], {}),
            "dag-processor": ([airflow, "dag-processor"], {}),
        }
        for worker in self.workers:
            commands[worker] = (
                [airflow, "celery", "worker", "--celery-hostname", f"{worker}@{self.process_hostname}",
                 "--queues", self.queue, "--concurrency", str(WORKER_CONCURRENCY)],
                # Its own hostname in Airflow's records, and its own port to serve its task logs on.
                {HOSTNAME_ENV: worker, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())},
            )
        self.logs.mkdir(parents=True, exist_ok=True)
        for name, (argv, own) in commands.items():
            log = self._stack.enter_context(open(self.logs / f"{name}.log", "ab"))  # noqa: SIM115
            proc = subprocess.Popen(argv, env={**env, **own}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
            self._stack.callback(stop_session, proc)
            self.processes[name] = proc
        self.process = self.processes["api-server"]
        _update_lock(self.lock_path, sessions=[p.pid for p in self.processes.values()])

    def _exited(self) -> str | None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                return f"{name} exited with {proc.returncode}:\n{self._log_tail(name)}"
        return None

    def _log_tail(self, name: str = "api-server", chars: int = 4000) -> str:
        try:
            return (self.logs / f"{name}.log").read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def _wait_until_healthy(self):
        """Wait for the components' heartbeats and the admin's password, then for both workers' PONG."""
        from celery import Celery

        login = super()._wait_until_healthy()
        names = [f"{w}@{self.process_hostname}" for w in self.workers]
        app = Celery(broker=self.broker_url)
        deadline = time.monotonic() + self.startup_timeout
        try:
            while True:
                if (exited := self._exited()) is not None:
                    raise RuntimeError(exited)
                answered = {name for reply in app.control.ping(destination=names, timeout=1.0) for name in reply}
                if answered >= set(names):
                    return login
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Celery workers did not answer within {self.startup_timeout:.0f} s: "
                                       f"{sorted(set(names) - answered)}")
        finally:
            app.close()

    def trigger(self, dag_id: str, start: datetime, end: datetime) -> str:
        """Trigger ``dag_id`` for the window ``[start, end)`` (its data interval); return the run id."""
        run_id = f"distributed_check__{start:%Y-%m-%dT%H:%M}"
        response = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={
            "dag_run_id": run_id, "logical_date": start.isoformat(),
            "data_interval_start": start.isoformat(), "data_interval_end": end.isoformat()})
        if response.status_code != 200:
            raise RuntimeError(f"triggering {dag_id} failed: {response.status_code} {response.text[:500]}")
        return run_id

    def wait_for_runs(self, runs: dict[str, str], timeout: float = RUN_TIMEOUT) -> dict[str, str]:
        """Wait until every run (dag id -> run id) has ended; return dag id -> state."""
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while True:
            for dag_id, run_id in runs.items():
                if states.get(dag_id) not in ("success", "failed"):
                    response = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
                    if response.status_code != 200:
                        raise RuntimeError(f"reading {dag_id} run {run_id} failed: {response.status_code} "
                                           f"{response.text[:500]}")
                    states[dag_id] = response.json()["state"]
            if all(s in ("success", "failed") for s in states.values()):
                return states
            if (exited := self._exited()) is not None:
                raise RuntimeError(exited)
            if time.monotonic() > deadline:
                raise TimeoutError(f"runs not finished within {timeout:.0f} s: {states}")
            time.sleep(2)

    def task_records(self, runs: dict[str, str]) -> list[TaskRecord]:
        """Return the task instances of ``runs`` (dag id -> run id) from Airflow's ``task_instance`` table."""
        rows = self.metadata_query(
            "SELECT dag_id, task_id, map_index, state, hostname, queue, external_executor_id FROM task_instance "
            "WHERE (dag_id, run_id) IN (SELECT * FROM unnest(%s::text[], %s::text[])) "
            "ORDER BY dag_id, start_date, task_id, map_index", (list(runs), list(runs.values())))
        return [TaskRecord(*row) for row in rows]

    def task_log_tail(self, record: TaskRecord, run_id: str, chars: int = 3000) -> str:
        """Return the end of ``record``'s latest task log (local files: the workers share this machine)."""
        folder = self.logs / f"dag_id={record.dag_id}" / f"run_id={run_id}" / f"task_id={record.task_id}"
        if record.map_index >= 0:
            folder = folder / f"map_index={record.map_index}"
        attempts = sorted(folder.glob("attempt=*.log"))
        return attempts[-1].read_text(errors="replace")[-chars:] if attempts else f"(no log under {folder})"


def window_of(interval: timedelta, instant: datetime = WINDOW_START) -> tuple[datetime, datetime]:
    """Return the window of length ``interval`` (aligned on the epoch, as the schedules are) holding ``instant``."""
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    start = epoch + ((instant - epoch) // interval) * interval
    return start, start + interval


def _raw_checks(airflow: CeleryAirflow, windows: dict) -> list[tuple[str, bool]]:
    """Return (line, holds) for every raw table against the sandbox's records of its window.

    Run before downstream pushes: pushed aggregates become part of Pirsch's own event statistics.
    """
    from lead_pipelines.registry import SOURCES

    lines = []
    for source in SOURCES:
        start, end = windows[source.dag_id]
        for stream in source.streams:
            table = source.raw_table(stream)
            truth = {str(i) for i in airflow.sandbox.client.truth(
                source.vendor, start - stream.lookback, end, stream=stream.name)["ids"]}
            landed = {r for (r,) in airflow.warehouse_query(f"SELECT record_id FROM raw.{table}")}
            lines.append((f"raw.{table}: {len(landed)} records, the same ids as the sandbox's {len(truth)} "
                          f"of the window", landed == truth))
    return lines


def _downstream_checks(airflow: CeleryAirflow) -> list[tuple[str, bool]]:
    """Return (line, holds) for the marts and for the pushes against what the Pirsch simulator received."""
    from devtools.demo import pirsch_pushes

    lines = []
    (leads, links), = airflow.warehouse_query(
        "SELECT (SELECT count(*) FROM mart.unified_leads), (SELECT count(*) FROM mart.lead_links)")
    lines.append((f"mart.unified_leads: {leads} people from {links} linked lead records", leads > 0 and links >= leads))
    received, sent = pirsch_pushes(airflow.sandbox, airflow.warehouse_query("SELECT push_key, state FROM ops.push_outbox"))
    lines.append((f"Pirsch simulator received {len(received)} events, ops.push_outbox sent {len(sent)}",
                  received == sent and len(set(received)) == len(received) and bool(sent)))
    return lines


def _run_stage(airflow: CeleryAirflow, windows: dict) -> tuple[dict[str, str], dict[str, str]]:
    """Trigger each DAG for its window (dag id -> (start, end)) at once, wait; return run ids and states."""
    print(f"distributed-check: triggering {', '.join(windows)}", flush=True)
    began = time.monotonic()
    runs = {dag_id: airflow.trigger(dag_id, *window) for dag_id, window in windows.items()}
    states = airflow.wait_for_runs(runs)
    print(f"distributed-check: {len(runs)} runs ended in {time.monotonic() - began:.0f} s", flush=True)
    return runs, states


def run_check(airflow: CeleryAirflow) -> bool:
    """Trigger the DAGs, wait, print what ran where and what landed; return whether every check holds."""
    from lead_pipelines.registry import SOURCES

    sources = {source.dag_id: window_of(source.interval) for source in SOURCES}
    dags = airflow.wait_for_dags(list(sources) + ["unified_leads"])
    others = {dag_id: window_of(DOWNSTREAM_INTERVAL) for dag_id in sorted(dags) if dag_id not in sources}
    windows = {**sources, **others}
    runs, states = _run_stage(airflow, sources)
    warehouse = _raw_checks(airflow, windows)
    more_runs, more_states = _run_stage(airflow, others)
    runs.update(more_runs)
    states.update(more_states)
    warehouse += _downstream_checks(airflow)
    records = airflow.task_records(runs)
    logs = {w: airflow.worker_log(w).read_text(errors="replace") for w in airflow.workers}

    print()
    header = ("dag", "window (UTC)", "state", "tasks", *airflow.workers)
    rows = [header]
    for dag_id, (start, end) in windows.items():
        mine = [r for r in records if r.dag_id == dag_id]
        rows.append((dag_id, f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}", states[dag_id], str(len(mine)),
                     *(str(sum(r.hostname == w for r in mine)) for w in airflow.workers)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for n, row in enumerate(rows):
        print("  ".join(v.ljust(w) if i < 3 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print()
    problems = check_placement(records, airflow.queue, logs)
    per_worker = ", ".join(f"{w} {sum(r.hostname == w for r in records)}" for w in airflow.workers)
    print(f"task instances: {len(records)} on Celery queue {airflow.queue}, by worker (hostname in Airflow's "
          f"records, Celery task id in that worker's log): {per_worker}: {'PASS' if not problems else 'FAIL'}")
    for problem in problems:
        print(f"  {problem}")
    for r in records:
        if r.state not in ("success", "skipped"):
            print(f"--- log of {r.name} ({r.state}) ---\n{airflow.task_log_tail(r, runs[r.dag_id])}")
    for line, holds in warehouse:
        print(f"{line}: {'PASS' if holds else 'FAIL'}")
    return not problems and all(s == "success" for s in states.values()) and all(h for _, h in warehouse)


def main(argv: list[str] | None = None) -> int:
    """Run the check; see the module docstring."""
    from devtools.warehouse import any_server

    parser = argparse.ArgumentParser(prog="python -m devtools.distributed", description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=HOME)
    args = parser.parse_args(argv)
    home = args.home.resolve()
    began = time.monotonic()
    _stop_on_signals()
    server = any_server()
    with contextlib.ExitStack() as stack:
        stack.callback(server.stop)
        airflow = CeleryAirflow.private(server, home, prefix="lead_pipelines_distributed")
        print(f"distributed-check: starting api-server, scheduler, dag-processor and {len(airflow.workers)} Celery "
              f"workers (CeleryExecutor; metadata and warehouse on PostgreSQL {server.host}:{server.port or 5432}; "
              f"DAGs from {DAGS.relative_to(ROOT)}/) ...", flush=True)
        try:
            stack.callback(airflow.stop)
            airflow.start()
            broker = "started by the check" if airflow.broker_started else "already running"
            print(f"distributed-check: up in {airflow.started_in:.0f} s at {airflow.url}; Redis broker "
                  f"{airflow.broker_url} ({broker}); processes:", flush=True)
            for name, proc in airflow.processes.items():
                print(f"  {name:<14} pid {proc.pid:<8} log {_shown(airflow.logs / (name + '.log'))}")
            ok = run_check(airflow)
        except KeyboardInterrupt:
            print("distributed-check: interrupted; stopping what it started", file=sys.stderr)
            return 130
        except Exception as exc:  # noqa: BLE001 - reported, then everything is stopped
            print(f"distributed-check: FAILED: {exc}", file=sys.stderr)
            ok = False
        finally:
            print("distributed-check: stopping every process it started ...", flush=True)
    print(f"distributed-check {'passed' if ok else 'FAILED'} in {time.monotonic() - began:.0f} s "
          f"(logs: {_shown(home / 'logs')})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
