"""Least privilege: what the loader role (the DAGs' ``leads_warehouse``) may and may not do, and the setup.

The session ``warehouse`` was set up as in production: ``setup_roles`` as the superuser, ``migrate`` as
the owner role, and ``AIRFLOW_CONN_LEADS_WAREHOUSE`` logs in as the loader role.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import psycopg
import psycopg.errors
import pytest

from devtools.paths import ROOT
from devtools.testing import Warehouse
from devtools.warehouse import scratch_database_name
from lead_pipelines.common import warehouse as warehouse_module
from lead_pipelines.common.roles import setup_roles
from lead_pipelines.common.warehouse import WarehouseNotMigratedError, connect, migrate

RAW = "raw.leadconduit_events"


def as_role(conninfo: str, statement: str, params=None) -> list[tuple] | None:
    """Run one statement in its own transaction, rolled back: privilege checks without leaving a trace."""
    with psycopg.connect(conninfo) as conn:
        try:
            cur = conn.execute(statement, params)
            return cur.fetchall() if cur.description else None
        finally:
            conn.rollback()


def refused(conninfo: str, statement: str) -> str:
    """Return the error of a statement the role may not run."""
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as caught:
        as_role(conninfo, statement)
    return str(caught.value)


def test_leads_warehouse_connection_logs_in_as_the_loader(warehouse):
    assert json.loads(os.environ["AIRFLOW_CONN_LEADS_WAREHOUSE"])["login"] == warehouse.loader
    with connect() as conn:
        assert conn.execute("SELECT current_user").fetchone() == (warehouse.loader,)
    flags = warehouse.query(
        "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolcanlogin FROM pg_roles WHERE rolname = ANY(%s)",
        ([warehouse.owner, warehouse.loader],),
    )
    assert sorted(flags) == sorted([(role, False, False, False, True) for role in (warehouse.owner, warehouse.loader)])


def test_owner_owns_the_schemas_and_every_table(warehouse):
    owners = warehouse.query("""
        SELECT DISTINCT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname IN ('raw', 'mart', 'ops')
        UNION
        SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('raw', 'mart', 'ops')
    """)
    assert owners == [(warehouse.owner,)]


def test_loader_writes_raw_and_ops_and_stages_in_a_temp_table(clean_warehouse):
    with psycopg.connect(clean_warehouse.loader_conninfo) as conn:
        with conn.transaction(force_rollback=True):
            conn.execute("SELECT pg_advisory_xact_lock(42)")
            (run_id,) = conn.execute("""
                INSERT INTO ops.sync_runs (vendor, stream, window_start, window_end, status)
                VALUES ('v', 's', '2024-06-01', '2024-06-01 01:00', 'running') RETURNING run_id
            """).fetchone()
            conn.execute("CREATE TEMP TABLE stage_test (record_id text, payload text) ON COMMIT DROP")
            with conn.cursor().copy("COPY stage_test (record_id, payload) FROM STDIN") as copy:
                copy.write_row(("a", '{"id": "a"}'))
            merge = f"""
                INSERT INTO {RAW} AS t (record_id, payload, payload_hash, first_loaded_at, first_run_id,
                                        last_loaded_at, last_run_id)
                SELECT record_id, payload::jsonb, md5(payload), now(), %(run)s, now(), %(run)s FROM stage_test
                ON CONFLICT (record_id) DO UPDATE SET payload_hash = 'changed', change_count = t.change_count + 1
            """
            conn.execute(merge, {"run": run_id})
            conn.execute(merge, {"run": run_id})
            conn.execute(f"UPDATE {RAW} SET last_run_id = %s", (run_id,))
            conn.execute("""
                INSERT INTO ops.sync_state (vendor, stream, watermark, last_success_run_id)
                VALUES ('v', 's', '2024-06-01 01:00', %(run)s)
                ON CONFLICT (vendor, stream) DO UPDATE SET last_success_run_id = EXCLUDED.last_success_run_id
            """, {"run": run_id})
            conn.execute("""
                INSERT INTO ops.sync_windows (vendor, stream, window_start, window_end, last_run_id, records)
                VALUES ('v', 's', '2024-06-01', '2024-06-01 01:00', %s, 1)
            """, (run_id,))
            conn.execute("UPDATE ops.sync_runs SET status = 'success' WHERE run_id = %s", (run_id,))
            rows = conn.execute(f"SELECT record_id, payload_hash, change_count FROM {RAW}").fetchall()
            assert rows == [("a", "changed", 1)]
            assert conn.execute("SELECT count(*) FROM ops.schema_migrations").fetchone()[0] >= 6


def test_every_table_of_raw_and_ops_is_writable_and_every_sequence_usable_by_the_loader(warehouse):
    rows = warehouse.query("""
        SELECT n.nspname || '.' || c.relname, c.relkind,
               has_table_privilege(%(loader)s, c.oid, 'SELECT'), has_table_privilege(%(loader)s, c.oid, 'INSERT'),
               has_table_privilege(%(loader)s, c.oid, 'UPDATE'), has_table_privilege(%(loader)s, c.oid, 'DELETE'),
               has_table_privilege(%(loader)s, c.oid, 'TRUNCATE')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('raw', 'ops') AND c.relkind IN ('r', 'p')
    """, {"loader": warehouse.loader})
    expected = {"ops.schema_migrations": (True, False, False, False, False)}
    assert {"ops.sync_runs", "ops.sync_state", "ops.sync_windows", RAW} <= {name for name, *_ in rows}
    for name, _kind, *privileges in rows:
        assert tuple(privileges) == expected.get(name, (True, True, True, False, False)), name
    sequences = warehouse.query("""
        SELECT n.nspname || '.' || c.relname, has_sequence_privilege(%(loader)s, c.oid, 'USAGE')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('raw', 'ops') AND c.relkind = 'S'
    """, {"loader": warehouse.loader})
    assert ("ops.sync_runs_run_id_seq", True) in sequences
    assert all(usable for _, usable in sequences), sequences


@pytest.mark.parametrize("statement", [
    "CREATE TABLE raw.sneaky (id int)",
    "CREATE TABLE ops.sneaky (id int)",
    "CREATE TABLE public.sneaky (id int)",
    "CREATE TABLE mart.sneaky (id int)",
    "CREATE SCHEMA sneaky",
    "CREATE VIEW raw.sneaky AS SELECT 1",
    f"DROP TABLE {RAW}",
    f"ALTER TABLE {RAW} ADD COLUMN sneaky int",
    f"CREATE INDEX sneaky ON {RAW} (payload_hash)",
    f"DELETE FROM {RAW}",
    f"TRUNCATE {RAW}",
    "DELETE FROM ops.sync_runs",
    "ALTER TABLE ops.schema_migrations ADD COLUMN sneaky int",
    "DROP TABLE ops.schema_migrations",
    "INSERT INTO ops.schema_migrations (version, name, checksum) VALUES (9999, 'sneaky', 'x')",
    "UPDATE ops.schema_migrations SET checksum = 'tampered'",
    "TRUNCATE mart.leads",
    "DROP TABLE mart.leads",
], ids=lambda s: " ".join(s.split()[:3]))
def test_loader_is_refused(warehouse, mart_table, statement):
    refused(warehouse.loader_conninfo, statement)


@pytest.fixture(scope="module")
def mart_table(warehouse):
    """A mart table made by the owner (as a transformation would), so refusing it means something."""
    with psycopg.connect(warehouse.owner_conninfo, autocommit=True) as conn:
        conn.execute("CREATE TABLE mart.leads (id int)")
    yield "mart.leads"
    warehouse.execute("DROP TABLE IF EXISTS mart.leads")


def test_loader_rewrites_mart_rows_but_not_its_tables(warehouse, mart_table):
    with psycopg.connect(warehouse.loader_conninfo) as conn:
        conn.execute("INSERT INTO mart.leads (id) VALUES (1), (2)")
        conn.execute("UPDATE mart.leads SET id = 3 WHERE id = 2")
        conn.execute("DELETE FROM mart.leads WHERE id = 1")
        assert conn.execute("SELECT id FROM mart.leads").fetchall() == [(3,)]
        conn.rollback()


def test_loader_uses_mart_and_creates_nowhere(warehouse):
    rows = warehouse.query("""
        SELECT has_schema_privilege(%(l)s, 'mart', 'USAGE'),
               has_schema_privilege(%(l)s, 'raw', 'CREATE'), has_schema_privilege(%(l)s, 'ops', 'CREATE'),
               has_schema_privilege(%(l)s, 'mart', 'CREATE'), has_schema_privilege(%(l)s, 'public', 'CREATE'),
               has_database_privilege(%(l)s, current_database(), 'CREATE'),
               has_database_privilege(%(l)s, current_database(), 'TEMPORARY'),
               has_schema_privilege(%(l)s, 'raw', 'USAGE'), has_schema_privilege(%(l)s, 'ops', 'USAGE')
    """, {"l": warehouse.loader})
    assert rows == [(True, False, False, False, False, False, True, True, True)]


def test_migrate_as_the_loader_on_an_up_to_date_warehouse_does_nothing(warehouse):
    before = warehouse.query("SELECT version, checksum, xmin::text FROM ops.schema_migrations ORDER BY 1")

    with psycopg.connect(warehouse.loader_conninfo) as conn:
        assert migrate(conn) == []
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE

    assert warehouse.query("SELECT version, checksum, xmin::text FROM ops.schema_migrations ORDER BY 1") == before


def test_migrate_as_the_loader_with_a_pending_migration_says_to_migrate_as_the_owner(warehouse, monkeypatch):
    pending = "CREATE TABLE ops.sneaky (id int)"
    real = warehouse_module.migrations()
    extra = (9999, "9999_create_sneaky", hashlib.sha256(pending.encode()).hexdigest(), pending)
    monkeypatch.setattr(warehouse_module, "migrations", lambda: [*real, extra])
    before = warehouse.query("SELECT version FROM ops.schema_migrations ORDER BY 1")

    with psycopg.connect(warehouse.loader_conninfo) as conn:
        with pytest.raises(WarehouseNotMigratedError) as caught:
            migrate(conn)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE

    message = str(caught.value)
    assert "9999_create_sneaky" in message
    assert "make migrate" in message
    assert f"role '{warehouse.loader}' may not apply" in message
    assert f"the owner role '{warehouse.owner}'" in message
    assert isinstance(caught.value.__cause__, psycopg.errors.InsufficientPrivilege)
    assert not isinstance(caught.value, psycopg.Error)
    assert warehouse.query("SELECT version FROM ops.schema_migrations ORDER BY 1") == before
    assert warehouse.query("SELECT to_regclass('ops.sneaky')") == [(None,)]


def test_migrate_as_the_loader_with_a_new_vendor_raw_table_says_to_migrate_as_the_owner(warehouse):
    with psycopg.connect(warehouse.loader_conninfo) as conn:
        with pytest.raises(WarehouseNotMigratedError, match=r"raw table\(s\) raw\.newvendor_leads.*make migrate"):
            migrate(conn, ["leadconduit_events", "newvendor_leads"])

    assert warehouse.query("SELECT to_regclass('raw.newvendor_leads')") == [(None,)]


def test_tables_the_owner_creates_later_are_writable_by_the_loader(warehouse):
    try:
        with psycopg.connect(warehouse.owner_conninfo) as conn:
            # A new vendor's raw table, and a new ops table from a later migration (with a bigserial).
            assert migrate(conn, ["leadconduit_events", "newvendor_leads"]) == []
            conn.execute("CREATE TABLE ops.later (id bigserial PRIMARY KEY, note text)")
            conn.commit()

        with psycopg.connect(warehouse.loader_conninfo) as conn:
            conn.execute("""
                INSERT INTO raw.newvendor_leads VALUES ('a', '{}', 'h', now(), 1, now(), 1, 0)
                ON CONFLICT (record_id) DO UPDATE SET change_count = raw.newvendor_leads.change_count + 1
            """)
            conn.execute("UPDATE raw.newvendor_leads SET payload_hash = 'h2'")
            (later_id,) = conn.execute("INSERT INTO ops.later (note) VALUES ('x') RETURNING id").fetchone()
            conn.execute("UPDATE ops.later SET note = 'y' WHERE id = %s", (later_id,))
            conn.commit()
            assert migrate(conn, ["leadconduit_events", "newvendor_leads"]) == []
        refused(warehouse.loader_conninfo, "DROP TABLE raw.newvendor_leads")
        refused(warehouse.loader_conninfo, "DELETE FROM ops.later")

        assert warehouse.query("SELECT record_id, payload_hash FROM raw.newvendor_leads") == [("a", "h2")]
        assert warehouse.query("SELECT note FROM ops.later") == [("y",)]
    finally:
        warehouse.execute("DROP TABLE IF EXISTS raw.newvendor_leads, ops.later")


@pytest.fixture
def legacy_warehouse(pg_server):
    """A database migrated by the superuser before any roles existed (an existing deployment)."""
    wh = Warehouse(pg_server, scratch_database_name("leads_roles"))
    pg_server.create_database(wh.dbname)
    try:
        with psycopg.connect(wh.conninfo) as conn:
            migrate(conn)
        yield wh
    finally:
        wh.drop()


def test_setup_on_an_existing_warehouse_hands_it_to_the_owner_and_is_idempotent(legacy_warehouse):
    wh = legacy_warehouse
    with psycopg.connect(wh.conninfo) as conn:
        first = setup_roles(conn, owner=wh.owner, loader=wh.loader)
    with psycopg.connect(wh.conninfo) as conn:
        again = setup_roles(conn, owner=wh.owner, loader=wh.loader)

    assert set(first.created_roles) == {wh.owner, wh.loader}
    assert {"ops.schema_migrations", "ops.sync_runs", RAW} <= set(first.reassigned)
    assert "ops.sync_runs_run_id_seq" not in first.reassigned, "a serial's sequence follows its table"
    assert (again.created_roles, again.reassigned) == ((), ())
    owners = wh.query("""
        SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('raw', 'mart', 'ops')
        UNION SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname IN ('raw', 'mart', 'ops')
    """)
    assert owners == [(wh.owner,)]
    with psycopg.connect(wh.loader_conninfo) as conn:
        assert migrate(conn) == []
        conn.execute("INSERT INTO ops.sync_runs (vendor, stream, window_start, window_end, status) "
                      "VALUES ('v', 's', now(), now(), 'running')")
    with psycopg.connect(wh.owner_conninfo) as conn:
        assert migrate(conn) == []
    refused(wh.loader_conninfo, "CREATE TABLE raw.sneaky (id int)")


def test_passwords_are_stored_as_verifiers_set_by_the_client(legacy_warehouse):
    wh = legacy_warehouse
    password = "it's a ' secret\\"
    with psycopg.connect(wh.conninfo) as conn:
        setup_roles(conn, owner=wh.owner, loader=wh.loader, loader_password=password)
    with psycopg.connect(wh.conninfo) as conn:
        setup_roles(conn, owner=wh.owner, loader=wh.loader)  # None leaves the password alone

    stored = dict(wh.query("SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY(%s)",
                           ([wh.owner, wh.loader],)))
    assert stored[wh.owner] is None
    assert stored[wh.loader].startswith(("SCRAM-SHA-256$", "md5"))
    assert "secret" not in stored[wh.loader]


@pytest.mark.parametrize(("owner", "loader"), [("same", "same"), ("with.dot", "loader"), ("x" * 64, "loader")])
def test_bad_role_names_are_refused_before_anything_runs(warehouse, owner, loader):
    with psycopg.connect(warehouse.conninfo) as conn, pytest.raises(ValueError, match="role"):
        setup_roles(conn, owner=owner, loader=loader)


def test_cli_setup_from_an_airflow_connection(legacy_warehouse, pg_server):
    wh = legacy_warehouse
    env = {**os.environ, "AIRFLOW_CONN_LEADS_WAREHOUSE_ADMIN": pg_server.airflow_conn(wh.dbname)}

    done = subprocess.run(
        [sys.executable, "-m", "lead_pipelines.common.roles", "setup", "leads_warehouse_admin",
         "--owner", wh.owner, "--loader", wh.loader],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    assert f"database {wh.dbname}: owner {wh.owner}, loader {wh.loader}" in done.stdout
    assert f"created roles: {wh.owner}, {wh.loader}" in done.stdout
    assert wh.query("SELECT has_schema_privilege(%s, 'raw', 'USAGE')", (wh.loader,)) == [(True,)]


def test_cli_setup_from_the_dsn_in_the_environment(legacy_warehouse):
    wh = legacy_warehouse
    env = {**os.environ, "LEADS_WAREHOUSE_ADMIN_DSN": wh.conninfo}

    done = subprocess.run(
        [sys.executable, "-m", "lead_pipelines.common.roles", "setup", "--owner", wh.owner, "--loader", wh.loader],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    assert "loader may: CONNECT, TEMPORARY on the database" in done.stdout


def test_cli_without_a_connection_is_a_usage_error():
    env = {k: v for k, v in os.environ.items() if k != "LEADS_WAREHOUSE_ADMIN_DSN"}
    done = subprocess.run([sys.executable, "-m", "lead_pipelines.common.roles", "setup"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode == 2
    assert "LEADS_WAREHOUSE_ADMIN_DSN" in done.stderr
