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
