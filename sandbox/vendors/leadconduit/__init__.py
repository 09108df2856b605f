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
#: The event store's default cache (about 200 hours at 1000 events an hour).
DEFAULT_MAX_CACHED_EVENTS = 200_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the LeadConduit CLI flags.

    :param parser: the sandbox CLI parser.
    """
    parser.add_argument("--leadconduit-api-key", default=DEFAULT_API_KEY)
    # The default keeps memory bounded; a benchmark paging a million events several times raises it
    # so every pass is served from memory instead of regenerating evicted hours.
    parser.add_argument("--leadconduit-max-cached-events", type=int, default=DEFAULT_MAX_CACHED_EVENTS,
                        help="events kept generated in memory (older hours are evicted past this)")


def options(args: argparse.Namespace) -> dict[str, Any]:
    """Return the LeadConduit settings from parsed flags.

    :param args: the parsed CLI flags.
    """
    return {"leadconduit_api_key": args.leadconduit_api_key,
            "leadconduit_max_cached_events": args.leadconduit_max_cached_events}


def build(config: SandboxConfig) -> LeadConduitApp:
    """Create the LeadConduit app.

    :param config: the shared settings.
    """
    from sandbox.vendors.leadconduit.app import LeadConduitApp

    return LeadConduitApp(config, config.options.get("leadconduit_api_key", DEFAULT_API_KEY))


def connection(base_url: str) -> dict[str, Any]:
    """Return the Airflow connection that points the LeadConduit hook at this simulator.

    :param base_url: The simulator's base URL (the sandbox's plus ``/leadconduit``).
    """
    return {"conn_type": NAME, "host": base_url, "password": DEFAULT_API_KEY}


#: An id that is a float, and keys jsonb would merge (NUL and U+FFFD): the warehouse quarantines both.
DEMO_ODD_RECORDS = (b'{"id":1.5,"type":"source"}', b'{"id":"odd-keys","k\\u0000":1,"k\\ufffd":2}')


def demo_quirks(client) -> list[bytes]:
    """Inject the records ``make demo`` shows being quarantined, and return their bytes.

    :param client: The sandbox's control client.
    """
    client.leadconduit_inject([{"raw": raw.decode(), "ts": "2024-06-01T12:30:00Z"} for raw in DEMO_ODD_RECORDS])
    return list(DEMO_ODD_RECORDS)
