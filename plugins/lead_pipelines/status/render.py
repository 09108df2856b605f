"""Server-rendered HTML of the status page: one table per panel, no JavaScript, readable inside Airflow's frame."""

from __future__ import annotations

from datetime import datetime, timezone
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lead_pipelines.status.panels import PanelResult

#: Columns whose values are durations in seconds.
DURATIONS = frozenset({"age", "freshness", "oldest_unresolved_age"})

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1rem 1.5rem; color: #1a202c; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 .25rem; }
p.summary { font-weight: 600; margin: .25rem 0; }
p.meta, p.description { color: #4a5568; margin: .25rem 0 .5rem; font-size: .9rem; }
table { border-collapse: collapse; font-size: .85rem; }
th, td { border-bottom: 1px solid #e2e8f0; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f7fafc; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.bad td { background: #fff5f5; }
span.bad { color: #c53030; font-weight: 600; }
span.good { color: #2f855a; }
p.note { color: #975a16; background: #fffff0; padding: .4rem .6rem; display: inline-block; }
a { color: #2b6cb0; }
"""


def duration(seconds: float | None) -> str:
    """Return seconds as a person reads them: ``3 d 4 h``, ``2 h 5 min``, ``40 s``."""
    if seconds is None:
        return "—"
    sign, seconds = ("-" if seconds < 0 else ""), abs(int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days} d {hours} h" if hours else f"{sign}{days} d"
    if hours:
        return f"{sign}{hours} h {minutes} min" if minutes else f"{sign}{hours} h"
    if minutes:
        return f"{sign}{minutes} min"
    return f"{sign}{secs} s"


def timestamp(value: str) -> str:
    """Return an ISO 8601 UTC timestamp as ``2024-06-01 13:00``."""
    return datetime.fromisoformat(value).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M")


def cell(key: str, value: Any) -> str:
    """Return one ``<td>`` for a row's value."""
    if value is None:
        return "<td>—</td>"
    if isinstance(value, bool):
        bad = value if key == "late" else not value
        return f'<td><span class="{"bad" if bad else "good"}">{"yes" if value else "no"}</span></td>'
    if key in DURATIONS:
        return f'<td class="num">{duration(value)}</td>'
    if isinstance(value, (int, float)):
        return f'<td class="num">{value:,}</td>'
    if isinstance(value, str) and _looks_like_timestamp(value):
        return f"<td>{timestamp(value)}</td>"
    return f"<td>{escape(str(value))}</td>"


def _looks_like_timestamp(value: str) -> bool:
    """Tell an ISO 8601 timestamp from other text (stream names, errors)."""
    if len(value) < 19 or value[4] != "-" or value[10] != "T":
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def row_is_bad(row: dict[str, Any]) -> bool:
    """Tell a row a person should look at: late, an unresolved failure, an unresolved push."""
    return bool(row.get("late")) or row.get("resolved") is False or bool(row.get("oldest_unresolved"))


def panel_html(result: PanelResult) -> str:
    """Return one panel: heading, description, link to its JSON, and its table (or why it is empty)."""
    panel = result.panel
    head = (f'<section id="{panel.name}"><h2>{escape(panel.title)}</h2>'
            f'<p class="description">{escape(panel.description)} '
            f'<a href="panels/{panel.name}">JSON</a></p>')
    if result.note:
        return f'{head}<p class="note">{escape(result.note)}</p></section>'
    if not result.rows:
        return f"{head}<p>{escape(panel.empty)}</p></section>"
    headers = "".join(f"<th>{escape(c.header)}</th>" for c in panel.columns)
    body = "".join(
        f'<tr{" class=bad" if row_is_bad(row) else ""}>{"".join(cell(c.key, row.get(c.key)) for c in panel.columns)}</tr>'
        for row in result.rows
    )
    return f"{head}<table><thead><tr>{headers}</tr></thead><tbody>{body}</tbody></table></section>"


def _count(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def summary(results: list[PanelResult]) -> str:
    """Return the page's first line: what needs a look, counted from the panels' rows (no query of its own)."""
    rows = {result.panel.name: result.rows for result in results}
    streams = rows.get("freshness", [])
    late = sum(1 for row in streams if row.get("late"))
    unresolved = sum(1 for row in rows.get("failures", []) if row.get("resolved") is False)
    changes = len(rows.get("drift", []))
    open_pushes = sum(row.get("pending", 0) + row.get("sending", 0) for row in rows.get("outbox", []))
    parts = [f"{late} of {_count(len(streams), 'stream')} late", _count(unresolved, "unresolved failure"),
             _count(changes, "schema change"), f"{_count(open_pushes, 'push', 'pushes')} not sent"]
    return f'<p class="summary">{" · ".join(parts)}</p>'


def page_html(results: list[PanelResult], now: datetime) -> str:
    """Return the whole page."""
    panels = "".join(panel_html(result) for result in results)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>Lead pipelines</title>"
        f"<style>{STYLE}</style></head><body>"
        "<h1>Lead pipelines</h1>"
        f"{summary(results)}"
        f'<p class="meta">The warehouse\'s ops and mart schemas at {now.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC; '
        "times in UTC. Reload the page to refresh.</p>"
        f"{panels}</body></html>"
    )
