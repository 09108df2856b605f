"""What every line's process measures about itself: RSS, CPU and one result line (standard library only).

The dlt line runs this module in dlt's own environment, so nothing here may import the project.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any

#: The parent reads the last stdout line starting with this; libraries may print anything else.
RESULT_PREFIX = "BENCH-RESULT "


def _status_kb(field: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def rss_mb() -> float:
    """Return the resident set size now, in MB (Linux; elsewhere the peak so far)."""
    kb = _status_kb("VmRSS")
    return (kb if kb is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


def peak_mb() -> float:
    """Return the peak resident set size of this process or any child it waited for, in MB."""
    own = _status_kb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


class Meter:
    """Measure one stretch of work: wall seconds, this process's CPU seconds, RSS before and peak.

    Start it right after the imports and set-up a task would have done anyway, so the RSS baseline
    is the process's own start and the growth is what the work added.
    """

    def __init__(self) -> None:
        self.baseline_mb = rss_mb()
        self._wall = time.perf_counter()
        self._cpu = time.process_time()
        self.seconds = 0.0
        self.cpu_seconds = 0.0

    def stop(self) -> dict[str, float]:
        """Stop the clock and return the measurements."""
        self.seconds = time.perf_counter() - self._wall
        self.cpu_seconds = time.process_time() - self._cpu
        peak = peak_mb()
        return {"seconds": self.seconds, "cpu_seconds": self.cpu_seconds, "baseline_mb": self.baseline_mb,
                "peak_mb": peak, "growth_mb": peak - self.baseline_mb}


def spec_from_argv() -> dict[str, Any]:
    """Return the run's settings: a JSON file named by the only argument (page lists outgrow argv)."""
    with open(sys.argv[1], encoding="utf-8") as fh:
        return json.load(fh)


def report(**fields: Any) -> None:
    """Print the result line the parent reads."""
    sys.stdout.write(RESULT_PREFIX + json.dumps(fields) + "\n")
    sys.stdout.flush()

