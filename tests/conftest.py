"""Shared fixtures: a scratch warehouse database, the sandbox over HTTP, and an in-process Airflow.

Airflow is configured (private AIRFLOW_HOME, SQLite metadata) before any test module imports it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from devtools.airflow_env import configure  # noqa: E402

AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="lead-pipelines-airflow-"))
AIRFLOW_ENV = configure(AIRFLOW_HOME)

from devtools.testing import (  # noqa: E402
    EVENTS_PER_HOUR,
    SANDBOX_END,
    SANDBOX_START,
    Warehouse,
    set_sandbox_connections,
)
from devtools.warehouse import any_server, scratch_database_name  # noqa: E402
from sandbox.process import SandboxProcess  # noqa: E402

@pytest.fixture(scope="session")
def pg_server():
    """The PostgreSQL at 127.0.0.1:5432, or an embedded one where none answers (or LEADS_TEST_EMBEDDED=1)."""
    server = any_server(prefer_embedded=os.environ.get("LEADS_TEST_EMBEDDED") == "1")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def warehouse(pg_server):
    """A migrated scratch database with its own owner and loader roles; dropped (roles too) at the end.

    As in production: the superuser creates the roles, the owner migrates, and the ``leads_warehouse``
    connection every DAG task uses logs in as the loader. ``Warehouse.query``/``execute``/``reset`` stay
    the superuser's.
    """
    wh = Warehouse(pg_server, scratch_database_name())
    try:
        wh.create()
        os.environ["AIRFLOW_CONN_LEADS_WAREHOUSE"] = wh.airflow_conn
        yield wh
    finally:
        wh.drop()


@pytest.fixture
def clean_warehouse(warehouse):
    """The scratch warehouse with empty raw and ops tables."""
    warehouse.reset()
    return warehouse


@pytest.fixture(scope="session")
def sandbox():
    """The vendor simulators on a loopback port, wired as every registered source's default connection."""
    with SandboxProcess(seed=7, start=SANDBOX_START, end=SANDBOX_END, events_per_hour=EVENTS_PER_HOUR) as proc:
        set_sandbox_connections(proc.url)
        yield proc


@pytest.fixture
def clean_sandbox(sandbox):
    """The sandbox with no faults, an empty request log and original data."""
    sandbox.client.reset()
    yield sandbox
    sandbox.client.reset()


@pytest.fixture(scope="session")
def runner(warehouse, sandbox):
    """Airflow in this process, running DAG windows with ``dag.test``."""
    from devtools.runner import InProcessRunner

    return InProcessRunner()
