"""LeadConduit (ActiveProspect) simulator: /events, /events/stats and /reports."""

from __future__ import annotations

import argparse
from typing import Any

from typing import TYPE_CHECKING

from sandbox.server import SandboxConfig

if TYPE_CHECKING:
    from sandbox.vendors.leadconduit.app import LeadConduitApp

NAME = "leadconduit"
DEFAULT_API_KEY = "sandbox-leadconduit-key"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the LeadConduit CLI flags.

    :param parser: the sandbox CLI parser.
    """
    parser.add_argument("--leadconduit-api-key", default=DEFAULT_API_KEY)


def options(args: argparse.Namespace) -> dict[str, Any]:
    """Return the LeadConduit settings from parsed flags.

    :param args: the parsed CLI flags.
    """
    return {"leadconduit_api_key": args.leadconduit_api_key}


def build(config: SandboxConfig) -> LeadConduitApp:
    """Create the LeadConduit app.

    :param config: the shared settings.
    """
    from sandbox.vendors.leadconduit.app import LeadConduitApp

    return LeadConduitApp(config, config.options.get("leadconduit_api_key", DEFAULT_API_KEY))
