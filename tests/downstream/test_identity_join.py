"""The identity join over real landings: the sandbox's shared people are planted across LeadConduit,
GetLandy and LeadBoxer, and the sandbox says which records belong to whom."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from devtools.testing import SANDBOX_END, SANDBOX_START
from lead_pipelines.common.windows import Window
from lead_pipelines.downstream.build import build_links, periods, rebuild_aggregates

WINDOW = Window(datetime(2024, 6, 1, 9, tzinfo=timezone.utc), datetime(2024, 6, 1, 10, tzinfo=timezone.utc))
SOURCE_DAGS = {"leadconduit": "leadconduit_sync", "getlandy": "getlandy_sync", "leadboxer": "leadboxer_sync"}


def land(runner, vendors) -> None:
    for vendor in vendors:
        run = runner.run_window(SOURCE_DAGS[vendor], WINDOW)
        assert run.state == "success", (vendor, run.task_states)


def build(warehouse) -> None:
    """Build as the DAG does: as the loader role, links then the touched hours' aggregates."""
    with psycopg.connect(warehouse.loader_conninfo) as conn:
        summary = build_links(conn)
        hours, days = periods(summary.touched_hours, WINDOW)
        rebuild_aggregates(conn, hours, days)


def links(warehouse) -> dict[tuple[str, str], str]:
    return {(source, rid): uid for source, rid, uid in
            warehouse.query("SELECT source, record_id, unified_id FROM mart.lead_links")}


def marts(warehouse) -> dict[str, list[tuple]]:
    return {
        "links": warehouse.query("SELECT source, stream, record_id, occurred_at, email_key, phone_key, unified_id "
                                 "FROM mart.lead_links ORDER BY 1, 2, 3"),
        "leads": warehouse.query("SELECT unified_id, matched_by, email_key, phone_key, first_seen_at, first_source, "
                                 "last_seen_at, sources, record_count FROM mart.unified_leads ORDER BY 1"),
        "touchpoints": warehouse.query("SELECT source, stream, record_id, unified_id, channel, outcome "
                                       "FROM mart.touchpoints ORDER BY 1, 2, 3"),
        "aggregates": warehouse.query("SELECT grain, period_start, source, channel, touchpoints, new_leads, "
                                      "multi_source_leads, outcome_success, outcome_failure, outcome_error "
                                      "FROM mart.lead_aggregates ORDER BY 1, 2, 3, 4"),
    }


@pytest.fixture(scope="module")
def joined(runner, warehouse, sandbox):
    """The three lead sources landed for one hour and built once; the marts as they stood."""
    sandbox.client.reset()
    warehouse.reset()
    land(runner, SOURCE_DAGS)
    build(warehouse)
    people = {}
    for vendor in SOURCE_DAGS:
        # A LeadBoxer window lands the leads active in it, whenever their last event: ask for all of them.
        start, end = (SANDBOX_START, SANDBOX_END) if vendor == "leadboxer" else (WINDOW.start, WINDOW.end)
        for rid, person in sandbox.client.people(vendor, start, end).items():
            people[(vendor, rid)] = person
    return {"people": people, "links": links(warehouse), "marts": marts(warehouse)}


def test_people_planted_across_sources_are_one_unified_lead_each(joined):
    people, linked = joined["people"], joined["links"]
    ids_of_person: dict[str, set[str]] = defaultdict(set)
    sources_of_person: dict[str, set[str]] = defaultdict(set)
    for (vendor, rid), person in people.items():
        if (vendor, rid) in linked:
            ids_of_person[person].add(linked[(vendor, rid)])
            sources_of_person[person].add(vendor)
    assert len(ids_of_person) > 50
    split = {p: ids for p, ids in ids_of_person.items() if len(ids) > 1}
    assert not split, f"{len(split)} people split over several unified leads"
    persons_of_id: dict[str, set[str]] = defaultdict(set)
    for person, ids in ids_of_person.items():
        persons_of_id[next(iter(ids))].add(person)
    assert all(len(p) == 1 for p in persons_of_id.values()), "two people merged into one unified lead"
    across = [p for p, s in sources_of_person.items() if len(s) >= 2]
    three = [p for p, s in sources_of_person.items() if len(s) == 3]
    assert len(across) > 20 and three, (len(across), len(three))
    # Most of the planted records carry a usable key (the rest have no email and a phone typed in
    # another country's national form, which no default region can place).
    assert sum(1 for key in people if key in linked) / len(people) > 0.9


def test_people_who_share_only_a_name_are_not_joined(joined, warehouse):
    people, linked = joined["people"], joined["links"]
    planted_ids = {linked[key] for key in people if key in linked}
    strangers = {key: uid for key, uid in linked.items() if key not in people}
    assert len(strangers) > 100, "the sandbox plants people seen at one vendor only"
    assert not set(strangers.values()) & planted_ids
    # They do share names with planted people (names come from small pools): names alone never join.
    (shared_names,) = warehouse.query("""
        SELECT count(*) FROM raw.getlandy_leads AS g JOIN raw.leadconduit_events AS e
          ON g.payload #>> '{data,prenom}' = e.payload #>> '{vars,lead,first_name}'
         AND g.payload #>> '{data,nom}' = e.payload #>> '{vars,lead,last_name}'
        WHERE e.payload ->> 'type' = 'source'
    """)[0]
    assert shared_names > 0


def test_unified_lead_rows_describe_their_links(joined):
    leads = {row[0]: row for row in joined["marts"]["leads"]}
    by_id: dict[str, list[tuple]] = defaultdict(list)
    for link in joined["marts"]["links"]:
        by_id[link[6]].append(link)
    assert set(leads) == set(by_id), "every unified lead has a link and every link a unified lead"
    for uid, rows in by_id.items():
        _, matched_by, _email, _phone, first_seen, first_source, last_seen, sources, count = leads[uid]
        assert count == len(rows) and sorted(sources) == sorted({r[0] for r in rows})
        assert first_seen == min(r[3] for r in rows) and last_seen == max(r[3] for r in rows)
        assert matched_by == ("email" if any(r[4] for r in rows) else "phone")


def test_rebuilding_changes_nothing_and_another_landing_order_keeps_the_ids(joined, runner, warehouse, sandbox):
    build(warehouse)  # nothing new landed
    assert marts(warehouse) == joined["marts"]

    sandbox.client.reset()
    warehouse.reset()
    for vendor in reversed(list(SOURCE_DAGS)):  # LeadBoxer first, LeadConduit last, a build after each
        land(runner, [vendor])
        build(warehouse)
    assert marts(warehouse) == joined["marts"]
