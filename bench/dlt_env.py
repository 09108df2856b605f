"""dlt's own environment for the bench, made on first use with the project's pinned uv.

dlt is what the bench compares against, not something the package uses: it lives in
``.state/bench/dlt-venv`` and its line runs with that interpreter. A failed install is reported by
the line (:class:`DltUnavailable`), never a crash of the whole bench.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

from devtools.paths import STATE

#: Pinned: a new dlt release must not move the numbers between two runs of the bench.
DLT_REQUIREMENT = "dlt[postgres]==1.31.0"
#: What the stamp file records: a change (a new pin, how it is installed) makes the environment again.
STAMP = f"{DLT_REQUIREMENT} --compile-bytecode"
VENV = STATE / "bench" / "dlt-venv"
DEFAULT_UV = STATE / "tools" / "bin" / "uv"


class DltUnavailable(RuntimeError):
    """dlt's environment could not be made; the message says why."""


def python_path(venv: Path = VENV) -> Path:
    """Return the interpreter of the dlt environment."""
    return venv / "bin" / "python"


def ensure_dlt(uv: str | os.PathLike[str] | None = None, venv: Path = VENV, timeout: float = 600) -> Path:
    """Return the dlt environment's interpreter, creating the environment first if needed.

    :param uv: The uv to use; the project's pinned one under ``.state/tools``, else one on PATH.
    :param venv: Where the environment lives.
    :param timeout: Seconds allowed for creating it and installing dlt.
    :raises DltUnavailable: With uv's own words when it could not be made (no network, no uv, ...).
    """
    stamp = venv / ".bench-requirement"
    if stamp.exists() and stamp.read_text() == STAMP and python_path(venv).exists():
        return python_path(venv)
    uv = str(uv) if uv else (str(DEFAULT_UV) if DEFAULT_UV.exists() else shutil.which("uv"))
    if not uv:
        raise DltUnavailable(f"no uv to install {DLT_REQUIREMENT} with (run `make install` first)")
    venv.parent.mkdir(parents=True, exist_ok=True)
    # Two benches at once (the smoke test and `make bench`) must not build it over each other.
    with open(venv.parent / "dlt-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and stamp.read_text() == STAMP and python_path(venv).exists():
            return python_path(venv)
        env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
        env.pop("VIRTUAL_ENV", None)
        for step in ([uv, "venv", "--clear", "--quiet", "--python", sys.executable, str(venv)],
                     # Bytecode now, so the line's process does not compile dlt from source every time.
                     [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(python_path(venv)),
                      DLT_REQUIREMENT]):
            try:
                done = subprocess.run(step, env=env, capture_output=True, text=True, timeout=timeout, check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise DltUnavailable(f"{' '.join(step[:3])} failed: {exc}") from None
            if done.returncode != 0:
                raise DltUnavailable(f"{' '.join(step[:3])} failed ({done.returncode}): {done.stderr.strip()[-1500:]}")
        stamp.write_text(STAMP)
    return python_path(venv)
