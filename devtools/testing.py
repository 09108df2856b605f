"""Helpers the tests share: sandbox settings, connection strings, and a warehouse reader."""

from __future__ import annotations

import json

import psycopg
import psycopg.rows

from sandbox.vendors.leadconduit import DEFAULT_API_KEY

SANDBOX_START = "2024-06-01T00:00:00Z"
SANDBOX_END = "2024-06-03T00:00:00Z"
#: Dense enough that an hourly window spans several pages of 1000, so faults can land mid-window.
EVENTS_PER_HOUR = 2500
LEADCONDUIT_KEY = DEFAULT_API_KEY
RAW_TABLE = "raw.leadconduit_events"


def leadconduit_conn(url: str, key: str = LEADCONDUIT_KEY, **extra) -> str:
    """Return a LeadConduit connection in Airflow's JSON form."""
    # Short timeouts and few attempts keep fault tests quick; the policy is the production one.
    extra = {"timeout": 2, "max_attempts": 3, **extra}
    return json.dumps({"conn_type": "leadconduit", "host": url, "password": key, "extra": extra})


class Warehouse:
    """A scratch database with the project's schemas, and small helpers to read it."""

    def __init__(self, server, dbname: str) -> None:
        self.server = server
        self.dbname = dbname
        self.conninfo = server.conninfo(dbname)
        self.airflow_conn = server.airflow_conn(dbname)

    def query(self, sql: str, params=None) -> list[tuple]:
        """Run a read and return all rows."""
        with psycopg.connect(self.conninfo) as conn:
            return conn.execute(sql, params).fetchall()

    def execute(self, sql: str, params=None) -> None:
        """Run a write and commit it."""
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            conn.execute(sql, params)

    def reset(self) -> None:
        """Empty the raw table and the ops tables between tests."""
        self.execute(f"TRUNCATE {RAW_TABLE}, ops.sync_runs, ops.sync_state, ops.sync_windows RESTART IDENTITY")

    def snapshot(self) -> list[tuple]:
        """Return every raw row's identity and bookkeeping, to compare runs."""
        return self.query(
            f"SELECT record_id, payload_hash, first_run_id, last_run_id, last_loaded_at, change_count "
            f"FROM {RAW_TABLE} ORDER BY record_id"
        )

    def runs(self) -> list[dict]:
        """Return the audit rows, oldest first."""
        with psycopg.connect(self.conninfo) as conn:
            cur = conn.cursor(row_factory=psycopg.rows.dict_row)
            return cur.execute("SELECT * FROM ops.sync_runs ORDER BY run_id").fetchall()


