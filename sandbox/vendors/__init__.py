"""Registry of vendor simulators: each is a module exposing NAME, add_arguments, options and build."""

from __future__ import annotations

import argparse
from types import ModuleType
from typing import Any

from sandbox.server import SandboxConfig
from sandbox.vendors import leadconduit
from sandbox.web import VendorApp

#: Vendor modules, served at ``/<NAME>``. Add a vendor by appending its module here.
VENDOR_MODULES: tuple[ModuleType, ...] = (leadconduit,)


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
