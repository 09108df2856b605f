"""LeadBoxer simulator: the v1 API's /v1/leads, /v1/leads/sessions and /v1/leads/events."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from sandbox.server import SandboxConfig

if TYPE_CHECKING:
    from sandbox.client import SandboxClient
    from sandbox.vendors.leadboxer.app import LeadBoxerApp

NAME = "leadboxer"
DEFAULT_API_KEY = "sandbox-leadboxer-key"
DEFAULT_SITE = "0123456789abcdef0123456789abcdef"
#: Calls per endpoint per period the sandbox allows unless told otherwise: high, so tests and the demo
#: are not slowed down; the sandbox connection declares the same limit. LeadBoxer's documented one is 10.
SANDBOX_RATE_LIMIT = 100_000
#: Seconds a nextToken stays valid: LeadBoxer's 10 minutes.
TOKEN_TTL = 600
#: Leads per page in the sandbox connection: small, so an hour spans several pages.
SANDBOX_PAGE_SIZE = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the LeadBoxer CLI flags.

    :param parser: the sandbox CLI parser.
    """
    parser.add_argument("--leadboxer-api-key", default=DEFAULT_API_KEY, help="the x-api-key the simulator accepts")
    parser.add_argument("--leadboxer-site", default=DEFAULT_SITE, help="the dataset id (site) it serves")
    parser.add_argument("--leadboxer-rate-limit", type=int, default=SANDBOX_RATE_LIMIT,
                        help="calls allowed per endpoint per period (LeadBoxer documents 10 a minute)")
    parser.add_argument("--leadboxer-rate-limit-period", type=float, default=60.0,
                        help="the rate limit's period in seconds")
    parser.add_argument("--leadboxer-token-ttl", type=float, default=TOKEN_TTL,
                        help="seconds a nextToken stays valid")


def options(args: argparse.Namespace) -> dict[str, Any]:
    """Return the LeadBoxer settings from parsed flags.

    :param args: the parsed CLI flags.
    """
    return {"leadboxer_api_key": args.leadboxer_api_key, "leadboxer_site": args.leadboxer_site,
            "leadboxer_rate_limit": args.leadboxer_rate_limit,
            "leadboxer_rate_limit_period": args.leadboxer_rate_limit_period,
            "leadboxer_token_ttl": args.leadboxer_token_ttl}


def build(config: SandboxConfig) -> LeadBoxerApp:
    """Create the LeadBoxer app.

    :param config: the shared settings.
    """
    from sandbox.vendors.leadboxer.app import LeadBoxerApp

    defaults = {"leadboxer_api_key": DEFAULT_API_KEY, "leadboxer_site": DEFAULT_SITE,
                "leadboxer_rate_limit": SANDBOX_RATE_LIMIT, "leadboxer_rate_limit_period": 60.0,
                "leadboxer_token_ttl": TOKEN_TTL}
    config.options = {**defaults, **config.options}
    return LeadBoxerApp(config)


def connection(base_url: str) -> dict[str, Any]:
    """Return the Airflow connection that points the LeadBoxer hook at this simulator.

    :param base_url: The simulator's base URL (the sandbox's plus ``/leadboxer``).
    """
    return {"conn_type": NAME, "host": base_url, "password": DEFAULT_API_KEY,
            "extra": {"site": DEFAULT_SITE, "rate_limit_per_minute": SANDBOX_RATE_LIMIT,
                      "page_size": SANDBOX_PAGE_SIZE}}


def settings(client: SandboxClient, **values: float) -> dict[str, float]:
    """Change the simulator's ``rate_limit``, ``rate_limit_period`` (seconds) or ``token_ttl`` (seconds); reset restores them.

    :param client: The sandbox's control client.
    :param values: The settings to change.
    """
    return client._call("POST", f"/{NAME}/settings", values)  # noqa: SLF001 - the client's one transport


def come_back(client: SandboxClient, use_id: str, *, at: int | None = None, events: int = 2) -> dict[str, Any]:
    """Make a lead return: a new session with ``events`` events at ``at`` (epoch ms); return the lead, session, events.

    :param client: The sandbox's control client.
    :param use_id: The lead.
    :param at: When the new session starts; 30 minutes after the lead's last event when None.
    :param events: How many events the session has.
    """
    return client._call("POST", f"/{NAME}/return",  # noqa: SLF001 - the client's one transport
                        {"use_id": use_id, "events": events, **({"at": at} if at is not None else {})})
