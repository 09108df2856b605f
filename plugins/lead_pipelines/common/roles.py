"""Least-privilege roles for a warehouse database: an owner that migrates, a loader that lands.

* The **owner** (default ``lead_pipelines_owner``) owns the schemas ``raw``, ``mart`` and ``ops`` and
  everything in them, and runs the migrations (``make migrate``). It is not a superuser.
* The **loader** (default ``lead_pipelines_loader``) is what the ``leads_warehouse`` connection of the
  DAGs logs in as. It may read and write (SELECT, INSERT, UPDATE; no DELETE or TRUNCATE) the
  tables of ``raw`` and ``ops``, use their sequences and create temporary tables; it reads but never
  writes ``ops.schema_migrations`` and creates nothing in any schema. On ``mart``, which the
  ``unified_leads`` DAG rebuilds, it may also DELETE (a window's aggregates are replaced as a whole). Tables
  and sequences the owner creates later in ``raw`` or ``ops`` get the same grants by default
  privileges, so new migrations and new vendors need nothing here.

Run once per warehouse database, connected as a superuser (again after anything was created in the
three schemas by another role: it hands ownership to the owner and grants again)::

    python -m lead_pipelines.common.roles setup [CONN_ID] [--owner NAME] [--loader NAME]

Every statement is a file under ``include/sql/roles/``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lead_pipelines.common.warehouse import statement

if TYPE_CHECKING:
    import psycopg

DEFAULT_OWNER = "lead_pipelines_owner"
DEFAULT_LOADER = "lead_pipelines_loader"
#: libpq DSN of a superuser on the warehouse database, when no connection id is given to the CLI.
ADMIN_DSN_ENV = "LEADS_WAREHOUSE_ADMIN_DSN"
OWNER_PASSWORD_ENV = "LEADS_OWNER_PASSWORD"
LOADER_PASSWORD_ENV = "LEADS_LOADER_PASSWORD"
SCHEMAS = ("raw", "mart", "ops")
#: What the loader may do, for humans (the grants themselves are the files under include/sql/roles).
LOADER_PRIVILEGES = (
    "CONNECT, TEMPORARY on the database",
    "USAGE on schemas raw, ops",
    "SELECT, INSERT, UPDATE on every table in raw and ops (now and, by default privileges, later)",
    "USAGE, SELECT on every sequence in raw and ops (now and later)",
    "SELECT only on ops.schema_migrations",
    "nothing on mart; no CREATE on any schema or the database",
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoleSetup:
    """What :func:`setup_roles` did."""

    database: str
    owner: str
    loader: str
    created_roles: tuple[str, ...]
    #: Relations in raw, mart or ops another role owned, now the owner's.
    reassigned: tuple[str, ...]


def _check_role_name(name: str, what: str) -> None:
    # statement() reads a dot as schema.name, and PostgreSQL silently truncates names past 63 bytes.
    if not name or "." in name or len(name.encode()) > 63:
        raise ValueError(f"{what} name {name!r} must be 1 to 63 bytes without a dot")


def setup_roles(
    conn: psycopg.Connection,
    *,
    owner: str = DEFAULT_OWNER,
    loader: str = DEFAULT_LOADER,
    loader_password: str | None = None,
    owner_password: str | None = None,
) -> RoleSetup:
    """Create or update the owner and loader roles and their privileges on this database; idempotent.

    Runs in one transaction, committed on success. Roles are cluster-wide, privileges per database:
    run it on every warehouse database the roles should reach.

    :param conn: A superuser connection to the warehouse database.
    :param owner: Role that owns raw, mart and ops and runs migrations.
    :param loader: Role of the sync DAGs' ``leads_warehouse`` connection.
    :param loader_password: Set the loader's password (hashed by the client); ``None`` leaves it as is.
    :param owner_password: Set the owner's password (hashed by the client); ``None`` leaves it as is.
    """
    _check_role_name(owner, "owner role")
    _check_role_name(loader, "loader role")
    if owner == loader:
        raise ValueError("the owner and the loader must be different roles")
    created = []
    with conn.transaction():
        # Not while a migrate runs: it would create tables between the grants and the default privileges.
        conn.execute(statement("lock_migrations"))
        (database,) = conn.execute(statement("roles/select_current_database")).fetchone()
        _check_role_name(database, "database")

        for kind, role in (("owner", owner), ("loader", loader)):
            (exists,) = conn.execute(statement("roles/select_role_exists"), {"role": role}).fetchone()
            conn.execute(statement(f"roles/{'alter' if exists else 'create'}_{kind}_role", **{kind: role}))
            if not exists:
                created.append(role)
        for role, password in ((owner, owner_password), (loader, loader_password)):
            if password is not None:
                _set_password(conn, role, password)

        conn.execute(statement("roles/grant_owner_database", database=database, owner=owner))
        for schema in SCHEMAS:
            (exists,) = conn.execute(statement("roles/select_schema_exists"), {"schema": schema}).fetchone()
            name = "roles/alter_schema_owner" if exists else "roles/create_owned_schema"
            conn.execute(statement(name, schema=schema, owner=owner))
        reassigned = [r for (r,) in conn.execute(statement("roles/select_relations_not_owned"), {"owner": owner})]
        for relation in reassigned:
            conn.execute(statement("roles/alter_relation_owner", relation=relation, owner=owner))
        # The ledger exists (owned by the owner) before the grants, so the loader is refused writes to it.
        conn.execute(statement("roles/set_local_role", role=owner))
        conn.execute(statement("create_schema_migrations"))
        conn.execute(statement("roles/reset_role"))

        conn.execute(statement("roles/grant_loader_database", database=database, loader=loader))
        conn.execute(statement("roles/revoke_loader_database_create", database=database, loader=loader))
        for name in ("grant_loader_schemas", "grant_loader_tables", "grant_loader_sequences",
                     "alter_default_loader_tables", "alter_default_loader_sequences",
                     "revoke_loader_migration_writes", "revoke_loader_schema_create", "grant_loader_mart",
                     "grant_loader_mart_tables", "alter_default_loader_mart_tables"):
            conn.execute(statement(f"roles/{name}", owner=owner, loader=loader))
        (public,) = conn.execute(statement("roles/select_schema_exists"), {"schema": "public"}).fetchone()
        if public:
            conn.execute(statement("roles/revoke_public_schema_create"))
    if reassigned:
        log.warning("Handed to %s: %s", owner, ", ".join(reassigned))
    log.info("Roles ready on %s: owner %s, loader %s%s", database, owner, loader,
             f" (created {', '.join(created)})" if created else "")
    return RoleSetup(database, owner, loader, tuple(created), tuple(reassigned))


def _set_password(conn: psycopg.Connection, role: str, password: str) -> None:
    """Set a role's password as a verifier hashed here (the server's ``password_encryption``)."""
    import psycopg

    verifier = conn.pgconn.encrypt_password(password.encode(), role.encode()).decode()
    # ALTER ROLE takes no server-side parameters: the client binds the (already hashed) value.
    psycopg.ClientCursor(conn).execute(statement("roles/alter_role_password", role=role), {"password": verifier})


def _admin_connection(conn_id: str | None) -> psycopg.Connection:
    if conn_id:
        from lead_pipelines.common.warehouse import connect

        return connect(conn_id)
    dsn = os.environ.get(ADMIN_DSN_ENV)
    if not dsn:
        raise ValueError(
            f"give the Airflow connection id of a superuser on the warehouse database, or set {ADMIN_DSN_ENV} "
            f"to its libpq DSN (e.g. 'host=db dbname=leads user=postgres')"
        )
    import psycopg

    return psycopg.connect(dsn)


def main(argv: list[str] | None = None) -> int:
    """``python -m lead_pipelines.common.roles setup [CONN_ID] [--owner NAME] [--loader NAME]``."""
    parser = argparse.ArgumentParser(
        prog="python -m lead_pipelines.common.roles",
        description="Least-privilege roles for the warehouse: an owner that migrates, a loader that lands.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="setup")
    setup = commands.add_parser(
        "setup", help="create or update the owner and loader roles and their privileges (idempotent)",
        description=f"Connects as a superuser: the Airflow connection CONN_ID, else the DSN in ${ADMIN_DSN_ENV}. "
                    f"Passwords, if wanted, come from ${OWNER_PASSWORD_ENV} and ${LOADER_PASSWORD_ENV} "
                    "(never from the command line).",
    )
    setup.add_argument("conn_id", nargs="?", metavar="CONN_ID",
                       help="Airflow connection id of a superuser on the warehouse database")
    setup.add_argument("--owner", default=DEFAULT_OWNER, metavar="NAME", help=f"owner role (default {DEFAULT_OWNER})")
    setup.add_argument("--loader", default=DEFAULT_LOADER, metavar="NAME",
                       help=f"loader role (default {DEFAULT_LOADER})")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        with _admin_connection(args.conn_id) as conn:
            done = setup_roles(
                conn, owner=args.owner, loader=args.loader,
                owner_password=os.environ.get(OWNER_PASSWORD_ENV) or None,
                loader_password=os.environ.get(LOADER_PASSWORD_ENV) or None,
            )
    except ValueError as exc:
        parser.error(str(exc))
    print(f"database {done.database}: owner {done.owner}, loader {done.loader}")
    if done.created_roles:
        print(f"created roles: {', '.join(done.created_roles)}")
    if done.reassigned:
        print(f"now owned by {done.owner}: {', '.join(done.reassigned)}")
    print(f"loader may: {'; '.join(LOADER_PRIVILEGES)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
