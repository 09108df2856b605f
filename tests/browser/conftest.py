"""The browser check (``make ui-check``): a local Airflow, one landed window, and headless Chromium from Debian.

Collected only under ``make ui-check`` (``LEAD_PIPELINES_UI_CHECK=1``): it needs Debian's ``chromium``
package, which that target installs, so ``make test`` leaves this folder out. Playwright drives the
machine's ``/usr/bin/chromium`` (``executable_path``); no browser build is downloaded.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from devtools.airflow_local import LocalAirflow, free_port
from devtools.paths import STATE
from devtools.warehouse import scratch_database_name

if os.environ.get("LEAD_PIPELINES_UI_CHECK") != "1":
    collect_ignore_glob = ["test_*.py"]

CHROMIUM = os.environ.get("LEAD_PIPELINES_CHROMIUM", "/usr/bin/chromium")
#: Where the screenshots go (git-ignored; the README names it).
SCREENSHOTS = STATE / "screenshots"
#: The window the check lands: a manual run of logical date L covers [L - 1 h, L).
LOGICAL_DATE = "2024-06-01T01:00:00Z"
SOURCE_DAG = "leadconduit_sync"


@pytest.fixture(scope="session")
def airflow(pg_server, tmp_path_factory):
    """A running local Airflow (``make airflow``'s) on private databases, every DAG parsed."""
    name = scratch_database_name("leads_ui")
    local = LocalAirflow(port=free_port(), home=tmp_path_factory.mktemp("ui-airflow"), server=pg_server,
                         warehouse_db=name, metadata_db=f"{name}_meta", fresh=True)
    with local:
        yield local


@pytest.fixture(scope="session")
def landed_run(airflow) -> dict:
    """One window of the source DAG, run by Airflow's scheduler; return the finished DAG run.

    Unpausing also makes the scheduler start the DAG's latest hour (catchup is off); the DAG is paused
    again and every run left to finish, so what the pages show no longer changes.
    """
    airflow.wait_for_dags([SOURCE_DAG])
    assert airflow.api("PATCH", f"/api/v2/dags/{SOURCE_DAG}", json={"is_paused": False}).status_code == 200
    created = airflow.api("POST", f"/api/v2/dags/{SOURCE_DAG}/dagRuns", json={"logical_date": LOGICAL_DATE})
    assert created.status_code == 200, created.text
    run = wait_for_runs(airflow, SOURCE_DAG, created.json()["dag_run_id"])
    assert airflow.api("PATCH", f"/api/v2/dags/{SOURCE_DAG}", json={"is_paused": True}).status_code == 200
    wait_for_runs(airflow, SOURCE_DAG)
    return run


def wait_for_runs(airflow, dag_id: str, run_id: str | None = None, timeout: float = 300.0) -> dict | None:
    """Wait until the DAG's run ``run_id`` (or every run of the DAG) has finished; return that run."""
    deadline = time.monotonic() + timeout
    while True:
        runs = airflow.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100}).json()["dag_runs"]
        waiting = [r for r in runs if (run_id is None or r["dag_run_id"] == run_id) and r["state"] in ("queued", "running")]
        if not waiting:
            return next((r for r in runs if r["dag_run_id"] == run_id), None)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{dag_id} runs still unfinished after {timeout:.0f} s: {waiting}")
        time.sleep(2)


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium from Debian's package, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def page(browser, airflow):
    """A page signed in to Airflow through its login form, as the admin user."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(f"{airflow.url}/")
    page.locator("input[name=username]").fill(airflow.login.user)
    page.locator("input[name=password]").fill(airflow.login.password)
    page.locator("button[type=submit]").click()
    page.wait_for_url(lambda url: "/auth/" not in url)
    yield page
    context.close()


@pytest.fixture(scope="session")
def screenshot():
    """Return ``save(page, name)``: the page's screenshot as ``.state/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True, animations="disabled")
        return path

    return save


@pytest.fixture(scope="session")
def source_dag() -> str:
    """The source DAG whose page, docs and task log the check opens."""
    return SOURCE_DAG
