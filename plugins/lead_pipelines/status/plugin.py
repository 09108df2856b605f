"""The Airflow plugin of the status page: a FastAPI app under the API server and its entry in the UI's nav.

Registered by the package's ``airflow.plugins`` entry point (``plugins/.airflowignore`` keeps the
package out of the plugins-folder scan). Every Airflow process loads plugins, task runners included,
so this module imports nothing heavy: the FastAPI app is built the first time the API server asks
for :attr:`LeadPipelinesStatusPlugin.fastapi_apps`.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.plugins_manager import AirflowPlugin

#: Where Airflow mounts the app, and the UI's route of the page that frames it (``/plugin/lead-pipelines``).
URL_PREFIX = "/lead-pipelines"
URL_ROUTE = "lead-pipelines"


class LeadPipelinesStatusPlugin(AirflowPlugin):
    """Adds "Lead pipelines" under Browse: the status page of every registered stream and the push outbox."""

    name = "lead_pipelines_status"
    external_views = [
        {
            "name": "Lead pipelines",
            # Relative to the UI's <base href>: the app's page wherever the API server is mounted.
            "href": URL_PREFIX.lstrip("/") + "/",
            "url_route": URL_ROUTE,
            "destination": "nav",
            "category": "browse",
        }
    ]

    @cached_property
    def fastapi_apps(self) -> list[dict[str, Any]]:  # type: ignore[override]
        """Return the app to mount, built on first use."""
        from lead_pipelines.status.app import app

        return [{"app": app, "url_prefix": URL_PREFIX, "name": "Lead pipelines"}]
