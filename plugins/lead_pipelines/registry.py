"""Every source this package lands; the migrate command creates their raw tables."""

from __future__ import annotations

from lead_pipelines.common.settings import SourceSettings
from lead_pipelines.leadconduit.settings import SOURCE as LEADCONDUIT

SOURCES: tuple[SourceSettings, ...] = (LEADCONDUIT,)


def raw_tables() -> list[str]:
    """Return the raw table names (without schema) of every registered stream."""
    return [source.raw_table(stream) for source in SOURCES for stream in source.streams]
