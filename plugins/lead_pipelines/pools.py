"""The Airflow pools the sources run in, in the form ``airflow pools import`` reads.

``python -m lead_pipelines.pools > pools.json && airflow pools import pools.json`` creates (or
resizes) one pool per registered source that declares one; re-running it is safe.
"""

from __future__ import annotations

import json


def pools() -> dict[str, dict]:
    """Return pool name -> ``slots``, ``description``, ``include_deferred``, from the registry."""
    from lead_pipelines.registry import SOURCES

    return {
        source.pool: {
            "slots": source.pool_slots,
            "description": f"{source.display_name} API: landing tasks running at once ({source.dag_id})",
            "include_deferred": False,
        }
        for source in SOURCES
        if source.pool
    }


def main() -> int:
    """Print :func:`pools` as JSON."""
    print(json.dumps(pools(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
