"""Turn the bench's runs into medians and spreads, ratios to our landing, targets met or missed, and tables."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.run import Line, Outcome

#: The line every other is compared with: our landing task, one window.
OURS = "project"
MEMORY_TARGET_RECORDS = 1_000_000
UNIFIED_LEADS_NOTE = ("`unified_leads` does not exist yet: rebuilding one hourly window with 1 day and with 30 days "
                      "of history is not measured.")


def _stats(values: list[float]) -> dict[str, float] | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _median(stats: dict[str, float] | None) -> float | None:
    return None if stats is None else stats["median"]


def summarise_runs(runs: list[dict[str, Any]], bytes_per_record: float) -> dict[str, Any]:
    """Return the median and spread of every measure over a phase's runs (failed runs left out)."""
    good = [r for r in runs if "error" not in r and r.get("seconds", 0) > 0]
    rates = [r["records"] / r["seconds"] for r in good]
    problems = [p for r in runs for p in r.get("problems", ["not checked"])]
    return {
        "runs": runs,
        "ok": not problems and len(good) == len(runs),
        "problems": problems,
        "unavailable": any(r.get("unavailable") for r in runs),
        "records_per_s": _stats(rates),
        "mb_per_s": _stats([rate * bytes_per_record / 1e6 for rate in rates]),
        "seconds": _stats([r["seconds"] for r in good]),
        "cpu_seconds": _stats([r.get("cpu_seconds") for r in good]),
        "postgres_cpu_seconds": _stats([r.get("postgres_cpu_seconds") for r in good]),
        "sandbox_cpu_seconds": _stats([r.get("sandbox_cpu_seconds") for r in good]),
        "process_seconds": _stats([r.get("process_seconds") for r in good]),
        "other_cpu_seconds": _stats([r.get("other_cpu_seconds") for r in good]),
        "baseline_mb": _stats([r.get("baseline_mb") for r in good]),
        "peak_mb": _stats([r.get("peak_mb") for r in good]),
        "growth_mb": _stats([r.get("growth_mb") for r in good]),
        "rows_written": _stats([r.get("rows_written") for r in good]),
    }


def summarise(outcome: Outcome, lines: tuple[Line, ...]) -> dict[str, Any]:
    """Return everything the tables and the JSON need, with the targets judged."""
    config = outcome.config
    per_record = config["body_bytes"] / max(config["records"], 1)
    summary: dict[str, Any] = {"config": {k: v for k, v in config.items() if k != "machine"},
                               "machine": config.get("machine"), "lines": [], "notes": []}
    by_key = {}
    for line in lines:
        if line.key not in outcome.runs:
            continue
        entry = {"key": line.key, "label": line.label}
        for phase in line.phases:
            entry[phase] = summarise_runs(outcome.runs[line.key].get(phase, []), per_record)
        summary["lines"].append(entry)
        by_key[line.key] = entry
    ours = by_key.get(OURS)
    for entry in summary["lines"]:
        for phase in ("first", "rerun"):
            mine = _median(ours[phase]["records_per_s"]) if ours and phase in ours else None
            theirs = _median(entry[phase]["records_per_s"]) if phase in entry else None
            entry[f"ours_ratio_{phase}"] = mine / theirs if mine and theirs and entry is not ours else None
    dlt_versions = {r.get("dlt_version") for p in ("first", "rerun") for r in
                    (by_key.get("dlt", {}).get(p, {}) or {}).get("runs", []) if r.get("dlt_version")}
    if dlt_versions:
        summary["config"]["dlt"] = sorted(dlt_versions)[0]
        for entry in summary["lines"]:
            if entry["key"] == "dlt":
                entry["label"] = entry["label"].replace("dlt ", f"dlt {summary['config']['dlt']} ", 1)
    summary["memory"] = summarise_runs([outcome.memory], per_record) if outcome.memory else None
    if summary["memory"]:
        summary["memory"]["records"] = outcome.memory.get("records")
    summary["small_window"] = summarise_runs(outcome.small_window, per_record) if outcome.small_window else None
    if summary["small_window"]:
        summary["small_window"]["records"] = config.get("small_window", {}).get("records")
    summary["dag_parse"] = {
        name: {mode: {"seconds": _stats([r.get("seconds") for r in runs if "error" not in r]),
                      "runner_seconds": _stats([r.get("runner_seconds") for r in runs if "error" not in r]),
                      "process_seconds": _stats([r.get("process_seconds") for r in runs if "error" not in r]),
                      "errors": [r["error"] for r in runs if "error" in r]}
               for mode, runs in modes.items()}
        for name, modes in outcome.dag_parse.items()
    }
    summary["hourly"] = _hourly(by_key, config)
    summary["profile"] = outcome.profile
    summary["quietness"] = quietness(summary)
    summary["targets"] = targets(summary, by_key)
    summary["notes"].append(UNIFIED_LEADS_NOTE)
    summary["ok"] = all(
        entry[p]["ok"] or entry[p]["unavailable"] for entry in summary["lines"] for p in ("first", "rerun") if p in entry
    ) and all(not modes[m]["errors"] for modes in summary["dag_parse"].values() for m in modes) and all(
        part is None or part["ok"] for part in (summary["memory"], summary["small_window"]))
    return summary


def _hourly(by_key: dict[str, Any], config: dict[str, Any]) -> dict[str, Any] | None:
    hourly, one = by_key.get("project_hourly"), by_key.get(OURS)
    if not hourly or not _median(hourly["first"]["seconds"]):
        return None
    windows = config["hours"]
    found = {"windows": windows, "records_per_window": config["records"] / windows}
    for phase in ("first", "rerun"):
        per_window = [s for r in hourly[phase]["runs"] if "error" not in r for s in r.get("window_seconds", [])]
        found[f"{phase}_window_seconds"] = _stats(per_window)
        if one and _median(one[phase]["seconds"]):
            extra = _median(hourly[phase]["seconds"]) - _median(one[phase]["seconds"])
            found[f"{phase}_overhead_ms_per_window"] = 1000 * extra / windows
    return found


def _target(name: str, goal: str, measured: str, met: bool | None, note: str = "") -> dict[str, Any]:
    return {"target": name, "goal": goal, "measured": measured, "met": met, "note": note}


def targets(summary: dict[str, Any], by_key: dict[str, Any]) -> list[dict[str, Any]]:
    """Judge the issue's targets on this run (goals reported, never asserted)."""
    found = []
    ours = by_key.get(OURS)
    first = _median(ours["first"]["records_per_s"]) if ours else None
    for key, name, goal, threshold, as_percent in (
        ("raw_copy", "first load vs raw COPY", "≥ 70%", 0.70, True),
        ("stock_airflow", "first load vs stock Airflow", "≥ 2.5×", 2.5, False),
        ("dlt", "first load vs dlt", "≥ 8×", 8.0, False),
    ):
        theirs = _median(by_key[key]["first"]["records_per_s"]) if key in by_key else None
        if not first or not theirs:
            found.append(_target(name, goal, "not measured", None))
            continue
        ratio = first / theirs
        found.append(_target(name, goal, f"{ratio:.0%}" if as_percent else f"{ratio:.2f}×", ratio >= threshold,
                             f"{rate(first)}/s against {rate(theirs)}/s"))
    rerun = _median(ours["rerun"]["records_per_s"]) if ours else None
    if first and rerun:
        written = max((r.get("rows_written") or 0) for r in ours["rerun"]["runs"] if "error" not in r)
        found.append(_target("unchanged re-run", "no slower than first load, 0 rows written",
                             f"{rerun / first:.2f}× first load ({rate(rerun)}/s), {written} rows written",
                             rerun >= first and written == 0))
    else:
        found.append(_target("unchanged re-run", "no slower than first load, 0 rows written", "not measured", None))
    found.append(_memory_target(summary, ours))
    parse = [(name, _median(modes["task"]["seconds"])) for name, modes in summary["dag_parse"].items()
             if "task" in modes]
    if parse and all(s is not None for _, s in parse):
        found.append(_target("DAG file parse, fresh interpreter", "< 0.5 s each",
                             ", ".join(f"{name} {s:.2f} s" for name, s in parse), all(s < 0.5 for _, s in parse),
                             "after the task runner's own imports (what the file adds to every task)"))
    else:
        found.append(_target("DAG file parse, fresh interpreter", "< 0.5 s each", "not measured", None))
    small = summary["small_window"]
    if small and small["seconds"]:
        seconds = small["seconds"]["median"]
        found.append(_target(f"small hourly window ({small['records']} records)", "< 0.3 s task time",
                             f"{seconds:.2f} s ({seconds_spread(small['seconds'])})", seconds < 0.3,
                             "execute() in a fresh task process, after start-up"))
    else:
        found.append(_target("small hourly window (400 records)", "< 0.3 s task time", "not measured", None))
    return found


def _memory_target(summary: dict[str, Any], ours: dict[str, Any] | None) -> dict[str, Any]:
    name, goal = "peak RSS growth, 1M records", "< 50 MB"
    memory = summary["memory"]
    if memory and memory["growth_mb"]:
        growth, records = memory["growth_mb"]["max"], memory["runs"][0].get("records", 0)
    elif ours and ours["first"]["growth_mb"]:
        growth = max(ours[p]["growth_mb"]["max"] for p in ("first", "rerun") if ours[p]["growth_mb"])
        records = summary["config"]["records"]
    else:
        return _target(name, goal, "not measured", None)
    measured = f"{growth:.0f} MB at {records:,} records"
    if records < MEMORY_TARGET_RECORDS * 0.95:
        return _target(name, goal, measured, None, "not judged below 1M records (--memory-size 1000000)")
    return _target(name, goal, measured, growth < 50)


# -- formatting -------------------------------------------------------------------------------------


def rate(value: float | None) -> str:
    """Format a records/s rate: ``12.9k``."""
    if value is None:
        return "—"
    return f"{value / 1000:.1f}k" if value >= 1000 else f"{value:.0f}"


def rate_spread(stats: dict[str, float] | None) -> str:
    """Format a rate's median and spread: ``12.9k (12.7k–13.1k)``."""
    if stats is None:
        return "—"
    return f"{rate(stats['median'])} ({rate(stats['min'])}–{rate(stats['max'])})"


def seconds_spread(stats: dict[str, float] | None) -> str:
    """Format seconds' spread: ``0.21–0.25 s``."""
    return "—" if stats is None else f"{stats['min']:.2f}–{stats['max']:.2f} s"


def seconds_of(result: dict[str, Any]) -> str:
    """Format one run's seconds, or its error's first line."""
    if "error" in result:
        return "ERROR " + result["error"].splitlines()[0][:200]
    return f"{result['seconds']:.2f} s"


def describe_run(result: dict[str, Any]) -> str:
    """Format one run for the progress log."""
    if "error" in result:
        return "ERROR " + result["error"][:2000]
    text = (f"{result['records']} records in {result['seconds']:.2f} s = {rate(result['records'] / result['seconds'])}/s, "
            f"peak {result['peak_mb']:.0f} MB (+{result['growth_mb']:.0f})")
    if result.get("problems"):
        text += "; PROBLEM: " + "; ".join(result["problems"])
    return text


def _mb(stats: dict[str, float] | None, key: str = "max") -> str:
    return "—" if stats is None else f"{stats[key]:.0f}"


def _ratio(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}×"


def _phase_rate(entry: dict[str, Any], phase: str) -> str:
    part = entry.get(phase)
    if part is None:
        return "—"
    if not part["records_per_s"]:
        return "unavailable" if part["unavailable"] else "failed"
    return rate_spread(part["records_per_s"])


def _memory_stats(entry: dict[str, Any], key: str) -> dict[str, float] | None:
    values = [entry[p][key] for p in ("first", "rerun") if p in entry and entry[p][key]]
    if not values:
        return None
    return {"median": max(v["median"] for v in values), "min": min(v["min"] for v in values),
            "max": max(v["max"] for v in values)}


def main_rows(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Return the header and rows of the main table."""
    header = ["line", "first load, records/s", "MB/s", "re-run, records/s", "re-run rows written",
              "peak RSS MB", "RSS growth MB", "ours ÷ line (first / re-run)"]
    rows = []
    for entry in summary["lines"]:
        first = entry["first"]
        rerun = entry.get("rerun")
        written = _median(rerun["rows_written"]) if rerun else None
        ratios = "—" if entry["key"] == OURS else (
            _ratio(entry["ours_ratio_first"]) + (f" / {_ratio(entry['ours_ratio_rerun'])}" if rerun else ""))
        rows.append([
            entry["label"], _phase_rate(entry, "first"),
            f"{_median(first['mb_per_s']):.1f}" if first["mb_per_s"] else "—",
            _phase_rate(entry, "rerun"), "—" if written is None else f"{written:,.0f}",
            _mb(_memory_stats(entry, "peak_mb")), _mb(_memory_stats(entry, "growth_mb")), ratios,
        ])
    memory = summary.get("memory")
    if memory and memory["records_per_s"]:
        rows.append([f"this project: one window of {memory['records']:,} records (memory check, 1 run)",
                     rate(_median(memory["records_per_s"])), f"{_median(memory['mb_per_s']):.1f}", "—", "—",
                     _mb(memory["peak_mb"]), _mb(memory["growth_mb"]), "—"])
    return header, rows


def time_rows(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Return where each run's time went: wall, the client's CPU, PostgreSQL's, the sandbox's (medians)."""
    header = ["line", "phase", "wall s", "client CPU s", "PostgreSQL CPU s", "sandbox CPU s",
              "process s (with start-up)", "other processes' CPU s"]
    rows = []

    def fmt(stats):
        return "—" if stats is None else f"{stats['median']:.2f}"

    for entry in summary["lines"]:
        for phase in ("first", "rerun"):
            part = entry.get(phase)
            if part is None or part["seconds"] is None:
                continue
            rows.append([entry["label"], "first load" if phase == "first" else "re-run", fmt(part["seconds"]),
                         fmt(part["cpu_seconds"]), fmt(part["postgres_cpu_seconds"]),
                         fmt(part["sandbox_cpu_seconds"]), fmt(part["process_seconds"]),
                         fmt(part["other_cpu_seconds"])])
    return header, rows


def target_rows(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Return the targets table."""
    header = ["target", "goal", "measured", "met?"]
    rows = []
    for t in summary["targets"]:
        verdict = {True: "met", False: "MISSED", None: "not judged"}[t["met"]]
        measured = t["measured"] + (f" ({t['note']})" if t["note"] else "")
        rows.append([t["target"], t["goal"], measured, verdict])
    return header, rows


def parse_rows(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Return the DAG parse table."""
    header = ["DAG file", "parse in a task process (DagBag, after the runner's imports)", "runner's own imports",
              "cold: DagBag first thing in a fresh interpreter", "whole process (cold)"]
    rows = []

    def fmt(stats):
        return "—" if stats is None else f"{stats['median']:.2f} s ({seconds_spread(stats)})"

    for name, modes in summary["dag_parse"].items():
        task, cold = modes.get("task", {}), modes.get("cold", {})
        rows.append([name, fmt(task.get("seconds")), fmt(task.get("runner_seconds")), fmt(cold.get("seconds")),
                     fmt(cold.get("process_seconds"))])
    return header, rows


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """Render a markdown table."""
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def text_table(summary: dict[str, Any]) -> str:
    """Render every table as fixed-width text, for the terminal."""
    out = []
    for title, (header, rows) in (("lines", main_rows(summary)), ("where the time goes", time_rows(summary)),
                                  ("DAG parse", parse_rows(summary)), ("targets", target_rows(summary))):
        if not rows:
            continue
        widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]
        out.append(f"== {title} ==")
        out.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
        out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        out.append("")
    out += _notes(summary)
    return "\n".join(out)


def machine_line(summary: dict[str, Any]) -> str:
    """Describe the run and the machine in one sentence."""
    m, c = summary["machine"] or {}, summary["config"]
    return (f"{c['records']:,} LeadConduit events (`--size {c['size']}`, {c['body_bytes'] / c['records']:.0f} bytes "
            f"each on the wire, pages of {c['page_size']}, {c['hours']} hourly windows), {c['repeats']} interleaved "
            f"repeats, median (min–max); {c['started']}, {c.get('seconds', 0) / 60:.1f} min in all. Machine: "
            f"{m.get('cpu')}, {m.get('cores')} cores, {m.get('memory_gb')} GB, {m.get('os')}; Python {m.get('python')}, "
            f"PostgreSQL {m.get('postgresql')}, Airflow {m.get('airflow')}, psycopg {m.get('psycopg')}"
            + (f", dlt {c['dlt']}" if c.get("dlt") else "") + f"; load average at the start {c.get('load_average')}; "
            f"commit {m.get('commit')}.")


def quietness(summary: dict[str, Any]) -> dict[str, float] | None:
    """Return how much CPU other processes took while the lines ran, against the lines' own wall time."""
    other = wall = 0.0
    runs = disturbed = retried = 0
    for entry in summary["lines"]:
        for phase in ("first", "rerun"):
            for run in (entry.get(phase) or {}).get("runs", []):
                if run.get("other_cpu_seconds") is not None:
                    other += run["other_cpu_seconds"]
                    wall += run["process_seconds"]
                    runs += 1
                    disturbed += bool(run.get("disturbed"))
                    retried += run.get("attempts", 1) - 1
    if not wall:
        return None
    return {"other_cpu_seconds": other, "wall_seconds": wall, "share_of_a_core": other / wall, "runs": runs,
            "disturbed_runs": disturbed, "runs_measured_again": retried}


def _notes(summary: dict[str, Any]) -> list[str]:
    notes = []
    quiet = summary.get("quietness")
    if quiet and (quiet["share_of_a_core"] > 0.05 or quiet["disturbed_runs"]):
        notes.append(f"WARNING: the machine was not quiet: other processes took {quiet['other_cpu_seconds']:.0f} CPU s "
                     f"while the lines ran ({quiet['share_of_a_core']:.0%} of a core on average); "
                     f"{quiet['disturbed_runs']} of {quiet['runs']} runs kept were disturbed: those numbers are skewed.")
    elif quiet:
        notes.append(f"The machine was quiet: other processes took {quiet['share_of_a_core']:.1%} of a core while the "
                     f"lines ran ({quiet['runs_measured_again']} disturbed runs were measured again).")
    hourly = summary.get("hourly")
    if hourly and hourly.get("first_window_seconds"):
        overhead = hourly.get("first_overhead_ms_per_window")
        notes.append(
            f"Hourly windows: {hourly['windows']} windows of ~{hourly['records_per_window']:,.0f} records, "
            f"{hourly['first_window_seconds']['median']:.2f} s each (first load)"
            + (f", {overhead:+.0f} ms per window against the one-window rate" if overhead is not None else "")
            + (f"; re-run {hourly['rerun_window_seconds']['median']:.2f} s each" if hourly.get("rerun_window_seconds")
               else "") + ".")
    ceiling = next((e for e in summary["lines"] if e["key"] == "http_ceiling"), None)
    if ceiling and _median(ceiling["first"]["sandbox_cpu_seconds"]):
        records = summary["config"]["records"]
        cpu = _median(ceiling["first"]["sandbox_cpu_seconds"])
        notes.append(f"The sandbox is not the bottleneck: it serves a pass of {records:,} events with {cpu:.2f} s of its "
                     f"own CPU (about {rate(records / cpu)} records/s a core), and a client that only reads reaches "
                     f"{rate(_median(ceiling['first']['records_per_s']))}/s.")
    small = summary.get("small_window")
    if small and small["seconds"]:
        notes.append(f"Small hourly window ({small['records']} records): {small['seconds']['median']:.2f} s task time "
                     f"({seconds_spread(small['seconds'])}), peak RSS {_mb(small['peak_mb'])} MB.")
    for entry in summary["lines"]:
        for phase in ("first", "rerun"):
            part = entry.get(phase)
            if part and part["problems"]:
                notes.append(f"{entry['label']} ({phase}): " + "; ".join(sorted(set(
                    p.splitlines()[0][:300] for p in part["problems"]))))
    if summary.get("profile"):
        notes.append(f"Profile of our one-window first load: bench/results/{summary['profile']}.")
    notes += summary["notes"]
    return notes


def markdown(summary: dict[str, Any]) -> str:
    """Render the results page: the run, the tables, the targets, the notes."""
    parts = ["# `make bench` results", "", machine_line(summary), "", markdown_table(*main_rows(summary)), "",
             "Peak RSS and growth: the largest over the repeats and phases; growth is over the process's RSS right "
             "after its imports. MB/s counts HTTP body bytes (raw COPY: the same records). ours ÷ line: our "
             "one-window median over the line's median.", "", "## Targets", "", markdown_table(*target_rows(summary)),
             "", "## Where the time goes (medians, seconds)", "", markdown_table(*time_rows(summary)), ""]
    if summary["dag_parse"]:
        parts += ["## DAG parse time", "", markdown_table(*parse_rows(summary)), ""]
    parts += ["## Notes", ""] + [f"- {n}" for n in _notes(summary)]
    return "\n".join(parts) + "\n"


def write(summary: dict[str, Any], directory: Path, name: str) -> list[Path]:
    """Write ``<name>.json`` and ``<name>.md`` into ``directory`` and return their paths."""
    json_path, md_path = directory / f"{name}.json", directory / f"{name}.md"
    json_path.write_text(json.dumps(summary, indent=1, default=str) + "\n")
    md_path.write_text(markdown(summary))
    return [json_path, md_path]
