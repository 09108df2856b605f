"""Where the package's SQL files live: light enough for a DAG file to import at parse time (no psycopg)."""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def sql_dir() -> Path:
    """Return the folder of SQL files: ``include/sql`` beside ``plugins/``, or the copy in a wheel."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[3] / "include" / "sql", here.parents[1] / "include_sql"):
        if (candidate / "merge_raw_records.sql").is_file():
            return candidate
    raise FileNotFoundError(f"no include/sql folder found near {here}")
