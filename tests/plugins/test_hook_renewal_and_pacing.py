"""The hook base's two shared services, over real HTTP: renewing credentials, and pacing under a rate limit.

A test hook (LeadConduit's, with its renewal and limit overridden) talks to the LeadConduit simulator:
a wrong key stands in for an expired token, the right key for the renewed one.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone

import pytest

from devtools.testing import vendor_conn
from lead_pipelines.common.errors import VendorRejectedError
from lead_pipelines.common.pacing import LocalPacer, RateLimit, WarehousePacer
from lead_pipelines.common.windows import Window
from lead_pipelines.leadconduit.hook import LeadConduitAuth, LeadConduitHook
from sandbox.vendors.leadconduit import DEFAULT_API_KEY

WINDOW = Window(datetime(2024, 6, 1, 5, tzinfo=timezone.utc), datetime(2024, 6, 1, 6, tzinfo=timezone.utc))
PARAMS = {"sort": "asc", "limit": 2, "start": "2024-06-01T05:00:00.000Z", "end": "2024-06-01T05:59:59.999Z"}


class RenewingHook(LeadConduitHook):
    """Starts with the connection's (stale) key; renewal switches to ``fresh`` and counts itself."""

    def __init__(self, *args, fresh: str | None = DEFAULT_API_KEY, expiring: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fresh = fresh
        self.expiring = expiring
        self.renewed = 0

    def renew_credentials(self) -> bool:
        if self.fresh is None:
            return False
        self.renewed += 1
        self.expiring = False
        self.session.auth = LeadConduitAuth(self.fresh)
        return True

    def credentials_expiring(self) -> bool:
        return self.expiring

    def secrets(self):
        return (*super().secrets(), self.fresh)


@pytest.fixture
def stale_key(clean_sandbox, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_LEADCONDUIT_DEFAULT",
                       vendor_conn("leadconduit", clean_sandbox.vendor_url("leadconduit"), "stale-key"))
    return clean_sandbox


def sent(sandbox) -> list[str]:
    return [r["auth"] for r in sandbox.client.requests("leadconduit") if r["path"] == "/events"]


def test_a_401_renews_once_and_the_same_call_is_sent_again(stale_key):
    hook = RenewingHook()

    body = hook.request_json("GET", "/events", params=PARAMS, window=WINDOW)

    assert len(body) == 2
    assert sent(stale_key) == ["bad", "ok"]
    assert hook.renewed == 1 and hook.stats.renewals == 1 and hook.stats.retries == 0


def test_credentials_about_to_expire_are_renewed_before_the_call(stale_key):
    hook = RenewingHook(expiring=True)

    hook.request_json("GET", "/events", params=PARAMS, window=WINDOW)
    hook.request_json("GET", "/events", params=PARAMS, window=WINDOW)

    assert sent(stale_key) == ["ok", "ok"], "no call went out with the expiring credentials"
    assert hook.renewed == 1


def test_a_401_after_renewal_fails_without_a_second_renewal(stale_key):
    hook = RenewingHook(fresh="still-wrong")

    with pytest.raises(VendorRejectedError, match="HTTP 401"):
        hook.request_json("GET", "/events", params=PARAMS, window=WINDOW)

    assert sent(stale_key) == ["bad", "bad"]
    assert hook.renewed == 1


def test_a_hook_with_nothing_to_renew_fails_on_the_first_401(stale_key):
    hook = RenewingHook(fresh=None)

    with pytest.raises(VendorRejectedError, match="HTTP 401"):
        hook.request_json("GET", "/events", params=PARAMS, window=WINDOW)

    assert sent(stale_key) == ["bad"]


class PacedHook(LeadConduitHook):
    """LeadConduit's hook under a made-up limit of ``calls`` per ``period`` seconds."""

    limit = RateLimit(calls=10, period_seconds=1.0)

    def rate_limit(self) -> RateLimit:
        return self.limit


def test_calls_are_spaced_by_the_limit_and_the_waits_are_counted(clean_sandbox):
    hook = PacedHook()
    hook.pacer = LocalPacer()
    sends: list[float] = []
    original = hook.session.request

    def timed(*args, **kwargs):
        sends.append(time.monotonic())
        return original(*args, **kwargs)

    hook.session.request = timed
    for _ in range(4):
        hook.request_json("GET", "/events", params=PARAMS, window=WINDOW)

    gaps = [b - a for a, b in zip(sends, sends[1:])]
    assert len(sends) == 4 and all(gap >= 0.1 - 0.01 for gap in gaps), gaps
    assert hook.stats.paced_seconds >= 0.25


def test_the_warehouse_pacer_shares_one_budget_between_processes(warehouse):
    key = f"test:{uuid.uuid4()}"
    first, second = WarehousePacer("leads_warehouse"), WarehousePacer("leads_warehouse")
    try:
        waits = [first.reserve(key, 10.0), second.reserve(key, 10.0), first.reserve(key, 10.0)]
    finally:
        first.close()
        second.close()

    assert waits[0] == pytest.approx(0, abs=0.5)
    assert waits[1] == pytest.approx(10, abs=0.5), "the second pacer waits for the slot after the first's"
    assert waits[2] == pytest.approx(20, abs=0.5)
    other = WarehousePacer("leads_warehouse")
    try:
        assert other.reserve(f"test:{uuid.uuid4()}", 10.0) == pytest.approx(0, abs=0.5), "keys do not share slots"
    finally:
        other.close()


def test_the_warehouse_pacer_falls_back_to_this_process_when_the_warehouse_is_unusable(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_NO_WAREHOUSE", "postgres://nobody@127.0.0.1:1/none")
    pacer = WarehousePacer("no_warehouse")

    assert pacer.reserve("k", 5.0) == pytest.approx(0, abs=0.1)
    assert pacer.reserve("k", 5.0) == pytest.approx(5, abs=0.1)
