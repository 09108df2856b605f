"""Airflow 3 hooks, operators and DAG factory that land marketing SaaS APIs in PostgreSQL.

Airflow loads :func:`get_provider_info` while it reads its own configuration, so this module
imports nothing: the hooks and operators live in the vendor sub-packages.
"""

from __future__ import annotations

__version__ = "0.1.0"


def get_provider_info() -> dict:
    """Describe the package to Airflow's providers manager (connection types and their forms)."""
    return {
        "package-name": "lead-pipelines",
        "name": "Lead pipelines",
        "description": "Land LeadBoxer, LeadConduit, GetLandy, Pirsch and giosg in PostgreSQL.",
        "versions": [__version__],
        "connection-types": [
            {
                "connection-type": "leadconduit",
                "hook-class-name": "lead_pipelines.leadconduit.hook.LeadConduitHook",
                "hook-name": "LeadConduit",
            },
        ],
    }
