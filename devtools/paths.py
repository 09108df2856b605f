"""Where the project keeps its local state (git-ignored)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATE = ROOT / ".state"
DAGS = ROOT / "dags"
PLUGINS = ROOT / "plugins"
