"""LeadBoxer's seeded data: leads (users), their sessions and their events, and leads that return."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

import orjson

from sandbox.people import SharedPerson, email_variant, phone_variant, shared_people

HOUR_MS = 3_600_000
CITIES = {"US": (("Austin", "America/Chicago"), ("New York", "America/New_York")),
          "FR": (("Paris", "Europe/Paris"), ("Lyon", "Europe/Paris")),
          "NL": (("Utrecht", "Europe/Amsterdam"), ("Amsterdam", "Europe/Amsterdam"))}
PAGES = ("/", "/pricing", "/features", "/contact", "/blog/lead-scoring", "/demo")
REFERRERS = ("https://www.google.com/", "https://www.linkedin.com/", "", "https://example.org/")
BROWSERS = ("Chrome", "Firefox", "Safari", "Edge")
PLATFORMS = ("Windows", "Mac OS X", "Linux", "iOS", "Android")
#: A lead's data is kept a year (the ``ttl`` LeadBoxer reports, in ms).
TTL_MS = 31_622_400_000


def leads_per_hour(events_per_hour: int) -> int:
    """Return how many leads start each hour: a two-hundredth of the sandbox's event volume (the fan-out stays small).

    :param events_per_hour: The sandbox's volume setting.
    """
    return max(3, events_per_hour // 200)


@dataclass
class Lead:
    """One visitor: fixed traits, and the sessions (with their events) seen so far."""

    use_id: str
    traits: dict[str, Any]
    sessions: list[dict[str, Any]] = field(default_factory=list)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    person: str | None = None

    @property
    def last_event(self) -> int:
        """Return the time of the lead's newest event (epoch ms)."""
        return int(self.events[self.sessions[-1]["session_id"]][-1]["eventUnixTimestamp"])

    @property
    def first_session(self) -> int:
        """Return the time of the lead's first session (epoch ms)."""
        return int(self.sessions[0]["session_unix_timestamp"])

    def document(self, site: str) -> dict[str, Any]:
        """Return the lead as ``/v1/leads`` lists it: traits plus aggregates of its sessions.

        :param site: The dataset id.
        """
        last_session = self.sessions[-1]
        last_events = self.events[last_session["session_id"]]
        last = last_events[-1]
        doc = {
            "use_id": self.use_id,
            "site": site,
            "type": {"name": "user"},
            "lastEvent": int(last["eventUnixTimestamp"]),
            "eventEsTimestamp": last["eventUnixTimestamp"],
            "eventUnixTimestamp": last["eventUnixTimestamp"],
            "first_session_unix_timestamp": self.sessions[0]["session_unix_timestamp"],
            "last_session_id": last_session["session_id"],
            "last_session_unix_timestamp": last_session["session_unix_timestamp"],
            "previous_session_id": self.sessions[-2]["session_id"] if len(self.sessions) > 1 else None,
            "session_id": last_session["session_id"],
            "event_id": last["event_id"],
            "total_number_visits": len(self.sessions),
            "total_pages_viewed": sum(s["event_count"] for s in self.sessions),
            "total_session_duration": sum(s["visit_duration"] for s in self.sessions),
            "esScore": "1",
            "prettyLastEvent": "1 hour ago",
            **self.traits,
            "last_channel": "referral" if last_session["referrer"] else "direct",
            "last_referrer": last_session["referrer"],
            "entry_root_url": "https://example.com",
            "last_original_url": last["lc"],
            "customEventInfo": {},
            "leadcard_url": f"https://app.leadboxer.com?q={self.use_id}&site={site}",
            "ttl": TTL_MS,
        }
        return doc


def _id(moment: int, rng: random.Random) -> str:
    return f"{moment}.{rng.randrange(10 ** 8, 10 ** 9)}"


def make_session(use_id: str, start: int, count: int, rng: random.Random) -> tuple[dict, list[dict]]:
    """Return a session starting at ``start`` with ``count`` events, 10 to 120 seconds apart.

    :param use_id: The lead's id.
    :param start: The first event's time (epoch ms).
    :param count: How many events.
    :param rng: Decides ids, pages and gaps.
    """
    session_id = _id(start, rng)
    landing = rng.choice(PAGES)
    referrer = rng.choice(REFERRERS)
    events, moment = [], start
    for n in range(count):
        page = landing if n == 0 else rng.choice(PAGES)
        event = {"event_id": _id(moment, rng), "session_id": session_id, "use_id": use_id,
                 "eventUnixTimestamp": str(moment), "ti": f"Example {page.strip('/') or 'home'}",
                 "lc": f"https://example.com{page}", "ref": referrer if n == 0 else f"https://example.com{landing}"}
        if rng.random() < 0.2:
            event["plan"] = rng.choice(("starter", "pro"))
        events.append(event)
        moment += rng.randrange(10_000, 120_000)
    session = {"session_id": session_id, "use_id": use_id, "session_unix_timestamp": str(start),
               "landing_page": landing, "landing_url": f"https://example.com{landing}", "referrer": referrer,
               "visit_duration": (int(events[-1]["eventUnixTimestamp"]) - start) // 1000, "event_count": count}
    return session, events


def _traits(rng: random.Random, person: SharedPerson | None) -> dict[str, Any]:
    country = person.country if person else rng.choice(("NL", "US", "FR", "NL"))
    city, zone = rng.choice(CITIES[country])
    traits = {"last_country_code": country, "last_city": city, "last_timezone": zone,
              "last_browser": rng.choice(BROWSERS), "last_platform": rng.choice(PLATFORMS),
              "last_ip_number": f"192.0.2.{rng.randrange(1, 255)}", "last_org": "", "last_most_likely_company": ""}
    if person is not None:
        email = email_variant(person, rng, missing=0.15)
        traits.update({"firstName": person.first_name, "lastName": person.last_name,
                       "phone": phone_variant(person, rng)})
        if email is not None:
            traits["email"] = email
        if rng.random() < 0.5:
            traits.update({"organizationName": "Example BV", "organizationDomain": "example.com",
                           "last_org": "Example BV"})
    return traits


class LeadStore:
    """Every lead of the sandbox's range, generated once from the seed; returns are kept apart (reset drops them).

    :param seed: The sandbox seed.
    :param start_ms: First instant with data.
    :param end_ms: Data stops before this.
    :param events_per_hour: The sandbox's volume (see :func:`leads_per_hour`).
    """

    def __init__(self, seed: int, start_ms: int, end_ms: int, events_per_hour: int) -> None:
        self.seed, self.start_ms, self.end_ms = seed, start_ms, end_ms
        self._lock = threading.RLock()
        self._per_hour = leads_per_hour(events_per_hour)
        self.leads: dict[str, Lead] = {}
        self._docs: dict[str, bytes] = {}
        self.reset()

    def reset(self) -> None:
        """Regenerate the seeded leads (dropping returns)."""
        rng = random.Random(f"leadboxer:{self.seed}")
        people = shared_people(self.seed)
        leads: dict[str, Lead] = {}
        hours = max(1, (self.end_ms - self.start_ms) // HOUR_MS)
        for _ in range(hours * self._per_hour):
            first = rng.randrange(self.start_ms, self.end_ms - 20 * 60_000)
            use_id = _id(first, rng)
            while use_id in leads:
                use_id = _id(first, rng)
            person = rng.choice(people) if rng.random() < 0.4 else None
            lead = Lead(use_id, _traits(rng, person), person=person.key if person else None)
            moment = first
            for _ in range(rng.choice((1, 1, 2, 2, 3))):
                session, events = make_session(use_id, moment, rng.randrange(1, 5), rng)
                lead.sessions.append(session)
                lead.events[session["session_id"]] = events
                moment = int(events[-1]["eventUnixTimestamp"]) + rng.randrange(10 * 60_000, 3 * HOUR_MS)
                if moment >= self.end_ms - 10 * 60_000:
                    break
            leads[use_id] = lead
        with self._lock:
            self.leads = leads
            self._docs = {}
            self._sessions = {s["session_id"]: lead for lead in leads.values() for s in lead.sessions}
            self._events = {e["event_id"]: e for lead in leads.values() for events in lead.events.values()
                            for e in events}

    def doc(self, use_id: str, site: str) -> bytes:
        """Return the lead's current document, serialised (cached until it changes).

        :param use_id: The lead.
        :param site: The dataset id.
        """
        with self._lock:
            cached = self._docs.get(use_id)
            if cached is None:
                cached = self._docs[use_id] = orjson.dumps(self.leads[use_id].document(site))
            return cached

    def session_lead(self, session_id: str) -> Lead | None:
        """Return the lead a session belongs to, or None."""
        with self._lock:
            return self._sessions.get(session_id)

    def event(self, event_id: str) -> dict[str, Any]:
        """Return an event by its id."""
        with self._lock:
            return self._events[event_id]

    def come_back(self, use_id: str, at: int | None, events: int) -> Lead:
        """Make a lead return: a new session with ``events`` events at ``at`` (default 30 minutes after its last).

        :param use_id: The lead.
        :param at: The new session's start (epoch ms).
        :param events: How many events the session has.
        """
        with self._lock:
            lead = self.leads[use_id]
            start = at if at is not None else lead.last_event + 30 * 60_000
            if start <= lead.last_event:
                raise ValueError("a lead returns after its last event")
            rng = random.Random(f"leadboxer-return:{use_id}:{start}")
            session, made = make_session(use_id, start, max(1, events), rng)
            lead.sessions.append(session)
            lead.events[session["session_id"]] = made
            self._sessions[session["session_id"]] = lead
            self._events.update((e["event_id"], e) for e in made)
            self._docs.pop(use_id, None)
            return lead
