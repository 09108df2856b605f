"""The shipped docker-compose.yaml, checked statically (these machines cannot run Docker)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = ("airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer", "airflow-worker")
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|_KEY|AIRFLOW_CONN_)", re.IGNORECASE)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def locked_airflow() -> str:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    (version,) = [p["version"] for p in lock["package"] if p["name"] == "apache-airflow"]
    return version


def test_every_service_has_an_image_or_a_build_and_a_health_check(compose):
    services = compose["services"]
    assert set(AIRFLOW_SERVICES) | {"metadata-db", "warehouse", "redis", "sandbox"} <= set(services)
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"


def test_the_airflow_version_is_the_locked_one(compose):
    version = locked_airflow()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(rf"^ARG AIRFLOW_VERSION={re.escape(version)}$", dockerfile, re.MULTILINE)
    assert "FROM apache/airflow:${AIRFLOW_VERSION}-python" in dockerfile
    for name in AIRFLOW_SERVICES:
        service = compose["services"][name]
        assert service["build"] == "." and service["image"].endswith(f":{version}"), name


def test_the_celery_executor_runs_on_redis_and_workers_scale(compose):
    worker = compose["services"]["airflow-worker"]
    env = worker["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
    assert worker["command"] == "celery worker"
    assert "container_name" not in worker and "ports" not in worker, "a fixed name or port would stop --scale"
    assert compose["services"]["sandbox"]["profiles"] == ["sandbox"]


def test_no_secret_is_inlined(compose):
    def walk(value, where):
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, (str, int, float)) and SECRET_NAME.search(str(key)):
                    assert re.fullmatch(r"\$\{[A-Z_]+(:-[^}]*)?\}", str(item)), f"{where}.{key} is inlined"
                walk(item, f"{where}.{key}")
        elif isinstance(value, list):
            for n, item in enumerate(value):
                walk(item, f"{where}[{n}]")
        elif isinstance(value, str):
            # URLs with credentials take them from the environment only.
            for user_pass in re.findall(r"://[^:/@\s]+:([^@\s]+)@", value):
                assert user_pass.startswith("${"), f"{where} carries a password"
    walk(compose, "compose")
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in ignored and (ROOT / ".env.example").is_file()
    assert all("change-me" in line or "<" in line or not SECRET_NAME.search(line.split("=", 1)[0])
               for line in (ROOT / ".env.example").read_text().splitlines() if "=" in line and not line.startswith("#"))


def test_the_warehouse_and_the_metadata_database_are_distinct(compose):
    services = compose["services"]
    metadata_url = compose["x-airflow-common"]["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert "@metadata-db/" in metadata_url
    warehouse = (ROOT / ".env.example").read_text()
    assert '"host": "warehouse"' in warehouse
    assert services["metadata-db"]["volumes"] != services["warehouse"]["volumes"]
    assert services["metadata-db"]["environment"]["POSTGRES_DB"] != services["warehouse"]["environment"]["POSTGRES_DB"]


def test_compose_sets_what_the_native_check_runs_on(compose):
    """make distributed-check proves the topology with the settings every compose container has."""
    from devtools.distributed import DEPLOYMENT_SETTINGS

    env = compose["x-airflow-common"]["environment"]
    assert set(DEPLOYMENT_SETTINGS) <= set(env), set(DEPLOYMENT_SETTINGS) - set(env)
    for shared in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__CORE__FERNET_KEY"):
        name = re.fullmatch(r"\$\{([A-Z_]+)\}", env[shared]).group(1)
        assert re.search(rf"^{name}=", (ROOT / ".env.example").read_text(), re.MULTILINE), name
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://") and "@metadata-db/" in env[
        "AIRFLOW__CELERY__RESULT_BACKEND"]
    assert compose["x-airflow-common"]["volumes"] == ["airflow-logs:/opt/airflow/logs"]


def test_the_helm_values_install_the_package_image_and_take_connections_from_a_secret():
    values = yaml.safe_load((ROOT / "deploy" / "helm" / "values.yaml").read_text())
    version = locked_airflow()
    assert values["executor"] == "CeleryExecutor"
    assert values["airflowVersion"] == version and values["images"]["airflow"]["tag"] == version
    env_from = yaml.safe_load(values["extraEnvFrom"])
    assert env_from == [{"secretRef": {"name": "lead-pipelines-connections"}}]
    assert values["workers"]["replicas"] >= 2
    assert "AIRFLOW_CONN_" not in yaml.safe_dump(values), "connections come from the secret only"
