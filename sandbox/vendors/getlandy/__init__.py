"""GetLandy simulator: ``GET /leads`` (read flags per lead, Bearer tokens that expire) and ``POST /oauth/token``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from sandbox.server import SandboxConfig

if TYPE_CHECKING:
    from sandbox.vendors.getlandy.app import GetLandyApp

NAME = "getlandy"
#: The access token the simulator accepts from the start.
DEFAULT_API_KEY = "sandbox-getlandy-access-token"
CLIENT_ID = "sandbox-getlandy-client"
CLIENT_SECRET = "sandbox-getlandy-client-secret"
REFRESH_TOKEN = "sandbox-getlandy-refresh-token"
#: GetLandy's access tokens live one hour.
DEFAULT_TOKEN_TTL = 3600.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the GetLandy CLI flags.

    :param parser: the sandbox CLI parser.
    """
    parser.add_argument("--getlandy-api-key", default=DEFAULT_API_KEY, help="the access token GET /leads accepts")
    parser.add_argument("--getlandy-token-ttl", type=float, default=DEFAULT_TOKEN_TTL,
                        help="seconds an access token lives (the first one and those the token endpoint issues)")
    # The docs do not say whether from/to include their bounds: the hook must be right under both.
    parser.add_argument("--getlandy-exclusive-bounds", action="store_true",
                        help="from/to exclude leads at exactly their instant (default: included)")


def options(args: argparse.Namespace) -> dict[str, Any]:
    """Return the GetLandy settings from parsed flags.

    :param args: the parsed CLI flags.
    """
    return {"getlandy_api_key": args.getlandy_api_key, "getlandy_token_ttl": args.getlandy_token_ttl,
            "getlandy_inclusive": not args.getlandy_exclusive_bounds}


def build(config: SandboxConfig) -> GetLandyApp:
    """Create the GetLandy app.

    :param config: the shared settings.
    """
    from sandbox.vendors.getlandy.app import GetLandyApp

    opts = config.options
    return GetLandyApp(config, opts.get("getlandy_api_key", DEFAULT_API_KEY), client_id=CLIENT_ID,
                       client_secret=CLIENT_SECRET, refresh_token=REFRESH_TOKEN,
                       token_ttl=opts.get("getlandy_token_ttl", DEFAULT_TOKEN_TTL),
                       inclusive=opts.get("getlandy_inclusive", True))


def connection(base_url: str) -> dict[str, Any]:
    """Return the Airflow connection that points the GetLandy hook at this simulator, renewal included.

    :param base_url: The simulator's base URL (the sandbox's plus ``/getlandy``).
    """
    return {"conn_type": NAME, "host": base_url, "password": DEFAULT_API_KEY,
            "extra": {"token_url": f"{base_url}/oauth/token", "client_id": CLIENT_ID,
                      "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN}}
