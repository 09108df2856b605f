"""The warehouse: its connection, its SQL files and the idempotent migrate command.

Run ``python -m lead_pipelines.common.warehouse migrate`` (or the ``migrate_warehouse`` task of any
sync DAG) to create the ``raw``, ``mart`` and ``ops`` schemas and every registered raw table. With the
roles of :mod:`lead_pipelines.common.roles`, run it as the owner; the DAGs' loader role can only
confirm that nothing is left to do.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from functools import cache
from typing import TYPE_CHECKING

from psycopg import errors as pg_errors
from psycopg import sql

if TYPE_CHECKING:
    from collections.abc import Iterable

    import psycopg

from lead_pipelines.common.settings import WAREHOUSE_CONN_ID  # noqa: E402 - re-exported
from lead_pipelines.common.sqlfiles import sql_dir  # noqa: E402 - re-exported

log = logging.getLogger(__name__)


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


class WarehouseNotMigratedError(RuntimeError):
    """The warehouse needs migrations that the connection's role may not apply (e.g. the loader)."""


def pending_work(conn: psycopg.Connection, raw_tables: Iterable[str]) -> tuple[list[str], list[str]]:
    """Return what migrate would do, read-only: the migrations not applied yet and the missing raw tables.

    Needs no privilege but SELECT on ``ops.schema_migrations`` (when it exists), so the loader role can
    tell that the warehouse is up to date.

    :param conn: An open connection.
    :param raw_tables: Raw tables (without schema) that must exist.
    :raises RuntimeError: An applied migration's file changed since.
    """
    (ledger,) = conn.execute(statement("select_schema_migrations_exists")).fetchone()
    applied = {}
    if ledger:
        applied = {v: checksum for v, _name, checksum in conn.execute(statement("select_applied_migrations"))}
    pending = []
    for version, name, checksum, _text in migrations():
        if version not in applied:
            pending.append(name)
        elif applied[version] != checksum:
            raise RuntimeError(f"migration {name} changed after it was applied; add a new migration instead")
    missing = [t for (t,) in conn.execute(statement("select_missing_raw_tables"), {"tables": list(raw_tables)})]
    return pending, missing


def migrate(conn: psycopg.Connection, raw_tables: Iterable[str] | None = None) -> list[str]:
    """Bring the warehouse up to date in one transaction; safe to run twice and concurrently.

    On an up-to-date warehouse it runs no DDL at all, so the sync DAGs' loader role (which may not
    create anything) can call it; when something is missing it needs the owner role (or a superuser).

    :param conn: An open connection; committed on success, rolled back on failure.
    :param raw_tables: Raw tables (without schema) to ensure; defaults to every registered stream.
    :return: Names of the migrations applied by this call.
    :raises WarehouseNotMigratedError: Work is pending and the role lacks the privileges to do it.
    """
    if raw_tables is None:
        from lead_pipelines.registry import raw_tables as registered

        raw_tables = registered()
    raw_tables = list(raw_tables)
    applied_now: list[str] = []
    pending: list[str] = []
    missing: list[str] = []
    user = owner = None
    try:
        with conn.transaction():
            conn.execute(statement("lock_migrations"))
            pending, missing = pending_work(conn, raw_tables)
            if pending or missing:
                user, owner = conn.execute(statement("select_migration_roles")).fetchone()
                conn.execute(statement("create_schema_ops"))
                conn.execute(statement("create_schema_migrations"))
                for version, name, checksum, text in migrations():
                    if name not in pending:
                        continue
                    conn.execute(sql.SQL(text))
                    conn.execute(statement("insert_migration"),
                                 {"version": version, "name": name, "checksum": checksum})
                    applied_now.append(name)
                for table in missing:
                    conn.execute(statement("create_raw_table", table=f"raw.{table}"))
                    conn.execute(statement("create_raw_table_run_index", table=f"raw.{table}",
                                           index=f"{table}_last_run_id"))
    except pg_errors.InsufficientPrivilege as exc:
        raise WarehouseNotMigratedError(_not_migrated_message(pending, missing, user, owner, exc)) from exc
    if applied_now:
        log.info("Warehouse migrated: %s", ", ".join(applied_now))
    if missing:
        log.info("Raw tables created: %s", ", ".join(f"raw.{t}" for t in missing))
    if not (applied_now or missing):
        log.info("Warehouse already up to date")
    return applied_now


def _not_migrated_message(pending: list[str], missing: list[str], user: str | None, owner: str | None,
                          exc: Exception) -> str:
    needs = [f"migration(s) {', '.join(pending)}"] if pending else []
    needs += [f"raw table(s) {', '.join(f'raw.{t}' for t in missing)}"] if missing else []
    role = f"role {user!r}" if user else "this connection's role"
    owner_role = f"the owner role {owner!r}" if owner else "the owner role (see README, Least privilege)"
    error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (
        f"the warehouse needs {' and '.join(needs) or 'migrating'}, which {role} may not apply ({error}). "
        f"Run `make migrate` (python -m lead_pipelines.common.warehouse migrate) with a connection that "
        f"logs in as {owner_role}, then run this again."
    )


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
