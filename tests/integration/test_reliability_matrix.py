"""The fault matrix of `make reliability` inside `make test`, in a short form that grows with sources, not streams.

Every in-process scenario runs on each source's first stream, and the paging ones (empty page,
duplicates, page cap, ignored window) on every fan-out stream too (a stream that reads its parents
from another's landing: its own paging; the transport faults go through the same hook as its
source's first stream). The scenarios that kill or race Airflow subprocesses (10-20 s a cell) and
the warehouse restart and outage run on two sources: they test the landing core every source shares.
The full matrix, `make reliability`, runs every scenario on every stream.

The warehouse scenarios (a PostgreSQL restart mid-window, and PostgreSQL down when the run fails) run
on a private embedded PostgreSQL, the one server a test may restart; the others use the session's
warehouse. Each cell must lose nothing, duplicate nothing, and end as its scenario promises.
"""

from __future__ import annotations

import os

import pytest

from devtools.reliability import (
    PAGING_KINDS,
    SCENARIOS,
    Matrix,
    _pg_control,
    registered_streams,
    render,
    representative_streams,
)
from lead_pipelines.registry import SOURCES

WAREHOUSE_ACTIONS = ("pg_restart", "pg_down")


def check(cells):
    assert cells, "the matrix ran no cell"
    table = render(cells)
    failed = [c for c in cells if not c.ok]
    assert not failed, f"{table}\n\nfailed: {[(c.stream, c.scenario, c.outcome, c.note) for c in failed]}"
    assert all(c.pages >= 2 for c in cells), "each window spans several pages (or fan-out calls)"
    print("\n" + table)


def test_every_sandbox_fault_on_each_source(runner, clean_warehouse, clean_sandbox):
    scenarios = tuple(s for s in SCENARIOS if s.action == "run")
    paging = tuple(s for s in scenarios if s.faults and s.faults[0]["kind"] in PAGING_KINDS)
    firsts = first_streams()
    matrix = Matrix(clean_sandbox, clean_warehouse, runner)

    cells = matrix.run(scenarios, firsts)
    cells += matrix.run(paging, [case for case in representative_streams() if case not in firsts])

    assert {c.scenario for c in cells} == {s.name for s in scenarios}
    assert {c.stream.split(".")[0] for c in cells} == {source.vendor for source in SOURCES}
    assert {c.stream for c in cells} == {f"{c.vendor}.{c.stream}" for c in representative_streams()}
    check(cells)


def test_killed_and_concurrent_runs_on_two_sources(runner, clean_warehouse, clean_sandbox):
    scenarios = tuple(s for s in SCENARIOS if s.action not in WAREHOUSE_ACTIONS and s.action != "run")
    matrix = Matrix(clean_sandbox, clean_warehouse, runner)

    cells = matrix.run(scenarios, two_sources())

    assert {c.scenario for c in cells} == {"SIGKILL between pages", "SIGKILL inside the merge",
                                           "two runs of one window at once"}
    assert len(cells) == 3 * 2
    check(cells)


def first_streams():
    """Each source's first stream."""
    return list({case.vendor: case for case in reversed(registered_streams())}.values())


def two_sources():
    """An hourly source's first stream (LeadConduit: cursor paging, a vendor count) and a daily one's
    (Pirsch: offset paging, a token)."""
    return [case for case in first_streams() if case.vendor in ("leadconduit", "pirsch")]


@pytest.fixture
def private_warehouse(monkeypatch):
    """A warehouse on an embedded PostgreSQL of its own, wired as ``leads_warehouse`` for this test.

    Its data folder sits under the project's ``.state`` (pgserver opens up the permissions of a data
    folder's parents, so never under a home or a shared temporary folder) and is removed afterwards.
    """
    import shutil

    from devtools.paths import STATE
    from devtools.testing import Warehouse
    from devtools.warehouse import embedded_server, scratch_database_name

    pgdata = STATE / "test-warehouse-restart" / scratch_database_name("pg") / "pgdata"
    server = embedded_server(pgdata)
    warehouse = Warehouse(server, scratch_database_name("leads_restart"))
    try:
        warehouse.create()
        monkeypatch.setenv("AIRFLOW_CONN_LEADS_WAREHOUSE", warehouse.airflow_conn)
        yield warehouse
    finally:
        try:
            warehouse.drop()
        finally:
            server.stop()
            shutil.rmtree(pgdata.parent, ignore_errors=True)


def test_warehouse_restart_and_outage_mid_window(runner, private_warehouse, clean_sandbox):
    assert os.environ["AIRFLOW_CONN_LEADS_WAREHOUSE"] == private_warehouse.airflow_conn
    scenarios = tuple(s for s in SCENARIOS if s.action in WAREHOUSE_ACTIONS)
    matrix = Matrix(clean_sandbox, private_warehouse, runner, pg=_pg_control(private_warehouse.server))

    cells = matrix.run(scenarios, two_sources())

    assert [c.scenario for c in cells] == [s.name for s in scenarios] * 2
    check(cells)
    restarted = [c for c in cells if "restart" in c.scenario]
    assert all(c.outcome == "landed exactly" for c in restarted), "the DAG's own retry completes the window"
