"""Every source this package lands; the migrate command creates their raw tables."""

from __future__ import annotations

from lead_pipelines.common.settings import SourceSettings
from lead_pipelines.getlandy.settings import SOURCE as GETLANDY
from lead_pipelines.leadconduit.settings import SOURCE as LEADCONDUIT
from lead_pipelines.leadboxer.settings import SOURCE as LEADBOXER

SOURCES: tuple[SourceSettings, ...] = (LEADCONDUIT, GETLANDY, LEADBOXER)


def raw_tables() -> list[str]:
    """Return the raw table names (without schema) of every registered stream."""
    return [source.raw_table(stream) for source in SOURCES for stream in source.streams]
