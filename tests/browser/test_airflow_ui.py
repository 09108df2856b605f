"""What a person sees in Airflow's UI, in a real browser: DAGs, a DAG's docs, a task log, the asset graph, the status page.

Run by ``make ui-check`` (see ``conftest.py``); each page's screenshot lands in ``.state/screenshots/``.
"""

from __future__ import annotations

import re
from datetime import timezone

from playwright.sync_api import expect

from lead_pipelines.registry import SOURCES

DAG_IDS = sorted({"unified_leads", *(s.dag_id for s in SOURCES)})
#: The window the landed run covers, as the task log writes it.
WINDOW = "[2024-06-01T00:00:00Z, 2024-06-01T01:00:00Z)"
PANEL_TITLES = ("Freshness", "Recent windows", "Failures", "Schema drift", "Push outbox")


def test_the_dag_list_shows_every_dag(page, airflow, screenshot):
    airflow.wait_for_dags(DAG_IDS)

    page.goto(f"{airflow.url}/dags")

    expect(page.get_by_role("heading", name=f"{len(DAG_IDS)} Dags", exact=True)).to_be_visible()
    for dag_id in DAG_IDS:
        expect(page.get_by_role("link", name=dag_id, exact=True).first).to_be_visible()
    screenshot(page, "01-dag-list")


def test_a_source_dags_page_shows_its_docs(page, airflow, source_dag, screenshot):
    page.goto(f"{airflow.url}/dags/{source_dag}")
    page.get_by_role("button", name="Dag Docs").click()

    docs = page.get_by_role("dialog")
    expect(docs.get_by_role("heading", name="LeadConduit sync (hourly Airflow DAG)")).to_be_visible()
    expect(docs.get_by_text("Lands every LeadConduit event", exact=False)).to_be_visible()
    expect(docs.get_by_text("leadconduit_default", exact=True)).to_be_visible()
    screenshot(page, "02-dag-docs")


def test_a_landing_task_log_names_the_window_and_its_counts(page, airflow, source_dag, landed_run, screenshot):
    assert landed_run["state"] == "success", landed_run
    ((records, inserted),) = airflow.warehouse_query(
        "SELECT records, inserted FROM ops.sync_runs WHERE airflow_run_id = %s AND task_id = 'land_events'",
        (landed_run["dag_run_id"],))

    page.goto(f"{airflow.url}/dags/{source_dag}/runs/{landed_run['dag_run_id']}/tasks/land_events")

    expect(page.get_by_text(f"Landing LeadConduit events for window {WINDOW} into raw.leadconduit_events")
           ).to_be_visible()
    expect(page.get_by_text(f"LeadConduit events {WINDOW}: 1 pages, {records} records: {inserted} inserted",
                            exact=False)).to_be_visible()
    assert records > 0
    screenshot(page, "03-task-log")


def test_the_asset_graph_shows_raw_tables_marts_and_pushes(page, airflow, screenshot):
    page.goto(f"{airflow.url}/assets")
    page.get_by_role("link", name="mart.unified_leads", exact=True).click()

    graph = page.get_by_role("application")
    for name in ("getlandy_sync", "leadconduit_sync", "raw.getlandy_leads", "raw.leadconduit_events",
                 "unified_leads", "mart.unified_leads", "mart.lead_aggregates", "push.pirsch_events"):
        expect(graph.get_by_role("link", name=name, exact=True)).to_be_visible()
    screenshot(page, "04-asset-graph")


def test_the_lead_pipelines_page_shows_its_panels_inside_airflow(page, airflow, landed_run, screenshot):
    ((window_start, window_end, records),) = airflow.warehouse_query(
        "SELECT window_start, window_end, records FROM ops.sync_windows WHERE vendor = 'leadconduit' "
        "ORDER BY window_start DESC LIMIT 1")

    page.goto(f"{airflow.url}/")
    page.get_by_role("button", name="Browse").click()
    page.get_by_role("menuitem", name="Lead pipelines").click()

    frame = page.frame_locator("iframe[title='Lead pipelines']")
    expect(frame.get_by_role("heading", name="Lead pipelines", exact=True)).to_be_visible()
    streams = sum(len(source.streams) for source in SOURCES)
    expect(frame.locator("p.summary")).to_contain_text(re.compile(rf"\d+ of {streams} streams late"))
    for title in PANEL_TITLES:
        expect(frame.get_by_role("heading", name=title, exact=True)).to_be_visible()
    newest = frame.locator("#freshness tr", has_text="leadconduit.events")
    expect(newest).to_contain_text(f"{window_start.astimezone(timezone.utc):%Y-%m-%d %H:%M}")
    expect(newest).to_contain_text(f"{window_end.astimezone(timezone.utc):%Y-%m-%d %H:%M}")
    expect(newest.get_by_role("cell", name=f"{records:,}", exact=True)).to_be_visible()
    expect(frame.locator("#outbox")).to_contain_text("nothing pushed yet")
    screenshot(page, "05-lead-pipelines")
    page.goto(f"{airflow.url}/lead-pipelines/")
    expect(page.get_by_role("heading", name="Failures", exact=True)).to_be_visible()
    screenshot(page, "06-lead-pipelines-whole-page")
