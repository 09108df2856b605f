"""The status page's FastAPI app, mounted by Airflow's API server under ``/lead-pipelines``.

Routes (every one behind Airflow's own login: the JWT cookie the UI sets, or a bearer token):

* ``/``: the page, server-rendered HTML, one table per panel;
* ``/panels``: the panels' names and titles (JSON);
* ``/panels/<name>``: one panel's rows (JSON).

A plugin's FastAPI app is not protected by Airflow by itself: :data:`require_reader` (Airflow's
``requires_access_dag("GET", RUN)``, the right to read every DAG's runs) guards the whole app, so a
request without a valid token gets 401 (none) or 403 (invalid, or a user who may not read runs).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Annotated, Any

import psycopg
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.core_api.security import requires_access_dag
from airflow.exceptions import AirflowNotFoundException
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import HTMLResponse

from lead_pipelines.common.warehouse import connect, statement
from lead_pipelines.status.panels import BY_NAME, PANELS, run_panel, run_panels
from lead_pipelines.status.render import page_html

#: How long one panel's statement may run before the warehouse cancels it.
STATEMENT_TIMEOUT = "10s"

#: Airflow's authorization of every route: a signed-in user who may read the runs of every DAG.
require_reader = requires_access_dag("GET", DagAccessEntity.RUN)


def warehouse() -> Iterator[psycopg.Connection]:
    """Yield a read-only connection to the ``leads_warehouse`` connection's database, closed after the request.

    Its session runs without JIT and with :data:`STATEMENT_TIMEOUT` (``include/sql/status/session.sql``).

    :raises HTTPException: 503 when the warehouse cannot be reached or its connection is not defined.
    """
    try:
        conn = connect()
    except (psycopg.OperationalError, AirflowNotFoundException) as exc:
        raise HTTPException(status_code=503, detail=f"the warehouse cannot be reached: {exc}") from exc
    try:
        conn.read_only = True
        conn.execute(statement("status/session"), {"statement_timeout": STATEMENT_TIMEOUT})
        conn.commit()
        yield conn
    finally:
        conn.close()


Warehouse = Annotated[psycopg.Connection, Depends(warehouse)]


def page(conn: Warehouse) -> HTMLResponse:
    """Return the status page."""
    return HTMLResponse(page_html(run_panels(conn), datetime.now(timezone.utc)))


def panel_index() -> list[dict[str, str]]:
    """Return the panels' names, titles and JSON routes."""
    return [{"name": p.name, "title": p.title, "href": f"panels/{p.name}"} for p in PANELS]


def panel_json(name: str, conn: Warehouse) -> dict[str, Any]:
    """Return one panel's rows.

    :raises HTTPException: 404 for a panel that does not exist.
    """
    panel = BY_NAME.get(name)
    if panel is None:
        raise HTTPException(status_code=404, detail=f"no panel {name!r}; panels: {', '.join(BY_NAME)}")
    return run_panel(conn, panel).as_json()


def create_app() -> FastAPI:
    """Build the app: every route depends on :data:`require_reader`."""
    app = FastAPI(title="Lead pipelines", dependencies=[Depends(require_reader)],
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.add_api_route("/", page, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/panels", panel_index, methods=["GET"])
    app.add_api_route("/panels/{name}", panel_json, methods=["GET"])
    return app


app = create_app()
