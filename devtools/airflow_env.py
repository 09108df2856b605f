"""Set up Airflow for an in-process run: call :func:`configure` before anything imports airflow."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from devtools.paths import DAGS


def configure(home: Path, connections: Mapping[str, str] | None = None) -> dict[str, str]:
    """Point Airflow at a private home (SQLite metadata) and this project's DAGs and connections.

    :param home: AIRFLOW_HOME; created if missing.
    :param connections: Connection id to Airflow's JSON form, exported as ``AIRFLOW_CONN_<ID>``.
    :return: The variables set, so a subprocess can be given the same.
    """
    if "airflow" in __import__("sys").modules:
        raise RuntimeError("configure() must run before airflow is imported")
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        # Not plugins/: the package is installed (its UI plugin comes by entry point), and scanning the
        # folder that holds it reads plugins/.airflowignore, whose glob patterns Airflow 3.3 compiles with
        # a class pathspec 1.x deprecates: a warning at the top of every task log.
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
    }
    for conn_id, value in (connections or {}).items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = value
    os.environ.update(env)
    return env
