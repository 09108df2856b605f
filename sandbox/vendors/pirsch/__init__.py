"""Pirsch simulator: ``/api/v1/token`` (client id + secret), ``/api/v1/domain``, statistics per day, writes."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from sandbox.server import SandboxConfig

if TYPE_CHECKING:
    from sandbox.vendors.pirsch.app import PirschApp

NAME = "pirsch"
#: The client secret the token endpoint accepts by default (64 characters, as the official client checks).
DEFAULT_API_KEY = "sandbox-pirsch-client-secret-" + "0123456789abcdef0123456789abcdef012"
#: The client id (32 characters).
CLIENT_ID = "sandbox-pirsch-client-id-0000001"
#: A write-only access key: ``pa_`` and 45 characters.
ACCESS_KEY = "pa_" + "sandboxPirschAccessKey0123456789abcdefghijklm"
#: Seconds an access token lives (Pirsch does not document it; mcp-pirsch assumes about an hour).
DEFAULT_TOKEN_TTL = 3600.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the Pirsch CLI flags.

    :param parser: the sandbox CLI parser.
    """
    parser.add_argument("--pirsch-api-key", default=DEFAULT_API_KEY, help="the client secret /api/v1/token accepts")
    parser.add_argument("--pirsch-client-id", default=CLIENT_ID, help="the client id /api/v1/token accepts")
    parser.add_argument("--pirsch-token-ttl", type=float, default=DEFAULT_TOKEN_TTL,
                        help="seconds an access token lives")


def options(args: argparse.Namespace) -> dict[str, Any]:
    """Return the Pirsch settings from parsed flags.

    :param args: the parsed CLI flags.
    """
    return {"pirsch_api_key": args.pirsch_api_key, "pirsch_client_id": args.pirsch_client_id,
            "pirsch_token_ttl": args.pirsch_token_ttl}


def build(config: SandboxConfig) -> PirschApp:
    """Create the Pirsch app.

    :param config: the shared settings.
    """
    from sandbox.vendors.pirsch.app import PirschApp

    opts = config.options
    return PirschApp(config, client_id=opts.get("pirsch_client_id", CLIENT_ID),
                     client_secret=opts.get("pirsch_api_key", DEFAULT_API_KEY), access_key=ACCESS_KEY,
                     token_ttl=opts.get("pirsch_token_ttl", DEFAULT_TOKEN_TTL))


def connection(base_url: str) -> dict[str, Any]:
    """Return the Airflow connection that points the Pirsch hook at this simulator.

    :param base_url: The simulator's base URL (the sandbox's plus ``/pirsch``).
    """
    from sandbox.vendors.pirsch.data import DOMAIN_ID

    return {"conn_type": NAME, "host": base_url, "login": CLIENT_ID, "password": DEFAULT_API_KEY,
            "extra": {"domain_id": DOMAIN_ID}}
