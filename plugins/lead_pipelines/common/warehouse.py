"""The warehouse: its connection, its SQL files and the idempotent migrate command.

Run ``python -m lead_pipelines.common.warehouse migrate`` (or the ``migrate_warehouse`` task of any
sync DAG) to create the ``raw``, ``mart`` and ``ops`` schemas and every registered raw table.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from psycopg import sql

if TYPE_CHECKING:
    from collections.abc import Iterable

    import psycopg

WAREHOUSE_CONN_ID = "leads_warehouse"

log = logging.getLogger(__name__)


@cache
def sql_dir() -> Path:
    """Return the folder of SQL files: ``include/sql`` beside ``plugins/``, or the copy in a wheel."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[3] / "include" / "sql", here.parents[1] / "include_sql"):
        if (candidate / "merge_raw_records.sql").is_file():
            return candidate
    raise FileNotFoundError(f"no include/sql folder found near {here}")


@cache
def load_sql(name: str) -> str:
    """Return the text of ``include/sql/<name>.sql``.

    :param name: File name without the ``.sql`` suffix.
    """
    return (sql_dir() / f"{name}.sql").read_text()


def statement(name: str, **identifiers: str) -> sql.Composable:
    """Return an SQL file as a statement, with ``{placeholders}`` filled by quoted identifiers.

    :param name: File name without the ``.sql`` suffix.
    :param identifiers: ``placeholder="schema.table"`` pairs; values come from code, never vendor data.
    """
    text = load_sql(name)
    if not identifiers:
        return sql.SQL(text)
    return sql.SQL(text).format(**{k: sql.Identifier(*v.split(".")) for k, v in identifiers.items()})


def connect(conn_id: str = WAREHOUSE_CONN_ID) -> psycopg.Connection:
    """Open a psycopg 3 connection from the Airflow connection ``conn_id``.

    :param conn_id: A postgres connection (``AIRFLOW_CONN_LEADS_WAREHOUSE`` works outside Airflow).
    """
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    conn = PostgresHook(postgres_conn_id=conn_id).get_conn()
    conn.autocommit = False
    return conn


def migrations() -> list[tuple[int, str, str, str]]:
    """Return ``(version, name, checksum, text)`` of every versioned migration, in order."""
    found = []
    for path in sorted((sql_dir() / "migrations").glob("*.sql")):
        version = int(path.name.split("_", 1)[0])
        text = path.read_text()
        found.append((version, path.stem, hashlib.sha256(text.encode()).hexdigest(), text))
    versions = [v for v, *_ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version number in {sql_dir() / 'migrations'}")
    return found


def migrate(conn: psycopg.Connection, raw_tables: Iterable[str] | None = None) -> list[str]:
    """Bring the warehouse up to date in one transaction; safe to run twice and concurrently.

    :param conn: An open connection; committed on success, rolled back on failure.
    :param raw_tables: Raw tables (without schema) to ensure; defaults to every registered stream.
    :return: Names of the migrations applied by this call.
    """
    if raw_tables is None:
        from lead_pipelines.registry import raw_tables as registered

        raw_tables = registered()
    applied_now = []
    with conn.transaction():
        conn.execute(statement("lock_migrations"))
        conn.execute(statement("create_schema_ops"))
        conn.execute(statement("create_schema_migrations"))
        applied = {v: (name, checksum) for v, name, checksum in conn.execute(statement("select_applied_migrations"))}
        for version, name, checksum, text in migrations():
            if version in applied:
                if applied[version][1] != checksum:
                    raise RuntimeError(
                        f"migration {name} changed after it was applied; add a new migration instead"
                    )
                continue
            conn.execute(sql.SQL(text))
            conn.execute(statement("insert_migration"), {"version": version, "name": name, "checksum": checksum})
            applied_now.append(name)
        for table in raw_tables:
            conn.execute(statement("create_raw_table", table=f"raw.{table}"))
    if applied_now:
        log.info("Warehouse migrated: %s", ", ".join(applied_now))
    else:
        log.info("Warehouse already up to date")
    return applied_now


def main(argv: list[str] | None = None) -> int:
    """Run ``migrate`` against the ``leads_warehouse`` connection from the command line."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] != ["migrate"]:
        print("usage: python -m lead_pipelines.common.warehouse migrate [CONN_ID]", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with connect(argv[1] if len(argv) > 1 else WAREHOUSE_CONN_ID) as conn:
        applied = migrate(conn)
    print(f"applied {len(applied)} migration(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
