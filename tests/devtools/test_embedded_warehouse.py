"""The embedded PostgreSQL a newcomer's machine falls back to: starts, serves, survives a killed user."""

from __future__ import annotations

import json
import subprocess
import sys

import psycopg

from devtools.paths import ROOT
from devtools.warehouse import _prune_dead_pids, embedded_server


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_embedded_server_starts_migrates_and_stops(tmp_path):
    pgdata = tmp_path / "pgdata"
    server = embedded_server(pgdata)
    try:
        assert server.embedded is not None and server.host == str(pgdata)
        server.create_database("leads_embedded")
        out = subprocess.run(
            [sys.executable, "-m", "lead_pipelines.common.warehouse", "migrate"], cwd=ROOT, capture_output=True,
            text=True, env={**__import__("os").environ, "AIRFLOW_CONN_LEADS_WAREHOUSE": server.airflow_conn("leads_embedded")},
            timeout=120,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        with psycopg.connect(server.conninfo("leads_embedded")) as conn:
            schemas = {s for (s,) in conn.execute("SELECT schema_name FROM information_schema.schemata")}
            assert {"raw", "mart", "ops"} <= schemas
            assert conn.execute("SELECT count(*) FROM raw.leadconduit_events").fetchone() == (0,)
    finally:
        server.stop()
    # Stopped with its last user: nothing answers on the socket any more.
    try:
        psycopg.connect(server.conninfo("postgres"), connect_timeout=2).close()
        still_up = True
    except psycopg.OperationalError:
        still_up = False
    assert not still_up


def test_pids_of_killed_users_are_pruned_so_the_server_can_stop(tmp_path):
    handles = tmp_path / ".handle_pids.json"
    gone = dead_pid()
    handles.write_text(json.dumps([gone, 1]))

    _prune_dead_pids(handles)

    assert json.loads(handles.read_text()) == [1]
