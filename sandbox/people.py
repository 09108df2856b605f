"""A seeded pool of people that recur across leads and, later, across vendors (identity joins)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

FIRST_NAMES = (
    "Bob", "Alice", "Maria", "James", "Linda", "Carlos", "Priya", "Wei", "Fatima", "John",
    "Emma", "Noah", "Olivia", "Liam", "Sofia", "Mateo", "Aiko", "Omar", "Grace", "Ethan",
)
LAST_NAMES = (
    "Smith", "Johnson", "Garcia", "Nguyen", "Brown", "Martinez", "Lee", "Patel", "Kim", "Lopez",
    "Davis", "Miller", "Wilson", "Moore", "Taylor", "Anderson", "Thomas", "Hernandez", "Clark",
)
FREE_DOMAINS = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com")
CORP_DOMAINS = ("example.com", "acme.io", "initech.net", "globex.org", "umbrella.co")
DISPOSABLE_DOMAINS = ("mailinator.com",)
STATES = ("TX", "CA", "NY", "FL", "MI", "IL", "OH", "GA", "WA", "AZ", "CO", "NC")
AREA_CODES = ("512", "213", "212", "305", "313", "312", "614", "404", "206", "602", "720", "919")
TOLLFREE_AREAS = ("800", "888")


@dataclass(frozen=True)
class Person:
    """A person as typed into a form; fields are the raw (un-normalized) values."""

    first_name: str
    last_name: str
    email: str
    phone: str
    state: str


def make_person(rng: random.Random) -> Person:
    """Draw a fresh person.

    :param rng: the random source (decides everything).
    """
    first = rng.choice(FIRST_NAMES)
    last = rng.choice(LAST_NAMES)
    roll = rng.random()
    domain = rng.choice(
        DISPOSABLE_DOMAINS if roll < 0.03 else FREE_DOMAINS if roll < 0.7 else CORP_DOMAINS
    )
    user = f"{first}.{last}{rng.randrange(1, 999)}"
    # Forms capture whatever case people type; the typed value normalizes it.
    user = user.lower() if rng.random() < 0.7 else user
    area = rng.choice(TOLLFREE_AREAS) if rng.random() < 0.02 else rng.choice(AREA_CODES)
    phone = f"{area}{rng.randrange(200, 999)}{rng.randrange(0, 10000):04d}"
    state = rng.choice(STATES)
    return Person(first, last, f"{user}@{domain}", phone, state.lower() if rng.random() < 0.3 else state)


@lru_cache(maxsize=8)
def person_pool(seed: int, size: int = 200) -> tuple[Person, ...]:
    """Return the seeded pool of recurring people.

    :param seed: the sandbox seed (every vendor sees the same pool for the same seed).
    :param size: how many people.
    """
    rng = random.Random(f"people:{seed}")
    return tuple(make_person(rng) for _ in range(size))


# -- shared across vendors -------------------------------------------------------------------
#
# The same person fills in forms at several vendors. ``person_pool`` (above) is the US pool
# LeadConduit draws from; ``shared_people`` adds French people and gives every person a stable key,
# so a simulator can say which of its records belong to the same person (the downstream identity
# join is tested against that). The variants below are what real forms produce for one person.

FR_FIRST_NAMES = ("Camille", "Louis", "Chloé", "Hugo", "Léa", "Jules", "Manon", "Lucas", "Inès", "Théo")
FR_LAST_NAMES = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau")
FR_DOMAINS = ("orange.fr", "free.fr", "laposte.net", "gmail.com", "exemple.fr")


@dataclass(frozen=True)
class SharedPerson:
    """A person who may appear at several vendors.

    :param key: Stable identity (``p0001``...), the sandbox's answer to "who is this record".
    :param country: ``US`` or ``FR``: decides the phone's national form.
    :param phone: National significant number, digits only (US: 10 digits; FR: 9 digits, ``6...``).
    """

    key: str
    first_name: str
    last_name: str
    email: str
    phone: str
    country: str


@lru_cache(maxsize=8)
def shared_people(seed: int, french: int = 60) -> tuple[SharedPerson, ...]:
    """Return every shared person: LeadConduit's US pool (same order and values), then French people.

    :param seed: The sandbox seed.
    :param french: How many French people to add.
    """
    people = [SharedPerson(f"p{i:04d}", p.first_name, p.last_name, p.email, p.phone, "US")
              for i, p in enumerate(person_pool(seed))]
    rng = random.Random(f"people-fr:{seed}")
    for i in range(french):
        first, last = rng.choice(FR_FIRST_NAMES), rng.choice(FR_LAST_NAMES)
        user = f"{first}.{last}{rng.randrange(1, 99)}".lower()
        phone = f"{rng.choice('67')}{rng.randrange(0, 10 ** 8):08d}"
        people.append(SharedPerson(f"p{len(people):04d}", first, last, f"{user}@{rng.choice(FR_DOMAINS)}", phone, "FR"))
    return tuple(people)


def email_variant(person: SharedPerson, rng: random.Random, *, missing: float = 0.1) -> str | None:
    """Return the email as one form captured it: case, stray spaces, or none at all.

    :param person: Who filled in the form.
    :param rng: Decides the variant.
    :param missing: Chance that the form had no email.
    """
    roll = rng.random()
    if roll < missing:
        return None
    email = person.email
    if roll < missing + 0.2:
        email = email.upper() if rng.random() < 0.5 else email.capitalize()
    if rng.random() < 0.15:
        email = f" {email}  "
    return email


def phone_variant(person: SharedPerson, rng: random.Random, *, international: bool = False) -> str:
    """Return the phone as one form captured it.

    French numbers come as ``06 12 34 56 78``, ``0612345678`` or ``+33 6 12 34 56 78``; US ones as
    ``(512) 789-1111``, ``512-789-1111``, ``1-512-789-1111`` or ``+1 512 789 1111``.

    :param person: Who filled in the form.
    :param rng: Decides the variant.
    :param international: Only forms that carry the country code (a form abroad).
    """
    n = person.phone
    if person.country == "FR":
        pairs = " ".join(n[i:i + 2] for i in range(1, 9, 2))
        forms = [f"+33 {n[0]} {pairs}", f"+33{n}"]
        if not international:
            forms += [f"0{n[0]} {pairs}", f"0{n}"]
    else:
        forms = [f"+1 {n[:3]} {n[3:6]} {n[6:]}", f"+1{n}"]
        if not international:
            forms += [f"({n[:3]}) {n[3:6]}-{n[6:]}", f"{n[:3]}-{n[3:6]}-{n[6:]}", f"1-{n[:3]}-{n[3:6]}-{n[6:]}"]
    return rng.choice(forms)
