"""The machine a bench ran on, and the CPU time the sandbox and PostgreSQL spent during each run."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields start after the last ')'.
    return text.rsplit(")", 1)[1].split()


def process_cpu(pid: int) -> float | None:
    """Return the user and system CPU seconds of ``pid`` (all its threads), or None if gone."""
    fields = _stat(pid)
    return None if fields is None else (int(fields[11]) + int(fields[12])) / _TICK


def postgres_cpu() -> float | None:
    """Return the CPU seconds of every local PostgreSQL process, backends that already exited included.

    A backend's time moves into its postmaster's reaped-children counters when it exits, so the sum
    over postmasters (own + reaped) and live backends (own) only ever grows. None where no
    PostgreSQL process is visible (a remote server, no /proc).
    """
    procs = {}
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
        except OSError:
            continue
        fields = _stat(int(entry.name))
        if fields is not None:
            procs[int(entry.name)] = fields
    if not procs:
        return None
    total = 0
    for fields in procs.values():
        total += int(fields[11]) + int(fields[12])
        if int(fields[1]) not in procs:  # a postmaster: add its exited backends
            total += int(fields[13]) + int(fields[14])
    return total / _TICK


def busy_cpu() -> float | None:
    """Return the CPU seconds every core of the machine has spent busy since boot (None without /proc)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return None
    ticks = [int(f) for f in fields[:8]]
    return (sum(ticks) - ticks[3] - ticks[4]) / _TICK  # all but idle and iowait


def load_average() -> list[float] | None:
    """Return the 1, 5 and 15 minute load averages."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _first(path: str, prefix: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


#: What the landing lines run: changes here that are not committed make a result hard to reproduce.
MEASURED_PATHS = ("plugins", "include", "dags", "bench", "sandbox")


def _git(root: Path) -> str | None:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                             check=True).stdout.strip()
        # bench/results is what a run writes, not what it runs.
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *MEASURED_PATHS, ":!bench/results"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return None
    if not dirty:
        return rev
    return f"{rev} + uncommitted changes to {', '.join(sorted(line[3:] for line in dirty))}"


def machine(root: Path, postgres_version: str) -> dict[str, object]:
    """Describe the machine, the interpreters and the libraries a bench ran with."""
    mem = _first("/proc/meminfo", "MemTotal")
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(int(mem.split()[0]) / 1024 / 1024, 1) if mem else None,
        "cpu": _first("/proc/cpuinfo", "model name") or platform.processor() or None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "postgresql": postgres_version,
        "airflow": _version("apache-airflow"),
        "psycopg": _version("psycopg"),
        "commit": _git(root),
    }
