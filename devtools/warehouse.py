"""Find a PostgreSQL server for the demo and the tests: the local one, or an embedded pgserver."""

from __future__ import annotations

import atexit
import json
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
from psycopg import sql

from devtools.paths import STATE

log = logging.getLogger(__name__)

LOCAL_SERVER = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


@dataclass(frozen=True)
class Server:
    """A reachable PostgreSQL server and how to reach it."""

    host: str
    port: int | None
    user: str
    embedded: object | None = None

    def conninfo(self, dbname: str, user: str | None = None) -> str:
        """Return a libpq conninfo string for ``dbname``, as the superuser or as ``user`` (trust auth)."""
        parts = {"host": self.host, "user": user or self.user, "dbname": dbname, "connect_timeout": 5}
        if self.port:
            parts["port"] = self.port
        return " ".join(f"{k}={v}" for k, v in parts.items())

    def airflow_conn(self, dbname: str, user: str | None = None) -> str:
        """Return the connection in Airflow's JSON form, for ``AIRFLOW_CONN_LEADS_WAREHOUSE``.

        :param user: Log in as this role instead of the superuser (no password: trust auth).
        """
        conn = {"conn_type": "postgres", "host": self.host, "login": user or self.user, "schema": dbname}
        if self.port:
            conn["port"] = self.port
        return json.dumps(conn)

    def create_database(self, dbname: str, *, exist_ok: bool = False) -> None:
        """Create ``dbname`` (drop nothing)."""
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
            if exists and exist_ok:
                return
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))

    def drop_database(self, dbname: str) -> None:
        """Drop ``dbname``, disconnecting whoever is still on it."""
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))

    def drop_roles(self, *roles: str) -> None:
        """Drop ``roles`` (cluster-wide) and whatever they still own or were granted; drop their databases first.

        A role's objects and privileges live in each database (dropped with it) and on shared objects,
        which ``DROP OWNED`` run from ``postgres`` revokes.
        """
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            rows = conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (list(roles),))
            existing = [r for (r,) in rows]
            if not existing:
                return
            names = sql.SQL(", ").join(sql.Identifier(r) for r in existing)
            conn.execute(sql.SQL("DROP OWNED BY {}").format(names))
            conn.execute(sql.SQL("DROP ROLE {}").format(names))

    def stop(self) -> None:
        """Stop the embedded server if this process started it."""
        if self.embedded is not None:
            self.embedded.cleanup()
            # Done already: its atexit hook would only log into a stream that may be closed by then.
            atexit.unregister(self.embedded._cleanup)


def local_server() -> Server | None:
    """Return the server at 127.0.0.1:5432 if one answers (it does on developer and CI machines)."""
    try:
        with psycopg.connect(**LOCAL_SERVER, dbname="postgres", connect_timeout=2):
            return Server(**LOCAL_SERVER)
    except psycopg.OperationalError:
        return None


def embedded_server(pgdata: Path = STATE / "pgdata") -> Server:
    """Start (or join) the project's embedded PostgreSQL under ``.state/pgdata``.

    pgserver records the pid of every process that uses the server and stops it when the last one
    exits; a process killed with -9 stays recorded and would keep it running forever, so dead pids
    are pruned first.
    """
    import pgserver

    pgdata.mkdir(parents=True, exist_ok=True)
    _prune_dead_pids(pgdata / ".handle_pids.json")
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    uri = urlsplit(server.get_uri())
    query = parse_qs(uri.query)
    host = query.get("host", [uri.hostname or ""])[0]
    return Server(host=host, port=uri.port, user=uri.username or "postgres", embedded=server)


def _prune_dead_pids(path: Path) -> None:
    if not path.exists():
        return
    try:
        pids = json.loads(path.read_text() or "[]")
    except json.JSONDecodeError:
        pids = []
    alive = [pid for pid in pids if _alive(pid)]
    if alive != pids:
        path.write_text(json.dumps(alive))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def any_server(prefer_embedded: bool = False) -> Server:
    """Return the local server, or the embedded one where none answers (or when preferred)."""
    if not prefer_embedded:
        server = local_server()
        if server is not None:
            return server
        log.info("No PostgreSQL at 127.0.0.1:5432; starting the embedded one")
    return embedded_server()


def scratch_database_name(prefix: str = "leads_test") -> str:
    """Return a fresh database name, so parallel runs never share tables."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def scratch_role_names(dbname: str) -> tuple[str, str]:
    """Return the owner and loader roles of a scratch database: roles are cluster-wide, so per database."""
    return f"{dbname}_owner", f"{dbname}_loader"
