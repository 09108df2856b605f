"""Every source this package lands: one line per vendor, naming its folder.

Each name is a sub-package holding ``settings.SOURCE``. Everything else reads this list: the migrate
command creates the raw tables, ``get_provider_info`` declares the connection types, the sandbox
serves the simulators, and the tests, the demo and the fault matrix cover every stream.
"""

from __future__ import annotations

from importlib import import_module

from lead_pipelines.common.settings import SourceSettings

VENDORS: tuple[str, ...] = (
    "leadconduit",
    "getlandy",
    "leadboxer",
    "giosg",
    "pirsch",
)

SOURCES: tuple[SourceSettings, ...] = tuple(import_module(f"lead_pipelines.{v}.settings").SOURCE for v in VENDORS)


def raw_tables() -> list[str]:
    """Return the raw table names (without schema) of every registered stream."""
    return [source.raw_table(stream) for source in SOURCES for stream in source.streams]
