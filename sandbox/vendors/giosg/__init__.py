"""giosg simulator: the workflow list, workflow info and the workflow reporting sidedata queries."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from sandbox.server import SandboxConfig

if TYPE_CHECKING:
    from sandbox.client import SandboxClient
    from sandbox.vendors.giosg.app import GiosgApp

NAME = "giosg"
DEFAULT_API_KEY = "sandbox-giosg-api-token"
DEFAULT_ORGANIZATION_ID = "7f0c3a52-4d6e-4b1a-9c2f-5e8d1a0b3c4d"
#: Workflows of the organisation; with two a page, the list spans several pages.
DEFAULT_WORKFLOWS = 5
DEFAULT_PAGE_SIZE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the giosg CLI flags.

    :param parser: the sandbox CLI parser.
    """
    parser.add_argument("--giosg-api-key", default=DEFAULT_API_KEY,
                        help="the API token the simulator accepts (Authorization: Token <t>)")
    parser.add_argument("--giosg-organization-id", default=DEFAULT_ORGANIZATION_ID, help="the organisation served")
    parser.add_argument("--giosg-workflows", type=int, default=DEFAULT_WORKFLOWS, help="workflows of the organisation")
    parser.add_argument("--giosg-page-size", type=int, default=DEFAULT_PAGE_SIZE,
                        help="workflows per page of the workflow list")
    parser.add_argument("--giosg-forbidden", action="append", default=[],
                        help="a workflow id (or its position, from 0) whose reporting answers 403")


def options(args: argparse.Namespace) -> dict[str, Any]:
    """Return the giosg settings from parsed flags.

    :param args: the parsed CLI flags.
    """
    return {"giosg_api_key": args.giosg_api_key, "giosg_organization_id": args.giosg_organization_id,
            "giosg_workflows": args.giosg_workflows, "giosg_page_size": args.giosg_page_size,
            "giosg_forbidden": list(args.giosg_forbidden)}


def build(config: SandboxConfig) -> GiosgApp:
    """Create the giosg app.

    :param config: the shared settings.
    """
    from sandbox.vendors.giosg.app import GiosgApp

    defaults = {"giosg_api_key": DEFAULT_API_KEY, "giosg_organization_id": DEFAULT_ORGANIZATION_ID,
                "giosg_workflows": DEFAULT_WORKFLOWS, "giosg_page_size": DEFAULT_PAGE_SIZE, "giosg_forbidden": []}
    config.options = {**defaults, **config.options}
    return GiosgApp(config)


def connection(base_url: str) -> dict[str, Any]:
    """Return the Airflow connection that points the giosg hook at this simulator.

    :param base_url: The simulator's base URL (the sandbox's plus ``/giosg``).
    """
    return {"conn_type": NAME, "host": base_url, "password": DEFAULT_API_KEY,
            "extra": {"organization_id": DEFAULT_ORGANIZATION_ID}}


def forbid(client: SandboxClient, workflow_id: str, forbidden: bool = True) -> dict[str, Any]:
    """Make one workflow's reporting answer 403 (no reporting permission); reset lifts it.

    :param client: The sandbox's control client.
    :param workflow_id: The workflow.
    :param forbidden: False lifts the 403.
    """
    return client._call("POST", f"/{NAME}/forbid",  # noqa: SLF001 - the client's one transport
                        {"workflow_id": workflow_id, "forbidden": forbidden})


def revise(client: SandboxClient, workflow_id: str) -> dict[str, Any]:
    """Change one workflow at the vendor: a new name and new figures for every interval; return it.

    :param client: The sandbox's control client.
    :param workflow_id: The workflow.
    """
    return client._call("POST", f"/{NAME}/revise", {"workflow_id": workflow_id})  # noqa: SLF001


def settings(client: SandboxClient, **values: str) -> dict[str, Any]:
    """Change ``body_window`` (``honour`` or ``ignore`` the sidedata interval); reset restores it.

    :param client: The sandbox's control client.
    :param values: The settings to change.
    """
    return client._call("POST", f"/{NAME}/settings", values)  # noqa: SLF001
