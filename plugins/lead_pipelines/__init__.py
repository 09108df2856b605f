"""Airflow 3 hooks, operators and DAG factory that land marketing SaaS APIs in PostgreSQL.

Airflow loads :func:`get_provider_info` while it reads its own configuration, so this module
imports nothing at import time, and the function only the sources' frozen settings: the hooks and
operators live in the vendor sub-packages.
"""

from __future__ import annotations

__version__ = "0.1.0"


def get_provider_info() -> dict:
    """Describe the package to Airflow's providers manager: one connection type and form per source.

    The list comes from :mod:`lead_pipelines.registry` (settings only, no hooks imported), so a new
    source's connection type appears in the UI without touching this function.
    """
    from lead_pipelines.registry import SOURCES

    return {
        "package-name": "lead-pipelines",
        "name": "Lead pipelines",
        "description": "Land LeadBoxer, LeadConduit, GetLandy, Pirsch and giosg in PostgreSQL.",
        "versions": [__version__],
        "connection-types": [
            {
                "connection-type": source.vendor,
                "hook-class-name": source.hook_class,
                "hook-name": source.display_name,
                "ui-field-behaviour": {
                    "hidden-fields": list(source.connection_form.hidden_fields),
                    "relabeling": dict(source.connection_form.relabeling),
                    "placeholders": dict(source.connection_form.placeholders),
                },
                "conn-fields": source.connection_form.conn_fields(),
            }
            for source in SOURCES
        ],
    }
