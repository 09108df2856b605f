"""Pirsch's statistics, generated per day from the seed: rows that exist, and values that grow with late data."""

from __future__ import annotations

import hashlib
import random
from datetime import date
from typing import Any

DOMAIN_ID = "Sbx7pIrsch"
HOSTNAME = "shop.example.com"
TIME_ZONE = "Europe/Berlin"
REFERRERS = [(f"https://ref{n}.example.org/", f"Referrer {n}") for n in range(24)] + [("", "")]
UTM = {kind: [f"{kind}-{n}" for n in range(8)] for kind in ("source", "medium", "campaign", "content", "term")}
COUNTRIES = ["de", "us", "fr", "gb", "nl", "at", "ch", "it", "es", "pl", "se", "dk", "no", "fi", "be", "pt",
             "ie", "cz", "jp", "br", "ca", "au", "in", "mx", "za", "kr", "tr", "gr", "hu", "ro"]
#: Event name -> its metadata keys and the values each key takes.
EVENTS = {
    "Signup": {"plan": ["free", "pro", "team"], "source": ["header", "footer", "pricing"]},
    "Download": {"file": [f"guide-{n}.pdf" for n in range(6)]},
    "Newsletter": {"list": ["weekly", "monthly"]},
    "Play video": {"video": [f"intro-{n}" for n in range(4)], "quality": ["hd", "sd"]},
    "Contact": {},
}


def _rng(*parts: Any) -> random.Random:
    return random.Random(hashlib.sha256(repr(parts).encode()).digest())


class Stats:
    """Deterministic statistics per day; ``revisions`` of a day add late data to some of its rows.

    :param seed: The sandbox seed.
    :param events_per_hour: Volume: the number of pages grows with it (250 at 2500).
    """

    def __init__(self, seed: int, events_per_hour: int) -> None:
        self.seed = seed
        self.pages = [f"/p/{n}" for n in range(max(30, min(260, events_per_hour // 10)))]
        self.revisions: dict[date, int] = {}

    def _late(self, day: date, key: Any) -> int:
        """Return the visitors late data added to one row of ``day`` (some rows get none)."""
        extra = 0
        for revision in range(1, self.revisions.get(day, 0) + 1):
            rng = _rng(self.seed, "late", day, revision, key)
            if rng.random() < 0.3:
                extra += rng.randint(1, 9)
        return extra

    def _visitors(self, day: date, key: Any, presence: float = 0.85) -> int:
        """Return the visitors of one row of ``day``: 0 where the row does not exist that day."""
        rng = _rng(self.seed, day, key)
        if rng.random() >= presence:
            return 0
        return rng.randint(1, 400) + self._late(day, key)

    def _counts(self, day: date, key: Any, visitors: int) -> dict[str, Any]:
        rng = _rng(self.seed, day, key, "counts")
        sessions = visitors + rng.randint(0, visitors // 3 + 1)
        views = sessions + rng.randint(0, sessions)
        bounces = rng.randint(0, sessions)
        return {"visitors": visitors, "views": views, "sessions": sessions, "bounces": bounces,
                "bounce_rate": round(bounces / sessions, 4)}

    def rows(self, stream: str, day: date, args: dict[str, str]) -> list[dict[str, Any]]:
        """Return a stream's rows of one day, in Pirsch's order (most visitors first, then the key).

        :param stream: The simulator's endpoint key (``visitor``, ``page``, ``utm/source``...).
        :param day: The day.
        :param args: Query filters (``event``, ``event_meta_key`` for ``event/meta``).
        """
        total = max(1, sum(self._visitors(day, p) for p in self.pages))
        out: list[dict[str, Any]] = []
        if stream == "visitor":
            visitors = total // 3 + 1 + self._late(day, "visitor")
            return [{"day": f"{day.isoformat()}T00:00:00Z", "week": None, "month": None, "year": None,
                     **self._counts(day, "visitor", visitors), "cr": 0}]
        if stream == "total":
            visitors = total // 3 + 1 + self._late(day, "visitor")
            return [{**self._counts(day, "total", visitors), "cr": 0, "custom_metric_avg": 0,
                     "custom_metric_total": 0}]
        if stream in ("page", "page/entry", "page/exit", "event/page"):
            for path in self.pages:
                visitors = self._visitors(day, (stream, path))
                if not visitors:
                    continue
                c = self._counts(day, (stream, path), visitors)
                row: dict[str, Any] = {"path": path, "title": f"Page {path[3:]}"}
                if stream == "page/entry":
                    row.update(visitors=visitors, sessions=c["sessions"], entries=c["sessions"],
                               entry_rate=round(c["sessions"] / total, 4), average_time_spent_seconds=c["bounces"])
                elif stream == "page/exit":
                    row.update(visitors=visitors, sessions=c["sessions"], exits=c["bounces"],
                               exit_rate=round(c["bounces"] / c["sessions"], 4))
                else:
                    row.update(c, relative_visitors=round(visitors / total, 4),
                               relative_views=round(c["views"] / (3 * total), 4), average_time_spent_seconds=42)
                out.append(row)
        elif stream == "referrer":
            for ref, name in REFERRERS:
                visitors = self._visitors(day, (stream, ref))
                if visitors:
                    c = self._counts(day, (stream, ref), visitors)
                    out.append({"referrer": ref, "referrer_name": name, "referrer_icon": "", "visitors": visitors,
                                "sessions": c["sessions"], "relative_visitors": round(visitors / total, 4),
                                "bounces": c["bounces"], "bounce_rate": c["bounce_rate"]})
        elif stream.startswith("utm/"):
            kind = stream[4:]
            for value in UTM[kind]:
                visitors = self._visitors(day, (stream, value), 0.6)
                if visitors:
                    out.append({f"utm_{kind}": value, "visitors": visitors,
                                "relative_visitors": round(visitors / total, 4)})
        elif stream == "country":
            for code in COUNTRIES:
                visitors = self._visitors(day, (stream, code))
                if visitors:
                    out.append({"country_code": code, "visitors": visitors,
                                "relative_visitors": round(visitors / total, 4)})
        elif stream == "events":
            for name, meta in EVENTS.items():
                visitors = self._visitors(day, (stream, name), 0.9)
                if visitors:
                    c = self._counts(day, (stream, name), visitors)
                    out.append({"name": name, "count": c["views"], "visitors": visitors, "views": c["views"],
                                "cr": round(visitors / total, 4), "average_duration_seconds": 12,
                                "meta_keys": list(meta) or None})
        elif stream == "event/meta":
            name, key = args.get("event"), args.get("event_meta_key")
            if name in EVENTS and key in EVENTS[name] and self._visitors(day, ("events", name), 0.9):
                for value in EVENTS[name][key]:
                    visitors = self._visitors(day, (stream, name, key, value))
                    if visitors:
                        out.append({"name": name, "meta_value": value, "count": visitors + 3, "visitors": visitors,
                                    "views": visitors + 5, "cr": round(visitors / total, 4),
                                    "average_duration_seconds": 7})
        elif stream == "event/list":
            for name, meta in EVENTS.items():
                if not self._visitors(day, ("events", name), 0.9):
                    continue
                combos: list[dict[str, str]] = [{}]
                for key, values in meta.items():
                    combos = [{**c, key: v} for c in combos for v in values[:3]]
                for combo in combos:
                    key = (stream, name, tuple(sorted(combo.items())))
                    visitors = self._visitors(day, key, 0.7)
                    if visitors:
                        out.append({"name": name, "meta": combo or None, "visitors": visitors,
                                    "count": visitors + 2})
        else:
            return self.generic(stream, day)
        out.sort(key=lambda r: (-r.get("visitors", 0), str(sorted(r.items()))))
        return out

    def generic(self, stream: str, day: date) -> list[dict[str, Any]]:
        """Return plausible rows for the endpoints the pipeline does not land (the client reads them)."""
        visitors = self._visitors(day, (stream, "generic"), 1.0)
        stamp = f"{day.isoformat()}T00:00:00Z"
        if stream in ("duration/session", "duration/page"):
            return [{"day": stamp, "week": None, "month": None, "year": None, "path": "",
                     "title": "", "average_time_spent_seconds": visitors % 120}]
        if stream == "hours":
            return [{"hour": h, **self._counts(day, (stream, h), visitors // 24 + h)} for h in range(24)]
        field = {"language": "language", "os": "os", "os/version": "os", "browser": "browser",
                 "browser/version": "browser", "region": "region", "city": "city", "screen": "screen_class",
                 "tags": "key", "tag/details": "key", "keywords": "keys"}.get(stream, "name")
        row: dict[str, Any] = {field: f"{stream.replace('/', '-')}-sample", "visitors": visitors,
                               "relative_visitors": 0.5}
        if stream in ("os/version", "browser/version"):
            row["version"] = "1.0"
        if stream == "city":
            row.update(country_code="de", region="Berlin")
        if stream == "tag/details":
            row["value"] = "sample"
        return [row]
