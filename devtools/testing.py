"""Helpers the tests share: sandbox settings, connection strings, and a warehouse reader."""

from __future__ import annotations

import json

import psycopg
import psycopg.rows
import psycopg.sql

SANDBOX_START = "2024-06-01T00:00:00Z"
SANDBOX_END = "2024-06-03T00:00:00Z"
#: Dense enough that an hourly window spans several pages of 1000, so faults can land mid-window.
EVENTS_PER_HOUR = 2500
#: Short timeouts and few attempts keep fault tests quick; the retry policy is the production one.
#: Tests answer in milliseconds: short timeouts, and backoffs (without Retry-After) of 0.1 s, 0.2 s...
QUICK_EXTRA = {"timeout": 2, "max_attempts": 3, "backoff_base": 0.1}


def vendor_conn(vendor: str, url: str, password: str | None = None, **extra) -> str:
    """Return a registered vendor's connection to its simulator at ``url``, in Airflow's JSON form.

    The simulator's module (``sandbox.vendors.<vendor>``) says what the connection holds (its key,
    login and extras, see ``connection``); ``password`` and ``extra`` override it.

    :param vendor: The vendor key, e.g. ``leadconduit``.
    :param url: The simulator's base URL (the sandbox's URL plus ``/<vendor>``).
    :param password: Replaces the simulator's default secret.
    :param extra: Connection extras added on top of the quick test defaults.
    """
    import importlib

    conn = dict(importlib.import_module(f"sandbox.vendors.{vendor}").connection(url))
    if password is not None:
        conn["password"] = password
    conn["extra"] = {**conn.get("extra", {}), **QUICK_EXTRA, **extra}
    return json.dumps(conn)


class Warehouse:
    """A scratch database with the project's schemas and roles, and small helpers to read it.

    ``conninfo`` (and so ``query``, ``execute``, ``reset``) is the superuser's; ``airflow_conn``, what
    the DAGs use as ``leads_warehouse``, logs in as the loader role, as in production.
    """

    def __init__(self, server, dbname: str) -> None:
        from devtools.warehouse import scratch_role_names

        self.server = server
        self.dbname = dbname
        self.owner, self.loader = scratch_role_names(dbname)
        self.conninfo = server.conninfo(dbname)
        self.owner_conninfo = server.conninfo(dbname, user=self.owner)
        self.loader_conninfo = server.conninfo(dbname, user=self.loader)
        self.airflow_conn = server.airflow_conn(dbname, user=self.loader)

    def create(self) -> None:
        """Create the database and its roles (as the superuser), then migrate it as the owner role."""
        from lead_pipelines.common.roles import setup_roles
        from lead_pipelines.common.warehouse import migrate

        self.server.create_database(self.dbname)
        with psycopg.connect(self.conninfo) as conn:
            setup_roles(conn, owner=self.owner, loader=self.loader)
        with psycopg.connect(self.owner_conninfo) as conn:
            migrate(conn)

    def drop(self) -> None:
        """Drop the database, then its roles."""
        try:
            self.server.drop_database(self.dbname)
        finally:
            self.server.drop_roles(self.owner, self.loader)

    def query(self, sql: str, params=None) -> list[tuple]:
        """Run a read and return all rows."""
        with psycopg.connect(self.conninfo) as conn:
            return conn.execute(sql, params).fetchall()

    def execute(self, sql: str, params=None) -> None:
        """Run a write and commit it."""
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            conn.execute(sql, params)

    def reset(self) -> None:
        """Empty every table of raw, mart and ops but the migration ledger, and restart their sequences."""
        tables = [
            psycopg.sql.Identifier(schema, name)
            for schema, name in self.query("""
                SELECT n.nspname, c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
                WHERE n.nspname IN ('raw', 'mart', 'ops') AND c.relkind IN ('r', 'p')
                  AND (n.nspname, c.relname) <> ('ops', 'schema_migrations')
                ORDER BY 1, 2
            """)
        ]
        if tables:
            self.execute(psycopg.sql.SQL("TRUNCATE {} RESTART IDENTITY").format(psycopg.sql.SQL(", ").join(tables)))

    def snapshot(self, table: str) -> list[tuple]:
        """Return every row's identity and bookkeeping in a raw table, to compare runs.

        :param table: Schema-qualified raw table, e.g. ``raw.leadconduit_events``.
        """
        return self.query(
            f"SELECT record_id, payload_hash, first_run_id, last_run_id, last_loaded_at, change_count "
            f"FROM {table} ORDER BY record_id"
        )

    def runs(self) -> list[dict]:
        """Return the audit rows, oldest first."""
        with psycopg.connect(self.conninfo) as conn:
            cur = conn.cursor(row_factory=psycopg.rows.dict_row)
            return cur.execute("SELECT * FROM ops.sync_runs ORDER BY run_id").fetchall()



def sandbox_connections(base_url: str, **extra) -> dict[str, str]:
    """Return every registered source's connection to its simulator, in Airflow's JSON form.

    :param base_url: The sandbox's base URL (each vendor is served under ``/<vendor>``).
    :param extra: Connection extras on top of the quick test defaults.
    """
    from lead_pipelines.registry import SOURCES

    return {source.conn_id: vendor_conn(source.vendor, f"{base_url}/{source.vendor}", **extra) for source in SOURCES}


def set_sandbox_connections(base_url: str, environ=None, **extra) -> dict[str, str]:
    """Point every registered source's default connection at the sandbox (``AIRFLOW_CONN_*``).

    :param base_url: The sandbox's base URL.
    :param environ: The environment to set (default ``os.environ``).
    :param extra: Connection extras on top of the quick test defaults.
    """
    import os

    environ = os.environ if environ is None else environ
    found = sandbox_connections(base_url, **extra)
    for conn_id, value in found.items():
        environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = value
    return found
