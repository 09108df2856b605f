"""Seeded GetLandy leads, generated lazily one hour at a time, in arrival order.

Leads come from several landing pages whose forms name their fields differently; most people are the
shared ones (:func:`sandbox.people.shared_people`) in the variants real forms capture, some are new.
A lead's time is whole seconds, and several leads often share one second.
"""

from __future__ import annotations

import bisect
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import orjson

from sandbox.people import FR_DOMAINS, FR_FIRST_NAMES, FR_LAST_NAMES, SharedPerson, email_variant, phone_variant, shared_people

HOUR = 3600

#: (url, pageName, form, UTC offset in hours): each page's form names its fields its own way.
PAGES = (
    ("https://landing.example.com/devis-assurance", "Devis assurance auto", "devis", 2),
    ("https://landing.example.com/webinar", "Inscription webinar", "webinar", 0),
    ("https://promo.example.fr/jeu-concours", "Jeu concours été", "concours", 2),
    ("https://landing.example.com/newsletter", "Newsletter", "newsletter", 1),
    ("https://rdv.example.fr/prise-de-rendez-vous", "Prise de rendez-vous", "rdv", -4),
)
_GARANTIES = ("vol", "incendie", "bris de glace", "assistance")
_LOVES = ("coffee", "tea", "chocolate")
_CRENEAUX = ("matin", "midi", "après-midi", "soir")


@dataclass(frozen=True)
class Lead:
    """One lead as the API serves it: its instant, id, page and exact JSON bytes."""

    ts: int
    id: str
    url: str
    raw: bytes
    person: str | None


@dataclass
class Bucket:
    """One hour of leads, ascending by time."""

    leads: list[Lead] = field(default_factory=list)
    ts: list[int] = field(default_factory=list)


def _fresh_person(rng: random.Random) -> SharedPerson:
    first, last = rng.choice(FR_FIRST_NAMES), rng.choice(FR_LAST_NAMES)
    email = f"{first[0]}.{last}{rng.randrange(100, 999)}@{rng.choice(FR_DOMAINS)}".lower()
    return SharedPerson("", first, last, email, f"6{rng.randrange(0, 10 ** 8):08d}", "FR")


def _form(form: str, person: SharedPerson, rng: random.Random) -> dict:
    email = email_variant(person, rng)
    phone = phone_variant(person, rng)
    if form == "devis":
        data = {"nom": person.last_name, "prenom": person.first_name, "email": email, "telephone": phone,
                "garanties": rng.sample(_GARANTIES, rng.randrange(1, 4))}
    elif form == "webinar":
        data = {"firstname": person.first_name, "lastname": person.last_name, "e-mail": email, "tel": phone,
                "loves": rng.sample(_LOVES, rng.randrange(0, 3))}
    elif form == "concours":
        data = {"nom": f"{person.first_name} {person.last_name}", "courriel": email, "tel": phone}
    elif form == "newsletter":
        data = {"mail": email or person.email}
    else:
        data = {"prenom": person.first_name, "nom": person.last_name, "email": email, "telephone": phone,
                "creneaux": rng.sample(_CRENEAUX, rng.randrange(1, 3))}
    return {k: v for k, v in data.items() if v is not None}


class LeadStore:
    """Every lead of ``[start, end)``, generated per hour on first use and kept.

    :param seed: The sandbox seed.
    :param start_ms: First instant with data (epoch ms).
    :param end_ms: Data stops before this instant.
    :param per_hour: Mean leads per hour.
    """

    def __init__(self, seed: int, start_ms: int, end_ms: int, per_hour: int) -> None:
        self.seed = seed
        self.start = start_ms // 1000
        self.end = end_ms // 1000
        self.per_hour = per_hour
        self._buckets: dict[int, Bucket] = {}
        self._lock = threading.Lock()

    def bucket(self, hour: int) -> Bucket:
        """Return the leads of the hour starting at epoch second ``hour``.

        :param hour: An epoch second that is a multiple of 3600.
        """
        with self._lock:
            found = self._buckets.get(hour)
            if found is None:
                found = self._buckets[hour] = self._generate(hour)
            return found

    def _generate(self, hour: int) -> Bucket:
        rng = random.Random(f"getlandy:{self.seed}:{hour}")
        people = shared_people(self.seed)
        count = max(0, round(rng.gauss(self.per_hour, self.per_hour * 0.05)))
        seconds: list[int] = []
        while len(seconds) < count:
            # Forms submitted in bursts (a campaign e-mail, a double click): several leads share a second.
            second = hour + rng.randrange(HOUR)
            seconds += [second] * (rng.choice((2, 3, 4)) if rng.random() < 0.05 else 1)
        seconds = sorted(s for s in seconds[:count] if self.start <= s < self.end)
        bucket = Bucket()
        for n, second in enumerate(seconds):
            url, name, form, offset = rng.choice(PAGES)
            fresh = rng.random() < 0.25
            person = _fresh_person(rng) if fresh else rng.choice(people)
            lead_id = f"{second:x}{n:04x}{rng.getrandbits(24):06x}"
            moment = datetime.fromtimestamp(second, timezone(timedelta(hours=offset)))
            doc = {"id": lead_id, "date": moment.strftime("%Y-%m-%dT%H:%M:%S%z"), "url": url, "pageName": name,
                   "data": _form(form, person, rng)}
            bucket.leads.append(Lead(second, lead_id, url, orjson.dumps(doc), None if fresh else person.key))
            bucket.ts.append(second)
        return bucket

    def iter_range(self, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False):
        """Yield the leads whose time lies between ``lo`` and ``hi`` (epoch seconds), ascending.

        :param lo: Lower bound; included unless ``lo_open``.
        :param hi: Upper bound; included unless ``hi_open``.
        :param lo_open: Exclude leads at exactly ``lo``.
        :param hi_open: Exclude leads at exactly ``hi``.
        """
        first = max(int(lo) // HOUR * HOUR, self.start // HOUR * HOUR)
        last = min(int(hi), self.end - 1)
        for hour in range(first, last + 1, HOUR):
            bucket = self.bucket(hour)
            i = (bisect.bisect_right if lo_open else bisect.bisect_left)(bucket.ts, lo)
            j = (bisect.bisect_left if hi_open else bisect.bisect_right)(bucket.ts, hi)
            yield from bucket.leads[i:j]

    def before(self, moment: float, count: int) -> list[Lead]:
        """Return up to ``count`` leads just before ``moment``, ascending.

        :param moment: Epoch seconds (excluded).
        :param count: How many.
        """
        found: list[Lead] = []
        hour = int(moment) // HOUR * HOUR
        while len(found) < count and hour >= self.start // HOUR * HOUR:
            bucket = self.bucket(hour)
            j = bisect.bisect_left(bucket.ts, moment)
            found = bucket.leads[max(0, j - (count - len(found))):j] + found
            hour -= HOUR
        return found
