"""Run the sandbox as a subprocess for tests and the demo."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO

from sandbox.client import SandboxClient, to_iso

REPO_ROOT = Path(__file__).resolve().parent.parent


class SandboxProcess:
    """Start ``python -m sandbox`` on a free port and stop it on exit."""

    def __init__(self, seed: int = 7, start: datetime | str = "2024-06-01T00:00:00Z",
                 end: datetime | str = "2024-06-02T00:00:00Z", events_per_hour: int = 40,
                 options: dict[str, object] | None = None, host: str = "127.0.0.1",
                 port: int = 0, python: str = sys.executable,
                 log_path: str | os.PathLike[str] | None = None,
                 startup_timeout: float = 15.0) -> None:
        """Configure the process (nothing starts until :meth:`start`).

        :param seed: the data seed.
        :param start: first instant with data.
        :param end: data stops before this instant.
        :param events_per_hour: the mean hourly volume each simulator scales its data by.
        :param options: vendor flags without their dashes, e.g. ``{"leadconduit-api-key": "k"}``
            for ``--leadconduit-api-key k`` (each vendor module's ``add_arguments`` lists its own).
        :param host: the bind address.
        :param port: the port; 0 picks a free one.
        :param python: the interpreter to run.
        :param log_path: where stdout/stderr go (default: discarded).
        :param startup_timeout: seconds to wait for the server to be ready.
        """
        self.args = [
            python, "-m", "sandbox", "--host", host, "--port", str(port), "--seed", str(seed),
            "--start", to_iso(start), "--end", to_iso(end), "--events-per-hour",
            str(events_per_hour),
        ]
        for flag, value in (options or {}).items():
            self.args += [f"--{flag}", str(value)]
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def client(self) -> SandboxClient:
        """Return a control-API client for the running sandbox."""
        return SandboxClient(self.url)

    def vendor_url(self, vendor: str) -> str:
        """Return a simulator's base URL (``<url>/<vendor>``).

        :param vendor: The vendor key, e.g. ``leadconduit``.
        """
        return f"{self.url}/{vendor}"

    def start(self) -> SandboxProcess:
        """Start the subprocess and wait until it answers health checks.

        :raises RuntimeError: if it exits or is not ready in time.
        """
        with tempfile.TemporaryDirectory(prefix="sandbox-") as tmp:
            ready = Path(tmp) / "ready"
            self._log = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115
            sink = self._log or subprocess.DEVNULL
            self.proc = subprocess.Popen([*self.args, "--ready-file", str(ready)],
                                         cwd=REPO_ROOT, stdout=sink, stderr=sink)
            deadline = time.monotonic() + self.startup_timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    self._close_log()
                    raise RuntimeError(f"sandbox exited with {self.proc.returncode}")
                if ready.exists():
                    self.url = ready.read_text(encoding="utf-8").strip()
                    try:
                        self.client.health()
                        return self
                    except OSError:
                        pass
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"sandbox not ready within {self.startup_timeout} s")

    def stop(self, timeout: float = 5.0) -> None:
        """Send SIGTERM, wait, and kill if it lingers.

        :param timeout: seconds to wait before SIGKILL.
        """
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> SandboxProcess:
        """Start the sandbox."""
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Stop the sandbox."""
        self.stop()
