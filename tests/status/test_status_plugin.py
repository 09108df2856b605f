"""Airflow finds the status page's plugin by its entry point and serves it, behind its login, inside its own API server."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from fastapi.testclient import TestClient

from lead_pipelines.status.plugin import URL_PREFIX, URL_ROUTE, LeadPipelinesStatusPlugin


def test_the_package_registers_the_plugin_by_entry_point():
    (found,) = [ep for ep in entry_points(group="airflow.plugins") if ep.name == "lead_pipelines_status"]

    assert found.load() is LeadPipelinesStatusPlugin


def test_airflows_plugin_manager_loads_the_app_and_the_nav_view():
    from airflow import plugins_manager

    plugins, errors = plugins_manager._get_plugins()
    apps, _ = plugins_manager.get_fastapi_plugins()
    views, _ = plugins_manager._get_ui_plugins()

    assert "lead_pipelines_status" in [p.name for p in plugins] and not errors
    (app,) = [a for a in apps if a["name"] == "Lead pipelines"]
    assert app["url_prefix"] == URL_PREFIX
    (view,) = [v for v in views if v["name"] == "Lead pipelines"]
    assert view["url_route"] == URL_ROUTE and view["destination"] == "nav" and view["href"] == "lead-pipelines/"


@pytest.fixture(scope="module")
def airflow_api():
    """Airflow's own API server app (core: UI, REST API and the plugins' apps), in this process."""
    from airflow.api_fastapi.app import create_app
    from airflow.utils import db

    db.initdb()
    return create_app(apps="core")


def test_airflows_api_server_mounts_the_page_behind_its_login(clean_warehouse, airflow_api):
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    browser = TestClient(airflow_api)
    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))

    assert browser.get(f"{URL_PREFIX}/").status_code == 401
    assert browser.get(f"{URL_PREFIX}/panels/freshness").status_code == 401
    browser.cookies.set("_token", token)
    page = browser.get(f"{URL_PREFIX}/")
    assert page.status_code == 200 and "<h1>Lead pipelines</h1>" in page.text
    assert browser.get(f"{URL_PREFIX}/panels/freshness").json()["rows"][0]["stream"] == "leadconduit.events"
    plugins = browser.get("/api/v2/plugins").json()["plugins"]
    (ours,) = [p for p in plugins if p["name"] == "lead_pipelines_status"]
    assert [v["url_route"] for v in ours["external_views"]] == [URL_ROUTE]
