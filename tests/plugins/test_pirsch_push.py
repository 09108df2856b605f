"""Pushing mart.lead_aggregates to Pirsch: each aggregate arrives once, lost answers are read back, not resent."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from devtools.testing import vendor_conn
from lead_pipelines.common.errors import VendorAPIError
from lead_pipelines.common.secrets import scrub_personal
from lead_pipelines.common.windows import Window
from lead_pipelines.pirsch import hook as pirsch_hook
from lead_pipelines.pirsch.hook import PirschHook
from lead_pipelines.pirsch.push import COUNTS, EVENT_NAME, PersonalDataError, push_aggregates
from sandbox.vendors.pirsch.data import HOSTNAME

UTC = timezone.utc
JUNE_1 = Window(datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 6, 2, tzinfo=UTC))
BATCH = "/api/v1/event/batch"


@pytest.fixture()
def env(clean_warehouse, clean_sandbox, monkeypatch):
    """An empty outbox and mart, the sandbox with no token cached, and a warehouse connection."""
    monkeypatch.setattr(pirsch_hook, "_TOKENS", {})
    clean_warehouse.execute("TRUNCATE mart.lead_aggregates")
    with psycopg.connect(clean_warehouse.conninfo) as conn:
        yield conn


def aggregate(warehouse, start: datetime, grain: str = "hour", source: str = "leadconduit", channel: str = "google",
              **counts: int) -> None:
    """Insert one aggregate row."""
    end = start + (timedelta(hours=1) if grain == "hour" else timedelta(days=1))
    values = {c: counts.get(c, 0) for c in COUNTS}
    columns = ", ".join(values)
    placeholders = ", ".join(f"%({c})s" for c in values)
    warehouse.execute(
        f"INSERT INTO mart.lead_aggregates (grain, period_start, period_end, source, channel, {columns}) "
        f"VALUES (%(grain)s, %(start)s, %(end)s, %(source)s, %(channel)s, {placeholders})",
        {"grain": grain, "start": start, "end": end, "source": source, "channel": channel, **values})


def seed_day(warehouse) -> None:
    """Three hours and the day of 1 June, and an hour of 2 June (outside the window)."""
    for hour, source in ((2, "leadconduit"), (0, "leadconduit"), (1, "getlandy")):
        aggregate(warehouse, JUNE_1.start + timedelta(hours=hour), source=source, new_leads=hour + 1,
                  touchpoints=hour + 3)
    aggregate(warehouse, JUNE_1.start, grain="day", channel="cpc", new_leads=6, visitors=40, views=90)
    aggregate(warehouse, JUNE_1.end, new_leads=9)


def received(sandbox) -> list[dict]:
    """The events the simulator received, in arrival order."""
    writes = sandbox.client._call("GET", "/pirsch/writes")["writes"]
    return [w["body"] for w in writes if w["endpoint"].startswith("event")]


def outbox(warehouse, state: str | None = None) -> list[dict]:
    rows = warehouse.query("SELECT push_key, version, kind, state, attempts, resolved_by, payload::text "
                           "FROM ops.push_outbox ORDER BY push_key")
    names = ("push_key", "version", "kind", "state", "attempts", "resolved_by", "payload")
    found = [dict(zip(names, r)) for r in rows]
    return [r for r in found if state is None or r["state"] == state]


def assert_received_equals_sent(sandbox, warehouse) -> None:
    keys = [e["event_meta"]["lp_key"] for e in received(sandbox)]
    assert len(keys) == len(set(keys)), "no event arrived twice"
    assert sorted(keys) == [r["push_key"] for r in outbox(warehouse, "sent")]


def test_every_aggregate_of_the_window_is_sent_once_in_batches_by_time_and_a_rerun_sends_nothing(env, clean_sandbox,
                                                                                               clean_warehouse):
    seed_day(clean_warehouse)

    summary = push_aggregates(env, PirschHook(), JUNE_1, batch_size=3)

    events = received(clean_sandbox)
    assert (summary.planned, summary.sent, summary.batches) == (4, 4, 2)
    assert_received_equals_sent(clean_sandbox, clean_warehouse)
    assert [e["time"] for e in events] == ["2024-06-01T00:00:00Z", "2024-06-01T00:00:00Z", "2024-06-01T01:00:00Z",
                                           "2024-06-01T02:00:00Z"], "sorted by time, 2 June left out"
    posts = [r for r in clean_sandbox.client.requests("pirsch") if r["method"] == "POST" and r["path"] == BATCH]
    assert [len(r["body"]) for r in posts] == [3, 1] and all(r["status"] == 200 for r in posts)
    hour = next(e for e in events if e["event_meta"]["grain"] == "hour" and e["time"].endswith("02:00:00Z"))
    assert {k: v for k, v in hour.items() if k != "event_meta"} == {
        "event_name": EVENT_NAME, "url": f"https://{HOSTNAME}/lead-pipelines/aggregates", "ip": "127.0.0.1",
        "user_agent": hour["user_agent"], "non_interactive": True, "disable_bot_filter": True,
        "time": "2024-06-01T02:00:00Z"}
    assert hour["user_agent"].startswith("lead-pipelines/")
    meta = hour["event_meta"]
    assert meta["lp_key"].startswith("hour|2024-06-01T02:00:00Z|") and meta["lp_key"].endswith("|v1")
    assert {k: meta[k] for k in ("kind", "version", "grain", "period_start", "source", "channel", "new_leads",
                                 "touchpoints", "visitors")} == {
        "kind": "aggregate", "version": "1", "grain": "hour", "period_start": "2024-06-01T02:00:00Z",
        "source": "leadconduit", "channel": "google", "new_leads": "3", "touchpoints": "5", "visitors": "0"}
    assert all(isinstance(v, str) for e in events for v in e["event_meta"].values())
    assert all(len(e["event_meta"]) <= 20 for e in events)
    assert {r["resolved_by"] for r in outbox(clean_warehouse)} == {"response"}

    again = push_aggregates(env, PirschHook(), JUNE_1, batch_size=3)

    assert (again.planned, again.sent, again.already_sent, again.batches) == (0, 0, 4, 0)
    assert len(received(clean_sandbox)) == 4


def test_a_changed_aggregate_is_sent_once_more_as_a_correction_with_its_delta(env, clean_sandbox, clean_warehouse):
    seed_day(clean_warehouse)
    push_aggregates(env, PirschHook(), JUNE_1)
    clean_warehouse.execute("UPDATE mart.lead_aggregates SET new_leads = new_leads + 2, visitors = visitors - 1 "
                            "WHERE grain = 'day'")

    summary = push_aggregates(env, PirschHook(), JUNE_1)
    push_aggregates(env, PirschHook(), JUNE_1)

    assert (summary.corrections, summary.sent, summary.already_sent) == (1, 1, 3)
    correction = received(clean_sandbox)[-1]["event_meta"]
    assert {k: correction[k] for k in ("kind", "version", "previous_version", "delta", "new_leads", "visitors")} == {
        "kind": "correction", "version": "2", "previous_version": "1", "delta": "new_leads:+2,visitors:-1",
        "new_leads": "8", "visitors": "39"}
    assert correction["lp_key"].startswith("day|2024-06-01T00:00:00Z|") and correction["lp_key"].endswith("|v2")
    assert [(r["version"], r["kind"]) for r in outbox(clean_warehouse) if r["push_key"].startswith("day|")] == [
        (1, "aggregate"), (2, "correction")]
    assert len(received(clean_sandbox)) == 5
    assert_received_equals_sent(clean_sandbox, clean_warehouse)


def test_a_lost_answer_is_resolved_by_reading_the_events_back_not_by_resending(env, clean_sandbox, clean_warehouse,
                                                                              monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PIRSCH_DEFAULT",
                       vendor_conn("pirsch", clean_sandbox.vendor_url("pirsch"), timeout=0.5))
    seed_day(clean_warehouse)
    # Pirsch takes the first batch, then its answer is held past the hook's 0.5 s read timeout.
    clean_sandbox.client.add_fault("pirsch", "lost_response", path=BATCH, method="POST", delay=1.5)

    summary = push_aggregates(env, PirschHook(), JUNE_1, batch_size=3)

    assert (summary.resolved_by_readback, summary.sent, summary.batches) == (3, 1, 2)
    assert len(received(clean_sandbox)) == 4
    assert_received_equals_sent(clean_sandbox, clean_warehouse)
    assert sorted(r["resolved_by"] for r in outbox(clean_warehouse)) == ["readback"] * 3 + ["response"]
    lookups = [r for r in clean_sandbox.client.requests("pirsch") if r["path"] == "/api/v1/statistics/event/list"]
    assert lookups and all(q["query"]["event"] == [EVENT_NAME] and q["query"]["tz"] == ["Europe/Berlin"]
                           for q in lookups)
    assert sorted(k for q in lookups for k in q["query"]["meta_lp_key"]) == sorted(
        r["push_key"] for r in outbox(clean_warehouse) if r["resolved_by"] == "readback")


def test_a_refused_batch_stays_sending_fails_the_try_and_the_next_try_sends_it_once(env, clean_sandbox,
                                                                                   clean_warehouse):
    seed_day(clean_warehouse)
    clean_sandbox.client.add_fault("pirsch", "503", path=BATCH, method="POST")

    with pytest.raises(VendorAPIError):
        push_aggregates(env, PirschHook(), JUNE_1)

    assert received(clean_sandbox) == []
    assert {(r["state"], r["attempts"]) for r in outbox(clean_warehouse)} == {("sending", 1)}
    summary = push_aggregates(env, PirschHook(), JUNE_1)
    assert (summary.resent_after_readback, summary.sent) == (4, 4)
    assert {(r["state"], r["attempts"]) for r in outbox(clean_warehouse)} == {("sent", 2)}
    assert_received_equals_sent(clean_sandbox, clean_warehouse)


def test_a_crash_between_marking_sending_and_the_call_is_read_back_and_sent_once(env, clean_sandbox,
                                                                                clean_warehouse, monkeypatch):
    seed_day(clean_warehouse)
    crashing = PirschHook()

    def worker_dies(items):
        raise KeyboardInterrupt  # the batch was committed 'sending'; its call never left

    monkeypatch.setattr(crashing, "send_events", worker_dies)
    with pytest.raises(KeyboardInterrupt):
        push_aggregates(env, crashing, JUNE_1)
    assert {r["state"] for r in outbox(clean_warehouse)} == {"sending"} and received(clean_sandbox) == []

    summary = push_aggregates(env, PirschHook(), JUNE_1)

    assert (summary.resent_after_readback, summary.resolved_by_readback, summary.sent) == (4, 0, 4)
    assert len(received(clean_sandbox)) == 4
    assert_received_equals_sent(clean_sandbox, clean_warehouse)


def test_rows_left_sending_after_their_call_arrived_are_found_and_not_resent(env, clean_sandbox, clean_warehouse):
    seed_day(clean_warehouse)
    push_aggregates(env, PirschHook(), JUNE_1)
    # The worker died after Pirsch took the batch, before 'sent' was committed.
    clean_warehouse.execute("UPDATE ops.push_outbox SET state = 'sending', sent_at = NULL, resolved_by = NULL")

    summary = push_aggregates(env, PirschHook(), JUNE_1)

    assert (summary.resolved_by_readback, summary.sent, summary.already_sent) == (4, 0, 4)
    assert len(received(clean_sandbox)) == 4
    assert {r["resolved_by"] for r in outbox(clean_warehouse)} == {"readback"}


def test_a_dry_run_sends_nothing_and_writes_nothing(env, clean_sandbox, clean_warehouse):
    seed_day(clean_warehouse)

    summary = push_aggregates(env, PirschHook(), JUNE_1, dry_run=True)

    assert summary.dry_run and summary.planned == 4 and summary.sent == 0
    assert [e["time"] for e in summary.events] == ["2024-06-01T00:00:00Z", "2024-06-01T00:00:00Z",
                                                   "2024-06-01T01:00:00Z", "2024-06-01T02:00:00Z"]
    assert all(e["event_meta"]["lp_key"].endswith("|v1") for e in summary.events)
    assert outbox(clean_warehouse) == [] and received(clean_sandbox) == []
    assert all(r["method"] == "GET" for r in clean_sandbox.client.requests("pirsch") if r["path"] != "/api/v1/token")
    assert push_aggregates(env, PirschHook(), JUNE_1).sent == 4, "the real run sends what the dry run showed"


@pytest.mark.parametrize("channel", ["jane.doe@example.com", "+1 (555) 010-9999", "call 0049 30 1234567"])
def test_a_channel_that_looks_like_an_email_or_a_phone_is_refused_before_anything_is_planned(
        env, clean_sandbox, clean_warehouse, channel):
    seed_day(clean_warehouse)
    aggregate(clean_warehouse, JUNE_1.start + timedelta(hours=3), channel=channel, new_leads=1)

    with pytest.raises(PersonalDataError, match="channel looks like an email address or a phone number"):
        push_aggregates(env, PirschHook(), JUNE_1)

    assert outbox(clean_warehouse) == [] and received(clean_sandbox) == []


def test_no_event_carries_personal_data(env, clean_sandbox, clean_warehouse):
    seed_day(clean_warehouse)
    aggregate(clean_warehouse, JUNE_1.start + timedelta(hours=4), source="giosg", channel="utm-summer_2024", visitors=7)

    push_aggregates(env, PirschHook(), JUNE_1)

    events = received(clean_sandbox)
    assert len(events) == 5
    assert all(e["ip"] == "127.0.0.1" for e in events)
    text = json.dumps(events)
    assert scrub_personal(text) == text, "no email address or phone number in what was sent"
