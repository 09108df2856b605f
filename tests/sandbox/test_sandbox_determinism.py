"""Same seed, same data; and a 100k-event hour pages through quickly."""

from __future__ import annotations

import time

import pytest
import requests

from sandbox.process import SandboxProcess
from sandbox.vendors.leadconduit import DEFAULT_API_KEY

KEY = DEFAULT_API_KEY


def _first_page(proc: SandboxProcess) -> list[dict]:
    r = requests.get(f"{proc.vendor_url('leadconduit')}/events", auth=("API", KEY),
                     params={"sort": "asc", "limit": 200, "start": "2024-06-01T00:00:00Z"},
                     timeout=10)
    return r.json()


def test_same_seed_gives_identical_pages(sandbox_proc: SandboxProcess) -> None:
    with SandboxProcess(seed=7) as other, SandboxProcess(seed=8) as different:
        assert _first_page(other) == _first_page(sandbox_proc)
        assert _first_page(different) != _first_page(sandbox_proc)


@pytest.mark.slow
def test_100k_events_in_one_hour_page_in_under_30s() -> None:
    # Hour 14 of 2024-06-01 draws a volume factor of ~1.04 for seed 7: ~104k events.
    with SandboxProcess(seed=7, start="2024-06-01T14:00:00Z", end="2024-06-01T15:00:00Z",
                        events_per_hour=100_000) as proc, requests.Session() as session:
        session.auth = ("API", KEY)
        started = time.monotonic()
        query = {"sort": "asc", "limit": "1000", "start": "2024-06-01T14:00:00Z"}
        seen: list[str] = []
        pages = 0
        while True:
            page = session.get(f"{proc.vendor_url('leadconduit')}/events", params=query, timeout=30).json()
            pages += 1
            seen.extend(e["id"] for e in page)
            if len(page) < 1000:
                break
            query = {"sort": "asc", "limit": "1000", "after_id": page[-1]["id"]}
        elapsed = time.monotonic() - started
        truth = proc.client.leadconduit_truth("2024-06-01T14:00:00Z", "2024-06-01T15:00:00Z")
        assert seen == truth["ids"] and pages >= 100
        assert elapsed < 30, elapsed
