"""`make airflow`: a real Airflow 3 (``airflow standalone``) on the embedded warehouse and the sandbox.

``python -m devtools.airflow_local [--port 8080] [--home .state/airflow]`` starts it, prints where
and how to log in, and stays in the foreground; Ctrl-C or SIGTERM stops everything it started.

The same, from Python (the tests and the browser test use it)::

    from devtools.airflow_local import LocalAirflow

    with LocalAirflow.private(pg_server, tmp_path / "airflow") as airflow:   # or LocalAirflow(port=..., home=...)
        login = airflow.login                    # Login(url, user, password), also start()'s result
        airflow.wait_for_dags(["leadconduit_sync"])
        dags = airflow.api("GET", "/api/v2/dags").json()   # requests.Response, with a JWT
        airflow.sandbox.client.truth("leadconduit", start, end)
        airflow.warehouse_query("SELECT count(*) FROM ops.sync_runs")

:class:`LocalAirflow` (every argument keyword-only and optional):

- ``port`` (8080), ``home`` (``.state/airflow``, the ``AIRFLOW_HOME``), ``server`` (a
  :class:`devtools.warehouse.Server`; default the embedded PostgreSQL under ``.state/pgdata``),
  ``warehouse_db`` (``leads_airflow``) and ``metadata_db`` (``airflow_metadata``): the databases it
  creates on that server if missing (``fresh=True`` recreates them, and ``stop()`` drops them),
  ``warehouse_conn`` (Airflow JSON of another warehouse to use instead of ``warehouse_db``),
  ``sandbox_options`` (passed to :class:`sandbox.process.SandboxProcess`), ``extra_env``
  (``AIRFLOW__…`` settings of your own; inherited ``AIRFLOW*`` variables are not passed on),
  ``startup_timeout`` (seconds).
- ``LocalAirflow.private(server, home, prefix="leads_airflow", **kwargs)``: the test set-up, a free
  port and fresh scratch databases on ``server`` (dropped by ``stop()``).
- ``start()`` returns a :class:`Login`; raises :class:`AlreadyRunningError` if another instance
  holds ``<home>/local_airflow.pid`` (or the port is taken), and ``RuntimeError`` with the tail of
  ``<home>/standalone.log`` if Airflow does not become healthy; on any failure it has stopped what
  it started.
- ``api(method, path, **kwargs)``: ``requests`` call on the API server with a JWT from
  ``POST /auth/token`` (renewed once on a 401). ``wait_for_dags(dag_ids)``: until the DAG processor
  has parsed them. ``warehouse_query(sql, params)``, ``metadata_query(sql, params)``: rows from the
  warehouse or from Airflow's metadata database, as the superuser.
- ``stop()``: stops every process of the ``airflow standalone`` session (its components, executor
  workers and task processes, which sit in process groups of their own), the sandbox, the embedded
  PostgreSQL if it started it, and releases the lock. Safe to call twice.
- ``process`` (the ``airflow standalone`` Popen, a session leader), ``sandbox``
  (:class:`sandbox.process.SandboxProcess`), ``server``, ``connections`` (id -> Airflow JSON, as
  stored), ``started_in`` (seconds); ``session_members(airflow.process.pid)`` lists what still runs.

What ``start()`` sets up: the warehouse migrated (``lead_pipelines.common.warehouse.migrate``);
Airflow's metadata on PostgreSQL (several components write it at once), migrated in a fresh
interpreter that also stores the connections (``leads_warehouse`` and every registered source's
``<vendor>_default``, pointing at the sandbox) and the pools (:mod:`lead_pipelines.pools`) in it,
replacing earlier ones, so they show on the Connections and Pools pages; ``[core] test_connection``
enabled, examples off, LocalExecutor with parallelism 4 (2 cores), the API on 127.0.0.1 with a
matching ``[api] base_url``, the DAGs folder of this repository (plugins come from the installed
package's entry point, not a plugins folder), and the venv's ``bin``
first on ``PATH`` (``standalone`` starts its components as ``airflow`` from ``PATH``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from devtools.paths import DAGS, ROOT, STATE
from devtools.warehouse import _alive

HOME = STATE / "airflow"
USER = "admin"
LOCK_NAME = "local_airflow.pid"
PASSWORDS_NAME = "simple_auth_manager_passwords.json.generated"
#: The sandbox's data: backfill windows inside it.
DATA_START = "2024-06-01T00:00:00Z"
DATA_END = "2024-06-03T00:00:00Z"
EVENTS_PER_HOUR = 400
#: What a healthy standalone reports on /api/v2/monitor/health.
COMPONENTS = ("metadatabase", "scheduler", "dag_processor", "triggerer")


class AlreadyRunningError(RuntimeError):
    """Another local Airflow holds this home, or something else listens on the port."""


@dataclass(frozen=True)
class Login:
    """Where the local Airflow answers and how to log in."""

    url: str
    user: str
    password: str
    password_file: Path


def free_port() -> int:
    """Return a loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sqlalchemy_url(server, dbname: str) -> str:
    """Return a SQLAlchemy URL (psycopg2) for ``dbname`` on ``server``, by socket folder or TCP.

    :param server: A :class:`devtools.warehouse.Server` (trust authentication).
    """
    if server.host.startswith("/"):
        port = f"&port={server.port}" if server.port else ""
        return f"postgresql+psycopg2://{server.user}@/{dbname}?host={server.host}{port}"
    return f"postgresql+psycopg2://{server.user}@{server.host}:{server.port or 5432}/{dbname}"


def airflow_environ(home: Path, port: int, metadata_url: str, extra: dict[str, str] | None = None,
                    base: dict[str, str] | None = None) -> dict[str, str]:
    """Return the environment of every Airflow process ``LocalAirflow`` starts.

    :param home: AIRFLOW_HOME.
    :param port: The API server's port on 127.0.0.1.
    :param metadata_url: Airflow's metadata database (SQLAlchemy URL).
    :param extra: Settings of your own, applied last.
    :param base: The environment to start from (default ``os.environ``), without its ``AIRFLOW*``
        variables: a test session's or a shell's Airflow settings must not leak in.
    """
    base = dict(os.environ if base is None else base)
    env = {k: v for k, v in base.items() if not k.startswith("AIRFLOW")}
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([venv_bin, *(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)])
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    url = f"http://127.0.0.1:{port}"
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        # Not the repository's plugins/: the package is installed and its plugin registered by entry
        # point, and any .airflowignore there makes every task log pathspec's deprecation warning.
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
    })
    env.update(extra or {})
    return env


class LocalAirflow:
    """``airflow standalone`` on a warehouse and the sandbox; see the module docstring."""

    def __init__(self, *, port: int = 8080, home: Path = HOME, server=None, warehouse_db: str = "leads_airflow",
                 metadata_db: str = "airflow_metadata", warehouse_conn: str | None = None, fresh: bool = False,
                 sandbox_options: dict | None = None, extra_env: dict[str, str] | None = None,
                 startup_timeout: float = 240.0) -> None:
        """Configure (nothing starts until :meth:`start`); the parameters are in the module docstring."""
        self.port = port
        self.home = Path(home).resolve()
        self.url = f"http://127.0.0.1:{port}"
        self.server = server
        self.warehouse_db = warehouse_db
        self.metadata_db = metadata_db
        self.warehouse_conn = warehouse_conn
        self.fresh = fresh
        self.sandbox_options = {"seed": 7, "start": DATA_START, "end": DATA_END,
                                "events_per_hour": EVENTS_PER_HOUR, **(sandbox_options or {})}
        self.extra_env = extra_env or {}
        self.startup_timeout = startup_timeout
        self.login: Login | None = None
        self.sandbox = None
        self.connections: dict[str, str] = {}
        self.process: subprocess.Popen | None = None
        self.started_in: float | None = None
        self._token: str | None = None
        self._stack = contextlib.ExitStack()

    @classmethod
    def private(cls, server, home: Path, prefix: str = "leads_airflow", **kwargs) -> LocalAirflow:
        """Return an instance for a test: a free port, ``home``, and fresh scratch databases on ``server``.

        The databases (``<prefix>_<random>`` and its ``_meta``) are dropped by :meth:`stop`.

        :param server: A :class:`devtools.warehouse.Server`, e.g. the tests' ``pg_server``.
        :param kwargs: Any other argument of the constructor.
        """
        from devtools.warehouse import scratch_database_name

        name = scratch_database_name(prefix)
        return cls(port=free_port(), home=home, server=server, warehouse_db=name, metadata_db=f"{name}_meta",
                   fresh=True, **kwargs)

    @property
    def lock_path(self) -> Path:
        """The lock file: this process's pid, the URL, and the pids of what it started."""
        return self.home / LOCK_NAME

    @property
    def log_path(self) -> Path:
        """Where ``airflow standalone`` writes its components' output."""
        return self.home / "standalone.log"

    def start(self) -> Login:
        """Start everything and wait until Airflow is healthy; see the module docstring.

        :raises AlreadyRunningError: Another instance holds the home, or the port is taken.
        """
        began = time.monotonic()
        self.home.mkdir(parents=True, exist_ok=True)
        _take_lock(self.lock_path, self.url)
        self._stack.callback(self.lock_path.unlink, missing_ok=True)
        try:
            _check_port(self.port)
            warehouse_conn = self._start_warehouse()
            self._start_sandbox()
            from devtools.testing import sandbox_connections

            self.connections = {"leads_warehouse": warehouse_conn,
                                **sandbox_connections(self.sandbox.url, timeout=30, max_attempts=5)}
            env = self._environ()
            self._setup_metadata(env)
            self._start_airflow(env)
            self.login = self._wait_until_healthy()
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        return self.login

    def stop(self) -> None:
        """Stop everything :meth:`start` started, newest first; safe to call twice."""
        stack, self._stack = self._stack, contextlib.ExitStack()
        stack.close()

    def __enter__(self) -> LocalAirflow:
        """Start; see :meth:`start`."""
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        """Stop; see :meth:`stop`."""
        self.stop()

    def api(self, method: str, path: str, **kwargs):
        """Call the API server as the admin user and return the ``requests.Response``.

        :param method: HTTP method.
        :param path: Path from the server's root, e.g. ``/api/v2/dags``.
        :param kwargs: Passed to ``requests.request`` (``json``, ``params``, ``timeout``...).
        """
        import requests

        kwargs.setdefault("timeout", 60)
        for attempt in (1, 2):
            headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {self.token(renew=attempt > 1)}"}
            response = requests.request(method, f"{self.url}{path}", headers=headers, **kwargs)
            if response.status_code != 401:
                break
        return response

    def token(self, renew: bool = False) -> str:
        """Return a JWT for the admin user (``POST /auth/token``), cached."""
        import requests

        if self._token is None or renew:
            response = requests.post(f"{self.url}/auth/token", timeout=30,
                                     json={"username": self.login.user, "password": self.login.password})
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return self._token

    def wait_for_dags(self, dag_ids, timeout: float = 120.0) -> dict[str, dict]:
        """Wait until the DAG processor has stored every DAG in ``dag_ids``; return all DAGs by id.

        :raises TimeoutError: naming the DAGs still missing and any import errors.
        """
        deadline = time.monotonic() + timeout
        while True:
            dags = {d["dag_id"]: d for d in self.api("GET", "/api/v2/dags", params={"limit": 100}).json()["dags"]}
            missing = sorted(set(dag_ids) - set(dags))
            if not missing:
                return dags
            if time.monotonic() > deadline:
                errors = self.api("GET", "/api/v2/importErrors").json()
                raise TimeoutError(f"DAGs not parsed within {timeout:.0f} s: {missing}; import errors: {errors}")
            time.sleep(1)

    def warehouse_query(self, sql: str, params=None) -> list[tuple]:
        """Run a read on ``warehouse_db`` as the superuser and return all rows.

        :raises RuntimeError: The instance uses another warehouse (``warehouse_conn``).
        """
        if self.warehouse_conn:
            raise RuntimeError("warehouse_query reads warehouse_db; this instance uses warehouse_conn")
        return self._query(self.warehouse_db, sql, params)

    def metadata_query(self, sql: str, params=None) -> list[tuple]:
        """Run a read on Airflow's metadata database (``metadata_db``), as the superuser; return all rows."""
        return self._query(self.metadata_db, sql, params)

    def _query(self, dbname: str, sql: str, params=None) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.server.conninfo(dbname)) as conn:
            return conn.execute(sql, params).fetchall()

    def _start_warehouse(self) -> str:
        """Join the PostgreSQL server, create (and migrate) the databases; return ``leads_warehouse``."""
        import psycopg

        from lead_pipelines.common.warehouse import migrate

        if self.server is None:
            from devtools.warehouse import embedded_server

            self.server = embedded_server()
            self._stack.callback(self.server.stop)
        databases = [self.metadata_db] + ([] if self.warehouse_conn else [self.warehouse_db])
        for dbname in databases:
            if self.fresh:
                self.server.drop_database(dbname)
                self._stack.callback(self.server.drop_database, dbname)
            self.server.create_database(dbname, exist_ok=True)
        if self.warehouse_conn:
            return self.warehouse_conn
        with psycopg.connect(self.server.conninfo(self.warehouse_db)) as conn:
            migrate(conn)
        return self.server.airflow_conn(self.warehouse_db)

    def _start_sandbox(self) -> None:
        from sandbox.process import SandboxProcess

        self.sandbox = SandboxProcess(**self.sandbox_options, log_path=self.home / "sandbox.log")
        self.sandbox.start()
        self._stack.callback(self.sandbox.stop)
        _update_lock(self.lock_path, sandbox=self.sandbox.proc.pid)

    def _setup_metadata(self, env: dict[str, str]) -> None:
        """Migrate Airflow's metadata and store the connections and pools, in a fresh interpreter."""
        from lead_pipelines.pools import pools

        spec = self.home / "local_airflow_setup.json"
        spec.write_text(json.dumps({"connections": self.connections, "pools": pools()}))
        spec.chmod(0o600)
        try:
            done = subprocess.run([sys.executable, "-m", "devtools.airflow_local", "--setup-metadata", str(spec)],
                                  env=env, cwd=ROOT, capture_output=True, text=True, timeout=self.startup_timeout)
        finally:
            spec.unlink(missing_ok=True)
        if done.returncode != 0:
            raise RuntimeError(f"migrating Airflow's metadata failed:\n{(done.stdout + done.stderr)[-4000:]}")

    def _environ(self) -> dict[str, str]:
        """Return the environment of every Airflow process (a subclass adds its executor's settings)."""
        return airflow_environ(self.home, self.port, sqlalchemy_url(self.server, self.metadata_db), self.extra_env)

    def _start_airflow(self, env: dict[str, str]) -> None:
        """Start ``airflow standalone`` in a session of its own (a subclass starts other components)."""
        log = self._stack.enter_context(open(self.log_path, "ab"))  # noqa: SIM115
        self.process = subprocess.Popen([str(Path(sys.executable).parent / "airflow"), "standalone"], env=env,
                                        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
        self._stack.callback(stop_session, self.process)
        _update_lock(self.lock_path, session=self.process.pid)

    #: The components /api/v2/monitor/health must report healthy.
    components = COMPONENTS

    def _exited(self) -> str | None:
        """Return why Airflow cannot come up any more (a process it needs exited), else None."""
        if self.process.poll() is not None:
            return f"airflow standalone exited with {self.process.returncode}:\n{self._log_tail()}"
        return None

    def _wait_until_healthy(self) -> Login:
        """Wait for every component's heartbeat and the admin's password; return the login."""
        import requests

        deadline = time.monotonic() + self.startup_timeout
        password_file = self.home / PASSWORDS_NAME
        while True:
            if (exited := self._exited()) is not None:
                raise RuntimeError(exited)
            with contextlib.suppress(requests.RequestException, ValueError):
                health = requests.get(f"{self.url}/api/v2/monitor/health", timeout=5).json()
                healthy = all((health.get(c) or {}).get("status") == "healthy" for c in self.components)
                if healthy and password_file.exists():
                    return Login(self.url, USER, json.loads(password_file.read_text())[USER], password_file)
            if time.monotonic() > deadline:
                raise RuntimeError(f"Airflow not healthy within {self.startup_timeout:.0f} s:\n{self._log_tail()}")
            time.sleep(1)

    def _log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


def stop_session(process: subprocess.Popen, timeout: float = 30.0) -> None:
    """Stop every process in ``process``'s session: SIGTERM, then SIGKILL what lingers.

    ``process`` was started with ``start_new_session=True``; Airflow's task processes move to
    process groups of their own, but stay in its session, so the session is what is stopped.

    :param timeout: Seconds ``process`` (``airflow standalone``) may take to stop its components.
    """
    sid = process.pid
    _signal(session_members(sid), signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout)
    if not _wait_until_gone(sid, 5):
        kill_session(sid)
    if process.poll() is None:
        process.kill()
    process.wait()


def kill_session(sid: int, timeout: float = 10.0) -> bool:
    """SIGKILL every process of session ``sid`` and wait until they are gone; return whether they are."""
    _signal(session_members(sid), signal.SIGKILL)
    return _wait_until_gone(sid, timeout)


def session_members(sid: int) -> list:
    """Return the live (not zombie) processes of session ``sid`` (``psutil.Process`` objects)."""
    import psutil

    members = []
    for proc in psutil.process_iter(["status"]):
        with contextlib.suppress(OSError, psutil.Error):
            if os.getsid(proc.pid) == sid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(proc)
    return members


def _signal(processes: list, signum: int) -> None:
    import psutil

    for proc in processes:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signum)


def _wait_until_gone(sid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while session_members(sid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _take_lock(path: Path, url: str) -> None:
    """Create the lock holding this pid; clear a stale one (and what its dead owner left running).

    :raises AlreadyRunningError: A live process holds it.
    """
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read_lock(path)
            if holder.get("pid") and _alive(holder["pid"]):
                raise AlreadyRunningError(
                    f"a local Airflow is already running from {path.parent} (pid {holder['pid']}, "
                    f"{holder.get('url', '?')}): stop it first (Ctrl-C in its terminal, or kill {holder['pid']})"
                ) from None
            _clear_leftovers(holder)
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            json.dump({"pid": os.getpid(), "url": url}, f)
        return


def _read_lock(path: Path) -> dict:
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, json.JSONDecodeError):
        return {}


def _update_lock(path: Path, **pids: int) -> None:
    path.write_text(json.dumps({**_read_lock(path), **pids}))


def _clear_leftovers(holder: dict) -> None:
    """Stop what a killed owner left: its Airflow sessions, its sandbox and Redis (checked by command line)."""
    import psutil

    for sid in [holder.get("session"), *holder.get("sessions", [])]:
        if sid:
            kill_session(sid)
    for key, word in (("sandbox", "sandbox"), ("redis", "redis-server")):
        with contextlib.suppress(psutil.Error, TypeError, ValueError):
            proc = psutil.Process(holder.get(key))
            if any(word in part for part in proc.cmdline()):
                proc.kill()


def _check_port(port: int) -> None:
    with socket.socket() as sock:
        # As the API server binds it (uvicorn): connections of an earlier run in TIME_WAIT do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise AlreadyRunningError(f"port {port} on 127.0.0.1 is taken ({exc.strerror}): "
                                      f"set AIRFLOW_PORT to another one") from None


def setup_metadata(spec_path: Path) -> None:
    """Migrate Airflow's metadata database, then replace its connections and pools with ``spec_path``'s.

    Runs in a fresh interpreter whose environment is :func:`airflow_environ`'s.

    :param spec_path: JSON ``{"connections": {id: Airflow JSON}, "pools": {name: {slots, description,
        include_deferred}}}``.
    """
    from sqlalchemy import delete

    from airflow.models.connection import Connection
    from airflow.models.pool import Pool
    from airflow.utils import db
    from airflow.utils.session import create_session

    spec = json.loads(spec_path.read_text())
    db.initdb()
    with create_session() as session:
        for conn_id, value in spec["connections"].items():
            session.execute(delete(Connection).where(Connection.conn_id == conn_id))
            session.add(Connection.from_json(value, conn_id=conn_id))
        for name, pool in spec["pools"].items():
            Pool.create_or_update_pool(name, pool["slots"], pool["description"], pool["include_deferred"],
                                       session=session)


def _stop_on_signals() -> None:
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


def _shown(path: Path) -> str:
    """Return ``path`` relative to the repository where it lies inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _banner(airflow: LocalAirflow) -> str:
    from lead_pipelines.pools import pools

    login = airflow.login
    warehouse = (f"PostgreSQL database {airflow.warehouse_db}: psql \"{airflow.server.conninfo(airflow.warehouse_db)}\""
                 if not airflow.warehouse_conn else "the leads_warehouse connection you set")
    return "\n".join([
        f"Airflow is up at {login.url} (started in {airflow.started_in:.0f} s)",
        f"  log in as {login.user}, password {login.password} (kept in {_shown(login.password_file)})",
        f"  DAGs from {_shown(DAGS)}/, paused: unpause one, or backfill it "
        f"(the sandbox has data from {DATA_START[:10]} to {DATA_END[:10]}, end excluded)",
        f"  connections (Admin > Connections, \"Test\" enabled): {', '.join(airflow.connections)}",
        "  pools: " + ", ".join(f"{name} ({p['slots']})" for name, p in pools().items()),
        f"  warehouse: {warehouse}",
        f"  sandbox: {airflow.sandbox.url}/<vendor>",
        f"  logs: {_shown(airflow.log_path)} (task logs under {_shown(airflow.home / 'logs')})",
        "Ctrl-C stops Airflow, the sandbox and the embedded PostgreSQL.",
    ])


def main(argv: list[str] | None = None) -> int:
    """Run ``make airflow`` (or, with ``--setup-metadata``, the metadata set-up step)."""
    parser = argparse.ArgumentParser(prog="python -m devtools.airflow_local", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("AIRFLOW_PORT") or 8080))
    parser.add_argument("--home", type=Path, default=HOME)
    parser.add_argument("--setup-metadata", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.setup_metadata:
        setup_metadata(args.setup_metadata)
        return 0
    _stop_on_signals()
    own = {k: v for k, v in os.environ.items() if k.startswith("AIRFLOW__")}
    airflow = LocalAirflow(port=args.port, home=args.home, extra_env=own,
                           warehouse_conn=os.environ.get("AIRFLOW_CONN_LEADS_WAREHOUSE"))
    print(f"airflow: starting on {airflow.url} with AIRFLOW_HOME={airflow.home} (about a minute) ...", flush=True)
    try:
        airflow.start()
    except AlreadyRunningError as exc:
        print(f"airflow: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("airflow: interrupted; stopped what it started", file=sys.stderr)
        return 130
    try:
        print(_banner(airflow), flush=True)
        code = airflow.process.wait()
        print(f"airflow: standalone exited with {code}; see {airflow.log_path}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nairflow: stopping ...", flush=True)
        return 0
    finally:
        # A second Ctrl-C must not cut the clean-up short: it is bounded (about 40 s at most).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        airflow.stop()
        print("airflow: stopped", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
