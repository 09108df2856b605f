"""Fixtures: one sandbox process per test session, reset before each test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

# The repo root must win over tests/ on sys.path, or "sandbox" could resolve to this folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sandbox.process import SandboxProcess  # noqa: E402
from sandbox.vendors.leadconduit import DEFAULT_API_KEY  # noqa: E402

API_KEY = DEFAULT_API_KEY


@pytest.fixture(scope="session")
def sandbox_proc() -> Iterator[SandboxProcess]:
    """Run the sandbox with its default data (seed 7, 2024-06-01, 40 events/hour)."""
    with SandboxProcess(seed=7, options={"leadconduit-api-key": API_KEY}) as proc:
        yield proc


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> None:
    """Clear faults, logs, revisions and reports left by an earlier test."""
    if "sandbox_proc" in request.fixturenames:
        request.getfixturevalue("sandbox_proc").client.reset()


@pytest.fixture()
def api_key() -> str:
    """Return the LeadConduit key the session sandbox expects."""
    return API_KEY


@pytest.fixture()
def lc(sandbox_proc: SandboxProcess) -> Iterator[requests.Session]:
    """Return an authenticated session whose ``.base`` is the LeadConduit URL."""
    with requests.Session() as session:
        session.auth = ("API", API_KEY)
        session.headers["Accept"] = "application/json"
        session.base = sandbox_proc.vendor_url("leadconduit")  # type: ignore[attr-defined]
        yield session
