"""The migrate command on fresh databases: what it creates, its ledger, reruns, races and tampering."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import threading

import psycopg
import pytest

from devtools.paths import ROOT
from devtools.warehouse import scratch_database_name
from lead_pipelines.common.warehouse import migrate, migrations, sql_dir

SQL_DIR = ROOT / "include" / "sql"
MIGRATION_FILES = sorted((SQL_DIR / "migrations").glob("*.sql"))
SQL_FILES = sorted(SQL_DIR.rglob("*.sql"))


@pytest.fixture
def fresh_db(pg_server):
    """An empty scratch database, dropped after the test; yields its conninfo."""
    name = scratch_database_name("leads_migrate")
    pg_server.create_database(name)
    try:
        yield name, pg_server.conninfo(name)
    finally:
        pg_server.drop_database(name)


def query(conninfo: str, sql: str, params=None) -> list[tuple]:
    with psycopg.connect(conninfo) as conn:
        return conn.execute(sql, params).fetchall()


def catalog(conninfo: str) -> list[tuple]:
    """Every relation and schema of the project, with its kind and identity, to compare before and after."""
    return query(conninfo, """
        SELECT n.nspname, c.relname, c.relkind, c.oid::bigint, c.xmin::text
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('raw', 'mart', 'ops')
        ORDER BY 1, 2
    """)


def ledger(conninfo: str) -> list[tuple]:
    return query(conninfo, "SELECT version, name, checksum, applied_at, xmin::text FROM ops.schema_migrations ORDER BY version")


def test_migrate_on_an_empty_database_creates_everything(fresh_db):
    _, conninfo = fresh_db
    with psycopg.connect(conninfo) as conn:
        applied = migrate(conn)

    assert applied == [path.stem for path in MIGRATION_FILES]
    schemas = {s for (s,) in query(conninfo, "SELECT nspname FROM pg_namespace")}
    assert {"raw", "mart", "ops"} <= schemas
    tables = set(query(conninfo, """
        SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN ('raw', 'mart', 'ops')
    """))
    from lead_pipelines.registry import raw_tables

    assert tables == {
        ("ops", "sync_runs"), ("ops", "api_pacing"), ("ops", "sync_state"), ("ops", "sync_windows"), ("ops", "schema_migrations"),
        ("ops", "quarantine"), ("ops", "push_outbox"), ("ops", "vendor_reports"), ("ops", "report_reconciliation"),
        ("ops", "stream_fields"), ("ops", "schema_drift"), ("ops", "freshness_checks"),
        ("mart", "lead_links"), ("mart", "unified_leads"), ("mart", "unified_lead_merges"), ("mart", "touchpoints"),
        ("mart", "build_state"), ("mart", "lead_aggregates"), *(("raw", table) for table in raw_tables()),
    }
    indexed = {t for (t,) in query(conninfo, "SELECT tablename FROM pg_indexes WHERE schemaname = 'raw' "
                                             "AND indexdef LIKE '%(last_run_id)'")}
    assert indexed == set(raw_tables()), "the marts read every raw table by last_run_id"
    assert ("raw", "leadconduit_events") in tables
    columns = dict(query(conninfo, """
        SELECT column_name, data_type FROM information_schema.columns
        WHERE table_schema = 'raw' AND table_name = 'leadconduit_events'
    """))
    assert columns["payload"] == "jsonb" and columns["record_id"] == "text"
    assert {"payload_hash", "first_loaded_at", "first_run_id", "last_loaded_at", "last_run_id", "change_count",
            "source_updated_at"} <= set(columns)
    primary_key = query(conninfo, """
        SELECT a.attname FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
        WHERE i.indrelid = 'raw.leadconduit_events'::regclass AND i.indisprimary
    """)
    assert primary_key == [("record_id",)]
    assert query(conninfo, "SELECT to_regclass('ops.sync_runs_stream_window_idx') IS NOT NULL") == [(True,)]


def test_ledger_lists_every_migration_file_with_its_checksum(fresh_db):
    _, conninfo = fresh_db
    with psycopg.connect(conninfo) as conn:
        migrate(conn)

    expected = [
        (int(path.name.split("_", 1)[0]), path.stem, hashlib.sha256(path.read_bytes()).hexdigest())
        for path in MIGRATION_FILES
    ]
    assert len(expected) >= 6
    assert [row[:3] for row in ledger(conninfo)] == expected
    assert [(v, n, c) for v, n, c, _ in migrations()] == expected
    assert sql_dir() == SQL_DIR


def test_second_migrate_applies_nothing_and_changes_nothing(fresh_db):
    _, conninfo = fresh_db
    with psycopg.connect(conninfo) as conn:
        migrate(conn)
    before = (catalog(conninfo), ledger(conninfo))

    with psycopg.connect(conninfo) as conn:
        applied = migrate(conn)

    assert applied == []
    assert (catalog(conninfo), ledger(conninfo)) == before


def test_migrate_keeps_existing_rows(fresh_db):
    _, conninfo = fresh_db
    with psycopg.connect(conninfo) as conn:
        migrate(conn)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("""INSERT INTO raw.leadconduit_events VALUES
            ('a', '{"id": "a"}', 'h', now(), 1, now(), 1, 0)""")

    with psycopg.connect(conninfo) as conn:
        migrate(conn)

    assert query(conninfo, "SELECT record_id, payload FROM raw.leadconduit_events") == [("a", {"id": "a"})]


def test_concurrent_migrates_apply_each_migration_once(fresh_db):
    _, conninfo = fresh_db
    workers = 4
    barrier = threading.Barrier(workers)
    results: dict[int, list[str]] = {}
    errors: dict[int, BaseException] = {}

    def worker(index: int) -> None:
        try:
            with psycopg.connect(conninfo) as conn:
                barrier.wait(timeout=10)
                results[index] = migrate(conn)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors[index] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == {}
    assert len(results) == workers
    every = [path.stem for path in MIGRATION_FILES]
    applied = sorted(results.values(), key=len, reverse=True)
    assert applied == [every] + [[]] * (workers - 1), "one caller applies everything, the others see it done"
    rows = query(conninfo, "SELECT version, count(*) FROM ops.schema_migrations GROUP BY version ORDER BY version")
    assert rows == [(int(stem.split("_", 1)[0]), 1) for stem in every]
    assert query(conninfo, "SELECT to_regclass('raw.leadconduit_events') IS NOT NULL") == [(True,)]


def test_tampered_checksum_fails_clearly_and_changes_nothing(fresh_db):
    _, conninfo = fresh_db
    with psycopg.connect(conninfo) as conn:
        migrate(conn)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("UPDATE ops.schema_migrations SET checksum = 'tampered' WHERE version = 3")
        conn.execute("DROP TABLE raw.leadconduit_events")
    before = (catalog(conninfo), ledger(conninfo))

    with psycopg.connect(conninfo) as conn:
        with pytest.raises(RuntimeError, match="migration 0003_create_sync_runs changed after it was applied"):
            migrate(conn)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE

    assert (catalog(conninfo), ledger(conninfo)) == before, "the failed migrate rolled back entirely"


def test_cli_migrate_applies_then_reports_nothing_to_do(fresh_db, pg_server):
    name, conninfo = fresh_db
    env = {**os.environ, "AIRFLOW_CONN_LEADS_WAREHOUSE": pg_server.airflow_conn(name)}

    done = subprocess.run([sys.executable, "-m", "lead_pipelines.common.warehouse", "migrate"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr[-2000:]
    assert f"applied {len(MIGRATION_FILES)} migration(s)" in done.stdout
    assert [row[1] for row in ledger(conninfo)] == [path.stem for path in MIGRATION_FILES]
    assert query(conninfo, "SELECT to_regclass('raw.leadconduit_events') IS NOT NULL") == [(True,)]


@pytest.mark.parametrize(
    ("args", "code"),
    [([], 2), (["upgrade"], 2)],
    ids=["no-args", "unknown-command"],
)
def test_cli_usage_errors_exit_2(args, code):
    done = subprocess.run([sys.executable, "-m", "lead_pipelines.common.warehouse", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert done.returncode == code
    assert "usage: python -m lead_pipelines.common.warehouse migrate" in done.stderr
    assert done.stdout == ""


def code_of(text: str) -> str:
    """Return SQL text without comments and string literals, where a ``;`` would end a statement.

    One left-to-right pass, so an apostrophe inside a comment (``other's``) does not open a string.
    """
    # A dollar-quoted body ($$ ... $$, e.g. one DO block) is one literal whatever it holds.
    token = re.compile(r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|(\$[A-Za-z_]*\$).*?\1", re.S)
    return token.sub(lambda m: "''" if m.group()[0] in "'$" else " ", text)


@pytest.mark.parametrize("path", SQL_FILES, ids=[str(p.relative_to(SQL_DIR)) for p in SQL_FILES])
def test_each_sql_file_holds_one_statement(path):
    code = code_of(path.read_text()).strip()

    assert code, "the file holds a statement"
    assert ";" not in code.rstrip(";"), "only a trailing semicolon is allowed"


def test_sql_file_check_catches_two_statements():
    assert ";" in code_of("SELECT 1; SELECT 2").strip().rstrip(";")
    assert ";" not in code_of("-- a; it's\nSELECT ';' /* c; */;").strip().rstrip(";")
    assert code_of("-- it's\nSELECT 1; -- done").split() == ["SELECT", "1;"]
    assert ";" not in code_of("DO $$ BEGIN PERFORM 1; PERFORM 2; END $$;").strip().rstrip(";")
    assert ";" in code_of("DO $b$ BEGIN NULL; END $b$; SELECT 2").strip().rstrip(";")
    assert len(SQL_FILES) >= 20
