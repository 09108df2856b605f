"""``make airflow``'s set-up without starting Airflow: its environment, its lock, the pools it creates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.airflow_local import AlreadyRunningError, LocalAirflow, _take_lock, airflow_environ, free_port
from devtools.paths import DAGS, ROOT
from lead_pipelines.pools import pools
from lead_pipelines.registry import SOURCES


def test_environment_is_airflows_own_whatever_the_caller_set(tmp_path):
    caller = {"PATH": "/usr/bin:/bin", "AIRFLOW_HOME": "/elsewhere", "AIRFLOW_CONN_LEADS_WAREHOUSE": "{}",
              "AIRFLOW__CORE__PARALLELISM": "32", "HOME": "/root"}
    env = airflow_environ(tmp_path, 8123, "postgresql+psycopg2://postgres@/meta?host=/s", base=caller,
                          extra={"AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING"})
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    assert (Path(env["PATH"].split(os.pathsep)[0]) / "airflow").exists()
    assert not any(k.startswith("AIRFLOW_CONN_") for k in env), "connections live in the metadata database"
    assert env["AIRFLOW_HOME"] == str(tmp_path)
    # Plugins come from the installed package's entry point; a scan of plugins/ would log pathspec's warning.
    assert (env["AIRFLOW__CORE__DAGS_FOLDER"], env["AIRFLOW__CORE__PLUGINS_FOLDER"]) == (str(DAGS), str(tmp_path / "plugins"))
    assert env["AIRFLOW__CORE__TEST_CONNECTION"] == "Enabled"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert (env["AIRFLOW__CORE__EXECUTOR"], env["AIRFLOW__CORE__PARALLELISM"]) == ("LocalExecutor", "4")
    assert (env["AIRFLOW__API__HOST"], env["AIRFLOW__API__PORT"]) == ("127.0.0.1", "8123")
    assert env["AIRFLOW__API__BASE_URL"] == "http://127.0.0.1:8123"
    assert env["AIRFLOW__LOGGING__LOGGING_LEVEL"] == "WARNING"
    assert env["HOME"] == "/root"


def test_pools_are_one_per_source_sized_from_the_registry():
    found = pools()
    assert set(found) == {s.pool for s in SOURCES if s.pool}
    for source in SOURCES:
        if source.pool:
            assert found[source.pool]["slots"] == source.pool_slots
            assert source.display_name in found[source.pool]["description"]


def test_pools_print_as_airflow_pools_import_reads_them():
    out = subprocess.run([sys.executable, "-m", "lead_pipelines.pools"], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    printed = json.loads(out.stdout)
    assert printed == pools()
    assert all({"slots", "description"} <= set(p) for p in printed.values())


def test_a_second_start_on_a_live_home_says_so_and_starts_nothing(tmp_path):
    _take_lock(tmp_path / "local_airflow.pid", "http://127.0.0.1:1")  # held by this live process
    with pytest.raises(AlreadyRunningError, match="already running"):
        LocalAirflow(port=free_port(), home=tmp_path).start()
    assert json.loads((tmp_path / "local_airflow.pid").read_text())["pid"] == os.getpid()
    assert not (tmp_path / "standalone.log").exists()


def test_make_airflow_exits_non_zero_while_another_runs(tmp_path):
    _take_lock(tmp_path / "local_airflow.pid", "http://127.0.0.1:1")
    out = subprocess.run([sys.executable, "-m", "devtools.airflow_local", "--home", str(tmp_path),
                          "--port", str(free_port())], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 1
    assert f"already running from {tmp_path}" in out.stderr


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "local_airflow.pid").write_text(json.dumps({"pid": dead.pid, "url": "http://127.0.0.1:1"}))
    _take_lock(tmp_path / "local_airflow.pid", "http://127.0.0.1:2")
    assert json.loads((tmp_path / "local_airflow.pid").read_text()) == {"pid": os.getpid(), "url": "http://127.0.0.1:2"}


def test_a_taken_port_is_refused_before_anything_starts(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(AlreadyRunningError, match="port"):
            LocalAirflow(port=busy.getsockname()[1], home=tmp_path).start()
    assert not (tmp_path / "local_airflow.pid").exists(), "a failed start releases the lock"
