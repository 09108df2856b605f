"""The vendor simulators: one module per source in ``lead_pipelines.registry``, served at ``/<NAME>``.

A simulator is the package ``sandbox.vendors.<vendor>`` (the source's vendor key), exposing:

- ``NAME`` (the vendor key) and ``DEFAULT_API_KEY`` (the secret its auth accepts by default);
- ``add_arguments(parser)`` and ``options(args)``: its CLI flags (``--<vendor>-...``);
- ``build(config)``: the app (see :class:`sandbox.web.VendorApp`), whose ``control`` answers
  ``truth`` with at least ``{"ids": [...]}`` for ``start``, ``end`` and ``stream``;
- ``connection(base_url)``: the Airflow connection (``conn_type``, ``host``, ``password``, ``login``,
  ``extra``) that points the source's hook at the simulator.

Registering the source in ``lead_pipelines.registry`` is all it takes to be served, wired into the
tests, the demo and the fault matrix.
"""

from __future__ import annotations

import argparse
import importlib
from types import ModuleType
from typing import Any

from sandbox.server import SandboxConfig
from sandbox.web import VendorApp


def _modules() -> tuple[ModuleType, ...]:
    from lead_pipelines.registry import SOURCES

    return tuple(importlib.import_module(f"sandbox.vendors.{source.vendor}") for source in SOURCES)


#: Vendor modules, in the registry's order.
VENDOR_MODULES: tuple[ModuleType, ...] = _modules()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add every vendor's CLI flags.

    :param parser: the sandbox CLI parser.
    """
    for module in VENDOR_MODULES:
        module.add_arguments(parser)


def vendor_options(args: argparse.Namespace) -> dict[str, Any]:
    """Collect every vendor's settings from parsed CLI flags.

    :param args: the parsed CLI flags.
    """
    options: dict[str, Any] = {}
    for module in VENDOR_MODULES:
        options.update(module.options(args))
    return options


def build_apps(config: SandboxConfig) -> dict[str, VendorApp]:
    """Instantiate every vendor app.

    :param config: the shared settings.
    """
    return {module.NAME: module.build(config) for module in VENDOR_MODULES}
